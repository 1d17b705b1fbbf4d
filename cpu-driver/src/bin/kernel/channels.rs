//! This CPU driver's channels to the other CPU drivers: every core has one to the boot core,
//! and the boot core one to each core. Reports, the wake-up directory and latency measurements
//! all travel here as URPC messages.

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use cpu_driver::arch::aarch64::cpu;
use cpu_driver::arch::aarch64::shared_region::SharedRegion;
use cpu_driver::boot_record::{BootRecord, MAX_CORES};
use cpu_driver::intercore::{KernelMessage, MeasureRequest, PeerTarget, WakeTarget};
use spin::Mutex;
use urpc::messages::{CoreUp, Ping, Pong};
use urpc::{Endpoint, Message, Notify};

use crate::console::kprintln;
use crate::interrupts::SgiNotify;

/// One channel, from this core's side.
type Link = Endpoint<'static>;

struct Links {
    record: &'static BootRecord,
    region: SharedRegion,
    /// On the boot core: the channel to each core; elsewhere: only `to_boot`.
    to_core: Vec<Option<Link>>,
    /// The channel to the boot core (not on the boot core).
    to_boot: Option<Link>,
    /// How to wake each core (learnt from the reports, or from the boot core's directory).
    wake_targets: [Option<u64>; MAX_CORES],
    /// What each core reported (boot core only).
    reports: [Option<CoreUp>; MAX_CORES],
}

/// This core's links (a per-core static, like every static of the CPU driver).
static LINKS: Mutex<Option<Links>> = Mutex::new(None);

/// Opens this core's side of its kernel channels.
pub fn init(record: &'static BootRecord, region: SharedRegion) {
    let core = record.core_index;
    let own = |peer: u64, side| {
        region.layout.kernel_channel(peer).map(|offset| region.channel(offset).endpoint(side))
    };
    let (to_core, to_boot) = if record.is_boot_core() {
        let links =
            (0..record.core_count).map(|n| if n == core { None } else { own(n, urpc::Side::A) }).collect();
        (links, None)
    } else {
        (Vec::new(), own(core, urpc::Side::B))
    };
    let mut wake_targets = [None; MAX_CORES];
    wake_targets[record.boot_core_index as usize % MAX_CORES] = Some(record.gic.boot_core_target);
    *LINKS.lock() =
        Some(Links { record, region, to_core, to_boot, wake_targets, reports: [None; MAX_CORES] });
}

