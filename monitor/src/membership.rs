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
//! **Leaving and joining (CPU hotplug).** A core taken off on request leaves by the same
//! protocol: its own monitor runs a two-phase round about itself ([`Change::Leave`]); every
//! other live core votes yes while it still counts that incarnation live, and removes it on
//! commit. A core started again rejoins by a round the monitor it asked runs among the live
//! cores ([`Change::Join`]): each votes yes only if it does not count the core live and the
//! round names a newer *incarnation* than any it has seen of that core, and adds it on commit.
//! Incarnations number a core's starts (0 at boot): a join that repeats or predates one
//! already agreed is refused, and every round's number carries its initiator's incarnation,
//! so a round a core started before it went off is never taken for one its next incarnation
//! starts (the agreement keeps rounds by number).
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

/// What a membership round changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Removes the cores in `suspects` (a bit each): they stopped answering.
    Remove {
        /// The cores the round would remove.
        suspects: u64,
    },
    /// Adds `core`, started again as `incarnation`.
    Join {
        /// The core.
        core: CoreId,
        /// Its incarnation (how many times it was started before).
        incarnation: u32,
    },
    /// Removes `core` (incarnation `incarnation`), which asked to go off.
    Leave {
        /// The core.
        core: CoreId,
        /// Its incarnation.
        incarnation: u32,
    },
}

/// A membership message between two monitors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// Nothing else to say: still alive.
    Heartbeat,
    /// A step of a round making `change`.
    Round {
        /// The agreement message.
        msg: Msg,
        /// What the round changes.
        change: Change,
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
    /// `core` joined as `incarnation` by agreement (on every replica; on the initiator once
    /// every voter added it).
    Joined {
        /// The core.
        core: CoreId,
        /// Its incarnation.
        incarnation: u32,
    },
    /// The join round this core started about `core` did not commit (a voter refused, or did
    /// not answer in time); nothing changed.
    JoinRefused {
        /// The core.
        core: CoreId,
    },
    /// `core` left by agreement (on every replica; on the leaving core itself once every other
    /// core removed it: it may go off now).
    Left {
        /// The core.
        core: CoreId,
        /// On the leaving core: whether every other core answered the commit (else the round
        /// gave up waiting in commit, where the decision stands: those that did not answer
        /// are silent, and are suspected as such). Elsewhere always true.
        all_answered: bool,
    },
    /// The leave round this core started about itself did not commit; it is still a member.
    LeaveRefused,
}

struct Initiated {
    round: u32,
    change: Change,
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
    /// Per core, the newest incarnation this replica has seen join (0: as booted).
    incarnation: Vec<u32>,
    /// A join or leave asked for while a round was under way: started once it ends.
    pending: Vec<Change>,
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
    steps: Vec<(CoreId, Msg, Change)>,
}

/// Bits of a round number that say which core started it (rounds from different initiators
/// must not collide in the agreement's bookkeeping).
const INITIATOR_SHIFT: u32 = 24;
/// Bits of a round number, below the initiator's, that hold the initiator's incarnation (its
/// low bits): a core started again counts its rounds from 0 again, and these keep its rounds
/// apart from those of the incarnation before.
const INCARNATION_SHIFT: u32 = 16;

