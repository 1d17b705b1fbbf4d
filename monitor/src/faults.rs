//! Faults injected on purpose, from the kernel command line, so that the failure paths run for
//! real under QEMU: `faults=KIND:CORE@MS[,...]` names them, `faults-seed=S faults-count=K`
//! draws `K` from seed `S` (every monitor draws the same ones: the same seed, the same live
//! cores). The monitor of the core named carries the fault out once `MS` milliseconds passed
//! since the roll call ended there (the moment its membership starts: every monitor knows who is
//! online); everything else reacts as it would to the real thing.
//!
//! Kinds: `hang` (the monitor stops answering), `panic` (the CPU driver panics), `park` (the
//! core stops with interrupts masked), `el0-fault` (the monitor touches unmapped memory),
//! `corrupt` (the monitor puts a damaged line on every outgoing ring), `storm` (the monitor
//! floods every ring until it is full, several times over). The first four stop the core: the
//! others must remove it. The last two leave it live: the others must reject the damaged
//! lines, take every message of the storm, and remove nobody.

use alloc::vec::Vec;

/// What goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The core's monitor stops answering for good: it neither reads nor sends again (its
    /// programs run on), which is what the other cores see of a core that stopped.
    Hang,
    /// The core's CPU driver panics (asked by its monitor, on the Kernel capability).
    KernelPanic,
    /// The core stops for good with every interrupt masked: no SGI, no timer reaches it.
    ParkMasked,
    /// The core's monitor reads unmapped memory and is ended by its CPU driver.
    El0Fault,
    /// The monitor puts one damaged line (header and body garbage) on each outgoing ring.
    CorruptLine,
    /// The monitor sends [`STORM_MESSAGES`] to every peer at once: every ring fills.
    Storm,
}

/// Every kind, in the order [`Plan::draw`] numbers them.
pub const KINDS: [Kind; 6] =
    [Kind::Hang, Kind::KernelPanic, Kind::ParkMasked, Kind::El0Fault, Kind::CorruptLine, Kind::Storm];

/// Messages a storm sends to each peer: many rings' worth.
pub const STORM_MESSAGES: u32 = 512;

impl Kind {
    /// The name `faults=` uses.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Hang => "hang",
            Kind::KernelPanic => "panic",
            Kind::ParkMasked => "park",
            Kind::El0Fault => "el0-fault",
            Kind::CorruptLine => "corrupt",
            Kind::Storm => "storm",
        }
    }

    /// Whether the fault stops the core (the survivors must remove it) rather than leave it
    /// live (they must keep it).
    pub const fn stops_the_core(self) -> bool {
        matches!(self, Kind::Hang | Kind::KernelPanic | Kind::ParkMasked | Kind::El0Fault)
    }

    fn from_name(name: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.name() == name)
    }
}

/// One injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injection {
    /// What happens.
    pub kind: Kind,
    /// On which core.
    pub core: u32,
    /// When, in milliseconds after the roll call.
    pub at_ms: u64,
}

/// Every injection the command line asks for; words it does not know are ignored, and a
/// malformed injection is left out (reported by [`Plan::malformed`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The injections, in the order given.
    pub injections: Vec<Injection>,
    /// How many items of `faults=` could not be read.
    pub malformed: usize,
    /// `faults-seed=S faults-count=K`: injections still to draw ([`Plan::draw`]).
    pub seeded: Option<(u64, u32)>,
}

/// Earliest and latest time of a drawn injection (ms after the roll call): after the monitors
/// bound, before the run could end.
const DRAWN_FROM_MS: u64 = 1_000;
const DRAWN_TO_MS: u64 = 4_000;

impl Plan {
    /// Reads `faults=` from a kernel command line.
    pub fn from_bootargs(bootargs: &str) -> Plan {
        let mut plan = Plan::default();
        let number = |key: &str| {
            bootargs.split_whitespace().find_map(|w| w.strip_prefix(key)).and_then(|n| n.parse::<u64>().ok())
        };
        if let (Some(seed), Some(count)) = (number("faults-seed="), number("faults-count=")) {
            plan.seeded = Some((seed, count.min(64) as u32));
        }
        for list in bootargs.split_whitespace().filter_map(|w| w.strip_prefix("faults=")) {
            for item in list.split(',').filter(|i| !i.is_empty()) {
                match parse(item) {
                    Some(injection) => plan.injections.push(injection),
                    None => plan.malformed += 1,
                }
            }
        }
        plan
    }

