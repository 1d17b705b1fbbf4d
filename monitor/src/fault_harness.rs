//! The monitor's side of the fault harness (`monitor::faults`): carrying an injection out on
//! this core when it is due, and, on the boot core, judging afterwards whether the system
//! survived it. Every survivor probes every other survivor (all pairs, not only the boot
//! core's), and reports what it lost and which damaged lines and storms it saw.

use alloc::string::String;
use alloc::vec::Vec;

use monitor::faults::{Injection, Kind, STORM_MESSAGES};
use monitor::messages::{Probe, ProbeAll, ProbeReport, Storm, StormDone};
use userland::println;

use crate::Monitor;

/// Probes each survivor sends each other survivor after the faults.
const PROBES: u32 = 64;
/// How long a survivor waits for its probes' echoes.
const PROBE_TIMEOUT_SECONDS: u64 = 10;
/// How long the boot monitor waits for every survivor's report (longer than a survivor's own
/// probing may take).
const REPORT_TIMEOUT_SECONDS: u64 = 15;
/// How long after the last injection the survivors have to remove every core a fault stopped:
/// the detector's bound (under a second) with room for an emulator that runs six cores on two.
const FAULT_DETECTION_BOUND_SECONDS: u64 = 10;
/// After the last injection, time for damaged lines and storms to be read before the checks.
const SETTLE_MS: u64 = 1_000;

/// What one monitor saw of the faults: carried in [`ProbeReport`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Seen {
    /// Probes of this monitor that did not come back exactly once.
    pub lost: u32,
    /// Peers this monitor probed.
    pub peers: u32,
    /// Cores a damaged line came from (rejected here), a bit each.
    pub malformed_from: u64,
    /// Cores whose storm ended here ([`StormDone`] arrived), a bit each.
    pub storms_ended: u64,
    /// Storm messages announced but not received here.
    pub storm_lost: u32,
}

/// A survivor's probing of its peers, asked for by the boot monitor.
pub(crate) struct Probing {
    requester: u64,
    round: u32,
    peers: Vec<u64>,
    deadline_ns: u64,
}

/// The fault-harness state of one monitor.
#[derive(Default)]
pub(crate) struct Harness {
    /// Echoes of this monitor's probes: (from, number).
    echoes: Vec<(u64, u32)>,
    probing: Option<Probing>,
    /// Storm messages received, per sending core.
    storm_received: Vec<u32>,
    seen: Seen,
    /// (boot monitor) the reports that arrived: (from, what it saw).
    reports: Vec<(u64, Seen)>,
    /// Cores whose ring into this monitor went out of sync (reported once, no longer read).
    pub desynced: u64,
}

impl Monitor {
    /// Carries out what the command line injects on this core, once it is due.
    pub(crate) fn inject_due_faults(&mut self) {
        if self.stopped || self.faults.injections.is_empty() || self.membership.is_none() {
            return;
        }
        let elapsed_ms = self.now_ns().saturating_sub(self.faults_epoch_ns) / 1_000_000;
        let core = self.core as u32;
        let Some(index) = self.faults.injections.iter().position(|i| i.core == core && elapsed_ms >= i.at_ms)
        else {
            return;
        };
        let injection = self.faults.injections[index];
        // Carried out once: a fault that leaves the core live must not repeat on every pass.
        self.faults.injections[index].core = u32::MAX;
        self.faults_done.push(injection);
        println!("monitor {core}: fault injected: {} at {} ms", injection.kind.name(), injection.at_ms);
        match injection.kind {
            Kind::Hang => self.stopped = true,
            Kind::KernelPanic => {
                let refused = userland::inject_fault(userland::FAULT_KERNEL_PANIC);
                println!("monitor {core}: the kernel refused the panic: {refused:?}");
            }
            Kind::ParkMasked => {
                let refused = userland::inject_fault(userland::FAULT_PARK_MASKED);
                println!("monitor {core}: the kernel refused to park: {refused:?}");
            }
            Kind::El0Fault => {
                let value = userland::read_kernel_memory();
                println!("monitor {core}: read {value:#x} from kernel memory at EL0: isolation is broken");
            }
            Kind::CorruptLine => self.send_damaged_lines(),
            Kind::Storm => self.storm(),
        }
    }

