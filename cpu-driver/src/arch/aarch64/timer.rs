//! This core's timer as a one-shot deadline: it raises its PPI when the counter passes the
//! compare value, which wakes a core from `WFI`.
//!
//! Which timer depends on how the core was entered. Entered at EL2, the kernel owns the
//! machine: the drop to EL1 gives EL1 the physical timer (`CNTHCTL_EL2.EL1PCEN`) and sets
//! `CNTVOFF_EL2` to 0, and the EL1 physical timer is used. Entered at EL1, a hypervisor may run
//! below it and may trap or emulate the physical timer (`CNTHCTL_EL2.EL1PCEN` clear, Arm ARM
//! DDI 0487, D12.1 "The Generic Timer" and the `CNTHCTL_EL2` description); the virtual timer
//! is the one every EL1 guest owns, so it is used there, as Linux's arch timer driver does.
//! Deadlines stay in physical counter ticks ([`super::cpu::counter`]) for both; for the
//! virtual timer they are moved by the virtual offset measured once ([`select`]).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aarch64_cpu::registers::{
    CNTPCT_EL0, CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTVCT_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0,
};
use tock_registers::interfaces::{Readable, Writeable};

/// INTID of the non-secure EL1 physical timer's PPI.
pub const PHYSICAL_INTID: u32 = 30;
/// INTID of the virtual timer's PPI.
pub const VIRTUAL_INTID: u32 = 27;

/// Which timer this core uses: false physical (the default), true virtual.
static VIRTUAL: AtomicBool = AtomicBool::new(false);
/// Physical minus virtual counter (`CNTVOFF_EL2`), measured by [`select`].
static VIRTUAL_OFFSET: AtomicU64 = AtomicU64::new(0);

/// The timer a core uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The EL1 physical timer (`CNTP_*`).
    Physical,
    /// The virtual timer (`CNTV_*`).
    Virtual,
}

impl Kind {
    /// The timer for a core entered at `entry_el`: the physical one where the kernel was
    /// entered at EL2 (it owns the machine), the virtual one otherwise.
    pub fn for_entry_el(entry_el: u64) -> Kind {
        if entry_el >= 2 {
            Kind::Physical
        } else {
            Kind::Virtual
        }
    }

    /// Its interrupt's INTID.
    pub fn intid(self) -> u32 {
        match self {
            Kind::Physical => PHYSICAL_INTID,
            Kind::Virtual => VIRTUAL_INTID,
        }
    }

    /// Its name, for the boot line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Physical => "physical",
            Kind::Virtual => "virtual",
        }
    }
}

/// Makes `kind` this core's timer (once, before the first deadline).
pub fn select(kind: Kind) {
    disarm();
    if kind == Kind::Virtual {
        // Physical first, then virtual: the measured offset errs low by the few ticks between
        // the reads, so a deadline fires late by them, never early.
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        let physical = CNTPCT_EL0.get();
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        let virtual_count = CNTVCT_EL0.get();
        VIRTUAL_OFFSET.store(physical.wrapping_sub(virtual_count), Ordering::Relaxed);
    }
    VIRTUAL.store(kind == Kind::Virtual, Ordering::Relaxed);
}

/// This core's timer.
pub fn kind() -> Kind {
    if VIRTUAL.load(Ordering::Relaxed) {
        Kind::Virtual
    } else {
        Kind::Physical
    }
}

/// Fires the timer interrupt once the physical counter reaches `deadline`.
pub fn arm_deadline(deadline: u64) {
    match kind() {
        Kind::Physical => {
            CNTP_CVAL_EL0.set(deadline);
            CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
        }
        Kind::Virtual => {
            CNTV_CVAL_EL0.set(deadline.wrapping_sub(VIRTUAL_OFFSET.load(Ordering::Relaxed)));
            CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
        }
    }
}

/// Stops the timer (and lowers its interrupt).
pub fn disarm() {
    match kind() {
        Kind::Physical => CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::CLEAR + CNTP_CTL_EL0::IMASK::SET),
        Kind::Virtual => CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR + CNTV_CTL_EL0::IMASK::SET),
    }
}
