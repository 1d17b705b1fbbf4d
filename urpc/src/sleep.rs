//! Waiting for a message without losing a wake-up and without an interrupt per message: the
//! receiver's *asleep* flag, and waiting on the slot's line itself.
//!
//! A receiver that finds its ring empty has three ways to wait, cheapest first:
//!
//! 1. **Poll** the next slot's sequence word (a local cache hit until the sender writes it).
//! 2. **Watch the line** ([`WatchLine`]): on AArch64 an exclusive load (`LDAXR`) of the
//!    sequence word arms the core's exclusive monitor for its line, then `WFE`. The sender's
//!    store to that line clears the monitor, which is a wake-up event (Arm ARM DDI 0487,
//!    "Wait for Event": the clearing of the global exclusive monitor is among the events
//!    that set the Event Register), so the core
//!    sleeps until the message lands and the sender does nothing extra: no interrupt, no `SEV`.
//!    `WFE` also wakes on other events (the timer's event stream, another core's `SEV`, an
//!    interrupt) or for no reason, so every watch is followed by a look at the ring.
//! 3. **Sleep until notified** ([`Notify::wait`], the kernel's `WFI`): the core stops until an
//!    interrupt, so the sender must raise one. To raise it only for a receiver that really
//!    sleeps, the receiver sets the *asleep* flag in its acknowledgement block, and the sender
//!    reads it after each send ([`Sender::receiver_asleep`]).
//!
//! # The handshake that loses no wake-up
//!
//! ```text
//!  receiver                                  sender
//!  asleep = 1            (store)             slot.seq = k + 1   (store, Release)
//!  full barrier          (fence SeqCst)      full barrier       (fence SeqCst)
//!  look at the slot      (load)              read asleep        (load)
//!  still empty: sleep (WFI)                  asleep: send the interrupt
//! ```
//!
//! This is the store-buffering shape: each side stores, then loads what the other stored.
//! Without the barriers both loads may return the old values (on AArch64 a store may still
//! sit in the store buffer when the later load is satisfied; the C++/Rust model allows the
//! same), and then the receiver sleeps on a message the sender did not signal: a lost
//! wake-up. With a `SeqCst` fence between each side's store and load, the two fences are
//! ordered in the single total order of `SeqCst` operations, and whichever comes second sees
//! the other side's store: either the receiver sees the message and does not sleep, or the
//! sender sees the flag and sends the interrupt (both may happen; an extra interrupt is
//! harmless). On AArch64 each fence is `DMB ISH`, which orders the earlier store before the
//! later load for all observers of the Inner Shareable domain (the Arm ARM's ordering rules for `DMB`). The
//! interrupt itself latches: an SGI that arrives before the receiver's `WFI` stays pending and
//! ends the `WFI` at once. The loom model `asleep_flag_*` in `tests/loom.rs` checks the
//! handshake, and `scripts/lib/urpc-mutations.sh` weakens each fence to show it catches that.
//!
//! Clearing the flag after waking needs no ordering: a sender that still sees it set sends
//! one interrupt too many, never one too few.

use crate::deadline::PollDeadline;
use crate::endpoint::{Receiver, RecvError, Sender};
use crate::line::Payload;
use crate::notify::Notify;
use crate::sync::{self, AtomicU64, Ordering};
use crate::wait::WaitError;

/// How a core waits until a word of shared memory may have been written, without the
/// writer's help. The CPU driver implements it with `LDAXR` + `WFE`; [`SpinWatch`] spins.
pub trait WatchLine {
    /// Returns once `word` may no longer hold `seen`: at once if it already holds something
    /// else, otherwise after a store to its line or any other wake-up event, or spuriously.
    /// Callers look again after every return.
    fn wait_for_store(&self, word: &AtomicU64, seen: u64);
}

/// A [`WatchLine`] that returns at once (a spin-loop hint): for host tests and cores without
/// `WFE`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpinWatch;

impl WatchLine for SpinWatch {
    fn wait_for_store(&self, _word: &AtomicU64, _seen: u64) {
        sync::spin_loop();
    }
}

/// How long [`Receiver::recv_waiting`] stays in each way of waiting before the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitPolicy {
    /// Polls of the ring (with a spin-loop hint between) before watching the line.
    pub polls: u32,
    /// Watches of the line ([`WatchLine::wait_for_store`]) before sleeping until notified.
    pub watches: u32,
}

impl WaitPolicy {
    /// Poll a little, watch the line a while, then sleep: a sender needs to raise an
    /// interrupt only for a receiver idle through all of that.
    pub const DEFAULT: WaitPolicy = WaitPolicy { polls: 256, watches: 64 };
}

