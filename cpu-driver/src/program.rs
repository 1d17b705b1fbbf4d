//! Reading an EL0 program's ELF file into a load plan: which bytes go to which user pages with
//! which permissions. Nothing in the file is trusted: every segment must lie in the user half,
//! be page aligned, not overlap another, and the entry must be executable.

extern crate alloc;

use alloc::vec::Vec;
use core::ops::Range;

use object::elf::{EM_AARCH64, ET_EXEC, PF_W, PF_X, PT_LOAD};
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::Endianness;

use crate::layout::{PAGE_SIZE, USER_FRAMES_BASE, USER_MIN, USER_STACK_SIZE};
use crate::paging::Attributes;

/// One loadable segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First user virtual address (page aligned).
    pub vaddr: u64,
    /// Bytes in memory (the tail past the file bytes is zero).
    pub mem_size: u64,
    /// Where its bytes are in the file.
    pub file_range: Range<usize>,
    /// How it is mapped.
    pub attributes: Attributes,
}

/// What loading a program means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    /// The segments, sorted by address.
    pub segments: Vec<Segment>,
    /// The entry point.
    pub entry: u64,
}

/// Why a program was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramError {
    /// Not a 64-bit little-endian ELF file.
    NotElf,
    /// Not an AArch64 executable.
    WrongKind,
    /// A segment lies outside the user program window or runs past the file.
    OutOfRange,
    /// A segment is not page aligned.
    Misaligned,
    /// Two segments share a page.
    Overlap,
    /// The entry point is not in an executable segment.
    BadEntry,
    /// No loadable segment.
    Empty,
}

impl core::fmt::Display for ProgramError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ProgramError::NotElf => "not a 64-bit little-endian ELF file",
            ProgramError::WrongKind => "not an AArch64 executable",
            ProgramError::OutOfRange => "segment outside the program window or the file",
            ProgramError::Misaligned => "segment not page aligned",
            ProgramError::Overlap => "segments overlap",
            ProgramError::BadEntry => "entry point not in an executable segment",
            ProgramError::Empty => "no loadable segment",
        })
    }
}

/// Reads `elf` into a load plan.
pub fn plan(elf: &[u8]) -> Result<LoadPlan, ProgramError> {
    let file = ElfFile64::<Endianness>::parse(elf).map_err(|_| ProgramError::NotElf)?;
    let endian = file.endian();
    if endian != Endianness::Little {
        return Err(ProgramError::NotElf);
    }
    let header = file.elf_header();
    if header.e_machine(endian) != EM_AARCH64 || header.e_type(endian) != ET_EXEC {
        return Err(ProgramError::WrongKind);
    }
    let mut segments = Vec::new();
    for ph in file.elf_program_headers() {
        if ph.p_type(endian) != PT_LOAD || ph.p_memsz(endian) == 0 {
            continue;
        }
        let (vaddr, mem_size) = (ph.p_vaddr(endian), ph.p_memsz(endian));
        let (offset, file_size) = (ph.p_offset(endian), ph.p_filesz(endian));
        let end = vaddr.checked_add(mem_size).ok_or(ProgramError::OutOfRange)?;
        let file_end = offset.checked_add(file_size).ok_or(ProgramError::OutOfRange)?;
        if vaddr < USER_MIN || end > USER_FRAMES_BASE || file_size > mem_size || file_end > elf.len() as u64 {
            return Err(ProgramError::OutOfRange);
        }
        if vaddr % PAGE_SIZE != 0 {
            return Err(ProgramError::Misaligned);
        }
        let flags = ph.p_flags(endian);
        let attributes = match (flags & PF_X != 0, flags & PF_W != 0) {
            (true, false) => Attributes::UserCode,
            (false, true) => Attributes::UserData,
            (false, false) => Attributes::UserReadOnly,
            (true, true) => return Err(ProgramError::WrongKind), // W^X
        };
        segments.push(Segment {
            vaddr,
            mem_size,
            file_range: offset as usize..file_end as usize,
            attributes,
        });
    }
    if segments.is_empty() {
        return Err(ProgramError::Empty);
    }
    segments.sort_by_key(|s| s.vaddr);
    for pair in segments.windows(2) {
        let first_end = crate::layout::align_up(pair[0].vaddr + pair[0].mem_size, PAGE_SIZE);
        if first_end > pair[1].vaddr {
            return Err(ProgramError::Overlap);
        }
    }
    let entry = header.e_entry(endian);
    let executable = segments
        .iter()
        .any(|s| s.attributes == Attributes::UserCode && (s.vaddr..s.vaddr + s.mem_size).contains(&entry));
    if !executable {
        return Err(ProgramError::BadEntry);
    }
    Ok(LoadPlan { segments, entry })
}

/// Translation-table pages an address space is built with (level 1, and level 2 and 3 tables
/// for the program, its stack and mapped frames).
pub const TABLE_PAGES_PER_SPACE: u64 = 16;

/// Pages of a dispatcher's two capability-space CNodes (a 4 KiB root and a 4 KiB level 2), its
/// level-3 VNode and its control block (the object its Dispatcher capability names).
pub const KERNEL_OBJECT_PAGES: u64 = 4;

/// The pages a dispatcher for `plan` is built from: its segments (each rounded up to pages),
/// its stack, its translation tables, its two CNodes, its VNode and its control block. `spawn` retypes this many
/// out of the RAM capability it is given (and refuses a smaller one).
pub fn pages_needed(plan: &LoadPlan) -> u64 {
    segment_pages(plan) + PRIVATE_PAGES
}

