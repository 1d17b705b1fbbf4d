//! One experiment: `k` host threads as `k` cores, each pinned to its host core, holding its
//! own [`Node`] and sharing nothing with the others but URPC channel frames (one per pair of
//! cores, as the monitors have) and, for the lock baseline only, the locked structure with
//! its generation and acknowledgement words.
//!
//! Core 0 initiates every round and times it, from starting it to seeing its outcome:
//!
//! - **unicast**, **broadcast**, **tree**: one two-phase round ([`TwoPhase`]: prepare, then
//!   commit) over that route, the shape of an unmap or TLB shootdown by agreement. Every core
//!   runs the same loop: poll every incoming ring, hand each message to its [`Node`], send
//!   what the node says. A round's number says its route (`round % 4`), as an operation's
//!   would in a monitor; numbers only grow, so a core retires the older rounds' records when
//!   a newer round's request arrives.
//! - **lock**: the shared-memory way: core 0 changes the structure under its lock and bumps a
//!   generation; every other core, polling the generation (instead of taking an IPI), writes
//!   it into its own acknowledgement line (as Linux's per-CPU call-function flags); core 0
//!   waits until every line shows it.
//!
//! The strategies take turns round by round (their order rotating), so the noise of a shared
//! host spreads over all of them. A waiting core spins, then yields its host core after a
//! bounded number of empty polls (after a few when threads share host cores, so that the peer
//! it waits for gets to run). Every core counts what it applied and what it sent and
//! received; [`Measurement::check`] holds the run to the protocol: every round committed on
//! every core, nothing aborted or applied twice, every message sent received, every
//! generation acknowledged by every core. A round that does not end within the deadline is
//! given up and fails the run instead of hanging it.

use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use agreement::commit::{Outcome, TwoPhase};
use agreement::node::{Action, Msg, Node, Phase};
use agreement::route::Route;
use agreement::CoreId;
use urpc::{ChannelFrame, Receiver, RecvError, RecvMessageError, Sender, Side};

use crate::topology::Placement;

/// What one round is measured by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Two-phase round, the initiator asking one core at a time.
    Unicast,
    /// Two-phase round, the initiator asking every core at once.
    Broadcast,
    /// Two-phase round along the SKB's multicast tree.
    Tree,
    /// Shared memory: a locked structure and a generation every core acknowledges.
    Lock,
}

impl Strategy {
    /// Every strategy, in the order reported (the message strategies first, in their
    /// [`Placement::routes`] order).
    pub const ALL: [Strategy; 4] = [Strategy::Unicast, Strategy::Broadcast, Strategy::Tree, Strategy::Lock];

    /// The name in the output and the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Unicast => "unicast",
            Strategy::Broadcast => "broadcast",
            Strategy::Tree => "tree",
            Strategy::Lock => "lock",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What one core did, counted by itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Prepare phases applied.
    pub prepared: u64,
    /// Commit phases applied.
    pub committed: u64,
    /// Abort phases applied.
    pub aborted: u64,
    /// Phases applied for a round not newer than the last of that phase applied here.
    pub applied_twice: u64,
    /// Lock generations acknowledged.
    pub acknowledged: u64,
    /// Generations that changed by more than one between two looks (one missed).
    pub generations_skipped: u64,
    /// Messages sent.
    pub sent: u64,
    /// Messages received.
    pub received: u64,
    /// Lines that did not decode as a protocol message, or a ring out of sequence.
    pub bad_lines: u64,
}

/// The figures of one experiment and what each core counted.
#[derive(Debug)]
pub struct Measurement {
    /// Cores taking part (the initiator included).
    pub cores: usize,
    /// Nanoseconds per timed round, by [`Strategy::ALL`] index.
    pub samples: [Vec<u64>; 4],
    /// Rounds run of each strategy, the untimed warm-up included.
    pub rounds_each: u64,
    /// Each core's count, by core.
    pub tallies: Vec<Tally>,
}

