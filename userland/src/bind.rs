//! Channel bindings by name: a program offers a service ([`Binder::export`]) or binds to one
//! ([`Binder::bind`] wherever it is offered, [`Binder::bind_on`] on a named core), and gets a
//! typed [`BoundChannel`] (`urpc::interface::Channel`) over the URPC channel its monitor made.
//!
//! Split phase: `bind` only asks; the answer comes later as a [`BindEvent`], which the event
//! loop ([`crate::events::EventLoop`]) reports among its other events. The monitor carries one
//! bind per program at a time, so the binder sends the next only when the last was answered;
//! a program may ask for many.
//!
//! Underneath is the same-core protocol of `local-protocol`: [`local::Accept`] offers the
//! service (one binding per accept; the binder accepts again after each binding while the
//! export allows more), [`local::Bind`] asks (with [`local::ANY_CORE`] the monitor finds the
//! core by asking the other monitors, each from its own table), [`local::Bound`] answers the
//! binding program (side A of the channel) and [`local::BindIncoming`] tells the exporting
//! one (side B). Each bound channel's Frame goes to a slot of the program's capability space
//! and is mapped at an entry of its own level-3 VNode, both from a [`BindSpace`].
//!
//! **Transports, chosen at bind time.** A bound channel's transport is a [`BoundTransport`]:
//! when the service is on another core, a URPC channel in a Frame the monitor made
//! ([`BoundTransport::Urpc`]); when it is on this core (a bind to this core, or a bind by name
//! that this core's monitor answers from its own table first), the kernel's same-core line
//! transport ([`BoundTransport::Kernel`], a [`KernelLine`]): the monitor gives each program an
//! Endpoint to the other, at the slot the binding would have taken, badged with
//! [`local::bound_line_badge`] of the other's slot, and each side receives the lines of its own
//! slot's badge. The binder tells them apart by the core the monitor's answer names (this core:
//! an Endpoint). Programs keep the same `BoundChannel<I>`; the event loop watches a URPC
//! channel's ring and asks the kernel for a kernel channel's lines (their sends wake the
//! dispatcher).
//!
//! **Closing.** A same-core binding closes ([`Binder::close`]): the monitor revokes both
//! Endpoints and both sides hear of it ([`BindEvent::Closed`]); the slot is reused only once
//! the lines still queued for its badge are dropped. A channel to another core cannot be
//! closed yet (its Frame is mapped in both programs).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use local_protocol::{self as local, BindStatus, Service, ToProgram, ANY_CORE};
use urpc::interface::{Channel, Transport};
use urpc::{ChannelFrame, Endpoint, Full, Payload, RecvError, Side};

use crate::kernel_line::{KernelLine, LineCalls};
use crate::Error;

/// Why a bind or an export did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindError {
    /// No program on any other online core (or on the core named) offers the service.
    UnknownService,
    /// The core named is not online.
    CoreOffline,
    /// The service takes no binding now (its program took as many as it exports), or the
    /// channel's Frame could not be handed over.
    Refused,
    /// The monitor has no channel memory left for this program.
    NoMemory,
    /// The monitor had a bind of this program in flight already.
    Busy,
    /// Every slot (or VNode entry) of the [`BindSpace`] holds a channel.
    NoSlots,
    /// The monitor could not be told.
    Monitor(Error),
    /// The channel's Frame could not be mapped.
    Map(Error),
    /// The channel's side was claimed already (the Frame is not a fresh channel).
    SideTaken,
    /// The export allows no binding.
    NoBindings,
    /// A channel to another core cannot be closed (its memory is mapped in both programs; see
    /// the module documentation).
    CrossCore,
    /// The channel is not an open binding of this binder's.
    NotBound,
}

impl From<BindStatus> for BindError {
    fn from(status: BindStatus) -> Self {
        match status {
            BindStatus::NoService => BindError::UnknownService,
            BindStatus::NoCore => BindError::CoreOffline,
            BindStatus::NoMemory => BindError::NoMemory,
            BindStatus::Refused => BindError::Refused,
            BindStatus::Busy => BindError::Busy,
        }
    }
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::UnknownService => f.write_str("no online core offers the service"),
            BindError::CoreOffline => f.write_str("the core is not online"),
            BindError::Refused => f.write_str("the bind was refused"),
            BindError::NoMemory => f.write_str("no channel memory left"),
            BindError::Busy => f.write_str("a bind of this program was in flight already"),
            BindError::NoSlots => f.write_str("no slot left for another bound channel"),
            BindError::Monitor(e) => write!(f, "the monitor could not be told ({e:?})"),
            BindError::Map(e) => write!(f, "the channel could not be mapped ({e:?})"),
            BindError::SideTaken => f.write_str("the channel's side is taken already"),
            BindError::NoBindings => f.write_str("an export must allow at least one binding"),
            BindError::CrossCore => f.write_str("a channel to another core cannot be closed"),
            BindError::NotBound => f.write_str("not an open binding"),
        }
    }
}

