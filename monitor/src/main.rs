//! The monitor: the first dispatcher on every core, running at EL0.
//!
//! In the multikernel the CPU driver only multiplexes its own core; everything that involves
//! other cores is the monitors' job, done by explicit URPC messages: binding channels to the
//! other monitors, the name service for this core's dispatchers, handing application channels
//! to them, and (on the boot core) coordinating the per-pair latency benchmark. Each monitor
//! builds its own replica of the System Knowledge Base from the device tree and records the
//! measured latencies in it. It holds this core's Kernel capability and free memory (RAM
//! capabilities) from boot, says how much, and equips the `selftest` program with a share.
//! The boot core's monitor starts every other core first (`core_boot`), giving each its
//! private region and a memory share out of its own RAM.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

extern crate alloc;

mod bind;
mod exercise;
mod exercise_random;
mod fault_harness;
mod hotplug;
mod kernel_caps;
mod liveness;
mod same_core_bench;
mod shell_host;
mod span;
mod unmap_bench;
mod wait_bench;

use alloc::vec::Vec;

use capops::{CapOps, Event};

use capops::wire;
use local_protocol::{self as local, ToMonitor, SERVICE_LATENCY, SERVICE_SELFTEST};
use monitor::bench::{self, result_timeout_seconds, Failure, READY_TIMEOUT_SECONDS};
use monitor::carve::{Carver, Piece, RamCap};
use monitor::messages::{
    BenchEcho, BenchFailed, BenchMeasure, BenchReady, BenchResult, Bound, ExerciseReport, Hello,
    MonitorMessage, SelftestDone,
};
use monitor::names::NameTable;
use monitor::outbox::Outbox;
use urpc::{Endpoint, Message, Side};
use userland::{
    cap_type, info, info_of, println, ChannelKind, Info, FLAG_BENCH, FLAG_FAULT_TEST, FLAG_SELFTEST,
    SLOT_FIRST_CPU_DRIVER, SLOT_FIRST_FREE, SLOT_FIRST_MODULE, SLOT_FIRST_RAM, SLOT_MONITOR, SLOT_SELF,
    SLOT_VNODE,
};

/// Bytes of a page.
const PAGE_BYTES: u64 = 4096;

/// How often a monitor with messages waiting in its outbox looks for room again.
const OUTBOX_RETRY_MICROSECONDS: u64 = 100;
/// How long the capability protocol waits for an answer: generous, because under QEMU with
/// more emulated cores than host cores a core may not run for tens of milliseconds, and a
/// monitor shares its core with programs that compute (the boot core's `selftest` runs a
/// million allocations: its monitor answered a round after more than 10 s).
const CAPOPS_TIMEOUT_NS: u64 = 30_000_000_000;
/// Seconds to wait for the other monitors to bind.
const BIND_TIMEOUT_SECONDS: u64 = 10;
/// How long a queue for a peer may make no progress before the monitor says so.
const OUTBOX_STALL_NS: u64 = 1_000_000_000;

/// Seconds the boot core's monitor waits for every core's `selftest` to finish.
const SELFTEST_TIMEOUT_SECONDS: u64 = 120;
/// Bytes of RAM a monitor gives its `selftest` for its checks (its `SLOT_FIRST_RAM`), and for
/// the children it spawns (its `SLOT_FIRST_RAM + 1`): retyped off the start of the monitor's
/// first RAM capability, one after the other.
const SELFTEST_RAM_BYTES: u64 = 256 << 10;
const SELFTEST_CHILD_RAM_BYTES: u64 = 1 << 20;
/// Where the monitor puts those RAM pieces in its own space before giving them.
const SELFTEST_RAM_SLOT: u32 = SLOT_FIRST_FREE;
/// Bytes of RAM a monitor gives every program it spawns for channels bound on demand (at its
/// `SLOT_CHANNEL_RAM`; see `give_channel_ram`).
const CHANNEL_RAM_BYTES: u64 = 64 << 10;
const SELFTEST_CHILD_RAM_SLOT: u32 = SLOT_FIRST_FREE + 7;
/// Bytes of RAM the boot core's monitor gives each core it starts, for that core's monitor (as
/// RAM capabilities besides its frame pool's rest); halved until it fits.
const CORE_SHARE_BYTES: u64 = 16 << 20;
/// Smallest share a started core gets.
const CORE_SHARE_MIN_BYTES: u64 = 1 << 20;
/// Alignment of a core's private region (the CPU driver maps it with 2 MiB blocks).
const CORE_REGION_ALIGN: u64 = 2 << 20;
/// Where the boot core's monitor puts a core's region and share while it hands them to
/// `core_boot` (deleted afterwards: the kernel holds the memory for that core).
const CORE_REGION_SLOT: u32 = 40;
const CORE_SHARE_SLOT: u32 = 41;
/// Slots the selftest run's `core_boot` refusal checks use: one for a read-only copy, one left
/// empty.
const CORE_SPARE_SLOT: u32 = 42;
const CORE_EMPTY_SLOT: u32 = 43;
/// `caps::CapError` codes the refusal checks expect (`Error::Capability(code)`).
const CAP_EMPTY_SLOT: u8 = 4;
const CAP_SLOT_OCCUPIED: u8 = 5;
const CAP_MISALIGNED: u8 = 10;
const CAP_DENIED: u8 = 15;
/// Where the monitor keeps the RAM piece of the `index`th boot module it spawns
/// (`SPAWN_RAM_SLOT + index`): kept while the program lives.
const SPAWN_RAM_SLOT: u32 = SLOT_FIRST_FREE + 1;
/// Where the monitor keeps the Dispatcher capability `spawn` gives it for the `index`th boot
/// module (`SPAWN_DISPATCHER_SLOT + index`): its authority over that program (`cap_give`).
const SPAWN_DISPATCHER_SLOT: u32 = SLOT_FIRST_FREE + 4;
/// Where the monitor keeps its Endpoint to the `index`th boot module it spawned
/// (`CHILD_ENDPOINT_SLOT + index`): how it sends to that program.
const CHILD_ENDPOINT_SLOT: u32 = SLOT_FIRST_FREE + 8;
/// Where the monitor makes a program's Endpoint to itself before giving it.
const ENDPOINT_TO_GIVE_SLOT: u32 = SLOT_FIRST_FREE + 11;

/// Bytes of RAM the monitor spawns boot module `name` from.
/// The programs a monitor may spawn, by name; the `index`th keeps its RAM at
/// `SPAWN_RAM_SLOT + index` and its Dispatcher capability at `SPAWN_DISPATCHER_SLOT + index`.
const SPAWNED: [&str; 3] = ["selftest", "latency", "faulter"];

/// How the pair being measured ended, as the coordinator heard it.
type PairOutcome = Result<BenchResult, Failure>;

