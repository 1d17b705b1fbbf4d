//! `latency`: measures message round trips between two EL0 dispatchers on two cores.
//!
//! One instance runs on every core. It registers with its monitor's name service and then
//! does what the monitor asks: *echo* for a core (answer its pings over the application
//! channel, then bounce the pair's cache line), or *measure* against a core (time every ping
//! and every bounce, report the median and 99th percentile). The channel frames come from the
//! shared region, handed to this dispatcher explicitly by its monitor (`grant`).
//!
//! Every wait for a message goes through the runtime's event loop (`userland::EventLoop`, whose
//! same-core messages are the monitor's requests) and its waitset: the
//! benchmark's round trips poll it without end ([`WaitMode::Spin`]); the wait comparison
//! (`EchoWaiting` / `MeasureWaiting`) lets it watch the line and sleep as each
//! [`WaitMode`] says, raising the wake SGI as that mode says, and counts the SGIs. The raw
//! cache-line bounce stays a bare loop: it is the floor the others are compared with, and the
//! same loop Linux's threads run in `scripts/bench linux`.
//!
//! Every wait is bounded: a peer that stops answering ends the pair with a named
//! [`Failure`], reported to the monitor as such, never as a zero figure.
//!
//! Started with a non-zero argument it plays a part in the same-core comparison instead
//! (`same_core`: two programs of one core through the kernel's line transport and
//! `send_local`).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

extern crate alloc;

mod same_core;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use local_protocol::bench::{Failure, PATIENCE_SECONDS};
use local_protocol::{self as local, ToProgram, SERVICE_LATENCY};
use urpc::messages::{Ping, Pong};
use urpc::{
    DecodeError, Endpoint, Message, PollDeadline, Receiver, Sender, Side, WaitMode, WaitPolicy,
    POLLS_PER_CLOCK_READ,
};
use userland::events::Event as LoopEvent;
use userland::stats::{ticks_to_ns, TickHistogram};
use userland::waitset::{Event, Kernel, TimerId};
use userland::{info, ChannelKind, Info, Waitset};

/// Round trips before timing starts.
const WARMUP: u64 = 1_000;

/// How the round trips of [`WaitMode::Spin`] wait: polling without end (the patience timer is
/// looked at every `POLLS_PER_CLOCK_READ` polls).
const SPINNING: WaitPolicy = WaitPolicy { polls: u32::MAX, watches: 0 };
/// How the program waits for its monitor's next request: straight to sleep.
const IDLE: WaitPolicy = WaitPolicy { polls: 0, watches: 0 };

struct Channel {
    link: Endpoint<'static>,
    line: &'static AtomicU64,
}

struct Latency {
    core: u64,
    frequency: u64,
    channels: Vec<Option<Channel>>,
    /// The event loop: its waitset times the round trips; its same-core messages are the
    /// monitor's requests.
    events: userland::EventLoop,
}

/// A wait of `PATIENCE_SECONDS` from `start` that reads the counter only every
/// `POLLS_PER_CLOCK_READ` empty polls: a counter read per poll would measure the counter (under
/// QEMU each read takes the emulator's global lock) rather than the channel.
fn bounded(frequency: u64, start: u64) -> PollDeadline<fn() -> u64> {
    PollDeadline::new(userland::counter, start, PATIENCE_SECONDS * frequency, POLLS_PER_CLOCK_READ)
}

/// The bound on a session's waits for messages: a timer on the waitset `PATIENCE_SECONDS`
/// out, set again when it fires after progress, so the counter is read only when the timer is
/// set and not on every round trip.
struct Patience {
    ticks: u64,
    timer: Option<TimerId>,
    /// The progress count when the timer was set.
    progress: u64,
}

impl Patience {
    fn new(frequency: u64) -> Self {
        Patience { ticks: PATIENCE_SECONDS * frequency, timer: None, progress: 0 }
    }

    /// Takes the next message of `receiver` as an `M` (`Some(Err(..))`: one of another type,
    /// dropped); `None` once a whole patience passed while `progress` (the caller's count of
    /// messages) stayed the same.
    fn receive<M: Message>(
        &mut self,
        waitset: &mut Waitset,
        receiver: &mut Receiver<'static>,
        progress: u64,
    ) -> Option<Result<M, DecodeError>> {
        loop {
            if self.timer.is_none() {
                self.timer = Some(waitset.set_timer(waitset.kernel().now().saturating_add(self.ticks)));
                self.progress = progress;
            }
            match waitset.receive::<M, { urpc::DEFAULT_SLOTS }>(receiver) {
                Ok(received) => return Some(received),
                Err(Event::Timer(timer)) if Some(timer) == self.timer => {
                    self.timer = None;
                    if self.progress == progress {
                        return None;
                    }
                }
                Err(_) => {}
            }
        }
    }

