//! The same-core line transport: whole URPC lines between two programs on one core, each in
//! its own address space, carried by the CPU driver (`line_send`, `line_send_lines`,
//! `line_recv`), as Barrelfish's LMP carries messages between dispatchers of one core.
//! [`KernelLine`] is a [`urpc::interface::Transport`], so a typed
//! `urpc::interface::Channel<I, KernelLine>` works over it exactly as over a URPC ring
//! (`Endpoint`) between cores or an in-memory queue (`SameCore`) inside one program: the
//! transport is chosen when the channel is made.
//!
//! - **Sending** goes through an Endpoint capability to the peer (write right): a one-line
//!   message in registers (`line_send`), a several-line one as one `line_send_lines` from a
//!   buffer, which the kernel queues all or none, its lines together.
//! - **Receiving** takes the lines the peer sent through the Endpoint whose badge this side
//!   names ([`KernelLine::new`]), so several channels, each with its own badge, share the one
//!   queue the kernel keeps for this program without taking each other's lines;
//!   [`KernelLine::any`] takes every line whatever its badge.
//! - **Bounded.** The receiver's queue holds [`LINE_QUEUE_LINES`] lines (of every sender), at
//!   most [`LINES_PER_SENDER`] of one badge, so one peer that floods the receiver leaves room
//!   for another's message. A send that does not fit is refused whole (`Full`, nothing queued, nothing lost); the sender
//!   tries again after the receiver drained. Other refusals (no Endpoint at the slot, a
//!   read-only one, a peer that ended) also come back as `Full`, since that is all
//!   [`Transport`] can say, and [`KernelLine::refusal`] names them: a caller that sees `Full`
//!   and a refusal stops retrying.
//! - **Waking.** Every send wakes the receiver as `send_local` does: its `wait` returns, and a
//!   waitset's wait ends with `Event::Woken`, after which the program looks at its kernel lines
//!   ([`recv_before`] does that loop for one channel).
//!
//! The calls go through the [`LineCalls`] trait (the kernel at EL0: [`crate::ElZero`]), so the
//! transport is tested on the host against a fake kernel.

use urpc::interface::{Channel, ChannelError, Transport, Variant};
use urpc::{Full, Payload, RecvError, PAYLOAD_WORDS};

use crate::waitset::Kernel;
use crate::{Call, Error};

pub use syscall_abi::{LINES_PER_SENDER, LINE_QUEUE_LINES, MAX_LINES_PER_SEND};

/// The kernel's line calls, as [`KernelLine`] uses them.
pub trait LineCalls {
    /// Queues `lines` (1 to [`MAX_LINES_PER_SEND`]) for the dispatcher the Endpoint at
    /// `endpoint` names, all or none.
    fn send(&self, endpoint: u32, lines: &[Payload]) -> Result<(), Error>;
    /// The oldest line queued for this program, of any badge (`None`) or of `badge`: (its
    /// badge, the line).
    fn recv(&self, badge: Option<u64>) -> Result<(u64, Payload), Error>;
}

/// Words of a payload, as the kernel takes them.
fn words_of(line: &Payload) -> [u64; PAYLOAD_WORDS] {
    core::array::from_fn(|index| line.word(index))
}

impl<K: LineCalls + ?Sized> LineCalls for &K {
    fn send(&self, endpoint: u32, lines: &[Payload]) -> Result<(), Error> {
        (**self).send(endpoint, lines)
    }

    fn recv(&self, badge: Option<u64>) -> Result<(u64, Payload), Error> {
        (**self).recv(badge)
    }
}

impl LineCalls for crate::ElZero {
    fn send(&self, endpoint: u32, lines: &[Payload]) -> Result<(), Error> {
        match lines {
            [line] => line_send(endpoint, line),
            _ => line_send_lines(endpoint, lines),
        }
    }

    fn recv(&self, badge: Option<u64>) -> Result<(u64, Payload), Error> {
        line_recv(badge).map(|(from, line, _queued)| (from, line))
    }
}

