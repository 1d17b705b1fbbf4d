//! One core's part in a round's phase: the same state machine on the initiator and on every
//! core the round reaches.
//!
//! A core that gets a request applies the phase itself (through the caller's `apply`, which
//! for *prepare* returns the core's vote), forwards the request to its children on the route
//! and, once every child has answered, answers its parent with its own vote and theirs folded
//! together. The initiator does the same without a parent and reports the phase complete.
//! Unicast routes make the initiator ask one child at a time.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::route::Route;
use crate::CoreId;

/// The phases of a two-phase round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Get ready and vote (Barrelfish's mark: no core may yet act on it).
    Prepare,
    /// Everyone voted yes: do it.
    Commit,
    /// Someone voted no or did not answer: undo the preparation.
    Abort,
}

/// A protocol message between two cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Msg {
    /// The round (chosen by the initiator, unique among its rounds in flight).
    pub round: u32,
    /// Its phase.
    pub phase: Phase,
    /// Request (down the route) or answer (up it).
    pub kind: Kind,
}

/// Which way a message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Apply the phase and pass it on.
    Request,
    /// Done, here and below: `yes` unless someone voted no.
    Answer {
        /// The folded vote.
        yes: bool,
    },
}

/// What the caller must do after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `msg` to core `to` (over the monitors' channel; FIFO per pair is all it needs).
    Send {
        /// The receiving core.
        to: CoreId,
        /// The message.
        msg: Msg,
    },
    /// (Initiator only) every core on the route has applied `phase` of `round`; `yes` unless
    /// one voted no.
    Complete {
        /// The round.
        round: u32,
        /// The phase.
        phase: Phase,
        /// The folded vote.
        yes: bool,
    },
}

/// A phase this core is gathering answers for.
#[derive(Debug)]
struct Gather {
    parent: Option<CoreId>,
    /// Children asked and not yet answered.
    waiting: BTreeSet<CoreId>,
    /// Children not yet asked (unicast: one at a time).
    unasked: Vec<CoreId>,
    yes: bool,
}

/// One core's state across rounds.
#[derive(Debug)]
pub struct Node {
    me: CoreId,
    gathering: BTreeMap<(u32, Phase), Gather>,
    /// Phases applied here, so a repeated request is not applied twice.
    applied: BTreeSet<(u32, Phase)>,
}

impl Node {
    /// Core `me`'s state, with nothing in flight.
    pub fn new(me: CoreId) -> Node {
        Node { me, gathering: BTreeMap::new(), applied: BTreeSet::new() }
    }

    /// This core.
    pub fn me(&self) -> CoreId {
        self.me
    }

    /// (The route's root) starts `phase` of `round`: applies it here and asks the children.
    pub fn start(
        &mut self,
        route: &Route,
        round: u32,
        phase: Phase,
        apply: &mut impl FnMut(u32, Phase) -> bool,
        out: &mut Vec<Action>,
    ) {
        self.begin(route, round, phase, None, apply, out);
    }

    /// A message arrived from core `from`.
    pub fn receive(
        &mut self,
        route: &Route,
        from: CoreId,
        msg: Msg,
        apply: &mut impl FnMut(u32, Phase) -> bool,
        out: &mut Vec<Action>,
    ) {
        match msg.kind {
            Kind::Request => {
                if route.parent(self.me) == Some(from) {
                    self.begin(route, msg.round, msg.phase, Some(from), apply, out);
                }
            }
            Kind::Answer { yes } => self.answered(from, msg.round, msg.phase, yes, out),
        }
    }

    /// The children of the root that have not answered `phase` of `round`, with everything
    /// below them: the cores that may not have applied it (the root cannot tell which).
    pub fn missing(&self, route: &Route, round: u32, phase: Phase) -> Vec<CoreId> {
        let Some(gather) = self.gathering.get(&(round, phase)) else { return Vec::new() };
        let mut missing: Vec<CoreId> =
            gather.waiting.iter().chain(&gather.unasked).flat_map(|&c| route.subtree(c)).collect();
        missing.sort_unstable();
        missing
    }

    /// Forgets `phase` of `round` (the initiator gave up on it): late answers are ignored.
    pub fn forget(&mut self, round: u32, phase: Phase) {
        self.gathering.remove(&(round, phase));
    }

    fn begin(
        &mut self,
        route: &Route,
        round: u32,
        phase: Phase,
        parent: Option<CoreId>,
        apply: &mut impl FnMut(u32, Phase) -> bool,
        out: &mut Vec<Action>,
    ) {
        if !self.applied.insert((round, phase)) {
            return; // asked twice: applied and passed on already
        }
        let yes = apply(round, phase);
        let children = route.children(self.me);
        let sequential = route.sequential() && parent.is_none();
        let (ask, unasked) =
            if sequential { children.split_at(children.len().min(1)) } else { (children, &[][..]) };
        for &child in ask {
            out.push(Action::Send { to: child, msg: Msg { round, phase, kind: Kind::Request } });
        }
        let gather =
            Gather { parent, waiting: ask.iter().copied().collect(), unasked: unasked.to_vec(), yes };
        self.finish_or_keep(round, phase, gather, out);
    }

    fn answered(&mut self, from: CoreId, round: u32, phase: Phase, yes: bool, out: &mut Vec<Action>) {
        let Some(mut gather) = self.gathering.remove(&(round, phase)) else { return };
        if !gather.waiting.remove(&from) {
            self.gathering.insert((round, phase), gather); // not a child it asked: ignored
            return;
        }
        gather.yes &= yes;
        if gather.waiting.is_empty() && !gather.unasked.is_empty() {
            let next = gather.unasked.remove(0);
            gather.waiting.insert(next);
            out.push(Action::Send { to: next, msg: Msg { round, phase, kind: Kind::Request } });
        }
        self.finish_or_keep(round, phase, gather, out);
    }

    fn finish_or_keep(&mut self, round: u32, phase: Phase, gather: Gather, out: &mut Vec<Action>) {
        if !gather.waiting.is_empty() || !gather.unasked.is_empty() {
            self.gathering.insert((round, phase), gather);
            return;
        }
        out.push(match gather.parent {
            Some(parent) => {
                Action::Send { to: parent, msg: Msg { round, phase, kind: Kind::Answer { yes: gather.yes } } }
            }
            None => Action::Complete { round, phase, yes: gather.yes },
        });
    }
}
