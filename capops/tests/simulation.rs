//! The capability protocol over a simulated machine: every core has its own
//! `caps::CoreCapabilities` (no state shared), every ordered pair of cores is a FIFO channel
//! (as a URPC channel is), and each step either starts a random operation on a random core
//! (send a capability, retype through the owner, revoke by agreement over a unicast,
//! broadcast or tree route) or delivers the head of a random non-empty channel. Many seeds,
//! 2 to 6 cores. Checked:
//! - after every step: across all cores, capabilities to overlapping memory are nested (no
//!   two retypes of the same memory both succeeded) and no memory is owned by two cores;
//!   every core's own indexes are consistent;
//! - the moment a revoke reports `Done`: no core but the owner holds a copy of the object or
//!   of anything inside it, and no such copy is in flight;
//! - nothing lost or answered twice: every transfer, ask and revoke started gets exactly one
//!   event, and every capability that arrived was reported sent;
//! - a core that never answers: the revoke fails in prepare, names it, and removes nothing.

use std::collections::{BTreeMap, VecDeque};

use agreement::route::{Route, Strategy};
use agreement::CoreId;
use capops::{CapOps, Core, Event, Message, RetypeStart, RoundEnd};
use caps::{CapType, Capability, Owner, Retype, Rights, PAGE_SIZE};

mod common;

use common::{random_frame, random_peer, slot, Rng, SimCore};

struct Machine {
    cores: Vec<SimCore>,
    ops: Vec<CapOps>,
    channels: BTreeMap<(CoreId, CoreId), VecDeque<Message>>,
    /// Cores that take no message (what is sent to them is lost).
    silent: Vec<CoreId>,
    now: u64,
    started: Counts,
    ended: Counts,
    revokes: BTreeMap<(CoreId, u32), Capability>,
    tally: Tally,
}

/// How often each thing happened, to show the runs exercise the protocol.
#[derive(Default, Debug)]
struct Tally {
    arrived: usize,
    retyped_for_another_core: usize,
    revokes_done: usize,
    revokes_busy: usize,
    swept_copies: usize,
    protects_done: usize,
}

#[derive(Default, Debug, PartialEq)]
struct Counts {
    sends: BTreeMap<(CoreId, u32), u32>,
    asks: BTreeMap<(CoreId, u32), u32>,
    revokes: BTreeMap<(CoreId, u32), u32>,
}

impl Machine {
    fn new(n: usize) -> Machine {
        Machine {
            cores: (0..n).map(SimCore::new).collect(),
            ops: (0..n).map(|me| CapOps::with_timeout(me, 1_000)).collect(),
            channels: BTreeMap::new(),
            silent: Vec::new(),
            now: 0,
            started: Counts::default(),
            ended: Counts::default(),
            revokes: BTreeMap::new(),
            tally: Tally::default(),
        }
    }

    fn route(&self, strategy: Strategy, root: CoreId) -> Route {
        let n = self.cores.len();
        let others: Vec<CoreId> = (0..n).filter(|&c| c != root).collect();
        match strategy {
            Strategy::Unicast => Route::unicast(root, &others),
            Strategy::Broadcast => Route::broadcast(root, &others),
            Strategy::Tree => {
                // Two clusters; the root serves its own and one representative the other.
                let half = n.div_ceil(2);
                let cluster = |c: CoreId| c < half;
                let (mine, theirs): (Vec<CoreId>, Vec<CoreId>) =
                    others.iter().partition(|&&c| cluster(c) == cluster(root));
                let mut edges: Vec<(CoreId, CoreId)> = Vec::new();
                if let Some((&representative, rest)) = theirs.split_first() {
                    edges.push((root, representative));
                    edges.extend(rest.iter().map(|&c| (representative, c)));
                }
                edges.extend(mine.iter().map(|&c| (root, c)));
                Route::tree(root, &edges)
            }
        }
    }