impl Measurement {
    /// Whether every core did exactly what the protocol asks; `Err` says what went wrong.
    pub fn check(&self) -> Result<(), String> {
        let message_rounds = 3 * self.rounds_each;
        for (core, tally) in self.tallies.iter().enumerate() {
            let expected = Tally {
                prepared: message_rounds,
                committed: message_rounds,
                acknowledged: if core == 0 { 0 } else { self.rounds_each },
                sent: tally.sent,
                received: tally.received,
                ..Tally::default()
            };
            if *tally != expected {
                return Err(format!(
                    "core {core} of {}: counted {tally:?}, expected {message_rounds} rounds prepared and committed, none aborted or applied twice, {} generations acknowledged",
                    self.cores, expected.acknowledged
                ));
            }
        }
        let sent: u64 = self.tallies.iter().map(|t| t.sent).sum();
        let received: u64 = self.tallies.iter().map(|t| t.received).sum();
        // Two phases a round, a request and an answer per other core in each.
        let expected = message_rounds * 4 * (self.cores as u64 - 1);
        if sent != expected || received != expected {
            return Err(format!("{sent} messages sent and {received} received, expected {expected} each"));
        }
        Ok(())
    }

    /// One line saying what [`Measurement::check`] confirmed.
    pub fn checked_line(&self) -> String {
        let messages: u64 = self.tallies.iter().map(|t| t.sent).sum();
        format!(
            "checked cores={}: {} rounds each of unicast, broadcast and tree prepared and committed on every core (none aborted or applied twice), {messages} messages sent and as many received; {} lock generations acknowledged by every other core",
            self.cores, self.rounds_each, self.rounds_each
        )
    }
}

/// How one experiment runs.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Cores taking part, the initiator included (at least 2).
    pub cores: usize,
    /// Timed rounds of each strategy.
    pub rounds: u64,
    /// Untimed rounds of each strategy before them.
    pub warm_up: u64,
    /// How long a round may take before the initiator gives up on it.
    pub deadline: Duration,
}

/// Empty polls a waiting core spins through before it yields its host core: many where every
/// core has its own host core (a yield costs a system call the measurement would include),
/// few where threads share host cores (the peer it waits for may need this very core).
const SPINS_ALONE: u32 = 1 << 16;
const SPINS_SHARED: u32 = 16;
/// Empty polls between two looks at the clock while waiting for a round.
const POLLS_PER_DEADLINE_CHECK: u32 = 256;

/// Spin, then yield.
struct Backoff {
    limit: u32,
    spins: u32,
}

impl Backoff {
    fn new(shared_cores: bool) -> Backoff {
        Backoff { limit: if shared_cores { SPINS_SHARED } else { SPINS_ALONE }, spins: 0 }
    }

    fn reset(&mut self) {
        self.spins = 0;
    }

    fn wait(&mut self) {
        if self.spins < self.limit {
            self.spins += 1;
            spin_loop();
        } else {
            thread::yield_now();
        }
    }
}

/// A word alone in its cache lines (two, against adjacent-line prefetch).
#[repr(align(128))]
struct Padded<T>(T);

/// What the lock baseline shares.
struct SharedMemory {
    /// The replicated structure of a shared-memory kernel (a page table, say).
    table: Mutex<[u64; 8]>,
    /// Bumped under the lock by every change.
    generation: Padded<AtomicU64>,
    /// The generation each core has seen, written only by that core.
    acknowledged: Vec<Padded<AtomicU64>>,
    /// Set by core 0 when the experiment is over.
    stop: AtomicBool,
}

/// One core's channel to another.
struct Link<'frame> {
    sender: Sender<'frame>,
    receiver: Receiver<'frame>,
}

/// One core: its node, its channels and its counts.
struct Core<'frame, 'routes> {
    me: CoreId,
    node: Node,
    /// By peer core (`None` for itself).
    links: Vec<Option<Link<'frame>>>,
    routes: &'routes [Route; 3],
    tally: Tally,
    /// The newest round applied, by phase, to notice one applied twice.
    newest_applied: [u32; 3],
    out: Vec<Action>,
    backoff: Backoff,
}

/// The route of a round: its number modulo 4 names it (see [`round_number`]).
fn route_of(routes: &[Route; 3], round: u32) -> &Route {
    &routes[(round % 4) as usize % 3]
}

/// The number of the `count`th message round (counting from 1), of strategy `strategy`:
/// numbers grow from round to round whatever the strategy, and say the strategy.
fn round_number(count: u64, strategy: Strategy) -> u32 {
    (count * 4 + strategy.index() as u64) as u32
}

