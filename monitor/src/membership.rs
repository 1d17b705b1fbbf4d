//! Which cores are alive, as state every monitor replicates and changes only by agreement: the
//! failure detector and the membership protocol of the multikernel (portable, host-tested;
//! the monitor carries its messages over URPC and acts on its events).
//!
//! **Detecting.** Every monitor sends each live peer a heartbeat when it sent that peer no
//! membership message for [`Config::heartbeat_ns`]; anything heard from a peer counts as a sign
//! of life. A peer silent for [`Config::suspect_after_ns`] is suspected.
//!
//! **Agreeing.** One suspicion is not a verdict (the suspect's core may only be slow, or its
//! vCPU not scheduled): the suspecting monitor runs a two-phase round
//! ([`agreement::commit::TwoPhase`], broadcast to every other live core but the suspect). In
//! *prepare* each core votes yes only if it has not heard from the suspect for half the
//! suspicion time either; one no aborts the round (the suspect lives and is suspected again
//! only after another full silence). On *commit* every survivor removes the core from its
//! replica; the initiator reports how many monitors agreed and how long detection took, and
//! tells the removed core it was evicted, so that a core that was only slow stops instead of
//! acting on state the others no longer share with it (fail-stop). Only the lowest-numbered
//! live core that suspects starts the round, unless the silence lasts four times as long (that
//! core may be the slow one): one report per failure as a rule, and duplicate rounds harmless,
//! because removal is idempotent and commutes (the replicas converge whatever order commits
//! arrive in). After a round a voter refused, the suspects need a fresh silence before the next;
//! after one that timed out (a voter stopped too), the next starts at once without it.
//!
//! A round whose answers do not all arrive within [`Config::round_timeout_ns`] fails and
//! removes nobody: a voter that does not answer is suspected in its turn, so every round
//! completes or aborts and never hangs.
//!
//! **Not being scheduled is not the others' silence.** A monitor that was itself not running
//! (its core busy, or, under an emulator, its vCPU not scheduled by the host) has the others'
//! messages waiting unread in its channels. So [`Membership::receive`] only notes a round's
//! step, and [`Membership::tick`], which the monitor calls once it has read every channel,
//! votes and suspects: by then everything the others sent counts as heard.

use alloc::vec::Vec;

use agreement::commit::{Outcome, TwoPhase};
use agreement::node::{Action, Kind, Msg, Node, Phase};
use agreement::route::Route;
use agreement::CoreId;

/// The detector's times, in nanoseconds of the counter every core shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Longest a monitor stays silent towards a live peer.
    pub heartbeat_ns: u64,
    /// Silence after which a peer is suspected.
    pub suspect_after_ns: u64,
    /// Longest a membership round waits for its answers.
    pub round_timeout_ns: u64,
}

impl Config {
    /// The times the monitors use: heartbeats every 50 ms, suspicion after 500 ms of silence,
    /// rounds bounded by 300 ms. A dead core is removed about 0.5 s after its last message
    /// (suspicion, then a round of two phases that takes milliseconds), well under a second
    /// of guest time; a core the host does not schedule for less than 250 ms is never voted
    /// out, and a monitor that was itself not scheduled reads what waits before it judges.
    pub const MONITOR: Config =
        Config { heartbeat_ns: 50_000_000, suspect_after_ns: 500_000_000, round_timeout_ns: 300_000_000 };
}

/// A membership message between two monitors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// Nothing else to say: still alive.
    Heartbeat,
    /// A step of a round removing the cores in `suspects` (a bit each).
    Round {
        /// The agreement message.
        msg: Msg,
        /// The cores the round would remove.
        suspects: u64,
    },
    /// The receiving core was removed: it must stop.
    Evicted,
}

/// What the monitor learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `core` was removed by agreement. On the round's initiator `detected_by` counts the
    /// monitors that agreed (itself included) and `detection_ns` runs from the suspect's last
    /// sign of life to the commit; elsewhere both are 0.
    Failed {
        /// The removed core.
        core: CoreId,
        /// How long it had been silent when the initiator suspected it.
        silent_ns: u64,
        /// Monitors that agreed (initiator only).
        detected_by: usize,
        /// From its last sign of life to the commit (initiator only).
        detection_ns: u64,
    },
    /// This core was told it was removed.
    Evicted {
        /// Who said so.
        by: CoreId,
    },
}

struct Initiated {
    round: u32,
    suspects: u64,
    route: Route,
    two_phase: TwoPhase,
    started_ns: u64,
    /// The last sign of life of each suspect, by core.
    silent_since_ns: Vec<(CoreId, u64)>,
}

/// One monitor's replica of the membership, and its part of the protocol.
pub struct Membership {
    me: CoreId,
    config: Config,
    live: u64,
    last_heard: Vec<u64>,
    last_sent: Vec<u64>,
    node: Node,
    next_round: u32,
    initiated: Option<Initiated>,
    /// Per suspect, when a round about it last aborted (no new round until a fresh silence).
    aborted_at: Vec<u64>,
    outbox: Vec<(CoreId, Wire)>,
    events: Vec<Event>,
    /// Round steps received, handled at the next [`tick`](Self::tick) (once every channel
    /// was read).
    steps: Vec<(CoreId, Msg, u64)>,
}

