//! The AArch64 side of the runtime: the entry point, `SVC`, and the panic handler.

use core::arch::{asm, global_asm};

use syscall_abi::Call;

global_asm!(
    ".section .text._start, \"ax\"",
    ".global _start",
    "_start:",
    "    mov x29, #0",
    "    mov x30, #0",
    "    bl __user_main",
    "1:  b 1b",
);

/// Makes a system call.
pub fn syscall(call: Call, args: [u64; 4]) -> u64 {
    let ret: u64;
    // SAFETY: SVC enters the CPU driver, which preserves every register but x0 and reads or
    // writes only the memory an argument names, after checking the caller owns it.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") args[0] => ret,
            in("x1") args[1],
            in("x2") args[2],
            in("x3") args[3],
            in("x8") call as u64,
            options(nostack),
        );
    }
    ret
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::console::print_line(format_args!("panic: {info}"));
    crate::exit(101)
}
