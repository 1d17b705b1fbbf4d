//! URPC's line watch on AArch64, one implementation for the CPU driver (EL1) and for EL0
//! programs: [`wait_for_store`] returns once a word may no longer hold the value the caller
//! saw, sleeping in `WFE` until another core's store to its cache line wakes this one, with
//! no interrupt and nothing for the writer to do. [`ArmLineWatch`] is it as a
//! [`urpc::WatchLine`], the trait URPC's waiting policy (`urpc::sleep`) is written against.
//!
//! This is the hardware half of URPC's notification backend, kept out of `urpc` so that crate
//! stays free of `unsafe`; on other architectures (the host, for tests and tools)
//! [`wait_for_store`] is a spin-loop hint, which the trait's contract allows (a watch may
//! return for no reason, and every caller looks at the word again).
//!
//! # How the watch works (Arm ARM DDI 0487, "Wait for Event mechanism")
//!
//! 1. `SEVL; WFE`: the Event Register may be set already: every exception return sets it (a
//!    system call or an interrupt just before the watch), as do the timer's event stream and
//!    `SEV`. A `WFE` would then return at once and the watch would be wasted. `SEVL` sets the
//!    register and `WFE` consumes it, leaving it clear.
//! 2. `LDXR` marks the word's reservation granule in this core's local and the global
//!    exclusive monitor. Another core's store to that granule clears the global monitor,
//!    which sets this core's Event Register.
//! 3. The loaded value is compared with `seen` first: a store that landed before the load is
//!    seen without waiting.
//! 4. `WFE` sleeps only while the Event Register is clear, so a store landing between the load
//!    and the `WFE` ends the `WFE` at once: no store is missed.
//!
//! `WFE` also returns on an unmasked interrupt, the timer's event stream (the CPU drivers
//! enable it, about every millisecond, which bounds every watch), and for no reason. The
//! reservation is never completed by a store; the next exclusive load, `CLREX` or exception
//! return drops it. At EL0 the kernel leaves `SCTLR_EL1.nTWE` set, so `WFE` does not trap.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

use core::sync::atomic::AtomicU64;

/// Returns once `word` may no longer hold `seen`: at once if it holds something else now,
/// otherwise after another core's store to its line, another wake-up event, or spuriously
/// (see the crate documentation for the sequence and why it loses no store).
#[cfg(target_arch = "aarch64")]
#[inline]
pub fn wait_for_store(word: &AtomicU64, seen: u64) {
    // SAFETY: `word` is a live, 8-byte aligned `AtomicU64`, so the exclusive load reads valid
    // memory with single-copy atomicity, as any atomic load may; nothing is written
    // (`readonly`), and `SEVL`/`WFE` only touch the Event Register. One block, so the compiler
    // puts no memory access between the load and the `WFE` that could clear the monitor.
    unsafe {
        core::arch::asm!(
            "sevl",
            "wfe",
            "ldxr {found}, [{address}]",
            "cmp {found}, {seen}",
            "b.ne 2f",
            "wfe",
            "2:",
            found = out(reg) _,
            address = in(reg) word.as_ptr(),
            seen = in(reg) seen,
            options(nostack, readonly),
        );
    }
}

/// Off AArch64 there is no exclusive monitor to watch with: a spin-loop hint, a spurious
/// return the callers already handle.
#[cfg(not(target_arch = "aarch64"))]
#[inline]
pub fn wait_for_store(word: &AtomicU64, seen: u64) {
    let _ = (word, seen);
    core::hint::spin_loop();
}

/// [`wait_for_store`] as URPC's line watch.
#[derive(Clone, Copy, Debug, Default)]
pub struct ArmLineWatch;

// Under the loom model checker (`--cfg loom`, host only) `urpc`'s atomics are loom's, which no
// exclusive monitor watches; the models use their own watches.
#[cfg(not(loom))]
impl urpc::WatchLine for ArmLineWatch {
    #[inline]
    fn wait_for_store(&self, word: &AtomicU64, seen: u64) {
        wait_for_store(word, seen);
    }
}
