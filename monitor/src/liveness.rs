//! The monitor's side of the membership (`monitor::membership`): heartbeats and rounds over the
//! monitors' channels, what a removal changes here (the peers this monitor talks to, the SKB
//! replica, the channel to the removed core), and stopping when this core is evicted.

use alloc::string::String;
use alloc::vec::Vec;

use monitor::membership::{Config, Event, Membership, Wire};
use monitor::messages::{Evicted, Heartbeat, MembershipStep};
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
            self.faults_epoch_ns = now;
            // Every monitor draws the same seeded faults: the same seed, the same live cores.
            self.faults.draw(self.online);
            let dropped = self.faults.keep_live(self.online);
            if dropped > 0 && self.core == self.coordinator {
                println!("faults: {dropped} injections name cores that are not online; left out");
            }
            if self.faults.malformed > 0 && self.core == self.coordinator {
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
        if core == self.coordinator {
            self.coordinator_failed(core);
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

    /// The core that coordinated the run (the boot core, or the one that took over from it)
    /// was removed: every survivor takes the lowest live core as the coordinator from now on
    /// (they agree: the same membership), and that core's monitor takes the console over
    /// (its kernel drains every core's ring from now on) and the run ([`Self::carry_on`],
    /// from its main loop).
    fn coordinator_failed(&mut self, core: u64) {
        let Some(successor) = self.lowest_live() else { return };
        self.coordinator = successor;
        if successor != self.core {
            return;
        }
        let console = match userland::console_take_over(core) {
            Ok(()) => String::from("the console"),
            Err(e) => alloc::format!("not the console ({e:?})"),
        };
        println!("monitor {}: core {core} coordinated the run and failed; this core takes the run and {console} over", self.core);
        self.took_over = true;
    }

    /// The rest of the run after this core took it over: the fault report and the end of the
    /// run. A benchmark or selftest the failed core was running cannot be finished (its own
    /// measurements and checks ended with it), so such a run ends as failed.
    pub(crate) fn carry_on(&mut self) {
        self.took_over = false;
        let flags = userland::info(userland::Info::Flags).unwrap_or(0);
        let mut unfinished = Vec::new();
        if flags & userland::FLAG_BENCH != 0 {
            unfinished.push("the latency benchmark");
        }
        if self.options.unmap {
            unfinished.push("the unmap benchmark");
        }
        if flags & userland::FLAG_SELFTEST != 0 {
            unfinished.push("the selftest");
        }
        if !unfinished.is_empty() {
            println!(
                "monitor {}: {} cannot be finished without the failed coordinator's part; ending the run as failed",
                self.core,
                unfinished.join(" and ")
            );
            let _ = userland::power_off_failed();
            return;
        }
        self.await_faults();
        let _ = userland::power_off();
    }
}
