//! CPU hotplug, the kernel's part: a core powering itself off at its monitor's request
//! (`core_off`: timer and GIC down, the memory its monitor hands back cleaned to the point of
//! coherency, PSCI `CPU_OFF`), and the boot core taking back what an off core held
//! (`core_reclaim`: once PSCI `AFFINITY_INFO` says it is off, the objects its region and
//! share were retyped into are released and its channels emptied, so that `core_boot` may
//! start it again from a fresh region). Agreeing that a core leaves or joins is the monitors'
//! business (`monitor::membership`).

extern crate alloc;

use alloc::vec::Vec;

use caps::HeldSlot;
use cpu_driver::arch::aarch64::cache;
use cpu_driver::arch::aarch64::psci::Conduit;
use cpu_driver::boot_record::{BootRecord, StartStatus, ENABLE_PSCI, MAX_CORES};
use cpu_driver::layout::phys_to_virt;
use spin::Mutex;
use syscall_abi::Error;

use crate::console::kprintln;
use crate::scheduler::Scheduler;
use crate::{channels, core_boot, interrupts};

/// Boot core: per started core, the kernel-held objects its region and share were retyped into.
static HELD: Mutex<[Option<Vec<HeldSlot>>; MAX_CORES]> = Mutex::new([const { None }; MAX_CORES]);

/// Boot core: `core` was started from the objects `held`. A core started again gets the
/// wake-up directory at once (the roll call that shared it with the others is long over); it
/// reads it from its fresh kernel channel once it runs.
pub fn started(core: u64, held: Vec<HeldSlot>) {
    let mut guard = HELD.lock();
    let Some(entry) = guard.get_mut(core as usize) else { return };
    let again = entry.replace(held).is_some_and(|old| old.is_empty());
    drop(guard);
    if again {
        channels::send_directory(core);
    }
}

/// `core_off()`: powers this core off; returns only if it may not or the firmware refused.
pub fn core_off(record: &BootRecord) -> Result<u64, Error> {
    let core = record.core_index;
    if record.is_boot_core() {
        return Err(Error::InvalidArgument);
    }
    let conduit = Conduit::from_raw(record.psci_conduit)
        .filter(|_| record.core_enable.get(core as usize) == Some(&ENABLE_PSCI));
    let Some(conduit) = conduit else {
        kprintln!("core {core}: cannot power off: released from a spin table, no PSCI CPU_OFF");
        return Err(Error::WouldBlock);
    };
    kprintln!("core {core}: powering off (PSCI CPU_OFF)");
    interrupts::power_down();
    // What the monitor hands back goes to the boot core's monitor, which may reuse it: its
    // dirty lines must be in memory before this core leaves coherency. The firmware cleans
    // this core's caches on CPU_OFF (PSCI DEN 0022, 5.5.2), but that is the firmware's
    // promise about its own caches; DC CIVAC by address reaches the point of coherency for
    // every cache of the shareability domain, whatever the firmware does.
    for range in record.monitor_ranges() {
        if let Some(va) = phys_to_virt(range.start) {
            cache::clean_invalidate_to_poc(va as usize, (range.end - range.start) as usize);
        }
    }
    let refused = conduit.cpu_off();
    // Still here: the firmware refused. The core runs on, so it must be wakeable again.
    interrupts::power_up();
    kprintln!("core {core}: PSCI CPU_OFF returned: {refused:?}");
    Err(Error::WouldBlock)
}

/// `core_reclaim(core)`: on the boot core, once `core` is off, releases what it held and
/// empties its channels; it may then be started again.
pub fn core_reclaim(s: &mut Scheduler, core: u64) -> Result<u64, Error> {
    let record = s.record();
    if !record.is_boot_core() {
        return Err(Error::Denied);
    }
    if core >= record.core_count || core == record.core_index {
        return Err(Error::InvalidArgument);
    }
    if core_boot::status(record, core as usize) != StartStatus::Started {
        return Err(Error::InvalidArgument);
    }
    let conduit = Conduit::from_raw(record.psci_conduit)
        .filter(|_| record.core_enable.get(core as usize) == Some(&ENABLE_PSCI))
        .ok_or(Error::WouldBlock)?;
    if conduit.core_is_off(record.core_mpidr[core as usize]) != Some(true) {
        return Err(Error::WouldBlock);
    }
    // What it held is released; an empty list stays to say it was reclaimed.
    let held = HELD.lock().get_mut(core as usize).and_then(|h| h.replace(Vec::new())).unwrap_or_default();
    s.dispatchers().release_held(&held);
    channels::reset_for_restart(core);
    core_boot::taken_back(record, core as usize);
    Ok(0)
}