    /// Moves what core `c` produced onto the channels and checks its events.
    fn collect(&mut self, c: CoreId) {
        for (to, message) in self.ops[c].take_messages() {
            self.channels.entry((c, to)).or_default().push_back(message);
        }
        for event in self.ops[c].take_events() {
            match event {
                Event::Sent { request, .. } => *self.ended.sends.entry((c, request)).or_default() += 1,
                Event::Retyped { request, result } => {
                    *self.ended.asks.entry((c, request)).or_default() += 1;
                    self.tally.retyped_for_another_core += usize::from(result.is_ok());
                }
                Event::Revoked { round, outcome } => {
                    *self.ended.revokes.entry((c, round)).or_default() += 1;
                    let object = self.revokes[&(c, round)];
                    match outcome {
                        RoundEnd::Done => {
                            self.check_revoked(c, &object);
                            self.tally.revokes_done += 1;
                        }
                        RoundEnd::Busy => self.tally.revokes_busy += 1,
                        RoundEnd::Failed { .. } => {}
                    }
                }
                Event::Protected { round, outcome } => {
                    *self.ended.revokes.entry((c, round)).or_default() += 1;
                    if outcome == RoundEnd::Done {
                        self.check_protected(&self.revokes[&(c, round)]);
                        self.tally.protects_done += 1;
                    }
                }
                Event::Arrived { .. } => self.tally.arrived += 1,
            }
        }
    }

    /// The moment a protect to read-only says `Done`: no copy of the object anywhere, or in
    /// flight, may still write.
    fn check_protected(&self, object: &Capability) {
        let writable = |c: &Capability| object.same_object(c) && c.rights().contains(Rights::WRITE);
        for (index, core) in self.cores.iter().enumerate() {
            for (_, capability) in core.occupied() {
                assert!(
                    !writable(&capability),
                    "core {index} can still write {capability:?} after the protect"
                );
            }
        }
        for ((from, to), queue) in &self.channels {
            for message in queue {
                if let Message::Transfer { capability, .. } = message {
                    assert!(!writable(capability), "{capability:?} in flight {from}->{to} after the protect");
                }
            }
        }
    }

    fn check_revoked(&self, owner: CoreId, object: &Capability) {
        let covers = |c: &Capability| object.same_object(c) || object.is_ancestor_of(c);
        for (index, core) in self.cores.iter().enumerate() {
            if index == owner {
                let held: Vec<Capability> =
                    core.occupied().into_iter().map(|(_, c)| c).filter(covers).collect();
                assert_eq!(held.len(), 1, "the owner keeps exactly the revoked capability: {held:?}");
                continue;
            }
            for (_, capability) in core.occupied() {
                assert!(
                    !covers(&capability),
                    "core {index} still holds {capability:?} after the revoke of {object:?}"
                );
            }
        }
        for ((from, to), queue) in &self.channels {
            for message in queue {
                if let Message::Transfer { capability, .. } = message {
                    assert!(
                        !covers(capability),
                        "{capability:?} in flight {from}->{to} after the revoke of {object:?}"
                    );
                }
            }
        }
    }

    fn check_global(&self) {
        let mut all: Vec<(CoreId, Capability, Owner)> = Vec::new();
        for (index, core) in self.cores.iter().enumerate() {
            core.caps.check_consistency().unwrap();
            for (addr, capability) in core.occupied() {
                all.push((index, capability, core.caps.owner(core.cspace.slot(addr)).unwrap()));
            }
        }
        for (i, (core_a, a, owner_a)) in all.iter().enumerate() {
            for (core_b, b, owner_b) in &all[i + 1..] {
                let overlap = a.base() < b.base() + b.size() && b.base() < a.base() + a.size();
                if !overlap {
                    continue;
                }
                let nested = a.same_object(b)
                    || a.is_ancestor_of(b)
                    || b.is_ancestor_of(a)
                    || (a.base(), a.size()) == (b.base(), b.size());
                assert!(
                    nested,
                    "overlapping capabilities that are not nested: core {core_a} {a:?}, core {core_b} {b:?}"
                );
                let owning_a = if *owner_a == Owner::Here {
                    *core_a
                } else {
                    match owner_a {
                        Owner::Core(c) => *c as usize,
                        Owner::Here => unreachable!(),
                    }
                };
                let owning_b = if *owner_b == Owner::Here {
                    *core_b
                } else {
                    match owner_b {
                        Owner::Core(c) => *c as usize,
                        Owner::Here => unreachable!(),
                    }
                };
                assert_eq!(
                    owning_a, owning_b,
                    "memory owned by two cores: {a:?} by {owning_a}, {b:?} by {owning_b}"
                );
            }
        }
    }

