//! Typed views of the shared region (see [`crate::intercore`]) through this core's physmap.
//! Everything in the region is atomics, zeroed by the stub before any core started, so shared
//! references from several cores are sound.

use core::sync::atomic::AtomicU64;

use urpc::ChannelFrame;

use crate::intercore::SharedLayout;
use crate::layout::phys_to_virt;
use crate::shared::ConsoleLock;

/// The shared region as seen from one core.
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
    /// `SharedLayout::new(core_count).size()` bytes of RAM, page aligned, never freed.
    pub unsafe fn new(pa: u64, core_count: u64) -> Option<Self> {
        Some(SharedRegion { va: phys_to_virt(pa)?, layout: SharedLayout::new(core_count) })
    }

    /// The console lock.
    pub fn console_lock(&self) -> &'static ConsoleLock {
        // SAFETY: per `new`, offset 0 of the region is a zero-initialised ConsoleLock (atomics).
        unsafe { &*((self.va + self.layout.console_lock()) as *const ConsoleLock) }
    }

    /// The channel frame at `offset` (from one of the layout's channel functions).
    pub fn channel(&self, offset: u64) -> &'static ChannelFrame {
        debug_assert!(offset + crate::intercore::CHANNEL_BYTES <= self.layout.size());
        // SAFETY: per `new`, the layout's channel offsets name zeroed, page-aligned frames of
        // atomics inside the region; all-zero is a valid empty channel.
        unsafe { &*((self.va + offset) as *const ChannelFrame) }
    }

    /// The ping-pong cache line at `offset` (from `SharedLayout::pingpong_line`).
    pub fn line(&self, offset: u64) -> &'static AtomicU64 {
        debug_assert!(offset + 64 <= self.layout.size());
        // SAFETY: per `new`, the offset names an aligned, zeroed word inside the region.
        unsafe { &*((self.va + offset) as *const AtomicU64) }
    }
}
