//! The monitor's side of the membership (`monitor::membership`): heartbeats and rounds over the
//! monitors' channels, what a removal changes here (the peers this monitor talks to, the SKB
//! replica, the channel to the removed core), stopping when this core is evicted, and the
//! faults the command line injects (`monitor::faults`).

use alloc::string::String;
use alloc::vec::Vec;

use monitor::faults::Kind;
use monitor::membership::{Config, Event, Membership, Wire};
use monitor::messages::{Evicted, Heartbeat, MembershipStep, Probe};
use userland::println;

use crate::Monitor;

impl Monitor {
    /// Starts the failure detector once the roll call said who is online.
    pub(crate) fn start_membership(&mut self) {
        if self.membership.is_none() && self.online != 0 {
            let now = self.now_ns();
            let cores = self.links.len();
            self.membership =
                Some(Membership::new(self.core as usize, cores, self.online, Config::MONITOR, now));
            // Every monitor draws the same seeded faults: the same seed, the same live cores.
            self.faults.draw(self.online, self.boot as u32);
            let dropped = self.faults.keep_live(self.online);
            if dropped > 0 && self.core == self.boot {
                println!("faults: {dropped} injections name cores that are not online; left out");
            }
            if self.faults.malformed > 0 && self.core == self.boot {
                println!("faults: {} items of faults= could not be read; left out", self.faults.malformed);
            }
        }
    }

    /// A sign of life from `peer`.
    pub(crate) fn heard_from(&mut self, peer: u64, now: u64) {
        if let Some(membership) = self.membership.as_mut() {
            membership.heard(peer as usize, now);
        }
    }

    /// Whether messages from `peer` still count (it was not removed).
    pub(crate) fn peer_counts(&self, peer: u64) -> bool {
        self.membership.as_ref().is_none_or(|m| m.is_live(peer as usize))
    }

    /// A membership message from `peer`.
    pub(crate) fn on_membership(&mut self, peer: u64, wire: Wire) {
        let now = self.now_ns();
        if let Some(membership) = self.membership.as_mut() {
            membership.receive(peer as usize, wire, now);
        }
    }

    /// Runs the detector: heartbeats due, suspicions, rounds; then acts on what it decided.
    /// A change is acted on before this core's answers go out (only the eviction notices,
    /// addressed to cores a change removes, go first, while their channels are still there):
    /// once a round's initiator has every answer, each voter has swept the objects of a core
    /// that left, so the core may be powered off and its memory used again. The channel to a
    /// core that left goes last (the answer to its own leave round travels on it); nothing
    /// is written to it after that answer.
    pub(crate) fn membership_step(&mut self) {
        let now = self.now_ns();
        let Some(membership) = self.membership.as_mut() else { return };
        membership.tick(now);
        let messages = membership.take_messages();
        let events = membership.take_events();
        let me = self.core as u32;
        let (evictions, messages): (Vec<_>, Vec<_>) =
            messages.into_iter().partition(|(_, wire)| matches!(wire, Wire::Evicted));
        for (to, _) in evictions {
            self.send(to as u64, &Evicted { by: me });
        }
        for event in events {
            match event {
                Event::Failed { core, silent_ns, detected_by, detection_ns } => {
                    self.core_failed(core as u64, silent_ns, detected_by, detection_ns)
                }
                Event::Evicted { by } => {
                    println!(
                        "monitor {me}: evicted by core {by} (the others declared this core failed); it stops"
                    );
                    self.stopped = true;
                }
                other => self.hotplug_event(other),
            }
        }
        for (to, wire) in messages {
            match wire {
                // No wake-up: the peer reads it when its own heartbeat is due at the latest.
                Wire::Heartbeat => self.send_quietly(to as u64, &Heartbeat { from: me }),
                Wire::Evicted => {}
                Wire::Round { .. } => {
                    if let Some(step) = MembershipStep::from_wire(wire) {
                        self.send(to as u64, &step);
                    }
                }
            }
        }
        self.drop_left_channels();
    }

    /// The survivors agreed that `core` failed: it is no longer a peer, its channel is torn
    /// down (what waits for it is dropped), the SKB replica marks it offline, so that every
    /// query (multicast tree, cores of a class, cheapest peer) leaves it out, and the capability
    /// protocol gives up at once on what waits for it (rounds through it fail, transfers to it
    /// are unanswered) rather than at its deadline.
    fn core_failed(&mut self, core: u64, silent_ns: u64, detected_by: usize, detection_ns: u64) {
        self.online &= !(1 << core);
        self.capops_give_up_on(core);
        let dropped = self.outbox.forget(core as usize);
        if let Some(link) = self.links.get_mut(core as usize) {
            *link = None;
        }
        let silent_ms = silent_ns / 1_000_000;
        if let Some(skb) = self.skb.as_mut() {
            skb.mark_offline(core as usize, alloc::format!("failed: no message for {silent_ms} ms"));
        }
        // A core that stopped before saying hello no longer holds up this monitor's binding.
        self.check_bound();
        if core == self.boot && self.lowest_live() == Some(self.core) {
            // The boot core coordinated this run and printed the console: without it the run
            // cannot end as it should, so the lowest live core ends it, as failed, after its
            // kernel printed what every core's console ring holds.
            println!("monitor {}: the boot core {core} failed; this core ends the run as failed", self.core);
            let _ = userland::power_off_failed();
        }
        let live: Vec<String> =
            (0..64).filter(|&c| self.online & (1 << c) != 0).map(|c| alloc::format!("{c}")).collect();
        if detected_by > 0 {
            println!(
                "core {core} failed: no message for {silent_ms} ms (detected by {detected_by} monitors in {} us)",
                detection_ns / 1000
            );
            println!("membership: [{}]", live.join(", "));
        } else {
            println!(
                "monitor {}: core {core} removed; live [{}]{}",
                self.core,
                live.join(", "),
                if dropped > 0 {
                    alloc::format!(", {dropped} queued messages to it dropped")
                } else {
                    String::new()
                }
            );
        }
    }

