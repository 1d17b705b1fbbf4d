//! The initiator's two-phase commit over a route: prepare everywhere; commit everywhere only
//! if every core voted yes; otherwise, or when the initiator stops waiting, abort everywhere.
//! So no core commits what another did not prepare, and a core that stops answering leaves no
//! half-applied state behind the initiator's back: the round ends `Failed`, with the cores
//! that may not have applied the last phase named.

use alloc::vec::Vec;

use crate::node::{Action, Node, Phase};
use crate::route::Route;
use crate::CoreId;

/// How a round ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every core prepared and committed.
    Committed,
    /// A core voted no; every core aborted.
    Aborted,
    /// The initiator stopped waiting in `phase`: these cores may not have applied it. Given up
    /// in prepare, the other cores were told to abort; in commit, the others committed.
    Failed {
        /// The phase given up on.
        phase: Phase,
        /// The cores that did not answer, with everything routed through them.
        missing: Vec<CoreId>,
    },
}

/// One two-phase round at its initiator.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TwoPhase {
    round: u32,
    phase: Phase,
    outcome: Option<Outcome>,
}

impl TwoPhase {
    /// Starts round `round` on `route` (whose root is `node`'s core): prepares.
    pub fn start(
        node: &mut Node,
        route: &Route,
        round: u32,
        apply: &mut impl FnMut(u32, Phase) -> bool,
        out: &mut Vec<Action>,
    ) -> TwoPhase {
        let mut round = TwoPhase { round, phase: Phase::Prepare, outcome: None };
        node.start(route, round.round, Phase::Prepare, apply, out);
        round.drain_completions(node, route, apply, out);
        round
    }

    /// The round, once it has ended.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The phase in flight.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Call with the actions a step of `node` produced: takes this round's completions out of
    /// `out` and moves the round on (commit or abort after prepare; the outcome after those).
    pub fn drain_completions(
        &mut self,
        node: &mut Node,
        route: &Route,
        apply: &mut impl FnMut(u32, Phase) -> bool,
        out: &mut Vec<Action>,
    ) {
        while let Some(at) =
            out.iter().position(|a| matches!(a, Action::Complete { round, .. } if *round == self.round))
        {
            let Action::Complete { phase, yes, .. } = out.remove(at) else { unreachable!("matched above") };
            if phase != self.phase || self.outcome.is_some() {
                continue;
            }
            match phase {
                Phase::Prepare => {
                    self.phase = if yes { Phase::Commit } else { Phase::Abort };
                    node.start(route, self.round, self.phase, apply, out);
                }
                Phase::Commit => self.outcome = Some(Outcome::Committed),
                Phase::Abort => {
                    if self.outcome.is_none() {
                        self.outcome = Some(Outcome::Aborted);
                    }
                }
            }
        }
    }

    /// The initiator stops waiting (its deadline passed). In prepare: the round fails and every
    /// core on the route is told to abort, the root's children all at once (unicast too); the
    /// abort is not waited for, so a core that stops answering while it forwards the abort
    /// leaves the cores below it prepared, unknown to the initiator (the model checker's
    /// counterexample in `tests/model.rs`; the star routes have no such cores). In commit or
    /// abort: the round fails naming who did not answer. Returns the outcome.
    pub fn give_up(
        &mut self,
        node: &mut Node,
        route: &Route,
        apply: &mut impl FnMut(u32, Phase) -> bool,
        out: &mut Vec<Action>,
    ) -> Outcome {
        if let Some(outcome) = &self.outcome {
            return outcome.clone();
        }
        let missing = node.missing(route, self.round, self.phase);
        let failed = Outcome::Failed { phase: self.phase, missing };
        node.forget(self.round, self.phase);
        if self.phase == Phase::Prepare {
            self.phase = Phase::Abort;
            // All at once, even on a unicast route: the core that stopped answering must not
            // keep the abort from the cores after it (the model checker found that one).
            node.start(&route.all_at_once(), self.round, Phase::Abort, apply, out);
            out.retain(|a| !matches!(a, Action::Complete { round, .. } if *round == self.round));
        }
        self.outcome = Some(failed.clone());
        failed
    }
}