    fn start_random(&mut self, rng: &mut Rng) {
        let n = self.cores.len();
        let c = rng.below(n as u64) as usize;
        if self.silent.contains(&c) {
            return;
        }
        let held = self.cores[c].occupied();
        if held.is_empty() {
            return;
        }
        let (addr, capability) = held[rng.below(held.len() as u64) as usize];
        let now = self.now;
        match rng.below(10) {
            0..=3 => {
                let to = random_peer(rng, c, n);
                if let Ok(request) = self.ops[c].send(&mut self.cores[c], to, addr, now) {
                    *self.started.sends.entry((c, request)).or_default() += 1;
                }
            }
            4..=7 => {
                let retype = random_frame(rng, &capability);
                match self.ops[c].retype(&mut self.cores[c], addr, retype, now) {
                    Ok(RetypeStart::Asked(request)) => {
                        *self.started.asks.entry((c, request)).or_default() += 1
                    }
                    Ok(RetypeStart::Done(_)) | Err(_) => {}
                }
            }
            8 => {
                let strategy =
                    [Strategy::Unicast, Strategy::Broadcast, Strategy::Tree][rng.below(3) as usize];
                let route = self.route(strategy, c);
                if let Ok(round) = self.ops[c].protect(&mut self.cores[c], addr, Rights::READ, route, now) {
                    *self.started.revokes.entry((c, round)).or_default() += 1;
                    self.revokes.insert((c, round), capability);
                }
            }
            _ => {
                let strategy =
                    [Strategy::Unicast, Strategy::Broadcast, Strategy::Tree][rng.below(3) as usize];
                let route = self.route(strategy, c);
                let covered =
                    |other: &Capability| capability.same_object(other) || capability.is_ancestor_of(other);
                let copies_elsewhere: usize = (0..n)
                    .filter(|&o| o != c)
                    .map(|o| self.cores[o].occupied().iter().filter(|(_, other)| covered(other)).count())
                    .sum();
                if let Ok(round) = self.ops[c].revoke(&mut self.cores[c], addr, route, now) {
                    self.tally.swept_copies += copies_elsewhere;
                    *self.started.revokes.entry((c, round)).or_default() += 1;
                    self.revokes.insert((c, round), capability);
                }
            }
        }
        self.collect(c);
    }

    /// Delivers the head of a random non-empty channel; false when all are empty.
    fn deliver_random(&mut self, rng: &mut Rng) -> bool {
        let busy: Vec<(CoreId, CoreId)> =
            self.channels.iter().filter(|(_, q)| !q.is_empty()).map(|(k, _)| *k).collect();
        if busy.is_empty() {
            return false;
        }
        let (from, to) = busy[rng.below(busy.len() as u64) as usize];
        let message = self.channels.get_mut(&(from, to)).unwrap().pop_front().unwrap();
        if !self.silent.contains(&to) {
            let now = self.now;
            self.ops[to].receive(&mut self.cores[to], from, message, now);
            self.collect(to);
        }
        true
    }

    fn tick(&mut self, by: u64) {
        self.now += by;
        for c in 0..self.cores.len() {
            let now = self.now;
            self.ops[c].poll(&mut self.cores[c], now);
            self.collect(c);
        }
    }

    fn drain(&mut self, rng: &mut Rng) {
        for _ in 0..100_000 {
            if !self.deliver_random(rng) {
                break;
            }
            self.check_global();
        }
        self.tick(10_000);
        while self.deliver_random(rng) {}
        self.tick(10_000);
    }
}