    /// One damaged line on every outgoing ring, in order with the real messages: a header
    /// whose reserved bytes are not zero (the decoder's check) and a body of noise.
    fn send_damaged_lines(&mut self) {
        let mut noise = self.now_ns() | 1;
        let peers = self.peers();
        for peer in (0..64).filter(|&p| peers & (1 << p) != 0) {
            let mut words = [0u64; 7];
            for word in &mut words {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                *word = noise;
            }
            // A heartbeat's tag with the reserved bytes set, the way a flipped bit would.
            words[0] = u64::from(<monitor::messages::Heartbeat as urpc::Message>::TAG) | 0xdead_0000;
            self.send_payload(peer, urpc::Payload::from_words(words));
        }
    }

    /// [`STORM_MESSAGES`] to every peer at once, then the count: every ring fills and the
    /// outbox holds the rest, in order, until the peer makes room.
    fn storm(&mut self) {
        let peers = self.peers();
        for peer in (0..64).filter(|&p| peers & (1 << p) != 0) {
            for seq in 0..STORM_MESSAGES {
                self.send_quietly(peer, &Storm { seq });
            }
            self.send(peer, &StormDone { sent: STORM_MESSAGES });
        }
    }

    /// A storm message from `peer`.
    pub(crate) fn on_storm(&mut self, peer: u64) {
        let counts = &mut self.harness.storm_received;
        if counts.len() <= peer as usize {
            counts.resize(peer as usize + 1, 0);
        }
        counts[peer as usize] += 1;
    }

    /// The end of `peer`'s storm: everything it announced must have arrived before it.
    pub(crate) fn on_storm_done(&mut self, peer: u64, done: StormDone) {
        let received = self.harness.storm_received.get(peer as usize).copied().unwrap_or(0);
        let seen = &mut self.harness.seen;
        seen.storms_ended |= 1 << peer;
        seen.storm_lost += done.sent.abs_diff(received);
        if let Some(count) = self.harness.storm_received.get_mut(peer as usize) {
            *count = 0;
        }
    }

    /// A line from `peer` that does not decode: reported and dropped, the channel read on.
    pub(crate) fn on_malformed(&mut self, peer: u64, error: urpc::message::DecodeError) {
        println!("monitor {}: malformed message from core {peer} dropped: {error}", self.core);
        self.harness.seen.malformed_from |= 1 << peer;
    }

    /// The ring from `peer` broke the protocol (a sequence number no sender could write): the
    /// channel cannot be trusted, so it is no longer read; said once.
    pub(crate) fn on_desync(&mut self, peer: u64, error: urpc::RecvError) {
        if self.harness.desynced & (1 << peer) == 0 {
            self.harness.desynced |= 1 << peer;
            println!("monitor {}: channel from core {peer} dropped: {error}", self.core);
        }
    }

    /// The boot monitor asks this one to probe every other survivor.
    pub(crate) fn on_probe_all(&mut self, peer: u64, ask: ProbeAll) {
        self.start_probing(peer, ask.round);
    }

    fn start_probing(&mut self, requester: u64, round: u32) {
        self.harness.echoes.clear();
        let peers: Vec<u64> = (0..64).filter(|&p| self.peers() & (1 << p) != 0).collect();
        for &peer in &peers {
            for seq in 0..PROBES {
                self.send(peer, &Probe { seq });
            }
        }
        let deadline_ns = self.now_ns() + PROBE_TIMEOUT_SECONDS * 1_000_000_000;
        self.harness.probing = Some(Probing { requester, round, peers, deadline_ns });
    }