struct Monitor {
    core: u64,
    /// The core that coordinates the run: the boot core, until it fails and the lowest live core
    /// takes over (`liveness`).
    coordinator: u64,
    frequency: u64,
    links: Vec<Option<Endpoint<'static>>>,
    /// What waits for room in a peer's channel.
    outbox: Outbox,
    online: u64,
    hellos: u64,
    sent_hellos: bool,
    reported_bound: bool,
    bound: u64,
    names: NameTable,
    skb: Option<skb::Skb>,
    /// The coordinator's view of the pair in flight: (echoing core, measuring core) once the
    /// echoing side is ready.
    ready: Option<(u32, u32)>,
    /// The coordinator's pair in flight: (measuring, echoing).
    in_flight: Option<(u32, u32)>,
    /// How the pair in flight ended, once the coordinator heard.
    outcome: Option<PairOutcome>,
    /// The benchmark's options from the kernel command line (every monitor reads its own
    /// replica's, so each knows which pairs it must fail on purpose).
    options: bench::Options,
    /// This core's `selftest` dispatcher, registered and not yet equipped.
    selftest: Option<u64>,
    /// The boot core's roll call is over (its hello arrived, or on the boot core it said so):
    /// from then on a busy `selftest` cannot hold up the boot-time URPC figures, which the
    /// CPU driver serves only when its core is idle.
    roll_call_over: bool,
    /// Selftest reports heard (boot core): bit n = core n, and the sums.
    selftests_done: u64,
    selftest_passed: u64,
    selftest_failed: u64,
    /// The programs this monitor spawned: (dispatcher index, slot of its Endpoint to it).
    children: Vec<(u64, u32)>,
    /// This core's part in the capability operations across cores.
    capops: CapOps,
    /// What the capability protocol reported (the exercise reads them).
    cap_events: Vec<Event>,
    /// The capability exercise: reports heard (boot core), retype asks in flight with the
    /// bits already known (other cores).
    exercise_reports: Vec<ExerciseReport>,
    exercise_asks: Vec<(u32, u32)>,
    /// Channel binding: who accepts what, the binds in flight, the capabilities that arrived
    /// for a bind, and the channel RAM given to each program (dispatcher, this monitor's copy).
    accepting: monitor::binding::Accepting,
    binds: monitor::binding::Binds,
    /// The same-core bindings made here, until one side closes them.
    line_bindings: monitor::binding::LineBindings,
    /// Binds by name waiting for the other monitors' answers.
    lookups: monitor::lookup::Lookups,
    arrived: Vec<(u64, caps::CapAddr, caps::Capability)>,
    channel_ram: Vec<(u64, u32)>,
    /// `selftest` on the kernel command line: the capability exercises answer (read once: the
    /// capability protocol's events are handled on every pass).
    selftest_run: bool,
    /// The random capability exercise on this core, while it runs; what the boot core heard.
    random: Option<exercise_random::RandomRun>,
    exercise_holdings: Vec<monitor::holdings::Holding>,
    /// Spans: this core's programs' (with their members elsewhere), the member this core runs
    /// for another core's program, and the boot module each spawned program came from.
    spans: Vec<span::Span>,
    members: Vec<span::Member>,
    prepared_shares: Vec<span::PreparedShare>,
    /// The failure detector and this core's replica of the live cores, once the roll call
    /// is over.
    membership: Option<monitor::membership::Membership>,
    /// The faults the command line injects.
    faults: monitor::faults::Plan,
    /// When the roll call ended here and the membership started (ns): the faults' times count
    /// from it, so that they fall after the monitors know each other however long the boot took.
    faults_epoch_ns: u64,
    /// This monitor stopped taking part (a fault injected, or evicted by the others).
    stopped: bool,
    /// The coordinator failed and this core took the run over: its main loop carries it on.
    took_over: bool,
    /// Injections carried out on this core.
    faults_done: Vec<monitor::faults::Injection>,
    /// The fault harness: probes, damaged lines and storms seen.
    harness: fault_harness::Harness,
    /// How the monitor waits for its channels, same-core messages and deadlines.
    events: userland::EventLoop,
    /// The EL0 wait comparison's figures for the pair in flight (`wait_bench`).
    wait_figures: Option<wait_bench::Figures>,
    /// The same-core comparison in flight (`same_core_bench`).
    same_core: same_core_bench::SameCoreRun,
    child_modules: Vec<(u64, u64)>,
    /// CPU hotplug requests and steps (`hotplug`).
    hotplug: hotplug::Hotplug,
    /// Boot core: what is left of the RAM it carves regions and shares from.
    carver: Option<Carver>,
    /// The serial console's shell and its console driver, when this monitor hosts them, and
    /// what this monitor does for the shell's commands.
    shell: shell_host::ShellHost,
}

impl Monitor {
    fn new() -> Self {
        let core = info(Info::CoreIndex).unwrap_or(0);
        let count = info(Info::CoreCount).unwrap_or(0);
        let links: Vec<Option<Endpoint<'static>>> = (0..count)
            .map(|peer| {
                let va = userland::map_channel(peer, ChannelKind::Monitor).ok()?;
                let side = if core < peer { Side::A } else { Side::B };
                match userland::channel_frame(va).try_endpoint(side) {
                    Ok(endpoint) => Some(endpoint),
                    Err(urpc::SideTaken) => {
                        println!(
                            "monitor {core}: the channel to core {peer} already has this side's endpoint"
                        );
                        None
                    }
                }
            })
            .collect();
        let skb = match userland::device_tree() {
            Ok(dtb) => match skb::Skb::from_dtb(dtb) {
                Ok(facts) => Some(facts),
                Err(e) => {
                    println!("monitor {core}: no SKB replica: {e}");
                    None
                }
            },
            Err(e) => {
                println!("monitor {core}: no SKB replica: device tree not mapped ({e:?})");
                None
            }
        };
        let bootargs = skb.as_ref().and_then(|s| s.bootargs.as_deref()).unwrap_or("");
        let options = bench::Options::from_bootargs(bootargs);
        let faults = monitor::faults::Plan::from_bootargs(bootargs);
        Monitor {
            core,
            coordinator: info(Info::BootCore).unwrap_or(0),
            frequency: info(Info::CounterFrequency).unwrap_or(1),
            outbox: Outbox::new(links.len()),
            links,
            online: 0,
            hellos: 0,
            sent_hellos: false,
            reported_bound: false,
            bound: 0,
            names: NameTable::default(),
            skb,
            ready: None,
            in_flight: None,
            outcome: None,
            options,
            selftest: None,
            roll_call_over: false,
            selftests_done: 0,
            selftest_passed: 0,
            selftest_failed: 0,
            children: Vec::new(),
            capops: CapOps::with_timeout(core as usize, CAPOPS_TIMEOUT_NS),
            cap_events: Vec::new(),
            exercise_reports: Vec::new(),
            exercise_asks: Vec::new(),
            accepting: Default::default(),
            binds: Default::default(),
            line_bindings: Default::default(),
            lookups: Default::default(),
            arrived: Vec::new(),
            channel_ram: Vec::new(),
            selftest_run: info(Info::Flags).is_ok_and(|f| f & FLAG_SELFTEST != 0),
            random: None,
            exercise_holdings: Vec::new(),
            spans: Vec::new(),
            members: Vec::new(),
            prepared_shares: Vec::new(),
            membership: None,
            faults,
            faults_epoch_ns: 0,
            stopped: false,
            took_over: false,
            faults_done: Vec::new(),
            harness: fault_harness::Harness::default(),
            events: wait_bench::monitor_event_loop(),
            wait_figures: None,
            same_core: Default::default(),
            child_modules: Vec::new(),
            hotplug: Default::default(),
            carver: None,
            shell: Default::default(),
        }
    }

    /// Nanoseconds since the counter started (the capability protocol's clock).
    fn now_ns(&self) -> u64 {
        monitor::stats::ticks_to_ns(userland::counter(), self.frequency)
    }

    /// Sends what the capability protocol produced and acts on what it reported.
    fn after_capops(&mut self) {
        for (to, message) in self.capops.take_messages() {
            self.send_payload(to as u64, wire::encode(&message));
        }
        let exercising = self.selftest_run;
        for event in self.capops.take_events() {
            self.random_event(&event);
            match event {
                Event::Revoked { round, ref outcome } => self.span_revoked(round, outcome),
                Event::Protected { round, ref outcome } => self.span_protected(round, outcome),
                _ => {}
            }
            match event {
                Event::Arrived { from, slot, capability }
                    if exercising
                        && self.random.is_none()
                        && from as u64 == self.coordinator
                        && capability.kind() == caps::CapType::Ram =>
                {
                    self.exercise_arrived(slot, capability);
                }
                Event::Arrived { from, slot, .. }
                    if self.options.unmap && from as u64 == self.coordinator =>
                {
                    self.bench_arrived(slot);
                }
                Event::Arrived { from, slot, capability } if capability.kind() == caps::CapType::Frame => {
                    self.remember_arrival(from as u64, slot, capability);
                }
                Event::Retyped { request, ref result } if exercising => {
                    self.exercise_retyped(request, result.is_ok());
                }
                _ => {}
            }
            if self.core == self.coordinator {
                self.cap_events.push(event);
            }
        }
    }