/// What a core does when it applies a phase: count it, and notice a phase applied twice
/// (rounds only grow, so a round not newer than the last of its phase is a repeat). Votes yes.
fn count_applied(tally: &mut Tally, newest: &mut [u32; 3], round: u32, phase: Phase) -> bool {
    let slot = match phase {
        Phase::Prepare => {
            tally.prepared += 1;
            0
        }
        Phase::Commit => {
            tally.committed += 1;
            1
        }
        Phase::Abort => {
            tally.aborted += 1;
            2
        }
    };
    if round <= newest[slot] {
        tally.applied_twice += 1;
    }
    newest[slot] = newest[slot].max(round);
    true
}

impl<'frame, 'routes> Core<'frame, 'routes> {
    /// Takes every waiting message of every ring, hands it to the node and sends what it
    /// says; a round of the initiator's moves on. Whether anything arrived.
    fn poll(&mut self, mut initiating: Option<&mut TwoPhase>) -> bool {
        let mut worked = false;
        for from in 0..self.links.len() {
            while let Some(link) = self.links[from].as_mut() {
                let msg = match link.receiver.try_recv_message::<Msg>() {
                    Ok(msg) => msg,
                    Err(RecvMessageError::Recv(RecvError::Empty)) => break,
                    Err(_) => {
                        self.tally.bad_lines += 1;
                        break;
                    }
                };
                worked = true;
                self.tally.received += 1;
                if msg.kind == agreement::node::Kind::Request {
                    self.node.retire_before(msg.round);
                }
                let route = route_of(self.routes, msg.round);
                let (tally, newest) = (&mut self.tally, &mut self.newest_applied);
                let mut apply = |round, phase| count_applied(tally, newest, round, phase);
                self.node.receive(route, from, msg, &mut apply, &mut self.out);
                if let Some(two_phase) = initiating.as_deref_mut() {
                    two_phase.drain_completions(&mut self.node, route, &mut apply, &mut self.out);
                }
                self.send_out();
            }
        }
        worked
    }

    /// Sends what the node asked for. A ring never fills here (a pair has at most one request
    /// and one answer in flight per phase, and a ring holds 31), so a full ring only waits for
    /// the peer to be scheduled.
    fn send_out(&mut self) {
        for action in std::mem::take(&mut self.out) {
            let Action::Send { to, msg } = action else { continue };
            let link = self.links[to].as_mut().expect("routes name only cores of the experiment");
            let mut backoff = Backoff::new(true);
            while link.sender.try_send_message(&msg).is_err() {
                backoff.wait();
            }
            self.tally.sent += 1;
        }
    }

    /// (Core 0) one two-phase round on route `strategy`: its nanoseconds, or why it failed.
    fn message_round(&mut self, strategy: Strategy, round: u32, deadline: Duration) -> Result<u64, String> {
        let route = &self.routes[strategy.index()];
        let started = Instant::now();
        let (tally, newest) = (&mut self.tally, &mut self.newest_applied);
        let mut apply = |round, phase| count_applied(tally, newest, round, phase);
        let mut two_phase = TwoPhase::start(&mut self.node, route, round, &mut apply, &mut self.out);
        self.send_out();
        let mut polls = 0u32;
        self.backoff.reset();
        let outcome = loop {
            if let Some(outcome) = two_phase.outcome() {
                break outcome.clone();
            }
            if self.poll(Some(&mut two_phase)) {
                self.backoff.reset();
                continue;
            }
            self.backoff.wait();
            polls += 1;
            if polls.is_multiple_of(POLLS_PER_DEADLINE_CHECK) && started.elapsed() > deadline {
                let (tally, newest) = (&mut self.tally, &mut self.newest_applied);
                let mut apply = |round, phase| count_applied(tally, newest, round, phase);
                let outcome = two_phase.give_up(&mut self.node, route, &mut apply, &mut self.out);
                self.send_out();
                break outcome;
            }
        };
        let elapsed = started.elapsed().as_nanos() as u64;
        self.node.retire_before(round + 1);
        match outcome {
            Outcome::Committed => Ok(elapsed),
            other => Err(format!("{} round {round} ended {other:?} after {elapsed} ns", strategy.name())),
        }
    }

