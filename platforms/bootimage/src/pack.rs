//! The packer: turns the boot stub's ELF, the CPU-driver ELFs and the EL0 programs' ELFs into one
//! arm64 Image.

use crate::{
    PayloadEntry, PayloadKind, PayloadTable, ENTRY_SIZE, HEADER_IMAGE_SIZE_OFFSET, HEADER_MAGIC,
    HEADER_MAGIC_OFFSET, PAYLOAD_ALIGN, TABLE_HEADER_SIZE,
};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SegmentFlags};

/// Scratch memory past the end of the file that the boot stub uses for its heap and tables.
pub const DEFAULT_SCRATCH_SIZE: u64 = 4 << 20;

/// A CPU-driver build to bundle.
pub struct CpuDriverInput<'a> {
    /// Build class: 0 little, 1 big.
    pub build: u32,
    /// Short name, e.g. `cortex-a53`.
    pub name: &'a str,
    /// The linked ELF.
    pub elf: &'a [u8],
}

/// An EL0 program to bundle. The CPU driver loads it from an ELF file that holds only what
/// its loader reads ([`loadable_elf`]): the linked ELF's debug information and symbols stay
/// in the build folder, for the debugger, and do not grow the boot image.
pub struct ProgramInput<'a> {
    /// Name the CPU driver looks it up by (at most 16 bytes).
    pub name: &'a str,
    /// The linked ELF (with or without debug information).
    pub elf: &'a [u8],
}

/// Bytes of an ELF64 file header.
const ELF_HEADER_SIZE: usize = 64;
/// Bytes of an ELF64 program header.
const PROGRAM_HEADER_SIZE: usize = 56;
/// File alignment of each segment's bytes in a [`loadable_elf`] copy (and its `p_align`).
const SEGMENT_FILE_ALIGN: u64 = 16;

/// A copy of an executable ELF that keeps only what the CPU driver's loader
/// (`cpu_driver::program::plan`) reads: the file header and the `PT_LOAD` program headers
/// with their bytes. Sections (debug information, symbols, string tables) and other program
/// headers are left out, so the copy has no section header table at all.
pub fn loadable_elf(elf: &[u8], what: &str) -> Result<Vec<u8>, String> {
    use object::elf::{FileHeader64, PT_LOAD};
    use object::read::elf::{FileHeader, ProgramHeader};
    use object::LittleEndian as LE;

    let header = FileHeader64::<LE>::parse(elf).map_err(|e| format!("{what}: not a 64-bit ELF file: {e}"))?;
    if !header.is_little_endian() {
        return Err(format!("{what}: not a little-endian ELF file"));
    }
    let loads: Vec<_> = header
        .program_headers(LE, elf)
        .map_err(|e| format!("{what}: bad program headers: {e}"))?
        .iter()
        .filter(|ph| ph.p_type(LE) == PT_LOAD)
        .collect();
    let mut out = vec![0u8; ELF_HEADER_SIZE + loads.len() * PROGRAM_HEADER_SIZE];
    let mut headers = Vec::with_capacity(loads.len());
    for ph in &loads {
        let data =
            ph.data(LE, elf).map_err(|()| format!("{what}: a segment runs past the end of the file"))?;
        let vaddr = ph.p_vaddr(LE);
        // Keep p_offset congruent to p_vaddr modulo p_align, as the ELF format asks.
        let offset = align_up(out.len() as u64, SEGMENT_FILE_ALIGN) + vaddr % SEGMENT_FILE_ALIGN;
        out.resize(offset as usize, 0);
        out.extend_from_slice(data);
        let mut bytes = [0u8; PROGRAM_HEADER_SIZE];
        bytes[0..4].copy_from_slice(&PT_LOAD.to_le_bytes());
        bytes[4..8].copy_from_slice(&ph.p_flags(LE).to_le_bytes());
        for (i, word) in
            [offset, vaddr, ph.p_paddr(LE), data.len() as u64, ph.p_memsz(LE), SEGMENT_FILE_ALIGN]
                .iter()
                .enumerate()
        {
            bytes[8 + i * 8..16 + i * 8].copy_from_slice(&word.to_le_bytes());
        }
        headers.push(bytes);
    }
    for (i, bytes) in headers.iter().enumerate() {
        let at = ELF_HEADER_SIZE + i * PROGRAM_HEADER_SIZE;
        out[at..at + PROGRAM_HEADER_SIZE].copy_from_slice(bytes);
    }
    // The file header as linked, pointing at the new program headers and at no sections.
    out[..16].copy_from_slice(&elf[..16]); // e_ident: magic, class, data, version, ABI
    let words16 = [
        (16, header.e_type(LE)),
        (18, header.e_machine(LE)),
        (52, ELF_HEADER_SIZE as u16),
        (54, PROGRAM_HEADER_SIZE as u16),
        (56, u16::try_from(loads.len()).map_err(|_| format!("{what}: too many segments"))?),
        (58, 64), // e_shentsize: the size a section header would have
        (60, 0),  // e_shnum
        (62, 0),  // e_shstrndx
    ];
    for (at, value) in words16 {
        out[at..at + 2].copy_from_slice(&value.to_le_bytes());
    }
    out[20..24].copy_from_slice(&header.e_version(LE).to_le_bytes());
    out[24..32].copy_from_slice(&header.e_entry(LE).to_le_bytes());
    out[32..40].copy_from_slice(&(ELF_HEADER_SIZE as u64).to_le_bytes()); // e_phoff
    out[40..48].copy_from_slice(&0u64.to_le_bytes()); // e_shoff: no section header table
    out[48..52].copy_from_slice(&header.e_flags(LE).to_le_bytes());
    Ok(out)
}

