//! Entry glue, the top of the kernel: the assembly entry and vectors, the heap, the panic
//! handler and the exception handler. `kernel_main` hands the core to [`crate::main_loop`];
//! an exception from EL0 goes to [`crate::syscalls`] (a system call) or
//! [`crate::scheduler`] (an interrupt or a fault) and back to EL0 through the scheduler.
//! Nothing calls into this module but the assembly.

use core::arch::global_asm;

use cpu_driver::arch::aarch64::cpu::{self, halt};
use cpu_driver::arch::aarch64::exception::{class_of, exception_class, vector_name, TrapFrame, EC_SVC64};
use cpu_driver::boot_record::{offsets, BootRecord, BOOT_RECORD_MAGIC};
use linked_list_allocator::LockedHeap;

use crate::console::kprintln;
use crate::{main_loop, scheduler, syscalls};

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

/// Vector index of a synchronous exception from EL0 (AArch64): a system call or a fault.
const EL0_SYNC: u64 = 8;
/// Vector index of an IRQ from EL0 (AArch64): the timer or the wake SGI.
const EL0_IRQ: u64 = 9;

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
    main_loop::run(record)
}

/// Every exception: those from EL0 (vectors 8 to 11) are a dispatcher's system call,
/// interrupt or fault; one taken at EL1 is a CPU driver bug: report it and stop this core only.
#[no_mangle]
extern "C" fn kernel_exception(kind: u64, frame: &mut TrapFrame) {
    if (EL0_SYNC..EL0_SYNC + 4).contains(&kind) {
        let handled = scheduler::with(|scheduler| {
            let switch = match kind {
                EL0_SYNC if class_of(frame.esr) == EC_SVC64 => syscalls::handle(scheduler, frame),
                EL0_IRQ => scheduler.take_interrupts(),
                _ => {
                    scheduler.stop_current(frame, kind);
                    true
                }
            };
            scheduler.resume(frame, switch);
        });
        if handled.is_none() {
            kprintln!("core mpidr={:#x}: exception from EL0 with no dispatcher; core stopped", cpu::mpidr());
            halt();
        }
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
