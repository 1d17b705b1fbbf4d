//! This core's interrupt controller state and the way the CPU driver waits: with interrupts
//! masked, `WFI` still wakes on a pending interrupt (an SGI from another core or the timer
//! deadline), after which the pending interrupts are acknowledged here. Uses only
//! [`crate::console`].

pub use cpu_driver::arch::aarch64::gic::TIMER_INTID;
use cpu_driver::arch::aarch64::gic::{Gic, SGI_WAKE};
use cpu_driver::arch::aarch64::{cpu, timer};
use cpu_driver::boot_record::GicConfig;
use cpu_driver::layout::phys_to_virt;
use spin::Mutex;

use crate::console::kprintln;

/// The INTID of the wake SGI (SGIs are INTIDs 0-15).
pub const WAKE_INTID: u32 = SGI_WAKE;

/// This core's GIC (a per-core static: every core has its own copy of this kernel).
static GIC: Mutex<Option<Gic>> = Mutex::new(None);

/// Sets up this core's GIC; without one the core still works, polling instead of sleeping.
pub fn init(config: &GicConfig, core: u64) {
    // SAFETY: the physmap maps the GIC as device memory for good, and this is this core's
    // only `Gic`.
    match unsafe { Gic::this_core(config, cpu::mpidr(), phys_to_virt) } {
        Ok(gic) => *GIC.lock() = Some(gic),
        Err(e) => kprintln!("core {core}: interrupt controller: {e}; polling instead of sleeping"),
    }
}

/// Wakes the core addressed by `target` (see `gic::own_target`).
pub fn wake(target: u64) {
    if let Some(gic) = GIC.lock().as_mut() {
        gic.send_wake(target);
    }
}

/// What woke a [`sleep_until`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wakeup {
    /// Another core sent the wake SGI.
    pub woken: bool,
    /// The deadline passed.
    pub timed_out: bool,
}

/// Sleeps until another core wakes this one or the counter reaches `deadline` (if any).
/// Returns at once if a wake-up is already pending; may also return early (spuriously).
pub fn sleep_until(deadline: Option<u64>) -> Wakeup {
    let mut guard = GIC.lock();
    let Some(gic) = guard.as_mut() else {
        cpu::wait_for_event();
        return Wakeup { woken: false, timed_out: deadline.is_some_and(|d| cpu::counter() >= d) };
    };
    if let Some(deadline) = deadline {
        timer::arm_deadline(deadline);
    }
    cpu::wait_for_interrupt();
    timer::disarm();
    let pending = gic.drain();
    Wakeup {
        woken: pending & (1 << SGI_WAKE) != 0,
        timed_out: pending & (1 << TIMER_INTID) != 0 || deadline.is_some_and(|d| cpu::counter() >= d),
    }
}

/// Acknowledges everything pending; returns the private INTIDs seen (bit n = INTID n).
pub fn drain() -> u32 {
    GIC.lock().as_mut().map_or(0, Gic::drain)
}

/// URPC's notification hook as the CPU driver implements it: `notify` sends the wake SGI to
/// the core behind the channel, `wait` sleeps in `WFI` (a pending SGI ends it even with
/// interrupts masked, so a notification sent after the last poll is not lost).
pub struct SgiNotify {
    /// The peer's SGI target (see `gic::own_target`).
    pub target: u64,
}

impl urpc::Notify for SgiNotify {
    fn notify(&self) {
        wake(self.target);
    }

    fn wait(&self) {
        sleep_until(None);
    }
}