    /// The capability protocol gives up at once on what waits for `core`, no longer a member.
    pub(crate) fn capops_give_up_on(&mut self, core: u64) {
        let now = self.now_ns();
        self.capops.core_removed(core as usize, now);
        let mut kernel = self.kernel_caps();
        self.capops.poll(&mut kernel, now);
        self.after_capops();
    }

    /// The lowest-numbered live core.
    fn lowest_live(&self) -> Option<u64> {
        (0..64).find(|&c| self.online & (1 << c) != 0)
    }

    /// Carries out what the command line injects on this core, once it is due.
    pub(crate) fn inject_due_faults(&mut self) {
        if self.stopped || self.faults.injections.is_empty() {
            return;
        }
        let elapsed_ms = self.now_ns().saturating_sub(self.started_ns) / 1_000_000;
        let due = self.faults.for_core(self.core as u32).find(|i| elapsed_ms >= i.at_ms).copied();
        if let Some(injection) = due {
            match injection.kind {
                Kind::Hang => {
                    println!("monitor {}: fault injected: hang at {} ms", self.core, injection.at_ms);
                    self.stopped = true;
                }
            }
        }
    }

    /// The boot core's monitor, with faults injected: waits until the survivors removed every
    /// core a fault stopped (or the bound passed), checks that no message between survivors
    /// is lost or duplicated ([`Self::probe_survivors`]), then reports each injection and the
    /// sum.
    pub(crate) fn await_faults(&mut self) {
        let injected = self.faults.cores() & !(1 << self.core);
        if injected == 0 {
            return;
        }
        let last_ms = self.faults.injections.iter().map(|i| i.at_ms).max().unwrap_or(0);
        let bound_s = last_ms / 1000 + FAULT_DETECTION_BOUND_SECONDS;
        let started = self.now_ns();
        let removed = self.wait_for(bound_s, |m| m.online & injected == 0);
        let elapsed_ms = (self.now_ns() - started) / 1_000_000;
        let survivors_live = self.membership.as_ref().is_some_and(|m| m.live() == self.online);
        let lost = self.probe_survivors();
        let mut survived = 0;
        for injection in &self.faults.injections {
            let gone = self.online & (1 << injection.core) == 0;
            survived += u32::from(gone && survivors_live && lost == 0);
            println!(
                "fault hang:{}@{}: {}",
                injection.core,
                injection.at_ms,
                if gone { "removed by every survivor" } else { "still counted live" }
            );
        }
        println!(
            "faults: {} injected, {survived} survived, {lost} messages lost, {} hangs{}",
            self.faults.injections.len(),
            u32::from(!removed),
            if removed { alloc::format!(" ({elapsed_ms} ms)") } else { String::new() }
        );
    }
}

impl Monitor {
    /// Sends [`PROBES`] numbered probes to every surviving peer and counts what does not come
    /// back exactly once (lost, duplicated, or from a core that was not asked).
    pub(crate) fn probe_survivors(&mut self) -> u32 {
        self.probe_echoes.clear();
        let peers: Vec<u64> = (0..64).filter(|&p| self.peers() & (1 << p) != 0).collect();
        for &peer in &peers {
            for seq in 0..PROBES {
                self.send(peer, &Probe { seq });
            }
        }
        let expected = peers.len() * PROBES as usize;
        self.wait_for(PROBE_TIMEOUT_SECONDS, |m| m.probe_echoes.len() >= expected);
        lost_probes(&peers, core::mem::take(&mut self.probe_echoes))
    }
}

/// Of [`PROBES`] probes sent to each of `peers`, how many `echoes` (from, number) do not
/// account for exactly once: lost, duplicated, or from a core that was not asked.
pub(crate) fn lost_probes(peers: &[u64], mut echoes: Vec<(u64, u32)>) -> u32 {
    let expected = peers.len() * PROBES as usize;
    echoes.sort_unstable();
    let arrived = echoes.len();
    echoes.dedup();
    let duplicated = arrived - echoes.len();
    let asked = echoes.iter().filter(|(peer, seq)| peers.contains(peer) && *seq < PROBES).count();
    (expected - asked + duplicated + (echoes.len() - asked)) as u32
}

/// Probes per surviving peer after faults.
pub(crate) const PROBES: u32 = 64;
/// How long the probes' echoes may take.
const PROBE_TIMEOUT_SECONDS: u64 = 10;

/// How long after the last injection the survivors have to remove every faulty core: the
/// detector's bound (under a second) with room for an emulator that runs six cores on two.
const FAULT_DETECTION_BOUND_SECONDS: u64 = 10;
