//! The shared region: the one block of memory several cores write, which the boot stub carves
//! from RAM, zeroes and names in every core's boot record (`shared_pa`). This module says
//! where everything sits in it ([`SharedLayout`]) and gives typed views of it through a core's
//! physmap ([`SharedRegion`]). What travels through its channel frames is in
//! [`crate::kernel_messages`] (between CPU drivers) and the monitors' own protocol.
//!
//! Every exchange between cores is a URPC message in one of its channel frames; besides them it
//! holds each core's console log ring (one writer, its core; one reader, the console owner)
//! and the console gate ([`crate::log_ring`]), and the ping-pong lines that measure the raw
//! cache-line round trip. No core ever waits in it for another to finish printing.
//!
//! ```text
//! offset                      contents
//! 0                           console gate (two cache lines), rest of the page unused
//! 4 KiB * (1 + n)             kernel channel between the boot core (side A) and core n (side B)
//! after them, 1 page / 64     the cache line core n and the boot core bounce to measure the
//!   cores per page            raw cache-line round trip ("limit")
//! after them, 4 KiB each      monitor channel of each unordered pair of cores (a < b; a is side A)
//! after them, 8 KiB each      application region of each pair: a channel frame, then a page
//!                             whose first cache line the pair bounces for the raw limit
//! after them, 24 KiB each     console log ring of core n
//! ```

use core::sync::atomic::AtomicU64;

use urpc::ChannelFrame;

use crate::layout::{align_up, phys_to_virt, PAGE_SIZE};
use crate::log_ring::{ConsoleGate, LogRing};

/// Bytes of one channel frame.
pub const CHANNEL_BYTES: u64 = urpc::ChannelFrame::<{ urpc::DEFAULT_SLOTS }>::BYTES as u64;
/// Bytes of a cache line.
const LINE: u64 = 64;
/// Bytes of a pair's application region: its channel frame and its ping-pong page.
pub const APP_REGION_BYTES: u64 = CHANNEL_BYTES + PAGE_SIZE;
/// Bytes from one core's log ring to the next (whole pages).
const LOG_RING_STRIDE: u64 = align_up(LogRing::BYTES, PAGE_SIZE);
const _: () = assert!(ConsoleGate::BYTES <= PAGE_SIZE);

/// Where everything sits in the shared region of a machine with `core_count` cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedLayout {
    core_count: u64,
}

impl SharedLayout {
    /// The layout for `core_count` cores.
    pub const fn new(core_count: u64) -> Self {
        SharedLayout { core_count }
    }

    /// Cores the layout has room for.
    pub const fn core_count(&self) -> u64 {
        self.core_count
    }

    /// Offset of the console gate.
    pub const fn console_gate(&self) -> u64 {
        0
    }

    /// Offset of the kernel channel between the boot core and core `core`.
    pub fn kernel_channel(&self, core: u64) -> Option<u64> {
        (core < self.core_count).then(|| PAGE_SIZE + core * CHANNEL_BYTES)
    }

    fn pingpong_base(&self) -> u64 {
        PAGE_SIZE + self.core_count * CHANNEL_BYTES
    }

    /// Offset of the cache line the boot core and core `core` bounce for the raw limit.
    pub fn pingpong_line(&self, core: u64) -> Option<u64> {
        (core < self.core_count).then(|| self.pingpong_base() + core * LINE)
    }

    fn monitor_base(&self) -> u64 {
        self.pingpong_base() + align_up(self.core_count * LINE, PAGE_SIZE)
    }

    /// Offset of the monitor channel between cores `a` and `b` (either order), and which side
    /// `a` takes (true: side A).
    pub fn monitor_channel(&self, a: u64, b: u64) -> Option<(u64, bool)> {
        let (pair, a_is_side_a) = self.pair_index(a, b)?;
        Some((self.monitor_base() + pair * CHANNEL_BYTES, a_is_side_a))
    }

    fn pairs(&self) -> u64 {
        self.core_count * self.core_count.saturating_sub(1) / 2
    }

    fn pair_index(&self, a: u64, b: u64) -> Option<(u64, bool)> {
        if a == b || a >= self.core_count || b >= self.core_count {
            return None;
        }
        let (low, high) = (a.min(b), a.max(b));
        Some((high * (high - 1) / 2 + low, a == low))
    }

    /// Offset of the application region (channel frame, then ping-pong page) of cores `a` and
    /// `b`, [`APP_REGION_BYTES`] long, and which side `a` takes (true: side A).
    pub fn app_region(&self, a: u64, b: u64) -> Option<(u64, bool)> {
        let (pair, a_is_side_a) = self.pair_index(a, b)?;
        let base = self.monitor_base() + self.pairs() * CHANNEL_BYTES;
        Some((base + pair * APP_REGION_BYTES, a_is_side_a))
    }

    fn log_ring_base(&self) -> u64 {
        self.monitor_base() + self.pairs() * (CHANNEL_BYTES + APP_REGION_BYTES)
    }

