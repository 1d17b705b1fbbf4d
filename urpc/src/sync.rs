//! The atomics the ring is built from: `core`'s normally, `loom`'s under `--cfg loom`, so the
//! loom model tests check the very code that runs on the cores.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU64, Ordering};

/// A hint for one iteration of a busy-wait loop. Under loom it yields to the model's scheduler
/// instead, since a spinning thread would otherwise never let the other one run.
#[inline(always)]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}