    /// An echo of one of this monitor's probes.
    pub(crate) fn on_probe_echo(&mut self, peer: u64, seq: u32) {
        self.harness.echoes.push((peer, seq));
    }

    /// A survivor's report to the boot monitor.
    pub(crate) fn on_probe_report(&mut self, peer: u64, report: ProbeReport) {
        let seen = Seen {
            lost: report.lost,
            peers: report.peers,
            malformed_from: report.malformed_from,
            storms_ended: report.storms_ended,
            storm_lost: report.storm_lost,
        };
        self.harness.reports.push((peer, seen));
    }

    /// Ends this monitor's probing once every echo is in or its time is up, and reports.
    pub(crate) fn probe_progress(&mut self) {
        let Some(probing) = self.harness.probing.as_ref() else { return };
        let expected = probing.peers.len() * PROBES as usize;
        if self.harness.echoes.len() < expected && self.now_ns() < probing.deadline_ns {
            return;
        }
        let Some(probing) = self.harness.probing.take() else { return };
        let mut echoes = core::mem::take(&mut self.harness.echoes);
        let lost = count_lost(&mut echoes, &probing.peers);
        let seen = Seen { lost, peers: probing.peers.len() as u32, ..self.harness.seen };
        if probing.requester == self.core {
            self.harness.reports.push((self.core, seen));
        } else {
            let report = ProbeReport {
                round: probing.round,
                lost,
                peers: seen.peers,
                malformed_from: seen.malformed_from,
                storms_ended: seen.storms_ended,
                storm_lost: seen.storm_lost,
            };
            self.send(probing.requester, &report);
        }
    }

    /// Sends this monitor's probes to every live peer and waits for the echoes; how many did
    /// not come back exactly once (after a hotplug cycle, say).
    pub(crate) fn probe_survivors(&mut self) -> u32 {
        let me = self.core;
        self.harness.reports.retain(|(core, _)| *core != me);
        self.start_probing(me, 0);
        self.wait_for(PROBE_TIMEOUT_SECONDS + 1, |m| m.harness.reports.iter().any(|(core, _)| *core == me));
        let expected = self.peers().count_ones();
        self.lost_in_report(me, expected)
    }

    /// Has `core` probe every other live core over its own channels; how many of its probes
    /// did not come back exactly once (all of them if it never reports).
    pub(crate) fn probe_from(&mut self, core: u64) -> u32 {
        self.harness.reports.retain(|(reporter, _)| *reporter != core);
        self.send(core, &ProbeAll { round: 0 });
        self.wait_for(REPORT_TIMEOUT_SECONDS, |m| {
            m.harness.reports.iter().any(|(reporter, _)| *reporter == core)
        });
        let expected = (self.online & !(1 << core)).count_ones();
        self.lost_in_report(core, expected)
    }

    /// What `core`'s report says was lost, counting every probe to a peer it should have
    /// probed but did not (`expected` peers), or every probe if no report came.
    fn lost_in_report(&self, core: u64, expected: u32) -> u32 {
        match self.harness.reports.iter().find(|(reporter, _)| *reporter == core) {
            Some((_, seen)) => seen.lost + expected.abs_diff(seen.peers) * PROBES,
            None => expected * PROBES,
        }
    }