    /// The session is over: its timer goes.
    fn end(self, waitset: &mut Waitset) {
        if let Some(timer) = self.timer {
            waitset.cancel(timer);
        }
    }
}

/// Sends `message`, waiting (bounded) for room; false if the peer took nothing for a whole
/// patience. A send that finds room reads no counter: the patience starts at the first clock
/// read of the wait, `POLLS_PER_CLOCK_READ` polls in (a read per send would put the emulator's
/// counter lock in every round trip).
fn send<M: Message>(sender: &mut Sender<'static>, message: &M, frequency: u64) -> bool {
    let mut deadline = bounded(frequency, 0);
    deadline.progress();
    while sender.try_send_message(message).is_err() {
        if deadline.expired() {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// Waits for the pong answering ping `seq`. A message that is not a pong (a ping left from a
/// pair that failed on this channel) is dropped, as the rings' typed receive does; a pong with
/// another number is [`Failure::WrongPong`], none within the patience [`Failure::NoPong`].
fn next_pong(
    waitset: &mut Waitset,
    patience: &mut Patience,
    receiver: &mut Receiver<'static>,
    seq: u64,
) -> Result<Pong, Failure> {
    loop {
        match patience.receive::<Pong>(waitset, receiver, seq) {
            None => return Err(Failure::NoPong),
            Some(Ok(pong)) if pong.seq == seq => return Ok(pong),
            Some(Ok(_)) => return Err(Failure::WrongPong),
            Some(Err(_)) => {}
        }
    }
}

/// After a send: raises the wake SGI to `peer` when `mode` does it for every message, or when
/// the receiver said it sleeps (`urpc::sleep`'s handshake); returns the SGIs raised.
fn wake(sender: &Sender<'static>, mode: WaitMode, peer: u64) -> u64 {
    if mode == WaitMode::Spin || !(mode.interrupts_every_message() || sender.receiver_asleep()) {
        return 0;
    }
    u64::from(userland::notify(peer).is_ok())
}

/// How the receiver waits in `mode`.
fn policy(mode: WaitMode) -> WaitPolicy {
    if mode == WaitMode::Spin {
        SPINNING
    } else {
        mode.policy()
    }
}

/// The application channel to `peer` (mapped on first use; one endpoint per side, for good).
fn channel(channels: &mut [Option<Channel>], core: u64, peer: u64) -> Option<&mut Channel> {
    let slot = channels.get_mut(peer as usize)?;
    if slot.is_none() {
        let va = userland::map_channel(peer, ChannelKind::Application).ok()?;
        let side = if core < peer { Side::A } else { Side::B };
        *slot = Some(Channel {
            link: userland::channel_frame(va).endpoint(side),
            line: userland::pingpong_line(va),
        });
    }
    slot.as_mut()
}

impl Latency {
    /// Echoes for `peer`, waiting and waking as `mode` says: after [`WaitMode::Spin`] it
    /// bounces the pair's line, after the others it reports the SGIs it raised after the
    /// warm-up in a last pong (`seq` one past the last ping's, the count in `ts`). Only a
    /// failure before it is ready is reported: once the measuring side pings, it is the one
    /// that says whether the pair failed.
    fn echo(&mut self, peer: u64, rounds: u64, mode: WaitMode) -> Result<(), Failure> {
        let Latency { core, frequency, channels, events } = self;
        let waitset = events.waitset();
        let (core, frequency) = (*core, *frequency);
        let channel = channel(channels, core, peer).ok_or(Failure::NoChannel)?;
        waitset.set_policy(policy(mode));
        tell(&local::Ready { peer: peer as u32 });
        let total = WARMUP + rounds;
        let mut patience = Patience::new(frequency);
        let (mut sgis, mut sgis_before) = (0, 0);
        let mut answered = 0;
        while answered < total {
            if answered == WARMUP {
                sgis_before = sgis;
            }
            // Anything but a ping (a message left from a pair that failed on this channel) is
            // dropped; the patience still bounds the wait for the next ping.
            let ping = match patience.receive::<Ping>(waitset, &mut channel.link.receiver, answered) {
                Some(Ok(ping)) => ping,
                Some(Err(_)) => continue,
                None => {
                    userland::println!("latency {core}: core {peer} stopped pinging");
                    patience.end(waitset);
                    return Ok(());
                }
            };
            if !send(&mut channel.link.sender, &Pong::answer(&ping), frequency) {
                userland::println!("latency {core}: core {peer} stopped taking pongs");
                patience.end(waitset);
                return Ok(());
            }
            sgis += wake(&channel.link.sender, mode, peer);
            answered += 1;
        }
        patience.end(waitset);
        if mode != WaitMode::Spin {
            if send(&mut channel.link.sender, &Pong { seq: total, ts: sgis - sgis_before }, frequency) {
                wake(&channel.link.sender, mode, peer);
            }
            return Ok(());
        }
        if !bounce_back(channel.line, total, frequency) {
            userland::println!("latency {core}: core {peer} stopped bouncing");
        }
        Ok(())
    }

    /// Measures against `peer`: the median and 99th percentile URPC round trip and the median
    /// raw cache-line round trip, in ns, each at least one counter tick.
    fn measure(&mut self, peer: u64, rounds: u64) -> Result<(u32, u32, u32), Failure> {
        let Latency { core, frequency, channels, events } = self;
        let waitset = events.waitset();
        let frequency = *frequency;
        let channel = channel(channels, *core, peer).ok_or(Failure::NoChannel)?;
        waitset.set_policy(SPINNING);
        // Both histograms before the first round trip, so a heap too small fails the pair by
        // name rather than ending the program mid-measurement.
        let histogram = || TickHistogram::new().map_err(|_| Failure::NoMemory);
        let (mut samples, mut limit) = (histogram()?, histogram()?);
        let mut patience = Patience::new(frequency);
        // Two counter reads a round trip, at its start and end; the waits read it only every
        // `POLLS_PER_CLOCK_READ` empty polls.
        let result = (|| {
            for seq in 0..WARMUP + rounds {
                let start = userland::counter();
                if !send(&mut channel.link.sender, &Ping { seq, ts: start }, frequency) {
                    return Err(Failure::RingFull);
                }
                next_pong(waitset, &mut patience, &mut channel.link.receiver, seq)?;
                if seq >= WARMUP {
                    samples.record(ticks_since(start)).map_err(|_| Failure::NoMemory)?;
                }
            }
            Ok(())
        })();
        patience.end(waitset);
        result?;
        bounce_timed(channel.line, WARMUP + rounds, frequency, &mut limit)?;
        // A figure of 0 ticks (or no samples) is no measurement: the counter is too coarse.
        let ns = |ticks: Option<u32>| -> Result<u32, Failure> {
            let ns = ticks_to_ns(u64::from(ticks.unwrap_or(0)), frequency).min(u64::from(u32::MAX));
            if ns == 0 {
                return Err(Failure::BelowResolution);
            }
            Ok(ns as u32)
        };
        Ok((ns(samples.percentile(50))?, ns(samples.percentile(99))?, ns(limit.percentile(50))?))
    }

    /// Times `rounds` round trips against `peer` with both sides waiting and waking as `mode`
    /// says: the mean round trip in ns and the wake SGIs both sides raised per 10,000 messages.
    fn measure_waiting(&mut self, peer: u64, rounds: u64, mode: WaitMode) -> Result<(u32, u32), Failure> {
        let Latency { core, frequency, channels, events } = self;
        let waitset = events.waitset();
        let frequency = *frequency;
        let channel = channel(channels, *core, peer).ok_or(Failure::NoChannel)?;
        waitset.set_policy(policy(mode));
        let mut patience = Patience::new(frequency);
        let total = WARMUP + rounds;
        let result = (|| {
            let (mut start, mut sgis, mut sgis_before) = (userland::counter(), 0, 0);
            for seq in 0..total {
                if seq == WARMUP {
                    (start, sgis_before) = (userland::counter(), sgis);
                }
                if !send(&mut channel.link.sender, &Ping { seq, ts: 0 }, frequency) {
                    return Err(Failure::RingFull);
                }
                sgis += wake(&channel.link.sender, mode, peer);
                next_pong(waitset, &mut patience, &mut channel.link.receiver, seq)?;
            }
            let rtt_ticks = (userland::counter() - start) / rounds.max(1);
            let echo_sgis = next_pong(waitset, &mut patience, &mut channel.link.receiver, total)?.ts;
            let messages = 2 * rounds.max(1);
            Ok((rtt_ticks, (sgis - sgis_before + echo_sgis) * 10_000 / messages))
        })();
        patience.end(waitset);
        let (rtt_ticks, sgis_per_10k) = result?;
        let rtt_ns = ticks_to_ns(rtt_ticks, frequency).min(u64::from(u32::MAX)) as u32;
        if rtt_ns == 0 {
            return Err(Failure::BelowResolution);
        }
        Ok((rtt_ns, sgis_per_10k.min(u64::from(u32::MAX)) as u32))
    }
}

/// Counter ticks from `start` to now, as a histogram sample (saturated at `u32::MAX`).
pub(crate) fn ticks_since(start: u64) -> u32 {
    (userland::counter() - start).min(u64::from(u32::MAX)) as u32
}

/// The echoing side of the raw bounce: waits for each odd value on `line` and answers with the
/// next even one, `total` times; false if the measuring side stopped (the patience ran out).
///
/// Its own small function, so that the line, the count and the deadline stay in registers and
/// the loop touches no memory but the line, as Linux's (`bench-linux/pingpong`) does. Inlined
/// into the program's big dispatch loop, the count was kept on the stack and loaded once a
/// round trip, and the line's address was loaded from the channel table before every poll
/// (an acquire load keeps later loads after it): each put the raw limit 20-40 % above Linux's
/// under QEMU (`tests/tests/disassembly.rs` checks the loops).
#[inline(never)]
fn bounce_back(line: &AtomicU64, total: u64, frequency: u64) -> bool {
    let mut deadline = bounded(frequency, userland::counter());
    for i in 0..total {
        while line.load(Ordering::Acquire) != 2 * i + 1 {
            if deadline.expired() {
                return false;
            }
            core::hint::spin_loop();
        }
        line.store(2 * i + 2, Ordering::Release);
        deadline.progress();
    }
    true
}

/// The measuring side of the raw bounce: `total` round trips on `line` (odd values out, even
/// ones back), each timed from a counter read before its store to one after its answer; the
/// rounds after the warm-up go into `limit`. Its own small function for the reason
/// [`bounce_back`] gives.
#[inline(never)]
fn bounce_timed(
    line: &AtomicU64,
    total: u64,
    frequency: u64,
    limit: &mut TickHistogram,
) -> Result<(), Failure> {
    for i in 0..total {
        let start = userland::counter();
        line.store(2 * i + 1, Ordering::Release);
        let mut deadline = bounded(frequency, start);
        while line.load(Ordering::Acquire) != 2 * i + 2 {
            if deadline.expired() {
                return Err(Failure::NoBounce);
            }
            core::hint::spin_loop();
        }
        if i >= WARMUP {
            limit.record(ticks_since(start)).map_err(|_| Failure::NoMemory)?;
        }
    }
    Ok(())
}

/// Tells the monitor, as its protocol's message `message`.
fn tell<M: urpc::interface::Variant>(message: &M) {
    // A full queue is not reported: the coordinator's timeout names the step that did not
    // happen.
    let _ = userland::send_to_monitor(local::words(message));
}

fn run() -> u64 {
    let role = userland::argument();
    if role != 0 {
        return same_core::run(role);
    }
    let core = info(Info::CoreIndex).unwrap_or(0);
    let count = info(Info::CoreCount).unwrap_or(0);
    let frequency = info(Info::CounterFrequency).unwrap_or(1);
    let events = userland::event_loop(IDLE);
    let mut latency = Latency { core, frequency, channels: (0..count).map(|_| None).collect(), events };
    tell(&local::Register { service: SERVICE_LATENCY });
    loop {
        // Between requests the event loop sleeps until the monitor's next one.
        latency.events.waitset().set_policy(IDLE);
        let request = match latency.events.wait_local() {
            LoopEvent::Monitor(request) => request,
            // A session's patience timer that fired as it ended: nothing waits on it.
            LoopEvent::Timer(_) => continue,
            LoopEvent::Local { sender, words } => {
                userland::println!("latency {core}: no request from dispatcher {sender}: {words:x?}");
                continue;
            }
            other => {
                userland::println!("latency {core}: not a request: {other:?}");
                continue;
            }
        };
        match request {
            ToProgram::Echo(local::Echo { peer, rounds }) => {
                if let Err(failure) = latency.echo(peer.into(), rounds, WaitMode::Spin) {
                    tell(&local::FailedEchoing { peer, failure });
                }
            }
            ToProgram::EchoWaiting(local::EchoWaiting { peer, rounds, mode }) => {
                let Some(mode) = WaitMode::from_code(mode) else { continue };
                if let Err(failure) = latency.echo(peer.into(), rounds.into(), mode) {
                    tell(&local::FailedEchoing { peer, failure });
                }
            }
            ToProgram::Measure(local::Measure { peer, rounds }) => match latency.measure(peer.into(), rounds)
            {
                Ok((p50_ns, p99_ns, limit_ns)) => tell(&local::Measured { peer, limit_ns, p50_ns, p99_ns }),
                Err(failure) => tell(&local::FailedMeasuring { peer, failure }),
            },
            ToProgram::MeasureWaiting(local::MeasureWaiting { peer, rounds, mode }) => {
                let Some(mode) = WaitMode::from_code(mode) else { continue };
                match latency.measure_waiting(peer.into(), rounds.into(), mode) {
                    Ok((rtt_ns, sgis_per_10k)) => {
                        tell(&local::WaitResult { peer, mode: mode.code(), rtt_ns, sgis_per_10k })
                    }
                    Err(failure) => tell(&local::FailedMeasuring { peer, failure }),
                }
            }
            _ => userland::println!("latency {core}: not a request for latency: {request:?}"),
        }
    }
}

userland::entry!(run);
