//! Entry glue: the assembly entry and vectors, the heap, the panic and exception handlers.

use core::arch::global_asm;

use cpu_driver::arch::aarch64::cpu;
use cpu_driver::arch::aarch64::exception::{exception_class, vector_name, TrapFrame};
use cpu_driver::boot_record::{offsets, BootRecord, BOOT_RECORD_MAGIC};
use linked_list_allocator::LockedHeap;

use crate::console::kprintln;

global_asm!(
    concat!(
        include_str!("../../arch/aarch64/el2_to_el1.S"),
        include_str!("../../arch/aarch64/kernel_entry.S"),
        include_str!("../../arch/aarch64/kernel_vectors.S")
    ),
    TTBR = const offsets::TTBR,
    TCR = const offsets::TCR,
    MAIR = const offsets::MAIR,
    STACK_TOP = const offsets::STACK_TOP,
    RECORD_VA = const offsets::RECORD_VA,
    TTBR0_ENTRY = const offsets::TTBR0_ENTRY,
);

// The address this build is linked at, for `linker/kernel.ld` (`. = KERNEL_BASE`): an absolute
// symbol taken from `cpu_driver::layout::KERNEL_BASE`, which differs per core class, so the
// layout module stays the one place the kernel's addresses are written down.
global_asm!(".global KERNEL_BASE", ".set KERNEL_BASE, {base}", base = const cpu_driver::layout::KERNEL_BASE);

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Called by the entry assembly with the MMU on, on this core's stack.
#[no_mangle]
extern "C" fn kernel_main(record_va: u64) -> ! {
    // SAFETY: the entry code passes the kernel-window address of this core's boot record,
    // written by the stub before the core started and never written again.
    let record: &'static BootRecord = unsafe { &*(record_va as *const BootRecord) };
    if record.magic != BOOT_RECORD_MAGIC {
        halt();
    }
    cpu::disable_low_half_translation();
    // SAFETY: the stub reserved and mapped this heap range for this core alone.
    unsafe { HEAP.lock().init(record.heap_va as *mut u8, record.heap_size as usize) };
    crate::roll_call::run(record)
}

/// Every exception: those from EL0 go to the dispatcher scheduler; one taken at EL1 is a CPU
/// driver bug: report it and stop this core only.
#[no_mangle]
extern "C" fn kernel_exception(kind: u64, frame: &mut TrapFrame) {
    if (8..12).contains(&kind) {
        crate::dispatch::handle_from_el0(kind, frame);
        return;
    }
    kprintln!(
        "core mpidr={:#x}: unexpected exception: {}: {} (esr={:#x} elr={:#x} far={:#x}); core stopped",
        cpu::mpidr(),
        vector_name(kind),
        exception_class(frame.esr),
        frame.esr,
        frame.elr,
        frame.far
    );
    halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!("core mpidr={:#x}: panic: {info}", cpu::mpidr());
    halt()
}

/// Stops this core for good, asleep.
pub fn halt() -> ! {
    loop {
        cpu::wait_for_interrupt();
    }
}