impl<const SLOTS: usize> Receiver<'_, SLOTS> {
    /// The value the next slot's sequence word holds while the ring is empty (the previous
    /// lap's number, or 0 on the first lap).
    fn empty_seq(&self) -> u64 {
        (self.received + 1).saturating_sub(SLOTS as u64)
    }

    /// Whether the next slot holds anything but the empty value (a message, or garbage that
    /// `try_recv` will report): either way there is no reason to sleep.
    fn slot_changed(&self) -> bool {
        self.ring.slots[self.next_slot].seq() != self.empty_seq()
    }

    /// Waits once on the next slot's line through `watcher` (returns at once if it already
    /// changed). May return spuriously; look at the ring again afterwards.
    pub fn watch(&self, watcher: &impl WatchLine) {
        watcher.wait_for_store(self.ring.slots[self.next_slot].seq_word(), self.empty_seq());
    }

    /// Announces that this receiver is about to sleep until notified: publishes its
    /// acknowledgements, sets its asleep flag, then (after a full barrier) looks at the ring
    /// again. True: still empty, so sleep, and call [`Self::woke`] after; false: something
    /// arrived meanwhile, the flag is cleared again, do not sleep. See the module
    /// documentation for why no wake-up is lost.
    pub fn prepare_to_sleep(&mut self) -> bool {
        self.flush_acknowledgements();
        self.ring.ack.asleep.store(1, Ordering::Relaxed);
        sync::fence(Ordering::SeqCst);
        if self.slot_changed() {
            self.woke();
            return false;
        }
        true
    }

    /// Clears the asleep flag after a sleep (see [`Self::prepare_to_sleep`]).
    pub fn woke(&mut self) {
        self.ring.ack.asleep.store(0, Ordering::Relaxed);
    }

    /// Waits for the next message the cheapest way that is fast enough: polls, then watches
    /// the line, then sleeps through `sleeper` with the asleep flag set, as `policy` says,
    /// and starts over after every wake-up. Ends with a message, a broken ring, or when
    /// `deadline` expires (checked after each look at the ring; `sleeper.wait` must return in
    /// bounded time for the deadline to be seen, as the kernel's does with a timer, and a
    /// deadline that reads its clock only every so many looks is seen only after that many
    /// sleeps: give it a clock read per look when sleeps are long).
    pub fn recv_waiting<C: FnMut() -> u64>(
        &mut self,
        policy: WaitPolicy,
        watcher: &impl WatchLine,
        sleeper: &impl Notify,
        deadline: &mut PollDeadline<C>,
    ) -> Result<Payload, WaitError> {
        loop {
            for round in 0..u64::from(policy.polls) + u64::from(policy.watches) + 1 {
                match self.try_recv() {
                    Ok(payload) => return Ok(payload),
                    Err(RecvError::Empty) => {}
                    Err(error) => return Err(error.into()),
                }
                if deadline.expired() {
                    return Err(WaitError::TimedOut);
                }
                if round < u64::from(policy.polls) {
                    sync::spin_loop();
                } else if round < u64::from(policy.polls) + u64::from(policy.watches) {
                    self.watch(watcher);
                }
            }
            if self.prepare_to_sleep() {
                sleeper.wait();
                self.woke();
            }
        }
    }
}

impl<const SLOTS: usize> Sender<'_, SLOTS> {
    /// Whether the receiver announced it sleeps until notified: call after sending (the full
    /// barrier before the read orders the message's publication before it; see the module
    /// documentation). True means the receiver needs an interrupt to see the message.
    pub fn receiver_asleep(&self) -> bool {
        sync::fence(Ordering::SeqCst);
        self.ring.ack.asleep.load(Ordering::Relaxed) != 0
    }

    /// Notifies the receiver through `notifier` if it sleeps (see [`Self::receiver_asleep`]);
    /// returns whether it did. Call after a send or a batch.
    pub fn notify_if_asleep(&self, notifier: &impl Notify) -> bool {
        let asleep = self.receiver_asleep();
        if asleep {
            notifier.notify();
        }
        asleep
    }
}

/// How the two sides of a measurement wait for a message and wake the other: the ways the
/// kernel's (`urpc-wait`) and EL0's (`urpc-wait-el0`) wait comparisons measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitMode {
    /// Both poll without end: the round trip of the channel itself.
    Spin,
    /// The way before the asleep flag: a receiver with nothing to do sleeps in `WFI` at once,
    /// and every send raises the wake SGI.
    InterruptEveryMessage,
    /// The receiver sleeps in `WFI` at once, with its asleep flag set; a sender raises the SGI
    /// only when it reads the flag set after sending (see the module documentation).
    AsleepFlag,
    /// The receiver first watches the slot's line (`LDAXR` + `WFE`, woken by the sender's
    /// store without an interrupt) for [`WaitMode::WATCHES`] wake-ups, then sleeps as in
    /// [`WaitMode::AsleepFlag`].
    WatchThenAsleep,
}

