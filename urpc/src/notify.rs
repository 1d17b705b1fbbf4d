//! Waiting for a message: a notification hook the kernel implements, and a poll-then-sleep
//! policy on top of it. The rings themselves never wait.
//!
//! Polling a cache line that nobody writes costs nothing outside the polling core (the line
//! stays in its cache), so a receiver that expects an answer soon should poll; one that may
//! wait long should sleep and let the sender wake it. The kernel supplies the mechanism:
//!
//! - `WFE` / `SEV`: [`Notify::wait`] is `WFE`, [`Notify::notify`] is `DSB ISH; SEV`. The event
//!   register latches a `SEV` sent between the last poll and the `WFE`, and the core also
//!   wakes when its exclusive monitor is cleared, so no wake-up is lost.
//! - An SGI: [`Notify::notify`] sends the peer core an SGI, [`Notify::wait`] is `WFI` (which
//!   wakes on a pending interrupt even while interrupts are masked, so a signal that arrives
//!   after the last poll is not lost either).
//!
//! A sender notifies after it has sent (a batch), for a peer that may be asleep.

use crate::sync;

/// How one core wakes another and sleeps until woken. Implemented by the CPU driver (WFE/SEV
/// or an SGI); host tests use a fake.
pub trait Notify {
    /// Wakes the peer, or all cores that may be waiting. Called after the message is written.
    fn notify(&self);

    /// Sleeps until a notification may have arrived. May return early or spuriously, but must
    /// not miss a notification sent after the caller's last poll (it must latch).
    fn wait(&self);
}

/// A [`Notify`] that never sleeps: `wait` is a spin-loop hint and `notify` does nothing. For
/// cores that only poll, and for host tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpinOnly;

impl Notify for SpinOnly {
    fn notify(&self) {}

    fn wait(&self) {
        sync::spin_loop();
    }
}

/// Calls `attempt` until it returns `Some`: first up to `polls` times with a spin-loop hint in
/// between, then with [`Notify::wait`] in between. Returns the value.
///
/// `attempt` is typically `|| receiver.try_recv().ok()`.
pub fn poll_then_wait<T>(notifier: &impl Notify, polls: u32, mut attempt: impl FnMut() -> Option<T>) -> T {
    for _ in 0..polls {
        if let Some(value) = attempt() {
            return value;
        }
        sync::spin_loop();
    }
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        notifier.wait();
    }
}
