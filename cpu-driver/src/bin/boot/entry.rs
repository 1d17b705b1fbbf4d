//! Glue between the assembly entry and the bring-up logic: the entry point, the panic and
//! exception handlers. The top of the stub: it calls into [`crate::bring_up`], and nothing
//! calls back into it.

use core::arch::global_asm;

use crate::refusal;

global_asm!(concat!(
    include_str!("../../arch/aarch64/el2_to_el1.S"),
    include_str!("../../arch/aarch64/boot_stub.S")
));

/// Called by the assembly once relocated, at EL1, on the stub's stack; `entry_counter` is the
/// counter as the stub's first instructions read it.
#[no_mangle]
extern "C" fn stub_main(dtb_pa: u64, entry_el: u64, image_base: u64, stub_end: u64, entry_counter: u64) -> ! {
    crate::bring_up::run(dtb_pa, entry_el, image_base, stub_end, entry_counter)
}

/// An exception in the stub is a bug, and the boot is refused for it; while a refusal is
/// under way it is a step of the ending that trapped (an instruction this machine lacks), and
/// the ending carries on with the next.
#[no_mangle]
extern "C" fn stub_exception(kind: u64, esr: u64, elr: u64, far: u64) -> ! {
    if refusal::under_way() {
        refusal::carry_on();
    }
    refusal::refuse(format_args!(
        "unexpected exception, vector {kind}: {} (esr={esr:#x} elr={elr:#x} far={far:#x})",
        cpu_driver::arch::aarch64::exception::exception_class(esr)
    ))
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if refusal::under_way() {
        refusal::carry_on();
    }
    refusal::refuse(format_args!("panic: {info}"))
}
