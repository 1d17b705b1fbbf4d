//! Arm semihosting's `SYS_EXIT`: ends an emulator's run with an exit status. Only for runs
//! whose emulator enables semihosting (QEMU's `-semihosting-config enable=on`) and whose boot
//! says so (`semihosting-exit` on the kernel command line): on other machines the `HLT`
//! instruction is an undefined instruction, so nothing calls this unless asked to.

use core::arch::asm;

/// `SYS_EXIT`'s operation number.
const SYS_EXIT: u64 = 0x18;
/// `ADP_Stopped_ApplicationExit`: the program ended; the second word is its exit status.
const APPLICATION_EXIT: u64 = 0x20026;

/// Asks the emulator to exit with `status`. Returns only if it did not.
pub fn exit(status: u32) {
    let block: [u64; 2] = [APPLICATION_EXIT, u64::from(status)];
    // SAFETY: `HLT #0xF000` is the AArch64 semihosting trap; with semihosting enabled the
    // emulator reads the two-word parameter block at x1 (alive on this stack for the call)
    // and exits; the caller only calls this when the boot said semihosting is enabled.
    unsafe {
        asm!(
            "hlt #0xf000",
            inout("x0") SYS_EXIT => _,
            in("x1") block.as_ptr(),
            options(nostack, readonly),
        );
    }
}
