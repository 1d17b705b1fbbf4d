//! The capability exercise of a selftest run: the boot core's monitor lends a RAM capability
//! to every other core, the other cores race to retype the same part of it through the owner,
//! and the owner revokes it by agreement over each route (unicast, broadcast, the SKB's
//! multicast tree). Each step is a `capops <check>: ok|FAILED` line and counts in the
//! selftest's totals.

use alloc::vec::Vec;

use agreement::route::{Route, Strategy};
use capops::{Core, Event, RoundEnd};
use caps::{CapAddr, CapError, CapType, Capability, Retype};
use monitor::messages::{ExerciseQuery, ExerciseReport, EXERCISE_HELD, EXERCISE_RETYPED};
use userland::{cap_type, println, Error};

use crate::kernel_caps::{protocol_slots, KernelCaps};
use crate::Monitor;

/// Bytes of the RAM capability lent (off the end of the monitor's first RAM capability).
const LENT_BYTES: u64 = 64 << 10;
/// Pages every other core asks the owner to retype, all from the same offset (the race).
const RACED_PAGES: u64 = 4;
/// Seconds each step may take.
const STEP_SECONDS: u64 = 30;

const PAGE: u64 = 4096;

impl Monitor {
    pub(crate) fn kernel_caps(&self) -> KernelCaps {
        KernelCaps { core: self.core }
    }

    pub(crate) fn online_peers(&self) -> Vec<usize> {
        let peers = self.peers();
        (0..64).filter(|&p| peers & (1 << p) != 0).collect()
    }

    /// The route of one revoke round from this core to every online peer.
    pub(crate) fn route(&self, strategy: Strategy) -> Route {
        self.route_over(strategy, &self.online_peers())
    }

