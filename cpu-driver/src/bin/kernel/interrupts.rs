//! This core's interrupt controller state and the way the CPU driver waits: with interrupts
//! masked, `WFI` still wakes on a pending interrupt (an SGI from another core or the timer
//! deadline), after which the pending interrupts are acknowledged here. Uses only
//! [`crate::console`].

use core::sync::atomic::{AtomicU64, Ordering};
pub use cpu_driver::arch::aarch64::gic::TIMER_INTID;

use cpu_driver::arch::aarch64::gic::{Gic, SpiError, SGI_WAKE};
use cpu_driver::arch::aarch64::{cpu, timer};
use cpu_driver::boot_record::GicConfig;
use cpu_driver::gicv2_spi::Trigger;
use cpu_driver::layout::phys_to_virt;
use spin::Mutex;

use crate::console::kprintln;

/// The INTID of the wake SGI (SGIs are INTIDs 0-15).
pub const WAKE_INTID: u32 = SGI_WAKE;

/// This core's GIC (a per-core static: every core has its own copy of this kernel).
static GIC: Mutex<Option<Gic>> = Mutex::new(None);

/// Chooses this core's timer by the level it entered the kernel at (`timer::Kind`: virtual
/// under a possible hypervisor, physical where the kernel owns EL2), says which, turns on the
/// timer's event stream and sets up this core's GIC. The event stream bounds every `WFE`: the
/// kernel's own without a GIC, where the core waits in `WFE` and a deadline must still be seen,
/// and EL0's, which `SCTLR_EL1.nTWE` lets through (Arm ARM DDI 0487, D12.2.3 "Event streams":
/// nothing else wakes a WFE no core signals). It does not end a `WFI`, the kernel's idle.
pub fn init(config: &GicConfig, core: u64, entry_el: u64) {
    let period = cpu::enable_event_stream();
    let kind = timer::Kind::for_entry_el(entry_el);
    timer::select(kind);
    let why = match kind {
        timer::Kind::Virtual => "entered at EL1, where a hypervisor may trap the physical timer",
        timer::Kind::Physical => "entered at EL2, this kernel owns the machine",
    };
    kprintln!("core {core} timer: {} (INTID {}): {why}", kind.name(), kind.intid());
    // SAFETY: the physmap maps the GIC as device memory for good, and this is this core's
    // only `Gic`.
    match unsafe { Gic::this_core(config, cpu::mpidr(), kind.intid(), phys_to_virt) } {
        Ok(gic) => *GIC.lock() = Some(gic),
        Err(e) => {
            kprintln!(
                "core {core}: interrupt controller: {e}; waiting in WFE with the timer's event stream \
                 (cntkctl_el1={:#x}, an event every {period} ticks)",
                cpu::event_stream_control()
            );
        }
    }
}

/// Before this core powers off: its timer disarmed, its GIC part taken down
/// (`gic::Gic::power_down`).
pub fn power_down() {
    timer::disarm();
    if let Some(gic) = GIC.lock().as_mut() {
        gic.power_down();
    }
}

/// After [`power_down`], when the core did not power off: its GIC part up again (the timer is
/// armed again by the next sleep).
pub fn power_up() {
    if let Some(gic) = GIC.lock().as_mut() {
        gic.power_up();
    }
}

/// Wake SGIs this core has sent (a per-core static), for the wait measurement's counts.
static SGIS_SENT: AtomicU64 = AtomicU64::new(0);

/// Wakes the core addressed by `target` (see `gic::own_target`).
pub fn wake(target: u64) {
    if let Some(gic) = GIC.lock().as_mut() {
        gic.send_wake(target);
        SGIS_SENT.fetch_add(1, Ordering::Relaxed);
    }
}

/// Wake SGIs this core has sent since it started.
pub fn sgis_sent() -> u64 {
    SGIS_SENT.load(Ordering::Relaxed)
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

/// Routes shared peripheral interrupt `intid` to this core and enables it (`Gic::route_spi_here`).
pub fn route_spi_here(intid: u32) -> Result<(), SpiError> {
    GIC.lock().as_mut().ok_or(SpiError::Unsupported)?.route_spi_here(intid, cpu::mpidr())
}

/// Sets shared peripheral interrupt `intid`'s trigger (masked) as the device tree gives it
/// (`Gic::configure_spi`; the boot core, before the others start).
pub fn configure_spi(intid: u32, trigger: Trigger) -> Result<(), SpiError> {
    GIC.lock().as_mut().ok_or(SpiError::Unsupported)?.configure_spi(intid, trigger)
}

/// Unmasks shared peripheral interrupt `intid` after its driver served it.
pub fn unmask_spi(intid: u32) -> Result<(), SpiError> {
    GIC.lock().as_mut().ok_or(SpiError::Unsupported)?.unmask_spi(intid)
}

/// Hands every shared peripheral interrupt taken (and masked) since the last call to `deliver`.
pub fn take_spis(deliver: impl FnMut(u32)) {
    if let Some(gic) = GIC.lock().as_mut() {
        gic.take_spis(deliver);
    }
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

/// A URPC sleeper whose every sleep ends within `ticks` (a `WFI` with the timer armed), for
/// waits that must give up on a peer that stopped: the caller's deadline is then seen.
pub struct SleepAtMost {
    /// The longest sleep, in counter ticks.
    pub ticks: u64,
}

impl urpc::Notify for SleepAtMost {
    fn notify(&self) {}

    fn wait(&self) {
        sleep_until(Some(cpu::counter().saturating_add(self.ticks)));
    }
}