    /// The boot core's monitor, with faults injected: waits until the survivors removed every
    /// core a fault stopped (or the bound passed), has every survivor probe every other one,
    /// then judges each injection and prints the sum.
    pub(crate) fn await_faults(&mut self) {
        let mut injections: Vec<Injection> = self.faults.injections.clone();
        injections.extend(self.faults_done.iter().copied());
        injections.retain(|i| i.core < 64);
        if injections.is_empty() {
            return;
        }
        let stopped =
            injections.iter().filter(|i| i.kind.stops_the_core()).fold(0u64, |m, i| m | 1 << i.core);
        let last_ms = injections.iter().map(|i| i.at_ms).max().unwrap_or(0);
        let settled_ns = self.faults_epoch_ns + (last_ms + SETTLE_MS) * 1_000_000;
        let bound_s = last_ms / 1000 + FAULT_DETECTION_BOUND_SECONDS;
        let started = self.now_ns();
        let removed = self.wait_for(bound_s, |m| m.online & stopped == 0 && m.now_ns() >= settled_ns);
        let elapsed_ms = (self.now_ns() - started) / 1_000_000;
        let survivors_live = self.membership.as_ref().is_some_and(|m| m.live() == self.online);

        self.harness.reports.clear();
        let survivors = self.online;
        let round = 1;
        self.broadcast(&ProbeAll { round });
        self.start_probing(self.core, round);
        let reported = self.wait_for(REPORT_TIMEOUT_SECONDS, |m| {
            m.harness.reports.iter().fold(0u64, |s, (c, _)| s | 1 << c) & survivors == survivors
        });
        let mut lost = 0;
        for (core, seen) in &self.harness.reports {
            let plural = if seen.peers == 1 { "" } else { "s" };
            println!("faults: core {core} probed {} peer{plural}: {} lost", seen.peers, seen.lost);
            lost += seen.lost + seen.storm_lost;
        }
        let silent = survivors & !self.harness.reports.iter().fold(0u64, |s, (c, _)| s | 1 << c);
        for core in (0..64).filter(|&c| silent & (1 << c) != 0) {
            println!("faults: core {core} never reported its probes");
            lost += PROBES;
        }

        let mut survived = 0;
        for injection in &injections {
            let (ok, verdict) = self.judge(injection, survivors);
            survived += u32::from(ok && survivors_live && lost == 0 && reported);
            println!("fault {}:{}@{}: {verdict}", injection.kind.name(), injection.core, injection.at_ms);
        }
        println!(
            "faults: {} injected, {survived} survived, {lost} messages lost, {} hangs{}",
            injections.len(),
            u32::from(!removed),
            if removed { alloc::format!(" ({elapsed_ms} ms)") } else { String::new() }
        );
    }

    /// Whether the survivors handled `injection` as they must, and why.
    fn judge(&self, injection: &Injection, survivors: u64) -> (bool, String) {
        let core = injection.core;
        let live = self.online & (1 << core) != 0;
        if injection.kind.stops_the_core() {
            return if live {
                (false, "still counted live".into())
            } else {
                (true, "removed by every survivor".into())
            };
        }
        if !live {
            return (false, alloc::format!("core {core} was removed although it did not stop"));
        }
        // Every survivor but the core itself must have seen what it did.
        let others: Vec<&Seen> =
            self.harness.reports.iter().filter(|(c, _)| *c as u32 != core).map(|(_, s)| s).collect();
        let expected = (survivors & !(1 << core)).count_ones() as usize;
        let (saw, what) = match injection.kind {
            Kind::CorruptLine => (
                others.iter().filter(|s| s.malformed_from & (1 << core) != 0).count(),
                "rejected its damaged line",
            ),
            _ => (
                others.iter().filter(|s| s.storms_ended & (1 << core) != 0 && s.storm_lost == 0).count(),
                "took its whole storm",
            ),
        };
        (saw == expected, alloc::format!("{saw} of {expected} survivors {what}; still live"))
    }
}

/// Counts what did not come back exactly once: probes lost, duplicated, or from a core that
/// was not asked.
fn count_lost(echoes: &mut Vec<(u64, u32)>, peers: &[u64]) -> u32 {
    let expected = peers.len() * PROBES as usize;
    echoes.sort_unstable();
    let arrived = echoes.len();
    echoes.dedup();
    let duplicated = arrived - echoes.len();
    let asked = echoes.iter().filter(|(peer, seq)| peers.contains(peer) && *seq < PROBES).count();
    (expected - asked + duplicated + (echoes.len() - asked)) as u32
}
