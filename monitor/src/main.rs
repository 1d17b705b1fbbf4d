//! The monitor: the first dispatcher on every core, running at EL0.
//!
//! In the multikernel the CPU driver only multiplexes its own core; everything that involves
//! other cores is the monitors' job, done by explicit URPC messages: binding channels to the
//! other monitors, the name service for this core's dispatchers, handing application channels
//! to them, and (on the boot core) coordinating the per-pair latency benchmark. Each monitor
//! builds its own replica of the System Knowledge Base from the device tree and records the
//! measured latencies in it.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

use monitor::local::{self, unpack, SERVICE_LATENCY};
use monitor::messages::{BenchEcho, BenchMeasure, BenchReady, BenchResult, Bound, Hello, MonitorMessage};
use monitor::names::NameTable;
use monitor::stats::median;
use urpc::{Endpoint, Message, Side};
use userland::{info, info_of, println, ChannelKind, Info, FLAG_BENCH};

/// Timed round trips per ordered pair in the benchmark (after the warm-up), unless the
/// kernel command line says `bench-rounds=N`.
const BENCH_ROUNDS: u64 = 10_000;
/// Seconds to wait for the other monitors to bind, and for one benchmark step.
const STEP_TIMEOUT_SECONDS: u64 = 10;

struct Monitor {
    core: u64,
    boot: u64,
    frequency: u64,
    links: Vec<Option<Endpoint<'static>>>,
    online: u64,
    hellos: u64,
    sent_hellos: bool,
    reported_bound: bool,
    bound: u64,
    names: NameTable,
    skb: Option<skb::Skb>,
    ready: Option<(u32, u32)>,
    result: Option<BenchResult>,
    rounds: u64,
}

impl Monitor {
    fn new() -> Self {
        let core = info(Info::CoreIndex).unwrap_or(0);
        let count = info(Info::CoreCount).unwrap_or(0);
        let links = (0..count)
            .map(|peer| {
                let va = userland::map_channel(peer, ChannelKind::Monitor).ok()?;
                let side = if core < peer { Side::A } else { Side::B };
                Some(userland::channel_frame(va).endpoint(side))
            })
            .collect();
        Monitor {
            core,
            boot: info(Info::BootCore).unwrap_or(0),
            frequency: info(Info::CounterFrequency).unwrap_or(1),
            links,
            online: 0,
            hellos: 0,
            sent_hellos: false,
            reported_bound: false,
            bound: 0,
            names: NameTable::default(),
            skb: match userland::device_tree() {
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
            },
            ready: None,
            result: None,
            rounds: BENCH_ROUNDS,
        }
    }

    /// `bench-rounds=N` from the kernel command line, as this monitor's SKB replica has it.
    fn configured_rounds(&self) -> u64 {
        let args = self.skb.as_ref().and_then(|s| s.bootargs.as_deref()).unwrap_or("");
        args.split_whitespace()
            .find_map(|a| a.strip_prefix("bench-rounds=")?.parse().ok())
            .unwrap_or(BENCH_ROUNDS)
            .clamp(1, 1_000_000)
    }

    fn peers(&self) -> u64 {
        self.online & !(1 << self.core)
    }

    /// Sends `message` to every online peer.
    fn broadcast<M: Message>(&mut self, message: &M) {
        let peers = self.peers();
        for peer in (0..64).filter(|&p| peers & (1 << p) != 0) {
            self.send(peer, message);
        }
    }

    fn send<M: Message>(&mut self, peer: u64, message: &M) {
        for _ in 0..1000 {
            let Some(Some(link)) = self.links.get_mut(peer as usize) else { return };
            if link.sender.try_send_message(message).is_ok() {
                let _ = userland::notify(peer);
                return;
            }
            self.pump(); // the peer may be waiting on us to drain our side
        }
        println!("monitor {}: channel to core {peer} stayed full; message dropped", self.core);
    }

