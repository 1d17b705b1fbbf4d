//! The clock every figure is read from. On AArch64 the virtual counter (`CNTVCT_EL0`, readable
//! at EL0 under Linux), with an `isb` before the read as the EL0 `latency` program does, so
//! both systems time with the same instruction sequence. Elsewhere (the host, for tests) the
//! monotonic clock in nanoseconds.

/// The counter's value now.
#[cfg(target_arch = "aarch64")]
pub fn counter() -> u64 {
    let value: u64;
    // SAFETY: reading CNTVCT_EL0 has no side effects; Linux enables EL0 access to the virtual
    // counter (CNTKCTL_EL1.EL0VCTEN) and traps and emulates it where an erratum forbids it.
    unsafe {
        core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) value, options(nomem, nostack, preserves_flags))
    };
    value
}

/// The counter's frequency in Hz.
#[cfg(target_arch = "aarch64")]
pub fn frequency() -> u64 {
    let value: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects and is allowed at EL0 whenever a counter
    // is.
    unsafe {
        core::arch::asm!("mrs {}, cntfrq_el0", out(reg) value, options(nomem, nostack, preserves_flags))
    };
    value
}

/// Nanoseconds since the first call.
#[cfg(not(target_arch = "aarch64"))]
pub fn counter() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Nanoseconds: 10^9 Hz.
#[cfg(not(target_arch = "aarch64"))]
pub fn frequency() -> u64 {
    1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_advances_at_its_frequency() {
        let (hz, start) = (frequency(), counter());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let ticks = counter() - start;
        assert!(hz > 0);
        // At least the 20 ms slept; at most a generous 10 s (a loaded host may stall us).
        assert!(ticks >= hz / 50 && ticks < hz * 10, "{ticks} ticks at {hz} Hz over 20 ms");
    }
}
