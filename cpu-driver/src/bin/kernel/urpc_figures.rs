//! The boot-time URPC figures: once the roll call is over, the boot core times a URPC round
//! trip to every core that came up, next to the raw cache-line ping-pong on the same pair, and
//! prints `urpc <a>-<b> rtt_ns=<n> limit_ns=<m>`. The other side of each measurement
//! ([`echo`]) answers on the core measured. Both cores spin for the duration; the others sleep.
//! Uses [`crate::channels`] (the kernel channel and ping-pong line of each pair),
//! [`crate::interrupts`] and [`crate::console`].

use core::sync::atomic::{AtomicU64, Ordering};

use cpu_driver::arch::aarch64::cpu;
use cpu_driver::boot_record::BootRecord;
use cpu_driver::kernel_messages::{KernelMessage, MeasureRequest};
use cpu_driver::time::ticks_to_ns;
use urpc::messages::{Ping, Pong};
use urpc::{PollDeadline, POLLS_PER_CLOCK_READ};

use crate::channels::{self, send, Link, Peer};
use crate::console::kprintln;
use crate::interrupts;

/// Round trips timed per core pair (after the warm-up).
const MEASURE_ROUNDS: u32 = 10_000;
/// Round trips before timing starts.
const MEASURE_WARMUP: u32 = 1_000;

/// Round trip figures for one core pair, in counter ticks per round trip.
struct Measurement {
    /// URPC ping/pong.
    urpc_ticks: u64,
    /// The raw cache-line ping-pong on the same pair.
    limit_ticks: u64,
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
    if !send(link, &MeasureRequest { rounds, warmup }) {
        return None;
    }
    interrupts::wake(wake_target);

    let patience = patience_ticks();
    // One wait for the whole batch, restarted by every answer: the counter is read at the
    // batch's start and end, and by the wait only every `POLLS_PER_CLOCK_READ` empty polls (a
    // read per poll would time the counter, whose every read under QEMU takes the emulator's
    // lock, not the channel).
    let mut deadline = waiting(patience);
    let mut round_trip = |seq: u64| -> bool {
        if !send(link, &Ping { seq, ts: 0 }) {
            return false;
        }
        // A core that stops answering must not hang the boot; a host that deschedules a vCPU
        // for a while must not fail the measurement either.
        loop {
            if let Ok(payload) = link.receiver.try_recv() {
                deadline.progress();
                return matches!(KernelMessage::decode(&payload), Ok(KernelMessage::Pong(p)) if p.seq == seq);
            }
            if deadline.expired() {
                return false;
            }
            core::hint::spin_loop();
        }
    };
    for seq in 0..u64::from(warmup) {
        if !round_trip(seq) {
            return None;
        }
    }
    let start = cpu::counter();
    for seq in 0..u64::from(rounds) {
        if !round_trip(u64::from(warmup) + seq) {
            return None;
        }
    }
    let urpc_ticks = (cpu::counter() - start) / u64::from(rounds.max(1));

    // The limit: one cache line, the boot core writes odd values and the peer even ones.
    let total = u64::from(warmup) + u64::from(rounds);
    let mut start = cpu::counter();
    for i in 0..total {
        if i == u64::from(warmup) {
            start = cpu::counter();
        }
        line.store(2 * i + 1, Ordering::Release);
        while line.load(Ordering::Acquire) != 2 * i + 2 {
            if deadline.expired() {
                return None;
            }
            core::hint::spin_loop();
        }
        deadline.progress();
    }
    let limit_ticks = (cpu::counter() - start) / u64::from(rounds.max(1));
    Some(Measurement { urpc_ticks, limit_ticks })
}

/// Any core but the boot core: serves a measurement the boot core asked for, answering its
/// pings and then bouncing the pair's line, until done or the boot core gives up.
pub fn echo(request: MeasureRequest) {
    let total = u64::from(request.rounds) + u64::from(request.warmup);
    channels::with_boot_link(|link, line| serve(link, line, total));
}

fn serve(link: &mut Link, line: Option<&'static AtomicU64>, total: u64) {
    let patience = patience_ticks();
    let mut answered = 0;
    let mut deadline = waiting(patience);
    while answered < total {
        match link.receiver.try_recv() {
            Ok(payload) => {
                if let Ok(KernelMessage::Ping(ping)) = KernelMessage::decode(&payload) {
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

/// A wait of `ticks` from now that reads the counter only every `POLLS_PER_CLOCK_READ` polls.
fn waiting(ticks: u64) -> PollDeadline<fn() -> u64> {
    PollDeadline::new(cpu::counter, cpu::counter(), ticks, POLLS_PER_CLOCK_READ)
}
