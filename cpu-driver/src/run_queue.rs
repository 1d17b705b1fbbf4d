//! Which of a core's dispatchers may run and which runs next: the scheduler's decisions as
//! plain logic, so the host tests check them. The kernel's scheduler keeps one [`RunState`]
//! per dispatcher and asks [`next_runnable`] and [`timer_deadline`]; it only adds what needs
//! the hardware (saving registers, switching address spaces, the timer, sleeping in `WFI`).
//!
//! A dispatcher sleeps in `wait` until woken (a wake SGI from another core, a same-core
//! message, a child ending) or its deadline passes. A wake-up that comes while it is still
//! running is kept (`wake_pending`), so its next `wait` returns at once: no wake-up is lost
//! between a dispatcher's last poll and its `wait`.

/// Where a dispatcher stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// May run.
    Runnable,
    /// Sleeping in `wait` until woken or the deadline (counter ticks), if any.
    Waiting {
        /// Counter value at which its `wait` returns 0, if any.
        deadline: Option<u64>,
    },
    /// Exited or stopped; never runs again.
    Ended,
}

/// One dispatcher's scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunState {
    /// Where it stands.
    pub state: State,
    /// A wake-up came while it was running: its next `wait` returns at once.
    pub wake_pending: bool,
    /// It has waited once or ended: it finished starting up (the roll call waits for this).
    pub settled: bool,
}

impl Default for RunState {
    fn default() -> Self {
        RunState::new()
    }
}

/// What `wait` returns to a dispatcher that was woken (1) or timed out (0).
pub const WOKEN: u64 = 1;
/// See [`WOKEN`].
pub const TIMED_OUT: u64 = 0;

impl RunState {
    /// A new dispatcher: runnable, nothing pending, not settled.
    pub const fn new() -> RunState {
        RunState { state: State::Runnable, wake_pending: false, settled: false }
    }

    /// A wake-up: a waiting dispatcher runs again and its `wait` returns [`WOKEN`] (returned
    /// here for the caller to put in its `x0`); a running one keeps it for its next `wait`.
    pub fn wake(&mut self) -> Option<u64> {
        match self.state {
            State::Waiting { .. } => {
                self.state = State::Runnable;
                Some(WOKEN)
            }
            State::Runnable => {
                self.wake_pending = true;
                None
            }
            State::Ended => None,
        }
    }

    /// The dispatcher calls `wait` with `deadline`: it is settled; with a wake-up pending its
    /// `wait` returns [`WOKEN`] at once (returned here), else it sleeps (`None`) and its `wait`
    /// returns when [`wake`](Self::wake) or [`expire`](Self::expire) say so.
    pub fn wait(&mut self, deadline: Option<u64>) -> Option<u64> {
        self.settled = true;
        if self.state != State::Runnable {
            return None;
        }
        if core::mem::take(&mut self.wake_pending) {
            return Some(WOKEN);
        }
        self.state = State::Waiting { deadline };
        None
    }

    /// The counter reads `now`: a dispatcher whose deadline passed runs again and its `wait`
    /// returns [`TIMED_OUT`] (returned here).
    pub fn expire(&mut self, now: u64) -> Option<u64> {
        match self.state {
            State::Waiting { deadline: Some(deadline) } if now >= deadline => {
                self.state = State::Runnable;
                Some(TIMED_OUT)
            }
            _ => None,
        }
    }

    /// It exited or was stopped; returns false if it had ended already.
    pub fn end(&mut self) -> bool {
        let was = self.state != State::Ended;
        self.state = State::Ended;
        self.settled = true;
        self.wake_pending = false;
        was
    }

    /// Whether it may run.
    pub fn runnable(&self) -> bool {
        self.state == State::Runnable
    }

    /// Whether it has ended.
    pub fn ended(&self) -> bool {
        self.state == State::Ended
    }

    /// The deadline it sleeps until, if it waits with one.
    pub fn deadline(&self) -> Option<u64> {
        match self.state {
            State::Waiting { deadline } => deadline,
            _ => None,
        }
    }
}

/// Round robin: the first of `count` dispatchers after `current` (wrapping, `current` itself
/// last) for which `runnable` holds.
pub fn next_runnable(
    count: usize,
    current: Option<usize>,
    runnable: impl Fn(usize) -> bool,
) -> Option<usize> {
    let start = current.map_or(0, |c| c + 1);
    (0..count).map(|i| (start + i) % count).find(|&i| runnable(i))
}

/// The counter value at which a slice of `slice_ticks` started at `started` ends.
pub fn slice_end(started: u64, slice_ticks: u64) -> u64 {
    started.saturating_add(slice_ticks)
}

