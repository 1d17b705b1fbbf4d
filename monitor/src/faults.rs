//! Faults injected on purpose, from the kernel command line, so that the failure paths run for
//! real under QEMU (`faults=KIND:CORE@MS[,...]`). The monitor of the core named carries the
//! fault out once its counter passes `MS` milliseconds after its start; everything else reacts
//! as it would to the real thing.

use alloc::vec::Vec;

/// What goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The core's monitor stops answering for good: it neither reads nor sends again (its
    /// programs run on), which is what the other cores see of a core that stopped.
    Hang,
}

/// One injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injection {
    /// What happens.
    pub kind: Kind,
    /// On which core.
    pub core: u32,
    /// When, in milliseconds after the monitor started.
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
}

impl Plan {
    /// Reads `faults=` from a kernel command line.
    pub fn from_bootargs(bootargs: &str) -> Plan {
        let mut plan = Plan::default();
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

    /// The injections for `core`.
    pub fn for_core(&self, core: u32) -> impl Iterator<Item = &Injection> {
        self.injections.iter().filter(move |i| i.core == core)
    }

    /// The cores something is injected on, a bit each.
    pub fn cores(&self) -> u64 {
        self.injections.iter().filter(|i| i.core < 64).fold(0, |m, i| m | 1 << i.core)
    }
}

fn parse(item: &str) -> Option<Injection> {
    let (kind, rest) = item.split_once(':')?;
    let (core, at) = rest.split_once('@')?;
    let kind = match kind {
        "hang" => Kind::Hang,
        _ => return None,
    };
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
        assert_eq!(plan.for_core(5).count(), 1);
        assert_eq!(Plan::from_bootargs(""), Plan::default());
    }
}
