//! The binding checks, through the runtime's API (`userland::bind`, `userland::events`):
//!
//! - `bind-by-name-echo`: every core's `selftest` exports `echo-<core>` (one binding), then
//!   binds to `echo-<next online core>` by name alone: its monitor asks the other monitors,
//!   each answering from its own table, and binds to the core that offers it. The bound
//!   channel carries [`EchoProtocol`], a typed interface with a several-line message; each
//!   program answers the asks of the core bound to it while it sends [`ECHOES`] of its own and
//!   checks each answer. A service not offered yet (the other core still runs its checks) is
//!   asked again.
//! - `bind-errors`: a service nobody offers is `UnknownService`; a core that is not online
//!   (past the last core, this core, an offline one) is `CoreOffline`; a second bind to
//!   `echo-<next>`, which takes one binding and has it, is `Refused`.

use alloc::format;
use alloc::string::String;

use local_protocol::Service;
use urpc::WaitPolicy;
use userland::bind::{BindError, BindId, BindSpace, BoundChannel};
use userland::events::Event;
use userland::waitset::TimerId;
use userland::{info, Info};

/// Messages sent, each answered before the next.
const ECHOES: u64 = 100;
/// Every this many messages one is a [`Page`] (three lines).
const PAGE_EVERY: u64 = 10;
/// Seconds the whole check may take (the other core may still be running its checks).
const DEADLINE_SECONDS: u64 = 60;
/// Seconds between binds of a service not offered yet.
const RETRY_MILLISECONDS: u64 = 50;
/// Polls, then one line watch, then sleep.
const POLICY: WaitPolicy = WaitPolicy { polls: 256, watches: 1 };
/// The error check's bound channels (clear of the echo check's, which keep theirs).
const ERROR_SPACE: BindSpace = BindSpace {
    first_slot: BindSpace::DEFAULT.first_slot + BindSpace::DEFAULT.channels,
    first_entry: BindSpace::DEFAULT.first_entry - 2,
    channels: 2,
};

urpc::declare_messages! {
    /// Client to server: answer `seq`.
    pub struct Ask = 1 {
        /// Sequence number.
        pub seq: u64,
        /// The asking core.
        pub from: u32,
    }
    /// Server to client: the answer to `seq`.
    pub struct Answer = 2 {
        /// The ask's sequence number.
        pub seq: u64,
        /// The answering core.
        pub from: u32,
    }
    /// Either way: a payload over one line's size (the server sends the bytes back reversed).
    pub struct Page = 3 lines {
        /// Sequence number.
        pub seq: u64,
        /// The bytes.
        pub bytes: [u8; 100],
    }
}

urpc::declare_interface! {
    /// What the echo check's channels carry.
    pub enum EchoProtocol {
        /// See [`Ask`].
        Ask(Ask),
        /// See [`Answer`].
        Answer(Answer),
        /// See [`Page`].
        Page(Page),
    }
}

/// The echo service of `core`.
fn echo_of(core: u64) -> Result<Service, String> {
    Service::named(&format!("echo-{core}")).ok_or(format!("no service name for core {core}"))
}

/// The next online core after this one, if another is online.
fn next_online(core: u64, count: u64) -> Option<u64> {
    (1..count).map(|step| (core + step) % count).find(|&c| userland::info_of(Info::CoreOnline, c) == Ok(1))
}

/// Page `seq`'s bytes.
fn page_bytes(seq: u64) -> [u8; 100] {
    core::array::from_fn(|i| (seq as u8).wrapping_mul(7).wrapping_add(i as u8))
}

/// The message the client sends `seq`-th.
fn ask(seq: u64, core: u64) -> EchoProtocol {
    if seq % PAGE_EVERY == PAGE_EVERY - 1 {
        EchoProtocol::Page(Page { seq, bytes: page_bytes(seq) })
    } else {
        EchoProtocol::Ask(Ask { seq, from: core as u32 })
    }
}

/// Sends `message`, waiting while the ring is full (the other side takes it: it answers one
/// message at a time).
fn send(
    channel: &mut BoundChannel<EchoProtocol>,
    message: &EchoProtocol,
    deadline: u64,
) -> Result<(), String> {
    while channel.send(message).is_err() {
        if userland::counter() > deadline {
            return Err("the channel stayed full".into());
        }
        core::hint::spin_loop();
    }
    Ok(())
}

