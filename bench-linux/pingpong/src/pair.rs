//! One ordered pair: a measuring thread pinned to core `a`, an echoing thread pinned to core
//! `b`, sharing one channel frame and one ping-pong line, measured as the multikernel's EL0
//! `latency` program measures (`userland/latency/src/main.rs`): 1,000 warm-up round trips, then
//! `rounds` timed URPC round trips, then as many raw one-line round trips (after their own
//! warm-up), each timed alone with the counter read only at its start and end. The waits read
//! the counter only every [`POLLS_PER_CLOCK_READ`] empty polls, so they do not disturb it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use monitor::bench::{Failure, PATIENCE_SECONDS};
use monitor::stats::{percentile, ticks_to_ns};
use urpc::messages::{Ping, Pong};
use urpc::{ChannelFrame, Endpoint, PollDeadline, Side, POLLS_PER_CLOCK_READ};

use crate::clock;

/// Round trips before timing starts, as on the multikernel.
pub const WARMUP: u64 = 1_000;

/// A pair's shared memory laid out as the multikernel's application region: the channel frame
/// in the first 4 KiB page, the ping-pong word at the start of the next.
#[repr(C, align(4096))]
struct Region {
    frame: ChannelFrame,
    line: PingPongPage,
}

#[repr(C, align(4096))]
struct PingPongPage {
    word: AtomicU64,
}

/// A measured pair, in nanoseconds (each at least one counter tick).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    /// Median raw one-line round trip.
    pub p50_ns: u64,
    /// 99th percentile raw one-line round trip.
    pub p99_ns: u64,
    /// Median URPC round trip.
    pub urpc_p50_ns: u64,
    /// 99th percentile URPC round trip.
    pub urpc_p99_ns: u64,
}

/// Why a pair has no figures.
#[derive(Debug)]
pub enum PairFailure {
    /// A thread could not be pinned to its core.
    Pin {
        /// The core.
        core: usize,
        /// What the kernel said.
        error: String,
    },
    /// The measurement failed as a multikernel pair can.
    Measure(Failure),
}

/// `name (what happened)`, as the multikernel prints a failed pair.
impl fmt::Display for PairFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PairFailure::Pin { core, error } => write!(f, "no-pin (core {core}: {error})"),
            PairFailure::Measure(failure) => write!(f, "{failure}"),
        }
    }
}

/// The console line for pair `a-b`.
pub fn line(a: usize, b: usize, result: &Result<Figures, PairFailure>) -> String {
    match result {
        Ok(f) => format!(
            "linux {a}-{b} p50_ns={} p99_ns={} urpc_p50_ns={} urpc_p99_ns={}",
            f.p50_ns, f.p99_ns, f.urpc_p50_ns, f.urpc_p99_ns
        ),
        Err(failure) => format!("linux {a}-{b} failed: {failure}"),
    }
}

/// Measures `a` against `b`: `rounds` timed round trips of each kind.
pub fn measure_pair(a: usize, b: usize, rounds: u64) -> Result<Figures, PairFailure> {
    let region =
        Box::new(Region { frame: ChannelFrame::new(), line: PingPongPage { word: AtomicU64::new(0) } });
    let region = &*region;
    std::thread::scope(|scope| {
        let echo = scope.spawn(move || -> Result<(), PairFailure> {
            crate::sys::pin_to(b).map_err(|e| PairFailure::Pin { core: b, error: e.to_string() })?;
            // Only a pinning failure is the echo side's to report: once the measuring side
            // pings, it says whether the pair failed (as on the multikernel).
            let _ = echo(region, rounds);
            Ok(())
        });
        let measure = scope.spawn(move || -> Result<Figures, PairFailure> {
            crate::sys::pin_to(a).map_err(|e| PairFailure::Pin { core: a, error: e.to_string() })?;
            measure(region, rounds).map_err(PairFailure::Measure)
        });
        let measured = measure.join().unwrap_or(Err(PairFailure::Measure(Failure::NoResult)));
        let echoed = echo.join().unwrap_or(Err(PairFailure::Measure(Failure::EchoNotReady)));
        // A pinning failure on the echo side explains the measuring side's time-out.
        echoed.and(measured)
    })
}

/// A wait of `PATIENCE_SECONDS` from `start` that reads the counter every
/// `POLLS_PER_CLOCK_READ` empty polls.
fn patience(start: u64) -> PollDeadline<fn() -> u64> {
    PollDeadline::new(clock::counter, start, PATIENCE_SECONDS * clock::frequency(), POLLS_PER_CLOCK_READ)
}

/// The echoing side: answers `WARMUP + rounds` pings, then bounces the line as many times.
fn echo(region: &Region, rounds: u64) -> Result<(), Failure> {
    let Endpoint { mut sender, mut receiver } =
        region.frame.try_endpoint(Side::B).map_err(|_| Failure::NoChannel)?;
    let total = WARMUP + rounds;
    let mut answered = 0;
    let mut deadline = patience(clock::counter());
    while answered < total {
        match receiver.try_recv_message::<Ping>() {
            Ok(ping) => {
                while sender.try_send_message(&Pong::answer(&ping)).is_err() {
                    if deadline.expired() {
                        return Err(Failure::RingFull);
                    }
                    core::hint::spin_loop();
                }
                answered += 1;
                deadline.progress();
            }
            Err(_) if deadline.expired() => return Err(Failure::NoPong),
            Err(_) => core::hint::spin_loop(),
        }
    }
    let line = &region.line.word;
    for i in 0..total {
        while line.load(Ordering::Acquire) != 2 * i + 1 {
            if deadline.expired() {
                return Err(Failure::NoBounce);
            }
            core::hint::spin_loop();
        }
        line.store(2 * i + 2, Ordering::Release);
        deadline.progress();
    }
    Ok(())
}