/// The flat memory image of an ELF's loadable segments.
struct FlatImage {
    base: u64,
    bytes: Vec<u8>,
    mem_size: u64,
    entry: u64,
    text_end: u64,
    rodata_end: u64,
}

fn flatten(elf: &[u8], what: &str) -> Result<FlatImage, String> {
    let file = object::File::parse(elf).map_err(|e| format!("{what}: not an ELF file: {e}"))?;
    let mut segments = Vec::new();
    for segment in file.segments() {
        let data = segment.data().map_err(|e| format!("{what}: bad segment: {e}"))?;
        let SegmentFlags::Elf { p_flags } = segment.flags() else {
            return Err(format!("{what}: not an ELF segment"));
        };
        if segment.size() == 0 {
            continue;
        }
        segments.push((segment.address(), segment.size(), data, p_flags));
    }
    if segments.is_empty() {
        return Err(format!("{what}: no loadable segments"));
    }
    let base = segments.iter().map(|s| s.0).min().unwrap_or(0) & !(PAYLOAD_ALIGN - 1);
    let file_end = segments.iter().map(|s| s.0 + s.2.len() as u64).max().unwrap_or(base);
    let mem_end = segments.iter().map(|s| s.0 + s.1).max().unwrap_or(base);
    let mut bytes = vec![0u8; (file_end - base) as usize];
    let (mut text_end, mut rodata_end) = (base, base);
    for &(address, size, data, p_flags) in &segments {
        let offset = (address - base) as usize;
        bytes[offset..offset + data.len()].copy_from_slice(data);
        let end = address + size;
        if p_flags & object::elf::PF_X != 0 {
            text_end = text_end.max(end);
        }
        if p_flags & object::elf::PF_W == 0 {
            rodata_end = rodata_end.max(end);
        }
    }
    Ok(FlatImage {
        base,
        bytes,
        mem_size: mem_end - base,
        entry: file.entry(),
        text_end: align_up(text_end, PAYLOAD_ALIGN),
        rodata_end: align_up(rodata_end.max(text_end), PAYLOAD_ALIGN),
    })
}

fn align_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align) * align
}

fn symbol(elf: &[u8], name: &str) -> Result<u64, String> {
    let file = object::File::parse(elf).map_err(|e| format!("{name}: {e}"))?;
    file.symbols()
        .find(|s| s.name() == Ok(name))
        .map(|s| s.address())
        .ok_or_else(|| format!("symbol {name} missing"))
}