/// How lines of a bound channel travel.
pub enum BoundTransport {
    /// A URPC channel to core `core` (the Frame the monitor made, mapped here). After each
    /// send, `wake` raises the wake SGI on that core if the receiver announced it sleeps
    /// (`Sender::receiver_asleep`, read after the send: no wake-up is lost).
    Urpc {
        /// This program's end.
        endpoint: Endpoint<'static>,
        /// The other end's core.
        core: u32,
        /// Wakes a core ([`MonitorLink::wake`]).
        wake: fn(u32),
        /// The slot of the channel's Frame in this program's capability space.
        slot: u32,
    },
    /// Lines carried by the CPU driver to a program on this core: sent through the Endpoint to
    /// it, received by this side's badge. The kernel wakes the receiver on every send.
    Kernel(KernelLine<&'static dyn LineCalls>),
}

impl BoundTransport {
    /// The URPC receiver the waitset watches, if the transport has one.
    pub fn urpc_receiver(&mut self) -> Option<&mut urpc::Receiver<'static>> {
        match self {
            BoundTransport::Urpc { endpoint, .. } => Some(&mut endpoint.receiver),
            BoundTransport::Kernel(_) => None,
        }
    }

    /// Whether the kernel holds a line for this side (a kernel transport; a URPC one has its
    /// ring, which the waitset watches, and says false). A line found is kept for the next
    /// receive.
    pub fn has_kernel_line(&mut self) -> bool {
        match self {
            BoundTransport::Urpc { .. } => false,
            BoundTransport::Kernel(line) => line.has_line(),
        }
    }

    /// Whether the kernel carries this transport (the peer is on this core).
    pub fn is_kernel(&self) -> bool {
        matches!(self, BoundTransport::Kernel(_))
    }

    /// Why the last send failed other than for a full ring or queue: a same-core channel's
    /// refusal by the kernel (the binding closed: no Endpoint; the peer ended). `None` for a
    /// URPC channel, whose only refusal is a full ring. A send refused this way will not
    /// succeed by retrying.
    pub fn refusal(&self) -> Option<Error> {
        match self {
            BoundTransport::Urpc { .. } => None,
            BoundTransport::Kernel(line) => line.refusal(),
        }
    }

    /// The slot of this program's capability space the channel took (its Frame, or its
    /// Endpoint to the peer): what [`BindEvent::Closed`] names.
    pub fn slot(&self) -> u32 {
        match self {
            BoundTransport::Urpc { slot, .. } => *slot,
            BoundTransport::Kernel(line) => line.endpoint(),
        }
    }
}

impl Transport for BoundTransport {
    fn send_lines(&mut self, lines: &[Payload]) -> Result<(), Full> {
        match self {
            BoundTransport::Urpc { endpoint, core, wake, .. } => {
                endpoint.send_lines(lines)?;
                if endpoint.sender.receiver_asleep() {
                    wake(*core);
                }
                Ok(())
            }
            BoundTransport::Kernel(line) => line.send_lines(lines),
        }
    }

    fn recv_line(&mut self) -> Result<Payload, RecvError> {
        match self {
            BoundTransport::Urpc { endpoint, .. } => endpoint.recv_line(),
            BoundTransport::Kernel(line) => line.recv_line(),
        }
    }
}

/// A typed channel bound by name: the messages of interface `I`.
pub type BoundChannel<I> = Channel<I, BoundTransport>;

/// A bound channel not typed yet, and where it leads.
pub struct Binding {
    /// The service.
    pub service: Service,
    /// The core of the other end.
    pub core: u32,
    transport: BoundTransport,
}

impl Binding {
    /// Whether the peer is on this core (the kernel carries the lines) rather than another.
    pub fn is_same_core(&self) -> bool {
        self.transport.is_kernel()
    }

    /// The channel, carrying interface `I`'s messages.
    pub fn into_channel<I: urpc::interface::Variant>(self) -> BoundChannel<I> {
        Channel::new(self.transport)
    }
}

impl fmt::Debug for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Binding({} on core {})", self.service, self.core)
    }
}

/// A bind asked for ([`Binder::bind`]); its answer names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindId(pub u32);