    pub(crate) fn peers(&self) -> u64 {
        self.online & !(1 << self.core)
    }

    /// Sends `message` to every online peer.
    fn broadcast<M: Message>(&mut self, message: &M) {
        let peers = self.peers();
        for peer in (0..64).filter(|&p| peers & (1 << p) != 0) {
            self.send(peer, message);
        }
    }

    /// Sends `message` to `peer`'s monitor: now, or, if its channel is full, as soon as it has
    /// room (the outbox keeps it, in order; nothing is dropped).
    fn send<M: Message>(&mut self, peer: u64, message: &M) {
        self.send_payload(peer, urpc::message::encode(message));
    }

    /// As [`send`](Self::send), without waking the peer (it reads the message when it next
    /// wakes for anything else).
    fn send_quietly<M: Message>(&mut self, peer: u64, message: &M) {
        let Some(Some(link)) = self.links.get_mut(peer as usize) else { return };
        let _ = self.outbox.send(peer as usize, urpc::message::encode(message), &mut link.sender);
    }

    /// Sends an encoded message as [`send`](Self::send) does.
    fn send_payload(&mut self, peer: u64, payload: urpc::Payload) {
        let Some(Some(link)) = self.links.get_mut(peer as usize) else { return };
        let _ = self.outbox.send(peer as usize, payload, &mut link.sender);
        // Wake the peer only if it sleeps: one that polls or watches its lines sees the
        // message without. A message left in the queue needs no wake-up of its own: the ring
        // is full of messages whose sends woke the peer if it slept.
        if link.sender.receiver_asleep() {
            let _ = userland::notify(peer);
        }
    }

    /// Handles everything that has arrived: same-core messages and every monitor channel.
    fn pump(&mut self) {
        self.inject_due_faults();
        if self.stopped {
            return;
        }
        let now = self.now_ns();
        for (peer, link) in self.links.iter_mut().enumerate() {
            if let Some(link) = link {
                if self.outbox.pending(peer) > 0
                    && self.outbox.flush_at(peer, &mut link.sender, now) > 0
                    && link.sender.receiver_asleep()
                {
                    let _ = userland::notify(peer as u64);
                }
                if let Some(stall) = self.outbox.stalled(peer, now, OUTBOX_STALL_NS) {
                    println!(
                        "monitor {}: {} messages have waited {} ms for core {peer}, which reads nothing",
                        self.core,
                        stall.depth,
                        stall.waited_ns / 1_000_000
                    );
                }
            }
        }
        while let Some(event) = self.events.poll_local() {
            self.on_event(event);
        }
        self.random_step();
        self.watch_members();
        self.watch_spans();
        if self.capops.busy() {
            let now = self.now_ns();
            let mut kernel = self.kernel_caps();
            self.capops.poll(&mut kernel, now);
            self.after_capops();
        }
        let now = self.now_ns();
        for peer in 0..self.links.len() {
            if self.harness.desynced & (1 << peer) != 0 {
                continue;
            }
            while let Some(link) = self.links.get_mut(peer).and_then(Option::as_mut) {
                let payload = match link.receiver.try_recv() {
                    Ok(payload) => payload,
                    Err(urpc::RecvError::Empty) => break,
                    Err(desync) => {
                        self.on_desync(peer as u64, desync);
                        break;
                    }
                };
                self.heard_from(peer as u64, now);
                self.outbox.note_received(peer);
                match MonitorMessage::decode(&payload) {
                    Ok(message) => self.on_message(peer as u64, message),
                    Err(e) => self.on_malformed(peer as u64, e),
                }
            }
        }
        self.membership_step();
        self.probe_progress();
        self.hotplug_poll();
        self.lookup_poll();
    }

    fn latency_dispatcher(&self) -> Option<u64> {
        self.names.lookup(SERVICE_LATENCY)
    }

    fn on_local(&mut self, sender: u64, words: [u64; 3]) {
        let message = match local::decode::<ToMonitor>(words) {
            Ok(message) => message,
            Err(e) => {
                if !self.on_shell_malformed(sender, e) {
                    println!("monitor {}: dispatcher {sender} sent no message ({e}): {words:x?}", self.core);
                }
                return;
            }
        };
        let core = self.core as u32;
        match message {
            ToMonitor::Register(register) => {
                self.names.register(register.service, sender);
                if register.service == SERVICE_SELFTEST {
                    self.selftest = Some(sender);
                    self.maybe_equip_selftest();
                }
            }
            ToMonitor::SelftestDone(done) => {
                let done = SelftestDone { core, passed: done.passed, failed: done.failed };
                if self.core == self.coordinator {
                    self.heard_selftest(done);
                } else {
                    self.send(self.coordinator, &done);
                }
            }
            ToMonitor::Ready(ready) => self.echo_ready(ready.peer),
            ToMonitor::Accept(accept) => self.on_accept(sender, accept),
            ToMonitor::Bind(bind) => self.on_bind(sender, bind),
            ToMonitor::Start(start) => self.on_start(sender, start),
            ToMonitor::Unbind(unbind) => self.on_unbind(sender, unbind),
            ToMonitor::Span(span) => self.on_span(sender, span.core, span.role),
            ToMonitor::SpanShare(share) => self.on_span_share(sender, share.entry, share.slot),
            ToMonitor::SpanUnshare(unshare) => {
                self.on_span_unshare(sender, unshare.entry, unshare.strategy.into())
            }
            ToMonitor::SpanProtect(protect) => {
                self.on_span_protect(sender, protect.entry, protect.strategy.into())
            }
            ToMonitor::WaitResult(result) => self.heard_wait_result(result),
            ToMonitor::SameCoreResult(result) => self.heard_same_core(sender, Ok(result)),
            ToMonitor::SameCoreFailed(failed) => self.heard_same_core(sender, Err(failed.failure)),
            ToMonitor::Hotplug(hotplug) => self.on_local_hotplug(hotplug),
            ToMonitor::Measured(measured) => {
                let local::Measured { peer, limit_ns, p50_ns, p99_ns } = measured;
                let result = BenchResult { from: core, to: peer, p50_ns, p99_ns, limit_ns };
                // The checks the message's decoding makes: a zero figure is no measurement.
                let outcome = result.check().map(|()| result).map_err(|_| Failure::BelowResolution);
                self.report_outcome((core, peer), outcome);
            }
            ToMonitor::FailedMeasuring(failed) => {
                self.report_outcome((core, failed.peer), Err(failed.failure))
            }
            ToMonitor::FailedEchoing(failed) => self.report_outcome((failed.peer, core), Err(failed.failure)),
            ToMonitor::Input(_)
            | ToMonitor::Ask(_)
            | ToMonitor::Interrupt(_)
            | ToMonitor::StatsDone(_)
            | ToMonitor::SpawnOn(_)
            | ToMonitor::SpawnName(_) => self.on_shell_local(sender, message),
        }
    }

    /// This core's `latency` echoes for `initiator`: tell the coordinator.
    fn echo_ready(&mut self, initiator: u32) {
        let ready = BenchReady { core: self.core as u32, initiator };
        if self.core == self.coordinator {
            self.ready = Some((ready.core, ready.initiator));
        } else {
            self.send(self.coordinator, &ready);
        }
    }

    /// How the pair (measuring, echoing) ended, to the coordinator (this monitor, or the boot
    /// core's).
    fn report_outcome(&mut self, pair: (u32, u32), outcome: PairOutcome) {
        if self.core == self.coordinator {
            self.heard_outcome(pair, outcome);
            return;
        }
        match outcome {
            Ok(result) => self.send(self.coordinator, &result),
            Err(failure) => self.send(self.coordinator, &BenchFailed { from: pair.0, to: pair.1, failure }),
        }
    }

