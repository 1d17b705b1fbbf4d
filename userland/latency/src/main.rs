//! `latency`: measures message round trips between two EL0 dispatchers on two cores.
//!
//! One instance runs on every core. It registers with its monitor's name service and then
//! does what the monitor asks: *echo* for a core (answer its pings over the application
//! channel, then bounce the pair's cache line), or *measure* against a core (time every ping
//! and every bounce, report the median and 99th percentile). The channel frames come from the
//! shared region, handed to this dispatcher explicitly by its monitor (`grant`).
//!
//! Every wait is bounded: a peer that stops answering ends the pair with a named
//! [`Failure`], reported to the monitor as such, never as a zero figure.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use monitor::bench::{Failure, PATIENCE_SECONDS};
use monitor::local::{self, pack, SERVICE_LATENCY};
use monitor::stats::{percentile, ticks_to_ns};
use urpc::messages::{Ping, Pong};
use urpc::{Endpoint, PollDeadline, Side, POLLS_PER_CLOCK_READ};
use userland::{info, ChannelKind, Info};

/// Round trips before timing starts.
const WARMUP: u64 = 1_000;

struct Channel {
    link: Endpoint<'static>,
    line: &'static AtomicU64,
}

struct Latency {
    core: u64,
    frequency: u64,
    channels: Vec<Option<Channel>>,
}

/// A wait of `PATIENCE_SECONDS` from `start` that reads the counter only every
/// `POLLS_PER_CLOCK_READ` empty polls: a counter read per poll would measure the counter (under
/// QEMU each read takes the emulator's global lock) rather than the channel.
fn patience(frequency: u64, start: u64) -> PollDeadline<fn() -> u64> {
    PollDeadline::new(userland::counter, start, PATIENCE_SECONDS * frequency, POLLS_PER_CLOCK_READ)
}

impl Latency {
    /// The application channel to `peer` (mapped on first use; one endpoint per side, for good).
    fn channel(&mut self, peer: u64) -> Option<&mut Channel> {
        let slot = self.channels.get_mut(peer as usize)?;
        if slot.is_none() {
            let va = userland::map_channel(peer, ChannelKind::Application).ok()?;
            let side = if self.core < peer { Side::A } else { Side::B };
            *slot = Some(Channel {
                link: userland::channel_frame(va).endpoint(side),
                line: userland::pingpong_line(va),
            });
        }
        slot.as_mut()
    }

    /// Echoes for `peer`. Only a failure before it is ready is reported: once the measuring
    /// side pings, it is the one that says whether the pair failed.
    fn echo(&mut self, peer: u64, rounds: u64) -> Result<(), Failure> {
        let (core, frequency) = (self.core, self.frequency);
        let channel = self.channel(peer).ok_or(Failure::NoChannel)?;
        let _ = userland::send_to_monitor([local::READY, peer, 0]);
        let total = WARMUP + rounds;
        let mut answered = 0;
        let mut deadline = patience(frequency, userland::counter());
        while answered < total {
            match channel.link.receiver.try_recv_message::<Ping>() {
                Ok(ping) => {
                    while channel.link.sender.try_send_message(&Pong::answer(&ping)).is_err() {
                        if deadline.expired() {
                            userland::println!("latency {core}: core {peer} stopped taking pongs");
                            return Ok(());
                        }
                        core::hint::spin_loop();
                    }
                    answered += 1;
                    deadline.progress();
                }
                Err(_) if deadline.expired() => {
                    userland::println!("latency {core}: core {peer} stopped pinging");
                    return Ok(());
                }
                Err(_) => core::hint::spin_loop(),
            }
        }
        for i in 0..total {
            while channel.line.load(Ordering::Acquire) != 2 * i + 1 {
                if deadline.expired() {
                    userland::println!("latency {core}: core {peer} stopped bouncing");
                    return Ok(());
                }
                core::hint::spin_loop();
            }
            channel.line.store(2 * i + 2, Ordering::Release);
            deadline.progress();
        }
        Ok(())
    }

