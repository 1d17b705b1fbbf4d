//! Waiting for a store to a cache line: the exclusive monitor and `WFE`, URPC's line watch
//! ([`urpc::WatchLine`]) on this architecture.
//!
//! `LDAXR` marks the word's address for exclusive access in this core's local monitor and in
//! the global monitor of the shareability domain. A write to that location (or its cache line,
//! the reservation granule on these cores) by another core clears the monitor, and clearing
//! the global monitor sets this core's event register (Arm ARM DDI 0487, "Wait for Event":
//! the events that set the Event Register). `WFE` sleeps only while the event
//! register is clear, so a store that lands between the load and the `WFE` ends the sleep at
//! once: no wake-up is lost, and the writer needs no `SEV` and no interrupt. `WFE` also wakes on
//! the timer's event stream (enabled on every core, about every millisecond), on an interrupt,
//! after an exception return (which sets the event register), and for no reason at all, so
//! callers look at the word again after every return. The exclusive access is never completed
//! by a store; the next `LDAXR`, `CLREX` or exception return resets the monitor.

use core::sync::atomic::AtomicU64;

/// Returns once `word` may no longer hold `seen`: at once if it holds something else now,
/// otherwise after a store to its line, another wake-up event, or spuriously.
#[inline]
pub fn wait_for_store(word: &AtomicU64, seen: u64) {
    let found: u64;
    // SAFETY: `word` is a live, 8-byte aligned `AtomicU64`, so the exclusive load of its
    // address reads valid memory with single-copy atomicity, as any atomic load may; nothing is
    // written (`readonly`), and `WFE` only waits. Load, compare and `WFE` are one block so the
    // compiler cannot put a memory access between the load and the `WFE` that might clear the
    // monitor without a store by the peer.
    unsafe {
        core::arch::asm!(
            "ldaxr {found}, [{address}]",
            "cmp {found}, {seen}",
            "b.ne 2f",
            "wfe",
            "2:",
            found = out(reg) found,
            address = in(reg) word.as_ptr(),
            seen = in(reg) seen,
            options(nostack, readonly),
        );
    }
    let _ = found;
}

/// URPC's line watch on this core: [`wait_for_store`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LineWatch;

impl urpc::WatchLine for LineWatch {
    #[inline]
    fn wait_for_store(&self, word: &AtomicU64, seen: u64) {
        wait_for_store(word, seen);
    }
}
