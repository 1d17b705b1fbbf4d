//! Entry glue, the top of the kernel: the assembly entry and vectors, the heap, the panic
//! handler and the exception handler. `kernel_main` hands the core to [`crate::main_loop`];
//! an exception from EL0 goes to [`crate::syscalls`] (a system call) or
//! [`crate::scheduler`] (an interrupt or a fault) and back to EL0 through the scheduler.
//! Nothing calls into this module but the assembly.

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cpu_driver::arch::aarch64::cpu::{self, halt};
use cpu_driver::arch::aarch64::exception::{
    class_of, exception_class, vector_name, TrapFrame, EC_SVC64, KERNEL_OVERFLOW,
};
use cpu_driver::boot_record::{offsets, BootRecord, BOOT_RECORD_MAGIC};
use linked_list_allocator::LockedHeap;

use crate::console::kprintln_emergency;
use crate::{main_loop, power, scheduler, syscalls};

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
    SCTLR = const cpu_driver::system_control::KERNEL,
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

/// The lowest kernel stack address at which an exception taken at EL1 may still push its
/// TrapFrame (the stack's lowest byte plus one frame); `kernel_vectors.S` switches to the
/// overflow stack below it. 0 (never below) until `kernel_main` sets it.
#[no_mangle]
static KERNEL_STACK_LIMIT: AtomicU64 = AtomicU64::new(0);

/// This core's boot record, for the panic handler (set first thing in `kernel_main`).
static RECORD: spin::Once<&'static BootRecord> = spin::Once::new();

/// Set once a stack overflow is being reported, so a fault while reporting stops the core
/// silently instead of reporting forever.
static OVERFLOW_REPORTED: AtomicBool = AtomicBool::new(false);

/// Called by the entry assembly with the MMU on, on this core's stack; `entry_el` is the
/// exception level this core entered the kernel at (before the drop to EL1).
#[no_mangle]
extern "C" fn kernel_main(record_va: u64, entry_el: u64) -> ! {
    // SAFETY: the entry code passes the kernel-window address of this core's boot record,
    // written by the stub before the core started and never written again.
    let record: &'static BootRecord = unsafe { &*(record_va as *const BootRecord) };
    if record.magic != BOOT_RECORD_MAGIC {
        halt();
    }
    RECORD.call_once(|| record);
    // The stack runs from the page above the guard page (right after the frame pool) to
    // `stack_top_va` (`plan::RegionLayout`).
    let stack_bottom = record.frames_va + record.frames_size + cpu_driver::layout::PAGE_SIZE;
    KERNEL_STACK_LIMIT.store(stack_bottom + core::mem::size_of::<TrapFrame>() as u64, Ordering::Relaxed);
    cpu::disable_low_half_translation();
    // SAFETY: the stub reserved and mapped this heap range for this core alone.
    unsafe { HEAP.lock().init(record.heap_va as *mut u8, record.heap_size as usize) };
    main_loop::run(record, entry_el)
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
            kprintln_emergency!(
                "core mpidr={:#x}: exception from EL0 with no dispatcher; core stopped",
                cpu::mpidr()
            );
            halt();
        }
        return;
    }
    if kind & KERNEL_OVERFLOW != 0 {
        if OVERFLOW_REPORTED.swap(true, Ordering::Relaxed) {
            halt();
        }
        let frame_ptr: *const TrapFrame = frame;
        // SAFETY: on the overflow path the vector code stored the faulting SP in the 16 bytes
        // right above the frame, at the top of the overflow stack.
        let sp = unsafe { frame_ptr.add(1).cast::<u64>().read() };
        let limit = KERNEL_STACK_LIMIT.load(Ordering::Relaxed) - core::mem::size_of::<TrapFrame>() as u64;
        kprintln_emergency!(
            "core mpidr={:#x}: kernel stack overflow: {}: {} at far={:#x} with sp={sp:#x} (guard page guard={:#x} below the stack's bottom={limit:#x}; esr={:#x} elr={:#x}); core stopped",
            cpu::mpidr(),
            vector_name(kind & !KERNEL_OVERFLOW),
            exception_class(frame.esr),
            frame.far,
            limit - cpu_driver::layout::PAGE_SIZE,
            frame.esr,
            frame.elr
        );
        halt();
    }
    kprintln_emergency!(
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

/// Another core's panic stops that core alone (the others go on, and their monitors find it
/// silent). So does the boot core's once the roll call is over (the lowest live core's monitor
/// then takes the run and the console over); before that, nobody could, so the boot core's
/// panic ends the run as failed.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln_emergency!("core mpidr={:#x}: panic: {info}", cpu::mpidr());
    if let Some(record) = RECORD.get().filter(|r| r.is_boot_core()) {
        if crate::roll_call::others_carry_on() {
            kprintln_emergency!(
                "core {}: the boot core panicked; the other cores carry the run on",
                record.core_index
            );
            halt()
        }
        kprintln_emergency!(
            "core {}: the boot core panicked: the run cannot go on; ending it as failed",
            record.core_index
        );
        power::fail(record);
    }
    halt()
}
