//! The boot-time URPC figures: once the roll call is over, the boot core times a URPC round
//! trip to every core that came up, next to the raw cache-line ping-pong on the same pair, and
//! prints `urpc <a>-<b> rtt_ns=<n> limit_ns=<m>`: the medians of single round trips, each
//! timed by a counter read at its start and its end, as the EL0 `latency` program and the
//! Linux comparison (`bench-linux/pingpong`) time theirs, so the three sets of figures compare
//! directly. The other side of each measurement ([`echo`]) answers on the core measured. Both
//! cores spin for the duration; the others sleep.
//!
//! With `bench` on the command line it also compares the ways of waiting ([`WaitMode`]) on
//! two pairs (the boot core with the next core and with the last): both sides sleep as soon as nothing is there, and each line
//! `urpc-wait <a>-<b> mode=<m> rtt_ns=<n> sgis_per_10k_messages=<k>` gives the mean round trip
//! and the wake SGIs the two sides raised per 10,000 messages, then a line of ratios against
//! the first mode (every message raises an SGI), all measured in the same boot.
//! Uses [`crate::channels`] (the kernel channel and ping-pong line of each pair),
//! [`crate::interrupts`] and [`crate::console`].

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use cpu_driver::arch::aarch64::cpu;
use cpu_driver::arch::aarch64::event::LineWatch;
use cpu_driver::boot_record::{BootRecord, FLAG_BENCH};
use cpu_driver::kernel_messages::{KernelMessage, MeasureRequest, WaitMode};
use cpu_driver::time::ticks_to_ns;
use urpc::messages::{Ping, Pong};
use urpc::sleep::Ratios;
use urpc::{PollDeadline, POLLS_PER_CLOCK_READ};

use crate::channels::{self, send, Link, Peer};
use crate::console::kprintln;
use crate::interrupts;

/// Round trips timed per core pair (after the warm-up).
const MEASURE_ROUNDS: u32 = 10_000;
/// Round trips before timing starts.
const MEASURE_WARMUP: u32 = 1_000;

/// Timed round trips per pair and mode in the wait comparison: 10,000 messages.
const WAIT_ROUNDS: u32 = 5_000;
/// Round trips before timing starts, in the wait comparison.
const WAIT_WARMUP: u32 = 500;

/// Round trip figures for one core pair: medians of single round trips, in counter ticks.
struct Measurement {
    /// URPC ping/pong.
    urpc_ticks: u64,
    /// The raw cache-line ping-pong on the same pair.
    limit_ticks: u64,
}

/// The median of `samples` (sorted here); 0 for none.
fn median(samples: &mut [u32]) -> u64 {
    samples.sort_unstable();
    samples.get(samples.len().saturating_sub(1) / 2).map_or(0, |&ticks| u64::from(ticks))
}

/// Boot core: measures and prints the round trip to every core in `up` but itself.
pub fn measure_and_print(record: &BootRecord, up: &[u64]) {
    let boot = record.boot_core_index;
    let frequency = cpu::counter_frequency();
    for &core in up.iter().filter(|&&core| core != boot) {
        match channels::with_peer(core, |peer| measure(peer, MEASURE_ROUNDS, MEASURE_WARMUP)).flatten() {
            Some(m) => kprintln!(
                "urpc {boot}-{core} rtt_ns={} limit_ns={}",
                ticks_to_ns(m.urpc_ticks, frequency),
                ticks_to_ns(m.limit_ticks, frequency)
            ),
            None => kprintln!("urpc {boot}-{core} measurement failed: the core stopped answering"),
        }
    }
    if record.flags & FLAG_BENCH == 0 {
        return;
    }
    // The boot core with the next core that came up and with the last (on the big.LITTLE
    // machine: a little and a big one), or with the only other.
    let mut others = up.iter().copied().filter(|&core| core != boot);
    let (first, last) = (others.next(), others.next_back());
    for core in first.into_iter().chain(last) {
        compare_waits(boot, core, frequency);
    }
}