#[test]
fn random_operations_keep_every_invariant() {
    let mut totals = Tally::default();
    for seed in 1..=120u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let n = 2 + (seed % 5) as usize;
        let mut machine = Machine::new(n);
        for _ in 0..300 {
            if rng.below(3) == 0 {
                machine.start_random(&mut rng);
            } else {
                machine.deliver_random(&mut rng);
            }
            if rng.below(50) == 0 {
                machine.tick(10);
            }
            // Now and then every deadline passes with messages still in flight: late answers
            // and copies that arrive after their sender stopped waiting.
            if rng.below(150) == 0 {
                machine.tick(2_000);
            }
            machine.check_global();
        }
        machine.drain(&mut rng);
        machine.check_global();
        // Every request ended exactly once (the owner's transfers answering retype asks
        // are requests of its own, started by the protocol).
        for (counts, ended, what) in [
            (&machine.started.sends, &machine.ended.sends, "transfer"),
            (&machine.started.asks, &machine.ended.asks, "retype ask"),
            (&machine.started.revokes, &machine.ended.revokes, "revoke"),
        ] {
            assert!(ended.values().all(|&n| n == 1), "seed {seed}: a {what} ended twice: {ended:?}");
            for key in counts.keys() {
                assert_eq!(ended.get(key), Some(&1), "seed {seed}: {what} {key:?} never ended");
            }
        }
        totals.add(&machine.tally);
        for ops in &machine.ops {
            assert!(!ops.busy(), "seed {seed}: nothing left waiting once every message was delivered");
        }
    }
    // Not only invariants: the runs really move capabilities, retype for other cores and
    // revoke copies away (and sometimes find a copy in flight).
    println!("{totals:?}");
    assert!(totals.arrived > 500, "{totals:?}");
    assert!(totals.retyped_for_another_core > 50, "{totals:?}");
    assert!(totals.revokes_done > 50 && totals.swept_copies > 50, "{totals:?}");
    assert!(totals.protects_done > 20, "{totals:?}");
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.arrived += other.arrived;
        self.retyped_for_another_core += other.retyped_for_another_core;
        self.revokes_done += other.revokes_done;
        self.revokes_busy += other.revokes_busy;
        self.swept_copies += other.swept_copies;
        self.protects_done += other.protects_done;
    }
}

#[test]
fn a_silent_core_fails_the_revoke_in_prepare_and_nothing_is_removed() {
    for strategy in [Strategy::Unicast, Strategy::Broadcast, Strategy::Tree] {
        let mut rng = Rng(7);
        let mut machine = Machine::with_a_lent_frame(&mut rng);
        let before: Vec<usize> = machine.cores.iter().map(|c| c.occupied().len()).collect();
        machine.silent.push(2);
        let route = machine.route(strategy, 0);
        let object = machine.cores[0].identify(slot(1)).unwrap();
        let round = machine.ops[0].revoke(&mut machine.cores[0], slot(1), route, machine.now).unwrap();
        machine.revokes.insert((0, round), object);
        machine.collect(0);
        while machine.deliver_random(&mut rng) {}
        machine.tick(2_000);
        while machine.deliver_random(&mut rng) {}
        assert_eq!(machine.ended.revokes.get(&(0, round)), Some(&1), "{strategy:?}: the revoke ended");
        let after: Vec<usize> = machine.cores.iter().map(|c| c.occupied().len()).collect();
        assert_eq!(before, after, "{strategy:?}: nothing removed anywhere");
        // The object is still lent: its last copy on the owner stays.
        assert_eq!(machine.cores[0].caps.lent(machine.cores[0].cspace.slot(slot(1))), Ok(true));
    }
}

#[test]
fn a_core_removed_by_the_membership_ends_the_revoke_at_once() {
    for strategy in [Strategy::Unicast, Strategy::Broadcast, Strategy::Tree] {
        let mut rng = Rng(11);
        let mut machine = Machine::with_a_lent_frame(&mut rng);
        machine.silent.push(3);
        let route = machine.route(strategy, 0);
        let object = machine.cores[0].identify(slot(1)).unwrap();
        let round = machine.ops[0].revoke(&mut machine.cores[0], slot(1), route, machine.now).unwrap();
        machine.revokes.insert((0, round), object);
        machine.collect(0);
        while machine.deliver_random(&mut rng) {}
        assert_eq!(machine.ended.revokes.get(&(0, round)), None, "{strategy:?}: waits for core 3");
        // No time passes: the removal alone ends the round.
        let now = machine.now;
        machine.ops[0].core_removed(3, now);
        machine.ops[0].poll(&mut machine.cores[0], now);
        machine.collect(0);
        while machine.deliver_random(&mut rng) {}
        assert_eq!(machine.ended.revokes.get(&(0, round)), Some(&1), "{strategy:?}: ended at the removal");
    }
}