fn send<M: Message>(link: &mut Link, message: &M) -> bool {
    // The boot core drains its channels whenever it is idle; a full ring means it is busy, so
    // give it a moment rather than drop a report.
    for _ in 0..1_000_000 {
        if link.sender.try_send_message(message).is_ok() {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// Reports this core to the boot core (on the boot core: records its own report).
pub fn report_in(report: CoreUp, wake_target: u64) {
    let mut guard = LINKS.lock();
    let Some(links) = guard.as_mut() else { return };
    let core = links.record.core_index as usize;
    links.wake_targets[core % MAX_CORES] = Some(wake_target);
    match links.to_boot.as_mut() {
        None => links.reports[core % MAX_CORES] = Some(report),
        Some(link) => {
            // The wake target goes first: the ring keeps order, so once the boot core has the
            // report it also knows how to wake this core.
            let sent =
                send(link, &WakeTarget { core: core as u32, target: wake_target }) && send(link, &report);
            if !sent {
                kprintln!("core {core}: the boot core's channel stayed full; report not sent");
            }
            SgiNotify { target: links.record.gic.boot_core_target }.notify();
        }
    }
}

/// Boot core: takes every waiting message from the cores; returns the reports so far.
pub fn collect_reports() -> [Option<CoreUp>; MAX_CORES] {
    let mut guard = LINKS.lock();
    let Some(links) = guard.as_mut() else { return [None; MAX_CORES] };
    for (index, link) in links.to_core.iter_mut().enumerate() {
        let Some(link) = link else { continue };
        while let Ok(payload) = link.receiver.try_recv() {
            match KernelMessage::decode(&payload) {
                Ok(KernelMessage::CoreUp(report)) if report.core as usize == index => {
                    links.reports[index] = Some(report);
                }
                Ok(KernelMessage::WakeTarget(w)) if w.core as usize == index => {
                    links.wake_targets[index] = Some(w.target);
                }
                Ok(other) => kprintln!("boot core: unexpected message from core {index}: {other:?}"),
                Err(e) => kprintln!("boot core: malformed message from core {index} dropped: {e}"),
            }
        }
    }
    links.reports
}

/// Boot core: sends every reported core the wake-up directory, so any core can wake any other.
pub fn share_directory() {
    let mut guard = LINKS.lock();
    let Some(links) = guard.as_mut() else { return };
    let directory: Vec<PeerTarget> = links
        .wake_targets
        .iter()
        .enumerate()
        .filter_map(|(core, target)| target.map(|target| PeerTarget { core: core as u32, target }))
        .collect();
    for (index, link) in links.to_core.iter_mut().enumerate() {
        let (Some(link), Some(target)) = (link.as_mut(), links.wake_targets[index]) else { continue };
        for entry in &directory {
            send(link, entry);
        }
        SgiNotify { target }.notify();
    }
}

/// How to wake `core`, if known.
pub fn wake_target(core: u64) -> Option<u64> {
    LINKS.lock().as_ref()?.wake_targets.get(core as usize).copied().flatten()
}

/// Round trip figures for one core pair, in counter ticks per round trip.
pub struct Measurement {
    /// URPC ping/pong.
    pub urpc_ticks: u64,
    /// The raw cache-line ping-pong on the same pair.
    pub limit_ticks: u64,
}

/// Boot core: measures the round trip to `core` (it must be up). Both cores spin for the
/// duration; the others sleep.
pub fn measure(core: u64, rounds: u32, warmup: u32) -> Option<Measurement> {
    let mut guard = LINKS.lock();
    let links = guard.as_mut()?;
    let target = links.wake_targets.get(core as usize).copied().flatten()?;
    let line = links.region.line(links.region.layout.pingpong_line(core)?);
    let link = links.to_core.get_mut(core as usize)?.as_mut()?;
    if !send(link, &MeasureRequest { rounds, warmup }) {
        return None;
    }
    SgiNotify { target }.notify();

    let patience = patience_ticks();
    let mut round_trip = |seq: u64| -> bool {
        if !send(link, &Ping { seq, ts: 0 }) {
            return false;
        }
        // A core that stops answering must not hang the boot; a host that deschedules a vCPU
        // for a while must not fail the measurement either.
        let deadline = cpu::counter() + patience;
        while cpu::counter() < deadline {
            if let Ok(payload) = link.receiver.try_recv() {
                return matches!(KernelMessage::decode(&payload), Ok(KernelMessage::Pong(p)) if p.seq == seq);
            }
            core::hint::spin_loop();
        }
        false
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
        let deadline = cpu::counter() + patience;
        while line.load(Ordering::Acquire) != 2 * i + 2 {
            if cpu::counter() > deadline {
                return None;
            }
            core::hint::spin_loop();
        }
    }
    let limit_ticks = (cpu::counter() - start) / u64::from(rounds.max(1));
    Some(Measurement { urpc_ticks, limit_ticks })
}

/// Any core but the boot core, when idle: handles what the boot core sent.
pub fn serve() {
    let mut guard = LINKS.lock();
    let Some(links) = guard.as_mut() else { return };
    let core = links.record.core_index;
    let Some(link) = links.to_boot.as_mut() else { return };
    while let Ok(payload) = link.receiver.try_recv() {
        match KernelMessage::decode(&payload) {
            Ok(KernelMessage::PeerTarget(entry)) => {
                if let Some(slot) = links.wake_targets.get_mut(entry.core as usize) {
                    *slot = Some(entry.target);
                }
            }
            Ok(KernelMessage::MeasureRequest(request)) => {
                let total = u64::from(request.rounds) + u64::from(request.warmup);
                let line = links.region.layout.pingpong_line(core).map(|offset| links.region.line(offset));
                serve_measurement(link, line, total);
            }
            Ok(other) => kprintln!("core {core}: unexpected kernel message {other:?}"),
            Err(e) => kprintln!("core {core}: malformed kernel message dropped: {e}"),
        }
    }
}

/// How long one side of a measurement waits for the other before giving up: long enough for
/// a host to deschedule a vCPU for a while, short enough that a dead peer does not hang a core.
fn patience_ticks() -> u64 {
    cpu::counter_frequency()
}

fn serve_measurement(link: &mut Link, line: Option<&'static core::sync::atomic::AtomicU64>, total: u64) {
    let patience = patience_ticks();
    let mut answered = 0;
    let mut deadline = cpu::counter() + patience;
    while answered < total {
        match link.receiver.try_recv() {
            Ok(payload) => {
                if let Ok(KernelMessage::Ping(ping)) = KernelMessage::decode(&payload) {
                    send(link, &Pong::answer(&ping));
                    answered += 1;
                }
                deadline = cpu::counter() + patience;
            }
            Err(_) if cpu::counter() > deadline => return, // the boot core gave up
            Err(_) => core::hint::spin_loop(),
        }
    }
    let Some(line) = line else { return };
    for i in 0..total {
        let deadline = cpu::counter() + patience;
        while line.load(Ordering::Acquire) != 2 * i + 1 {
            if cpu::counter() > deadline {
                return;
            }
            core::hint::spin_loop();
        }
        line.store(2 * i + 2, Ordering::Release);
    }
}
