//! Power State Coordination Interface calls (Arm DEN 0022), through the `smccc` crate, over
//! the conduit the device tree names (`/psci/method`).

use smccc::{psci, Hvc, Smc};

/// How PSCI calls reach the firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduit {
    /// `HVC`: the firmware is a hypervisor (QEMU without EL2).
    Hvc,
    /// `SMC`: the firmware is at EL3 (Trusted Firmware-A, QEMU with EL2).
    Smc,
}

impl Conduit {
    /// Decodes `BootRecord::psci_conduit` (1 HVC, 2 SMC).
    pub fn from_raw(raw: u64) -> Option<Self> {
        match raw {
            1 => Some(Conduit::Hvc),
            2 => Some(Conduit::Smc),
            _ => None,
        }
    }

    /// Encodes it for the boot record.
    pub fn to_raw(self) -> u64 {
        match self {
            Conduit::Hvc => 1,
            Conduit::Smc => 2,
        }
    }

    /// `CPU_ON`: starts the core `mpidr` at physical `entry` with `x0 = context`.
    pub fn cpu_on(self, mpidr: u64, entry: u64, context: u64) -> Result<(), psci::error::Error> {
        match self {
            Conduit::Hvc => psci::cpu_on::<Hvc>(mpidr, entry, context),
            Conduit::Smc => psci::cpu_on::<Smc>(mpidr, entry, context),
        }
    }

    /// `CPU_OFF`: powers the calling core down; returns only if the firmware refused (PSCI
    /// DEN 0022, 5.5: on success the call does not return, and the firmware cleans the core's
    /// caches and takes it out of coherency before it loses power).
    pub fn cpu_off(self) -> Result<(), psci::error::Error> {
        match self {
            Conduit::Hvc => psci::cpu_off::<Hvc>(),
            Conduit::Smc => psci::cpu_off::<Smc>(),
        }
    }

    /// `AFFINITY_INFO` at level 0: whether the core `mpidr` is off (the firmware's word: once
    /// it says so after a `CPU_OFF`, the core runs no more instructions and its caches are
    /// clean), `None` if the firmware would not say.
    pub fn core_is_off(self, mpidr: u64) -> Option<bool> {
        let level = psci::LowestAffinityLevel::All;
        let state = match self {
            Conduit::Hvc => psci::affinity_info::<Hvc>(mpidr, level),
            Conduit::Smc => psci::affinity_info::<Smc>(mpidr, level),
        };
        state.ok().map(|s| s == psci::AffinityState::Off)
    }

    /// `SYSTEM_OFF`; returns only if the firmware refused.
    pub fn system_off(self) -> Result<(), psci::error::Error> {
        match self {
            Conduit::Hvc => psci::system_off::<Hvc>(),
            Conduit::Smc => psci::system_off::<Smc>(),
        }
    }

    /// `SYSTEM_RESET`; returns only if the firmware refused.
    pub fn system_reset(self) -> Result<(), psci::error::Error> {
        match self {
            Conduit::Hvc => psci::system_reset::<Hvc>(),
            Conduit::Smc => psci::system_reset::<Smc>(),
        }
    }
}

/// The PSCI return code of an error, as the specification numbers it.
pub fn error_code(error: psci::error::Error) -> i32 {
    i64::from(error).clamp(i64::from(i32::MIN), -1) as i32
}

/// Describes a PSCI return code in the specification's words.
pub fn describe(code: i32) -> psci::error::Error {
    psci::error::Error::from(code)
}
