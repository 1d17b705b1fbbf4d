//! CPU hotplug, the monitors' part. A request to take a core off or on (an EL0 program's
//! [`local::Hotplug`](local_protocol::Hotplug) to its monitor, or [`HotplugOff`] /
//! [`HotplugOn`] from another monitor) goes to the boot core's monitor, which starts cores.
//!
//! **Off.** The boot core's monitor forwards the request to the core's own monitor, which
//! leaves the membership by agreement (`Membership::request_leave`); every other monitor drops
//! its channel to it once the leave commits. The leaving monitor then flushes what still waits
//! in its outbox and asks its kernel to power the core off (`core_off`: PSCI `CPU_OFF`). The
//! boot core's monitor asks its kernel for the core back (`core_reclaim`) until the firmware
//! says it is off; then it prints `core <n> off`.
//!
//! **On.** The boot core's monitor carves a fresh region and share, starts the core
//! (`core_boot`) and binds a fresh endpoint to it (its kernel emptied the channels). The new
//! monitor builds a fresh SKB replica and endpoints as at boot and asks to join
//! ([`JoinRequest`]); the boot core's monitor runs a join round with the next incarnation
//! among the live cores, each of which binds a fresh endpoint once it commits, and welcomes
//! the core ([`Welcome`]) with the live set.

use alloc::string::String;
use alloc::vec::Vec;

use local_protocol as local;
use monitor::carve::Piece;
use monitor::membership::{Config, Event, Membership};
use monitor::messages::{HotplugDone, HotplugOff, HotplugOn, JoinRequest, Welcome};
use urpc::Side;
use userland::{println, ChannelKind, SLOT_FIRST_CPU_DRIVER};

use crate::Monitor;

/// Why a hotplug request was refused (the `status` of [`HotplugDone`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Refusal {
    /// The boot core cannot go off (it starts cores and owns the console).
    BootCore = 1,
    /// No such core, or it is not in the state the request needs (off for on, live for off).
    WrongState = 2,
    /// Another hotplug request is under way.
    Busy = 3,
    /// The firmware cannot power it off (spin table), or its kernel refused.
    CannotPowerOff = 4,
    /// It could not be started again (no memory, the firmware refused).
    CannotStart = 5,
    /// The live cores did not agree to its join.
    JoinRefused = 6,
}

impl Refusal {
    /// What a refusal code (a [`HotplugDone`] status) means, for people.
    pub(crate) fn name_of(code: u32) -> &'static str {
        match code {
            1 => "the boot core cannot go off",
            2 => "no such core, or not in the state the request needs (live for off, off for on)",
            3 => "another hotplug request is under way",
            4 => "the firmware cannot power it off (spin table), or its kernel refused",
            5 => "it could not be started again",
            6 => "the live cores did not agree to its join",
            _ => "unknown refusal",
        }
    }
}

/// What the boot core's monitor is doing about one core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Asked its monitor to leave; waiting for the leave, then for the firmware to say off.
    GoingOff { core: u64, asker: u64, since_ns: u64 },
    /// Started it again as `incarnation`; waiting for its join.
    ComingOn { core: u64, asker: u64, incarnation: u32, since_ns: u64 },
}

/// The hotplug bookkeeping of one monitor.
#[derive(Default)]
pub(crate) struct Hotplug {
    /// Boot core: the request under way.
    step: Option<Step>,
    /// Boot core: per core, its last incarnation (starts after the first).
    incarnations: Vec<u32>,
    /// Boot core: the cores that are off (reclaimed) and may be started again.
    off: u64,
    /// Boot core: per core, the region and share it was last started from (handed back to
    /// this monitor when it goes off, and used again for its next start).
    pieces: Vec<Option<(Piece, Piece)>>,
    /// Boot core: the outcome of each finished request, for whoever waits on it here.
    pub(crate) finished: Vec<HotplugDone>,
    /// This core's monitor was asked to go off: it drains its work until then (ns), then asks
    /// to leave.
    draining_until: Option<u64>,
    /// It asked to leave and waits for the round.
    leaving: bool,
    /// Cores that left in the current membership step, whose channels go at its end.
    unlink: u64,
}

impl Hotplug {
    /// Boot core: `core` was started from `pieces` (region, share).
    pub(crate) fn gave(&mut self, core: u64, pieces: (Piece, Piece)) {
        let index = core as usize;
        if self.pieces.len() <= index {
            self.pieces.resize(index + 1, None);
        }
        self.pieces[index] = Some(pieces);
    }
}