/// The measuring side: the URPC round trips, then the raw line's.
fn measure(region: &Region, rounds: u64) -> Result<Figures, Failure> {
    let Endpoint { mut sender, mut receiver } =
        region.frame.try_endpoint(Side::A).map_err(|_| Failure::NoChannel)?;
    let capacity = usize::try_from(rounds).map_err(|_| Failure::NoResult)?;
    let mut urpc: Vec<u32> = Vec::with_capacity(capacity);
    for seq in 0..WARMUP + rounds {
        let start = clock::counter();
        let mut deadline = patience(start);
        while sender.try_send_message(&Ping { seq, ts: start }).is_err() {
            if deadline.expired() {
                return Err(Failure::RingFull);
            }
            core::hint::spin_loop();
        }
        loop {
            match receiver.try_recv_message::<Pong>() {
                Ok(pong) if pong.seq == seq => break,
                Ok(_) => return Err(Failure::WrongPong),
                Err(_) if deadline.expired() => return Err(Failure::NoPong),
                Err(_) => core::hint::spin_loop(),
            }
        }
        if seq >= WARMUP {
            urpc.push(ticks(start));
        }
    }
    let line = &region.line.word;
    let mut raw: Vec<u32> = Vec::with_capacity(capacity);
    for i in 0..WARMUP + rounds {
        let start = clock::counter();
        line.store(2 * i + 1, Ordering::Release);
        let mut deadline = patience(start);
        while line.load(Ordering::Acquire) != 2 * i + 2 {
            if deadline.expired() {
                return Err(Failure::NoBounce);
            }
            core::hint::spin_loop();
        }
        if i >= WARMUP {
            raw.push(ticks(start));
        }
    }
    Ok(Figures {
        p50_ns: ns(percentile(&mut raw, 50))?,
        p99_ns: ns(percentile(&mut raw, 99))?,
        urpc_p50_ns: ns(percentile(&mut urpc, 50))?,
        urpc_p99_ns: ns(percentile(&mut urpc, 99))?,
    })
}

/// Counter ticks since `start`, read now (saturating at `u32::MAX`, as the EL0 program does).
fn ticks(start: u64) -> u32 {
    clock::counter().saturating_sub(start).min(u64::from(u32::MAX)) as u32
}

/// A percentile in nanoseconds; 0 ticks (or no samples) is no measurement.
fn ns(ticks: Option<u32>) -> Result<u64, Failure> {
    match ticks_to_ns(u64::from(ticks.unwrap_or(0)), clock::frequency()) {
        0 => Err(Failure::BelowResolution),
        ns => Ok(ns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_memory_is_laid_out_as_the_multikernels_application_region() {
        assert_eq!(std::mem::size_of::<ChannelFrame>(), 4096);
        assert_eq!(std::mem::offset_of!(Region, line), 4096);
        assert_eq!(std::mem::align_of::<Region>(), 4096);
    }

    #[test]
    fn a_pair_of_host_threads_is_measured_with_ordered_sane_figures() {
        let cpus = crate::sys::allowed_cpus().expect("sched_getaffinity");
        // Two cores if there are two; else both threads share one (slow, still correct).
        let (a, b) = (cpus[0], *cpus.get(1).unwrap_or(&cpus[0]));
        let rounds = if a == b { 20 } else { 2_000 };
        let figures = measure_pair(a, b, rounds).unwrap_or_else(|e| panic!("{a}-{b}: {e}"));
        assert!(figures.p50_ns > 0 && figures.p99_ns >= figures.p50_ns, "{figures:?}");
        assert!(figures.urpc_p50_ns > 0 && figures.urpc_p99_ns >= figures.urpc_p50_ns, "{figures:?}");
        let text = line(a, b, &Ok(figures));
        assert!(text.starts_with(&format!("linux {a}-{b} p50_ns=")), "{text}");
    }

    #[test]
    fn a_core_that_cannot_be_had_fails_the_pair_with_its_name() {
        let cpus = crate::sys::allowed_cpus().expect("sched_getaffinity");
        let missing =
            (0..libc::CPU_SETSIZE as usize).find(|c| !cpus.contains(c)).expect("a core not allowed");
        let result = measure_pair(cpus[0], missing, 10);
        let text = line(cpus[0], missing, &result);
        assert!(
            text.starts_with(&format!("linux {}-{missing} failed: no-pin (core {missing}: ", cpus[0])),
            "{text}"
        );
    }

    #[test]
    fn a_silent_echo_side_is_a_no_pong_failure_within_the_patience() {
        let region =
            Box::new(Region { frame: ChannelFrame::new(), line: PingPongPage { word: AtomicU64::new(0) } });
        let started = std::time::Instant::now();
        assert_eq!(measure(&region, 10), Err(Failure::NoPong));
        let waited = started.elapsed().as_secs_f64();
        assert!(waited >= PATIENCE_SECONDS as f64 && waited < 10.0 * PATIENCE_SECONDS as f64, "{waited} s");
    }
}