/// `line_send`: one line for the dispatcher the Endpoint at `endpoint` names.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn line_send(endpoint: u32, line: &Payload) -> Result<(), Error> {
    Error::check(crate::arch::syscall_line_send(u64::from(endpoint), &words_of(line))).map(|_| ())
}

/// Host stand-in: there is no kernel.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub fn line_send(_endpoint: u32, line: &Payload) -> Result<(), Error> {
    let _ = words_of(line);
    Err(Error::NoSuchCall)
}

/// `line_send_lines`: the lines of `lines` (1 to [`MAX_LINES_PER_SEND`]) together, all or
/// none. Payloads are 8-byte aligned 56-byte words, the layout the kernel reads.
pub fn line_send_lines(endpoint: u32, lines: &[Payload]) -> Result<(), Error> {
    let args = [u64::from(endpoint), lines.as_ptr() as u64, lines.len() as u64, 0];
    Error::check(crate::syscall(Call::LineSendLines, args)).map(|_| ())
}

/// `line_recv`: the oldest line queued for this program, of any badge (`None`) or of `badge`:
/// (the badge it came through, the line, how many lines are still queued).
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn line_recv(badge: Option<u64>) -> Result<(u64, Payload, u64), Error> {
    let (only, badge) = match badge {
        None => (syscall_abi::LINE_RECV_ANY, 0),
        Some(badge) => (syscall_abi::LINE_RECV_BADGE, badge),
    };
    let (ret, words, from) = crate::arch::syscall_line_recv(badge, only);
    Error::check(ret).map(|queued| (from, Payload::from_words(words), queued))
}

/// Host stand-in: there is never a line.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub fn line_recv(_badge: Option<u64>) -> Result<(u64, Payload, u64), Error> {
    Err(Error::WouldBlock)
}

/// One side of a same-core channel through the kernel: sends through the Endpoint at `to`,
/// receives the lines that came with badge `from` (or any).
pub struct KernelLine<K: LineCalls = crate::ElZero> {
    calls: K,
    to: u32,
    from: Option<u64>,
    refusal: Option<Error>,
    /// A line [`Self::has_line`] took from the kernel and `recv_line` has not returned yet.
    taken: Option<Payload>,
}

impl KernelLine<crate::ElZero> {
    /// Sends through the Endpoint capability at slot `to`, receives the lines that came through
    /// an Endpoint with badge `from` (the one the peer was given).
    pub fn new(to: u32, from: u64) -> Self {
        Self::with_calls(crate::ElZero, to, Some(from))
    }

    /// As [`Self::new`], receiving every line whatever its badge (a program with one peer).
    pub fn any(to: u32) -> Self {
        Self::with_calls(crate::ElZero, to, None)
    }
}

impl<K: LineCalls> KernelLine<K> {
    /// Over the kernel calls `calls` (a fake one in tests).
    pub fn with_calls(calls: K, to: u32, from: Option<u64>) -> Self {
        Self { calls, to, from, refusal: None, taken: None }
    }

    /// Whether a line waits for this side. The kernel has no look without taking, so a line
    /// found is taken and kept for the next `recv_line`: an event loop asks this, then the
    /// channel's `recv` gets the message whole.
    pub fn has_line(&mut self) -> bool {
        if self.taken.is_none() {
            self.taken = self.calls.recv(self.from).ok().map(|(_, line)| line);
        }
        self.taken.is_some()
    }

    /// Why the last send failed other than for a full queue (`None`: it did not, or the queue
    /// was full): no Endpoint at the slot, a read-only one, a peer that ended. A send that comes
    /// back `Full` with a refusal will not succeed by retrying.
    pub fn refusal(&self) -> Option<Error> {
        self.refusal
    }

    /// The Endpoint slot it sends through.
    pub fn endpoint(&self) -> u32 {
        self.to
    }
}

impl<K: LineCalls> Transport for KernelLine<K> {
    fn send_lines(&mut self, lines: &[Payload]) -> Result<(), Full> {
        let result = self.calls.send(self.to, lines);
        self.refusal = match result {
            Ok(()) | Err(Error::WouldBlock) => None,
            Err(error) => Some(error),
        };
        result.map_err(|_| Full)
    }