/// Bits of a round number that say which core started it (rounds from different initiators
/// must not collide in the agreement's bookkeeping).
const INITIATOR_SHIFT: u32 = 24;

impl Membership {
    /// Core `me`'s replica, with `live` (a bit per core, `me` included) alive as of `now`.
    pub fn new(me: CoreId, cores: usize, live: u64, config: Config, now: u64) -> Membership {
        Membership {
            me,
            config,
            live: live | bit(me),
            last_heard: alloc::vec![now; cores],
            last_sent: alloc::vec![now; cores],
            node: Node::new(me),
            next_round: 0,
            initiated: None,
            aborted_at: alloc::vec![0; cores],
            outbox: Vec::new(),
            events: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// The live cores, a bit each.
    pub fn live(&self) -> u64 {
        self.live
    }

    /// Whether `core` is alive in this replica.
    pub fn is_live(&self, core: CoreId) -> bool {
        core < 64 && self.live & bit(core) != 0
    }

    /// Something arrived from `from` (any message: a sign of life).
    pub fn heard(&mut self, from: CoreId, now: u64) {
        if let Some(heard) = self.last_heard.get_mut(from) {
            *heard = (*heard).max(now);
        }
    }

    /// This replica sent `to` a membership message (no heartbeat is needed then).
    fn sent(&mut self, to: CoreId, now: u64) {
        if let Some(sent) = self.last_sent.get_mut(to) {
            *sent = (*sent).max(now);
        }
    }

    /// Messages to send, with their receivers.
    pub fn take_messages(&mut self) -> Vec<(CoreId, Wire)> {
        core::mem::take(&mut self.outbox)
    }

    /// What happened since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.events)
    }

    /// The latest counter value (ns) by which [`tick`](Self::tick) must run again.
    pub fn next_deadline(&self) -> u64 {
        let peers = self.peers();
        let heartbeat = peers.iter().map(|&p| self.last_sent[p] + self.config.heartbeat_ns).min();
        let suspicion = peers.iter().map(|&p| self.last_heard[p] + self.config.suspect_after_ns).min();
        let round = self.initiated.as_ref().map(|r| r.started_ns + self.config.round_timeout_ns);
        [heartbeat, suspicion, round].into_iter().flatten().min().unwrap_or(u64::MAX)
    }

    /// Time passed, and every channel was read: the round steps received, heartbeats due,
    /// suspicions, a round that waited too long.
    pub fn tick(&mut self, now: u64) {
        for (from, msg, suspects) in core::mem::take(&mut self.steps) {
            if self.is_live(from) {
                self.round_message(from, msg, suspects, now);
            }
        }
        for peer in self.peers() {
            if now.saturating_sub(self.last_sent[peer]) >= self.config.heartbeat_ns {
                self.outbox.push((peer, Wire::Heartbeat));
                self.last_sent[peer] = now;
            }
        }
        self.give_up_if_late(now);
        if self.initiated.is_none() {
            let suspects = self.suspects_to_act_on(now);
            if suspects != 0 {
                self.start_round(suspects, now);
            }
        }
    }

    /// A membership message from `from` (a round's step waits for the next
    /// [`tick`](Self::tick)).
    pub fn receive(&mut self, from: CoreId, wire: Wire, now: u64) {
        self.heard(from, now);
        if !self.is_live(from) {
            // A removed core's word counts for nothing (it is told to stop below).
            if !matches!(wire, Wire::Evicted) {
                self.outbox.push((from, Wire::Evicted));
            }
            return;
        }
        match wire {
            Wire::Heartbeat => {}
            Wire::Evicted => self.events.push(Event::Evicted { by: from }),
            Wire::Round { msg, suspects } => self.steps.push((from, msg, suspects)),
        }
    }

    fn peers(&self) -> Vec<CoreId> {
        (0..self.last_heard.len()).filter(|&c| c != self.me && self.is_live(c)).collect()
    }

    /// The peers to start a round about: every one silent past the suspicion time (several
    /// may fail together: one round removes them all, and none of them is asked to vote), if
    /// this core is the lowest-numbered live one outside them or the silence lasted twice as
    /// long; none shortly after a round about them aborted, unless they were silent since.
    fn suspects_to_act_on(&self, now: u64) -> u64 {
        let suspect_after = self.config.suspect_after_ns;
        let silent = |p: CoreId| now.saturating_sub(self.last_heard[p]);
        let suspects: u64 = self
            .peers()
            .into_iter()
            .filter(|&p| silent(p) >= suspect_after)
            .filter(|&p| {
                self.last_heard[p] >= self.aborted_at[p]
                    || now.saturating_sub(self.aborted_at[p]) >= suspect_after
            })
            .map(bit)
            .sum();
        if suspects == 0 {
            return 0;
        }
        let lowest = (0..64).find(|&c| self.is_live(c) && suspects & bit(c) == 0) == Some(self.me);
        let long =
            (0..self.last_heard.len()).any(|p| suspects & bit(p) != 0 && silent(p) >= 4 * suspect_after);
        if lowest || long {
            suspects
        } else {
            0
        }
    }

    fn start_round(&mut self, suspects: u64, now: u64) {
        let voters: Vec<CoreId> = self.peers().into_iter().filter(|&c| suspects & bit(c) == 0).collect();
        let route = Route::broadcast(self.me, &voters);
        let round = ((self.me as u32) << INITIATOR_SHIFT) | (self.next_round & ((1 << INITIATOR_SHIFT) - 1));
        self.next_round = self.next_round.wrapping_add(1);
        let silent_since_ns = (0..self.last_heard.len())
            .filter(|&c| suspects & bit(c) != 0)
            .map(|c| (c, self.last_heard[c]))
            .collect();
        let mut actions = Vec::new();
        let mut apply = self.applier(suspects, now);
        let two_phase = TwoPhase::start(&mut self.node, &route, round, &mut apply, &mut actions);
        self.initiated =
            Some(Initiated { round, suspects, route, two_phase, started_ns: now, silent_since_ns });
        self.run(actions, suspects, now);
    }

    /// This core's vote in a round about `suspects`: yes only if it has not heard from any of
    /// them for half the suspicion time either (every other phase is a yes).
    fn applier(&self, suspects: u64, now: u64) -> impl FnMut(u32, Phase) -> bool {
        let half = self.config.suspect_after_ns / 2;
        let all_silent = (0..self.last_heard.len())
            .filter(|&c| suspects & bit(c) != 0)
            .all(|c| now.saturating_sub(self.last_heard[c]) >= half);
        move |_, phase| phase != Phase::Prepare || all_silent
    }

    fn round_message(&mut self, from: CoreId, msg: Msg, suspects: u64, now: u64) {
        let ours = self.initiated.as_ref().is_some_and(|r| r.round == msg.round);
        let route = match &self.initiated {
            Some(r) if ours => r.route.clone(),
            _ => Route::broadcast(from, &[self.me]),
        };
        let mut actions = Vec::new();
        let mut apply = self.applier(suspects, now);
        self.node.receive(&route, from, msg, &mut apply, &mut actions);
        if !ours && msg.kind == Kind::Request && msg.phase == Phase::Commit {
            for core in (0..64).filter(|&c| suspects & bit(c) != 0) {
                self.remove(core, 0, 0, 0);
            }
        }
        if ours {
            if let Some(r) = self.initiated.as_mut() {
                let mut apply = |_: u32, _: Phase| true;
                r.two_phase.drain_completions(&mut self.node, &r.route, &mut apply, &mut actions);
            }
        }
        self.run(actions, suspects, now);
    }

    /// Sends what the agreement asked for and ends the round once it has an outcome.
    fn run(&mut self, actions: Vec<Action>, suspects: u64, now: u64) {
        for action in actions {
            if let Action::Send { to, msg } = action {
                self.outbox.push((to, Wire::Round { msg, suspects }));
                self.sent(to, now);
            }
        }
        let Some(outcome) = self.initiated.as_ref().and_then(|r| r.two_phase.outcome().cloned()) else {
            return;
        };
        let Some(round) = self.initiated.take() else { return };
        // Given up in commit, the decision stands: the cores that answered removed them.
        let committed = matches!(outcome, Outcome::Committed | Outcome::Failed { phase: Phase::Commit, .. });
        for &(core, silent_since) in &round.silent_since_ns {
            match committed {
                true => {
                    let voters = round.route.cores().count();
                    let silent_ns = round.started_ns.saturating_sub(silent_since);
                    self.remove(core, silent_ns, voters, now.saturating_sub(silent_since));
                    self.outbox.push((core, Wire::Evicted));
                }
                // Someone still heard them: a fresh silence first. A round that only timed out
                // (a voter did not answer) is tried again at once, with that voter among the
                // suspects once it is silent long enough.
                false if outcome == Outcome::Aborted => self.aborted_at[core] = now,
                false => {}
            }
        }
    }

    fn give_up_if_late(&mut self, now: u64) {
        let Some(round) = self.initiated.as_mut() else { return };
        if now.saturating_sub(round.started_ns) < self.config.round_timeout_ns {
            return;
        }
        let mut actions = Vec::new();
        let mut apply = |_: u32, _: Phase| true;
        round.two_phase.give_up(&mut self.node, &round.route, &mut apply, &mut actions);
        let suspects = round.suspects;
        self.run(actions, suspects, now);
    }

    fn remove(&mut self, core: CoreId, silent_ns: u64, detected_by: usize, detection_ns: u64) {
        if !self.is_live(core) || core == self.me {
            return;
        }
        self.live &= !bit(core);
        self.events.push(Event::Failed { core, silent_ns, detected_by, detection_ns });
    }
}

fn bit(core: CoreId) -> u64 {
    if core < 64 {
        1 << core
    } else {
        0
    }
}