/// What a monitor's message meant for the bindings.
#[derive(Debug)]
pub enum BindEvent {
    /// The bind `id` ended: a channel to the service, or why not.
    Bound(BindId, Result<Binding, BindError>),
    /// Another core bound a channel to a service this program exports.
    Incoming(Binding),
    /// A channel bound to an export could not be taken (mapped); the binding is lost.
    IncomingFailed(Service, BindError),
    /// The same-core binding at `slot` is closed: by this program (`by_peer` false: its
    /// [`Binder::close`] is done and the slot free again) or by the other side (`by_peer` true:
    /// nothing more can be sent, the lines it sent before can still be received; close the
    /// channel once done with it).
    Closed {
        /// The channel's slot ([`BoundTransport::slot`]).
        slot: u32,
        /// Whether the other side closed it.
        by_peer: bool,
    },
}

/// A program's link to its monitor, as the binder and the event loop need it: telling the
/// monitor, taking same-core messages, and mapping a bound channel's Frame.
/// [`crate::ElZero`] is the real one.
pub trait MonitorLink {
    /// Sends three words to this program's monitor.
    fn tell_monitor(&mut self, words: [u64; 3]) -> Result<(), Error>;
    /// The oldest same-core message: the badge of the Endpoint it came through (0: the
    /// monitor's) and its words.
    fn recv_local(&mut self) -> Option<(u64, [u64; 3])>;
    /// Maps the Frame capability at `slot` at `entry` of this program's VNode: the channel.
    fn map_channel_frame(&mut self, slot: u32, entry: u64) -> Result<&'static ChannelFrame, Error>;
    /// Raises the wake SGI on core `core` (its dispatchers that sleep run again).
    fn wake(core: u32);
    /// The core this program runs on (a binding to a service here goes through the kernel).
    fn core(&self) -> u32;
    /// Empties slot `slot` of this program's capability space, if it holds anything (a refused
    /// same-core bind may have left the Endpoint to the server there).
    fn clear_slot(&mut self, slot: u32);
    /// The kernel's line calls, for same-core bound channels.
    fn line_calls(&self) -> &'static dyn LineCalls;
}

/// The capability slots and VNode entries bound channels take, one of each per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindSpace {
    /// The first slot.
    pub first_slot: u32,
    /// The first VNode entry.
    pub first_entry: u64,
    /// How many channels: slots and entries.
    pub channels: u32,
}

impl BindSpace {
    /// Six channels, slots `SLOT_FIRST_FREE + 20` to `+ 25` (a program's own slots end at 43:
    /// 44 on are what its monitor gives it) and VNode entries 506-511 (the top of the window):
    /// clear of what the programs here use themselves.
    pub const DEFAULT: BindSpace = BindSpace {
        first_slot: crate::SLOT_FIRST_FREE + 20,
        first_entry: crate::VNODE_ENTRIES - 6,
        channels: 6,
    };
}

/// A slot and entry for one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Place {
    slot: u32,
    entry: u64,
}

/// An export: the service, how many more bindings it takes (`None`: no limit) and the place
/// the next one goes (accepted with the monitor), if any.
struct Export {
    service: Service,
    remaining: Option<u32>,
    accepted: Option<Place>,
}

/// How a same-core binding stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineState {
    /// Open.
    Open,
    /// This program closed it and waits for the monitor's `Unbound`.
    Closing,
    /// The other side closed it; the program still holds its channel.
    ClosedByPeer,
}

/// A bind asked for and not answered.
#[derive(Clone, Copy)]
struct Asked {
    id: BindId,
    service: Service,
    core: u32,
}

/// The program's bindings: exports, binds waiting, the bind in flight.
pub struct Binder<S: MonitorLink> {
    system: S,
    free: Vec<Place>,
    exports: Vec<Export>,
    waiting: VecDeque<Asked>,
    in_flight: Option<(Asked, Place)>,
    next_id: u32,
    events: VecDeque<BindEvent>,
    /// The same-core bindings, to close.
    lines: Vec<(Place, LineState)>,
}

impl<S: MonitorLink> Binder<S> {
    /// No bindings yet; channels take the slots and entries of `space`.
    pub fn new(system: S, space: BindSpace) -> Self {
        let free = (0..space.channels)
            .rev()
            .map(|i| Place { slot: space.first_slot + i, entry: space.first_entry + u64::from(i) })
            .collect();
        Binder {
            system,
            free,
            exports: Vec::new(),
            waiting: VecDeque::new(),
            in_flight: None,
            next_id: 0,
            events: VecDeque::new(),
            lines: Vec::new(),
        }
    }

    /// The system underneath.
    pub fn system(&mut self) -> &mut S {
        &mut self.system
    }