/// How long a monitor asked to go off waits for its work to drain before it leaves anyway.
const DRAIN_TIMEOUT_NS: u64 = 2_000_000_000;

/// How long a leave may take before the boot core's monitor gives up waiting for the firmware.
const OFF_TIMEOUT_NS: u64 = 10_000_000_000;

impl Monitor {
    /// A request from an EL0 program on this core.
    pub(crate) fn on_local_hotplug(&mut self, request: local::Hotplug) {
        let (core, asker) = (request.core, self.core as u32);
        if request.on {
            self.on_hotplug_on(HotplugOn { core, asker });
        } else {
            self.on_hotplug_off(self.core, HotplugOff { core, asker });
        }
    }

    /// [`HotplugOff`] from `peer` (or this monitor's own program).
    pub(crate) fn on_hotplug_off(&mut self, peer: u64, request: HotplugOff) {
        let core = u64::from(request.core);
        if core == self.core && peer == self.coordinator && peer != self.core {
            // The boot core's monitor forwarded it: drain, then leave (`drain_then_leave`).
            if self.hotplug.draining_until.is_none() && self.membership.is_some() {
                println!("monitor {}: draining its work to go off", self.core);
                self.hotplug.draining_until = Some(self.now_ns() + DRAIN_TIMEOUT_NS);
            }
            return;
        }
        if self.core != self.coordinator {
            self.send(self.coordinator, &request);
            return;
        }
        let psci =
            self.skb.as_ref().and_then(|skb| skb.cpus.get(core as usize)).map(|cpu| &cpu.enable_method)
                == Some(&skb::EnableMethod::Psci);
        let refusal = if core == self.coordinator {
            Some(Refusal::BootCore)
        } else if self.peers() & (1 << core) != 0 && !psci {
            // Released from a spin table: nothing can power it off or start it again, so it
            // does not leave (a core parked outside the membership could never come back).
            Some(Refusal::CannotPowerOff)
        } else if self.hotplug.step.is_some() {
            Some(Refusal::Busy)
        } else if self.peers() & (1 << core) == 0 {
            Some(Refusal::WrongState)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.hotplug_done(u64::from(request.asker), core, false, Some(refusal));
            return;
        }
        let since_ns = self.now_ns();
        self.hotplug.step = Some(Step::GoingOff { core, asker: u64::from(request.asker), since_ns });
        self.send(core, &HotplugOff { core: request.core, asker: self.core as u32 });
    }

    /// [`HotplugOn`] (or this monitor's own program's request).
    pub(crate) fn on_hotplug_on(&mut self, request: HotplugOn) {
        let core = u64::from(request.core);
        if self.core != self.coordinator {
            self.send(self.coordinator, &request);
            return;
        }
        let asker = u64::from(request.asker);
        if self.hotplug.step.is_some() {
            return self.hotplug_done(asker, core, true, Some(Refusal::Busy));
        }
        if core >= 64 || self.hotplug.off & (1 << core) == 0 {
            return self.hotplug_done(asker, core, true, Some(Refusal::WrongState));
        }
        if let Err(why) = self.start_again(core) {
            println!("monitor {}: cannot start core {core} again: {why}", self.core);
            return self.hotplug_done(asker, core, true, Some(Refusal::CannotStart));
        }
        self.hotplug.off &= !(1 << core);
        let incarnations = &mut self.hotplug.incarnations;
        if incarnations.len() <= core as usize {
            incarnations.resize(core as usize + 1, 0);
        }
        incarnations[core as usize] += 1;
        let incarnation = incarnations[core as usize];
        let since_ns = self.now_ns();
        self.hotplug.step = Some(Step::ComingOn { core, asker, incarnation, since_ns });
    }