/// The bytes of a data symbol (its section's contents at the symbol's address).
fn symbol_bytes<'a>(elf: &'a [u8], name: &str) -> Result<&'a [u8], String> {
    let file = object::File::parse(elf).map_err(|e| format!("{name}: {e}"))?;
    let sym =
        file.symbols().find(|s| s.name() == Ok(name)).ok_or_else(|| format!("symbol {name} missing"))?;
    let index = sym.section_index().ok_or_else(|| format!("symbol {name} is not in a section"))?;
    let section = file.section_by_index(index).map_err(|e| format!("{name}: {e}"))?;
    let data = section.data().map_err(|e| format!("{name}: {e}"))?;
    let start =
        sym.address().checked_sub(section.address()).ok_or_else(|| format!("{name}: outside its section"))?;
    usize::try_from(start)
        .ok()
        .and_then(|start| data.get(start..start.checked_add(usize::try_from(sym.size()).ok()?)?))
        .ok_or_else(|| format!("{name}: outside its section's data"))
}

/// A CPU-driver ELF names the build it was compiled as in `CPU_DRIVER_BUILD` (NUL-padded);
/// packing it under another name would boot a core with the wrong code generation.
fn check_build_name(elf: &[u8], expected: &str) -> Result<(), String> {
    let field = symbol_bytes(elf, "CPU_DRIVER_BUILD").map_err(|e| format!("{expected}: {e}"))?;
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let actual = core::str::from_utf8(&field[..end]).unwrap_or("(not UTF-8)");
    if actual != expected {
        return Err(format!("{expected}: this CPU-driver ELF was compiled as the {actual} build"));
    }
    Ok(())
}

/// The stub's entry code applies only `R_AARCH64_RELATIVE`; anything else would be left
/// unapplied on the board, so it is refused here.
fn check_relocations(elf: &[u8]) -> Result<(), String> {
    let file = object::File::parse(elf).map_err(|e| format!("boot stub: {e}"))?;
    for (offset, relocation) in file.dynamic_relocations().into_iter().flatten() {
        let object::RelocationFlags::Elf { r_type } = relocation.flags() else { continue };
        if r_type != object::elf::R_AARCH64_RELATIVE {
            return Err(format!(
                "boot stub: relocation type {r_type} at {offset:#x} (only RELATIVE is applied)"
            ));
        }
    }
    Ok(())
}

