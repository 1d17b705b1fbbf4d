//! The boot image as this core sees it through the physmap: where the EL0 programs are. A
//! leaf (it uses only the library).

use bootimage::PayloadTable;
use cpu_driver::boot_record::BootRecord;
use cpu_driver::layout::phys_to_virt;

/// The ELF bytes of the program `name`.
pub fn program(record: &BootRecord, name: &str) -> Option<&'static [u8]> {
    let va = phys_to_virt(record.image_pa)?;
    // SAFETY: the stub left the boot image in place (regions are carved around it) and nothing
    // writes it; the physmap maps it as normal memory.
    let image = unsafe { core::slice::from_raw_parts(va as *const u8, record.image_size as usize) };
    let table = PayloadTable::parse(image, record.payload_table_offset as usize).ok()?;
    let entry = table.program(name)?;
    table.payload_bytes(image, entry)
}
