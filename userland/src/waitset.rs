//! A waitset: the split-phase event loop of an EL0 program. One call, [`Waitset::wait`],
//! waits on many URPC channels and timers at once and says which is ready; the caller then
//! takes the message itself (`try_recv`) or handles the timer, and waits again.
//! [`Waitset::receive`] is the blocking receive on one channel: its polls take the message
//! as they find it, so nothing lies between seeing a message and having it (the path a
//! spinning exchange's latency is made of).
//!
//! # How it waits, cheapest wake-up first
//!
//! 1. **Poll** every channel's next slot ([`urpc::Receiver::has_message`]: one load each, no
//!    copy) `policy.polls` times. The counter is read only once every
//!    [`POLLS_PER_CLOCK_READ`] polls to see timers (under QEMU each read takes the emulator's
//!    lock), so a busy exchange costs no counter read at all.
//! 2. **Watch a line** `policy.watches` times: an exclusive load of one channel's sequence word
//!    arms this core's exclusive monitor, then `WFE` (see [`crate::ElZero`] and the AArch64
//!    `wait_for_store`). The sender's store to that line clears the monitor and so wakes the
//!    core, with no interrupt and nothing for the sender to do. A core has one exclusive
//!    monitor, so one line is watched at a time; the watches take the channels in turn, and a
//!    message on an unwatched channel is seen at the next wake-up (the timer's event stream,
//!    about every millisecond, bounds each watch on a board). `WFE` may also return for no
//!    reason: every watch is followed by a look at every channel.
//! 3. **Sleep in the kernel**: the asleep flag of every channel is set, each channel looked at
//!    once more after a full barrier (`Receiver::prepare_to_sleep`, whose handshake with
//!    `Sender::notify_if_asleep` loses no wake-up), then the kernel's `wait` until the wake SGI,
//!    a same-core message or the earliest timer. The flags are cleared on waking.
//!
//! A ring that broke the protocol (`try_recv` says `Desync`) is never ready and is left out of
//! the sleep: waiting on it cannot help, and reporting it on every look would spin the caller.
//! Its `try_recv` still says so whenever the caller looks; a timer bounds such a wait.
//!
//! A wake-up from the kernel that is neither a channel nor a due timer comes back as
//! [`Event::Woken`]: the kernel woke this dispatcher for something the waitset does not see
//! (a same-core message, for one), so the caller looks at its other sources.
//!
//! The logic is plain Rust over the [`Kernel`] and [`WatchLine`] traits and is tested on the
//! host with fakes; [`crate::ElZero`] is the real kernel and line watch.

extern crate alloc;

use alloc::vec::Vec;

use urpc::{DecodeError, Endpoint, Message, Receiver, RecvError, RecvMessageError, WaitPolicy, WatchLine};

/// Polls between two reads of the counter while polling (see the module documentation).
pub const POLLS_PER_CLOCK_READ: u32 = urpc::POLLS_PER_CLOCK_READ;

/// What the waitset needs from the kernel: the time, and a sleep that ends when woken or at a
/// deadline.
pub trait Kernel {
    /// The counter now.
    fn now(&self) -> u64;

    /// Sleeps until the kernel wakes this dispatcher (the wake SGI, a same-core message) or
    /// the counter reaches `deadline` (`None`: no limit). True if woken. May return early.
    fn sleep_until(&self, deadline: Option<u64>) -> bool;
}

/// A set of URPC receivers the waitset looks at, by index. Implemented for a slice of
/// receivers, a slice of optional endpoints (a program's links, some not bound) and one
/// receiver.
pub trait Channels<'frame, const SLOTS: usize> {
    /// How many indices there are (some may have no receiver).
    fn count(&self) -> usize;

    /// The receiver at `index`, if there is one.
    fn receiver(&mut self, index: usize) -> Option<&mut Receiver<'frame, SLOTS>>;

    /// Whether the channel at `index` has a line the kernel carried (a same-core channel has
    /// no ring to watch: its sends wake the dispatcher, so an event loop asks this after each
    /// wake-up). None by default.
    fn has_kernel_line(&mut self, _index: usize) -> bool {
        false
    }
}

impl<'frame, const SLOTS: usize> Channels<'frame, SLOTS> for [Receiver<'frame, SLOTS>] {
    fn count(&self) -> usize {
        self.len()
    }

    fn receiver(&mut self, index: usize) -> Option<&mut Receiver<'frame, SLOTS>> {
        self.get_mut(index)
    }
}