    /// Draws the seeded injections over the `live` cores (a bit each): distinct cores, the
    /// boot core among the candidates (after the roll call it is not special: if it stops, the
    /// lowest live core takes the run over), leaving at least two cores untouched, at times
    /// between 1 and 4 s after the roll call, each kind equally likely. The same seed and cores
    /// give the same injections on every monitor.
    pub fn draw(&mut self, live: u64) {
        let Some((seed, count)) = self.seeded.take() else { return };
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound.max(1)
        };
        let mut candidates: Vec<u32> = (0..64).filter(|&c| live & (1 << c) != 0).collect();
        let most = candidates.len().saturating_sub(2);
        for _ in 0..(count as usize).min(most) {
            let core = candidates.remove(next(candidates.len() as u64) as usize);
            let at_ms = DRAWN_FROM_MS + next(DRAWN_TO_MS - DRAWN_FROM_MS);
            let kind = KINDS[next(KINDS.len() as u64) as usize];
            self.injections.push(Injection { kind, core, at_ms });
        }
    }

    /// Keeps only the injections on `live` cores (a bit each); returns how many it dropped.
    pub fn keep_live(&mut self, live: u64) -> usize {
        let before = self.injections.len();
        self.injections.retain(|i| i.core < 64 && live & (1 << i.core) != 0);
        before - self.injections.len()
    }

    /// The injections for `core`.
    pub fn for_core(&self, core: u32) -> impl Iterator<Item = &Injection> {
        self.injections.iter().filter(move |i| i.core == core)
    }

    /// The cores something is injected on, a bit each.
    pub fn cores(&self) -> u64 {
        self.injections.iter().filter(|i| i.core < 64).fold(0, |m, i| m | 1 << i.core)
    }

    /// The cores a fault stops, a bit each.
    pub fn stopped_cores(&self) -> u64 {
        self.injections
            .iter()
            .filter(|i| i.core < 64 && i.kind.stops_the_core())
            .fold(0, |m, i| m | 1 << i.core)
    }
}

fn parse(item: &str) -> Option<Injection> {
    let (kind, rest) = item.split_once(':')?;
    let (core, at) = rest.split_once('@')?;
    let kind = Kind::from_name(kind)?;
    Some(Injection { kind, core: core.parse().ok()?, at_ms: at.parse().ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injections_are_read_and_junk_is_counted() {
        let plan =
            Plan::from_bootargs("bench faults=hang:3@1500,hang:5@2500 other faults=hang:x@1,boom:1@2,hang:2");
        assert_eq!(
            plan.injections,
            [
                Injection { kind: Kind::Hang, core: 3, at_ms: 1500 },
                Injection { kind: Kind::Hang, core: 5, at_ms: 2500 }
            ]
        );
        assert_eq!(plan.malformed, 3);
        assert_eq!(plan.cores(), 0b101000);
        assert_eq!(plan.stopped_cores(), 0b101000);
        assert_eq!(plan.for_core(5).count(), 1);
        assert_eq!(Plan::from_bootargs(""), Plan::default());
    }

    #[test]
    fn every_kind_is_read_by_its_name_and_only_four_stop_the_core() {
        let plan =
            Plan::from_bootargs("faults=hang:1@1,panic:2@2,park:3@3,el0-fault:4@4,corrupt:5@5,storm:6@6");
        assert_eq!(plan.malformed, 0);
        assert_eq!(plan.injections.iter().map(|i| i.kind).collect::<Vec<_>>(), KINDS);
        assert_eq!(plan.stopped_cores(), 0b1_1110);
        assert_eq!(plan.cores(), 0b111_1110);
        assert_eq!(Plan::from_bootargs("faults=Panic:1@1,storm:1").malformed, 2);
    }

    #[test]
    fn drawn_injections_leave_two_cores_and_repeat_with_the_seed() {
        let mut kinds_seen = Vec::new();
        let mut boot_core_drawn = 0;
        for seed in 0..200 {
            let mut plan = Plan::from_bootargs(&format!("faults-seed={seed} faults-count=9"));
            plan.draw(0b111111);
            assert_eq!(plan.injections.len(), 4, "six cores: all but two");
            let cores = plan.cores();
            assert_eq!(cores.count_ones(), 4, "distinct cores");
            assert_eq!(cores & !0b111111, 0, "live cores only");
            boot_core_drawn += cores & 1;
            assert!(plan.injections.iter().all(|i| (DRAWN_FROM_MS..DRAWN_TO_MS).contains(&i.at_ms)));
            let mut again = Plan::from_bootargs(&format!("faults-seed={seed} faults-count=9"));
            again.draw(0b111111);
            assert_eq!(again, plan);
            kinds_seen.extend(plan.injections.iter().map(|i| i.kind.name()));
        }
        assert!(boot_core_drawn > 0, "the boot core is a candidate like any other");
        kinds_seen.sort_unstable();
        kinds_seen.dedup();
        assert_eq!(kinds_seen.len(), KINDS.len(), "every kind is drawn: {kinds_seen:?}");
        let mut named = Plan::from_bootargs("faults=hang:9@100,hang:2@100");
        assert_eq!(named.keep_live(0b111), 1, "core 9 is not there");
        assert_eq!(named.cores(), 0b100);
        let mut one = Plan::from_bootargs("faults-seed=7 faults-count=1");
        one.draw(0b110011);
        assert_eq!(one.injections.len(), 1);
        assert!([0, 1, 4, 5].contains(&one.injections[0].core));
        let mut two_cores = Plan::from_bootargs("faults-seed=7 faults-count=3");
        two_cores.draw(0b11);
        assert!(two_cores.injections.is_empty(), "two cores: nothing to spare");
    }
}
