//! The random part of the capability exercise (`scripts/run selftest`): every core's monitor at
//! once starts random operations on what it holds in the protocol's slots (send a copy to a
//! random core, retype through the owner, revoke by agreement over a random route, map a Frame
//! into its own address space, delete a copy), starting from a RAM piece of its own, while the
//! others do the same. Then each core checks its own mappings (a mapping whose capability went
//! must be gone: the entry unmaps as empty) and that every request it started ended, and
//! reports every capability it holds to the boot core, which checks the global invariant
//! (`monitor::holdings`): overlapping memory nested, one owner.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use agreement::route::Strategy;
use capops::{Core, Event, RetypeStart};
use caps::{CapAddr, CapError, CapType, Capability, Owner, Retype};
use monitor::holdings::{self, Holding};
use monitor::messages::{
    ExerciseHolding, ExerciseListHoldings, ExerciseRandom, ExerciseReport, EXERCISE_HOLDINGS,
    EXERCISE_RANDOM_DONE,
};
use userland::{println, Error, SLOT_VNODE};

use crate::kernel_caps::protocol_slots;
use crate::Monitor;

/// Operations each core starts.
const OPERATIONS: u32 = 60;
/// First entry of the monitor's VNode the exercise maps Frames at, and how many it uses.
const FIRST_ENTRY: u64 = 384;
const ENTRIES: u64 = 16;
/// Seconds the boot core waits for each phase.
const PHASE_SECONDS: u64 = 60;
const PAGE: u64 = 4096;
const READ_WRITE: u64 = 3;

/// One core's run.
pub(crate) struct RandomRun {
    rng: u64,
    remaining: u32,
    /// Requests started and not yet ended, by kind ('s' send, 'r' retype ask, 'v' revoke).
    open: BTreeMap<(char, u32), ()>,
    /// Ended more than once (a protocol bug).
    repeated: u32,
    /// What each entry maps: the slot and the capability it held when mapped.
    mapped: BTreeMap<u64, (CapAddr, Capability)>,
    started: u32,
    pub(crate) done: bool,
}