    /// Offers `service` to the other cores: up to `bindings` channels bound to it (`None`: as
    /// many as there are slots), each reported as [`BindEvent::Incoming`]. Exporting a service
    /// again replaces the export.
    pub fn export(&mut self, service: Service, bindings: Option<u32>) -> Result<(), BindError> {
        if bindings == Some(0) {
            return Err(BindError::NoBindings);
        }
        if let Some(at) = self.exports.iter().position(|e| e.service == service) {
            let old = self.exports.remove(at);
            self.free.extend(old.accepted);
        }
        let place = self.free.pop().ok_or(BindError::NoSlots)?;
        let accept = local::Accept { service, slot: place.slot };
        if let Err(e) = self.system.tell_monitor(local::words(&accept)) {
            self.free.push(place);
            return Err(BindError::Monitor(e));
        }
        self.exports.push(Export { service, remaining: bindings, accepted: Some(place) });
        Ok(())
    }

    /// Binds a channel to `service` on whichever other core offers it (the monitors find it by
    /// name). The answer comes as [`BindEvent::Bound`] with the id returned (so does a bind
    /// that could not even be asked: no slot left, the monitor not reachable).
    pub fn bind(&mut self, service: Service) -> BindId {
        self.ask(service, ANY_CORE)
    }

    /// Binds a channel to `service` on core `core`.
    pub fn bind_on(&mut self, service: Service, core: u32) -> BindId {
        self.ask(service, core)
    }

    /// Closes the same-core bound channel `channel`. Open: the monitor is asked to close the
    /// binding (it revokes both sides' Endpoints, so no line is sent either way after) and
    /// [`BindEvent::Closed`] (`by_peer` false) says when its slot is free again; closed by the
    /// other side already: its slot is free at once. Lines still queued for it are dropped.
    /// A channel to another core is given back (boxed: a channel is large) with
    /// [`BindError::CrossCore`].
    pub fn close<I: urpc::interface::Variant>(
        &mut self,
        mut channel: BoundChannel<I>,
    ) -> Result<(), (BindError, Box<BoundChannel<I>>)> {
        if !channel.transport().is_kernel() {
            return Err((BindError::CrossCore, Box::new(channel)));
        }
        let slot = channel.transport().slot();
        let Some(at) =
            self.lines.iter().position(|(place, state)| place.slot == slot && *state != LineState::Closing)
        else {
            return Err((BindError::NotBound, Box::new(channel)));
        };
        if self.lines[at].1 == LineState::ClosedByPeer {
            let (place, _) = self.lines.remove(at);
            self.release(place);
            return Ok(());
        }
        if let Err(e) = self.system.tell_monitor(local::words(&local::Unbind { slot })) {
            return Err((BindError::Monitor(e), Box::new(channel)));
        }
        self.lines[at].1 = LineState::Closing;
        Ok(())
    }

    /// The place of a closed same-core binding, free again: the lines the other side sent
    /// before the close are dropped (a later binding at the slot receives with the same badge),
    /// and the slot is emptied (the monitor's revoke removed the Endpoint already).
    fn release(&mut self, place: Place) {
        let calls = self.system.line_calls();
        while calls.recv(Some(local::bound_line_badge(place.slot))).is_ok() {}
        self.system.clear_slot(place.slot);
        self.free.push(place);
    }

    /// The monitor says the same-core binding at `slot` is closed.
    fn on_unbound(&mut self, slot: u32) -> bool {
        let Some(at) = self.lines.iter().position(|(place, _)| place.slot == slot) else { return false };
        match self.lines[at].1 {
            LineState::Closing => {
                let (place, _) = self.lines.remove(at);
                self.release(place);
                self.events.push_back(BindEvent::Closed { slot, by_peer: false });
            }
            LineState::Open => {
                self.lines[at].1 = LineState::ClosedByPeer;
                self.events.push_back(BindEvent::Closed { slot, by_peer: true });
            }
            // Told twice: nothing new.
            LineState::ClosedByPeer => {}
        }
        true
    }

    /// Binds asked for and not answered yet.
    pub fn pending(&self) -> usize {
        self.waiting.len() + usize::from(self.in_flight.is_some())
    }

    fn ask(&mut self, service: Service, core: u32) -> BindId {
        self.next_id = self.next_id.wrapping_add(1);
        let asked = Asked { id: BindId(self.next_id), service, core };
        self.waiting.push_back(asked);
        self.send_waiting();
        asked.id
    }

    /// The next event of the bindings, if one happened.
    pub fn next_event(&mut self) -> Option<BindEvent> {
        self.events.pop_front()
    }

