//! Two-phase rounds over a simulated network of cores: every ordered pair is a FIFO channel
//! (as a URPC channel is), and each step delivers the head of a randomly chosen non-empty
//! channel, so many seeds explore many interleavings. A "dead" core never answers and what is
//! sent to it is lost. Checked for unicast, broadcast and tree routes, 2 to 8 cores:
//! - all vote yes: committed; every core prepared and committed once, and no core committed
//!   before the last core prepared (the two-phase property);
//! - one votes no: aborted; no core committed; every core aborted;
//! - one is dead: the initiator gives up in prepare; the dead core is named missing; no core
//!   committed; every live core that prepared aborted;
//! - unicast: the initiator never has two requests out at once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use agreement::commit::{Outcome, TwoPhase};
use agreement::node::{Action, Kind, Msg, Node, Phase};
use agreement::route::{Route, Strategy};
use agreement::CoreId;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn route(strategy: Strategy, n: usize) -> Route {
    let others: Vec<CoreId> = (1..n).collect();
    match strategy {
        Strategy::Unicast => Route::unicast(0, &others),
        Strategy::Broadcast => Route::broadcast(0, &others),
        Strategy::Tree => {
            // Clusters of three: the root serves its own, one representative per other cluster
            // forwards to the rest of its cluster (the SKB's shape).
            let mut edges = Vec::new();
            for cluster_start in (0..n).step_by(3) {
                let members: Vec<CoreId> = (cluster_start..(cluster_start + 3).min(n)).collect();
                if cluster_start == 0 {
                    edges.extend(members.iter().skip(1).map(|&m| (0, m)));
                } else {
                    edges.push((0, members[0]));
                    edges.extend(members.iter().skip(1).map(|&m| (members[0], m)));
                }
            }
            Route::tree(0, &edges)
        }
    }
}

/// What happened in one run.
struct Run {
    outcome: Outcome,
    /// (core, phase) in the order applied.
    log: Vec<(CoreId, Phase)>,
    /// Most requests the root had out at once.
    most_outstanding: usize,
}

fn run(strategy: Strategy, n: usize, seed: u64, no_voter: Option<CoreId>, dead: Option<CoreId>) -> Run {
    let route = route(strategy, n);
    let mut rng = Rng(seed | 1);
    let mut nodes: Vec<Node> = (0..n).map(Node::new).collect();
    let mut channels: BTreeMap<(CoreId, CoreId), VecDeque<Msg>> = BTreeMap::new();
    let mut log = Vec::new();
    let mut outstanding = BTreeSet::new();
    let mut most_outstanding = 0;
    let round = 7;

    let mut out = Vec::new();
    let mut two_phase = {
        let mut apply = apply_at(0, &mut log, no_voter);
        TwoPhase::start(&mut nodes[0], &route, round, &mut apply, &mut out)
    };
    let mut gave_up = false;
    // The core whose step produced `out`.
    let mut producer = 0;
    loop {
        // Route what the last step produced.
        for action in out.drain(..) {
            if let Action::Send { to, msg } = action {
                // Only the root's requests matter for the unicast property.
                if msg.kind == Kind::Request && route.parent(to) == Some(0) {
                    outstanding.insert((to, msg.phase));
                    most_outstanding = most_outstanding.max(outstanding.len());
                }
                channels.entry((producer, to)).or_default().push_back(msg);
            }
        }
        let ready: Vec<(CoreId, CoreId)> =
            channels.iter().filter(|(_, q)| !q.is_empty()).map(|(&k, _)| k).collect();
        if ready.is_empty() {
            if two_phase.outcome().is_some() {
                break;
            }
            assert!(!gave_up, "quiet after giving up, still no outcome");
            // Nothing moves and the round is open: the initiator's deadline passes.
            gave_up = true;
            producer = 0;
            let mut apply = apply_at(0, &mut log, no_voter);
            two_phase.give_up(&mut nodes[0], &route, &mut apply, &mut out);
            continue;
        }
        let (from, to) = ready[(rng.next() % ready.len() as u64) as usize];
        let msg = channels.get_mut(&(from, to)).and_then(VecDeque::pop_front).expect("non-empty");
        if Some(to) == dead {
            continue; // lost: the dead core never reads or answers
        }
        if to == 0 {
            if let Kind::Answer { .. } = msg.kind {
                outstanding.remove(&(from, msg.phase));
            }
        }
        producer = to;
        let mut apply = apply_at(to, &mut log, no_voter);
        nodes[to].receive(&route, from, msg, &mut apply, &mut out);
        if to == 0 {
            two_phase.drain_completions(&mut nodes[0], &route, &mut apply, &mut out);
        }
    }
    Run { outcome: two_phase.outcome().cloned().expect("ended"), log, most_outstanding }
}