    /// (Core 0) one change under the lock, acknowledged by every other core.
    fn lock_round(&mut self, shared: &SharedMemory, deadline: Duration) -> Result<u64, String> {
        let started = Instant::now();
        let generation = {
            let mut table = shared.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let generation = shared.generation.0.load(Ordering::Relaxed) + 1;
            let slot = generation as usize % table.len();
            table[slot] = generation;
            // Release: a core that sees the generation sees the change with it.
            shared.generation.0.store(generation, Ordering::Release);
            generation
        };
        self.backoff.reset();
        let mut polls = 0u32;
        for (core, acknowledged) in shared.acknowledged.iter().enumerate().skip(1) {
            while acknowledged.0.load(Ordering::Acquire) < generation {
                self.backoff.wait();
                polls += 1;
                if polls.is_multiple_of(POLLS_PER_DEADLINE_CHECK) && started.elapsed() > deadline {
                    return Err(format!("core {core} did not acknowledge lock generation {generation}"));
                }
            }
        }
        Ok(started.elapsed().as_nanos() as u64)
    }

    /// (Every other core) acknowledges a new lock generation, if there is one.
    fn acknowledge(&mut self, shared: &SharedMemory, seen: &mut u64) -> bool {
        let generation = shared.generation.0.load(Ordering::Acquire);
        if generation == *seen {
            return false;
        }
        if generation != *seen + 1 {
            self.tally.generations_skipped += 1;
        }
        self.tally.acknowledged += 1;
        *seen = generation;
        shared.acknowledged[self.me].0.store(generation, Ordering::Release);
        true
    }
}

/// Runs `plan` with core `i` on host core `placement.host_cores[i]` over `routes` (unicast,
/// broadcast, tree): the timed rounds and every core's count, or the first round that failed.
pub fn measure(plan: &Plan, placement: &Placement, routes: &[Route; 3]) -> Result<Measurement, String> {
    let cores = plan.cores;
    let shared_cores = placement.oversubscribed();
    // One frame per unordered pair: the lower core is side A.
    let frames: Vec<Vec<ChannelFrame>> =
        (0..cores).map(|low| (low + 1..cores).map(|_| ChannelFrame::new()).collect()).collect();
    let frame = |a: usize, b: usize| &frames[a.min(b)][a.max(b) - a.min(b) - 1];
    let shared = SharedMemory {
        table: Mutex::new([0; 8]),
        generation: Padded(AtomicU64::new(0)),
        acknowledged: (0..cores).map(|_| Padded(AtomicU64::new(0))).collect(),
        stop: AtomicBool::new(false),
    };
    let make_core = |me: CoreId| Core {
        me,
        node: Node::new(me),
        links: (0..cores)
            .map(|peer| {
                (peer != me).then(|| {
                    let (sender, receiver) =
                        frame(me, peer).endpoint(if me < peer { Side::A } else { Side::B }).split();
                    Link { sender, receiver }
                })
            })
            .collect(),
        routes,
        tally: Tally::default(),
        newest_applied: [0; 3],
        out: Vec::new(),
        backoff: Backoff::new(shared_cores),
    };
    let mut initiator = make_core(0);
    let others: Vec<Core> = (1..cores).map(make_core).collect();

    thread::scope(|scope| {
        let shared = &shared;
        let handles: Vec<_> = others
            .into_iter()
            .map(|mut core| {
                let host_core = placement.host_cores[core.me];
                scope.spawn(move || {
                    core_affinity::set_for_current(core_affinity::CoreId { id: host_core });
                    let mut seen = 0;
                    loop {
                        let worked = core.poll(None) | core.acknowledge(shared, &mut seen);
                        if worked {
                            core.backoff.reset();
                        } else if shared.stop.load(Ordering::Acquire) {
                            break;
                        } else {
                            core.backoff.wait();
                        }
                    }
                    core.tally
                })
            })
            .collect();

        // Core 0 on a thread of its own too: pinning the caller would narrow what the rest of
        // the program may run on.
        let initiating = scope.spawn(move || {
            core_affinity::set_for_current(core_affinity::CoreId { id: placement.host_cores[0] });
            let mut samples: [Vec<u64>; 4] = Default::default();
            let mut message_rounds = 0;
            let mut run = || {
                for sequence in 0..plan.warm_up + plan.rounds {
                    for offset in 0..Strategy::ALL.len() {
                        let strategy = Strategy::ALL[(sequence as usize + offset) % Strategy::ALL.len()];
                        let nanoseconds = match strategy {
                            Strategy::Lock => initiator.lock_round(shared, plan.deadline)?,
                            _ => {
                                message_rounds += 1;
                                let round = round_number(message_rounds, strategy);
                                initiator.message_round(strategy, round, plan.deadline)?
                            }
                        };
                        if sequence >= plan.warm_up {
                            samples[strategy.index()].push(nanoseconds);
                        }
                    }
                }
                Ok::<(), String>(())
            };
            let result = run();
            shared.stop.store(true, Ordering::Release);
            (result, samples, initiator.tally)
        });
        let (result, samples, initiator_tally) = initiating.join().expect("core 0's thread panicked");
        let mut tallies = vec![initiator_tally];
        tallies.extend(handles.into_iter().map(|handle| handle.join().expect("a core's thread panicked")));
        result.map(|()| Measurement { cores, samples, rounds_each: plan.warm_up + plan.rounds, tallies })
    })
}

