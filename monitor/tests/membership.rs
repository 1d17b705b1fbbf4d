//! The membership protocol over a simulated machine: cores that run, stop, or pause (a vCPU the
//! host does not schedule), FIFO links with random delays, many seeds. Checks that every
//! survivor removes a stopped core within the stated bound, that a briefly paused core is never
//! removed, that a core paused too long is removed and told so, and that the survivors'
//! replicas always end equal. Hotplug: a core leaves by agreement, rejoins as a new
//! incarnation, can leave again; a join naming an incarnation that is not newer is refused.

use std::collections::VecDeque;

use monitor::membership::{Config, Event, Membership, Wire};

const MS: u64 = 1_000_000;
const CONFIG: Config =
    Config { heartbeat_ns: 50 * MS, suspect_after_ns: 300 * MS, round_timeout_ns: 300 * MS };
/// How long after its last message a stopped core is gone from every survivor's replica: the
/// suspicion time, a round (at most its timeout), and a second one if the first was started
/// while another core's clock had not yet run out (twice), with the links' delay.
const REMOVAL_BOUND: u64 = 2 * CONFIG.suspect_after_ns + 2 * CONFIG.round_timeout_ns + 100 * MS;
const STEP: u64 = 5 * MS;

/// A small deterministic generator (xorshift), so that every failure names its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    /// Stopped for good (a panic, a core parked with interrupts masked).
    Stopped,
    /// Not scheduled until this time.
    PausedUntil(u64),
}

struct Machine {
    cores: Vec<Membership>,
    state: Vec<State>,
    /// Per (from, to): messages in flight with their delivery times, in order.
    links: Vec<VecDeque<(u64, Wire)>>,
    now: u64,
    rng: Rng,
    max_delay: u64,
    /// When each core was removed, per replica.
    removed_at: Vec<Vec<Option<u64>>>,
    evicted: Vec<bool>,
    /// Per (from, to): nothing is delivered before this time (a link that stalls).
    stalled_until: Vec<u64>,
    /// Per replica, the joins and leaves it reported, in order.
    changes: Vec<Vec<Event>>,
}

impl Machine {
    fn new(n: usize, seed: u64, max_delay: u64) -> Machine {
        let live = (1u64 << n) - 1;
        Machine {
            cores: (0..n).map(|c| Membership::new(c, n, live, CONFIG, 0)).collect(),
            state: vec![State::Running; n],
            links: (0..n * n).map(|_| VecDeque::new()).collect(),
            now: 0,
            rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            max_delay,
            removed_at: vec![vec![None; n]; n],
            evicted: vec![false; n],
            stalled_until: vec![0; n * n],
            changes: vec![Vec::new(); n],
        }
    }

    fn n(&self) -> usize {
        self.cores.len()
    }

    fn runs(&self, core: usize) -> bool {
        match self.state[core] {
            State::Running => true,
            State::Stopped => false,
            State::PausedUntil(t) => self.now >= t,
        }
    }

    /// One step of simulated time: deliveries due to running cores, then every running core's
    /// tick; what they send goes onto the links with a delay that keeps each link FIFO.
    fn step(&mut self) {
        self.now += STEP;
        let n = self.n();
        for to in 0..n {
            if !self.runs(to) {
                continue;
            }
            for from in 0..n {
                while let Some(&(due, wire)) = self.links[from * n + to].front() {
                    if due > self.now || self.stalled_until[from * n + to] > self.now {
                        break;
                    }
                    self.links[from * n + to].pop_front();
                    self.cores[to].receive(from, wire, self.now);
                }
            }
            self.cores[to].tick(self.now);
            for (dest, wire) in self.cores[to].take_messages() {
                let link = &mut self.links[to * n + dest];
                let earliest = link.back().map_or(0, |&(t, _)| t);
                let due = (self.now + self.rng.below(self.max_delay)).max(earliest);
                link.push_back((due, wire));
            }
            for event in self.cores[to].take_events() {
                match event {
                    Event::Failed { core, .. } => {
                        let at = &mut self.removed_at[to][core];
                        assert!(at.is_none(), "core {to} removed core {core} twice");
                        *at = Some(self.now);
                    }
                    Event::Evicted { .. } => self.evicted[to] = true,
                    other => self.changes[to].push(other),
                }
            }
        }
    }

