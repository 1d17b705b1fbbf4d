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

/// An EL0 program to bundle (its ELF is kept as is; the CPU driver loads it).
pub struct ProgramInput<'a> {
    /// Name the CPU driver looks it up by (at most 16 bytes).
    pub name: &'a str,
    /// The linked ELF.
    pub elf: &'a [u8],
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
        object::File::parse(program.elf).map_err(|e| format!("{}: not an ELF file: {e}", program.name))?;
        let file_offset = align_up(image.len() as u64, PAYLOAD_ALIGN);
        image.resize(file_offset as usize, 0);
        image.extend_from_slice(program.elf);
        let mut name = [0u8; 16];
        name[..program.name.len()].copy_from_slice(program.name.as_bytes());
        let size = program.elf.len() as u64;
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
