//! A deadline for a polling loop that reads the clock rarely.
//!
//! Reading the counter is not free: under QEMU every `CNTVCT_EL0` read takes the emulator's
//! global lock, so two cores that read it on every poll of a channel queue on that lock and
//! measure it rather than the channel. A [`PollDeadline`] reads the clock only once every
//! `every` empty polls; progress (a message arrived) does not read it at all, but makes the
//! next read start the wait afresh.

/// How many empty polls pass between two reads of the clock by default.
pub const POLLS_PER_CLOCK_READ: u32 = 1024;

/// A deadline `ticks` after the last progress, checked every `every` polls.
pub struct PollDeadline<Clock: FnMut() -> u64> {
    clock: Clock,
    ticks: u64,
    every: u32,
    polls: u32,
    deadline: u64,
    /// Progress was made since the last read: the next read sets a new deadline.
    rebase: bool,
}

impl<Clock: FnMut() -> u64> PollDeadline<Clock> {
    /// A deadline `ticks` after `start` (a clock value the caller read anyway), looked at
    /// every `every` polls (at least 1).
    pub fn new(clock: Clock, start: u64, ticks: u64, every: u32) -> Self {
        PollDeadline {
            clock,
            ticks,
            every: every.max(1),
            polls: 0,
            deadline: start.saturating_add(ticks),
            rebase: false,
        }
    }

    /// Another poll found nothing: whether the deadline has passed. Reads the clock only every
    /// `every` calls, so it says so at most `every - 1` polls late.
    pub fn expired(&mut self) -> bool {
        self.polls += 1;
        if self.polls < self.every {
            return false;
        }
        self.polls = 0;
        let now = (self.clock)();
        if self.rebase {
            self.rebase = false;
            self.deadline = now.saturating_add(self.ticks);
            return false;
        }
        now > self.deadline
    }

    /// Something arrived: the wait starts again (from the next clock read, not now).
    pub fn progress(&mut self) {
        self.rebase = true;
        self.polls = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn the_clock_is_read_once_every_so_many_polls_and_the_deadline_holds() {
        let now = Cell::new(100u64);
        let reads = Cell::new(0u32);
        let clock = || {
            reads.set(reads.get() + 1);
            now.get()
        };
        let mut deadline = PollDeadline::new(clock, 100, 50, 8);
        for _ in 0..7 {
            assert!(!deadline.expired());
        }
        assert_eq!(reads.get(), 0, "no read before the 8th poll");
        assert!(!deadline.expired());
        assert_eq!(reads.get(), 1);
        now.set(151);
        for _ in 0..7 {
            assert!(!deadline.expired(), "expiry is seen only at the next read");
        }
        assert!(deadline.expired());
        assert_eq!(reads.get(), 2);
    }

    #[test]
    fn progress_restarts_the_wait_without_reading_the_clock() {
        let now = Cell::new(0u64);
        let reads = Cell::new(0u32);
        let clock = || {
            reads.set(reads.get() + 1);
            now.get()
        };
        let mut deadline = PollDeadline::new(clock, 0, 10, 2);
        now.set(9);
        deadline.progress();
        assert_eq!(reads.get(), 0);
        now.set(50);
        assert!(!deadline.expired());
        assert!(!deadline.expired(), "the read after progress sets the deadline to 60");
        now.set(60);
        assert!(!deadline.expired());
        assert!(!deadline.expired());
        now.set(61);
        assert!(!deadline.expired());
        assert!(deadline.expired());
    }

    #[test]
    fn every_zero_means_every_poll() {
        let mut deadline = PollDeadline::new(|| 5, 0, 1, 0);
        assert!(deadline.expired());
    }
}