    /// Core `core` goes off: it stops, and what is in flight on its links is gone (the boot
    /// core's kernel zeroes its channels before starting it again).
    fn power_off(&mut self, core: usize) {
        let n = self.n();
        self.state[core] = State::Stopped;
        for other in 0..n {
            self.links[core * n + other].clear();
            self.links[other * n + core].clear();
        }
    }

    /// Core `core` runs again as `incarnation`, with a fresh replica of `live`.
    fn power_on(&mut self, core: usize, live: u64, incarnation: u32) {
        let n = self.n();
        self.cores[core] = Membership::rejoined(core, n, live, incarnation, CONFIG, self.now);
        self.state[core] = State::Running;
        self.evicted[core] = false;
    }

    fn run_until(&mut self, t: u64) {
        while self.now < t {
            self.step();
        }
    }

    fn survivors(&self) -> Vec<usize> {
        (0..self.n()).filter(|&c| self.state[c] == State::Running).collect()
    }

    /// Every survivor's replica is the same set: the survivors.
    fn assert_converged(&self, what: &str) {
        let want: u64 = self.survivors().iter().map(|&c| 1u64 << c).sum();
        for c in self.survivors() {
            assert_eq!(
                self.cores[c].live(),
                want,
                "{what}: core {c}'s replica {:#b}, want {want:#b}",
                self.cores[c].live()
            );
        }
    }
}

#[test]
fn nobody_is_removed_while_every_core_runs() {
    for seed in 0..20 {
        let mut m = Machine::new(6, seed, 40 * MS);
        m.run_until(10_000 * MS);
        m.assert_converged(&format!("seed {seed}"));
        assert!(
            m.removed_at.iter().flatten().all(Option::is_none),
            "seed {seed}: a running core was removed"
        );
    }
}

#[test]
fn a_stopped_core_is_removed_by_every_survivor_within_the_bound() {
    for seed in 0..40 {
        let mut m = Machine::new(6, seed, 20 * MS);
        m.run_until(500 * MS);
        let dead = 1 + m.rng.below(5) as usize;
        let stopped_at = m.now;
        m.state[dead] = State::Stopped;
        m.run_until(stopped_at + REMOVAL_BOUND + 500 * MS);
        m.assert_converged(&format!("seed {seed}, core {dead} stopped"));
        for c in m.survivors() {
            let at =
                m.removed_at[c][dead].unwrap_or_else(|| panic!("seed {seed}: core {c} never removed {dead}"));
            assert!(
                at - stopped_at <= REMOVAL_BOUND,
                "seed {seed}: core {c} took {} ms",
                (at - stopped_at) / MS
            );
        }
    }
}

#[test]
fn the_boot_core_and_two_cores_at_once_are_removed_too() {
    for seed in 0..20 {
        let mut m = Machine::new(6, seed, 20 * MS);
        m.run_until(400 * MS);
        m.state[0] = State::Stopped;
        m.state[3] = State::Stopped;
        m.run_until(400 * MS + REMOVAL_BOUND + 600 * MS);
        m.assert_converged(&format!("seed {seed}, cores 0 and 3 stopped"));
    }
}

#[test]
fn a_briefly_paused_core_stays_and_a_long_paused_one_is_evicted() {
    for seed in 0..20 {
        let mut m = Machine::new(4, seed, 10 * MS);
        m.run_until(300 * MS);
        // Less than half the suspicion time: no survivor may vote it out.
        m.state[2] = State::PausedUntil(m.now + CONFIG.suspect_after_ns / 2 - 20 * MS);
        m.run_until(3_000 * MS);
        m.state[2] = State::Running;
        m.assert_converged(&format!("seed {seed}, short pause"));
        assert!(!m.evicted[2]);

        // Far longer than the bound: removed; once it runs again it hears it was evicted.
        let paused_at = m.now;
        m.state[2] = State::PausedUntil(paused_at + REMOVAL_BOUND + 500 * MS);
        m.run_until(paused_at + REMOVAL_BOUND + 2_000 * MS);
        assert!(m.evicted[2], "seed {seed}: the paused core was never told");
        for c in [0, 1, 3] {
            assert!(!m.cores[c].is_live(2), "seed {seed}: core {c} kept the paused core");
            assert_eq!(m.cores[c].live(), 0b1011, "seed {seed}");
        }
    }
}

