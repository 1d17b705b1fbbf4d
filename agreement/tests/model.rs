//! Model checking of one two-phase round ([`TwoPhase`] at core 0, a [`Node`] on every core)
//! with `stateright`: every reachable state of a small system, over every order in which the
//! per-pair FIFO channels (as URPC's) can deliver, every vote of every core, a core that stops
//! answering at any moment (what is sent to it is lost; it never sends again) and the
//! initiator giving up at any moment (its deadline can pass whenever a core is slow); in one
//! test also one message delivered twice.
//!
//! Checked in every reachable state:
//! - no core commits unless every core voted yes in prepare;
//! - no core both commits and aborts; no phase is applied twice on one core;
//! - outcome `Committed`: every core committed (alive now or not: each answered);
//! - outcome `Aborted` or `Failed` in prepare: nothing committed, now or later;
//!
//! and, once nothing is in flight any more:
//! - `Failed { phase, missing }`: every core that never applied `phase` is named in `missing`;
//! - `Aborted` or `Failed` in prepare: every live core that prepared aborted, unless a stopped
//!   core stands between it and the initiator on the route (the abort cannot pass a core that
//!   no longer forwards; the tree's representatives are such cores, a star has none).
//!
//! Each run also has to reach a committed, an aborted and a failed round, so the invariants
//! are not held by a model that never gets anywhere. The last test weakens the initiator on
//! purpose (it takes every prepare as yes) and the checker has to find the commit.

use std::collections::VecDeque;

use stateright::{Checker, Model, Property};

use agreement::commit::{Outcome, TwoPhase};
use agreement::node::{Action, Msg, Node, Phase};
use agreement::route::Route;
use agreement::CoreId;

/// The system: `cores` cores on `route` (rooted at core 0).
struct Round {
    cores: usize,
    route: Route,
    /// The harness's weakening: the initiator reads every prepare answer as yes.
    ignore_votes: bool,
    /// Whether the network may deliver one message a second time (URPC never does; a monitor
    /// that re-sends after a timeout would).
    may_repeat: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    nodes: Vec<Node>,
    round: TwoPhase,
    /// `channels[from][to]`, in send order.
    channels: Vec<Vec<VecDeque<Msg>>>,
    /// Each core's prepare vote.
    votes: Vec<bool>,
    /// How often each core applied prepare, commit, abort.
    applied: Vec<[u8; 3]>,
    /// The core that stopped answering, if one did.
    stopped: Option<CoreId>,
    /// Whether a message was delivered twice already.
    repeated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    /// The head of the channel `from -> to` arrives (and is lost if `to` stopped).
    Deliver { from: CoreId, to: CoreId },
    /// The same, but the message stays at the head, to arrive once more.
    Repeat { from: CoreId, to: CoreId },
    /// The core stops answering.
    Stop(CoreId),
    /// The initiator's deadline passes.
    GiveUp,
}

const ROUND: u32 = 1;

fn slot(phase: Phase) -> usize {
    match phase {
        Phase::Prepare => 0,
        Phase::Commit => 1,
        Phase::Abort => 2,
    }
}

impl State {
    /// Core `core` applying a phase: counted; its vote in prepare.
    fn applier<'a>(
        applied: &'a mut [[u8; 3]],
        votes: &[bool],
        core: CoreId,
    ) -> impl FnMut(u32, Phase) -> bool + 'a {
        let vote = votes[core];
        let counts = &mut applied[core];
        move |_round, phase| {
            counts[slot(phase)] += 1;
            vote
        }
    }

    /// Puts what core `from` sent into its channels.
    fn post(&mut self, from: CoreId, out: Vec<Action>) {
        for action in out {
            if let Action::Send { to, msg } = action {
                self.channels[from][to].push_back(msg);
            }
        }
    }

    fn in_flight(&self) -> bool {
        self.channels.iter().flatten().any(|channel| !channel.is_empty())
    }

    /// Whether the round ended without committing: aborted, or given up in prepare.
    fn undone(&self) -> bool {
        matches!(self.round.outcome(), Some(Outcome::Aborted | Outcome::Failed { phase: Phase::Prepare, .. }))
    }

    fn committed(&self, core: CoreId) -> bool {
        self.applied[core][1] > 0
    }
}