    fn on_message(&mut self, peer: u64, message: MonitorMessage) {
        let membership = match message {
            MonitorMessage::Heartbeat(_) => Some(monitor::membership::Wire::Heartbeat),
            MonitorMessage::Evicted(_) => Some(monitor::membership::Wire::Evicted),
            MonitorMessage::MembershipStep(step) => step.to_wire().ok(),
            _ => None,
        };
        if let Some(wire) = membership {
            self.on_membership(peer, wire);
            return;
        }
        // A core started again is no member until its join round commits.
        if let MonitorMessage::JoinRequest(request) = message {
            self.on_join_request(peer, request);
            return;
        }
        // A removed core's messages count for nothing (it is told to stop).
        if !self.peer_counts(peer) {
            self.on_membership(peer, monitor::membership::Wire::Heartbeat);
            return;
        }
        match message {
            MonitorMessage::Hello(hello) => {
                self.hellos |= 1 << peer;
                if peer == self.coordinator {
                    // The boot core's view of who is online, also when it later leaves out a
                    // core it took as dead (`declare_dead`); never one the membership removed.
                    let live = self.membership.as_ref().map_or(u64::MAX, |m| m.live());
                    self.online = hello.online & live;
                }
                if peer == self.coordinator && !self.sent_hellos {
                    self.start_membership();
                    self.sent_hellos = true;
                    self.broadcast(&Hello { from: self.core as u32, online: self.online });
                    self.roll_call_over = true;
                    self.maybe_equip_selftest();
                }
                self.check_bound();
            }
            MonitorMessage::Bound(bound) => self.bound |= 1 << bound.from,
            MonitorMessage::BenchEcho(echo) => {
                self.exit_if_injected_in_bench();
                self.start_echo(echo.initiator, echo.rounds.into());
            }
            MonitorMessage::BenchMeasure(m) => {
                self.exit_if_injected_in_bench();
                self.start_measure(m.peer, m.rounds.into());
            }
            MonitorMessage::BenchEchoWaiting(echo) => self.start_echo_waiting(echo),
            MonitorMessage::BenchReady(ready) => self.ready = Some((ready.core, ready.initiator)),
            MonitorMessage::BenchResult(result) => {
                if self.core == self.coordinator {
                    self.heard_outcome((result.from, result.to), Ok(result));
                } else if let Some(skb) = self.skb.as_mut() {
                    // Only results that decoded get here, so only real measurements become facts.
                    skb.record_latency(result.from as usize, result.to as usize, result.p50_ns.into());
                }
            }
            MonitorMessage::BenchFailed(failed) => {
                if self.core == self.coordinator {
                    self.heard_outcome((failed.from, failed.to), Err(failed.failure));
                }
            }
            MonitorMessage::SelftestDone(done) => {
                if self.core == self.coordinator {
                    self.heard_selftest(done);
                }
            }
            MonitorMessage::Capability(message) => {
                let now = self.now_ns();
                let mut kernel = self.kernel_caps();
                self.capops.receive(&mut kernel, peer as usize, message, now);
                self.after_capops();
            }
            MonitorMessage::ExerciseReport(report) => self.exercise_reports.push(report),
            MonitorMessage::ExerciseQuery(query) => self.answer_exercise_query(query),
            MonitorMessage::BindRequest(request) => self.on_bind_request(peer, request),
            MonitorMessage::BindReply(reply) => self.on_bind_reply(peer, reply),
            MonitorMessage::NameQuery(query) => self.on_name_query(peer, query),
            MonitorMessage::NameAnswer(answer) => self.on_name_answer(peer, answer),
            MonitorMessage::ExerciseRandom(order) => self.start_random(order),
            MonitorMessage::SpanRequest(request) => self.on_span_request(peer, request),
            MonitorMessage::SpanReply(reply) => self.on_span_reply(peer, reply),
            MonitorMessage::SpanShare(share) => self.on_span_share_request(peer, share),
            MonitorMessage::SpanShareDone(done) => self.on_span_share_done(peer, done),
            MonitorMessage::SpanShareCommit(commit) => self.on_span_share_commit(peer, commit),
            MonitorMessage::Probe(probe) => self.send(peer, &monitor::messages::ProbeEcho { seq: probe.seq }),
            MonitorMessage::ProbeEcho(echo) => self.on_probe_echo(peer, echo.seq),
            MonitorMessage::ProbeAll(ask) => self.on_probe_all(peer, ask),
            MonitorMessage::ProbeReport(report) => self.on_probe_report(peer, report),
            MonitorMessage::Storm(_) => self.on_storm(peer),
            MonitorMessage::StormDone(done) => self.on_storm_done(peer, done),
            shell @ (MonitorMessage::ShellAsk(_)
            | MonitorMessage::ShellDone(_)
            | MonitorMessage::ShellPing(_)
            | MonitorMessage::ShellPong(_)) => self.on_shell_message(peer, shell),
            MonitorMessage::SameCoreAsk(ask) => self.on_same_core_ask(peer, ask),
            MonitorMessage::SameCoreDone(done) => self.on_same_core_done(peer, done),
            // Handled above.
            MonitorMessage::Heartbeat(_) | MonitorMessage::MembershipStep(_) | MonitorMessage::Evicted(_) => {
            }
            MonitorMessage::SpanMemberEnded(ended) => self.on_span_member_ended(peer, ended),
            MonitorMessage::HotplugOff(off) => self.on_hotplug_off(peer, off),
            MonitorMessage::HotplugOn(on) => self.on_hotplug_on(on),
            MonitorMessage::Welcome(welcome) => self.on_welcome(peer, welcome),
            MonitorMessage::HotplugDone(done) => self.on_hotplug_done(done),
            // Handled above.
            MonitorMessage::JoinRequest(_) => {}
            MonitorMessage::ExerciseListHoldings(list) => self.send_holdings(u64::from(list.to)),
            MonitorMessage::ExerciseHolding(h) => self.exercise_holdings.push(monitor::holdings::Holding {
                core: h.core,
                kind: h.kind,
                base: h.base,
                size: h.size,
                owner: h.owner,
            }),
        }
    }

    /// The boot core's monitor starts every other core (`core_boot`, on its Kernel capability):
    /// for each core of its SKB replica, the CPU-driver build the SKB chooses for the core's
    /// design (the portable build where the tree does not name it), a private region of the size the kernel asks for that build (2 MiB aligned) and a
    /// memory share for the core's monitor, both carved from its own RAM capabilities (not the
    /// first, which it keeps for the programs it spawns). Returns the bytes it gave away. A core
    /// that cannot be started is reported and left to the roll call, which names it offline.
    fn boot_other_cores(&mut self) -> u64 {
        let core = self.core;
        let Some(skb) = self.skb.as_ref() else {
            println!("monitor {core}: cannot start the other cores: no SKB replica");
            return 0;
        };
        let classes: Vec<u32> = (0..info(Info::CoreCount).unwrap_or(0) as usize)
            .map(|c| u32::from(skb.cpu_driver_build(c) == Some(skb::CpuDriverBuild::Big)))
            .collect();
        let ram = (SLOT_FIRST_RAM + 1..SLOT_VNODE).filter_map(|slot| {
            let cap = userland::cap_identify(slot).ok().filter(|c| c.kind == cap_type::RAM)?;
            Some(RamCap { slot, base: cap.base, size: cap.size })
        });
        let mut carver = Carver::new(ram);
        let checking = info(Info::Flags).unwrap_or(0) & FLAG_SELFTEST != 0;
        let mut checks = Vec::new();
        let others = (0..classes.len() as u64).filter(|&c| c != core);
        for (nth, other) in others.enumerate() {
            let class = classes[other as usize];
            if checking && nth == 0 {
                checks.extend(core_boot_refusals(&mut carver, core, other, class, classes.len() as u64));
            }
            let started = hand_over(&mut carver, class).and_then(|pieces| {
                let build = SLOT_FIRST_CPU_DRIVER + class;
                userland::core_boot(other, build, CORE_REGION_SLOT, CORE_SHARE_SLOT)
                    .map_err(describe_refusal)?;
                self.hotplug.gave(other, pieces);
                Ok(())
            });
            if started.is_ok() && checking && nth == 0 {
                checks.extend(core_boot_after_start(&mut carver, other, class));
            }
            // The kernel holds what it took; these capabilities only named the pieces.
            let _ = userland::cap_delete(CORE_REGION_SLOT);
            let _ = userland::cap_delete(CORE_SHARE_SLOT);
            if let Err(e) = started {
                println!("monitor {core}: cannot start core {other}: {e}");
            }
        }
        for (name, outcome) in checks {
            match outcome {
                Ok(()) => {
                    println!("selftest {core} {name}: ok");
                    self.selftest_passed += 1;
                }
                Err(why) => {
                    println!("selftest {core} {name}: FAILED {why}");
                    self.selftest_failed += 1;
                }
            }
        }
        let taken = carver.taken();
        self.carver = Some(carver);
        taken
    }