#[test]
fn a_monitor_that_was_not_scheduled_accuses_nobody() {
    for seed in 0..20 {
        let mut m = Machine::new(4, seed, 10 * MS);
        m.run_until(300 * MS);
        // Core 0 (the one that starts rounds) is not scheduled for longer than the suspicion
        // time; the others' heartbeats wait in its links. On waking it must not remove them.
        m.state[0] = State::PausedUntil(m.now + 2 * CONFIG.suspect_after_ns);
        m.run_until(m.now + 4_000 * MS);
        for c in 1..4 {
            assert_eq!(m.removed_at[0][c], None, "seed {seed}: the core that slept removed core {c}");
        }
        // The others did not hear it for that long: it is gone, and it knows.
        assert!(m.evicted[0], "seed {seed}");
    }
}

#[test]
fn a_voter_that_was_not_scheduled_votes_no() {
    for seed in 0..20 {
        let mut m = Machine::new(3, seed, 5 * MS);
        m.run_until(300 * MS);
        let t0 = m.now;
        // Core 0 stops hearing core 2 and suspects it; core 1, the only other voter, is not
        // scheduled meanwhile: when it runs again it reads core 0's prepare before core 2's
        // heartbeats waiting in its other link, and must not take their absence for silence.
        m.stalled_until[2 * 3] = t0 + 2 * CONFIG.suspect_after_ns;
        m.state[1] = State::PausedUntil(t0 + CONFIG.suspect_after_ns + 100 * MS);
        m.run_until(t0 + CONFIG.suspect_after_ns + 150 * MS);
        m.state[1] = State::Running;
        m.run_until(t0 + 400 * MS + 2 * CONFIG.suspect_after_ns);
        m.assert_converged(&format!("seed {seed}"));
        assert!(!m.evicted[2], "seed {seed}");
    }
}

#[test]
fn a_core_that_only_one_monitor_cannot_hear_stays() {
    for seed in 0..20 {
        let mut m = Machine::new(4, seed, 10 * MS);
        m.run_until(300 * MS);
        // Core 0 (the lowest, so the one that starts rounds) hears nothing from core 3 for a
        // while; cores 1 and 2 hear it as usual and vote no.
        m.stalled_until[3 * 4] = m.now + 2 * CONFIG.suspect_after_ns;
        m.run_until(m.now + 4_000 * MS);
        m.assert_converged(&format!("seed {seed}"));
        assert!(!m.evicted[3], "seed {seed}");
    }
}

#[test]
fn random_failures_converge() {
    for seed in 0..100 {
        let mut m = Machine::new(6, seed, 30 * MS);
        let kills = 1 + m.rng.below(3);
        let mut end = 0;
        for _ in 0..kills {
            let at = m.now + m.rng.below(1_500 * MS);
            m.run_until(at);
            let victim = m.rng.below(6) as usize;
            if m.survivors().len() > 2 {
                m.state[victim] = State::Stopped;
            }
            end = m.now;
        }
        m.run_until(end + 2 * REMOVAL_BOUND);
        m.assert_converged(&format!("seed {seed}"));
    }
}

/// Core `core` leaves by its own round and goes off once it reports [`Event::Left`].
fn leave(m: &mut Machine, core: usize, seed: u64) {
    m.changes[core].clear();
    m.cores[core].request_leave();
    let asked = m.now;
    while !m.changes[core].contains(&Event::Left { core, all_answered: true }) {
        assert!(
            !m.changes[core].iter().any(|e| matches!(e, Event::Left { .. })),
            "seed {seed}: core {core}'s leave committed without every answer"
        );
        assert!(m.now - asked < 2_000 * MS, "seed {seed}: core {core}'s leave never committed");
        m.step();
    }
    m.power_off(core);
}

/// Core `by` runs the join of `core` as `incarnation`, which then runs again with the live set.
fn join(m: &mut Machine, by: usize, core: usize, incarnation: u32, seed: u64) {
    m.cores[by].request_join(core, incarnation);
    let asked = m.now;
    let joined = Event::Joined { core, incarnation };
    while !m.changes[by].contains(&joined) {
        assert!(
            !m.changes[by].contains(&Event::JoinRefused { core }),
            "seed {seed}: the join of core {core} as {incarnation} was refused"
        );
        assert!(m.now - asked < 2_000 * MS, "seed {seed}: the join of core {core} never committed");
        m.step();
    }
    let live = m.cores[by].live();
    m.power_on(core, live, incarnation);
}

