//! The event loop of an EL0 program: one [`EventLoop::wait`] reports whichever happened
//! first of a message on a URPC channel, a timer, a bind answered or a channel bound to one
//! of the program's exports ([`crate::bind`]), and a same-core message from the monitor or
//! another dispatcher. It is the [`crate::waitset`] (poll, watch a line, sleep in the kernel)
//! with the same-core messages taken in: those wake the dispatcher through the kernel, so
//! the waitset's [`waitset::Event::Woken`] is where they are read, decoded and either kept by
//! the binder (binding answers) or reported.
//!
//! Bound channels to a program on this core have no ring: the kernel carries their lines
//! ([`crate::bind::BoundTransport::Kernel`]), each send waking the dispatcher, so the event loop
//! asks the kernel for them ([`Channels::has_kernel_line`]) before it waits and after every
//! wake-up, and reports a line as [`Event::Message`] like a ring's.
//!
//! A same-core message or kernel line sent while the waitset polls or watches a ring is seen
//! when it next sleeps: the kernel's `wait` returns at once when a wake-up is pending, and the
//! send made one.

use urpc::interface::Variant;
use urpc::{Receiver, WaitPolicy, WatchLine};

use crate::bind::{BindError, BindEvent, BindId, BindSpace, Binder, Binding, BoundChannel, MonitorLink};
use crate::waitset::{self, Channels, Kernel, TimerId, Waitset};
use local_protocol::{self as local, Service, ToProgram};

/// What ended an [`EventLoop::wait`].
#[derive(Debug)]
pub enum Event {
    /// The channel at this index has a line for its `recv`. Nothing was taken.
    Message(usize),
    /// This timer's deadline passed; it is removed.
    Timer(TimerId),
    /// The bind `id` ended: a channel to the service, or why not.
    Bound(BindId, Result<Binding, BindError>),
    /// Another core bound a channel to a service this program exports.
    Incoming(Binding),
    /// A channel bound to an export could not be taken; the binding is lost.
    IncomingFailed(Service, BindError),
    /// A same-core binding is closed ([`BindEvent::Closed`]).
    Closed {
        /// The channel's slot.
        slot: u32,
        /// Whether the other side closed it.
        by_peer: bool,
    },
    /// The monitor's message, other than a binding's.
    Monitor(ToProgram),
    /// A same-core message that is not the monitor protocol's: from another dispatcher (its
    /// Endpoint's badge `sender`), or words the protocol does not decode.
    Local {
        /// The badge of the Endpoint it came through (0: the monitor's).
        sender: u64,
        /// The words.
        words: [u64; 3],
    },
}

impl From<BindEvent> for Event {
    fn from(event: BindEvent) -> Self {
        match event {
            BindEvent::Bound(id, result) => Event::Bound(id, result),
            BindEvent::Incoming(binding) => Event::Incoming(binding),
            BindEvent::IncomingFailed(service, e) => Event::IncomingFailed(service, e),
            BindEvent::Closed { slot, by_peer } => Event::Closed { slot, by_peer },
        }
    }
}

/// A program's event loop: its waitset, its bindings and its same-core messages.
pub struct EventLoop<K: Kernel, W: WatchLine, L: MonitorLink> {
    waitset: Waitset<K, W>,
    binder: Binder<L>,
}

impl<K: Kernel, W: WatchLine, L: MonitorLink> EventLoop<K, W, L> {
    /// An event loop waiting as `policy` says, its bound channels in `space`.
    pub fn new(kernel: K, watcher: W, policy: WaitPolicy, link: L, space: BindSpace) -> Self {
        EventLoop { waitset: Waitset::new(kernel, watcher, policy), binder: Binder::new(link, space) }
    }

    /// The waitset (timers, policy, counts).
    pub fn waitset(&mut self) -> &mut Waitset<K, W> {
        &mut self.waitset
    }