impl RandomRun {
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

impl Monitor {
    /// Starts this core's run.
    pub(crate) fn start_random(&mut self, order: ExerciseRandom) {
        let _ = self.lendable_ram();
        let seed = order.seed ^ (self.core + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        self.random = Some(RandomRun {
            rng: seed,
            remaining: order.operations,
            open: BTreeMap::new(),
            repeated: 0,
            mapped: BTreeMap::new(),
            started: 0,
            done: false,
        });
    }

    /// What the capability protocol reported, for the run's accounting.
    pub(crate) fn random_event(&mut self, event: &Event) {
        let Some(run) = self.random.as_mut() else { return };
        let key = match event {
            Event::Sent { request, .. } => ('s', *request),
            Event::Retyped { request, .. } => ('r', *request),
            Event::Revoked { round, .. } | Event::Protected { round, .. } => ('v', *round),
            Event::Arrived { .. } => return,
        };
        if run.open.remove(&key).is_none() && (key.0 != 's' || run.started > 0) {
            // A Sent for a transfer the protocol started itself (answering a retype ask) is
            // not one of the run's; anything else ending twice is.
            if key.0 != 's' {
                run.repeated += 1;
                println!("monitor {}: {event:?} ended no request of the random run", self.core);
            }
        }
    }

    /// One step of this core's run: start an operation, or finish once all ended.
    pub(crate) fn random_step(&mut self) {
        let Some(run) = self.random.as_mut() else { return };
        if run.done {
            return;
        }
        if run.remaining == 0 {
            if run.open.is_empty() && !self.capops.busy() {
                self.finish_random();
            }
            return;
        }
        run.remaining -= 1;
        let held: Vec<(CapAddr, Capability)> = {
            let kernel = self.kernel_caps();
            protocol_slots()
                .map(CapAddr::from_raw)
                .filter_map(|slot| kernel.identify(slot).ok().map(|c| (slot, c)))
                .collect()
        };
        let peers = self.online_peers();
        let Some(run) = self.random.as_mut() else { return };
        if held.is_empty() || peers.is_empty() {
            return;
        }
        let (slot, capability) = held[run.below(held.len() as u64) as usize];
        let choice = run.below(10);
        let peer = peers[run.below(peers.len() as u64) as usize];
        let pages = capability.size() / PAGE;
        let size = 1 + run.below(pages.min(4));
        let offset = run.below(pages - size + 1);
        let strategy = [Strategy::Unicast, Strategy::Broadcast, Strategy::Tree][run.below(3) as usize];
        let entry = FIRST_ENTRY + run.below(ENTRIES);
        let now = self.now_ns();
        let mut kernel = self.kernel_caps();
        let started = match choice {
            0..=3 => self.capops.send(&mut kernel, peer, slot, now).ok().map(|r| ('s', r)),
            4..=5 => {
                let retype = Retype {
                    kind: CapType::Frame,
                    offset: offset * PAGE,
                    object_size: size * PAGE,
                    count: 1,
                };
                match self.capops.retype(&mut kernel, slot, retype, now) {
                    Ok(RetypeStart::Asked(request)) => Some(('r', request)),
                    _ => None,
                }
            }
            6..=7 => {
                let route = self.route(strategy);
                self.capops.revoke(&mut kernel, slot, route, now).ok().map(|r| ('v', r))
            }
            8 if capability.kind() == CapType::Frame => {
                if userland::vnode_map(SLOT_VNODE, entry, slot.raw(), READ_WRITE).is_ok() {
                    if let Some(run) = self.random.as_mut() {
                        run.mapped.insert(entry, (slot, capability));
                    }
                }
                None
            }
            _ => {
                // Deleting a copy: refused (Lent) for an owner's last copy of what it lent.
                let _ = userland::cap_delete(slot.raw());
                None
            }
        };
        if let (Some(key), Some(run)) = (started, self.random.as_mut()) {
            run.open.insert(key, ());
            run.started += 1;
        }
        self.after_capops();
    }

    /// This core's checks at the end of its run, reported to the boot core.
    fn finish_random(&mut self) {
        let kernel = self.kernel_caps();
        let Some(run) = self.random.as_mut() else { return };
        run.done = true;
        let mut problems = run.repeated;
        for (&entry, (slot, capability)) in &run.mapped {
            let still_held = kernel.identify(*slot).is_ok_and(|held| held.same_object(capability));
            let unmapped = userland::vnode_unmap(SLOT_VNODE, entry);
            let empty = Err(Error::Capability(CapError::EmptySlot.code()));
            // A mapping whose capability went (swept, revoked, deleted) must have gone with
            // it; one whose capability is still here is either still mapped or was replaced.
            if !still_held && unmapped != empty {
                println!("monitor {}: entry {entry} still mapped after its capability went", self.core);
                problems += 1;
            }
        }
        let started = run.started;
        let report = ExerciseReport { core: self.core as u32, step: EXERCISE_RANDOM_DONE, value: problems };
        println!(
            "monitor {}: random capability operations: {started} started, {problems} problems",
            self.core
        );
        if self.core == self.coordinator {
            self.exercise_reports.push(report);
        } else {
            self.send(self.coordinator, &report);
        }
    }

    /// This core's holdings in the protocol's slots.
    fn holdings(&self) -> Vec<Holding> {
        let kernel = self.kernel_caps();
        protocol_slots()
            .map(CapAddr::from_raw)
            .filter_map(|slot| {
                let capability = kernel.identify(slot).ok()?;
                let owner = match kernel.owner(slot).ok()? {
                    Owner::Here => self.core as u32,
                    Owner::Core(core) => core,
                };
                let (base, size) = (capability.base(), capability.size());
                Some(Holding { core: self.core as u32, kind: capability.kind() as u32, base, size, owner })
            })
            .collect()
    }

    /// `ExerciseListHoldings` from the boot core.
    pub(crate) fn send_holdings(&mut self, to: u64) {
        let holdings = self.holdings();
        for h in &holdings {
            let message =
                ExerciseHolding { core: h.core, kind: h.kind, base: h.base, size: h.size, owner: h.owner };
            self.send(to, &message);
        }
        let count = holdings.len() as u32;
        self.send(to, &ExerciseReport { core: self.core as u32, step: EXERCISE_HOLDINGS, value: count });
    }

    /// The boot core's part: every core runs at once, then the global check.
    pub(crate) fn random_exercise(&mut self) {
        let peers = self.online_peers();
        if peers.is_empty() {
            return;
        }
        self.exercise_reports.clear();
        self.exercise_holdings.clear();
        let order = ExerciseRandom { seed: userland::counter(), operations: OPERATIONS };
        self.broadcast(&order);
        self.start_random(order);
        let cores = peers.len() + 1;
        let done = |m: &Monitor| {
            m.exercise_reports.iter().filter(|r| r.step == EXERCISE_RANDOM_DONE).count() == cores
        };
        let all_done = self.wait_for(PHASE_SECONDS, done);
        let problems: u32 =
            self.exercise_reports.iter().filter(|r| r.step == EXERCISE_RANDOM_DONE).map(|r| r.value).sum();
        let finished = self.exercise_reports.iter().filter(|r| r.step == EXERCISE_RANDOM_DONE).count();
        self.check(
            "random-operations",
            all_done && problems == 0,
            format_args!(
                "{OPERATIONS} operations on each of {finished} of {cores} cores at once, {problems} problems"
            ),
        );
        self.random = None;

        self.broadcast(&ExerciseListHoldings { to: self.core as u32 });
        let listed = |m: &Monitor| {
            let reports: Vec<&ExerciseReport> =
                m.exercise_reports.iter().filter(|r| r.step == EXERCISE_HOLDINGS).collect();
            let expected: u32 = reports.iter().map(|r| r.value).sum();
            reports.len() == cores - 1 && m.exercise_holdings.len() as u32 == expected
        };
        let all_listed = self.wait_for(PHASE_SECONDS, listed);
        let mut holdings = self.exercise_holdings.clone();
        holdings.extend(self.holdings());
        let verdict = holdings::check(&holdings);
        let foreign = holdings.iter().filter(|h| h.owner != h.core).count();
        self.check(
            "random-invariants",
            all_listed && verdict.is_ok(),
            format_args!(
                "{} capabilities on {cores} cores ({foreign} foreign copies): {}",
                holdings.len(),
                verdict.err().unwrap_or_else(|| "nested, one owner each".into())
            ),
        );
    }
}
