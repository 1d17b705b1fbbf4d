//! `scripts/run bench unmap` (kernel command line `bench-unmap`): the paper's unmap experiment
//! (SOSP'09 figures 6 and 7) on this system. For every core count k from 2 to the number of
//! online cores, the boot core's monitor lends a one-page Frame to k - 1 other cores, whose
//! monitors each map it into their own address space (each core's own page tables: nothing is
//! shared), and then times unmapping it everywhere, as the revoke round of `capops`: the round
//! returns only once every core has removed its mapping and invalidated its TLB, over each
//! route (unicast, broadcast, the SKB's multicast tree). Beside it, `shared-tlbi`: what a
//! shared-memory kernel does on Arm, one page-table entry cleared and one broadcast TLB
//! invalidation (`tlbi vale1is; dsb ish`), timed as this core's own `vnode_unmap`, which costs
//! the same whatever k is. One line per k and strategy:
//! `unmap cores=<k> strategy=<s> p50_ns=<n> p99_ns=<n> rounds=<r>`.

use alloc::vec::Vec;

use agreement::route::Strategy;
use capops::{Core, Event, RoundEnd};
use caps::{CapAddr, CapType, Retype};
use monitor::stats::{percentile, ticks_to_ns};
use userland::{println, SLOT_VNODE};

use crate::Monitor;

/// Entry of the monitor's own level-3 VNode (window 0) the benchmark maps the page at.
pub(crate) const BENCH_ENTRY: u64 = 256;
/// Mapping rights: read and write.
const READ_WRITE: u64 = 3;
/// Seconds one lend or one unmap may take before the round counts as failed.
const STEP_SECONDS: u64 = 10;

/// The strategies, the baseline first.
#[derive(Clone, Copy)]
enum Way {
    SharedTlbi,
    Agreement(Strategy),
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::SharedTlbi => "shared-tlbi",
            Way::Agreement(Strategy::Unicast) => "unicast",
            Way::Agreement(Strategy::Broadcast) => "broadcast",
            Way::Agreement(Strategy::Tree) => "tree",
        }
    }
}

impl Monitor {
    /// The boot core's part (see the module documentation).
    pub(crate) fn unmap_benchmark(&mut self) {
        let peers = self.online_peers();
        let rounds = self.options.rounds.min(1000) as usize;
        let mut kernel = self.kernel_caps();
        let Some((ram, _)) = self.lendable_ram() else {
            println!("unmap benchmark: no RAM to lend");
            return;
        };
        let frame = kernel.take_slot();
        let page = Retype { kind: CapType::Frame, offset: 0, object_size: 4096, count: 1 };
        let Some(frame) = frame.filter(|&f| kernel.retype(ram, page, f).is_ok()) else {
            println!("unmap benchmark: cannot retype a Frame to lend");
            return;
        };
        println!(
            "unmap benchmark: one page mapped on k cores and unmapped everywhere, {rounds} rounds per k and strategy, k = 2..{}",
            peers.len() + 1
        );
        for k in 2..=peers.len() + 1 {
            let participants = &peers[..k - 1];
            for way in [
                Way::SharedTlbi,
                Way::Agreement(Strategy::Unicast),
                Way::Agreement(Strategy::Broadcast),
                Way::Agreement(Strategy::Tree),
            ] {
                let mut samples: Vec<u32> = Vec::with_capacity(rounds);
                let mut failed = 0;
                for _ in 0..rounds {
                    let sample = match way {
                        Way::SharedTlbi => self.time_local_unmap(frame),
                        Way::Agreement(strategy) => self.time_agreed_unmap(frame, participants, strategy),
                    };
                    match sample {
                        Some(ns) => samples.push(ns.min(u64::from(u32::MAX)) as u32),
                        None => failed += 1,
                    }
                }
                let name = way.name();
                match (percentile(&mut samples, 50), percentile(&mut samples, 99)) {
                    (Some(p50), Some(p99)) => println!(
                        "unmap cores={k} strategy={name} p50_ns={p50} p99_ns={p99} rounds={}{}",
                        samples.len(),
                        if failed > 0 {
                            alloc::format!(" failed={failed}")
                        } else {
                            alloc::string::String::new()
                        }
                    ),
                    _ => println!("unmap cores={k} strategy={name} failed={failed}: no round completed"),
                }
            }
        }
        let _ = kernel.revoke_agreed(frame);
        let _ = userland::cap_delete(frame.raw());
        let _ = userland::cap_delete(ram.raw());
    }

    /// One mapping in this core's own tables, removed with its broadcast TLB invalidation.
    fn time_local_unmap(&mut self, frame: CapAddr) -> Option<u64> {
        userland::vnode_map(SLOT_VNODE, BENCH_ENTRY, frame.raw(), READ_WRITE).ok()?;
        let start = userland::counter();
        let unmapped = userland::vnode_unmap_broadcast(SLOT_VNODE, BENCH_ENTRY);
        let ticks = userland::counter() - start;
        unmapped.ok().map(|()| ticks_to_ns(ticks, self.frequency))
    }

    /// Lends `frame` to `participants` (each maps it), then times its revoke over them.
    fn time_agreed_unmap(
        &mut self,
        frame: CapAddr,
        participants: &[usize],
        strategy: Strategy,
    ) -> Option<u64> {
        self.cap_events.clear();
        let now = self.now_ns();
        let mut kernel = self.kernel_caps();
        let mut sent = Vec::with_capacity(participants.len());
        for &peer in participants {
            sent.push(self.capops.send(&mut kernel, peer, frame, now).ok()?);
        }
        self.after_capops();
        let all_sent = |m: &Monitor| {
            m.cap_events
                .iter()
                .filter(
                    |e| matches!(e, Event::Sent { request, result: Ok(()), .. } if sent.contains(request)),
                )
                .count()
                == sent.len()
        };
        if !self.wait_for(STEP_SECONDS, all_sent) {
            return None;
        }
        let route = self.route_over(strategy, participants);
        let start = userland::counter();
        let now = self.now_ns();
        let round = self.capops.revoke(&mut kernel, frame, route, now).ok()?;
        self.after_capops();
        let ended = |m: &Monitor| {
            m.cap_events.iter().any(|e| matches!(e, Event::Revoked { round: r, .. } if *r == round))
        };
        self.wait_for(STEP_SECONDS, ended);
        let ticks = userland::counter() - start;
        let done = self
            .cap_events
            .iter()
            .any(|e| matches!(e, Event::Revoked { round: r, outcome: RoundEnd::Done } if *r == round));
        done.then(|| ticks_to_ns(ticks, self.frequency))
    }

    /// Another core's part: a page lent by the boot core arrived; map it as a program of the
    /// span would.
    pub(crate) fn bench_arrived(&mut self, slot: CapAddr) {
        if let Err(e) = userland::vnode_map(SLOT_VNODE, BENCH_ENTRY, slot.raw(), READ_WRITE) {
            println!("monitor {}: cannot map the lent page: {e:?}", self.core);
        }
    }
}