impl Machine {
    /// Four cores; core 0 has retyped a Frame (at its slot 1) and lent it to every other core.
    fn with_a_lent_frame(rng: &mut Rng) -> Machine {
        let mut machine = Machine::new(4);
        machine.ops[0]
            .retype(
                &mut machine.cores[0],
                slot(0),
                Retype { kind: CapType::Frame, offset: 0, object_size: PAGE_SIZE, count: 1 },
                0,
            )
            .unwrap();
        for to in 1..4 {
            machine.ops[0].send(&mut machine.cores[0], to, slot(1), 0).unwrap();
        }
        machine.collect(0);
        machine.drain(rng);
        machine
    }

    /// Delivers everything except what travels `held_from` -> `held_to`.
    fn deliver_all_but(&mut self, rng: &mut Rng, held_from: CoreId, held_to: CoreId) {
        loop {
            let busy: Vec<(CoreId, CoreId)> = self
                .channels
                .iter()
                .filter(|(&key, q)| !q.is_empty() && key != (held_from, held_to))
                .map(|(k, _)| *k)
                .collect();
            let Some(&(from, to)) = busy.get(rng.below(busy.len().max(1) as u64) as usize) else { return };
            let message = self.channels.get_mut(&(from, to)).unwrap().pop_front().unwrap();
            let now = self.now;
            self.ops[to].receive(&mut self.cores[to], from, message, now);
            self.collect(to);
        }
    }
}

#[test]
fn a_copy_whose_sender_stopped_waiting_still_holds_the_revoke_back() {
    // Core 1 passes its copy of core 0's Frame to core 2, and the message is slow: core 1
    // reports it unanswered. Core 0 then revokes the Frame. The copy may still land on core 2
    // after core 2 swept, so the revoke must not succeed while the copy is in doubt.
    for strategy in [Strategy::Unicast, Strategy::Broadcast, Strategy::Tree] {
        let mut machine = Machine::new(3);
        let mut rng = Rng(11);
        let frame = Retype { kind: CapType::Frame, offset: 0, object_size: PAGE_SIZE, count: 1 };
        machine.ops[0].retype(&mut machine.cores[0], slot(0), frame, 0).unwrap();
        machine.ops[0].send(&mut machine.cores[0], 1, slot(1), 0).unwrap();
        machine.collect(0);
        machine.drain(&mut rng);
        let at_core1 =
            machine.cores[1].occupied().iter().find(|(_, c)| c.kind() == CapType::Frame).unwrap().0;
        machine.ops[1].send(&mut machine.cores[1], 2, at_core1, machine.now).unwrap();
        machine.collect(1);
        machine.tick(5_000); // core 1 stops waiting
        let object = machine.cores[0].identify(slot(1)).unwrap();
        let route = machine.route(strategy, 0);
        let round = machine.ops[0].revoke(&mut machine.cores[0], slot(1), route, machine.now).unwrap();
        machine.revokes.insert((0, round), object);
        machine.collect(0);
        machine.deliver_all_but(&mut rng, 1, 2);
        // Now the slow copy arrives; whatever the revoke reported, no copy may survive a
        // revoke that said Done (checked when the event came) or appear after it.
        machine.drain(&mut rng);
        assert_eq!(machine.ended.revokes.get(&(0, round)), Some(&1), "{strategy:?}");
        assert_eq!(
            machine.tally.revokes_done, 0,
            "{strategy:?}: the revoke cannot be done with a copy in doubt"
        );
        machine.check_global();
    }
}
