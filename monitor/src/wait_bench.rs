//! How the monitor waits (its waitset over the monitor channels), and the EL0 wait
//! comparison the boot core's monitor runs after the latency benchmark.
//!
//! The monitor waits in the runtime's event loop (`userland::events`): it takes the same-core
//! messages that came (its programs' requests), else polls its channels briefly, watches a
//! line a few times, then sleeps in the kernel with every channel's asleep flag set, until a
//! peer's wake SGI, a same-core message or its next deadline. A peer raises the SGI only when it
//! reads the flag set after sending (`Monitor::send_payload`), so monitors that are busy
//! exchanging messages raise none.
//!
//! The comparison: for the boot core with the next core and with the last (as the kernel's
//! `urpc-wait` lines), the two cores' `latency` programs time `WAIT_ROUNDS` round trips in
//! each [`WaitMode::COMPARED`] mode, waiting through their waitsets, and the coordinator prints
//! `urpc-wait-el0 <a>-<b> mode=<m> rtt_ns=<n> sgis_per_10k_messages=<k>` and a line of
//! ratios to the first mode (an SGI for every message: how the monitor and the programs woke
//! each other before the asleep flag), all in one boot.

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use local_protocol as local;
use monitor::bench::{result_timeout_seconds, Failure, READY_TIMEOUT_SECONDS};
use monitor::messages::BenchEchoWaiting;
use urpc::sleep::Ratios;
use urpc::{WaitMode, WaitPolicy};
use userland::events::Event;
use userland::println;
use userland::waitset::Kernel;

use crate::Monitor;

/// Timed round trips per pair and mode: 10,000 messages.
const WAIT_ROUNDS: u32 = 5_000;

/// How a monitor waits before sleeping in the kernel. It shares its core with programs, and a
/// program it has just woken with a same-core message runs only once the monitor sleeps (or
/// its slice ends), so it polls only briefly and watches a line once (on a board a watch lasts
/// until a store to the line or the timer's event stream, about a millisecond, and holds the
/// core meanwhile) before it gives the core back to the kernel.
const MONITOR_POLICY: WaitPolicy = WaitPolicy { polls: 64, watches: 1 };

/// What one mode measured on one pair.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Figures {
    rtt_ns: u32,
    sgis_per_10k: u32,
}

/// The monitor's event loop. The monitor binds no channel by name (it makes them), so its
/// binder is never asked; what it takes from the loop are its programs' same-core messages.
pub(crate) fn monitor_event_loop() -> userland::EventLoop {
    userland::event_loop(MONITOR_POLICY)
}

impl Monitor {
    /// Waits until a same-core message comes (handled here), a monitor channel has something
    /// (the caller's `pump` reads it), the kernel wakes this dispatcher (a peer's SGI), or
    /// `ticks` pass (0: no limit).
    pub(crate) fn wait_on_links(&mut self, ticks: u64) {
        let now = self.events.waitset().kernel().now();
        let timer = (ticks != 0).then(|| self.events.waitset().set_timer(now.saturating_add(ticks)));
        let event = self.events.wait(&mut self.links[..]);
        if let Some(timer) = timer {
            self.events.waitset().cancel(timer);
        }
        self.on_event(event);
    }

    /// Handles what the event loop reported: a program's same-core message; a channel's message
    /// or a timer needs nothing here (`pump` reads every channel).
    pub(crate) fn on_event(&mut self, event: Event) {
        match event {
            Event::Local { sender, words } => self.on_local(sender, words),
            Event::Message(_) | Event::Timer(_) => {}
            other => println!("monitor {}: an event for a program, not a monitor: {other:?}", self.core),
        }
    }

    /// A monitor asked to echo in the wait comparison: its `latency` does.
    pub(crate) fn start_echo_waiting(&mut self, echo: BenchEchoWaiting) {
        // A code that is no wait mode is passed on as one no mode has: `latency` refuses it.
        let mode = u8::try_from(echo.wait).unwrap_or(u8::MAX);
        let request = local::EchoWaiting { peer: echo.initiator, rounds: echo.rounds, mode };
        if let Err(failure) = self.ask_latency(echo.initiator.into(), &request) {
            self.report_outcome((echo.initiator, self.core as u32), Err(failure));
        }
    }

    /// This core's `latency` reports a wait measurement: kept if it is the pair in flight's.
    pub(crate) fn heard_wait_result(&mut self, result: local::WaitResult) {
        let local::WaitResult { peer, rtt_ns, sgis_per_10k, .. } = result;
        if self.in_flight == Some((self.core as u32, peer)) {
            self.wait_figures = Some(Figures { rtt_ns, sgis_per_10k });
        }
    }

    /// The boot core's monitor: the wait comparison on the pairs of the boot core with the
    /// next online core and with the last.
    pub(crate) fn compare_el0_waits(&mut self) {
        let boot = self.core as u32;
        let others: Vec<u32> = (0..64).filter(|&c| c != boot && self.online & (1u64 << c) != 0).collect();
        let mut pairs: Vec<u32> = others.first().into_iter().chain(others.last()).copied().collect();
        pairs.dedup();
        for core in pairs {
            self.compare_pair(boot, core);
        }
    }

    fn compare_pair(&mut self, boot: u32, core: u32) {
        let mut ratios = Ratios::new(String::new());
        for mode in WaitMode::COMPARED {
            let figures = match self.measure_waiting(boot, core, mode) {
                Ok(figures) => figures,
                Err(failure) => {
                    println!("urpc-wait-el0 {boot}-{core} mode={} failed: {}", mode.name(), failure.name());
                    return;
                }
            };
            println!(
                "urpc-wait-el0 {boot}-{core} mode={} rtt_ns={} sgis_per_10k_messages={}",
                mode.name(),
                figures.rtt_ns,
                figures.sgis_per_10k
            );
            ratios.add(mode, figures.rtt_ns.into(), figures.sgis_per_10k.into());
        }
        println!("urpc-wait-el0 {boot}-{core} over {}:{}", WaitMode::COMPARED[0].name(), ratios.into_inner());
    }

    /// One mode on one pair: `core`'s `latency` echoes, this core's measures.
    fn measure_waiting(&mut self, boot: u32, core: u32, mode: WaitMode) -> Result<Figures, Failure> {
        self.ready = None;
        self.outcome = None;
        self.wait_figures = None;
        self.in_flight = Some((boot, core));
        let code = u32::from(mode.code());
        self.send(core.into(), &BenchEchoWaiting { initiator: boot, rounds: WAIT_ROUNDS, wait: code });
        let measure = local::MeasureWaiting { peer: core, rounds: WAIT_ROUNDS, mode: mode.code() };
        let ready =
            self.wait_for(READY_TIMEOUT_SECONDS, |m| m.ready == Some((core, boot)) || m.outcome.is_some());
        let result = match self.outcome {
            Some(Err(failure)) => Err(failure),
            _ if !ready => Err(Failure::EchoNotReady),
            _ => self.ask_latency(core.into(), &measure).and_then(|()| {
                self.wait_for(result_timeout_seconds(WAIT_ROUNDS.into()), |m| {
                    m.wait_figures.is_some() || m.outcome.is_some()
                });
                match (self.wait_figures, self.outcome) {
                    (Some(figures), _) => Ok(figures),
                    (None, Some(Err(failure))) => Err(failure),
                    _ => Err(Failure::NoResult),
                }
            }),
        };
        self.in_flight = None;
        result
    }
}