    /// Starts `core` again: from the region and share it handed back when it went off (its
    /// kernel released them and the boot core's kernel maps them again; `core_boot` zeroes the
    /// region and cleans it to the point of coherency before the core runs, and the new
    /// monitor's RAM is zeroed when retyped), else from freshly carved ones; binds a fresh
    /// endpoint to it first (its kernel emptied the channel when it took the core back).
    fn start_again(&mut self, core: u64) -> Result<(), &'static str> {
        let class = self
            .skb
            .as_ref()
            .map(|skb| u32::from(skb.cpu_driver_build(core as usize) == Some(skb::CpuDriverBuild::Big)))
            .unwrap_or(0);
        let handed_back = self.hotplug.pieces.get(core as usize).copied().flatten();
        let pieces = match handed_back.map(|(region, share)| crate::give_pieces(region, share)) {
            Some(Ok(())) => handed_back.ok_or("no pieces")?,
            _ => {
                let _ = userland::cap_delete(crate::CORE_REGION_SLOT);
                let _ = userland::cap_delete(crate::CORE_SHARE_SLOT);
                let carver = self.carver.as_mut().ok_or("no RAM left to carve")?;
                crate::hand_over(carver, class)?
            }
        };
        self.bind_fresh(core);
        let build = SLOT_FIRST_CPU_DRIVER + class;
        let started = userland::core_boot(core, build, crate::CORE_REGION_SLOT, crate::CORE_SHARE_SLOT)
            .map_err(crate::describe_refusal);
        let _ = userland::cap_delete(crate::CORE_REGION_SLOT);
        let _ = userland::cap_delete(crate::CORE_SHARE_SLOT);
        if started.is_ok() {
            let again = handed_back == Some(pieces);
            println!(
                "monitor {}: started core {core} again in {} (region at {:#x})",
                self.core,
                if again { "the memory it handed back" } else { "fresh memory" },
                pieces.0.base
            );
            self.hotplug.gave(core, pieces);
        }
        started
    }

    /// A fresh endpoint of this side over the (emptied) channel to `core`.
    fn bind_fresh(&mut self, core: u64) {
        let side = if self.core < core { Side::A } else { Side::B };
        let endpoint = userland::map_channel(core, ChannelKind::Monitor)
            .ok()
            .and_then(|va| userland::channel_frame(va).try_endpoint(side).ok());
        if endpoint.is_none() {
            println!("monitor {}: no fresh channel to core {core} (its side is still claimed)", self.core);
        }
        if let Some(link) = self.links.get_mut(core as usize) {
            *link = endpoint;
        }
    }

    /// [`JoinRequest`] from `peer`: the boot core's monitor runs the join round of a core it
    /// started again; any other (a core booting with the machine, which the roll call
    /// answers) is ignored.
    pub(crate) fn on_join_request(&mut self, peer: u64, request: JoinRequest) {
        let Some(Step::ComingOn { core, incarnation, .. }) = self.hotplug.step else { return };
        if core != peer || u64::from(request.core) != peer {
            return;
        }
        if let Some(membership) = self.membership.as_mut() {
            membership.request_join(core as usize, incarnation);
        }
    }

    /// [`Welcome`] from the boot core's monitor: this core rejoined.
    pub(crate) fn on_welcome(&mut self, peer: u64, welcome: Welcome) {
        if peer != self.coordinator || self.membership.is_some() {
            return;
        }
        let now = self.now_ns();
        let cores = self.links.len();
        self.membership = Some(Membership::rejoined(
            self.core as usize,
            cores,
            welcome.live,
            welcome.incarnation,
            Config::MONITOR,
            now,
        ));
        self.online = welcome.live;
        self.hellos = welcome.live;
        self.sent_hellos = true;
        self.roll_call_over = true;
        println!(
            "monitor {}: rejoined as incarnation {}; live {}",
            self.core,
            welcome.incarnation,
            live_list(welcome.live)
        );
    }

    /// What the membership decided about joins and leaves.
    pub(crate) fn hotplug_event(&mut self, event: Event) {
        match event {
            Event::Left { core, all_answered } if core as u64 == self.core => self.go_off(all_answered),
            Event::Left { core, .. } => self.peer_left(core as u64),
            Event::LeaveRefused => {
                println!("monitor {}: the others did not agree to its leave; it stays", self.core);
                self.hotplug.leaving = false;
                self.hotplug.draining_until = None;
            }
            Event::Joined { core, incarnation } => self.peer_joined(core as u64, incarnation),
            Event::JoinRefused { core } => {
                if let Some(Step::ComingOn { core: c, asker, .. }) = self.hotplug.step {
                    if c == core as u64 {
                        self.hotplug.step = None;
                        self.hotplug_done(asker, c, true, Some(Refusal::JoinRefused));
                    }
                }
            }
            Event::Failed { .. } | Event::Evicted { .. } => {}
        }
    }

    /// Asked to go off: once what it sent has left its outbox and no capability operation
    /// waits (or the drain's bound passed, said), asks the others to let it leave. Its
    /// programs are not moved: they end with the core.
    fn drain_then_leave(&mut self) {
        let Some(until) = self.hotplug.draining_until else { return };
        if self.hotplug.leaving {
            return;
        }
        let drained = !self.outbox.any_pending() && !self.capops.busy();
        if !drained && self.now_ns() < until {
            return;
        }
        if !drained {
            println!("monitor {}: its work did not drain in time; it leaves anyway", self.core);
        }
        if let Some(membership) = self.membership.as_mut() {
            println!("monitor {}: leaving the membership to go off", self.core);
            self.hotplug.leaving = true;
            membership.request_leave();
        }
    }

    /// This core left (every other core removed it and dropped its channel to it): power off.
    fn go_off(&mut self, all_answered: bool) {
        for link in self.links.iter_mut() {
            *link = None;
        }
        let how = if all_answered { "every other core agreed" } else { "not every core answered the commit" };
        println!("monitor {}: left the membership ({how}); powering off", self.core);
        let refused = userland::core_off();
        // Still running: the firmware cannot power this core off (the boot core's monitor
        // refuses to take such a core off, so only a firmware refusal gets here). It stays out
        // of the membership, parked; the boot core's monitor times out waiting and says so.
        println!("monitor {}: cannot power off ({refused:?}); parked instead", self.core);
        self.stopped = true;
    }

    /// `core` left by agreement: as for a failure, it is no longer a peer, the capability
    /// protocol gives up on what waits for it, and its channel is dropped once this step's
    /// answers went out (the boot core's kernel empties it once the core is off).
    fn peer_left(&mut self, core: u64) {
        self.online &= !(1 << core);
        self.hellos &= !(1 << core);
        self.capops_give_up_on(core);
        // Its channel goes once this step's messages are out: the answer to its own leave
        // round travels on it (`drop_left_channels`).
        self.hotplug.unlink |= 1 << core;
        if let Some(skb) = self.skb.as_mut() {
            skb.mark_offline(core as usize, "off (hotplug)");
        }
        // Its memory is handed back and used again when it starts: no copy of what it owned
        // may outlive it here (unlike a failed core's, whose memory nobody uses again).
        match crate::kernel_caps::sweep_everything_of(core) {
            Ok(0) => {}
            Ok(n) => println!("monitor {}: {n} copies of core {core}'s objects removed", self.core),
            Err(e) => println!("monitor {}: cannot sweep core {core}'s objects: {e:?}", self.core),
        }
    }

    /// Drops the channels to the cores that left in this membership step, with what still
    /// waits for them.
    pub(crate) fn drop_left_channels(&mut self) {
        let left = core::mem::take(&mut self.hotplug.unlink);
        for core in (0..64).filter(|&c| left & (1 << c) != 0) {
            self.outbox.forget(core as usize);
            if let Some(link) = self.links.get_mut(core as usize) {
                *link = None;
            }
        }
    }

    /// `core` joined as `incarnation`.
    fn peer_joined(&mut self, core: u64, incarnation: u32) {
        if self.core != self.coordinator {
            self.bind_fresh(core);
        }
        self.online |= 1 << core;
        self.hellos |= 1 << core;
        if let Some(skb) = self.skb.as_mut() {
            skb.mark_online(core as usize);
        }
        if let Some(Step::ComingOn { core: c, asker, since_ns, .. }) = self.hotplug.step {
            if c == core {
                self.hotplug.step = None;
                self.send(core, &Welcome { incarnation, live: self.online });
                let us = self.now_ns().saturating_sub(since_ns) / 1000;
                println!("core {core} rejoined as incarnation {incarnation} in {us} us");
                println!("membership: {}", live_list(self.online));
                self.hotplug_done(asker, core, true, None);
            }
        }
    }

    /// Boot core: while a core goes off, asks its kernel for it back until the firmware says
    /// it is off (or the bound passes). Elsewhere: a drain before leaving.
    pub(crate) fn hotplug_poll(&mut self) {
        self.drain_then_leave();
        let Some(Step::GoingOff { core, asker, since_ns }) = self.hotplug.step else { return };
        if self.online & (1 << core) != 0 {
            // Not left yet (the round is under way).
            if self.now_ns().saturating_sub(since_ns) > OFF_TIMEOUT_NS {
                self.hotplug.step = None;
                self.hotplug_done(asker, core, false, Some(Refusal::CannotPowerOff));
            }
            return;
        }
        match userland::core_reclaim(core) {
            Ok(()) => {
                self.hotplug.step = None;
                self.hotplug.off |= 1 << core;
                let us = self.now_ns().saturating_sub(since_ns) / 1000;
                println!("core {core} off ({us} us)");
                println!("membership: {}", live_list(self.online));
                self.hotplug_done(asker, core, false, None);
            }
            Err(userland::Error::WouldBlock) if self.now_ns().saturating_sub(since_ns) < OFF_TIMEOUT_NS => {}
            Err(e) => {
                println!("monitor {}: core {core} did not go off: {e:?}", self.core);
                self.hotplug.step = None;
                self.hotplug_done(asker, core, false, Some(Refusal::CannotPowerOff));
            }
        }
    }

    /// Tells `asker` how its request about `core` ended.
    fn hotplug_done(&mut self, asker: u64, core: u64, on: bool, refusal: Option<Refusal>) {
        let done =
            HotplugDone { core: core as u32, on: u8::from(on), status: refusal.map_or(0, |r| r as u32) };
        if let Some(r) = refusal {
            println!(
                "monitor {}: hotplug {} core {core} refused: {r:?}",
                self.core,
                if on { "on" } else { "off" }
            );
        }
        if asker == self.core {
            self.hotplug.finished.push(done);
            // Tell the program that asked, if one registered for the answers.
            if let Some(program) = self.names.lookup(local::SERVICE_HOTPLUG) {
                let answer = local::HotplugDone { core: done.core, on: done.on != 0, status: done.status };
                let _ = self.tell_program(program, &answer);
            }
        } else {
            self.send(asker, &done);
        }
    }

    /// [`HotplugDone`] from the boot core's monitor, about a request of this one.
    pub(crate) fn on_hotplug_done(&mut self, done: HotplugDone) {
        if let Some(program) = self.names.lookup(local::SERVICE_HOTPLUG) {
            let answer = local::HotplugDone { core: done.core, on: done.on != 0, status: done.status };
            let _ = self.tell_program(program, &answer);
        }
    }

    /// Every monitor but the boot core's asks to join once up (the roll call answers those
    /// that boot with the machine).
    pub(crate) fn ask_to_join(&mut self) {
        if self.core != self.coordinator {
            self.send(self.coordinator, &JoinRequest { core: self.core as u32 });
        }
    }
}