    /// Says what this monitor holds: its RAM capabilities, found with `cap_identify` over its
    /// slots (the kernel puts them from `SLOT_FIRST_RAM` on), less `given` bytes of them it
    /// gave to other cores.
    fn report_memory(&self, given: u64) {
        let mut bytes = 0;
        let mut count = 0;
        for slot in SLOT_FIRST_RAM..SLOT_FIRST_FREE {
            match userland::cap_identify(slot) {
                Ok(cap) if cap.kind == cap_type::RAM => {
                    bytes += cap.size;
                    count += 1;
                }
                _ => {}
            }
        }
        let tenths = bytes.saturating_sub(given) * 10 / (1 << 20);
        println!(
            "monitor {} memory: {}.{} MiB free in {count} RAM capabilities",
            self.core,
            tenths / 10,
            tenths % 10
        );
    }

    /// Spawns the programs the command line asks for from this monitor's boot-module
    /// capabilities, found by name (`module_info`), each out of a RAM capability retyped for
    /// it of exactly the size `module_info` says it needs (and says so): `selftest` with
    /// `selftest`, `latency` with `bench`, `faulter` with `fault-test` on core 1. They register
    /// with this monitor themselves (`REGISTER`) through the Endpoint it gives them.
    fn spawn_programs(&mut self) {
        let flags = info(Info::Flags).unwrap_or(0);
        let mut used = 0;
        for (index, name) in (0u32..).zip(SPAWNED) {
            let wanted = match name {
                "selftest" => flags & FLAG_SELFTEST != 0,
                "latency" => flags & FLAG_BENCH != 0,
                "faulter" => flags & FLAG_FAULT_TEST != 0 && self.core == 1,
                _ => false,
            };
            if !wanted {
                continue;
            }
            let Some((module, module_info)) = userland::find_module(name) else {
                println!("monitor {}: cannot spawn {name}: no such boot module", self.core);
                continue;
            };
            let bytes = module_info.ram_bytes;
            match self.spawn_program(index, module, bytes, &mut used) {
                Ok(()) => {
                    if let Some(&(dispatcher, _)) = self.children.last() {
                        let mut id = [0u8; 8];
                        id[..name.len().min(8)].copy_from_slice(&name.as_bytes()[..name.len().min(8)]);
                        self.child_modules.push((dispatcher, u64::from_le_bytes(id)));
                    }
                    println!("monitor {} spawned {name} from {} KiB of RAM", self.core, bytes >> 10)
                }
                Err(e) => println!("monitor {}: cannot spawn {name}: {e:?}", self.core),
            }
        }
    }

    /// Spawns the boot module whose capability is at `module` (the `index`th of [`SPAWNED`])
    /// out of a RAM capability of its own: `bytes` retyped off the end of this monitor's first
    /// RAM capability (below the `used` bytes given before) into `SPAWN_RAM_SLOT + index`; its
    /// Dispatcher capability goes to `SPAWN_DISPATCHER_SLOT + index`.
    ///
    /// Then the two Endpoints between them: one to this monitor with the program's dispatcher
    /// index as its badge, given to the program at `SLOT_MONITOR` (so what it sends is known to
    /// be its), and one to the program, kept at `CHILD_ENDPOINT_SLOT + index`.
    fn spawn_program(
        &mut self,
        index: u32,
        module: u32,
        bytes: u64,
        used: &mut u64,
    ) -> Result<(), userland::Error> {
        let ram = userland::cap_identify(SLOT_FIRST_RAM)?;
        let offset = ram.size.checked_sub(*used + bytes).ok_or(userland::Error::Capability(11))?;
        let slot = SPAWN_RAM_SLOT + index;
        userland::cap_retype(SLOT_FIRST_RAM, cap_type::RAM, offset, bytes, 1, slot)?;
        *used += bytes;
        let child = SPAWN_DISPATCHER_SLOT + index;
        let dispatcher = userland::spawn(module, slot, child, 0).inspect_err(|_| {
            let _ = userland::cap_delete(slot);
        })?;
        let to_me = userland::endpoint_create(SLOT_SELF, dispatcher, ENDPOINT_TO_GIVE_SLOT)
            .and_then(|()| userland::cap_give(child, ENDPOINT_TO_GIVE_SLOT, SLOT_MONITOR));
        let _ = userland::cap_delete(ENDPOINT_TO_GIVE_SLOT);
        to_me?;
        userland::endpoint_create(child, 0, CHILD_ENDPOINT_SLOT + index)?;
        self.children.push((dispatcher, CHILD_ENDPOINT_SLOT + index));
        self.give_channel_ram(index, child, dispatcher);
        Ok(())
    }

    /// Gives the `index`th program (Dispatcher capability at `child`) RAM for the channels it
    /// binds on demand, at its `SLOT_CHANNEL_RAM`; this monitor keeps a copy to retype each
    /// channel's Frame from. A program without it can still run; only its binds are refused.
    fn give_channel_ram(&mut self, index: u32, child: u32, dispatcher: u64) {
        let slot = kernel_caps::program_channel_ram_slot(index);
        let given = self
            .retype_free_ram(CHANNEL_RAM_BYTES, slot)
            .ok_or(userland::Error::Capability(11))
            .and_then(|()| userland::cap_give(child, slot, userland::SLOT_CHANNEL_RAM));
        match given {
            Ok(()) => self.channel_ram.push((dispatcher, slot)),
            Err(e) => {
                let _ = userland::cap_delete(slot);
                println!("monitor {}: no channel RAM for program {index}: {e:?}", self.core);
            }
        }
    }

    /// Where this monitor keeps the Dispatcher capability of its program `dispatcher` (one
    /// it spawned at boot or launched since).
    pub(crate) fn dispatcher_slot(&self, dispatcher: u64) -> Option<u32> {
        self.spawned_dispatcher_slot(dispatcher).or_else(|| self.launched_dispatcher_slot(dispatcher))
    }

    /// Where this monitor keeps the Dispatcher capability of its boot program `dispatcher`.
    fn spawned_dispatcher_slot(&self, dispatcher: u64) -> Option<u32> {
        let endpoint = self.children.iter().find(|(d, _)| *d == dispatcher).map(|&(_, e)| e)?;
        let index = endpoint.checked_sub(CHILD_ENDPOINT_SLOT).filter(|&i| (i as usize) < SPAWNED.len())?;
        Some(SPAWN_DISPATCHER_SLOT + index)
    }

    /// Sends `words` to this core's program with dispatcher index `dispatcher` (one this
    /// monitor spawned), through the Endpoint it keeps to it.
    fn send_to_program(&self, dispatcher: u64, words: [u64; 3]) -> Result<(), userland::Error> {
        let endpoint = self.children.iter().find(|(d, _)| *d == dispatcher).map(|(_, e)| *e);
        userland::send_local(endpoint.ok_or(userland::Error::InvalidArgument)?, words)
    }

