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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Gather {
    parent: Option<CoreId>,
    /// Children asked and not yet answered.
    waiting: BTreeSet<CoreId>,
    /// Children not yet asked (unicast: one at a time).
    unasked: Vec<CoreId>,
    yes: bool,
}

/// One core's state across rounds (comparable and hashable, so a model checker can store it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    me: CoreId,
    gathering: BTreeMap<(u32, Phase), Gather>,
    /// Phases applied here, so a repeated request is not applied twice.
    applied: BTreeSet<(u32, Phase)>,
    /// Rounds below this one are over (see [`Node::retire_before`]): their messages are ignored.
    retired_below: u32,
}

impl Node {
    /// Core `me`'s state, with nothing in flight.
    pub fn new(me: CoreId) -> Node {
        Node { me, gathering: BTreeMap::new(), applied: BTreeSet::new(), retired_below: 0 }
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

    /// Drops everything kept about the rounds numbered below `round`, which the caller knows
    /// are over here (say, one initiator numbering its rounds upwards and starting the next
    /// only after the last one's outcome); a late message of such a round is ignored, never
    /// applied, so dropping the record of what was applied cannot make a phase apply twice.
    /// Without this a long-lived core's record grows by two entries a round.
    pub fn retire_before(&mut self, round: u32) {
        if round <= self.retired_below {
            return;
        }
        self.retired_below = round;
        self.applied = self.applied.split_off(&(round, Phase::Prepare));
        self.gathering = self.gathering.split_off(&(round, Phase::Prepare));
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
        if round < self.retired_below || !self.applied.insert((round, phase)) {
            return; // a retired round, or asked twice: applied and passed on already
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
        // (A retired round has nothing gathering, so its late answers fall through below.)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(round: u32, phase: Phase) -> Msg {
        Msg { round, phase, kind: Kind::Request }
    }

    #[test]
    fn a_retired_round_is_never_applied_again_and_later_rounds_still_are() {
        let route = Route::broadcast(0, &[1]);
        let mut node = Node::new(1);
        let mut applied = Vec::new();
        let mut apply = |round, phase| {
            applied.push((round, phase));
            true
        };
        let mut out = Vec::new();
        for round in [3, 4] {
            node.receive(&route, 0, request(round, Phase::Prepare), &mut apply, &mut out);
        }
        node.retire_before(4);
        node.retire_before(2); // going back does nothing
        for round in [3, 4, 5] {
            node.receive(&route, 0, request(round, Phase::Prepare), &mut apply, &mut out);
        }
        assert_eq!(applied, [(3, Phase::Prepare), (4, Phase::Prepare), (5, Phase::Prepare)]);
        assert_eq!(node.applied.len(), 2, "round 3's record dropped: {:?}", node.applied);
        let answers = out.iter().filter(|a| matches!(a, Action::Send { to: 0, .. })).count();
        assert_eq!(answers, 3, "one answer per applied phase: {out:?}");
    }
}