/// `[0, 1, 3]` for the cores in `live`.
pub(crate) fn live_list(live: u64) -> String {
    let cores: Vec<String> =
        (0..64).filter(|&c| live & (1 << c) != 0).map(|c| alloc::format!("{c}")).collect();
    alloc::format!("[{}]", cores.join(", "))
}

/// Seconds a hotplug step may take in `scripts/run hotplug` before the cycle counts as failed.
const STEP_TIMEOUT_SECONDS: u64 = 30;

impl Monitor {
    /// Boot core, bootargs `hotplug`: takes each other core off and on again, one at a time,
    /// measuring the latency of a pair of the other cores while it is off, then probes every
    /// live peer and has the rejoined core probe every other (`fault_harness`'s all-pairs
    /// probes: a message lost or duplicated between live cores counts);
    /// prints each cycle's times and `hotplug: <k> cycles, <lost> lost`.
    pub(crate) fn hotplug_cycles(&mut self) {
        let cores: Vec<u64> = (0..64).filter(|&c| self.peers() & (1 << c) != 0).collect();
        self.hotplug_refusals(cores.first().copied());
        println!("hotplug: cycling cores {} (the live cores but this one)", live_list(self.peers()));
        let (mut cycles, mut lost, mut failed) = (0u32, 0u32, 0u32);
        let mut cycle_us = Vec::new();
        for &core in &cores {
            let Some(off_us) = self.timed_step(core, false) else {
                failed += 1;
                continue;
            };
            // The benchmark between two of the others while this core is off.
            let others: Vec<u32> = (0..64).filter(|&c| self.online & (1u64 << c) != 0).take(2).collect();
            if let [from, to] = others[..] {
                match self.measure_pair(from, to) {
                    Ok(r) => println!(
                        "hotplug core {core} off: latency {from}->{to} p50_ns={} p99_ns={}",
                        r.p50_ns, r.p99_ns
                    ),
                    Err(failure) => {
                        println!("hotplug core {core} off: latency {from}->{to} failed: {}", failure.name());
                        failed += 1;
                    }
                }
            }
            let Some(on_us) = self.timed_step(core, true) else {
                failed += 1;
                continue;
            };
            let total_us = off_us + on_us;
            // Every channel of a live core: this core's to each, and the rejoined core's fresh
            // ones to each other core.
            let from_here = self.probe_survivors();
            let from_it = self.probe_from(core);
            lost += from_here + from_it;
            cycles += 1;
            cycle_us.push(total_us);
            println!(
                "hotplug core {core}: off in {off_us} us, on and rejoined in {on_us} us, cycle {total_us} us; probes lost: {from_here} from core {}, {from_it} from core {core}",
                self.core
            );
        }
        cycle_us.sort_unstable();
        if let (Some(min), Some(max)) = (cycle_us.first(), cycle_us.last()) {
            println!(
                "hotplug cycle (off + on + rejoined): min {} ms, median {} ms, max {} ms",
                min / 1000,
                cycle_us[cycle_us.len() / 2] / 1000,
                max / 1000
            );
        }
        if failed > 0 {
            println!("hotplug: {failed} steps failed");
        }
        println!("hotplug: {cycles} cycles, {lost} lost");
    }