impl WaitMode {
    /// The modes a wait measurement compares, the baseline first.
    pub const COMPARED: [WaitMode; 3] =
        [WaitMode::InterruptEveryMessage, WaitMode::AsleepFlag, WaitMode::WatchThenAsleep];

    /// Line watches before sleeping in [`WaitMode::WatchThenAsleep`]. On a board each lasts
    /// until the store or the timer's event stream (about 1 ms), so this bounds the shallow
    /// sleep; under QEMU's TCG a `WFE` returns at once (it is a yield to the emulator).
    pub const WATCHES: u32 = 64;

    /// Its name on the console.
    pub fn name(self) -> &'static str {
        match self {
            WaitMode::Spin => "spin",
            WaitMode::InterruptEveryMessage => "sgi-every-message",
            WaitMode::AsleepFlag => "asleep-flag",
            WaitMode::WatchThenAsleep => "wfe-then-asleep",
        }
    }

    /// How a receiver waits in this mode (not used by [`WaitMode::Spin`], which polls).
    pub fn policy(self) -> WaitPolicy {
        let watches = if self == WaitMode::WatchThenAsleep { Self::WATCHES } else { 0 };
        WaitPolicy { polls: 0, watches }
    }

    /// Whether a sender raises the SGI after every message, asleep flag or not.
    pub fn interrupts_every_message(self) -> bool {
        self == WaitMode::InterruptEveryMessage
    }

    /// Its code in a message.
    pub fn code(self) -> u8 {
        match self {
            WaitMode::Spin => 0,
            WaitMode::InterruptEveryMessage => 1,
            WaitMode::AsleepFlag => 2,
            WaitMode::WatchThenAsleep => 3,
        }
    }

    /// The mode a message's code names, if any.
    pub fn from_code(code: u8) -> Option<Self> {
        [WaitMode::Spin, WaitMode::InterruptEveryMessage, WaitMode::AsleepFlag, WaitMode::WatchThenAsleep]
            .get(usize::from(code))
            .copied()
    }
}

/// A wait comparison's line of ratios: every mode's round trip and SGIs over the first mode's,
/// as ` <mode>: rtt <r> sgis <s>` each (two decimals, `-` over a zero), written to `out`.
pub struct Ratios<W: core::fmt::Write> {
    out: W,
    /// The first mode's round trip and SGIs.
    base: Option<(u64, u64)>,
}

impl<W: core::fmt::Write> Ratios<W> {
    /// An empty line of ratios written to `out`.
    pub fn new(out: W) -> Self {
        Ratios { out, base: None }
    }

    /// One mode's figures (any unit, the same for every mode): the first is the baseline,
    /// each later one adds its ratios.
    pub fn add(&mut self, mode: WaitMode, rtt: u64, sgis: u64) {
        match self.base {
            None => self.base = Some((rtt, sgis)),
            Some((base_rtt, base_sgis)) => {
                let (rtt, sgis) = (Hundredths::ratio(rtt, base_rtt), Hundredths::ratio(sgis, base_sgis));
                let _ = write!(self.out, " {}: rtt {rtt} sgis {sgis}", mode.name());
            }
        }
    }

    /// What was written.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A ratio printed with two decimals (`-` when the denominator is 0).
struct Hundredths(Option<u64>);

impl Hundredths {
    fn ratio(numerator: u64, denominator: u64) -> Self {
        Self((denominator != 0).then(|| numerator.saturating_mul(100) / denominator))
    }
}

impl core::fmt::Display for Hundredths {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(hundredths) => write!(f, "{}.{:02}", hundredths / 100, hundredths % 100),
            None => f.write_str("-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_over_the_first_mode_with_two_decimals() {
        let mut ratios = Ratios::new(std::string::String::new());
        ratios.add(WaitMode::InterruptEveryMessage, 200, 10_000);
        ratios.add(WaitMode::AsleepFlag, 150, 7_355);
        ratios.add(WaitMode::WatchThenAsleep, 25, 0);
        assert_eq!(
            ratios.into_inner(),
            " asleep-flag: rtt 0.75 sgis 0.73 wfe-then-asleep: rtt 0.12 sgis 0.00"
        );
        let mut zero = Ratios::new(std::string::String::new());
        zero.add(WaitMode::InterruptEveryMessage, 0, 0);
        zero.add(WaitMode::AsleepFlag, 5, 5);
        assert_eq!(zero.into_inner(), " asleep-flag: rtt - sgis -");
    }

    #[test]
    fn a_mode_s_code_names_it_again() {
        for mode in
            [WaitMode::Spin, WaitMode::InterruptEveryMessage, WaitMode::AsleepFlag, WaitMode::WatchThenAsleep]
        {
            assert_eq!(WaitMode::from_code(mode.code()), Some(mode));
        }
        assert_eq!(WaitMode::from_code(4), None);
    }
}