/// What one wait measurement found.
#[derive(Clone, Copy)]
struct WaitFigures {
    /// Counter ticks per round trip.
    rtt_ticks: u64,
    /// SGIs both sides raised in the timed round trips, per 10,000 messages.
    sgis_per_10k: u64,
}

/// Measures every [`WaitMode::COMPARED`] on the pair `boot`-`core` and prints a line each and a
/// line of ratios to the first.
fn compare_waits(boot: u64, core: u64, frequency: u64) {
    let mut ratios = Ratios::new(alloc::string::String::new());
    for mode in WaitMode::COMPARED {
        let figures = channels::with_peer(core, |peer| measure_waiting(peer, mode)).flatten();
        let Some(figures) = figures else {
            kprintln!("urpc-wait {boot}-{core} mode={} failed: the core stopped answering", mode.name());
            return;
        };
        kprintln!(
            "urpc-wait {boot}-{core} mode={} rtt_ns={} sgis_per_10k_messages={}",
            mode.name(),
            ticks_to_ns(figures.rtt_ticks, frequency),
            figures.sgis_per_10k
        );
        ratios.add(mode, figures.rtt_ticks, figures.sgis_per_10k);
    }
    kprintln!("urpc-wait {boot}-{core} over {}:{}", WaitMode::COMPARED[0].name(), ratios.into_inner());
}

/// Boot core: one wait measurement. Both sides wait as `mode` says and wake each other as it
/// says; the echoing core reports the SGIs it raised in a last pong (`ts`).
fn measure_waiting(peer: Peer<'_>, mode: WaitMode) -> Option<WaitFigures> {
    let Peer { link, wake_target, .. } = peer;
    if !send(link, &MeasureRequest { rounds: WAIT_ROUNDS, warmup: WAIT_WARMUP, wait: mode }) {
        return None;
    }
    interrupts::wake(wake_target);
    let patience = patience_ticks();
    let sleeper = interrupts::SleepAtMost { ticks: patience };
    let mut deadline = waiting_between_sleeps(patience);
    let mut receive = |link: &mut Link| -> Option<KernelMessage> {
        let payload = link.receiver.recv_waiting(mode.policy(), &LineWatch, &sleeper, &mut deadline).ok()?;
        deadline.progress();
        KernelMessage::decode(&payload).ok()
    };
    let total = u64::from(WAIT_WARMUP) + u64::from(WAIT_ROUNDS);
    let (mut start, mut sgis_before) = (cpu::counter(), interrupts::sgis_sent());
    for seq in 0..total {
        if seq == u64::from(WAIT_WARMUP) {
            (start, sgis_before) = (cpu::counter(), interrupts::sgis_sent());
        }
        if !send(link, &Ping { seq, ts: 0 }) {
            return None;
        }
        wake_if_needed(link, mode, wake_target);
        match receive(link)? {
            KernelMessage::Pong(pong) if pong.seq == seq => {}
            _ => return None,
        }
    }
    let rtt_ticks = (cpu::counter() - start) / u64::from(WAIT_ROUNDS);
    let own_sgis = interrupts::sgis_sent() - sgis_before;
    let echo_sgis = match receive(link)? {
        KernelMessage::Pong(report) if report.seq == total => report.ts,
        _ => return None,
    };
    let messages = 2 * u64::from(WAIT_ROUNDS);
    Some(WaitFigures { rtt_ticks, sgis_per_10k: (own_sgis + echo_sgis) * 10_000 / messages })
}

/// After a send: raises the wake SGI if `mode` always does, or if the receiver sleeps.
fn wake_if_needed(link: &Link, mode: WaitMode, target: u64) {
    if mode.interrupts_every_message() || link.sender.receiver_asleep() {
        interrupts::wake(target);
    }
}

/// How long one side of a measurement waits for the other before giving up: long enough for
/// a host to deschedule a vCPU for a while, short enough that a dead peer does not hang a core.
fn patience_ticks() -> u64 {
    cpu::counter_frequency()
}

