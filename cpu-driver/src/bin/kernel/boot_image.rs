//! The boot image as this core sees it through the physmap: where the EL0 programs are (by
//! name, and as the physical pages a module capability names). A leaf (it uses only the
//! library).

extern crate alloc;

use alloc::string::String;

use bootimage::{PayloadKind, PayloadTable};
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
    let entry = table.program(name)?;
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