#[test]
fn a_core_leaves_rejoins_as_a_new_incarnation_and_leaves_again() {
    for seed in 0..30 {
        let mut m = Machine::new(5, seed, 20 * MS);
        m.run_until(300 * MS);
        let core = 1 + m.rng.below(4) as usize;
        leave(&mut m, core, seed);
        m.run_until(m.now + 200 * MS);
        m.assert_converged(&format!("seed {seed}, core {core} off"));
        for c in m.survivors() {
            assert!(
                m.changes[c].contains(&Event::Left { core, all_answered: true }),
                "seed {seed}: core {c} missed the leave"
            );
        }
        // Off for longer than the suspicion time: nobody accuses it (it is no member).
        m.run_until(m.now + 3 * CONFIG.suspect_after_ns);
        join(&mut m, 0, core, 1, seed);
        m.run_until(m.now + 3_000 * MS);
        m.assert_converged(&format!("seed {seed}, core {core} back"));
        for c in m.survivors() {
            assert_eq!(m.cores[c].incarnation(core), 1, "seed {seed}: core {c}");
        }
        assert!(m.removed_at.iter().flatten().all(Option::is_none), "seed {seed}: a member was removed");
        // Its next incarnation counts its rounds from 0 again: they are new rounds to the
        // others all the same.
        leave(&mut m, core, seed);
        m.run_until(m.now + 500 * MS);
        m.assert_converged(&format!("seed {seed}, core {core} off again"));
        join(&mut m, 0, core, 2, seed);
        m.run_until(m.now + 2_000 * MS);
        m.assert_converged(&format!("seed {seed}, core {core} back again"));
    }
}

#[test]
fn a_join_that_names_no_newer_incarnation_is_refused_by_the_voters() {
    for seed in 0..20 {
        let mut m = Machine::new(4, seed, 10 * MS);
        m.run_until(300 * MS);
        leave(&mut m, 2, seed);
        join(&mut m, 0, 2, 1, seed);
        leave(&mut m, 2, seed);
        m.run_until(m.now + 200 * MS);
        // Core 3 went off and came back meanwhile: its fresh replica knows no incarnation of
        // core 2, so it starts a round for a stale request (incarnation 1 already joined and
        // left); the others know better and refuse it.
        leave(&mut m, 3, seed);
        join(&mut m, 0, 3, 1, seed);
        m.run_until(m.now + 300 * MS);
        assert_eq!(m.cores[3].incarnation(2), 0, "seed {seed}");
        m.cores[3].request_join(2, 1);
        let asked = m.now;
        while !m.changes[3].contains(&Event::JoinRefused { core: 2 }) {
            assert!(m.now - asked < 2_000 * MS, "seed {seed}: the stale join neither committed nor failed");
            m.step();
        }
        m.run_until(m.now + 500 * MS);
        for c in m.survivors() {
            assert!(!m.cores[c].is_live(2), "seed {seed}: core {c} took the stale join");
        }
        m.assert_converged(&format!("seed {seed}"));
        // The same replica refuses at once what it knows to be stale.
        m.cores[0].request_join(2, 1);
        m.cores[0].request_join(1, 5);
        m.step();
        assert!(m.changes[0].contains(&Event::JoinRefused { core: 2 }), "seed {seed}");
        assert!(m.changes[0].contains(&Event::JoinRefused { core: 1 }), "seed {seed}: core 1 is live");
    }
}

#[test]
fn a_join_a_voter_does_not_answer_adds_nobody() {
    for seed in 0..10 {
        let mut m = Machine::new(4, seed, 10 * MS);
        m.run_until(300 * MS);
        leave(&mut m, 3, seed);
        // Core 2 is not scheduled while core 0 runs the join: the round times out and changes
        // nothing (core 2 is suspected in its turn if it stays silent).
        m.state[2] = State::PausedUntil(m.now + CONFIG.round_timeout_ns + 100 * MS);
        m.cores[0].request_join(3, 1);
        m.run_until(m.now + CONFIG.round_timeout_ns + 50 * MS);
        assert!(m.changes[0].contains(&Event::JoinRefused { core: 3 }), "seed {seed}");
        assert!(!m.cores[0].is_live(3) && !m.cores[1].is_live(3), "seed {seed}");
    }
}
