//! The shared words the ring is built from: `core`'s atomics normally, `loom`'s under
//! `--cfg loom`, so the loom model tests check the very code that runs on the cores.
//!
//! The payload words are a type of their own, [`PayloadWord`]: on the cores an `AtomicU64`
//! used with `Relaxed` only; under loom a *race-checked plain cell*. Loom cannot show the
//! load buffering that the acknowledgement's `Release`/`Acquire` pair forbids (a payload load
//! seeing a store that comes later), so a relaxed atomic there would let a weakened
//! acknowledgement pass every model. A checked cell instead makes loom verify what the
//! protocol's argument rests on (see [`crate::line`]): every payload access is ordered by
//! happens-before with every other access to the same word (the sender's stores before the
//! receiver's loads through the sequence word, the receiver's loads before the next lap's
//! stores through the acknowledgement). Loom fails a model on any access without that order,
//! which is exactly what weakening either edge, or an off-by-one in the credits, produces.

#[cfg(loom)]
pub use loom::sync::atomic::AtomicU64;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, Ordering};

#[cfg(not(loom))]
pub use core::sync::atomic::AtomicU64;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, Ordering};

/// One payload word of a message line: stored and loaded `Relaxed` (see [`crate::line`]).
#[cfg(not(loom))]
#[repr(transparent)]
pub(crate) struct PayloadWord(AtomicU64);

#[cfg(not(loom))]
impl PayloadWord {
    pub(crate) const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    #[inline(always)]
    pub(crate) fn load(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    #[inline(always)]
    pub(crate) fn store(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed)
    }
}

/// One payload word under loom: a cell whose every access loom checks for a data race.
#[cfg(loom)]
pub(crate) struct PayloadWord(loom::cell::Cell<u64>);

// SAFETY: loom runs the model's threads one at a time, and `loom::cell::Cell` checks each
// access against every earlier conflicting one with loom's vector clocks, failing the model on
// an access that is not ordered by happens-before: a racing access is reported, never
// performed concurrently. Sharing the cell between loom threads is what the model is for.
#[cfg(loom)]
#[allow(unsafe_code, reason = "loom-only: lets the model threads share the race-checked cell")]
unsafe impl Sync for PayloadWord {}

#[cfg(loom)]
impl PayloadWord {
    pub(crate) fn new() -> Self {
        Self(loom::cell::Cell::new(0))
    }

    pub(crate) fn load(&self) -> u64 {
        self.0.get()
    }

    pub(crate) fn store(&self, value: u64) {
        self.0.set(value)
    }
}

/// A hint for one iteration of a busy-wait loop. Under loom it yields to the model's scheduler
/// instead, since a spinning thread would otherwise never let the other one run.
#[inline(always)]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}