    /// Measures against `peer`: the median and 99th percentile URPC round trip and the median
    /// raw cache-line round trip, in ns, each at least one counter tick.
    fn measure(&mut self, peer: u64, rounds: u64) -> Result<(u32, u32, u32), Failure> {
        let frequency = self.frequency;
        let channel = self.channel(peer).ok_or(Failure::NoChannel)?;
        let mut samples: Vec<u32> = Vec::with_capacity(rounds as usize);
        // Two counter reads a round trip, at its start and end; the waits read it only every
        // `POLLS_PER_CLOCK_READ` empty polls.
        for seq in 0..WARMUP + rounds {
            let start = userland::counter();
            let mut deadline = patience(frequency, start);
            while channel.link.sender.try_send_message(&Ping { seq, ts: start }).is_err() {
                if deadline.expired() {
                    return Err(Failure::RingFull);
                }
                core::hint::spin_loop();
            }
            loop {
                match channel.link.receiver.try_recv_message::<Pong>() {
                    Ok(pong) if pong.seq == seq => break,
                    Ok(_) => return Err(Failure::WrongPong),
                    Err(_) if deadline.expired() => return Err(Failure::NoPong),
                    Err(_) => core::hint::spin_loop(),
                }
            }
            if seq >= WARMUP {
                samples.push((userland::counter() - start).min(u64::from(u32::MAX)) as u32);
            }
        }
        let mut limit: Vec<u32> = Vec::with_capacity(rounds as usize);
        for i in 0..WARMUP + rounds {
            let start = userland::counter();
            channel.line.store(2 * i + 1, Ordering::Release);
            let mut deadline = patience(frequency, start);
            while channel.line.load(Ordering::Acquire) != 2 * i + 2 {
                if deadline.expired() {
                    return Err(Failure::NoBounce);
                }
                core::hint::spin_loop();
            }
            if i >= WARMUP {
                limit.push((userland::counter() - start).min(u64::from(u32::MAX)) as u32);
            }
        }
        // A figure of 0 ticks (or no samples) is no measurement: the counter is too coarse.
        let ns = |ticks: Option<u32>| -> Result<u32, Failure> {
            let ns = ticks_to_ns(u64::from(ticks.unwrap_or(0)), frequency).min(u64::from(u32::MAX));
            if ns == 0 {
                return Err(Failure::BelowResolution);
            }
            Ok(ns as u32)
        };
        Ok((
            ns(percentile(&mut samples, 50))?,
            ns(percentile(&mut samples, 99))?,
            ns(percentile(&mut limit, 50))?,
        ))
    }
}

fn run() -> u64 {
    let core = info(Info::CoreIndex).unwrap_or(0);
    let count = info(Info::CoreCount).unwrap_or(0);
    let frequency = info(Info::CounterFrequency).unwrap_or(1);
    let me = info(Info::DispatcherIndex).unwrap_or(0);
    let mut latency = Latency { core, frequency, channels: (0..count).map(|_| None).collect() };
    let _ = userland::send_to_monitor([local::REGISTER, SERVICE_LATENCY, me]);
    loop {
        match userland::recv_local() {
            Ok((_, [local::ECHO, peer, rounds])) => {
                if let Err(failure) = latency.echo(peer, rounds) {
                    let _ = userland::send_to_monitor([local::FAILED_ECHOING, peer, failure.code().into()]);
                }
            }
            Ok((_, [local::MEASURE, peer, rounds])) => {
                let report = match latency.measure(peer, rounds) {
                    Ok((p50, p99, limit)) => [local::RESULT, pack(peer as u32, limit), pack(p50, p99)],
                    Err(failure) => [local::FAILED_MEASURING, peer, failure.code().into()],
                };
                let _ = userland::send_to_monitor(report);
            }
            Ok(_) => {}
            Err(_) => {
                userland::wait(0);
            }
        }
    }
}

userland::entry!(run);
