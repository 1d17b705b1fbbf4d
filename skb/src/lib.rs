//! The System Knowledge Base: what the multikernel knows about the machine.
//!
//! Barrelfish keeps these facts in a Prolog engine; here they are plain Rust values, built
//! from the flattened device tree ([`Skb::from_dtb`]) and extended by facts the running system
//! measures ([`Skb::record_latency`], [`Skb::mark_offline`]). The rest of the OS asks it typed
//! questions: the cores of a class, a core's cluster siblings, which CPU-driver build a core
//! runs, the cheapest peer of a core, a multicast tree from any core. Every core's monitor
//! keeps its own replica; replicas stay consistent through messages, never shared memory.
//!
//! Principles:
//!
//! - **Any board.** Nothing here names a board; what varies (cell sizes, `ranges`, aliases,
//!   nested `cpu-map`s, missing `/memory`) is read from the tree.
//! - **Bad input is an error value.** Truncated blobs, wrong magic, header blocks inside the
//!   header or over each other, offsets or cell counts out of range, phandle loops: [`Error`]
//!   names the problem. Nothing panics or loops on input: one walk of the blob (`blob`) checks
//!   every token as it builds the node list, every property is read with bounds-checked accessors,
//!   every walk is bounded (there is a fuzz target in `fuzz/`).
//! - **One bad optional fact is a warning, not a refusal.** A malformed `/psci`, interrupt
//!   controller or console, a core's capacity, release address or cache chain: that fact is
//!   absent and [`Skb::warnings`] says why; the boot refuses only what needs it.
//! - **The build follows the core's design** ([`Skb::build_choice`]): in-order designs run the
//!   little build, out-of-order ones the big build, whatever their capacity class; a design the
//!   tree does not name is decided from `MIDR_EL1` on the running core.
//! - **Small modules with one job:** `blob` (the raw bytes), `tree` (nodes and properties),
//!   `address` (`reg` and `ranges`), `cpus`, `devices`, `microarch` (the core table), `builds`
//!   (which CPU-driver build suits a design), `queries`, `json`.
//! - **`no_std` + `alloc`**, `forbid(unsafe_code)`; the host CLI (`skb facts`) sits behind the
//!   default `std` feature.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod address;
mod blob;
mod builds;
mod cpus;
mod devices;
mod error;
pub mod json;
mod microarch;
mod queries;
pub mod text;
mod tree;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

pub use builds::{build_for, build_for_midr, CpuDriverBuild, PORTABLE_BUILD};
pub use cpus::{CacheLevel, Caches, Cpu, EnableMethod};
pub use devices::{
    stdout_options, Console, ConsoleSource, InterruptController, IrqTrigger, LineFormat, MemoryRange, Parity,
    Psci, PsciConduit, Timer, UartKind,
};
pub use error::{Error, Warning};
pub use microarch::{
    from_compatible as micro_arch_from_compatible, micro_arch_from_midr, ArchVersion, MicroArch, Pipeline,
};
pub use queries::{BuildChoice, MulticastTree};

/// The facts about one machine.
#[derive(Clone, Debug)]
pub struct Skb {
    /// The enabled cores, in `/cpus` order (their index is the OS-wide core number).
    pub cpus: Vec<Cpu>,
    /// RAM (possibly empty: some bootloaders add `/memory` only when they boot a kernel).
    pub memory: Vec<MemoryRange>,
    /// Reserved ranges, never allocated: `/memreserve/` and the enabled `/reserved-memory`
    /// children.
    pub reserved: Vec<MemoryRange>,
    /// Of those, the ranges marked `no-map`: never mapped at all.
    pub no_map: Vec<MemoryRange>,
    /// PSCI, if the firmware offers it.
    pub psci: Option<Psci>,
    /// The GIC.
    pub interrupt_controller: Option<InterruptController>,
    /// The architected timer.
    pub timer: Option<Timer>,
    /// The console.
    pub console: Option<Console>,
    /// `/chosen/bootargs`.
    pub bootargs: Option<String>,
    /// `/model`.
    pub model: Option<String>,
    /// What was malformed but only left a fact out, in the order found.
    pub warnings: Vec<Warning>,
    /// Measured URPC round trips in ns, by (from, to) core.
    latencies: BTreeMap<(usize, usize), u64>,
    /// Cores found offline, with the reason.
    offline: BTreeMap<usize, String>,
}

/// What a boot that refuses a tree can still take from it to say why and to power off: the
/// console and the PSCI conduit, read alone, each `None` where the blob is unreadable or the
/// fact absent. [`Skb::from_dtb`] needs the whole tree sound; this needs only the blob.
#[derive(Clone, Debug, Default)]
pub struct Rescue {
    /// The console, found as [`Skb::console`] is.
    pub console: Option<Console>,
    /// How PSCI calls reach the firmware, if the tree says.
    pub psci_conduit: Option<PsciConduit>,
}