    /// Handles everything that has arrived: same-core messages and every monitor channel.
    fn pump(&mut self) {
        while let Ok((sender, words)) = userland::recv_local() {
            self.on_local(sender, words);
        }
        for peer in 0..self.links.len() {
            while let Some(payload) = self
                .links
                .get_mut(peer)
                .and_then(Option::as_mut)
                .and_then(|link| link.receiver.try_recv().ok())
            {
                match MonitorMessage::decode(&payload) {
                    Ok(message) => self.on_message(peer as u64, message),
                    Err(e) => {
                        println!("monitor {}: malformed message from core {peer} dropped: {e}", self.core)
                    }
                }
            }
        }
    }

    fn latency_dispatcher(&self) -> Option<u64> {
        self.names.lookup(SERVICE_LATENCY)
    }

    fn on_local(&mut self, sender: u64, words: [u64; 3]) {
        match words[0] {
            local::REGISTER => self.names.register(words[1], sender),
            local::READY => {
                let ready = BenchReady { core: self.core as u32, initiator: words[1] as u32 };
                if self.core == self.boot {
                    self.ready = Some((ready.core, ready.initiator));
                } else {
                    self.send(self.boot, &ready);
                }
            }
            local::RESULT => {
                let (peer, limit_ns) = unpack(words[1]);
                let (p50_ns, p99_ns) = unpack(words[2]);
                let result = BenchResult { from: self.core as u32, to: peer, p50_ns, p99_ns, limit_ns };
                if self.core == self.boot {
                    self.result = Some(result);
                } else {
                    self.send(self.boot, &result);
                }
            }
            _ => {}
        }
    }

    fn on_message(&mut self, peer: u64, message: MonitorMessage) {
        match message {
            MonitorMessage::Hello(hello) => {
                self.hellos |= 1 << peer;
                if peer == self.boot && !self.sent_hellos {
                    self.online = hello.online;
                    self.sent_hellos = true;
                    self.broadcast(&Hello { from: self.core as u32, online: self.online });
                }
                self.check_bound();
            }
            MonitorMessage::Bound(bound) => self.bound |= 1 << bound.from,
            MonitorMessage::BenchEcho(echo) => {
                self.ask_latency(local::ECHO, echo.initiator.into(), echo.rounds.into())
            }
            MonitorMessage::BenchMeasure(m) => {
                self.ask_latency(local::MEASURE, m.peer.into(), m.rounds.into())
            }
            MonitorMessage::BenchReady(ready) => self.ready = Some((ready.core, ready.initiator)),
            MonitorMessage::BenchResult(result) => {
                if self.core == self.boot {
                    self.result = Some(result);
                } else if let Some(skb) = self.skb.as_mut() {
                    skb.record_latency(result.from as usize, result.to as usize, result.p50_ns.into());
                }
            }
        }
    }

    /// Once every online peer said hello, this monitor is bound: say so.
    fn check_bound(&mut self) {
        if self.reported_bound || self.online == 0 || self.hellos & self.peers() != self.peers() {
            return;
        }
        self.reported_bound = true;
        let peers = self.peers().count_ones();
        println!("monitor {} bound to {peers} peers", self.core);
        if self.core != self.boot {
            self.send(self.boot, &Bound { from: self.core as u32, peers });
        }
    }

    /// Hands the application channel to `peer` to this core's `latency` dispatcher and tells
    /// it what to do.
    fn ask_latency(&mut self, what: u64, peer: u64, rounds: u64) {
        let Some(latency) = self.latency_dispatcher() else {
            println!("monitor {}: no latency service registered", self.core);
            return;
        };
        if userland::grant(peer, latency).is_ok() {
            let _ = userland::send_local(latency, [what, peer, rounds]);
        }
    }