    /// The bindings: [`Binder::export`], [`Binder::bind`], [`Binder::bind_on`].
    pub fn bindings(&mut self) -> &mut Binder<L> {
        &mut self.binder
    }

    /// Sends `message` to the monitor.
    pub fn tell_monitor<M: Variant>(&mut self, message: &M) -> Result<(), crate::Error> {
        self.binder.system().tell_monitor(local::words(message))
    }

    /// Waits for the next event (see the module documentation): the bindings' events and
    /// same-core messages in arrival order, then lines the kernel carried for same-core
    /// channels, then the rings (polled, watched, slept on as the policy says) and timers.
    pub fn wait<'frame, const SLOTS: usize, C>(&mut self, channels: &mut C) -> Event
    where
        C: Channels<'frame, SLOTS> + ?Sized,
    {
        loop {
            if let Some(event) = self.poll_local() {
                return event;
            }
            if let Some(index) = (0..channels.count()).find(|&index| channels.has_kernel_line(index)) {
                return Event::Message(index);
            }
            match self.waitset.wait(channels) {
                waitset::Event::Message(index) => return Event::Message(index),
                waitset::Event::Timer(timer) => return Event::Timer(timer),
                waitset::Event::Woken => {}
            }
        }
    }

    /// Waits as [`Self::wait`] with no channel.
    pub fn wait_local(&mut self) -> Event {
        let mut none: [Receiver<'static>; 0] = [];
        self.wait(&mut none[..])
    }

    /// Waits as [`Self::wait_local`], but a wake-up that brings the runtime nothing ends the
    /// wait too: `None`. The kernel wakes a dispatcher that way for an interrupt it claimed
    /// (`irq_claim`), which [`Self::wait`] cannot tell from a stray wake-up and waits on past;
    /// a driver looks at its device after every return.
    pub fn wait_local_or_woken(&mut self) -> Option<Event> {
        if let Some(event) = self.poll_local() {
            return Some(event);
        }
        let mut none: [Receiver<'static>; 0] = [];
        match self.waitset.wait(&mut none[..]) {
            waitset::Event::Timer(timer) => Some(Event::Timer(timer)),
            // A message that came with the wake-up is the event; the device is looked at anyway.
            waitset::Event::Woken | waitset::Event::Message(_) => self.poll_local(),
        }
    }

    /// The next binding event or same-core message that waits, without waiting: what every
    /// wait looks at first, and what a loop that reads everything that arrived before it waits
    /// again (the monitor's) takes.
    pub fn poll_local(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.binder.next_event() {
                return Some(event.into());
            }
            let (sender, words) = self.binder.system().recv_local()?;
            let message = (sender == 0).then(|| local::decode::<ToProgram>(words).ok()).flatten();
            let Some(message) = message else { return Some(Event::Local { sender, words }) };
            if let Err(message) = self.binder.on_message(message) {
                return Some(Event::Monitor(message));
            }
        }
    }
}

/// The bound channels of one interface, for the waitset: each one's URPC receiver (a slot
/// with no channel yet, or a same-core channel, has none) and, for the event loop, each
/// same-core channel's kernel lines.
impl<I: Variant> Channels<'static, { urpc::DEFAULT_SLOTS }> for [Option<BoundChannel<I>>] {
    fn count(&self) -> usize {
        self.len()
    }