impl<'frame, const SLOTS: usize> Channels<'frame, SLOTS> for [Option<Endpoint<'frame, SLOTS>>] {
    fn count(&self) -> usize {
        self.len()
    }

    fn receiver(&mut self, index: usize) -> Option<&mut Receiver<'frame, SLOTS>> {
        self.get_mut(index)?.as_mut().map(|endpoint| &mut endpoint.receiver)
    }
}

impl<'frame, const SLOTS: usize> Channels<'frame, SLOTS> for Receiver<'frame, SLOTS> {
    fn count(&self) -> usize {
        1
    }

    fn receiver(&mut self, index: usize) -> Option<&mut Receiver<'frame, SLOTS>> {
        (index == 0).then_some(self)
    }
}

/// A timer set on a waitset ([`Waitset::set_timer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId(u64);

/// What ended a [`Waitset::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The channel at this index has a message for `try_recv`. Nothing was taken.
    Message(usize),
    /// This timer's deadline passed; it is removed.
    Timer(TimerId),
    /// The kernel woke this dispatcher and no channel has anything and no timer is due: look
    /// at the sources the waitset does not see (same-core messages).
    Woken,
}

/// How often each way of waiting ended a wait, for the figures and the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Waits ended while polling.
    pub by_poll: u64,
    /// Waits ended after watching a line.
    pub by_watch: u64,
    /// Sleeps in the kernel.
    pub sleeps: u64,
    /// Counter reads.
    pub clock_reads: u64,
}

/// The event loop's state: the timers, the policy, and where the next look starts.
pub struct Waitset<K: Kernel, W: WatchLine> {
    kernel: K,
    watcher: W,
    policy: WaitPolicy,
    /// (id, deadline) of every timer set and not yet due or cancelled.
    timers: Vec<(u64, u64)>,
    next_timer: u64,
    /// The channel each look starts with: one past the last that had a message, so a busy
    /// channel cannot starve the others.
    start: usize,
    counts: Counts,
}

impl<K: Kernel, W: WatchLine> Waitset<K, W> {
    /// An empty waitset waiting as `policy` says before it sleeps in the kernel.
    pub fn new(kernel: K, watcher: W, policy: WaitPolicy) -> Self {
        Waitset {
            kernel,
            watcher,
            policy,
            timers: Vec::new(),
            next_timer: 0,
            start: 0,
            counts: Counts::default(),
        }
    }

    /// Changes how it waits from the next [`Self::wait`] on.
    pub fn set_policy(&mut self, policy: WaitPolicy) {
        self.policy = policy;
    }

    /// The kernel it sleeps in (for the caller's own counter reads).
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// How the waits so far ended.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// A timer due when the counter reaches `deadline`: [`Self::wait`] returns
    /// [`Event::Timer`] with this id once, when no channel has anything.
    pub fn set_timer(&mut self, deadline: u64) -> TimerId {
        self.next_timer += 1;
        self.timers.push((self.next_timer, deadline));
        TimerId(self.next_timer)
    }

    /// Removes a timer; false if it was not set (already due, or cancelled).
    pub fn cancel(&mut self, timer: TimerId) -> bool {
        let before = self.timers.len();
        self.timers.retain(|&(id, _)| id != timer.0);
        self.timers.len() != before
    }

    /// Waits until a channel of `channels` has something, a timer is due, or the kernel wakes
    /// this dispatcher (see the module documentation for the order of the ways of waiting).
    /// Channels come before timers: a due timer is reported only once no channel has anything.
    pub fn wait<'frame, const SLOTS: usize, C>(&mut self, channels: &mut C) -> Event
    where
        C: Channels<'frame, SLOTS> + ?Sized,
    {
        loop {
            for round in 1..=self.policy.polls.max(1) {
                if let Some(index) = self.look(channels) {
                    self.counts.by_poll += 1;
                    return Event::Message(index);
                }
                if round % POLLS_PER_CLOCK_READ == 0 {
                    if let Some(timer) = self.due_timer() {
                        return Event::Timer(timer);
                    }
                }
                core::hint::spin_loop();
            }
            if let Some(timer) = self.due_timer() {
                return Event::Timer(timer);
            }
            for watch in 0..self.policy.watches {
                self.watch_one(channels, watch as usize);
                if let Some(index) = self.look(channels) {
                    self.counts.by_watch += 1;
                    return Event::Message(index);
                }
                if let Some(timer) = self.due_timer() {
                    return Event::Timer(timer);
                }
            }
            if let Some(index) = self.announce_sleep(channels) {
                self.counts.by_poll += 1;
                return Event::Message(index);
            }
            let deadline = self.timers.iter().map(|&(_, deadline)| deadline).min();
            self.counts.sleeps += 1;
            let woken = self.kernel.sleep_until(deadline);
            for index in 0..channels.count() {
                if let Some(receiver) = channels.receiver(index) {
                    receiver.woke();
                }
            }
            if let Some(index) = self.look(channels) {
                return Event::Message(index);
            }
            if let Some(timer) = self.due_timer() {
                return Event::Timer(timer);
            }
            if woken {
                return Event::Woken;
            }
        }
    }