impl Rescue {
    /// Reads what it can of `dtb`; never fails.
    pub fn from_dtb(dtb: &[u8]) -> Rescue {
        let Ok(tree) = tree::Tree::parse(dtb) else { return Rescue::default() };
        let mut ignored = error::Warnings::default();
        Rescue {
            console: devices::console(&tree, &mut ignored).ok().flatten(),
            psci_conduit: devices::psci(&tree).ok().flatten().map(|psci| psci.conduit),
        }
    }
}

impl Skb {
    /// Reads the facts of a flattened device tree. The blob, the cores, memory and reserved
    /// memory must be sound; a malformed optional fact is left out with a warning.
    pub fn from_dtb(dtb: &[u8]) -> Result<Skb, Error> {
        let tree = tree::Tree::parse(dtb)?;
        let mut warnings = error::Warnings::default();
        let cpus = cpus::read(&tree, &mut warnings)?;
        let reserved = devices::reserved(&tree)?;
        let memory = devices::memory(&tree)?;
        let psci = warnings.optional(devices::psci(&tree), "no PSCI: cores started through it stay offline");
        let interrupt_controller = warnings.optional(
            devices::interrupt_controller(&tree),
            "no interrupt controller: cores wait on the timer's event stream",
        );
        let console = devices::console(&tree, &mut warnings);
        let console = warnings.optional(console, "no console");
        Ok(Skb {
            cpus,
            memory,
            reserved: reserved.all,
            no_map: reserved.no_map,
            psci,
            interrupt_controller,
            timer: devices::timer(&tree),
            console,
            bootargs: devices::bootargs(&tree),
            model: tree.string(0, "model"),
            warnings: warnings.into_vec(),
            latencies: BTreeMap::new(),
            offline: BTreeMap::new(),
        })
    }

    /// The core with this affinity (`MPIDR_EL1`; the flag bits are ignored).
    pub fn cpu_by_mpidr(&self, mpidr: u64) -> Option<&Cpu> {
        const AFFINITY: u64 = 0xff_00ff_ffff;
        self.cpus.iter().find(|c| c.mpidr & AFFINITY == mpidr & AFFINITY)
    }

    /// Number of performance classes.
    pub fn class_count(&self) -> usize {
        self.cpus.iter().map(|c| usize::from(c.class) + 1).max().unwrap_or(0)
    }

    /// Number of clusters.
    pub fn cluster_count(&self) -> usize {
        self.cpus.iter().map(|c| c.cluster as usize + 1).max().unwrap_or(0)
    }

    /// Records a measured URPC round trip from core `from` to core `to` (a later measurement
    /// of the same pair replaces the earlier one). A pair with a core the tree does not have,
    /// or a core with itself, is not recorded: returns false.
    pub fn record_latency(&mut self, from: usize, to: usize, ns: u64) -> bool {
        let known = from < self.cpus.len() && to < self.cpus.len() && from != to;
        if known {
            self.latencies.insert((from, to), ns);
        }
        known
    }

    /// The measured round trip from `from` to `to`, if any.
    pub fn latency(&self, from: usize, to: usize) -> Option<u64> {
        self.latencies.get(&(from, to)).copied()
    }

    /// Every measured round trip: `(from, to, ns)`, ordered by core pair.
    pub fn latencies(&self) -> impl Iterator<Item = (usize, usize, u64)> + '_ {
        self.latencies.iter().map(|(&(from, to), &ns)| (from, to, ns))
    }

    /// Core `index` is online again (it rejoined): queries count it once more. Returns whether
    /// it was marked offline.
    pub fn mark_online(&mut self, index: usize) -> bool {
        self.offline.remove(&index).is_some()
    }

    /// Records that a core is offline and why (it did not start, or stopped reporting); false,
    /// and nothing recorded, for a core the tree does not have.
    pub fn mark_offline(&mut self, index: usize, reason: impl Into<String>) -> bool {
        let known = index < self.cpus.len();
        if known {
            self.offline.insert(index, reason.into());
        }
        known
    }

    /// Why a core is offline, if it is.
    pub fn offline_reason(&self, index: usize) -> Option<&str> {
        self.offline.get(&index).map(String::as_str)
    }

    /// The cores marked offline, with their reasons.
    pub fn offline_cores(&self) -> impl Iterator<Item = (usize, &str)> + '_ {
        self.offline.iter().map(|(&index, reason)| (index, reason.as_str()))
    }

    /// Whether a core is online (in the tree and not marked offline).
    pub fn is_online(&self, index: usize) -> bool {
        index < self.cpus.len() && self.offline_reason(index).is_none()
    }
}