    fn recv_line(&mut self) -> Result<Payload, RecvError> {
        if let Some(line) = self.taken.take() {
            return Ok(line);
        }
        // Every failure is "nothing for this channel": `WouldBlock`, or a refusal that only a
        // malformed selector could cause, which this side never sends.
        self.calls.recv(self.from).map(|(_, line)| line).map_err(|_| RecvError::Empty)
    }
}

/// The next message on `channel`, sleeping in the kernel between looks until `deadline` (the
/// counter's value) passes: `Err(ChannelError::Empty)` then. A line sent while this program
/// looks is not missed: the send wakes it, and a wake-up that comes before `wait` makes that
/// `wait` return at once.
pub fn recv_before<I: Variant, C: LineCalls>(
    channel: &mut Channel<I, KernelLine<C>>,
    kernel: &impl Kernel,
    deadline: u64,
) -> Result<I, ChannelError> {
    loop {
        match channel.recv() {
            Err(ChannelError::Empty) if kernel.now() < deadline => {
                kernel.sleep_until(Some(deadline));
            }
            other => return other,
        }
    }
}

/// A kernel's line calls for the host tests: one program's queue (both sides of a same-core
/// channel are that program in them), the badge or refusal each Endpoint slot has.
#[cfg(test)]
pub(crate) mod fake {
    extern crate std;

    use super::*;
    use core::cell::RefCell;
    use std::collections::VecDeque;
    use std::vec::Vec;

    /// See the module documentation.
    pub(crate) struct FakeLineKernel {
        routes: RefCell<Vec<(u32, Result<u64, Error>)>>,
        capacity: usize,
        /// The queued lines and their badges, oldest first.
        pub queue: RefCell<VecDeque<(u64, Payload)>>,
        /// How many lines each accepted send had.
        pub sends: RefCell<Vec<usize>>,
    }

    impl FakeLineKernel {
        /// No Endpoints yet; the queue holds `capacity` lines.
        pub(crate) fn new(capacity: usize) -> Self {
            Self {
                routes: RefCell::default(),
                capacity,
                queue: RefCell::default(),
                sends: RefCell::default(),
            }
        }

        /// The Endpoint at `slot` sends with `badge`, or is refused with the error.
        pub(crate) fn route(&self, slot: u32, badge: Result<u64, Error>) {
            self.routes.borrow_mut().push((slot, badge));
        }

        /// The Endpoint at `slot` goes (a revoke): sends through it are refused.
        pub(crate) fn unroute(&self, slot: u32) {
            self.routes.borrow_mut().retain(|(s, _)| *s != slot);
        }

        /// What a monitor does for a same-core binding between the slots `a` and `b`: each
        /// sends with the other's badge (`local_protocol::bound_line_badge`).
        pub(crate) fn connect(&self, a: u32, b: u32) {
            self.route(a, Ok(local_protocol::bound_line_badge(b)));
            self.route(b, Ok(local_protocol::bound_line_badge(a)));
        }
    }

    impl LineCalls for FakeLineKernel {
        fn send(&self, endpoint: u32, lines: &[Payload]) -> Result<(), Error> {
            let routes = self.routes.borrow();
            let badge = routes
                .iter()
                .find(|(slot, _)| *slot == endpoint)
                .map_or(Err(Error::Capability(4)), |r| r.1)?;
            if lines.is_empty() || lines.len() > MAX_LINES_PER_SEND {
                return Err(Error::InvalidArgument);
            }
            let mut queue = self.queue.borrow_mut();
            if queue.len() + lines.len() > self.capacity {
                return Err(Error::WouldBlock);
            }
            queue.extend(lines.iter().map(|line| (badge, *line)));
            self.sends.borrow_mut().push(lines.len());
            Ok(())
        }