    /// Handles messages until `done` holds or `seconds` pass; false on timeout.
    fn wait_for(&mut self, seconds: u64, done: impl Fn(&Self) -> bool) -> bool {
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
            userland::wait(deadline - now);
        }
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
        self.broadcast(&Hello { from: self.core as u32, online: self.online });
        let all_bound = self.wait_for(STEP_TIMEOUT_SECONDS, |m| m.bound == m.peers() && m.reported_bound);
        let bound = (self.bound & self.peers()).count_ones() + 1;
        println!(
            "monitors bound: {bound} of {}{}",
            self.peers().count_ones() + 1,
            if all_bound { "" } else { " (timed out)" }
        );
        if info(Info::Flags).is_ok_and(|f| f & FLAG_BENCH != 0) {
            self.benchmark();
        }
        let _ = userland::power_off();
    }

    /// Runs one ordered pair; returns its result.
    fn measure_pair(&mut self, from: u64, to: u64) -> Option<BenchResult> {
        self.ready = None;
        self.result = None;
        if to == self.core {
            self.ask_latency(local::ECHO, from, self.rounds);
        } else {
            self.send(to, &BenchEcho { initiator: from as u32, rounds: self.rounds as u32 });
        }
        let expected = (to as u32, from as u32);
        if !self.wait_for(STEP_TIMEOUT_SECONDS, |m| m.ready == Some(expected)) {
            return None;
        }
        if from == self.core {
            self.ask_latency(local::MEASURE, to, self.rounds);
        } else {
            self.send(from, &BenchMeasure { peer: to as u32, rounds: self.rounds as u32 });
        }
        if !self.wait_for(STEP_TIMEOUT_SECONDS * 3, |m| m.result.is_some()) {
            return None;
        }
        self.result
    }

    fn benchmark(&mut self) {
        self.rounds = self.configured_rounds();
        let cores: Vec<u64> = (0..64).filter(|&c| self.online & (1 << c) != 0).collect();
        let pairs = cores.len() * cores.len().saturating_sub(1);
        println!(
            "latency benchmark: {pairs} ordered pairs, {} round trips each, at EL0 over URPC",
            self.rounds
        );
        let mut same_cluster = Vec::new();
        let mut cross_cluster = Vec::new();
        for &from in &cores {
            for &to in cores.iter().filter(|&&to| to != from) {
                let classes = alloc::format!("{}-{}", self.class_name(from), self.class_name(to));
                let Some(r) = self.measure_pair(from, to) else {
                    println!("latency {from}-{to} class={classes} failed: no answer");
                    continue;
                };
                println!(
                    "latency {from}-{to} class={classes} p50_ns={} p99_ns={} limit_ns={}",
                    r.p50_ns, r.p99_ns, r.limit_ns
                );
                if let Some(skb) = self.skb.as_mut() {
                    skb.record_latency(from as usize, to as usize, r.p50_ns.into());
                    let cluster = |c: u64| skb.cpus.get(c as usize).map(|cpu| cpu.cluster);
                    if cluster(from) == cluster(to) {
                        same_cluster.push(r.p50_ns);
                    } else {
                        cross_cluster.push(r.p50_ns);
                    }
                }
                self.broadcast(&r);
            }
        }
        println!(
            "latency summary: same-cluster pairs={} p50_median_ns={} cross-cluster pairs={} p50_median_ns={}",
            same_cluster.len(),
            median(&same_cluster),
            cross_cluster.len(),
            median(&cross_cluster)
        );
        if let Some(skb) = self.skb.as_ref() {
            let tree = skb.multicast_tree(self.core as usize);
            let edges: Vec<alloc::string::String> =
                tree.edges.iter().map(|(p, c)| alloc::format!("{p}->{c}")).collect();
            println!("multicast tree from {} (measured): {}", self.core, edges.join(" "));
        }
    }
}

fn run() -> u64 {
    let mut monitor = Monitor::new();
    println!("monitor {} up el={}", monitor.core, info(Info::ExceptionLevel).unwrap_or(u64::MAX));
    if monitor.core == monitor.boot {
        monitor.coordinate();
    }
    loop {
        monitor.pump();
        userland::wait(0);
    }
}

userland::entry!(run);
