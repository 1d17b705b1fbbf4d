//! The EL1 physical timer as a one-shot deadline: it raises its PPI when the counter passes
//! the compare value, which wakes a core from `WFI`.

use aarch64_cpu::registers::{CNTP_CTL_EL0, CNTP_CVAL_EL0};
use tock_registers::interfaces::Writeable;

/// Fires the timer interrupt once the physical counter reaches `deadline`.
pub fn arm_deadline(deadline: u64) {
    CNTP_CVAL_EL0.set(deadline);
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
}

/// Stops the timer (and lowers its interrupt).
pub fn disarm() {
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::CLEAR + CNTP_CTL_EL0::IMASK::SET);
}
