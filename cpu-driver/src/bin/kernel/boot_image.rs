//! The boot image as this core sees it through the physmap: where the EL0 programs and the
//! CPU-driver builds are (by name or class, and as the physical pages a module capability
//! names). A leaf (it uses only the
//! library).

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use bootimage::{PayloadEntry, PayloadKind, PayloadTable};
use cpu_driver::boot_record::BootRecord;
use cpu_driver::layout::{phys_to_virt, PAGE_SIZE};

/// The boot image's bytes and payload table.
fn image(record: &BootRecord) -> Option<(&'static [u8], PayloadTable)> {
    let va = phys_to_virt(record.image_pa)?;
    // SAFETY: the stub left the boot image in place (regions are carved around it) and nothing
    // writes it; the physmap maps it as normal memory.
    let image = unsafe { core::slice::from_raw_parts(va as *const u8, record.image_size as usize) };
    let table = PayloadTable::parse(image, record.payload_table_offset as usize).ok()?;
    Some((image, table))
}

/// The ELF bytes of the program `name`.
pub fn program(record: &BootRecord, name: &str) -> Option<&'static [u8]> {
    let (image, table) = image(record)?;
    let entry = table.program(name)?;
    table.payload_bytes(image, entry)
}

/// The physical pages of the program `name`'s ELF file (payloads are page aligned in the
/// image): what its module capability names.
pub fn program_pages(record: &BootRecord, name: &str) -> Option<(u64, u64)> {
    let (_, table) = image(record)?;
    pages_of(record, table.program(name)?)
}

/// Every EL0 program of the image but `skip`, in the image's order: its name and the
/// physical pages of its ELF file (what its module capability names).
pub fn programs(record: &BootRecord, skip: &str) -> Vec<(String, u64, u64)> {
    let Some((_, table)) = image(record) else { return Vec::new() };
    table
        .entries()
        .filter(|e| e.kind == PayloadKind::Program && e.name() != skip)
        .filter_map(|e| pages_of(record, e).map(|(base, size)| (e.name().into(), base, size)))
        .collect()
}

/// The physical pages of the CPU-driver build of class `class`: what its module capability
/// names.
pub fn cpu_driver_pages(record: &BootRecord, class: u32) -> Option<(u64, u64)> {
    let (_, table) = image(record)?;
    pages_of(record, table.cpu_driver(class)?)
}

/// The CPU-driver build whose pages start at physical `base` (a module capability's base), with
/// its file bytes, if one does.
pub fn cpu_driver_at(record: &BootRecord, base: u64) -> Option<(PayloadEntry, &'static [u8])> {
    let (image, table) = image(record)?;
    let offset = base.checked_sub(record.image_pa)?;
    let entry = table.entries().find(|e| e.kind == PayloadKind::CpuDriver && e.file_offset == offset)?;
    Some((*entry, table.payload_bytes(image, entry)?))
}

/// The bytes of memory a core running the CPU-driver build of class `class` needs.
pub fn region_bytes(record: &BootRecord, class: u32) -> Option<u64> {
    let (_, table) = image(record)?;
    Some(cpu_driver::plan::RegionLayout::for_kernel(table.cpu_driver(class)?.mem_size).size)
}

fn pages_of(record: &BootRecord, entry: &PayloadEntry) -> Option<(u64, u64)> {
    let base = record.image_pa.checked_add(entry.file_offset)?;
    let size = entry.file_size.div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE;
    base.is_multiple_of(PAGE_SIZE).then_some((base, size))
}

/// The name and ELF bytes of the program whose pages are exactly `[base, base + size)` (a
/// module capability's object), if one's are.
pub fn program_at(record: &BootRecord, base: u64, size: u64) -> Option<(String, &'static [u8])> {
    let (image, table) = image(record)?;
    let offset = base.checked_sub(record.image_pa)?;
    let entry = table.entries().find(|e| e.kind == PayloadKind::Program && e.file_offset == offset)?;
    let name: String = entry.name().into();
    let (_, pages) = program_pages(record, &name)?;
    (pages == size).then_some(())?;
    Some((name, table.payload_bytes(image, entry)?))
}