    /// Sends `message` ([`local::ToProgram`]'s) to this core's program `dispatcher`, as
    /// [`Self::send_to_program`] does.
    pub(crate) fn tell_program<M: urpc::interface::Variant>(
        &self,
        dispatcher: u64,
        message: &M,
    ) -> Result<(), userland::Error> {
        self.send_to_program(dispatcher, local::words(message))
    }

    /// Equips this core's `selftest` once it registered and the roll call is over.
    fn maybe_equip_selftest(&mut self) {
        if !self.roll_call_over {
            return;
        }
        if let Some(dispatcher) = self.selftest.take() {
            self.equip_selftest(dispatcher);
        }
    }

    /// `selftest` registered: give it two RAM capabilities of its own (retyped off this
    /// monitor's first one, copied into its space with `cap_give` through the Dispatcher
    /// capability `spawn` gave for it, then dropped here so the program holds the only copies):
    /// one for its checks at `SLOT_FIRST_RAM`, one for the children it spawns at
    /// `SLOT_FIRST_RAM + 1`; and a copy of the `selftest` module capability at
    /// `SLOT_FIRST_MODULE`, so it can spawn itself in a child role. Then tell it to start.
    fn equip_selftest(&mut self, dispatcher: u64) {
        let index = SPAWNED.iter().position(|&m| m == "selftest").unwrap_or(0) as u32;
        let child = SPAWN_DISPATCHER_SLOT + index;
        let module = userland::find_module("selftest").map_or(SLOT_FIRST_MODULE, |(slot, _)| slot);
        let ram =
            |offset, bytes, slot| userland::cap_retype(SLOT_FIRST_RAM, cap_type::RAM, offset, bytes, 1, slot);
        let given = ram(0, SELFTEST_RAM_BYTES, SELFTEST_RAM_SLOT)
            .and_then(|()| ram(SELFTEST_RAM_BYTES, SELFTEST_CHILD_RAM_BYTES, SELFTEST_CHILD_RAM_SLOT))
            .and_then(|()| userland::cap_give(child, SELFTEST_RAM_SLOT, SLOT_FIRST_RAM))
            .and_then(|()| userland::cap_give(child, SELFTEST_CHILD_RAM_SLOT, SLOT_FIRST_RAM + 1))
            .and_then(|()| userland::cap_give(child, module, SLOT_FIRST_MODULE));
        let _ = userland::cap_delete(SELFTEST_RAM_SLOT);
        let _ = userland::cap_delete(SELFTEST_CHILD_RAM_SLOT);
        if let Err(e) = given {
            println!("monitor {}: cannot equip selftest: {e:?}", self.core);
        }
        let _ = self.tell_program(dispatcher, &local::SelftestGo {});
    }

    fn heard_selftest(&mut self, done: SelftestDone) {
        self.selftests_done |= 1 << done.core;
        self.selftest_passed += u64::from(done.passed);
        self.selftest_failed += u64::from(done.failed);
    }

    /// The boot core's monitor: waits for every online core's `selftest`, prints the summary
    /// and ends the run, with `SYSTEM_RESET` if anything failed (or a core never reported).
    fn finish_selftest(&mut self) {
        let online = self.online;
        let all = self.wait_for(SELFTEST_TIMEOUT_SECONDS, |m| m.selftests_done & online == online);
        let missing = (online & !self.selftests_done).count_ones();
        if !all {
            println!("monitor {}: {missing} cores never reported a selftest", self.core);
        }
        // Once every core's selftest is done, so that the cores answer as fast as they can.
        self.capability_exercise();
        self.random_exercise();
        println!(
            "selftest: {} passed, {} failed",
            self.selftest_passed,
            self.selftest_failed + u64::from(missing)
        );
        if self.selftest_failed == 0 && all {
            let _ = userland::power_off();
        }
        let _ = userland::power_off_failed();
    }

    /// The coordinator heard how `pair` ended. Only the pair in flight counts: a late answer
    /// for a pair already given up on must not stand in for the current one.
    fn heard_outcome(&mut self, pair: (u32, u32), outcome: PairOutcome) {
        if self.in_flight == Some(pair) {
            self.outcome = Some(outcome);
        } else {
            println!("monitor {}: late answer for pair {}-{} ignored", self.core, pair.0, pair.1);
        }
    }

    /// `inject=monitor-exit-in-bench@core<N>` for this core: exits, silent from now on, as a
    /// monitor whose core died mid-benchmark would be.
    fn exit_if_injected_in_bench(&self) {
        if self.options.inject_exit_in_bench & (1 << self.core) != 0 {
            println!(
                "monitor {}: exiting on purpose (inject=monitor-exit-in-bench@core{})",
                self.core, self.core
            );
            userland::exit(3);
        }
    }

    /// Has this core's `latency` echo for `initiator`, unless the command line says this pair
    /// must fail (`bench-fail=`): then the coordinator hears "ready" and nobody answers, so the
    /// measuring side runs into its real timeout.
    fn start_echo(&mut self, initiator: u32, rounds: u64) {
        let core = self.core as u32;
        if self.options.fails(initiator, core) {
            println!("monitor {core}: not echoing for core {initiator} (bench-fail={initiator}-{core})");
            self.echo_ready(initiator);
            return;
        }
        if let Err(failure) = self.ask_latency(initiator.into(), &local::Echo { rounds, peer: initiator }) {
            self.report_outcome((initiator, core), Err(failure));
        }
    }

    /// Has this core's `latency` measure against `peer`.
    fn start_measure(&mut self, peer: u32, rounds: u64) {
        if let Err(failure) = self.ask_latency(peer.into(), &local::Measure { rounds, peer }) {
            self.report_outcome((self.core as u32, peer), Err(failure));
        }
    }

    /// Once every online peer said hello, this monitor is bound: say so.
    pub(crate) fn check_bound(&mut self) {
        if self.reported_bound || self.online == 0 || self.hellos & self.peers() != self.peers() {
            return;
        }
        self.reported_bound = true;
        let peers = self.peers().count_ones();
        println!("monitor {} bound to {peers} peers", self.core);
        if self.core != self.coordinator {
            self.send(self.coordinator, &Bound { from: self.core as u32, peers });
        }
    }

    /// Hands the application channel to `peer` to this core's `latency` dispatcher and tells
    /// it what to do.
    pub(crate) fn ask_latency<M: urpc::interface::Variant>(
        &mut self,
        peer: u64,
        request: &M,
    ) -> Result<(), Failure> {
        let latency = self.latency_dispatcher().ok_or(Failure::NoLatencyService)?;
        userland::grant(peer, latency).map_err(|_| Failure::GrantRefused)?;
        // A full queue is not reported here: the coordinator's timeout names the step that
        // did not happen.
        let _ = self.tell_program(latency, request);
        Ok(())
    }

    /// Handles messages until `done` holds or `seconds` pass; false on timeout.
    pub(crate) fn wait_for(&mut self, seconds: u64, done: impl Fn(&Self) -> bool) -> bool {
        let deadline = userland::counter() + seconds * self.frequency;
        loop {
            self.pump();
            if done(self) {
                return true;
            }
            let now = userland::counter();
            if now >= deadline {
                return false;
            }
            self.sleep(deadline - now);
        }
    }

    /// Sleeps until woken or `ticks` pass (0: no limit), but only briefly while messages wait
    /// in the outbox: a peer that drains its channel does not wake this core, so the monitor
    /// looks again for room every `OUTBOX_RETRY_MICROSECONDS`.
    fn sleep(&mut self, ticks: u64) {
        if self.stopped {
            userland::wait(0);
            return;
        }
        // The failure detector's next heartbeat or suspicion is a deadline too.
        let ticks = match self.membership.as_ref().map(|m| m.next_deadline()) {
            Some(deadline) => {
                let until = deadline.saturating_sub(self.now_ns());
                let detector = (until.saturating_mul(self.frequency) / 1_000_000_000).max(1);
                if ticks == 0 {
                    detector
                } else {
                    ticks.min(detector)
                }
            }
            None => ticks,
        };
        let retry = (self.frequency * OUTBOX_RETRY_MICROSECONDS / 1_000_000).max(1);
        let busy = self.outbox.any_pending()
            || self.random.as_ref().is_some_and(|r| !r.done)
            || !self.members.is_empty();
        let ticks = match (busy, ticks) {
            (false, ticks) => ticks,
            (true, 0) => retry,
            (true, ticks) => ticks.min(retry),
        };
        self.wait_on_links(ticks);
    }