/// Boot core: asks the peer to serve, then times `rounds` URPC round trips and as many raw
/// ping-pongs of the pair's line, each after `warmup` untimed ones.
fn measure(peer: Peer<'_>, rounds: u32, warmup: u32) -> Option<Measurement> {
    let Peer { link, line, wake_target } = peer;
    if !send(link, &MeasureRequest { rounds, warmup, wait: WaitMode::Spin }) {
        return None;
    }
    interrupts::wake(wake_target);

    let patience = patience_ticks();
    if !urpc_round_trips(link, 0, u64::from(warmup), patience, None) {
        return None;
    }
    // Every round trip's ticks, for its median (80 KB for both figures; a boot without that
    // much kernel heap prints that the measurement failed rather than stopping).
    let samples = || {
        let mut samples: Vec<u32> = Vec::new();
        samples.try_reserve_exact(rounds as usize).ok().map(|()| samples)
    };
    let (mut urpc, mut limit) = (samples()?, samples()?);
    if !urpc_round_trips(link, u64::from(warmup), u64::from(rounds), patience, Some(&mut urpc)) {
        return None;
    }

    // The limit: one cache line, the boot core writes odd values and the peer even ones.
    let total = u64::from(warmup) + u64::from(rounds);
    if !bounce_timed(line, total, u64::from(warmup), patience, &mut limit) {
        return None;
    }
    let (urpc_ticks, limit_ticks) = (median(&mut urpc), median(&mut limit));
    Some(Measurement { urpc_ticks, limit_ticks })
}

/// Any core but the boot core: serves a measurement the boot core asked for, answering its
/// pings and then bouncing the pair's line, until done or the boot core gives up.
pub fn echo(request: MeasureRequest) {
    let total = u64::from(request.rounds) + u64::from(request.warmup);
    if request.wait == WaitMode::Spin {
        channels::with_boot_link(|link, line| serve(link, line, total));
    } else if let Some(boot_target) = channels::boot_wake_target() {
        channels::with_boot_link(|link, _| serve_waiting(link, request, boot_target));
    }
}

/// Any core but the boot core: answers the pings of a wait measurement, waiting and waking as
/// `request.wait` says, then reports the SGIs it raised after the warm-up in a last pong
/// (`seq` one past the last ping's, the count in `ts`).
fn serve_waiting(link: &mut Link, request: MeasureRequest, boot_target: u64) {
    let patience = patience_ticks();
    let sleeper = interrupts::SleepAtMost { ticks: patience };
    let mut deadline = waiting_between_sleeps(patience);
    let total = u64::from(request.rounds) + u64::from(request.warmup);
    let mut sgis_before = interrupts::sgis_sent();
    for answered in 0..total {
        if answered == u64::from(request.warmup) {
            sgis_before = interrupts::sgis_sent();
        }
        let Ok(payload) =
            link.receiver.recv_waiting(request.wait.policy(), &LineWatch, &sleeper, &mut deadline)
        else {
            return; // the boot core gave up, or the ring broke
        };
        deadline.progress();
        let Ok(KernelMessage::Ping(ping)) = KernelMessage::decode(&payload) else { return };
        if !send(link, &Pong::answer(&ping)) {
            return;
        }
        wake_if_needed(link, request.wait, boot_target);
    }
    let report = Pong { seq: total, ts: interrupts::sgis_sent() - sgis_before };
    if send(link, &report) {
        wake_if_needed(link, request.wait, boot_target);
    }
}

fn serve(link: &mut Link, line: Option<&'static AtomicU64>, total: u64) {
    let patience = patience_ticks();
    let mut answered = 0;
    let mut deadline = waiting(patience);
    while answered < total {
        match link.receiver.try_recv() {
            Ok(payload) => {
                // Only pings come during a measurement; anything else is dropped.
                if let Ok(ping) = urpc::message::decode::<Ping>(&payload) {
                    send(link, &Pong::answer(&ping));
                    answered += 1;
                }
                deadline.progress();
            }
            Err(_) if deadline.expired() => return, // the boot core gave up
            Err(_) => core::hint::spin_loop(),
        }
    }
    let Some(line) = line else { return };
    bounce_back(line, total, patience);
}