/// The sample at rank `(n - 1) q`, rounded (`None` for no samples).
pub fn percentile(samples: &[u64], quantile: f64) -> Option<u64> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((sorted.len().checked_sub(1)?) as f64 * quantile + 0.5) as usize;
    sorted.get(rank).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(cores: usize, rounds: u64) -> Plan {
        Plan { cores, rounds, warm_up: 2, deadline: Duration::from_secs(10) }
    }

    fn host_cores() -> Vec<usize> {
        core_affinity::get_core_ids().unwrap_or_default().into_iter().map(|core| core.id).collect()
    }

    #[test]
    fn every_round_commits_on_every_core_and_no_message_is_lost() {
        let available = host_cores();
        if available.is_empty() {
            eprintln!("skipped: no core to pin to");
            return;
        }
        // Up to 5 cores whatever the host has: with fewer host cores, threads share them.
        for cores in 2..=5 {
            let placement = Placement::new(cores, &available, Some(2));
            let routes = placement.routes(cores).unwrap();
            let measurement = measure(&plan(cores, 20), &placement, &routes).unwrap();
            measurement.check().unwrap();
            assert!(measurement.samples.iter().all(|samples| samples.len() == 20));
            for tally in &measurement.tallies {
                assert_eq!(tally.committed, 3 * 22, "{tally:?}");
            }
        }
    }

    #[test]
    fn the_check_notices_a_core_that_missed_a_commit_a_lost_message_or_a_double_apply() {
        let tally = |committed, sent, received| Tally {
            prepared: 3,
            committed,
            acknowledged: 1,
            sent,
            received,
            ..Tally::default()
        };
        let good = || Measurement {
            cores: 2,
            samples: Default::default(),
            rounds_each: 1,
            tallies: vec![Tally { acknowledged: 0, ..tally(3, 6, 6) }, tally(3, 6, 6)],
        };
        assert_eq!(good().check(), Ok(()));
        let mut missed = good();
        missed.tallies[1].committed = 2;
        assert!(missed.check().unwrap_err().contains("core 1 of 2"));
        let mut lost = good();
        lost.tallies[1].received = 5;
        assert!(lost.check().unwrap_err().contains("11 received"));
        let mut twice = good();
        twice.tallies[0].applied_twice = 1;
        assert!(twice.check().unwrap_err().contains("core 0"));
        let mut skipped = good();
        skipped.tallies[1].generations_skipped = 1;
        assert!(skipped.check().is_err());
    }

    #[test]
    fn a_phase_applied_for_an_old_round_counts_as_applied_twice() {
        let (mut tally, mut newest) = (Tally::default(), [0; 3]);
        for round in [4, 5, 5, 3] {
            count_applied(&mut tally, &mut newest, round, Phase::Commit);
        }
        assert_eq!((tally.committed, tally.applied_twice), (4, 2));
    }

    #[test]
    fn percentiles_by_rounded_rank() {
        let samples: Vec<u64> = (1..=101).rev().collect();
        assert_eq!(percentile(&samples, 0.5), Some(51));
        assert_eq!(percentile(&samples, 0.99), Some(100));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