    fn class_name(&self, core: u64) -> &'static str {
        self.skb
            .as_ref()
            .and_then(|s| s.cpu_driver_build(core as usize))
            .map_or("unknown", |b| b.class_name())
    }

    /// The boot core's monitor: binds everyone, runs the benchmark if asked, ends the run.
    fn coordinate(&mut self) {
        while info(Info::RollCallDone) != Ok(1) {
            userland::wait(0);
        }
        let count = self.links.len() as u64;
        self.online = (0..count)
            .filter(|&c| info_of(Info::CoreOnline, c) == Ok(1))
            .fold(1 << self.core, |m, c| m | 1 << c);
        // The replica learns who is missing, so its queries (the multicast tree) leave them out.
        let online = self.online;
        if let Some(skb) = self.skb.as_mut() {
            for core in (0..count as usize).filter(|&c| online & (1 << c) == 0) {
                skb.mark_offline(core, "offline at the roll call");
            }
        }
        self.start_membership();
        self.broadcast(&Hello { from: self.core as u32, online: self.online });
        self.roll_call_over = true;
        self.maybe_equip_selftest();
        self.check_bound(); // with no peer, nobody's hello would
        let all_bound =
            self.wait_for(BIND_TIMEOUT_SECONDS, |m| m.bound & m.peers() == m.peers() && m.reported_bound);
        let bound = (self.bound & self.peers()).count_ones() + 1;
        println!(
            "monitors bound: {bound} of {}{}",
            self.peers().count_ones() + 1,
            if all_bound { "" } else { " (timed out)" }
        );
        // A monitor that never said hello is not there to answer anything later.
        let silent = self.peers() & !self.hellos;
        for core in (0..64).filter(|&c| silent & (1 << c) != 0) {
            self.declare_dead(core, "its monitor never said hello");
        }
        let hotplug = self
            .skb
            .as_ref()
            .and_then(|s| s.bootargs.as_deref())
            .is_some_and(|a| a.split_whitespace().any(|w| w == "hotplug"));
        if hotplug {
            self.hotplug_cycles();
        } else if info(Info::Flags).is_ok_and(|f| f & FLAG_BENCH != 0) {
            self.benchmark(usize::MAX);
            self.compare_same_core();
        }
        if self.options.unmap {
            self.unmap_benchmark();
        }
        if info(Info::Flags).is_ok_and(|f| f & FLAG_SELFTEST != 0) {
            self.finish_selftest();
        }
        self.await_faults();
        if self.start_shell() {
            return; // the shell's `halt` ends the run
        }
        let _ = userland::power_off();
    }

    /// Runs one ordered pair: its measurement, or why there is none. Messages about other
    /// pairs (late answers to a pair that already timed out) are ignored.
    fn measure_pair(&mut self, from: u32, to: u32) -> PairOutcome {
        let rounds = self.options.rounds;
        self.ready = None;
        self.outcome = None;
        self.in_flight = Some((from, to));
        if u64::from(to) == self.core {
            self.start_echo(from, rounds);
        } else {
            self.send(to.into(), &BenchEcho { initiator: from, rounds: rounds as u32 });
        }
        let ready =
            self.wait_for(READY_TIMEOUT_SECONDS, |m| m.ready == Some((to, from)) || m.outcome.is_some());
        if let Some(Err(failure)) = self.outcome {
            return Err(failure);
        }
        if !ready {
            return Err(Failure::EchoNotReady);
        }
        if u64::from(from) == self.core {
            self.start_measure(to, rounds);
        } else {
            self.send(from.into(), &BenchMeasure { peer: to, rounds: rounds as u32 });
        }
        self.wait_for(result_timeout_seconds(rounds), |m| m.outcome.is_some());
        self.outcome.unwrap_or(Err(Failure::NoResult))
    }

    /// Takes `core` as dead for the rest of the run: it leaves the online set (so no later pair,
    /// exercise or wait involves it) and the SKB replica marks it offline (so the multicast
    /// tree routes around it).
    fn declare_dead(&mut self, core: u32, why: &str) {
        self.online &= !(1u64 << core);
        self.outbox.forget(core as usize);
        if let Some(skb) = self.skb.as_mut() {
            skb.mark_offline(core as usize, why);
        }
        println!("monitor {}: core {core} taken as dead ({why}): left out from now on", self.core);
        self.broadcast(&Hello { from: self.core as u32, online: self.online });
    }

    /// The latency benchmark over every ordered pair of online cores, or the first `max_pairs`
    /// of them (the shell's `bench latency <pairs>`).
    fn benchmark(&mut self, max_pairs: usize) {
        let cores: Vec<u32> = (0..64).filter(|&c| self.online & (1 << c) != 0).collect();
        let pairs = (cores.len() * cores.len().saturating_sub(1)).min(max_pairs);
        let mut tried = 0;
        if let Some(skb) = self.skb.as_ref() {
            let clusters: Vec<u32> = skb.cpus.iter().map(|cpu| cpu.cluster).collect();
            println!(
                "{}",
                bench::machine_line(self.frequency, &clusters, skb.model.as_deref().unwrap_or("unknown"))
            );
        }
        println!(
            "latency benchmark: {pairs} ordered pairs, {} round trips each, at EL0 over URPC",
            self.options.rounds
        );
        let mut summary = bench::Summary::default();
        for &from in &cores {
            for &to in cores.iter().filter(|&&to| to != from) {
                if tried == pairs || self.shell.interrupted() {
                    break;
                }
                tried += 1;
                let classes =
                    alloc::format!("{}-{}", self.class_name(from.into()), self.class_name(to.into()));
                let alive = |c: u32| self.online & (1u64 << c) != 0;
                let outcome = if alive(from) && alive(to) {
                    self.measure_pair(from, to)
                } else {
                    Err(Failure::CoreDead)
                };
                self.in_flight = None;
                if let Err(failure) = outcome {
                    if let Some(silent) = bench::silent_core(from, to, failure, self.core as u32) {
                        self.declare_dead(silent, failure.name());
                    }
                }
                let r = match outcome {
                    Ok(r) => r,
                    Err(failure) => {
                        // Failed pairs are said, counted apart, and never become SKB facts.
                        println!("{}", bench::failure_line(from, to, &classes, failure));
                        summary.failed(from, to);
                        continue;
                    }
                };
                println!("{}", bench::result_line(from, to, &classes, r.p50_ns, r.p99_ns, r.limit_ns));
                if let Some(skb) = self.skb.as_mut() {
                    skb.record_latency(from as usize, to as usize, r.p50_ns.into());
                    let cluster = |c: u32| skb.cpus.get(c as usize).map(|cpu| cpu.cluster);
                    summary.measured(cluster(from) == cluster(to), r.p50_ns);
                }
                self.broadcast(&r);
            }
        }
        println!("{}", summary.line());
        self.compare_el0_waits();
        let cores: Vec<u32> = cores.into_iter().filter(|&c| self.online & (1u64 << c) != 0).collect();
        if let Some(skb) = self.skb.as_ref() {
            let tree = skb.multicast_tree(self.core as usize);
            let edges: Vec<alloc::string::String> =
                tree.edges.iter().map(|(p, c)| alloc::format!("{p}->{c}")).collect();
            // The SKB builds the tree from measurements only when every pair has one (either
            // direction); otherwise it follows the clusters, and the line says so.
            let measured = cores.iter().all(|&a| {
                cores.iter().all(|&b| {
                    a == b
                        || skb.latency(a as usize, b as usize).is_some()
                        || skb.latency(b as usize, a as usize).is_some()
                })
            });
            let basis = if measured { "measured" } else { "by cluster: pairs without a measurement" };
            println!("multicast tree from {} ({basis}): {}", self.core, edges.join(" "));
        }
    }
}

