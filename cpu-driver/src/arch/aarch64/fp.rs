//! FP/SIMD state of EL0 programs. The CPU driver itself is built soft-float and never touches
//! these registers, so they need saving only when the core switches between dispatchers.

use core::arch::asm;

/// The 32 vector registers and the status and control registers.
#[repr(C, align(16))]
#[derive(Clone, Debug)]
pub struct FpState {
    /// q0 to q31.
    pub q: [u128; 32],
    /// FPSR.
    pub fpsr: u64,
    /// FPCR.
    pub fpcr: u64,
}

impl FpState {
    /// The state a new program starts with.
    pub const fn new() -> Self {
        FpState { q: [0; 32], fpsr: 0, fpcr: 0 }
    }
}

impl Default for FpState {
    fn default() -> Self {
        Self::new()
    }
}

/// Lets EL0 (and EL1) use FP/SIMD without trapping (`CPACR_EL1.FPEN = 0b11`).
pub fn enable() {
    use aarch64_cpu::registers::CPACR_EL1;
    use tock_registers::interfaces::ReadWriteable;
    CPACR_EL1.modify(CPACR_EL1::FPEN::TrapNothing);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Saves this core's FP/SIMD registers into `state`.
pub fn save(state: &mut FpState) {
    // SAFETY: stores the 32 vector registers and FPSR/FPCR into `state`, which is large enough
    // and 16-byte aligned; FP access was enabled by `enable`.
    unsafe {
        asm!(
            // The CPU driver is built soft-float; the assembler needs FP enabled for these.
            ".arch_extension fp",
            "stp q0, q1, [{0}, #0]", "stp q2, q3, [{0}, #32]", "stp q4, q5, [{0}, #64]",
            "stp q6, q7, [{0}, #96]", "stp q8, q9, [{0}, #128]", "stp q10, q11, [{0}, #160]",
            "stp q12, q13, [{0}, #192]", "stp q14, q15, [{0}, #224]", "stp q16, q17, [{0}, #256]",
            "stp q18, q19, [{0}, #288]", "stp q20, q21, [{0}, #320]", "stp q22, q23, [{0}, #352]",
            "stp q24, q25, [{0}, #384]", "stp q26, q27, [{0}, #416]", "stp q28, q29, [{0}, #448]",
            "stp q30, q31, [{0}, #480]",
            "mrs {1}, fpsr", "mrs {2}, fpcr", "str {1}, [{0}, #512]", "str {2}, [{0}, #520]",
            in(reg) state as *mut FpState, out(reg) _, out(reg) _,
            options(nostack, preserves_flags),
        );
    }
}

/// Loads this core's FP/SIMD registers from `state`.
pub fn restore(state: &FpState) {
    // SAFETY: loads the registers saved by `save` (or zeros); FP access is enabled.
    unsafe {
        asm!(
            ".arch_extension fp",
            "ldp q0, q1, [{0}, #0]", "ldp q2, q3, [{0}, #32]", "ldp q4, q5, [{0}, #64]",
            "ldp q6, q7, [{0}, #96]", "ldp q8, q9, [{0}, #128]", "ldp q10, q11, [{0}, #160]",
            "ldp q12, q13, [{0}, #192]", "ldp q14, q15, [{0}, #224]", "ldp q16, q17, [{0}, #256]",
            "ldp q18, q19, [{0}, #288]", "ldp q20, q21, [{0}, #320]", "ldp q22, q23, [{0}, #352]",
            "ldp q24, q25, [{0}, #384]", "ldp q26, q27, [{0}, #416]", "ldp q28, q29, [{0}, #448]",
            "ldp q30, q31, [{0}, #480]",
            "ldr {1}, [{0}, #512]", "ldr {2}, [{0}, #520]", "msr fpsr, {1}", "msr fpcr, {2}",
            in(reg) state as *const FpState, out(reg) _, out(reg) _,
            options(nostack, preserves_flags),
        );
    }
}

const _: () = assert!(core::mem::size_of::<FpState>() == 528);