/// Packs the boot stub, the CPU drivers and the EL0 programs into a bootable Image, with
/// `scratch` bytes past the end of the file counted in the header's `image_size`.
pub fn pack(
    stub_elf: &[u8],
    drivers: &[CpuDriverInput<'_>],
    programs: &[ProgramInput<'_>],
    scratch: u64,
) -> Result<Vec<u8>, String> {
    let stub = flatten(stub_elf, "boot stub")?;
    if stub.base != 0 {
        return Err(format!("boot stub must be linked at 0 (position independent), found {:#x}", stub.base));
    }
    let stub_end = symbol(stub_elf, "__stub_end")?;
    if stub_end < stub.mem_size || stub_end % 8 != 0 {
        return Err("boot stub: __stub_end must follow all its sections".into());
    }
    check_relocations(stub_elf)?;
    let mut image = stub.bytes;
    image.resize(stub_end as usize, 0);
    let magic = u32::from_le_bytes(image[HEADER_MAGIC_OFFSET..HEADER_MAGIC_OFFSET + 4].try_into().unwrap());
    if magic != HEADER_MAGIC {
        return Err("boot stub does not start with an arm64 Image header".into());
    }

    let table_offset = stub_end as usize;
    let table_len = TABLE_HEADER_SIZE + (drivers.len() + programs.len()) * ENTRY_SIZE;
    image.resize(table_offset + table_len, 0);
    let mut entries = Vec::new();
    for driver in drivers {
        let flat = flatten(driver.elf, driver.name)?;
        check_build_name(driver.elf, driver.name)?;
        // The entry code finds its boot record PC-relative at `__boot_record`; the stub puts
        // the record at the first page after the image. Both must name the same page.
        let boot_record = symbol(driver.elf, "__boot_record")?;
        if boot_record != align_up(flat.base + flat.mem_size, PAYLOAD_ALIGN) {
            return Err(format!("{}: __boot_record must be the first page after the image", driver.name));
        }
        let file_offset = align_up(image.len() as u64, PAYLOAD_ALIGN);
        image.resize(file_offset as usize, 0);
        image.extend_from_slice(&flat.bytes);
        let mut name = [0u8; 16];
        let len = driver.name.len().min(name.len());
        name[..len].copy_from_slice(&driver.name.as_bytes()[..len]);
        entries.push(PayloadEntry {
            kind: PayloadKind::CpuDriver,
            build: driver.build,
            file_offset,
            file_size: flat.bytes.len() as u64,
            load_va: flat.base,
            mem_size: flat.mem_size,
            entry_va: flat.entry,
            text_end_va: flat.text_end.min(flat.base + flat.mem_size),
            rodata_end_va: flat.rodata_end.min(flat.base + flat.mem_size),
            name,
        });
    }
    for program in programs {
        if program.name.len() > 16 {
            return Err(format!("program name {} is longer than 16 bytes", program.name));
        }
        let elf = loadable_elf(program.elf, program.name)?;
        let file_offset = align_up(image.len() as u64, PAYLOAD_ALIGN);
        image.resize(file_offset as usize, 0);
        image.extend_from_slice(&elf);
        let mut name = [0u8; 16];
        name[..program.name.len()].copy_from_slice(program.name.as_bytes());
        let size = elf.len() as u64;
        entries.push(PayloadEntry {
            kind: PayloadKind::Program,
            build: 0,
            file_offset,
            file_size: size,
            load_va: 0,
            mem_size: size,
            entry_va: 0,
            text_end_va: 0,
            rodata_end_va: 0,
            name,
        });
    }
    let total = align_up(image.len() as u64, PAYLOAD_ALIGN);
    image.resize(total as usize, 0);
    image[table_offset..table_offset + TABLE_HEADER_SIZE].copy_from_slice(&PayloadTable::encode_header(
        entries.len() as u32,
        total,
        scratch,
    ));
    for (i, entry) in entries.iter().enumerate() {
        let at = table_offset + TABLE_HEADER_SIZE + i * ENTRY_SIZE;
        image[at..at + ENTRY_SIZE].copy_from_slice(&entry.encode());
    }
    // The loader must leave the scratch area free too, so it counts as part of the image.
    image[HEADER_IMAGE_SIZE_OFFSET..HEADER_IMAGE_SIZE_OFFSET + 8]
        .copy_from_slice(&(total + scratch).to_le_bytes());
    PayloadTable::parse(&image, table_offset).map_err(|e| format!("packed table does not read back: {e}"))?;
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::elf::{FileHeader64, PF_R, PF_W, PF_X, PT_GNU_STACK, PT_LOAD};
    use object::read::elf::{FileHeader, ProgramHeader};
    use object::LittleEndian as LE;

    /// An AArch64 executable: the given (type, vaddr, bytes, memsz, flags) program headers,
    /// their bytes page aligned in the file, then `trailer` (standing for debug sections) and a
    /// section header table of `sections` empty headers.
    fn elf(entry: u64, segments: &[(u32, u64, &[u8], u64, u32)], trailer: &[u8], sections: u16) -> Vec<u8> {
        let mut out = vec![0u8; 4096];
        out[..8].copy_from_slice(b"\x7fELF\x02\x01\x01\x00");
        out[16..18].copy_from_slice(&object::elf::ET_EXEC.to_le_bytes());
        out[18..20].copy_from_slice(&object::elf::EM_AARCH64.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[24..32].copy_from_slice(&entry.to_le_bytes());
        out[32..40].copy_from_slice(&64u64.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        out[58..60].copy_from_slice(&64u16.to_le_bytes());
        for (i, &(p_type, vaddr, bytes, memsz, flags)) in segments.iter().enumerate() {
            let offset = out.len() as u64;
            out.extend_from_slice(bytes);
            out.resize(align_up(out.len() as u64, 4096) as usize, 0);
            let at = 64 + i * 56;
            out[at..at + 4].copy_from_slice(&p_type.to_le_bytes());
            out[at + 4..at + 8].copy_from_slice(&flags.to_le_bytes());
            for (j, word) in [offset, vaddr, vaddr, bytes.len() as u64, memsz, 4096].iter().enumerate() {
                out[at + 8 + j * 8..at + 16 + j * 8].copy_from_slice(&word.to_le_bytes());
            }
        }
        out.extend_from_slice(trailer);
        let shoff = out.len() as u64;
        out.resize(out.len() + 64 * usize::from(sections), 0);
        out[40..48].copy_from_slice(&shoff.to_le_bytes());
        out[60..62].copy_from_slice(&sections.to_le_bytes());
        out
    }

    #[test]
    fn a_program_keeps_its_segments_and_loses_everything_else() {
        let code = [0xd5u8; 300];
        let data = [7u8; 40];
        let original = elf(
            0x100_0010,
            &[
                (PT_LOAD, 0x100_0000, &code, 300, PF_R | PF_X),
                (PT_GNU_STACK, 0, &[], 0, PF_R | PF_W),
                (PT_LOAD, 0x100_1000, &data, 0x3000, PF_R | PF_W),
            ],
            &[0xdb; 50_000],
            12,
        );
        let stripped = loadable_elf(&original, "test").unwrap();
        // Headers, segment bytes and at most the alignment padding before each segment.
        assert!(stripped.len() <= 64 + 2 * 56 + 300 + 40 + 2 * 16, "{} bytes", stripped.len());

        let header = FileHeader64::<LE>::parse(&*stripped).unwrap();
        assert_eq!(header.e_entry(LE), 0x100_0010);
        assert_eq!(header.e_machine(LE), object::elf::EM_AARCH64);
        assert_eq!(header.e_type(LE), object::elf::ET_EXEC);
        assert_eq!((header.e_shoff(LE), header.e_shnum(LE)), (0, 0), "no section header table");
        let loads: Vec<_> = header.program_headers(LE, &*stripped).unwrap().iter().collect();
        assert_eq!(loads.len(), 2, "only the PT_LOAD headers");
        let expect =
            [(0x100_0000, &code[..], 300, PF_R | PF_X), (0x100_1000, &data[..], 0x3000, PF_R | PF_W)];
        for (ph, (vaddr, bytes, memsz, flags)) in loads.iter().zip(expect) {
            assert_eq!(ph.p_type(LE), PT_LOAD);
            assert_eq!((ph.p_vaddr(LE), ph.p_memsz(LE), ph.p_flags(LE)), (vaddr, memsz, flags));
            assert_eq!(ph.data(LE, &*stripped).unwrap(), bytes);
            assert_eq!(ph.p_offset(LE) % ph.p_align(LE), ph.p_vaddr(LE) % ph.p_align(LE));
        }
        // The object crate (which the CPU driver's loader uses) reads it as an executable.
        let file = object::File::parse(&*stripped).unwrap();
        assert_eq!(file.entry(), 0x100_0010);
        assert_eq!(file.sections().count(), 0);
    }

    #[test]
    fn broken_programs_are_refused() {
        assert!(loadable_elf(b"not an elf", "test").is_err());
        let mut past_end = elf(0x40_0000, &[(PT_LOAD, 0x40_0000, &[1; 16], 16, PF_R | PF_X)], &[], 0);
        past_end[64 + 32..64 + 40].copy_from_slice(&(1u64 << 40).to_le_bytes()); // p_filesz
        assert!(loadable_elf(&past_end, "test").unwrap_err().contains("past the end"));
    }
}