/// Carves a region for the build of `class` and a share for its monitor out of `carver`'s RAM
/// into `CORE_REGION_SLOT` and `CORE_SHARE_SLOT`.
fn hand_over(carver: &mut Carver, class: u32) -> Result<(Piece, Piece), &'static str> {
    let bytes =
        info_of(Info::KernelRegionBytes, u64::from(class)).map_err(|_| "no CPU-driver build for it")?;
    let region = carver.take(bytes, CORE_REGION_ALIGN).ok_or("no RAM for its region")?;
    let mut share_bytes = CORE_SHARE_BYTES;
    let share = loop {
        if let Some(piece) = carver.take(share_bytes, PAGE_BYTES) {
            break piece;
        }
        share_bytes /= 2;
        if share_bytes < CORE_SHARE_MIN_BYTES {
            return Err("no RAM for its monitor");
        }
    };
    give_pieces(region, share)?;
    Ok((region, share))
}

/// Retypes `region` and `share` into `CORE_REGION_SLOT` and `CORE_SHARE_SLOT`.
fn give_pieces(region: Piece, share: Piece) -> Result<(), &'static str> {
    retype_piece(region, CORE_REGION_SLOT)
        .and_then(|()| retype_piece(share, CORE_SHARE_SLOT))
        .map_err(|_| "its memory could not be retyped")
}

fn retype_piece(piece: Piece, slot: u32) -> Result<(), userland::Error> {
    userland::cap_retype(piece.slot, cap_type::RAM, piece.offset, piece.bytes, 1, slot)
}

fn describe_refusal(e: userland::Error) -> &'static str {
    match e {
        userland::Error::WouldBlock => "the firmware did not start it",
        userland::Error::InvalidArgument => "no such core, or no such build",
        userland::Error::Denied => "this monitor may not start cores",
        _ => "the kernel refused its memory",
    }
}

/// One check's name and outcome.
type Check = (&'static str, Result<(), alloc::string::String>);

/// The check `name` passed if `got` is the error `want`.
fn expect(name: &'static str, got: Result<(), userland::Error>, want: userland::Error) -> Check {
    let outcome = match got {
        Err(e) if e == want => Ok(()),
        other => Err(alloc::format!("expected {want:?}, got {other:?}")),
    };
    (name, outcome)
}

/// In a selftest run, before the boot core's monitor starts core `target`: what `core_boot`
/// must refuse, each with the error the ABI names, everything but the one thing wrong in order.
fn core_boot_refusals(carver: &mut Carver, own: u64, target: u64, class: u32, count: u64) -> Vec<Check> {
    use userland::Error::{Capability, InvalidArgument};
    let build = SLOT_FIRST_CPU_DRIVER + class;
    let Ok(bytes) = info_of(Info::KernelRegionBytes, u64::from(class)) else {
        return alloc::vec![("core-boot-refusals", Err("no region size for its build".into()))];
    };
    // One piece 2 MiB larger than a region, so that a misaligned region fits in it too.
    let piece = carver.take(bytes + CORE_REGION_ALIGN, CORE_REGION_ALIGN);
    let share = carver.take(CORE_SHARE_MIN_BYTES, PAGE_BYTES);
    let (Some(piece), Some(share)) = (piece, share) else {
        return alloc::vec![("core-boot-refusals", Err("no RAM to try them with".into()))];
    };
    if retype_piece(share, CORE_SHARE_SLOT).is_err() {
        return alloc::vec![("core-boot-refusals", Err("could not retype a share".into()))];
    }
    let region = |offset: u64, size: u64| {
        userland::cap_retype(piece.slot, cap_type::RAM, piece.offset + offset, size, 1, CORE_REGION_SLOT)
    };
    let mut checks = Vec::new();
    let attempts = [
        ("core-boot-own-core-refused", 0, bytes, own, build, InvalidArgument),
        ("core-boot-no-such-core-refused", 0, bytes, count, build, InvalidArgument),
        ("core-boot-program-as-build-refused", 0, bytes, target, SLOT_FIRST_MODULE, InvalidArgument),
        ("core-boot-empty-build-refused", 0, bytes, target, CORE_EMPTY_SLOT, Capability(CAP_EMPTY_SLOT)),
        ("core-boot-misaligned-region-refused", PAGE_BYTES, bytes, target, build, Capability(CAP_MISALIGNED)),
        (
            "core-boot-small-region-refused",
            0,
            bytes - CORE_REGION_ALIGN,
            target,
            build,
            Capability(CAP_MISALIGNED),
        ),
    ];
    for (name, offset, size, core, build_slot, want) in attempts {
        let got = region(offset, size)
            .and_then(|()| userland::core_boot(core, build_slot, CORE_REGION_SLOT, CORE_SHARE_SLOT));
        checks.push(expect(name, got, want));
        let _ = userland::cap_delete(CORE_REGION_SLOT);
    }
    // The right to write the memory is needed: a read-only copy of a good region is refused.
    let got = region(0, bytes)
        .and_then(|()| userland::cap_mint(CORE_REGION_SLOT, CORE_SPARE_SLOT, 1))
        .and_then(|()| userland::core_boot(target, build, CORE_SPARE_SLOT, CORE_SHARE_SLOT));
    checks.push(expect("core-boot-read-only-region-refused", got, Capability(CAP_DENIED)));
    for slot in [CORE_SPARE_SLOT, CORE_REGION_SLOT, CORE_SHARE_SLOT] {
        let _ = userland::cap_delete(slot);
    }
    checks
}

/// In a selftest run, once core `target` was started from the pieces in `CORE_REGION_SLOT` and
/// `CORE_SHARE_SLOT`: the memory of a running core cannot be taken back (revoking the piece
/// that named it is refused), and a core cannot be started twice.
fn core_boot_after_start(carver: &mut Carver, target: u64, class: u32) -> Vec<Check> {
    use userland::Error::Capability;
    let revoked = userland::cap_revoke(CORE_REGION_SLOT);
    let mut checks = alloc::vec![expect("core-boot-memory-not-revocable", revoked, Capability(CAP_DENIED))];
    let _ = userland::cap_delete(CORE_REGION_SLOT);
    let _ = userland::cap_delete(CORE_SHARE_SLOT);
    let again = hand_over(carver, class).map_err(|_| userland::Error::WouldBlock).and_then(|_| {
        userland::core_boot(target, SLOT_FIRST_CPU_DRIVER + class, CORE_REGION_SLOT, CORE_SHARE_SLOT)
    });
    checks.push(expect("core-boot-twice-refused", again, Capability(CAP_SLOT_OCCUPIED)));
    checks
}

fn run() -> u64 {
    let mut monitor = Monitor::new();
    println!("monitor {} up el={}", monitor.core, info(Info::ExceptionLevel).unwrap_or(u64::MAX));
    if monitor.options.inject_exit & (1 << monitor.core) != 0 {
        println!("monitor {}: exiting on purpose (inject=monitor-exit@core{})", monitor.core, monitor.core);
        userland::exit(3);
    }
    let given = if monitor.core == monitor.coordinator { monitor.boot_other_cores() } else { 0 };
    monitor.report_memory(given);
    if kernel_caps::make_monitor_cnodes().is_none() {
        println!(
            "monitor {}: no RAM for the capability protocol's slots; transfers to this core will be refused",
            monitor.core
        );
    }
    monitor.spawn_programs();
    monitor.ask_to_join();
    if monitor.core == monitor.coordinator {
        monitor.coordinate();
    }
    loop {
        monitor.pump();
        if monitor.took_over {
            monitor.carry_on();
        }
        monitor.serve_same_core_ask();
        monitor.sleep(0);
    }
}

userland::entry!(run);