impl Membership {
    /// Core `me`'s replica, with `live` (a bit per core, `me` included) alive as of `now`.
    pub fn new(me: CoreId, cores: usize, live: u64, config: Config, now: u64) -> Membership {
        Membership {
            me,
            config,
            live: live | bit(me),
            incarnation: alloc::vec![0; cores],
            pending: Vec::new(),
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

    /// Core `me`'s replica once it joined again as `incarnation` (the cores in `live` are the
    /// ones that agreed to its join).
    pub fn rejoined(
        me: CoreId,
        cores: usize,
        live: u64,
        incarnation: u32,
        config: Config,
        now: u64,
    ) -> Membership {
        let mut membership = Membership::new(me, cores, live, config, now);
        if let Some(own) = membership.incarnation.get_mut(me) {
            *own = incarnation;
        }
        membership
    }

    /// The newest incarnation of `core` this replica knows.
    pub fn incarnation(&self, core: CoreId) -> u32 {
        self.incarnation.get(core).copied().unwrap_or(0)
    }

    /// Asks the live cores to add `core`, started again as `incarnation`: a join round this
    /// core starts as soon as no other round of its own is under way. Refused at once
    /// ([`Event::JoinRefused`]) if this replica counts the core live or knows as new an
    /// incarnation.
    pub fn request_join(&mut self, core: CoreId, incarnation: u32) {
        if core >= self.last_heard.len() || self.is_live(core) || incarnation <= self.incarnation(core) {
            self.events.push(Event::JoinRefused { core });
            return;
        }
        self.pending.push(Change::Join { core, incarnation });
    }

    /// Asks the other live cores to remove this core, which goes off once they did
    /// ([`Event::Left`] about itself).
    pub fn request_leave(&mut self) {
        let incarnation = self.incarnation(self.me);
        self.pending.push(Change::Leave { core: self.me, incarnation });
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
        let pending = (!self.pending.is_empty() && self.initiated.is_none()).then_some(0);
        [heartbeat, suspicion, round, pending].into_iter().flatten().min().unwrap_or(u64::MAX)
    }

    /// Time passed, and every channel was read: the round steps received, heartbeats due,
    /// suspicions, a round that waited too long.
    pub fn tick(&mut self, now: u64) {
        for (from, msg, change) in core::mem::take(&mut self.steps) {
            if self.is_live(from) {
                self.round_message(from, msg, change, now);
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
                self.start_round(Change::Remove { suspects }, now);
            } else if !self.pending.is_empty() {
                let change = self.pending.remove(0);
                self.start_round(change, now);
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
            Wire::Round { msg, change } => self.steps.push((from, msg, change)),
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

    fn start_round(&mut self, change: Change, now: u64) {
        // The cores a round is about do not vote on it (a leaving core runs its own round).
        let subjects = match change {
            Change::Remove { suspects } => suspects,
            Change::Join { core, .. } => bit(core),
            Change::Leave { .. } => 0,
        };
        let voters: Vec<CoreId> = self.peers().into_iter().filter(|&c| subjects & bit(c) == 0).collect();
        let route = Route::broadcast(self.me, &voters);
        let incarnation = self.incarnation(self.me) & 0xff;
        let counter = self.next_round & ((1 << INCARNATION_SHIFT) - 1);
        let round = ((self.me as u32) << INITIATOR_SHIFT) | (incarnation << INCARNATION_SHIFT) | counter;
        self.next_round = self.next_round.wrapping_add(1);
        let silent_since_ns = match change {
            Change::Remove { suspects } => (0..self.last_heard.len())
                .filter(|&c| suspects & bit(c) != 0)
                .map(|c| (c, self.last_heard[c]))
                .collect(),
            _ => Vec::new(),
        };
        let mut actions = Vec::new();
        let mut apply = self.applier(change, now);
        let two_phase = TwoPhase::start(&mut self.node, &route, round, &mut apply, &mut actions);
        self.initiated =
            Some(Initiated { round, change, route, two_phase, started_ns: now, silent_since_ns });
        self.run(actions, change, now);
    }

    /// This core's vote in a round making `change` (every phase but *prepare* is a yes). A
    /// removal: yes only if it has not heard from any suspect for half the suspicion time
    /// either. A join: yes only if it does not count the core live and knows no incarnation of
    /// it as new. A leave: yes only if it counts that incarnation (or an older one) live.
    fn applier(&self, change: Change, now: u64) -> impl FnMut(u32, Phase) -> bool {
        let yes = match change {
            Change::Remove { suspects } => {
                let half = self.config.suspect_after_ns / 2;
                (0..self.last_heard.len())
                    .filter(|&c| suspects & bit(c) != 0)
                    .all(|c| now.saturating_sub(self.last_heard[c]) >= half)
            }
            Change::Join { core, incarnation } => {
                core < self.last_heard.len() && !self.is_live(core) && incarnation > self.incarnation(core)
            }
            Change::Leave { core, incarnation } => {
                self.is_live(core) && incarnation >= self.incarnation(core)
            }
        };
        move |_, phase| phase != Phase::Prepare || yes
    }

    fn round_message(&mut self, from: CoreId, msg: Msg, change: Change, now: u64) {
        let ours = self.initiated.as_ref().is_some_and(|r| r.round == msg.round);
        let route = match &self.initiated {
            Some(r) if ours => r.route.clone(),
            _ => Route::broadcast(from, &[self.me]),
        };
        let mut actions = Vec::new();
        let mut apply = self.applier(change, now);
        self.node.receive(&route, from, msg, &mut apply, &mut actions);
        if !ours && msg.kind == Kind::Request && msg.phase == Phase::Commit {
            self.commit(change, now);
        }
        if ours {
            if let Some(r) = self.initiated.as_mut() {
                let mut apply = |_: u32, _: Phase| true;
                r.two_phase.drain_completions(&mut self.node, &r.route, &mut apply, &mut actions);
            }
        }
        self.run(actions, change, now);
    }

    /// A voter's part of a committed round.
    fn commit(&mut self, change: Change, now: u64) {
        match change {
            Change::Remove { suspects } => {
                for core in (0..64).filter(|&c| suspects & bit(c) != 0) {
                    self.remove(core, 0, 0, 0);
                }
            }
            Change::Join { core, incarnation } => self.add(core, incarnation, now),
            Change::Leave { core, incarnation } => {
                if self.is_live(core) && incarnation >= self.incarnation(core) && core != self.me {
                    self.live &= !bit(core);
                    self.events.push(Event::Left { core, all_answered: true });
                }
            }
        }
    }

    /// Adds `core` as `incarnation`, unless as new an incarnation is known (a join agreed
    /// twice, or one older than the last).
    fn add(&mut self, core: CoreId, incarnation: u32, now: u64) {
        if core >= self.last_heard.len() || self.is_live(core) || incarnation <= self.incarnation(core) {
            return;
        }
        self.live |= bit(core);
        self.incarnation[core] = incarnation;
        // A fresh start: its silence counts from now, and it gets a heartbeat at once.
        self.last_heard[core] = now;
        self.last_sent[core] = 0;
        self.aborted_at[core] = 0;
        self.events.push(Event::Joined { core, incarnation });
    }

    /// Sends what the agreement asked for and ends the round once it has an outcome.
    fn run(&mut self, actions: Vec<Action>, change: Change, now: u64) {
        for action in actions {
            if let Action::Send { to, msg } = action {
                self.outbox.push((to, Wire::Round { msg, change }));
                self.sent(to, now);
            }
        }
        let Some(outcome) = self.initiated.as_ref().and_then(|r| r.two_phase.outcome().cloned()) else {
            return;
        };
        let Some(round) = self.initiated.take() else { return };
        // Given up in commit, the decision stands: the cores that answered made the change.
        let committed = matches!(outcome, Outcome::Committed | Outcome::Failed { phase: Phase::Commit, .. });
        match (round.change, committed) {
            (Change::Join { core, incarnation }, true) => self.add(core, incarnation, now),
            (Change::Join { core, .. }, false) => self.events.push(Event::JoinRefused { core }),
            (Change::Leave { core, .. }, true) => {
                self.live &= !bit(core);
                let all_answered = outcome == Outcome::Committed;
                self.events.push(Event::Left { core, all_answered });
            }
            (Change::Leave { .. }, false) => self.events.push(Event::LeaveRefused),
            (Change::Remove { .. }, _) => {}
        }
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
        let change = round.change;
        self.run(actions, change, now);
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