/// Core `core` applying a phase: logged; its prepare vote is no if it is the `no_voter`.
fn apply_at(
    core: CoreId,
    log: &mut Vec<(CoreId, Phase)>,
    no_voter: Option<CoreId>,
) -> impl FnMut(u32, Phase) -> bool + '_ {
    move |_round, phase| {
        log.push((core, phase));
        Some(core) != no_voter
    }
}

fn applied(log: &[(CoreId, Phase)], core: CoreId, phase: Phase) -> usize {
    log.iter().filter(|&&(c, p)| c == core && p == phase).count()
}

const STRATEGIES: [Strategy; 3] = [Strategy::Unicast, Strategy::Broadcast, Strategy::Tree];

#[test]
fn all_yes_commits_everywhere_and_nobody_commits_before_everybody_prepared() {
    for strategy in STRATEGIES {
        for n in 2..=8 {
            for seed in 0..60 {
                let run = run(strategy, n, seed * 7919 + n as u64, None, None);
                assert_eq!(run.outcome, Outcome::Committed, "{strategy:?} n={n} seed={seed}");
                for core in 0..n {
                    assert_eq!(applied(&run.log, core, Phase::Prepare), 1, "{strategy:?} n={n} core {core}");
                    assert_eq!(applied(&run.log, core, Phase::Commit), 1, "{strategy:?} n={n} core {core}");
                    assert_eq!(applied(&run.log, core, Phase::Abort), 0);
                }
                let last_prepare = run.log.iter().rposition(|&(_, p)| p == Phase::Prepare).unwrap();
                let first_commit = run.log.iter().position(|&(_, p)| p == Phase::Commit).unwrap();
                assert!(last_prepare < first_commit, "{strategy:?} n={n} seed={seed}: {:?}", run.log);
                if strategy == Strategy::Unicast {
                    assert_eq!(run.most_outstanding, 1, "unicast asks one core at a time");
                } else if n > 2 && strategy == Strategy::Broadcast {
                    assert_eq!(run.most_outstanding, n - 1, "broadcast asks all at once");
                }
            }
        }
    }
}

#[test]
fn one_no_vote_aborts_everywhere_and_nobody_commits() {
    for strategy in STRATEGIES {
        for n in 2..=8 {
            for seed in 0..40 {
                let no_voter = 1 + (seed as usize % (n - 1));
                let run = run(strategy, n, seed * 104_729 + 3, Some(no_voter), None);
                assert_eq!(run.outcome, Outcome::Aborted, "{strategy:?} n={n} no-voter {no_voter}");
                for core in 0..n {
                    assert_eq!(applied(&run.log, core, Phase::Commit), 0, "{strategy:?} n={n}");
                    assert_eq!(applied(&run.log, core, Phase::Abort), 1, "{strategy:?} n={n} core {core}");
                }
            }
        }
    }
}

#[test]
fn a_core_that_never_answers_fails_the_round_with_nothing_committed() {
    for strategy in STRATEGIES {
        for n in 2..=8 {
            for seed in 0..40 {
                let dead = 1 + (seed as usize % (n - 1));
                let run = run(strategy, n, seed * 31 + 11, None, Some(dead));
                let Outcome::Failed { phase, missing } = &run.outcome else {
                    panic!("{strategy:?} n={n} dead {dead}: {:?}", run.outcome)
                };
                assert_eq!(*phase, Phase::Prepare);
                assert!(missing.contains(&dead), "{strategy:?} n={n}: {missing:?} names {dead}");
                for core in (0..n).filter(|&c| c != dead) {
                    assert_eq!(applied(&run.log, core, Phase::Commit), 0, "{strategy:?} n={n} core {core}");
                    if applied(&run.log, core, Phase::Prepare) == 1 {
                        assert_eq!(
                            applied(&run.log, core, Phase::Abort),
                            1,
                            "{strategy:?} n={n} core {core} prepared"
                        );
                    }
                }
            }
        }
    }
}