    /// The route of one round from this core to `peers`.
    pub(crate) fn route_over(&self, strategy: Strategy, peers: &[usize]) -> Route {
        let me = self.core as usize;
        match strategy {
            Strategy::Unicast => Route::unicast(me, peers),
            Strategy::Broadcast => Route::broadcast(me, peers),
            Strategy::Tree => {
                let taking_part = |c: usize| c == me || peers.contains(&c);
                let mut edges: Vec<(usize, usize)> = self
                    .skb
                    .as_ref()
                    .map(|skb| skb.multicast_tree(me).edges)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|&(parent, child)| taking_part(parent) && taking_part(child))
                    .collect();
                // A core the tree does not reach (its representative takes no part) gets the
                // message straight from the root.
                let reached: Vec<usize> = Route::tree(me, &edges).subtree(me);
                edges.extend(peers.iter().filter(|p| !reached.contains(p)).map(|&p| (me, p)));
                Route::tree(me, &edges)
            }
        }
    }

    /// A RAM capability of `LENT_BYTES` no retype took yet, from the end of one of the
    /// monitor's RAM capabilities ([`retype_free_ram`](Monitor::retype_free_ram)), in a
    /// protocol slot.
    pub(crate) fn lendable_ram(&mut self) -> Option<(CapAddr, Capability)> {
        let slot = self.kernel_caps().take_slot()?;
        self.retype_free_ram(LENT_BYTES, slot.raw())?;
        self.kernel_caps().identify(slot).ok().map(|capability| (slot, capability))
    }

    pub(crate) fn check(&mut self, name: &str, ok: bool, detail: core::fmt::Arguments<'_>) {
        if ok {
            self.selftest_passed += 1;
            println!("capops {name}: ok ({detail})");
        } else {
            self.selftest_failed += 1;
            println!("capops {name}: FAILED ({detail})");
        }
    }

    /// The boot core's part (see the module documentation).
    pub(crate) fn capability_exercise(&mut self) {
        let peers = self.online_peers();
        if peers.is_empty() {
            println!("capops: no other core online, exercise skipped");
            return;
        }
        let Some((lent, object)) = self.lendable_ram() else {
            self.check("lend", false, format_args!("no {LENT_BYTES} bytes of RAM to lend"));
            return;
        };
        for strategy in [Strategy::Unicast, Strategy::Broadcast, Strategy::Tree] {
            self.exercise_round(strategy, lent, object, &peers);
        }
        // No longer lent: its last copy may go.
        let deleted = userland::cap_delete(lent.raw());
        self.check("delete-after-revoke", deleted.is_ok(), format_args!("{deleted:?}"));
    }

    fn exercise_round(&mut self, strategy: Strategy, lent: CapAddr, object: Capability, peers: &[usize]) {
        let name = match strategy {
            Strategy::Unicast => "unicast",
            Strategy::Broadcast => "broadcast",
            Strategy::Tree => "tree",
        };
        self.cap_events.clear();
        self.exercise_reports.clear();
        let now = self.now_ns();
        let mut kernel = self.kernel_caps();
        let sent: Vec<u32> =
            peers.iter().filter_map(|&peer| self.capops.send(&mut kernel, peer, lent, now).ok()).collect();
        self.after_capops();
        let answered = |m: &Monitor| {
            let done = m
                .cap_events
                .iter()
                .filter(|e| matches!(e, Event::Sent { request, .. } if sent.contains(request)));
            done.count() == sent.len()
        };
        self.wait_for(STEP_SECONDS, answered);
        let received = self
            .cap_events
            .iter()
            .filter(|e| matches!(e, Event::Sent { request, result: Ok(()), .. } if sent.contains(request)))
            .count();
        self.check(
            &alloc::format!("{name}-lend"),
            received == peers.len(),
            format_args!("copies taken by {received} of {} cores", peers.len()),
        );

        // Every core that took a copy asks the owner for the same pages.
        let retyped = |m: &Monitor| m.exercise_reports.iter().filter(|r| r.step == EXERCISE_RETYPED).count();
        self.wait_for(STEP_SECONDS, |m| retyped(m) >= received);
        let reports: Vec<ExerciseReport> =
            self.exercise_reports.iter().filter(|r| r.step == EXERCISE_RETYPED).copied().collect();
        let winners = reports.iter().filter(|r| r.value & 1 != 0).count();
        self.check(
            &alloc::format!("{name}-racing-retypes"),
            winners == 1 && reports.len() == received,
            format_args!("{winners} of {} cores got pages 0-{} retyped", reports.len(), RACED_PAGES - 1),
        );
        let refused = reports.iter().filter(|r| r.value & 2 != 0).count();
        self.check(
            &alloc::format!("{name}-only-the-owner"),
            refused == reports.len() && !reports.is_empty(),
            format_args!(
                "{refused} of {} cores were refused a local retype and revoke: NotOwner",
                reports.len()
            ),
        );
        let delete = userland::cap_delete(lent.raw());
        self.check(
            &alloc::format!("{name}-lent-kept"),
            delete == Err(Error::Capability(CapError::Lent.code())),
            format_args!("owner's delete of its lent last copy: {delete:?}"),
        );

        // Revoke by agreement.
        let route = self.route(strategy);
        let started = userland::counter();
        let now = self.now_ns();
        let round = self.capops.revoke(&mut kernel, lent, route, now);
        self.after_capops();
        let ended = |m: &Monitor| {
            m.cap_events.iter().any(|e| matches!(e, Event::Revoked { round: r, .. } if Ok(*r) == round))
        };
        self.wait_for(STEP_SECONDS, ended);
        let elapsed_us = monitor::stats::ticks_to_ns(userland::counter() - started, self.frequency) / 1000;
        let outcome = self.cap_events.iter().find_map(|e| match e {
            Event::Revoked { round: r, outcome } if Ok(*r) == round => Some(outcome.clone()),
            _ => None,
        });
        self.check(
            &alloc::format!("{name}-revoke"),
            outcome == Some(RoundEnd::Done),
            format_args!("{outcome:?} over {} cores in {elapsed_us} us", peers.len() + 1),
        );

        // Nothing of it left anywhere but the owner's one capability.
        self.exercise_reports.retain(|r| r.step != EXERCISE_HELD);
        self.broadcast(&ExerciseQuery { base: object.base(), size: object.size() });
        let held = |m: &Monitor| m.exercise_reports.iter().filter(|r| r.step == EXERCISE_HELD).count();
        let all = self.wait_for(STEP_SECONDS, |m| held(m) == peers.len());
        let left: u32 =
            self.exercise_reports.iter().filter(|r| r.step == EXERCISE_HELD).map(|r| r.value).sum();
        let here = held_inside(object.base(), object.size());
        self.check(
            &alloc::format!("{name}-nothing-left"),
            all && left == 0 && here == 1,
            format_args!("{left} capabilities inside it on the other cores, {here} here"),
        );
    }

    /// Another core's part: a copy of the boot core's RAM arrived. Checks that this core may not
    /// retype or revoke it itself, then asks the owner for its first pages.
    pub(crate) fn exercise_arrived(&mut self, slot: CapAddr, capability: Capability) {
        if capability.kind() != CapType::Ram {
            return;
        }
        let mut kernel = self.kernel_caps();
        let not_owner = Err(Error::Capability(CapError::NotOwner.code()));
        let probe = kernel.take_slot().map_or(protocol_slots().last().unwrap_or(0), CapAddr::raw);
        let local_retype = userland::cap_retype(slot.raw(), cap_type::FRAME, 0, RACED_PAGES * PAGE, 1, probe);
        let local_revoke = userland::cap_revoke(slot.raw());
        let refused = u32::from(local_retype == not_owner && local_revoke == not_owner) << 1;
        let retype = Retype { kind: CapType::Frame, offset: 0, object_size: RACED_PAGES * PAGE, count: 1 };
        let now = self.now_ns();
        match self.capops.retype(&mut kernel, slot, retype, now) {
            Ok(capops::RetypeStart::Asked(request)) => self.exercise_asks.push((request, refused)),
            _ => self.report_exercise(EXERCISE_RETYPED, refused),
        }
        self.after_capops();
    }

    /// Another core's part: the retype it asked for ended.
    pub(crate) fn exercise_retyped(&mut self, request: u32, won: bool) {
        if let Some(at) = self.exercise_asks.iter().position(|&(r, _)| r == request) {
            let (_, refused) = self.exercise_asks.remove(at);
            self.report_exercise(EXERCISE_RETYPED, refused | u32::from(won));
        }
    }

    pub(crate) fn answer_exercise_query(&mut self, query: ExerciseQuery) {
        self.report_exercise(EXERCISE_HELD, held_inside(query.base, query.size));
    }

    fn report_exercise(&mut self, step: u32, value: u32) {
        let report = ExerciseReport { core: self.core as u32, step, value };
        self.send(self.coordinator, &report);
    }
}

/// How many capabilities in the protocol's slots name memory inside `[base, base + size)`.
fn held_inside(base: u64, size: u64) -> u32 {
    protocol_slots()
        .filter_map(|slot| userland::cap_identify(slot).ok())
        .filter(|c| c.kind != cap_type::KERNEL && c.base >= base && c.base + c.size <= base + size)
        .count() as u32
}
