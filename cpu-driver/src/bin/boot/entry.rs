//! Glue between the assembly entry and the bring-up logic: the entry point, the heap, the
//! panic and exception handlers.

use core::arch::global_asm;

use cpu_driver::arch::aarch64::cpu;
use linked_list_allocator::LockedHeap;

use crate::console::stub_println;

global_asm!(concat!(
    include_str!("../../arch/aarch64/el2_to_el1.S"),
    include_str!("../../arch/aarch64/boot_stub.S")
));

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands `[start, start + size)` to the heap.
///
/// # Safety
/// The range must be mapped normal memory that nothing else uses, and this is called once.
pub unsafe fn init_heap(start: u64, size: u64) {
    // SAFETY: guaranteed by the caller.
    unsafe { HEAP.lock().init(start as *mut u8, size as usize) };
}

/// Called by the assembly once relocated, at EL1, on the stub's stack.
#[no_mangle]
extern "C" fn stub_main(dtb_pa: u64, entry_el: u64, image_base: u64, stub_end: u64) -> ! {
    crate::bring_up::run(dtb_pa, entry_el, image_base, stub_end)
}

/// Any exception in the stub is a bug: say so if the console is up, then stop.
#[no_mangle]
extern "C" fn stub_exception(kind: u64, esr: u64, elr: u64, far: u64) -> ! {
    stub_println!(
        "boot stub: unexpected exception, vector {kind}: {} (esr={esr:#x} elr={elr:#x} far={far:#x})",
        cpu_driver::arch::aarch64::exception::exception_class(esr)
    );
    halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    stub_println!("boot stub: panic: {info}");
    halt()
}

/// Stops this core for good.
pub fn halt() -> ! {
    loop {
        cpu::wait_for_interrupt();
    }
}