/// The pages of `plan`'s segments (each rounded up to pages), in the order the loader lays
/// them out: the program's image, which every dispatcher of a span maps (see
/// [`PRIVATE_PAGES`]).
pub fn segment_pages(plan: &LoadPlan) -> u64 {
    plan.segments.iter().map(|s| s.mem_size.div_ceil(PAGE_SIZE)).sum()
}

/// The pages of a dispatcher that are its own whatever program it runs: its stack, translation
/// tables, CNodes, VNode and control block. A dispatcher that joins a program already running
/// on another core is built from these alone and maps the first dispatcher's segments.
pub const PRIVATE_PAGES: u64 = USER_STACK_SIZE / PAGE_SIZE + TABLE_PAGES_PER_SPACE + KERNEL_OBJECT_PAGES;

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 executable with the given (vaddr, memsz, filesz, flags) segments.
    fn elf(machine: u16, entry: u64, segments: &[(u64, u64, u64, u32)]) -> Vec<u8> {
        let phoff = 64u64;
        let data_start = phoff + 56 * segments.len() as u64;
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // 64-bit
        out[5] = 1; // little endian
        out[6] = 1;
        out[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        out[18..20].copy_from_slice(&machine.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[24..32].copy_from_slice(&entry.to_le_bytes());
        out[32..40].copy_from_slice(&phoff.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        let mut file_offset = data_start;
        for &(vaddr, memsz, filesz, flags) in segments {
            let mut ph = vec![0u8; 56];
            ph[0..4].copy_from_slice(&PT_LOAD.to_le_bytes());
            ph[4..8].copy_from_slice(&flags.to_le_bytes());
            ph[8..16].copy_from_slice(&file_offset.to_le_bytes());
            ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
            ph[32..40].copy_from_slice(&filesz.to_le_bytes());
            ph[40..48].copy_from_slice(&memsz.to_le_bytes());
            out.extend_from_slice(&ph);
            file_offset += filesz;
        }
        let total: u64 = segments.iter().map(|s| s.2).sum();
        out.resize((data_start + total) as usize, 0xaa);
        out
    }

    const R: u32 = 4;
    const W: u32 = PF_W;
    const X: u32 = PF_X;

    #[test]
    fn a_well_formed_program_gets_wx_separated_segments() {
        let bytes =
            elf(EM_AARCH64, 0x40_0010, &[(0x40_0000, 0x100, 0x100, R | X), (0x41_0000, 0x2000, 0x10, R | W)]);
        let plan = plan(&bytes).unwrap();
        assert_eq!(plan.entry, 0x40_0010);
        assert_eq!(plan.segments.len(), 2);
        assert_eq!(plan.segments[0].attributes, Attributes::UserCode);
        assert_eq!(plan.segments[1].attributes, Attributes::UserData);
        assert_eq!(plan.segments[1].mem_size, 0x2000);
    }

    #[test]
    fn pages_needed_counts_segments_stack_tables_cnodes_and_vnode() {
        let bytes =
            elf(EM_AARCH64, 0x40_0010, &[(0x40_0000, 0x100, 0x100, R | X), (0x41_0000, 0x2001, 0x10, R | W)]);
        let plan = plan(&bytes).unwrap();
        // 1 code page, 3 data pages, 16 stack pages, 16 table pages, 2 CNodes, 1 VNode, 1
        // control block.
        assert_eq!(pages_needed(&plan), 1 + 3 + 16 + 16 + 2 + 1 + 1);
        assert_eq!(segment_pages(&plan), 1 + 3, "the image a joining dispatcher maps");
        assert_eq!(PRIVATE_PAGES, 16 + 16 + 2 + 1 + 1);
    }

    #[test]
    fn hostile_programs_are_refused() {
        let code = (0x40_0000, 0x100, 0x100, R | X);
        assert_eq!(plan(b"not an elf"), Err(ProgramError::NotElf));
        assert_eq!(plan(&elf(62, 0x40_0000, &[code])), Err(ProgramError::WrongKind));
        let kernel_address = (0xffff_ffff_c000_0000, 0x100, 0x100, R | X);
        assert_eq!(plan(&elf(EM_AARCH64, 0x40_0000, &[kernel_address])), Err(ProgramError::OutOfRange));
        let below_window = (0x1000, 0x100, 0x100, R | X);
        assert_eq!(plan(&elf(EM_AARCH64, 0x1000, &[below_window])), Err(ProgramError::OutOfRange));
        let misaligned = (0x40_0010, 0x100, 0x100, R | X);
        assert_eq!(plan(&elf(EM_AARCH64, 0x40_0010, &[misaligned])), Err(ProgramError::Misaligned));
        let overlapping = (0x40_0000, 0x10, 0x10, R | W);
        assert_eq!(plan(&elf(EM_AARCH64, 0x40_0000, &[code, overlapping])), Err(ProgramError::Overlap));
        assert_eq!(plan(&elf(EM_AARCH64, 0x50_0000, &[code])), Err(ProgramError::BadEntry));
        let writable_code = (0x40_0000, 0x100, 0x100, R | W | X);
        assert_eq!(plan(&elf(EM_AARCH64, 0x40_0000, &[writable_code])), Err(ProgramError::WrongKind));
        let mut truncated = elf(EM_AARCH64, 0x40_0000, &[code]);
        truncated.truncate(truncated.len() - 1);
        assert!(plan(&truncated).is_err());
    }

    #[test]
    fn every_prefix_of_a_program_is_refused_without_panicking() {
        let bytes = elf(EM_AARCH64, 0x40_0010, &[(0x40_0000, 0x100, 0x100, R | X)]);
        for len in 0..bytes.len() {
            assert!(plan(&bytes[..len]).is_err(), "prefix of {len} bytes");
        }
    }
}