impl Round {
    fn new(cores: usize, route: Route) -> Round {
        Round { cores, route, ignore_votes: false, may_repeat: false }
    }

    /// Whether a stopped core lies on the route between the initiator and `core`.
    fn cut_off(&self, state: &State, mut core: CoreId) -> bool {
        while let Some(parent) = self.route.parent(core) {
            if Some(parent) == state.stopped {
                return true;
            }
            core = parent;
        }
        false
    }

    /// Hands the initiator's completions to its round, weakened if asked to.
    fn drain(&self, state: &mut State, out: &mut Vec<Action>) {
        if self.ignore_votes {
            for action in out.iter_mut() {
                if let Action::Complete { phase: Phase::Prepare, yes, .. } = action {
                    *yes = true;
                }
            }
        }
        let mut apply = State::applier(&mut state.applied, &state.votes, 0);
        state.round.drain_completions(&mut state.nodes[0], &self.route, &mut apply, out);
    }
}

impl Model for Round {
    type State = State;
    type Action = Step;

    fn init_states(&self) -> Vec<State> {
        (0..1u32 << self.cores)
            .map(|mask| {
                let votes: Vec<bool> = (0..self.cores).map(|core| mask & (1 << core) == 0).collect();
                let mut nodes: Vec<Node> = (0..self.cores).map(Node::new).collect();
                let mut applied = vec![[0; 3]; self.cores];
                let mut out = Vec::new();
                let round = {
                    let mut apply = State::applier(&mut applied, &votes, 0);
                    TwoPhase::start(&mut nodes[0], &self.route, ROUND, &mut apply, &mut out)
                };
                let channels = vec![vec![VecDeque::new(); self.cores]; self.cores];
                let mut state =
                    State { nodes, round, channels, votes, applied, stopped: None, repeated: false };
                self.drain(&mut state, &mut out);
                state.post(0, out);
                state
            })
            .collect()
    }

    fn actions(&self, state: &State, actions: &mut Vec<Step>) {
        for (from, channels) in state.channels.iter().enumerate() {
            for (to, channel) in channels.iter().enumerate() {
                if !channel.is_empty() {
                    actions.push(Step::Deliver { from, to });
                    if self.may_repeat && !state.repeated {
                        actions.push(Step::Repeat { from, to });
                    }
                }
            }
        }
        if state.stopped.is_none() {
            actions.extend((1..self.cores).map(Step::Stop));
        }
        if state.round.outcome().is_none() {
            actions.push(Step::GiveUp);
        }
    }