    /// Takes the next message of `receiver` as an `M`: `Ok(Ok(message))`, or `Ok(Err(why))`
    /// for a message that did not decode as `M` (it was consumed, as `try_recv_message` does).
    /// Each of the policy's polls tries to take the message (`try_recv_message`: a load of the
    /// slot, and the copy when it is there), reading the counter for timers only every
    /// [`POLLS_PER_CLOCK_READ`] polls; then it waits as [`Waitset::wait`] does (watch, sleep)
    /// and takes the message once there is one. `Err(event)` when a timer fell due or the
    /// kernel woke this dispatcher for something else first.
    pub fn receive<'frame, M: Message, const SLOTS: usize>(
        &mut self,
        receiver: &mut Receiver<'frame, SLOTS>,
    ) -> Result<Result<M, DecodeError>, Event> {
        loop {
            for round in 1..=self.policy.polls.max(1) {
                match receiver.try_recv_message::<M>() {
                    Ok(message) => {
                        self.counts.by_poll += 1;
                        return Ok(Ok(message));
                    }
                    Err(RecvMessageError::Decode(why)) => return Ok(Err(why)),
                    // A broken ring has nothing to poll for: wait (bounded by the timers).
                    Err(RecvMessageError::Recv(RecvError::Desync { .. })) => break,
                    Err(RecvMessageError::Recv(RecvError::Empty)) => {}
                }
                if round % POLLS_PER_CLOCK_READ == 0 {
                    if let Some(timer) = self.due_timer() {
                        return Err(Event::Timer(timer));
                    }
                }
                core::hint::spin_loop();
            }
            match self.wait(receiver) {
                Event::Message(_) => {}
                other => return Err(other),
            }
        }
    }

    /// The first channel, from `start` on, that has something; moves `start` past it.
    fn look<'frame, const SLOTS: usize, C>(&mut self, channels: &mut C) -> Option<usize>
    where
        C: Channels<'frame, SLOTS> + ?Sized,
    {
        // No division in the loop: it is the poll a busy exchange spins in.
        let count = channels.count();
        let start = self.start.min(count);
        for index in (start..count).chain(0..start) {
            if channels.receiver(index).is_some_and(|receiver| receiver.has_message()) {
                self.start = if index + 1 == count { 0 } else { index + 1 };
                return Some(index);
            }
        }
        None
    }

    /// Watches the line of the `turn`th channel that has a receiver, counting from `start`.
    fn watch_one<'frame, const SLOTS: usize, C>(&mut self, channels: &mut C, turn: usize)
    where
        C: Channels<'frame, SLOTS> + ?Sized,
    {
        let count = channels.count();
        let present: usize = (0..count).filter(|&index| channels.receiver(index).is_some()).count();
        if present == 0 {
            return;
        }
        let wanted = turn % present;
        let index = (0..count)
            .map(|step| (self.start + step) % count)
            .filter(|&index| channels.receiver(index).is_some())
            .nth(wanted);
        if let Some(receiver) = index.and_then(|index| channels.receiver(index)) {
            receiver.watch(&self.watcher);
        }
    }

    /// Sets every channel's asleep flag, each followed by a last look; if one has something
    /// after all, clears the flags already set and returns it.
    fn announce_sleep<'frame, const SLOTS: usize, C>(&mut self, channels: &mut C) -> Option<usize>
    where
        C: Channels<'frame, SLOTS> + ?Sized,
    {
        for index in 0..channels.count() {
            let Some(receiver) = channels.receiver(index) else { continue };
            // False also for a ring that broke the protocol (its flag is cleared again): it is
            // left out of the sleep, since nothing it holds will ever be a message.
            if !receiver.prepare_to_sleep() && receiver.has_message() {
                for earlier in 0..index {
                    if let Some(receiver) = channels.receiver(earlier) {
                        receiver.woke();
                    }
                }
                self.start = (index + 1) % channels.count();
                return Some(index);
            }
        }
        None
    }

    /// Reads the counter; the earliest due timer, removed.
    fn due_timer(&mut self) -> Option<TimerId> {
        if self.timers.is_empty() {
            return None;
        }
        self.counts.clock_reads += 1;
        let now = self.kernel.now();
        let (position, &(id, _)) = self
            .timers
            .iter()
            .enumerate()
            .filter(|(_, &(_, deadline))| deadline <= now)
            .min_by_key(|(_, &(_, deadline))| deadline)?;
        self.timers.swap_remove(position);
        Some(TimerId(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::{Cell, RefCell};
    use core::sync::atomic::AtomicU64;
    use std::boxed::Box;
    use std::vec;
    use urpc::{ChannelFrame, Side};

    /// A kernel whose clock moves on by `step` per read and whose sleep runs `on_sleep` (what
    /// another core does meanwhile), then says whether that woke it.
    struct FakeKernel<'a> {
        now: Cell<u64>,
        step: u64,
        sleeps: RefCell<Vec<Option<u64>>>,
        /// Sleeps still to end early: not woken, the clock not moved.
        early: Cell<u32>,
        on_sleep: RefCell<Box<dyn FnMut(Option<u64>) -> bool + 'a>>,
    }

    impl<'a> FakeKernel<'a> {
        fn new(step: u64, on_sleep: impl FnMut(Option<u64>) -> bool + 'a) -> Self {
            FakeKernel {
                now: Cell::new(0),
                step,
                sleeps: RefCell::new(vec![]),
                early: Cell::new(0),
                on_sleep: RefCell::new(Box::new(on_sleep)),
            }
        }
    }

    impl Kernel for &FakeKernel<'_> {
        fn now(&self) -> u64 {
            self.now.set(self.now.get() + self.step);
            self.now.get()
        }

        fn sleep_until(&self, deadline: Option<u64>) -> bool {
            self.sleeps.borrow_mut().push(deadline);
            if self.early.get() > 0 {
                self.early.set(self.early.get() - 1);
                return false;
            }
            if let Some(deadline) = deadline {
                self.now.set(self.now.get().max(deadline));
            }
            (self.on_sleep.borrow_mut())(deadline)
        }
    }

    /// A line watch that counts its calls and runs `on_watch` (the store another core makes).
    struct FakeWatch<'a> {
        watches: Cell<u32>,
        on_watch: RefCell<Box<dyn FnMut(u32) + 'a>>,
    }

    impl WatchLine for &FakeWatch<'_> {
        fn wait_for_store(&self, _word: &AtomicU64, _seen: u64) {
            self.watches.set(self.watches.get() + 1);
            (self.on_watch.borrow_mut())(self.watches.get());
        }
    }

    fn no_watch() -> FakeWatch<'static> {
        FakeWatch { watches: Cell::new(0), on_watch: RefCell::new(Box::new(|_| {})) }
    }

    const POLICY: WaitPolicy = WaitPolicy { polls: 4, watches: 2 };

    #[test]
    fn a_waiting_message_is_found_by_polling_and_not_taken() {
        let frames: [ChannelFrame; 2] = [ChannelFrame::new(), ChannelFrame::new()];
        let (mut a0, mut a1) = (frames[0].endpoint(Side::A), frames[1].endpoint(Side::A));
        let mut receivers = [frames[0].endpoint(Side::B).receiver, frames[1].endpoint(Side::B).receiver];
        let kernel = FakeKernel::new(1, |_| panic!("no sleep with a message waiting"));
        let watch = no_watch();
        let mut set = Waitset::new(&kernel, &watch, POLICY);
        a1.sender.try_send(&urpc::Payload([7; 56])).unwrap();
        assert_eq!(set.wait(&mut receivers[..]), Event::Message(1));
        assert_eq!(set.wait(&mut receivers[..]), Event::Message(1), "nothing was taken");
        assert_eq!(receivers[1].try_recv().unwrap().0[0], 7);
        a0.sender.try_send(&urpc::Payload([1; 56])).unwrap();
        assert_eq!(set.wait(&mut receivers[..]), Event::Message(0));
        assert_eq!(set.counts().sleeps, 0);
        assert_eq!(set.counts().clock_reads, 0, "no timer, no counter read");
    }

    #[test]
    fn a_busy_channel_does_not_starve_the_others() {
        let frames: [ChannelFrame; 3] = [ChannelFrame::new(), ChannelFrame::new(), ChannelFrame::new()];
        let mut senders: Vec<_> = frames.iter().map(|f| f.endpoint(Side::A).sender).collect();
        let mut receivers: Vec<_> = frames.iter().map(|f| f.endpoint(Side::B).receiver).collect();
        let kernel = FakeKernel::new(1, |_| panic!("no sleep"));
        let watch = no_watch();
        let mut set = Waitset::new(&kernel, &watch, POLICY);
        for sender in &mut senders {
            sender.try_send(&urpc::Payload([0; 56])).unwrap();
            sender.try_send(&urpc::Payload([0; 56])).unwrap();
        }
        let mut order = vec![];
        for _ in 0..6 {
            let Event::Message(index) = set.wait(&mut receivers[..]) else { panic!() };
            receivers[index].try_recv().unwrap();
            order.push(index);
        }
        assert_eq!(order, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn a_store_seen_after_a_watch_ends_the_wait_without_sleeping() {
        let frame: ChannelFrame = ChannelFrame::new();
        let sender = RefCell::new(frame.endpoint(Side::A).sender);
        let mut receiver = frame.endpoint(Side::B).receiver;
        let kernel = FakeKernel::new(1, |_| panic!("no sleep"));
        let watch = FakeWatch {
            watches: Cell::new(0),
            on_watch: RefCell::new(Box::new(|n| {
                if n == 2 {
                    sender.borrow_mut().try_send(&urpc::Payload([3; 56])).unwrap();
                }
            })),
        };
        let mut set = Waitset::new(&kernel, &watch, WaitPolicy { polls: 4, watches: 8 });
        assert_eq!(set.wait(&mut receiver), Event::Message(0));
        assert_eq!(watch.watches.get(), 2);
        assert_eq!(set.counts().by_watch, 1);
    }

    #[test]
    fn the_watches_take_the_channels_in_turn() {
        let frames: [ChannelFrame; 3] = [ChannelFrame::new(), ChannelFrame::new(), ChannelFrame::new()];
        let mut links: Vec<Option<Endpoint<'_>>> = frames.iter().map(|f| Some(f.endpoint(Side::B))).collect();
        links[1] = None;
        let watched = RefCell::new(vec![]);
        /// Records which frame each watched word lies in.
        struct Recording<'a>(&'a RefCell<Vec<usize>>, &'a [ChannelFrame; 3]);
        impl WatchLine for Recording<'_> {
            fn wait_for_store(&self, word: &AtomicU64, _seen: u64) {
                let address = word as *const AtomicU64 as usize;
                let frame = self.1.iter().position(|f| {
                    let start = f as *const ChannelFrame as usize;
                    (start..start + core::mem::size_of::<ChannelFrame>()).contains(&address)
                });
                self.0.borrow_mut().push(frame.expect("a word of one of the frames"));
            }
        }
        let kernel = FakeKernel::new(1, |_| true);
        let mut set =
            Waitset::new(&kernel, Recording(&watched, &frames), WaitPolicy { polls: 1, watches: 4 });
        assert_eq!(set.wait(&mut links[..]), Event::Woken);
        assert_eq!(*watched.borrow(), [0, 2, 0, 2], "channel 1 has no receiver");
    }

    #[test]
    fn an_idle_wait_sets_every_asleep_flag_sleeps_and_clears_them() {
        let frames: [ChannelFrame; 2] = [ChannelFrame::new(), ChannelFrame::new()];
        let senders: Vec<_> = frames.iter().map(|f| f.endpoint(Side::A).sender).collect();
        let mut receivers: Vec<_> = frames.iter().map(|f| f.endpoint(Side::B).receiver).collect();
        let flags_while_asleep = RefCell::new(vec![]);
        let kernel = FakeKernel::new(1, |_| {
            flags_while_asleep.borrow_mut().extend(senders.iter().map(|s| s.receiver_asleep()));
            true
        });
        let watch = no_watch();
        let mut set = Waitset::new(&kernel, &watch, POLICY);
        assert_eq!(set.wait(&mut receivers[..]), Event::Woken);
        assert_eq!(*flags_while_asleep.borrow(), [true, true]);
        assert!(senders.iter().all(|s| !s.receiver_asleep()), "cleared on waking");
        assert_eq!(*kernel.sleeps.borrow(), [None], "no timer: a sleep without a limit");
        assert_eq!(watch.watches.get(), 2);
    }

    #[test]
    fn a_message_sent_while_asleep_is_what_the_wait_returns() {
        let frame: ChannelFrame = ChannelFrame::new();
        let sender = RefCell::new(frame.endpoint(Side::A).sender);
        let mut receiver = frame.endpoint(Side::B).receiver;
        let kernel = FakeKernel::new(1, |_| {
            let mut sender = sender.borrow_mut();
            sender.try_send(&urpc::Payload([9; 56])).unwrap();
            // The sender's side of the handshake: it sees the flag and would raise the SGI.
            assert!(sender.receiver_asleep());
            true
        });
        let watch = no_watch();
        let mut set = Waitset::new(&kernel, &watch, POLICY);
        assert_eq!(set.wait(&mut receiver), Event::Message(0));
        assert_eq!(receiver.try_recv().unwrap().0[0], 9);
    }

    #[test]
    fn timers_end_a_wait_in_deadline_order_and_bound_the_sleep() {
        let frame: ChannelFrame = ChannelFrame::new();
        let mut receiver = frame.endpoint(Side::B).receiver;
        let kernel = FakeKernel::new(1, |_| false);
        let watch = no_watch();
        let mut set = Waitset::new(&kernel, &watch, POLICY);
        let late = set.set_timer(500);
        let early = set.set_timer(200);
        let cancelled = set.set_timer(100);
        assert!(set.cancel(cancelled));
        assert!(!set.cancel(cancelled));
        assert_eq!(set.wait(&mut receiver), Event::Timer(early));
        assert_eq!(set.wait(&mut receiver), Event::Timer(late));
        assert_eq!(*kernel.sleeps.borrow(), [Some(200), Some(500)], "each sleep ends at the next timer");
    }

    #[test]
    fn a_message_comes_before_a_due_timer() {
        let frame: ChannelFrame = ChannelFrame::new();
        let mut sender = frame.endpoint(Side::A).sender;
        let mut receiver = frame.endpoint(Side::B).receiver;
        let kernel = FakeKernel::new(1000, |_| false);
        let watch = no_watch();
        let mut set = Waitset::new(&kernel, &watch, POLICY);
        let timer = set.set_timer(1);
        sender.try_send(&urpc::Payload([0; 56])).unwrap();
        assert_eq!(set.wait(&mut receiver), Event::Message(0));
        receiver.try_recv().unwrap();
        assert_eq!(set.wait(&mut receiver), Event::Timer(timer));
    }

    #[test]
    fn a_long_poll_reads_the_clock_only_every_so_many_polls() {
        let frame: ChannelFrame = ChannelFrame::new();
        let mut receiver = frame.endpoint(Side::B).receiver;
        let kernel = FakeKernel::new(1, |_| false);
        let watch = no_watch();
        let polls = 10 * POLLS_PER_CLOCK_READ;
        let mut set = Waitset::new(&kernel, &watch, WaitPolicy { polls, watches: 0 });
        let timer = set.set_timer(1_000_000);
        assert_eq!(set.wait(&mut receiver), Event::Timer(timer));
        assert_eq!(
            set.counts().clock_reads,
            10 + 1 + 1,
            "one read per {POLLS_PER_CLOCK_READ} polls, one before sleeping, one after"
        );
        assert_eq!(*kernel.sleeps.borrow(), [Some(1_000_000)]);
    }

    #[test]
    fn a_broken_ring_is_never_ready_and_the_wait_sleeps_until_its_timer() {
        let frame: ChannelFrame = ChannelFrame::new();
        let mut sender = frame.endpoint(Side::A).sender;
        let mut receiver = frame.endpoint(Side::B).receiver;
        for _ in 0..61 {
            sender.try_send(&urpc::Payload([0; 56])).unwrap();
            receiver.try_recv().unwrap();
        }
        // A second sender for the same side starts at sequence number 1: its second line lands
        // in the slot the receiver reads next, with a number two laps behind.
        let mut impostor = frame.endpoint(Side::A).sender;
        impostor.try_send(&urpc::Payload([0; 56])).unwrap();
        impostor.try_send(&urpc::Payload([0; 56])).unwrap();
        assert!(matches!(receiver.try_recv(), Err(urpc::RecvError::Desync { .. })));
        let kernel = FakeKernel::new(1, |_| false);
        let watch = no_watch();
        let mut set = Waitset::new(&kernel, &watch, POLICY);
        let timer = set.set_timer(100);
        assert_eq!(set.wait(&mut receiver), Event::Timer(timer));
        assert_eq!(*kernel.sleeps.borrow(), [Some(100)], "it slept instead of spinning on the ring");
        assert!(!sender.receiver_asleep(), "the broken ring's flag is not left set");
    }

    #[test]
    fn an_early_return_from_the_kernel_sleeps_again_until_the_timer() {
        let frame: ChannelFrame = ChannelFrame::new();
        let mut receiver = frame.endpoint(Side::B).receiver;
        let kernel = FakeKernel::new(0, |_| false);
        kernel.early.set(2);
        let watch = no_watch();
        let mut set = Waitset::new(&kernel, &watch, WaitPolicy { polls: 1, watches: 0 });
        let timer = set.set_timer(50);
        assert_eq!(set.wait(&mut receiver), Event::Timer(timer));
        assert_eq!(*kernel.sleeps.borrow(), [Some(50); 3], "two early returns, then the deadline");
    }

    /// `receive` takes what its polls find, says why a message of another type was dropped,
    /// and after the polls waits as `wait` does (here: a message sent during the sleep).
    #[test]
    fn receive_takes_the_message_its_poll_finds_and_reports_another_type() {
        use urpc::messages::{Ping, Pong};
        let frame: ChannelFrame = ChannelFrame::new();
        let sender = RefCell::new(frame.endpoint(Side::A).sender);
        let mut receiver = frame.endpoint(Side::B).receiver;
        let kernel = FakeKernel::new(1, |_| {
            sender.borrow_mut().try_send_message(&Pong { seq: 3, ts: 0 }).unwrap();
            true
        });
        let watch = no_watch();
        let mut set = Waitset::new(&kernel, &watch, POLICY);
        sender.borrow_mut().try_send_message(&Pong { seq: 1, ts: 7 }).unwrap();
        sender.borrow_mut().try_send_message(&Ping { seq: 2, ts: 0 }).unwrap();
        assert_eq!(
            set.receive::<Pong, { urpc::DEFAULT_SLOTS }>(&mut receiver),
            Ok(Ok(Pong { seq: 1, ts: 7 }))
        );
        assert_eq!(set.counts().by_poll, 1);
        assert_eq!(
            set.receive::<Pong, { urpc::DEFAULT_SLOTS }>(&mut receiver),
            Ok(Err(DecodeError::WrongTag { expected: Pong::TAG, found: Ping::TAG })),
            "the ping was taken and reported"
        );
        assert_eq!(
            set.receive::<Pong, { urpc::DEFAULT_SLOTS }>(&mut receiver),
            Ok(Ok(Pong { seq: 3, ts: 0 }))
        );
        assert_eq!(set.counts().sleeps, 1, "the last one came while it slept");
        assert_eq!(set.counts().clock_reads, 0, "no timer, no counter read");
    }

    /// A due timer ends a `receive` with nothing taken, found at a counter read every
    /// `POLLS_PER_CLOCK_READ` polls while polling.
    #[test]
    fn receive_ends_at_a_due_timer_reading_the_clock_only_every_so_many_polls() {
        use urpc::messages::Pong;
        let frame: ChannelFrame = ChannelFrame::new();
        let mut receiver = frame.endpoint(Side::B).receiver;
        let kernel = FakeKernel::new(1, |_| panic!("no sleep: the timer falls due while polling"));
        let watch = no_watch();
        let polls = 5 * POLLS_PER_CLOCK_READ;
        let mut set = Waitset::new(&kernel, &watch, WaitPolicy { polls, watches: 0 });
        let timer = set.set_timer(3);
        assert_eq!(set.receive::<Pong, { urpc::DEFAULT_SLOTS }>(&mut receiver), Err(Event::Timer(timer)));
        assert_eq!(set.counts().clock_reads, 3, "the timer fell due at the third read");
        assert_eq!(receiver.received(), 0);
    }
}
