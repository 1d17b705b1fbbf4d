//! This CPU driver's channels to the other CPU drivers: every core has one to the boot core,
//! and the boot core one to each core. Reports, the wake-up directory and the boot-time
//! measurement all travel here as URPC messages ([`cpu_driver::kernel_messages`]). This module
//! moves messages; what they mean to the boot (the roll call, the URPC figures) is decided by
//! the modules above it, which reach a channel through [`with_peer`] and [`with_boot_link`].
//! Uses [`crate::interrupts`] (to wake the other side) and [`crate::console`].

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::AtomicU64;

use cpu_driver::arch::aarch64::cpu;
use cpu_driver::boot_record::{BootRecord, MAX_CORES};
use cpu_driver::kernel_messages::{KernelMessage, MeasureRequest, PeerTarget, WakeTarget};
use cpu_driver::shared_region::SharedRegion;
use spin::Mutex;
use urpc::messages::CoreUp;
use urpc::{Endpoint, Message, Notify};

use crate::console::kprintln;
use crate::interrupts::SgiNotify;

/// One channel, from this core's side.
pub type Link = Endpoint<'static>;

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

/// Opens this core's side of its kernel channels, unless this core's data cache lines are too
/// wide for URPC's frames (`urpc::check_cache_line`): then it says so and opens none, and the
/// roll call reports it as not having come up.
pub fn init(record: &'static BootRecord, region: SharedRegion) {
    let core = record.core_index;
    let line_bytes = 4usize << ((cpu::cache_type() >> 16) & 0xf);
    let fits = match urpc::check_cache_line(line_bytes) {
        Ok(()) => true,
        Err(refused) => {
            kprintln!("core {core}: no URPC channels: {refused}");
            false
        }
    };
    let own = |peer: u64, side| {
        if !fits {
            return None;
        }
        // A side already claimed would be a second writer of a ring: leave that link out.
        region.layout.kernel_channel(peer).and_then(|offset| region.channel(offset).try_endpoint(side).ok())
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

/// Boot core, once core `core` is off (the firmware said so): empties its kernel channel and
/// its monitor channels (`urpc::ChannelFrame::reset`) and cleans them to the point of
/// coherency, so that its next incarnation, and the monitors that bind to it again, start on
/// empty rings with no side claimed. The other monitors dropped their endpoints to it when it
/// left; this core's kernel endpoint is dropped and claimed afresh. (Its application channels
/// are not: programs on the other cores may still hold endpoints over them.)
pub fn reset_for_restart(core: u64) {
    let mut guard = LINKS.lock();
    let Some(links) = guard.as_mut() else { return };
    let layout = links.region.layout;
    if let Some(link) = links.to_core.get_mut(core as usize) {
        *link = None;
    }
    links.reports[core as usize % MAX_CORES] = None;
    let peers = (0..links.record.core_count).filter(|&p| p != core);
    let monitor = peers.filter_map(|peer| layout.monitor_channel(core, peer).map(|(offset, _)| offset));
    for offset in layout.kernel_channel(core).into_iter().chain(monitor) {
        let frame = links.region.channel(offset);
        frame.reset();
        // The new core reads them first with its caches on, but clean anyway: nothing about
        // them may depend on which core's cache holds the zeroes.
        cpu_driver::arch::aarch64::cache::clean_to_poc(
            core::ptr::from_ref(frame) as usize,
            cpu_driver::shared_region::CHANNEL_BYTES as usize,
        );
    }
    if let (Some(offset), Some(link)) = (layout.kernel_channel(core), links.to_core.get_mut(core as usize)) {
        *link = links.region.channel(offset).try_endpoint(urpc::Side::A).ok();
    }
}

/// Sends `message`, waiting a while if the ring is full; false if it stayed full.
pub fn send<M: Message>(link: &mut Link, message: &M) -> bool {
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
    send_directory_to(|_| true, true);
}

/// Boot core: sends core `core` (started again) the wake-up directory, without waking it (it
/// may not run yet; it reads the directory when it is first idle).
pub fn send_directory(core: u64) {
    send_directory_to(|index| index == core as usize, false);
}

fn send_directory_to(to: impl Fn(usize) -> bool, wake: bool) {
    let mut guard = LINKS.lock();
    let Some(links) = guard.as_mut() else { return };
    let directory: Vec<PeerTarget> = links
        .wake_targets
        .iter()
        .enumerate()
        .filter_map(|(core, target)| target.map(|target| PeerTarget { core: core as u32, target }))
        .collect();
    for (index, link) in links.to_core.iter_mut().enumerate().filter(|(index, _)| to(*index)) {
        let (Some(link), Some(target)) = (link.as_mut(), links.wake_targets[index]) else { continue };
        for entry in &directory {
            send(link, entry);
        }
        if wake {
            SgiNotify { target }.notify();
        }
    }
}

/// How to wake the boot core.
pub fn boot_wake_target() -> Option<u64> {
    Some(LINKS.lock().as_ref()?.record.gic.boot_core_target)
}

/// How to wake `core`, if known.
pub fn wake_target(core: u64) -> Option<u64> {
    LINKS.lock().as_ref()?.wake_targets.get(core as usize).copied().flatten()
}

/// The boot core's view of one other core, for as long as a measurement takes.
pub struct Peer<'a> {
    /// The kernel channel to it (this side is A).
    pub link: &'a mut Link,
    /// The cache line the two bounce for the raw limit.
    pub line: &'static AtomicU64,
    /// How to wake it.
    pub wake_target: u64,
}

/// Boot core: runs `f` on the channel to `core`, which must have come up (its wake target is
/// known); `None` if it has not. Holds this core's channels for the duration.
pub fn with_peer<R>(core: u64, f: impl FnOnce(Peer<'_>) -> R) -> Option<R> {
    let mut guard = LINKS.lock();
    let links = guard.as_mut()?;
    let wake_target = links.wake_targets.get(core as usize).copied().flatten()?;
    let line = links.region.line(links.region.layout.pingpong_line(core)?);
    let link = links.to_core.get_mut(core as usize)?.as_mut()?;
    Some(f(Peer { link, line, wake_target }))
}

/// Any core but the boot core: runs `f` on the channel to the boot core and this core's
/// ping-pong line; `None` on the boot core.
pub fn with_boot_link<R>(f: impl FnOnce(&mut Link, Option<&'static AtomicU64>) -> R) -> Option<R> {
    let mut guard = LINKS.lock();
    let links = guard.as_mut()?;
    let line =
        links.region.layout.pingpong_line(links.record.core_index).map(|offset| links.region.line(offset));
    let link = links.to_boot.as_mut()?;
    Some(f(link, line))
}

/// Any core but the boot core, when idle: handles what the boot core sent, up to the first
/// measurement request, which it returns: the pings that follow it on the channel belong to
/// whoever serves the request.
pub fn serve() -> Option<MeasureRequest> {
    let mut guard = LINKS.lock();
    let links = guard.as_mut()?;
    let core = links.record.core_index;
    let link = links.to_boot.as_mut()?;
    while let Ok(payload) = link.receiver.try_recv() {
        match KernelMessage::decode(&payload) {
            Ok(KernelMessage::PeerTarget(entry)) => {
                if let Some(slot) = links.wake_targets.get_mut(entry.core as usize) {
                    *slot = Some(entry.target);
                }
            }
            Ok(KernelMessage::MeasureRequest(request)) => return Some(request),
            Ok(other) => kprintln!("core {core}: unexpected kernel message {other:?}"),
            Err(e) => kprintln!("core {core}: malformed kernel message dropped: {e}"),
        }
    }
    None
}