    /// Offset of core `core`'s console log ring.
    pub fn log_ring(&self, core: u64) -> Option<u64> {
        (core < self.core_count).then(|| self.log_ring_base() + core * LOG_RING_STRIDE)
    }

    /// Bytes of the whole region.
    pub fn size(&self) -> u64 {
        self.log_ring_base() + self.core_count * LOG_RING_STRIDE
    }
}

/// The shared region as seen from one core, through its physmap. Everything in the region is
/// atomics, zeroed by the stub before any core started, so shared references from several
/// cores are sound; the only `unsafe` is the promise, made once in [`SharedRegion::new`], that
/// the address is that region.
#[derive(Clone, Copy, Debug)]
pub struct SharedRegion {
    va: u64,
    /// Where things are in it.
    pub layout: SharedLayout,
}

impl SharedRegion {
    /// The region at physical `pa` for `core_count` cores.
    ///
    /// # Safety
    /// `pa` must be the region the boot stub zeroed for this boot, at least
    /// `SharedLayout::new(core_count).size()` bytes of RAM, page aligned, never freed, and the
    /// physmap ([`crate::layout::PHYSMAP_BASE`]) must map it.
    pub unsafe fn new(pa: u64, core_count: u64) -> Option<Self> {
        Some(SharedRegion { va: phys_to_virt(pa)?, layout: SharedLayout::new(core_count) })
    }

    /// The console gate.
    pub fn console_gate(&self) -> &'static ConsoleGate {
        // SAFETY: per `new`, offset 0 of the region is a zero-initialised ConsoleGate (atomics;
        // all-zero is idle), page aligned.
        unsafe { &*((self.va + self.layout.console_gate()) as *const ConsoleGate) }
    }

    /// Core `core`'s console log ring, if the machine has that core.
    pub fn log_ring(&self, core: u64) -> Option<&'static LogRing> {
        let offset = self.layout.log_ring(core)?;
        // SAFETY: per `new`, the layout's ring offsets name zeroed, page-aligned rings of
        // atomics inside the region; all-zero is an empty ring.
        Some(unsafe { &*((self.va + offset) as *const LogRing) })
    }

    /// The channel frame at `offset` (from one of the layout's channel functions).
    pub fn channel(&self, offset: u64) -> &'static ChannelFrame {
        debug_assert!(offset + CHANNEL_BYTES <= self.layout.size());
        // SAFETY: per `new`, the layout's channel offsets name zeroed, page-aligned frames of
        // atomics inside the region; all-zero is a valid empty channel.
        unsafe { &*((self.va + offset) as *const ChannelFrame) }
    }

    /// The ping-pong cache line at `offset` (from `SharedLayout::pingpong_line`).
    pub fn line(&self, offset: u64) -> &'static AtomicU64 {
        debug_assert!(offset + LINE <= self.layout.size());
        // SAFETY: per `new`, the offset names an aligned, zeroed word inside the region.
        unsafe { &*((self.va + offset) as *const AtomicU64) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_do_not_overlap_and_channels_are_page_aligned() {
        let layout = SharedLayout::new(6);
        let mut spans = vec![(0, ConsoleGate::BYTES)];
        for core in 0..6 {
            let channel = layout.kernel_channel(core).unwrap();
            assert_eq!(channel % PAGE_SIZE, 0);
            spans.push((channel, channel + CHANNEL_BYTES));
            let line = layout.pingpong_line(core).unwrap();
            spans.push((line, line + 64));
            let ring = layout.log_ring(core).unwrap();
            assert_eq!(ring % PAGE_SIZE, 0);
            spans.push((ring, ring + LogRing::BYTES));
        }
        let mut pairs = std::collections::HashSet::new();
        for a in 0..6 {
            for b in 0..6 {
                if a == b {
                    assert_eq!(layout.monitor_channel(a, b), None);
                    continue;
                }
                let (offset, a_is_side_a) = layout.monitor_channel(a, b).unwrap();
                assert_eq!(layout.monitor_channel(b, a), Some((offset, !a_is_side_a)));
                assert_eq!(offset % PAGE_SIZE, 0);
                let (app, app_side_a) = layout.app_region(a, b).unwrap();
                assert_eq!(app_side_a, a_is_side_a);
                assert_eq!(app % PAGE_SIZE, 0);
                if pairs.insert(offset) {
                    spans.push((offset, offset + CHANNEL_BYTES));
                    spans.push((app, app + APP_REGION_BYTES));
                }
            }
        }
        assert_eq!(pairs.len(), 15);
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "{:?} overlaps {:?}", w[0], w[1]);
        }
        assert_eq!(align_up(spans.last().unwrap().1, PAGE_SIZE), layout.size());
        assert_eq!(layout.kernel_channel(6), None);
        assert_eq!(layout.log_ring(6), None);
        assert_eq!(layout.monitor_channel(0, 6), None);
    }
}