/// When the timer must next fire: the end of the running dispatcher's slice (`slice_end`,
/// fixed when it was switched in) if more than one dispatcher may run, or the earliest
/// deadline of a waiting one, whichever comes first; `None` when neither (the core may sleep
/// until woken).
///
/// The slice end is the one chosen at the switch, never "now plus a slice": a dispatcher that
/// traps often (system calls, interrupts) would otherwise push its own slice forward on every
/// trap and keep the others (its monitor among them) off the core for as long as it computes.
/// A slice that already ended while its dispatcher ran alone ends at once when another wakes.
pub fn timer_deadline(slice_end: u64, runnable: usize, earliest: Option<u64>) -> Option<u64> {
    let slice_end = (runnable > 1).then_some(slice_end);
    slice_end.into_iter().chain(earliest).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_up_before_wait_is_not_lost() {
        let mut d = RunState::new();
        assert_eq!(d.wake(), None, "running: kept for later");
        assert_eq!(d.wait(Some(100)), Some(WOKEN), "its wait returns at once");
        assert!(d.runnable() && d.settled);
        assert_eq!(d.wait(None), None, "the pending wake-up was used once");
        assert_eq!(d.state, State::Waiting { deadline: None });
        assert_eq!(d.wake(), Some(WOKEN));
        assert!(d.runnable());
    }

    #[test]
    fn deadlines_expire_only_when_passed_and_only_once() {
        let mut d = RunState::new();
        d.wait(Some(500));
        assert_eq!(d.deadline(), Some(500));
        assert_eq!(d.expire(499), None);
        assert_eq!(d.expire(500), Some(TIMED_OUT));
        assert_eq!(d.expire(900), None, "runnable now: nothing to expire");
        d.wait(None);
        assert_eq!(d.expire(u64::MAX), None, "no deadline: only a wake-up ends it");
    }

    #[test]
    fn an_ended_dispatcher_never_runs_or_wakes_again() {
        let mut d = RunState::new();
        assert!(d.end());
        assert!(!d.end(), "ended once");
        assert_eq!(d.wake(), None);
        assert_eq!(d.wait(Some(1)), None);
        assert_eq!(d.expire(10), None);
        assert!(d.ended() && d.settled && !d.runnable());
    }

    #[test]
    fn round_robin_starts_after_the_current_one_and_skips_who_cannot_run() {
        let runnable = [true, false, true, true];
        let pick = |current| next_runnable(4, current, |i| runnable[i]);
        assert_eq!(pick(None), Some(0));
        assert_eq!(pick(Some(0)), Some(2));
        assert_eq!(pick(Some(2)), Some(3));
        assert_eq!(pick(Some(3)), Some(0), "wraps around");
        assert_eq!(next_runnable(4, Some(1), |i| i == 1), Some(1), "the current one last");
        assert_eq!(next_runnable(4, Some(1), |_| false), None);
        assert_eq!(next_runnable(0, None, |_| true), None, "no dispatchers");
    }

    #[test]
    fn every_runnable_dispatcher_gets_a_turn_within_one_round() {
        for count in 1..9usize {
            for mask in 0..(1u32 << count) {
                let runnable = |i: usize| mask & (1 << i) != 0;
                let mut seen = 0u32;
                let mut current = None;
                for _ in 0..count {
                    if let Some(next) = next_runnable(count, current, runnable) {
                        assert!(runnable(next));
                        seen |= 1 << next;
                        current = Some(next);
                    }
                }
                assert_eq!(seen, mask, "{count} dispatchers, runnable {mask:#b}");
            }
        }
    }

    #[test]
    fn the_timer_ends_a_slice_only_when_another_dispatcher_waits_to_run() {
        assert_eq!(timer_deadline(slice_end(1000, 50), 1, None), None, "one alone runs untimed");
        assert_eq!(timer_deadline(slice_end(1000, 50), 2, None), Some(1050));
        assert_eq!(
            timer_deadline(slice_end(1000, 50), 2, Some(1020)),
            Some(1020),
            "an earlier deadline first"
        );
        assert_eq!(timer_deadline(slice_end(1000, 50), 1, Some(5000)), Some(5000));
        assert_eq!(timer_deadline(slice_end(u64::MAX - 1, 50), 3, None), Some(u64::MAX), "no overflow");
    }

    #[test]
    fn traps_during_a_slice_do_not_extend_it() {
        let end = slice_end(1000, 50);
        // The running dispatcher traps every 7 ticks; each trap re-arms the timer.
        let mut now = 1000;
        while timer_deadline(end, 2, None).is_some_and(|deadline| now < deadline) {
            now += 7;
            assert!(now <= 1056, "the slice kept moving: still running at {now}");
        }
        assert!(now >= 1050, "the slice ended early, at {now}");
    }
}