    fn next_state(&self, last: &State, step: Step) -> Option<State> {
        let mut state = last.clone();
        let mut out = Vec::new();
        match step {
            Step::Deliver { from, to } | Step::Repeat { from, to } => {
                let msg = if matches!(step, Step::Repeat { .. }) {
                    state.repeated = true;
                    *state.channels[from][to].front()?
                } else {
                    state.channels[from][to].pop_front()?
                };
                if Some(to) == state.stopped {
                    return Some(state);
                }
                {
                    let mut apply = State::applier(&mut state.applied, &state.votes, to);
                    state.nodes[to].receive(&self.route, from, msg, &mut apply, &mut out);
                }
                if to == 0 {
                    self.drain(&mut state, &mut out);
                }
                state.post(to, out);
            }
            Step::Stop(core) => state.stopped = Some(core),
            Step::GiveUp => {
                {
                    let mut apply = State::applier(&mut state.applied, &state.votes, 0);
                    state.round.give_up(&mut state.nodes[0], &self.route, &mut apply, &mut out);
                }
                state.post(0, out);
            }
        }
        Some(state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("a commit only after every core voted yes", |_: &Round, state: &State| {
                let all_yes =
                    state.applied.iter().zip(&state.votes).all(|(counts, &vote)| counts[0] == 1 && vote);
                all_yes || (0..state.nodes.len()).all(|core| !state.committed(core))
            }),
            Property::always("no core both commits and aborts", |_: &Round, state: &State| {
                state.applied.iter().all(|counts| counts[1] == 0 || counts[2] == 0)
            }),
            Property::always("no phase applied twice", |_: &Round, state: &State| {
                state.applied.iter().flatten().all(|&n| n <= 1)
            }),
            Property::always("committed: every core committed", |_: &Round, state: &State| {
                state.round.outcome() != Some(&Outcome::Committed)
                    || (0..state.nodes.len()).all(|core| state.committed(core))
            }),
            Property::always(
                "aborted or failed in prepare: nothing committed",
                |_: &Round, state: &State| {
                    !state.undone() || (0..state.nodes.len()).all(|core| !state.committed(core))
                },
            ),
            Property::always(
                "quiet after a failure: whoever did not apply the phase is named",
                |_: &Round, state: &State| {
                    let Some(Outcome::Failed { phase, missing }) = state.round.outcome() else { return true };
                    state.in_flight()
                        || (0..state.nodes.len())
                            .all(|core| state.applied[core][slot(*phase)] > 0 || missing.contains(&core))
                },
            ),
            Property::always(
                "quiet after an abort: every live core that prepared aborted, or a stopped core cut it off",
                |model: &Round, state: &State| {
                    !state.undone()
                        || state.in_flight()
                        || (0..model.cores).all(|core| {
                            let counts = state.applied[core];
                            Some(core) == state.stopped
                                || counts[0] == 0
                                || counts[2] == 1
                                || model.cut_off(state, core)
                        })
                },
            ),
            Property::sometimes("a round commits", |_: &Round, state: &State| {
                state.round.outcome() == Some(&Outcome::Committed)
            }),
            Property::sometimes("a round aborts", |_: &Round, state: &State| {
                state.round.outcome() == Some(&Outcome::Aborted)
            }),
            Property::sometimes("a round fails with a core stopped", |_: &Round, state: &State| {
                state.stopped.is_some() && matches!(state.round.outcome(), Some(Outcome::Failed { .. }))
            }),
        ]
    }
}

/// Explores every state of `model`, asserts the properties; the number of distinct states.
fn check(name: &str, model: Round) -> usize {
    let checker = model.checker().spawn_bfs().join();
    checker.assert_properties();
    let states = checker.unique_state_count();
    eprintln!("{name}: {states} states, every property holds");
    states
}

fn others(cores: usize) -> Vec<CoreId> {
    (1..cores).collect()
}

#[test]
fn three_cores_every_strategy() {
    let mut states = 0;
    states += check("unicast, 3 cores", Round::new(3, Route::unicast(0, &others(3))));
    states += check("broadcast, 3 cores", Round::new(3, Route::broadcast(0, &others(3))));
    states += check("tree, 3 cores (0 -> 1 -> 2)", Round::new(3, Route::tree(0, &[(0, 1), (1, 2)])));
    assert!(states > 1000, "{states} states: the model explores little");
}

#[test]
fn three_cores_with_one_message_delivered_twice() {
    let repeating = |route| Round { may_repeat: true, ..Round::new(3, route) };
    check("unicast, 3 cores, one repeat", repeating(Route::unicast(0, &others(3))));
    check("broadcast, 3 cores, one repeat", repeating(Route::broadcast(0, &others(3))));
    check("tree, 3 cores (0 -> 1 -> 2), one repeat", repeating(Route::tree(0, &[(0, 1), (1, 2)])));
}

#[test]
fn four_cores_along_a_two_hop_tree() {
    // The SKB's shape: the root serves its own cluster (core 1) and a representative (2) of
    // the other cluster, which forwards to its sibling (3).
    check("tree, 4 cores (0 -> 2 -> 3, 0 -> 1)", Round::new(4, Route::tree(0, &[(0, 2), (0, 1), (2, 3)])));
}

#[test]
fn four_cores_broadcast() {
    check("broadcast, 4 cores", Round::new(4, Route::broadcast(0, &others(4))));
}

#[test]
fn an_initiator_that_ignores_the_votes_is_caught_committing() {
    let model = Round { ignore_votes: true, ..Round::new(3, Route::broadcast(0, &others(3))) };
    let checker = model.checker().spawn_bfs().join();
    let path = checker.assert_any_discovery("a commit only after every core voted yes");
    let last = path.last_state().clone();
    assert!(last.votes.contains(&false) && last.applied.iter().any(|counts| counts[1] == 1), "{last:?}");
    eprintln!("weakened: counterexample after {} steps: {:?}", path.into_actions().len(), last);
}
