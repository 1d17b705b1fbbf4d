//! `latency`: measures message round trips between two EL0 dispatchers on two cores.
//!
//! One instance runs on every core. It registers with its monitor's name service and then
//! does what the monitor asks: *echo* for a core (answer its pings over the application
//! channel, then bounce the pair's cache line), or *measure* against a core (time every ping
//! and every bounce, report the median and 99th percentile). The channel frames come from the
//! shared region, handed to this dispatcher explicitly by its monitor (`grant`).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use monitor::local::{self, pack, SERVICE_LATENCY};
use monitor::stats::{percentile, ticks_to_ns};
use urpc::messages::{Ping, Pong};
use urpc::{Endpoint, Side};
use userland::{info, ChannelKind, Info};

/// Round trips before timing starts.
const WARMUP: u64 = 1_000;
/// Seconds without progress after which a peer is given up on (long enough for a host to
/// deschedule a vCPU for a while).
const PATIENCE_SECONDS: u64 = 2;

struct Channel {
    link: Endpoint<'static>,
    line: &'static AtomicU64,
}

struct Latency {
    core: u64,
    frequency: u64,
    channels: Vec<Option<Channel>>,
}

/// A deadline `PATIENCE_SECONDS` from now.
fn patience(frequency: u64) -> u64 {
    userland::counter() + PATIENCE_SECONDS * frequency
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

    fn echo(&mut self, peer: u64, rounds: u64) {
        let (core, frequency) = (self.core, self.frequency);
        let Some(channel) = self.channel(peer) else { return };
        let _ = userland::send_local(0, [local::READY, peer, 0]);
        let total = WARMUP + rounds;
        let mut answered = 0;
        let mut deadline = patience(frequency);
        while answered < total {
            match channel.link.receiver.try_recv_message::<Ping>() {
                Ok(ping) => {
                    while channel.link.sender.try_send_message(&Pong::answer(&ping)).is_err() {
                        core::hint::spin_loop();
                    }
                    answered += 1;
                    deadline = patience(frequency);
                }
                Err(_) if userland::counter() > deadline => {
                    userland::println!("latency {core}: core {peer} stopped pinging");
                    return;
                }
                Err(_) => core::hint::spin_loop(),
            }
        }
        for i in 0..total {
            let deadline = patience(frequency);
            while channel.line.load(Ordering::Acquire) != 2 * i + 1 {
                if userland::counter() > deadline {
                    userland::println!("latency {core}: core {peer} stopped bouncing");
                    return;
                }
                core::hint::spin_loop();
            }
            channel.line.store(2 * i + 2, Ordering::Release);
        }
    }

    fn measure(&mut self, peer: u64, rounds: u64) -> Option<(u32, u32, u32)> {
        let frequency = self.frequency;
        let channel = self.channel(peer)?;
        let mut samples: Vec<u32> = Vec::with_capacity(rounds as usize);
        for seq in 0..WARMUP + rounds {
            let start = userland::counter();
            while channel.link.sender.try_send_message(&Ping { seq, ts: start }).is_err() {
                core::hint::spin_loop();
            }
            let deadline = patience(frequency);
            loop {
                match channel.link.receiver.try_recv_message::<Pong>() {
                    Ok(pong) if pong.seq == seq => break,
                    Ok(_) => return None,
                    Err(_) if userland::counter() > deadline => return None,
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
            let deadline = patience(frequency);
            while channel.line.load(Ordering::Acquire) != 2 * i + 2 {
                if userland::counter() > deadline {
                    return None;
                }
                core::hint::spin_loop();
            }
            if i >= WARMUP {
                limit.push((userland::counter() - start).min(u64::from(u32::MAX)) as u32);
            }
        }
        let ns = |ticks: u32| ticks_to_ns(u64::from(ticks), frequency).min(u64::from(u32::MAX)) as u32;
        Some((
            ns(percentile(&mut samples, 50)),
            ns(percentile(&mut samples, 99)),
            ns(percentile(&mut limit, 50)),
        ))
    }
}

fn run() -> u64 {
    let core = info(Info::CoreIndex).unwrap_or(0);
    let count = info(Info::CoreCount).unwrap_or(0);
    let frequency = info(Info::CounterFrequency).unwrap_or(1);
    let me = info(Info::DispatcherIndex).unwrap_or(0);
    let mut latency = Latency { core, frequency, channels: (0..count).map(|_| None).collect() };
    let _ = userland::send_local(0, [local::REGISTER, SERVICE_LATENCY, me]);
    loop {
        match userland::recv_local() {
            Ok((_, [local::ECHO, peer, rounds])) => latency.echo(peer, rounds),
            Ok((_, [local::MEASURE, peer, rounds])) => {
                let (p50, p99, limit) = latency.measure(peer, rounds).unwrap_or((0, 0, 0));
                let _ = userland::send_local(0, [local::RESULT, pack(peer as u32, limit), pack(p50, p99)]);
            }
            Ok(_) => {}
            Err(_) => {
                userland::wait(0);
            }
        }
    }
}

userland::entry!(run);
