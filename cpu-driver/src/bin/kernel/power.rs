//! Ending the run: PSCI `SYSTEM_OFF` (or `SYSTEM_RESET` for a run that failed), when this boot
//! asks for it; and ending it from the boot core when what coordinates the run is gone (its
//! CPU driver panicked, its monitor ended). A leaf, so that the `power_off` system call, the
//! boot core's main loop (when no monitor runs), the scheduler and the panic handler can
//! reach it.

use cpu_driver::arch::aarch64::psci::Conduit;
use cpu_driver::arch::aarch64::semihosting;
use cpu_driver::boot_record::{BootRecord, FLAG_POWER_OFF_WHEN_DONE, FLAG_SEMIHOSTING_EXIT};
use smccc::psci::error::Error as PsciError;

use crate::console::{self, kprintln};

/// Ends the run with PSCI `SYSTEM_OFF` if this boot asks for it and the firmware offers it;
/// returns if it does not.
pub fn off(record: &BootRecord) {
    if record.flags & FLAG_POWER_OFF_WHEN_DONE == 0 {
        return;
    }
    console::last_drain(); // the last chance to print what the rings hold
    if let Some(conduit) = Conduit::from_raw(record.psci_conduit) {
        let result = conduit.system_off();
        kprintln!("PSCI SYSTEM_OFF failed: {result:?}");
    }
}

/// Ends a run that failed: with semihosting's `SYS_EXIT` status 1 when the boot says the
/// emulator offers it (QEMU then exits 1), else with PSCI `SYSTEM_RESET` (QEMU with
/// `-no-reboot` exits 0, so whoever runs it tells failure from the console), if this boot asks
/// to end and the firmware offers it; returns if it does not.
pub fn reset(record: &BootRecord) {
    end_failed(record, "SYSTEM_RESET", Conduit::system_reset);
}

/// Ends a run that cannot go on because the boot core lost what coordinates it: semihosting's
/// `SYS_EXIT` status 1 where the boot says the emulator offers it (QEMU exits 1), else PSCI
/// `SYSTEM_OFF` (a failed run is not restarted: it would fail again; QEMU exits 0, and the
/// console says why). Returns if neither ends it. The console is drained only if no other
/// drain is under way (a panic may have struck mid-drain), so this never waits on a lock.
pub fn fail(record: &BootRecord) {
    end_failed(record, "SYSTEM_OFF", Conduit::system_off);
}

/// A failed run's end: semihosting's exit 1 where the boot allows, else the PSCI call named.
fn end_failed(record: &BootRecord, name: &str, psci_call: fn(Conduit) -> Result<(), PsciError>) {
    if record.flags & FLAG_POWER_OFF_WHEN_DONE == 0 {
        return;
    }
    console::last_drain();
    if record.flags & FLAG_SEMIHOSTING_EXIT != 0 {
        semihosting::exit(1);
        kprintln!("semihosting SYS_EXIT returned");
    }
    if let Some(conduit) = Conduit::from_raw(record.psci_conduit) {
        let result = psci_call(conduit);
        kprintln!("PSCI {name} failed: {result:?}");
    }
}
