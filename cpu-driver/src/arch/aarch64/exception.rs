//! The register state saved on an exception, and decoding it for a report.

/// What `kernel_vectors.S` saves, in its order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapFrame {
    /// x0 to x30.
    pub x: [u64; 31],
    /// Where the exception was taken (ELR_EL1).
    pub elr: u64,
    /// Saved processor state (SPSR_EL1).
    pub spsr: u64,
    /// Exception syndrome (ESR_EL1).
    pub esr: u64,
    /// Faulting address (FAR_EL1), meaningful for aborts.
    pub far: u64,
    /// The EL0 stack pointer.
    pub sp_el0: u64,
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 36 * 8);

/// Added to the vector index by `kernel_vectors.S` when an exception taken at EL1 found the
/// kernel stack exhausted and was moved to the overflow stack.
pub const KERNEL_OVERFLOW: u64 = 0x10;

/// Which vector was taken (the index into the 16-entry table).
pub fn vector_name(kind: u64) -> &'static str {
    const NAMES: [&str; 16] = [
        "synchronous (EL1, SP_EL0)",
        "IRQ (EL1, SP_EL0)",
        "FIQ (EL1, SP_EL0)",
        "SError (EL1, SP_EL0)",
        "synchronous (EL1)",
        "IRQ (EL1)",
        "FIQ (EL1)",
        "SError (EL1)",
        "synchronous (EL0)",
        "IRQ (EL0)",
        "FIQ (EL0)",
        "SError (EL0)",
        "synchronous (EL0, AArch32)",
        "IRQ (EL0, AArch32)",
        "FIQ (EL0, AArch32)",
        "SError (EL0, AArch32)",
    ];
    NAMES.get(kind as usize).copied().unwrap_or("unknown vector")
}

/// The exception class of an ESR value, in words (Arm ARM DDI 0487, D17.2.37).
pub fn exception_class(esr: u64) -> &'static str {
    match (esr >> 26) & 0x3f {
        0x00 => "unknown reason",
        0x01 => "WFI/WFE trapped",
        0x07 => "FP/SIMD access trapped",
        0x0e => "illegal execution state",
        0x15 => "SVC from AArch64",
        0x16 => "HVC from AArch64",
        0x17 => "SMC from AArch64",
        0x18 => "system register access trapped",
        0x20 => "instruction abort from a lower EL",
        0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 => "data abort from a lower EL",
        0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2f => "SError",
        0x3c => "BRK instruction",
        _ => "other exception class",
    }
}

/// The exception class field of an ESR value.
pub fn class_of(esr: u64) -> u64 {
    (esr >> 26) & 0x3f
}

/// Exception class of `SVC` from AArch64.
pub const EC_SVC64: u64 = 0x15;