    fn receiver(&mut self, index: usize) -> Option<&mut Receiver<'static>> {
        self.get_mut(index)?.as_mut()?.transport().urpc_receiver()
    }

    fn has_kernel_line(&mut self, index: usize) -> bool {
        self.get_mut(index)
            .and_then(Option::as_mut)
            .is_some_and(|channel| channel.transport().has_kernel_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind::tests::{FakeSystem, SPACE};
    use core::cell::Cell;
    use core::sync::atomic::AtomicU64;
    use local_protocol::{Outcome, ANY_CORE};
    use urpc::Side;

    /// A kernel whose sleeps run `on_sleep` (what the monitor does meanwhile).
    struct FakeKernel<'a> {
        now: Cell<u64>,
        on_sleep: &'a dyn Fn(),
    }

    impl Kernel for &FakeKernel<'_> {
        fn now(&self) -> u64 {
            self.now.set(self.now.get() + 1);
            self.now.get()
        }

        fn sleep_until(&self, deadline: Option<u64>) -> bool {
            if let Some(deadline) = deadline {
                self.now.set(self.now.get().max(deadline));
            }
            (self.on_sleep)();
            true
        }
    }

    struct NoWatch;

    impl WatchLine for NoWatch {
        fn wait_for_store(&self, _word: &AtomicU64, _seen: u64) {}
    }

    urpc::declare_messages! {
        /// A test message.
        pub struct Hello = 7 { pub n: u32 }
    }
    urpc::declare_interface! {
        /// A test interface.
        pub enum Test { Hello(Hello) }
    }

    const POLICY: WaitPolicy = WaitPolicy { polls: 2, watches: 0 };

    #[test]
    fn a_bind_in_flight_is_an_event_and_its_channel_carries_typed_messages() {
        let system = FakeSystem::default();
        let bound = local::Bound { core: 2, slot: SPACE.first_slot, outcome: Outcome::DONE };
        // The monitor answers while the program sleeps.
        let answer = || system.inbox.borrow_mut().push_back((0, local::words(&bound)));
        let kernel = FakeKernel { now: Cell::new(0), on_sleep: &answer };
        let mut events = EventLoop::new(&kernel, NoWatch, POLICY, &system, SPACE);
        let echo = Service::named("echo").unwrap();
        let id = events.bindings().bind(echo);
        assert_eq!(
            system.told.borrow()[0],
            local::ToMonitor::Bind(local::Bind { service: echo, core: ANY_CORE, slot: SPACE.first_slot })
        );
        let mut channels: [Option<BoundChannel<Test>>; 1] = [None];
        let Event::Bound(got, Ok(binding)) = events.wait(&mut channels[..]) else {
            panic!("the bind's answer")
        };
        assert_eq!((got, binding.core), (id, 2));
        channels[0] = Some(binding.into_channel());
        let mut other = system.frame(SPACE.first_slot).try_endpoint(Side::B).unwrap();
        other.sender.try_send(&urpc::message::encode(&Hello { n: 5 })).unwrap();
        let Event::Message(0) = events.wait(&mut channels[..]) else { panic!("the message") };
        let channel = channels[0].as_mut().unwrap();
        assert_eq!(channel.recv(), Ok(Test::Hello(Hello { n: 5 })));
        channel.send(&Hello { n: 6 }).unwrap();
        assert_eq!(
            other.receiver.try_recv().map(|line| urpc::message::decode::<Hello>(&line)),
            Ok(Ok(Hello { n: 6 }))
        );
    }

    #[test]
    fn other_same_core_messages_are_reported_as_they_are() {
        let system = FakeSystem::default();
        let kernel = FakeKernel { now: Cell::new(0), on_sleep: &|| {} };
        let mut events = EventLoop::new(&kernel, NoWatch, POLICY, &system, SPACE);
        let go = local::SelftestGo {};
        system.inbox.borrow_mut().extend([
            (0, local::words(&go)),
            (0, [105 | 2 << 8, 0, 0]),
            (7, local::words(&go)),
        ]);
        assert!(matches!(events.wait_local(), Event::Monitor(ToProgram::SelftestGo(_))));
        assert!(matches!(events.wait_local(), Event::Local { sender: 0, words: [617, 0, 0] }));
        assert!(matches!(events.wait_local(), Event::Local { sender: 7, .. }), "not from the monitor");
        let timer = events.waitset().set_timer(50);
        assert!(matches!(events.wait_local(), Event::Timer(t) if t == timer));
    }

    #[test]
    fn a_same_core_channel_has_no_ring_and_its_kernel_lines_are_messages() {
        use crate::bind::tests::FAKE_CORE;
        use crate::kernel_line::{KernelLine, LineCalls};
        use urpc::interface::Transport;

        let system = FakeSystem::default();
        let lines = system.lines;
        // The peer program sends one line while this one sleeps (an event loop that never
        // reports it would sleep again and again: fail rather than hang).
        let sleeps = Cell::new(0);
        let peer_sends = || {
            sleeps.set(sleeps.get() + 1);
            assert!(sleeps.get() < 10, "the kernel line was never reported");
            let mut peer = KernelLine::with_calls(lines as &dyn LineCalls, SPACE.first_slot + 1, None);
            peer.send_lines(&[urpc::message::encode(&Hello { n: 2 })]).unwrap();
        };
        let kernel = FakeKernel { now: Cell::new(0), on_sleep: &peer_sends };
        let mut events = EventLoop::new(&kernel, NoWatch, POLICY, &system, SPACE);
        let echo = Service::named("echo").unwrap();
        let id = events.bindings().bind_on(echo, FAKE_CORE);
        // The peer's Endpoint to this program is its slot `first_slot + 1`.
        lines.connect(SPACE.first_slot, SPACE.first_slot + 1);
        let bound = local::Bound { core: FAKE_CORE, slot: SPACE.first_slot, outcome: Outcome::DONE };
        system.inbox.borrow_mut().push_back((0, local::words(&bound)));
        let mut channels: [Option<BoundChannel<Test>>; 2] = [None, None];
        let Event::Bound(got, Ok(binding)) = events.wait(&mut channels[..]) else { panic!("bound") };
        assert_eq!(got, id);
        assert!(binding.is_same_core());
        channels[1] = Some(binding.into_channel());
        assert!(channels[1].as_mut().unwrap().transport().urpc_receiver().is_none(), "no ring");
        let event = events.wait(&mut channels[..]);
        assert!(matches!(event, Event::Message(1)), "the line sent during the sleep: {event:?}");
        assert_eq!(channels[1].as_mut().unwrap().recv(), Ok(Test::Hello(Hello { n: 2 })));
        assert_eq!(events.waitset().counts().sleeps, 1);
    }

    #[test]
    fn a_wake_up_with_nothing_for_the_runtime_ends_only_wait_local_or_woken() {
        let system = FakeSystem::default();
        let sleeps = Cell::new(0);
        // The first sleep of each pair is an interrupt's wake-up (nothing queued), the second
        // brings the monitor's message.
        let on_sleep = || {
            sleeps.set(sleeps.get() + 1);
            if sleeps.get() % 2 == 0 {
                system.inbox.borrow_mut().push_back((0, local::words(&local::SelftestGo {})));
            }
        };
        let kernel = FakeKernel { now: Cell::new(0), on_sleep: &on_sleep };
        let mut events = EventLoop::new(&kernel, NoWatch, POLICY, &system, SPACE);
        assert!(events.wait_local_or_woken().is_none(), "the interrupt's wake-up is reported");
        assert_eq!(sleeps.get(), 1);
        assert!(matches!(events.wait_local_or_woken(), Some(Event::Monitor(ToProgram::SelftestGo(_)))));
        assert_eq!(sleeps.get(), 2);
        // `wait_local` sleeps on past the bare wake-up to the message.
        assert!(matches!(events.wait_local(), Event::Monitor(ToProgram::SelftestGo(_))));
        assert_eq!(sleeps.get(), 4);
        // A message already queued comes first, without a sleep; a timer still ends the wait.
        system.inbox.borrow_mut().push_back((0, local::words(&local::SelftestGo {})));
        assert!(events.wait_local_or_woken().is_some());
        assert_eq!(sleeps.get(), 4);
        let timer = events.waitset().set_timer(1 << 40);
        sleeps.set(1); // the next sleep queues the message: the timer is due first
        assert!(matches!(events.wait_local_or_woken(), Some(Event::Timer(t)) if t == timer));
    }
}