/// `bind-by-name-echo` (see the module documentation).
pub fn bind_by_name_echo() -> Result<(), String> {
    let core = info(Info::CoreIndex).map_err(|e| format!("core index: {e:?}"))?;
    let count = info(Info::CoreCount).unwrap_or(1);
    let Some(target) = next_online(core, count) else { return Ok(()) }; // one core: nothing to bind to
    let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
    let deadline = userland::counter() + DEADLINE_SECONDS * frequency;
    let mut events = userland::event_loop(POLICY);
    events.bindings().export(echo_of(core)?, Some(1)).map_err(|e| format!("export: {e}"))?;
    let wanted = echo_of(target)?;
    let mut bind: BindId = events.bindings().bind(wanted);
    let mut retry: Option<TimerId> = None;
    let give_up = events.waitset().set_timer(deadline);
    // [client, server]: the channel this program bound, the one bound to it.
    let mut channels: [Option<BoundChannel<EchoProtocol>>; 2] = [None, None];
    let (mut sent, mut answered, mut echoed, mut binds) = (0u64, 0u64, 0u64, 1u32);
    while answered < ECHOES || echoed < ECHOES {
        match events.wait(&mut channels[..]) {
            Event::Bound(id, result) if id == bind => match result {
                Ok(binding) if binding.core as u64 == target => {
                    let mut channel = binding.into_channel();
                    send(&mut channel, &ask(0, core), deadline)?;
                    sent = 1;
                    channels[0] = Some(channel);
                }
                Ok(binding) => {
                    return Err(format!("{wanted} found on core {}, offered on {target}", binding.core))
                }
                Err(BindError::UnknownService) => {
                    retry = Some(
                        events
                            .waitset()
                            .set_timer(userland::counter() + RETRY_MILLISECONDS * frequency / 1000),
                    );
                }
                Err(e) => return Err(format!("bind {wanted} by name: {e}")),
            },
            Event::Timer(timer) if Some(timer) == retry => {
                retry = None;
                binds += 1;
                bind = events.bindings().bind(wanted);
            }
            Event::Timer(timer) if timer == give_up => {
                return Err(format!(
                    "after {DEADLINE_SECONDS} s: {answered} of {ECHOES} answered by core {target} ({binds} binds asked), {echoed} echoed for the core bound here"
                ));
            }
            Event::Incoming(binding) if channels[1].is_none() => channels[1] = Some(binding.into_channel()),
            Event::Incoming(binding) => {
                return Err(format!("a second binding ({binding:?}) to a one-binding export"))
            }
            Event::IncomingFailed(service, e) => return Err(format!("a binding to {service} failed: {e}")),
            Event::Message(1) => {
                let Some(server) = channels[1].as_mut() else { continue };
                let answer = match server.recv() {
                    Ok(EchoProtocol::Ask(ask)) => {
                        EchoProtocol::Answer(Answer { seq: ask.seq, from: core as u32 })
                    }
                    Ok(EchoProtocol::Page(mut page)) => {
                        page.bytes.reverse();
                        EchoProtocol::Page(page)
                    }
                    Ok(other) => return Err(format!("the client sent {other:?}")),
                    Err(urpc::interface::ChannelError::Empty) => continue, // part of a Page
                    Err(e) => return Err(format!("from the client: {e}")),
                };
                send(server, &answer, deadline)?;
                echoed += 1;
            }
            Event::Message(_) => {
                let Some(client) = channels[0].as_mut() else { continue };
                let seq = answered;
                match (client.recv(), ask(seq, core)) {
                    (Ok(EchoProtocol::Answer(answer)), EchoProtocol::Ask(_))
                        if answer.seq == seq && u64::from(answer.from) == target => {}
                    (Ok(EchoProtocol::Page(page)), EchoProtocol::Page(_)) if page.seq == seq => {
                        let mut expected = page_bytes(seq);
                        expected.reverse();
                        if page.bytes != expected {
                            return Err(format!("page {seq} came back as {:?}", &page.bytes[..8]));
                        }
                    }
                    (Err(urpc::interface::ChannelError::Empty), _) => continue,
                    (got, _) => return Err(format!("answer {seq}: {got:?}")),
                }
                answered += 1;
                if sent < ECHOES {
                    send(client, &ask(sent, core), deadline)?;
                    sent += 1;
                }
            }
            Event::Monitor(message) => {
                return Err(format!("an unexpected message from the monitor: {message:?}"))
            }
            other => return Err(format!("an unexpected event: {other:?}")),
        }
    }
    events.waitset().cancel(give_up);
    Ok(())
}

/// `bind-errors` (see the module documentation).
pub fn bind_errors() -> Result<(), String> {
    let core = info(Info::CoreIndex).map_err(|e| format!("core index: {e:?}"))?;
    let count = info(Info::CoreCount).unwrap_or(1);
    let mut events = userland::events::EventLoop::new(
        userland::ElZero,
        userland::ElZero,
        POLICY,
        userland::ElZero,
        ERROR_SPACE,
    );
    let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
    let give_up = events.waitset().set_timer(userland::counter() + DEADLINE_SECONDS * frequency);
    let expect = |events: &mut userland::EventLoop, id: BindId, what: &str, error: BindError| {
        let got = match events.wait_local() {
            Event::Bound(got, result) if got == id => result.map(|_| ()),
            Event::Timer(timer) if timer == give_up => return Err(format!("{what}: no answer")),
            other => return Err(format!("{what}: an unexpected event {other:?}")),
        };
        match got {
            Err(got) if got == error => Ok(()),
            got => Err(format!("{what}: {got:?}, expected {error:?}")),
        }
    };
    let nobody = Service::named("nosuch").ok_or("no name")?;
    let id = events.bindings().bind(nobody);
    expect(&mut events, id, "bind a service nobody offers", BindError::UnknownService)?;
    let Some(target) = next_online(core, count) else { return Ok(()) };
    let echo = echo_of(target)?;
    let id = events.bindings().bind_on(echo, count as u32);
    expect(&mut events, id, "bind on a core past the last", BindError::CoreOffline)?;
    let id = events.bindings().bind_on(echo, core as u32);
    expect(&mut events, id, "bind on this core", BindError::CoreOffline)?;
    if let Some(offline) = (0..count).find(|&c| userland::info_of(Info::CoreOnline, c) == Ok(0)) {
        let id = events.bindings().bind_on(echo, offline as u32);
        expect(&mut events, id, "bind on an offline core", BindError::CoreOffline)?;
    }
    // `bind-by-name-echo` bound to it already, and it takes one binding.
    let id = events.bindings().bind(echo);
    expect(&mut events, id, &format!("bind {echo} again"), BindError::Refused)?;
    Ok(())
}