    /// Sends the next waiting bind to the monitor unless one is in flight; a bind that cannot
    /// be sent ends at once (an event), and the next is tried.
    fn send_waiting(&mut self) {
        while self.in_flight.is_none() {
            let Some(asked) = self.waiting.pop_front() else { return };
            let Some(place) = self.free.pop() else {
                self.events.push_back(BindEvent::Bound(asked.id, Err(BindError::NoSlots)));
                continue;
            };
            let bind = local::Bind { service: asked.service, core: asked.core, slot: place.slot };
            match self.system.tell_monitor(local::words(&bind)) {
                Ok(()) => self.in_flight = Some((asked, place)),
                Err(e) => {
                    self.free.push(place);
                    self.events.push_back(BindEvent::Bound(asked.id, Err(BindError::Monitor(e))));
                }
            }
        }
    }

    /// Takes a message from the monitor if it is the bindings' (its event then comes from
    /// [`Self::next_event`]); gives any other message back.
    pub fn on_message(&mut self, message: ToProgram) -> Result<(), ToProgram> {
        match message {
            ToProgram::Bound(bound) => match self.in_flight {
                Some((asked, place)) if place.slot == bound.slot => {
                    self.in_flight = None;
                    let result = bound
                        .outcome
                        .0
                        .map_err(BindError::from)
                        .and_then(|()| self.take_channel(place, Side::A, asked.service, bound.core));
                    if result.is_err() {
                        // Emptied (a same-core bind refused halfway leaves an Endpoint), the
                        // slot is the next bind's.
                        self.system.clear_slot(place.slot);
                        self.free.push(place);
                    }
                    self.events.push_back(BindEvent::Bound(asked.id, result));
                    self.send_waiting();
                    Ok(())
                }
                _ => Err(message),
            },
            ToProgram::BindIncoming(incoming) => {
                let Some(at) = self
                    .exports
                    .iter()
                    .position(|e| e.accepted.is_some_and(|place| place.slot == incoming.slot))
                else {
                    return Err(message);
                };
                let Some(place) = self.exports[at].accepted.take() else { return Err(message) };
                let service = self.exports[at].service;
                self.accept_again(at);
                let event = match self.take_channel(place, Side::B, service, incoming.core) {
                    Ok(binding) => BindEvent::Incoming(binding),
                    Err(e) => BindEvent::IncomingFailed(service, e),
                };
                self.events.push_back(event);
                Ok(())
            }
            ToProgram::Unbound(unbound) => {
                if self.on_unbound(unbound.slot) {
                    Ok(())
                } else {
                    Err(message)
                }
            }
            other => Err(other),
        }
    }

    /// Accepts another binding to export `at`, if it allows one and a place is free.
    fn accept_again(&mut self, at: usize) {
        let export = &mut self.exports[at];
        if let Some(remaining) = export.remaining.as_mut() {
            *remaining -= 1;
            if *remaining == 0 {
                return;
            }
        }
        let Some(place) = self.free.pop() else { return };
        let accept = local::Accept { service: export.service, slot: place.slot };
        if self.system.tell_monitor(local::words(&accept)).is_ok() {
            export.accepted = Some(place);
        } else {
            self.free.push(place);
        }
    }