/// The boot core's URPC round trips `first..first + count` (a ping, then the pong with the
/// same number), each timed into `samples` when given; false if the peer stopped answering
/// for `patience` ticks or answered something else. One wait for the whole batch, restarted
/// by every answer: the counter is read at each round trip's start and end, and by the wait
/// only every `POLLS_PER_CLOCK_READ` empty polls (a read per poll would time the counter,
/// whose every read under QEMU takes the emulator's lock, not the channel). Its own small
/// function for the reason [`bounce_timed`] gives.
#[inline(never)]
fn urpc_round_trips(
    link: &mut Link,
    first: u64,
    count: u64,
    patience: u64,
    mut samples: Option<&mut Vec<u32>>,
) -> bool {
    let mut deadline = waiting(patience);
    for seq in first..first + count {
        let start = cpu::counter();
        if !send(link, &Ping { seq, ts: 0 }) {
            return false;
        }
        // A core that stops answering must not hang the boot; a host that deschedules a vCPU
        // for a while must not fail the measurement either.
        let payload = loop {
            if let Ok(payload) = link.receiver.try_recv() {
                break payload;
            }
            if deadline.expired() {
                return false;
            }
            core::hint::spin_loop();
        };
        if !matches!(urpc::message::decode::<Pong>(&payload), Ok(p) if p.seq == seq) {
            return false;
        }
        deadline.progress();
        if let Some(samples) = samples.as_deref_mut() {
            samples.push((cpu::counter() - start).min(u64::from(u32::MAX)) as u32);
        }
    }
    true
}

/// The boot core's side of the raw bounce: `total` round trips on `line` (odd values out, even
/// ones back), each timed from a counter read before its store to one after its answer; those
/// after the first `warmup` go into `samples` (reserved by the caller). False if the peer
/// stopped answering for `patience` ticks.
///
/// Each side of the bounce is its own small function so that the loop keeps everything in
/// registers and touches no memory but the line, as the Linux comparison's loop does: inlined
/// into a large function, a value kept on the stack and loaded once a round trip put the EL0
/// program's raw limit 20-40 % above Linux's under QEMU (`tests/tests/disassembly.rs`).
#[inline(never)]
fn bounce_timed(line: &AtomicU64, total: u64, warmup: u64, patience: u64, samples: &mut Vec<u32>) -> bool {
    let mut deadline = waiting(patience);
    for i in 0..total {
        let start = cpu::counter();
        line.store(2 * i + 1, Ordering::Release);
        while line.load(Ordering::Acquire) != 2 * i + 2 {
            if deadline.expired() {
                return false;
            }
            core::hint::spin_loop();
        }
        deadline.progress();
        if i >= warmup {
            samples.push((cpu::counter() - start).min(u64::from(u32::MAX)) as u32);
        }
    }
    true
}

/// The answering side of the raw bounce: waits for each odd value on `line` and answers with
/// the next even one, `total` times, or until the boot core stopped for `patience` ticks. Its
/// own small function for the reason [`bounce_timed`] gives.
#[inline(never)]
fn bounce_back(line: &AtomicU64, total: u64, patience: u64) {
    let mut deadline = waiting(patience);
    for i in 0..total {
        while line.load(Ordering::Acquire) != 2 * i + 1 {
            if deadline.expired() {
                return;
            }
            core::hint::spin_loop();
        }
        line.store(2 * i + 2, Ordering::Release);
        deadline.progress();
    }
}

/// A wait of `ticks` from now for a receiver that sleeps between its looks at the ring: the
/// counter is read at every look, since each look may follow a sleep of up to `ticks` (read
/// only every `POLLS_PER_CLOCK_READ` looks, a dead peer would hold the core that many sleeps).
fn waiting_between_sleeps(ticks: u64) -> PollDeadline<fn() -> u64> {
    PollDeadline::new(cpu::counter, cpu::counter(), ticks, 1)
}

/// A wait of `ticks` from now that reads the counter only every `POLLS_PER_CLOCK_READ` polls.
fn waiting(ticks: u64) -> PollDeadline<fn() -> u64> {
    PollDeadline::new(cpu::counter, cpu::counter(), ticks, POLLS_PER_CLOCK_READ)
}