        fn recv(&self, badge: Option<u64>) -> Result<(u64, Payload), Error> {
            let mut queue = self.queue.borrow_mut();
            let at = queue
                .iter()
                .position(|(b, _)| badge.is_none_or(|want| *b == want))
                .ok_or(Error::WouldBlock)?;
            queue.remove(at).ok_or(Error::WouldBlock)
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    urpc::declare_messages! {
        /// One line.
        pub struct Small = 121 { pub seq: u32, pub value: u64 }
        /// Three lines.
        pub struct Large = 122 lines { pub seq: u32, pub bytes: [u8; 120] }
    }
    urpc::declare_interface! {
        /// What the tests send.
        pub enum Test { Small(Small), Large(Large) }
    }

    type FakeKernel = fake::FakeLineKernel;

    /// A kernel with one dispatcher's queue of six lines, Endpoints at slots 20 (badge 7) and
    /// 21 (badge 9), a read-only one at 22.
    fn kernel() -> FakeKernel {
        let kernel = FakeKernel::new(6);
        kernel.route(20, Ok(7));
        kernel.route(21, Ok(9));
        kernel.route(22, Err(Error::Capability(15)));
        kernel
    }

    fn large(seq: u32) -> Large {
        Large { seq, bytes: core::array::from_fn(|i| (i as u8).wrapping_mul(seq as u8 | 1)) }
    }

    #[test]
    fn one_line_and_several_line_messages_arrive_whole_in_one_send_each() {
        let kernel = kernel();
        let mut sender: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 20, None));
        let mut receiver: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 21, Some(7)));
        sender.send(&Small { seq: 1, value: u64::MAX }).unwrap();
        sender.send(&large(2)).unwrap();
        assert_eq!(*kernel.sends.borrow(), [1, 3], "a several-line message is one send");
        assert_eq!(receiver.recv(), Ok(Test::Small(Small { seq: 1, value: u64::MAX })));
        assert_eq!(receiver.recv(), Ok(Test::Large(large(2))));
        assert_eq!(receiver.recv(), Err(ChannelError::Empty));
    }

    #[test]
    fn a_full_queue_is_full_with_nothing_half_sent_and_nothing_lost() {
        let kernel = kernel();
        let mut sender: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 20, None));
        let mut receiver: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 21, None));
        for seq in 0..4 {
            sender.send(&Small { seq, value: 0 }).unwrap();
        }
        assert_eq!(sender.send(&large(9)), Err(Full), "three lines do not fit in two");
        assert_eq!(sender.transport().refusal(), None, "full is no refusal");
        assert_eq!(kernel.queue.borrow().len(), 4);
        for seq in 0..4 {
            assert_eq!(receiver.recv(), Ok(Test::Small(Small { seq, value: 0 })));
        }
        sender.send(&large(9)).unwrap();
        assert_eq!(receiver.recv(), Ok(Test::Large(large(9))));
    }

    #[test]
    fn refusals_are_named_and_each_channel_takes_only_its_badge() {
        let kernel = kernel();
        let mut bad: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 30, None));
        assert_eq!(bad.send(&Small { seq: 0, value: 0 }), Err(Full));
        assert_eq!(bad.transport().refusal(), Some(Error::Capability(4)));
        let mut read_only: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 22, None));
        assert_eq!(read_only.send(&Small { seq: 0, value: 0 }), Err(Full));
        assert_eq!(read_only.transport().refusal(), Some(Error::Capability(15)));

        let mut from_a: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 20, None));
        let mut from_b: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 21, None));
        from_a.send(&Small { seq: 1, value: 1 }).unwrap();
        from_b.send(&Small { seq: 2, value: 2 }).unwrap();
        from_a.send(&Small { seq: 3, value: 3 }).unwrap();
        let mut only_b: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 20, Some(9)));
        assert_eq!(only_b.recv(), Ok(Test::Small(Small { seq: 2, value: 2 })));
        assert_eq!(only_b.recv(), Err(ChannelError::Empty), "badge 7's lines stay queued");
        let mut only_a: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 21, Some(7)));
        assert_eq!(only_a.recv(), Ok(Test::Small(Small { seq: 1, value: 1 })));
        assert_eq!(only_a.recv(), Ok(Test::Small(Small { seq: 3, value: 3 })));
    }

    /// A clock that moves on by `step` at each look, and counts the sleeps.
    struct Clock {
        now: core::cell::Cell<u64>,
        sleeps: core::cell::Cell<u32>,
    }

    impl Kernel for Clock {
        fn now(&self) -> u64 {
            let now = self.now.get();
            self.now.set(now + 10);
            now
        }

        fn sleep_until(&self, _deadline: Option<u64>) -> bool {
            self.sleeps.set(self.sleeps.get() + 1);
            true
        }
    }

    #[test]
    fn recv_before_sleeps_until_a_message_or_the_deadline() {
        let kernel = kernel();
        let clock = Clock { now: core::cell::Cell::new(0), sleeps: core::cell::Cell::new(0) };
        let mut receiver: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 21, Some(7)));
        assert_eq!(recv_before(&mut receiver, &clock, 50), Err(ChannelError::Empty));
        assert_eq!(clock.sleeps.get(), 5, "slept between looks until the deadline");
        let mut sender: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 20, None));
        sender.send(&Small { seq: 4, value: 4 }).unwrap();
        assert_eq!(recv_before(&mut receiver, &clock, u64::MAX), Ok(Test::Small(Small { seq: 4, value: 4 })));
        assert_eq!(clock.sleeps.get(), 5, "a queued message is taken without sleeping");
    }

    /// The peer program runs only while this one sleeps (one core): its send happens inside
    /// the sleep and wakes this program.
    struct PeerRunsWhileAsleep<'a> {
        kernel: &'a FakeKernel,
        sleeps: core::cell::Cell<u32>,
    }

    impl Kernel for &PeerRunsWhileAsleep<'_> {
        fn now(&self) -> u64 {
            0
        }

        fn sleep_until(&self, _deadline: Option<u64>) -> bool {
            self.sleeps.set(self.sleeps.get() + 1);
            let mut peer: Channel<Test, _> = Channel::new(KernelLine::with_calls(self.kernel, 20, None));
            peer.send(&large(5)).is_ok()
        }
    }

    #[test]
    fn a_waitset_ends_with_woken_for_a_kernel_line_which_the_channel_then_holds() {
        let kernel = kernel();
        let peer = PeerRunsWhileAsleep { kernel: &kernel, sleeps: core::cell::Cell::new(0) };
        let straight_to_sleep = urpc::WaitPolicy { polls: 0, watches: 0 };
        let mut waitset = crate::waitset::Waitset::new(&peer, urpc::SpinWatch, straight_to_sleep);
        let mut receiver: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 21, Some(7)));
        assert_eq!(receiver.recv(), Err(ChannelError::Empty));
        let mut no_rings: [urpc::Receiver<'static>; 0] = [];
        assert_eq!(waitset.wait(&mut no_rings[..]), crate::waitset::Event::Woken);
        assert_eq!(peer.sleeps.get(), 1);
        assert_eq!(receiver.recv(), Ok(Test::Large(large(5))));
    }

    #[test]
    fn a_line_found_by_has_line_is_the_next_one_received_and_others_stay_queued() {
        let kernel = kernel();
        let mut sender: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 20, None));
        let mut other: Channel<Test, _> = Channel::new(KernelLine::with_calls(&kernel, 21, None));
        let mut transport = KernelLine::with_calls(&kernel, 21, Some(7));
        assert!(!transport.has_line());
        other.send(&Small { seq: 9, value: 9 }).unwrap();
        assert!(!transport.has_line(), "a line of another badge is not this side's");
        sender.send(&large(3)).unwrap();
        assert!(transport.has_line());
        assert!(transport.has_line(), "asking again takes nothing more");
        assert_eq!(kernel.queue.borrow().len(), 3, "the other badge's line and two of the three lines");
        let mut receiver: Channel<Test, _> = Channel::new(transport);
        assert_eq!(receiver.recv(), Ok(Test::Large(large(3))), "the kept line first, then the rest");
        assert_eq!(receiver.recv(), Err(ChannelError::Empty));
        assert_eq!(kernel.queue.borrow().len(), 1);
    }
}