    /// The channel at `place`: to this core, the Endpoint there (lines received by the
    /// place's badge); to another, the Frame there, mapped, and its side `side` claimed.
    fn take_channel(
        &mut self,
        place: Place,
        side: Side,
        service: Service,
        core: u32,
    ) -> Result<Binding, BindError> {
        if core == self.system.core() {
            let line = KernelLine::with_calls(
                self.system.line_calls(),
                place.slot,
                Some(local::bound_line_badge(place.slot)),
            );
            self.lines.push((place, LineState::Open));
            return Ok(Binding { service, core, transport: BoundTransport::Kernel(line) });
        }
        let frame = self.system.map_channel_frame(place.slot, place.entry).map_err(BindError::Map)?;
        let endpoint = frame.try_endpoint(side).map_err(|_| BindError::SideTaken)?;
        let transport = BoundTransport::Urpc { endpoint, core, wake: S::wake, slot: place.slot };
        Ok(Binding { service, core, transport })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kernel_line::fake::FakeLineKernel;
    use alloc::boxed::Box;
    use core::cell::RefCell;
    use local_protocol::{Outcome, ToMonitor};

    /// A system whose monitor is the test: what the binder told it, and the Frames it maps
    /// (one per slot, shared with the test as the other core's view). The program runs on
    /// core [`FAKE_CORE`]; its kernel lines go through a [`FakeLineKernel`].
    pub(crate) struct FakeSystem {
        pub told: RefCell<Vec<ToMonitor>>,
        pub inbox: RefCell<VecDeque<(u64, [u64; 3])>>,
        pub frames: RefCell<Vec<(u32, &'static ChannelFrame)>>,
        pub mapped: RefCell<Vec<(u32, u64)>>,
        pub cleared: RefCell<Vec<u32>>,
        pub lines: &'static FakeLineKernel,
    }

    impl Default for FakeSystem {
        fn default() -> Self {
            FakeSystem {
                told: RefCell::default(),
                inbox: RefCell::default(),
                frames: RefCell::default(),
                mapped: RefCell::default(),
                cleared: RefCell::default(),
                lines: Box::leak(Box::new(FakeLineKernel::new(crate::kernel_line::LINE_QUEUE_LINES))),
            }
        }
    }

    /// The core the fake system's program runs on.
    pub(crate) const FAKE_CORE: u32 = 0;

    impl FakeSystem {
        /// The frame that slot `slot` holds (made on first use).
        pub(crate) fn frame(&self, slot: u32) -> &'static ChannelFrame {
            let mut frames = self.frames.borrow_mut();
            if let Some(&(_, frame)) = frames.iter().find(|(s, _)| *s == slot) {
                return frame;
            }
            let frame: &'static ChannelFrame = Box::leak(Box::new(ChannelFrame::new()));
            frames.push((slot, frame));
            frame
        }
    }

    impl MonitorLink for &FakeSystem {
        fn tell_monitor(&mut self, words: [u64; 3]) -> Result<(), Error> {
            self.told.borrow_mut().push(local::decode::<ToMonitor>(words).expect("a well-formed message"));
            Ok(())
        }

        fn recv_local(&mut self) -> Option<(u64, [u64; 3])> {
            self.inbox.borrow_mut().pop_front()
        }

        fn map_channel_frame(&mut self, slot: u32, entry: u64) -> Result<&'static ChannelFrame, Error> {
            self.mapped.borrow_mut().push((slot, entry));
            Ok(self.frame(slot))
        }

        fn wake(core: u32) {
            WOKEN.with(|woken| woken.borrow_mut().push(core));
        }

        fn core(&self) -> u32 {
            FAKE_CORE
        }

        fn clear_slot(&mut self, slot: u32) {
            self.cleared.borrow_mut().push(slot);
        }

        fn line_calls(&self) -> &'static dyn LineCalls {
            self.lines
        }
    }

    std::thread_local! {
        /// The cores the fake system woke, on this test's thread.
        pub(crate) static WOKEN: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    }

    pub(crate) const SPACE: BindSpace = BindSpace { first_slot: 40, first_entry: 500, channels: 3 };

    fn service(name: &str) -> Service {
        Service::named(name).unwrap()
    }

    #[test]
    fn binds_go_to_the_monitor_one_at_a_time_and_their_answers_make_channels() {
        let system = FakeSystem::default();
        let mut binder = Binder::new(&system, SPACE);
        let first = binder.bind(service("echo"));
        let second = binder.bind_on(service("disk"), 2);
        assert_eq!(binder.pending(), 2);
        assert_eq!(
            *system.told.borrow(),
            [ToMonitor::Bind(local::Bind { service: service("echo"), core: ANY_CORE, slot: 40 })],
            "the second waits for the first's answer"
        );
        let bound = ToProgram::Bound(local::Bound { core: 3, slot: 40, outcome: Outcome::DONE });
        binder.on_message(bound).unwrap();
        let Some(BindEvent::Bound(id, Ok(binding))) = binder.next_event() else { panic!() };
        assert_eq!((id, binding.core, binding.service), (first, 3, service("echo")));
        assert_eq!(*system.mapped.borrow(), [(40, 500)]);
        assert!(binder.next_event().is_none());
        assert_eq!(
            system.told.borrow()[1],
            ToMonitor::Bind(local::Bind { service: service("disk"), core: 2, slot: 41 })
        );
        // The other core's side of the channel: what it sends, the binding's channel receives.
        let mut other = system.frame(40).try_endpoint(Side::B).unwrap();
        let mut channel: BoundChannel<local::ToProgram> = binding.into_channel();
        other.sender.try_send(&urpc::message::encode(&local::SelftestGo {})).unwrap();
        assert_eq!(channel.recv(), Ok(ToProgram::SelftestGo(local::SelftestGo {})));
        channel.send(&local::SelftestGo {}).unwrap();
        WOKEN.with(|woken| assert!(woken.borrow().is_empty(), "the receiver is awake: no SGI"));
        assert!(other.receiver.try_recv().is_ok());
        assert!(other.receiver.prepare_to_sleep());
        channel.send(&local::SelftestGo {}).unwrap();
        WOKEN.with(|woken| assert_eq!(*woken.borrow(), [3], "the receiver sleeps: its core is woken"));

        let refused =
            ToProgram::Bound(local::Bound { core: 2, slot: 41, outcome: Outcome(Err(BindStatus::Refused)) });
        binder.on_message(refused).unwrap();
        let Some(BindEvent::Bound(id, Err(BindError::Refused))) = binder.next_event() else { panic!() };
        assert_eq!(id, second);
        assert_eq!(binder.pending(), 0);
        assert_eq!(*system.cleared.borrow(), [41], "a refused bind's slot is emptied before reuse");
        // The refused bind's slot is free again.
        binder.bind(service("echo"));
        assert_eq!(
            system.told.borrow()[2],
            ToMonitor::Bind(local::Bind { service: service("echo"), core: ANY_CORE, slot: 41 })
        );
    }

    #[test]
    fn each_status_is_its_error_and_others_answers_are_given_back() {
        let system = FakeSystem::default();
        let mut binder = Binder::new(&system, SPACE);
        let stray = ToProgram::Bound(local::Bound { core: 1, slot: 40, outcome: Outcome::DONE });
        assert!(binder.on_message(stray).is_err(), "no bind in flight");
        let go = ToProgram::SelftestGo(local::SelftestGo {});
        assert_eq!(binder.on_message(go).unwrap_err(), go);
        for (status, error) in [
            (BindStatus::NoService, BindError::UnknownService),
            (BindStatus::NoCore, BindError::CoreOffline),
            (BindStatus::NoMemory, BindError::NoMemory),
            (BindStatus::Refused, BindError::Refused),
            (BindStatus::Busy, BindError::Busy),
        ] {
            binder.bind(service("x"));
            let answer =
                ToProgram::Bound(local::Bound { core: ANY_CORE, slot: 40, outcome: Outcome(Err(status)) });
            binder.on_message(answer).unwrap();
            let Some(BindEvent::Bound(_, Err(got))) = binder.next_event() else { panic!() };
            assert_eq!(got, error);
        }
    }

    #[test]
    fn an_export_accepts_again_after_each_binding_until_its_limit() {
        let system = FakeSystem::default();
        let mut binder = Binder::new(&system, SPACE);
        assert_eq!(binder.export(service("echo"), Some(0)).unwrap_err(), BindError::NoBindings);
        binder.export(service("echo"), Some(2)).unwrap();
        let accept = |slot| ToMonitor::Accept(local::Accept { service: service("echo"), slot });
        assert_eq!(*system.told.borrow(), [accept(40)]);
        let incoming = |slot| ToProgram::BindIncoming(local::BindIncoming { core: 1, slot });
        binder.on_message(incoming(40)).unwrap();
        let Some(BindEvent::Incoming(binding)) = binder.next_event() else { panic!() };
        assert_eq!((binding.core, binding.service), (1, service("echo")));
        assert_eq!(*system.told.borrow(), [accept(40), accept(41)], "accepted again");
        // The binding is side B: the binder's side A is the other core's.
        assert!(system.frame(40).try_endpoint(Side::B).is_err());
        binder.on_message(incoming(41)).unwrap();
        let Some(BindEvent::Incoming(_)) = binder.next_event() else { panic!() };
        assert_eq!(system.told.borrow().len(), 2, "two bindings: no third accept");
        assert!(binder.on_message(incoming(42)).is_err(), "nothing accepted at 42");
    }

    #[test]
    fn slots_run_out_with_a_clear_error() {
        let system = FakeSystem::default();
        let mut binder = Binder::new(&system, BindSpace { channels: 1, ..SPACE });
        binder.export(service("echo"), None).unwrap();
        let id = binder.bind(service("disk"));
        let Some(BindEvent::Bound(failed, Err(BindError::NoSlots))) = binder.next_event() else { panic!() };
        assert_eq!(failed, id);
        assert_eq!(binder.pending(), 0);
        assert_eq!(binder.export(service("disk"), None).unwrap_err(), BindError::NoSlots);
    }

    urpc::declare_messages! {
        /// Three lines of bytes.
        pub struct Page = 9 lines { pub seq: u32, pub bytes: [u8; 120] }
    }
    urpc::declare_interface! {
        /// What the same-core test's channel carries.
        pub enum Paged { Page(Page), Go(local::SelftestGo) }
    }

    #[test]
    fn a_binding_on_this_core_is_a_kernel_channel_with_each_side_on_its_own_badge() {
        let system = FakeSystem::default();
        let mut binder = Binder::new(&system, SPACE);
        // The program exports a service and binds to it on its own core: both sides are its.
        binder.export(service("echo"), Some(1)).unwrap();
        let id = binder.bind_on(service("echo"), FAKE_CORE);
        assert_eq!(
            system.told.borrow()[1],
            ToMonitor::Bind(local::Bind { service: service("echo"), core: FAKE_CORE, slot: 41 })
        );
        // The monitor's part: an Endpoint to each side, badged with the other's slot.
        system.lines.connect(40, 41);
        binder
            .on_message(ToProgram::BindIncoming(local::BindIncoming { core: FAKE_CORE, slot: 40 }))
            .unwrap();
        binder
            .on_message(ToProgram::Bound(local::Bound { core: FAKE_CORE, slot: 41, outcome: Outcome::DONE }))
            .unwrap();
        let Some(BindEvent::Incoming(served)) = binder.next_event() else { panic!("the server's side") };
        let Some(BindEvent::Bound(got, Ok(client))) = binder.next_event() else {
            panic!("the client's side")
        };
        assert_eq!(got, id);
        assert!(served.is_same_core() && client.is_same_core());
        assert!(system.mapped.borrow().is_empty(), "no Frame is mapped for a same-core channel");
        let mut client: BoundChannel<Paged> = client.into_channel();
        let mut served: BoundChannel<Paged> = served.into_channel();
        let page = |seq: u32| Page { seq, bytes: core::array::from_fn(|i| (i as u8) ^ seq as u8) };
        client.send(&page(1)).unwrap();
        client.send(&local::SelftestGo {}).unwrap();
        assert_eq!(
            client.recv(),
            Err(urpc::interface::ChannelError::Empty),
            "the client's own lines are not its"
        );
        assert!(served.transport().has_kernel_line());
        assert_eq!(served.recv(), Ok(Paged::Page(page(1))));
        assert_eq!(served.recv(), Ok(Paged::Go(local::SelftestGo {})));
        served.send(&page(2)).unwrap();
        assert_eq!(client.recv(), Ok(Paged::Page(page(2))));
        WOKEN.with(|woken| {
            assert!(woken.borrow().is_empty(), "the kernel wakes a same-core receiver, not an SGI")
        });

        // Each side sends one more, then the client closes: the monitor is asked.
        client.send(&local::SelftestGo {}).unwrap();
        served.send(&page(3)).unwrap();
        binder.close(client).map_err(|(e, _)| e).unwrap();
        assert_eq!(system.told.borrow()[2], ToMonitor::Unbind(local::Unbind { slot: 41 }));
        assert!(binder.next_event().is_none(), "the slot is free only once the monitor says so");
        // The monitor's part: both Endpoints revoked, both sides told.
        system.lines.unroute(40);
        system.lines.unroute(41);
        binder.on_message(ToProgram::Unbound(local::Unbound { slot: 41 })).unwrap();
        assert!(matches!(binder.next_event(), Some(BindEvent::Closed { slot: 41, by_peer: false })));
        assert_eq!(system.lines.queue.borrow().len(), 1, "the page the client never read is dropped");
        binder.on_message(ToProgram::Unbound(local::Unbound { slot: 40 })).unwrap();
        assert!(matches!(binder.next_event(), Some(BindEvent::Closed { slot: 40, by_peer: true })));
        // The server still receives what came before the close, and sends nothing after.
        assert_eq!(served.recv(), Ok(Paged::Go(local::SelftestGo {})));
        assert!(served.send(&page(4)).is_err());
        assert_eq!(served.transport().refusal(), Some(Error::Capability(4)));
        binder.close(served).map_err(|(e, _)| e).unwrap();
        assert_eq!(system.told.borrow().len(), 3, "closed by the peer: nothing to ask");
        assert_eq!(*system.cleared.borrow(), [41, 40]);
        // Both slots are free again: a new binding takes one and receives nothing stale.
        binder.bind_on(service("echo"), FAKE_CORE);
        assert_eq!(
            system.told.borrow()[3],
            ToMonitor::Bind(local::Bind { service: service("echo"), core: FAKE_CORE, slot: 40 })
        );
        assert!(system.lines.queue.borrow().is_empty());
    }

    #[test]
    fn a_channel_to_another_core_is_given_back_by_close() {
        let system = FakeSystem::default();
        let mut binder = Binder::new(&system, SPACE);
        binder.bind(service("echo"));
        binder
            .on_message(ToProgram::Bound(local::Bound { core: 3, slot: 40, outcome: Outcome::DONE }))
            .unwrap();
        let Some(BindEvent::Bound(_, Ok(binding))) = binder.next_event() else { panic!() };
        let channel: BoundChannel<Paged> = binding.into_channel();
        let Err((BindError::CrossCore, mut channel)) = binder.close(channel) else { panic!("refused") };
        assert_eq!(channel.transport().slot(), 40);
        assert_eq!(system.told.borrow().len(), 1, "the monitor is not asked");
        assert!(
            binder.on_message(ToProgram::Unbound(local::Unbound { slot: 40 })).is_err(),
            "no same-core binding there"
        );
    }
}