    /// What must be refused, each with the reason the request or the ABI names: the boot core
    /// going off, starting a live core, a core out of range; the kernel's `core_reclaim` of a
    /// core that runs, of this core, of no such core, and `core_off` on the boot core. Prints
    /// `hotplug refusal <name>: ok` or `... FAILED <why>` for each.
    fn hotplug_refusals(&mut self, live: Option<u64>) {
        use userland::Error::{InvalidArgument, WouldBlock};
        let me = self.core;
        let mut checks: Vec<(&str, bool, String)> = Vec::new();
        let mut request = |m: &mut Self, name: &'static str, core: u64, on: bool, want: Refusal| {
            let got = m.hotplug_step(core, on);
            checks.push((name, got == Some(want as u32), alloc::format!("{got:?}, want {want:?}")));
        };
        request(self, "boot-core-off", me, false, Refusal::BootCore);
        request(self, "no-such-core-off", 63, false, Refusal::WrongState);
        request(self, "no-such-core-on", 63, true, Refusal::WrongState);
        if let Some(core) = live {
            request(self, "live-core-on", core, true, Refusal::WrongState);
            let got = userland::core_reclaim(core);
            checks.push(("reclaim-running-core", got == Err(WouldBlock), alloc::format!("{got:?}")));
        }
        let got = userland::core_reclaim(me);
        checks.push(("reclaim-own-core", got == Err(InvalidArgument), alloc::format!("{got:?}")));
        let got = userland::core_reclaim(1 << 20);
        checks.push(("reclaim-no-such-core", got == Err(InvalidArgument), alloc::format!("{got:?}")));
        let got = userland::core_off();
        checks.push(("boot-core-power-off", got == InvalidArgument, alloc::format!("{got:?}")));
        for (name, ok, got) in checks {
            match ok {
                true => println!("hotplug refusal {name}: ok"),
                false => println!("hotplug refusal {name}: FAILED got {got}"),
            }
        }
    }

    /// [`hotplug_step`](Self::hotplug_step), timed: the microseconds it took, or `None` (said)
    /// if it failed.
    fn timed_step(&mut self, core: u64, on: bool) -> Option<u64> {
        let started = self.now_ns();
        let status = self.hotplug_step(core, on);
        if status != Some(0) {
            let what = if on { "come back" } else { "go off" };
            println!("hotplug core {core}: did not {what} ({status:?})");
            return None;
        }
        Some((self.now_ns() - started) / 1000)
    }

    /// Runs one request from this (boot) core's monitor and waits for its outcome: the
    /// status (0 done), or `None` on timeout.
    pub(crate) fn hotplug_step(&mut self, core: u64, on: bool) -> Option<u32> {
        let before = self.hotplug.finished.len();
        let me = self.core as u32;
        if on {
            self.on_hotplug_on(HotplugOn { core: core as u32, asker: me });
        } else {
            self.on_hotplug_off(self.core, HotplugOff { core: core as u32, asker: me });
        }
        self.wait_for(STEP_TIMEOUT_SECONDS, |m| m.hotplug.finished.len() > before);
        self.hotplug.finished.get(before).map(|d| d.status)
    }
}
