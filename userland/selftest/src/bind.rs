//! The binding checks, through the runtime's API (`userland::bind`, `userland::events`):
//!
//! - `bind-by-name-echo`: every core's `selftest` exports `echo-<core>` (one binding), then
//!   binds to `echo-<next online core>` by name alone: its monitor asks the other monitors,
//!   each answering from its own table, and binds to the core that offers it. The bound
//!   channel carries [`EchoProtocol`], a typed interface with a several-line message; each
//!   program answers the asks of the core bound to it while it sends [`ECHOES`] of its own and
//!   checks each answer. A service not offered yet (the other core still runs its checks) is
//!   asked again.
//! - `bind-errors`: a service nobody offers is `UnknownService`, on any core or on this one
//!   (`echo-<next>` is not offered here); starting a program the boot image lacks is
//!   `NoService`; a core that is not online (past the last core, an
//!   offline one) is `CoreOffline`; a second bind to `echo-<next>`, which takes one binding
//!   and has it, is `Refused`.
//! - `bind-same-core`: the program asks its monitor to start a second `selftest` on this core
//!   ([`local::Start`], role [`ROLE_SAME_CORE_PEER`]), which exports `near-<core>`; it binds to
//!   that by name alone, and the monitor, finding the service on its own core, binds them
//!   through the kernel's line transport (an Endpoint to each other, no shared memory): the
//!   binding must name this core and be a kernel channel. The same [`EchoProtocol`] exchange
//!   as across cores follows (pages of three lines among the asks). Then it sends one more ask
//!   and closes the binding at once (`Binder::close`: the monitor revokes both Endpoints),
//!   waits until its slot is free, binds again, gets the same slot, and exchanges ten more
//!   from sequence number 0 (so the unread answer of the closed binding, had it been kept,
//!   would fail the check); it closes that one too, and a third bind to the two-binding export
//!   is `Refused`. The peer closes its side each time the client did and ends after the second.

use alloc::format;
use alloc::string::String;

use local_protocol::{self as local, Service, ToProgram};
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
/// `selftest`'s start argument for the peer `bind-same-core` asks its monitor to start.
pub const ROLE_SAME_CORE_PEER: u64 = 6;
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

/// Sends `message`, waiting while the ring (or the peer's kernel line queue) is full: the
/// other side takes it, since it answers one message at a time. A peer on this core runs only
/// when this program gives up the core, so that wait yields.
fn send(
    channel: &mut BoundChannel<EchoProtocol>,
    message: &EchoProtocol,
    deadline: u64,
) -> Result<(), String> {
    while channel.send(message).is_err() {
        if let Some(refusal) = channel.transport().refusal() {
            return Err(format!("the kernel refused the send ({refusal:?})"));
        }
        if userland::counter() > deadline {
            return Err("the channel stayed full".into());
        }
        if channel.transport().is_kernel() {
            userland::yield_now();
        } else {
            core::hint::spin_loop();
        }
    }
    Ok(())
}

/// The server's answer to `message`: an [`Answer`] from `core` to an [`Ask`], a [`Page`]'s bytes
/// reversed.
fn answer_to(message: EchoProtocol, core: u64) -> Result<EchoProtocol, String> {
    match message {
        EchoProtocol::Ask(ask) => Ok(EchoProtocol::Answer(Answer { seq: ask.seq, from: core as u32 })),
        EchoProtocol::Page(mut page) => {
            page.bytes.reverse();
            Ok(EchoProtocol::Page(page))
        }
        other => Err(format!("the client sent {other:?}")),
    }
}

/// The client's step: takes the answer to its `seq`-th message (of `count`) from the server on
/// `server` and checks it, then sends the next message unless that was the last. False when
/// the channel had only part of a message.
fn take_answer(
    client: &mut BoundChannel<EchoProtocol>,
    seq: u64,
    count: u64,
    core: u64,
    server: u64,
    deadline: u64,
) -> Result<bool, String> {
    match client.recv() {
        Ok(got) => check_answer(got, seq, core, server)?,
        Err(urpc::interface::ChannelError::Empty) => return Ok(false),
        Err(e) => return Err(format!("answer {seq}: {e}")),
    }
    if seq + 1 < count {
        send(client, &ask(seq + 1, core), deadline)?;
    }
    Ok(true)
}

/// Checks `got`, the answer to the client's `seq`-th message, from the server on `server`.
fn check_answer(got: EchoProtocol, seq: u64, core: u64, server: u64) -> Result<(), String> {
    match (got, ask(seq, core)) {
        (EchoProtocol::Answer(answer), EchoProtocol::Ask(_))
            if answer.seq == seq && u64::from(answer.from) == server =>
        {
            Ok(())
        }
        (EchoProtocol::Page(page), EchoProtocol::Page(_)) if page.seq == seq => {
            let mut expected = page_bytes(seq);
            expected.reverse();
            if page.bytes != expected {
                return Err(format!("page {seq} came back as {:?}", &page.bytes[..8]));
            }
            Ok(())
        }
        (got, _) => Err(format!("answer {seq}: {got:?}")),
    }
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
    let (mut answered, mut echoed, mut binds) = (0u64, 0u64, 1u32);
    while answered < ECHOES || echoed < ECHOES {
        match events.wait(&mut channels[..]) {
            Event::Bound(id, result) if id == bind => match result {
                Ok(binding) if binding.core as u64 == target => {
                    let mut channel = binding.into_channel();
                    send(&mut channel, &ask(0, core), deadline)?;
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
                    Ok(message) => answer_to(message, core)?,
                    Err(urpc::interface::ChannelError::Empty) => continue, // part of a Page
                    Err(e) => return Err(format!("from the client: {e}")),
                };
                send(server, &answer, deadline)?;
                echoed += 1;
            }
            Event::Message(_) => {
                let Some(client) = channels[0].as_mut() else { continue };
                if take_answer(client, answered, ECHOES, core, target, deadline)? {
                    answered += 1;
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

/// An event loop whose bound channels go to [`ERROR_SPACE`] (`bind-same-core` uses it too: the
/// error check's binds all fail, so its slots are empty again after it).
fn error_space_event_loop() -> userland::EventLoop {
    userland::events::EventLoop::new(
        userland::ElZero,
        userland::ElZero,
        POLICY,
        userland::ElZero,
        ERROR_SPACE,
    )
}

/// `bind-errors` (see the module documentation).
pub fn bind_errors() -> Result<(), String> {
    let core = info(Info::CoreIndex).map_err(|e| format!("core index: {e:?}"))?;
    let count = info(Info::CoreCount).unwrap_or(1);
    let mut events = error_space_event_loop();
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
    // Starting a program the boot image does not hold is refused by name.
    events
        .tell_monitor(&local::Start { program: nobody, argument: 0 })
        .map_err(|e| format!("start: {e:?}"))?;
    match events.wait_local() {
        Event::Monitor(ToProgram::Started(started))
            if started.program == nobody
                && started.dispatcher == 0
                && started.outcome == local::Outcome(Err(local::BindStatus::NoService)) => {}
        other => return Err(format!("start {nobody}: {other:?}, expected NoService")),
    }
    let Some(target) = next_online(core, count) else { return Ok(()) };
    let echo = echo_of(target)?;
    let id = events.bindings().bind_on(echo, count as u32);
    expect(&mut events, id, "bind on a core past the last", BindError::CoreOffline)?;
    let id = events.bindings().bind_on(echo, core as u32);
    expect(&mut events, id, &format!("bind {echo} on this core"), BindError::UnknownService)?;
    if let Some(offline) = (0..count).find(|&c| userland::info_of(Info::CoreOnline, c) == Ok(0)) {
        let id = events.bindings().bind_on(echo, offline as u32);
        expect(&mut events, id, "bind on an offline core", BindError::CoreOffline)?;
    }
    // `bind-by-name-echo` bound to it already, and it takes one binding.
    let id = events.bindings().bind(echo);
    expect(&mut events, id, &format!("bind {echo} again"), BindError::Refused)?;
    Ok(())
}

/// The same-core peer's service on `core`.
fn near_of(core: u64) -> Result<Service, String> {
    Service::named(&format!("near-{core}")).ok_or(format!("no service name for core {core}"))
}

/// `bind-same-core` (see the module documentation).
pub fn bind_same_core() -> Result<(), String> {
    let core = info(Info::CoreIndex).map_err(|e| format!("core index: {e:?}"))?;
    let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
    let deadline = userland::counter() + DEADLINE_SECONDS * frequency;
    let mut events = error_space_event_loop();
    let give_up = events.waitset().set_timer(deadline);
    let program = Service::named("selftest").ok_or("no name")?;
    events
        .tell_monitor(&local::Start { program, argument: ROLE_SAME_CORE_PEER })
        .map_err(|e| format!("ask the monitor to start the peer: {e:?}"))?;
    match events.wait_local() {
        Event::Monitor(ToProgram::Started(started)) if started.program == program => {
            started.outcome.0.map_err(|e| format!("start the peer: {}", e.describe()))?
        }
        other => return Err(format!("start the peer: {other:?}")),
    }
    let wanted = near_of(core)?;
    let mut channels = [Some(bind_near(&mut events, wanted, core, give_up, frequency)?)];
    let first_slot = slot_of(&mut channels);
    exchange(&mut events, &mut channels, ECHOES, core, deadline, give_up)?;
    // One more ask, closed at once: the answer, if the peer sends it before the close, must
    // not reach the next binding at this slot.
    if let Some(channel) = channels[0].as_mut() {
        send(channel, &ask(ECHOES, core), deadline)?;
    }
    close_and_wait(&mut events, &mut channels, give_up)?;
    channels[0] = Some(bind_near(&mut events, wanted, core, give_up, frequency)?);
    let slot = slot_of(&mut channels);
    if slot != first_slot {
        return Err(format!("the second binding took slot {slot:?}, not the freed {first_slot:?}"));
    }
    exchange(&mut events, &mut channels, ECHOES_AGAIN, core, deadline, give_up)?;
    close_and_wait(&mut events, &mut channels, give_up)?;
    let id = events.bindings().bind(wanted);
    let again = match events.wait_local() {
        Event::Bound(got, result) if got == id => result.map(|_| ()),
        Event::Timer(timer) if timer == give_up => return Err(format!("bind {wanted} again: no answer")),
        other => return Err(format!("bind {wanted} again: an unexpected event {other:?}")),
    };
    if again != Err(BindError::Refused) {
        return Err(format!(
            "bind {wanted} a third time (two bindings, both used): {again:?}, expected Refused"
        ));
    }
    events.waitset().cancel(give_up);
    Ok(())
}

/// Messages of the second same-core binding.
const ECHOES_AGAIN: u64 = 10;

/// Binds to `wanted` by name (asked again while nobody offers it yet): the channel, which
/// must be a kernel channel to this core.
fn bind_near(
    events: &mut userland::EventLoop,
    wanted: Service,
    core: u64,
    give_up: TimerId,
    frequency: u64,
) -> Result<BoundChannel<EchoProtocol>, String> {
    let mut bind = events.bindings().bind(wanted);
    let mut retry: Option<TimerId> = None;
    let mut binds = 1;
    loop {
        match events.wait_local() {
            Event::Bound(id, result) if id == bind => match result {
                Ok(binding) if binding.core as u64 == core && binding.is_same_core() => {
                    return Ok(binding.into_channel())
                }
                Ok(binding) => {
                    return Err(format!(
                        "{wanted} bound on core {} (same-core transport: {})",
                        binding.core,
                        binding.is_same_core()
                    ))
                }
                Err(BindError::UnknownService) => {
                    // The peer has not exported yet.
                    let at = userland::counter() + RETRY_MILLISECONDS * frequency / 1000;
                    retry = Some(events.waitset().set_timer(at));
                }
                Err(e) => return Err(format!("bind {wanted} by name: {e}")),
            },
            Event::Timer(timer) if Some(timer) == retry => {
                binds += 1;
                bind = events.bindings().bind(wanted);
            }
            Event::Timer(timer) if timer == give_up => {
                return Err(format!(
                    "bind {wanted}: no binding after {DEADLINE_SECONDS} s ({binds} binds asked)"
                ))
            }
            other => return Err(format!("bind {wanted}: an unexpected event {other:?}")),
        }
    }
}

/// The slot of the one channel of `channels`, if there is one.
fn slot_of(channels: &mut [Option<BoundChannel<EchoProtocol>>; 1]) -> Option<u32> {
    channels[0].as_mut().map(|channel| channel.transport().slot())
}

/// `count` asks on the one channel of `channels`, each answer checked (sequence numbers from 0:
/// a stale line from an earlier binding would be caught).
fn exchange(
    events: &mut userland::EventLoop,
    channels: &mut [Option<BoundChannel<EchoProtocol>>; 1],
    count: u64,
    core: u64,
    deadline: u64,
    give_up: TimerId,
) -> Result<(), String> {
    let Some(channel) = channels[0].as_mut() else { return Err("no channel".into()) };
    send(channel, &ask(0, core), deadline)?;
    let mut answered = 0;
    while answered < count {
        match events.wait(&mut channels[..]) {
            Event::Message(0) => {
                let Some(channel) = channels[0].as_mut() else { return Err("no channel".into()) };
                if take_answer(channel, answered, count, core, core, deadline)? {
                    answered += 1;
                }
            }
            Event::Timer(timer) if timer == give_up => {
                return Err(format!("after {DEADLINE_SECONDS} s: {answered} of {count} answered"))
            }
            other => return Err(format!("an unexpected event: {other:?}")),
        }
    }
    Ok(())
}

/// Closes the same-core channel of `channels` and waits until its slot is free again.
fn close_and_wait(
    events: &mut userland::EventLoop,
    channels: &mut [Option<BoundChannel<EchoProtocol>>; 1],
    give_up: TimerId,
) -> Result<(), String> {
    let Some(mut channel) = channels[0].take() else { return Err("no channel to close".into()) };
    let slot = channel.transport().slot();
    events.bindings().close(channel).map_err(|(e, _)| format!("close: {e}"))?;
    match events.wait_local() {
        Event::Closed { slot: closed, by_peer: false } if closed == slot => Ok(()),
        Event::Timer(timer) if timer == give_up => Err(format!("close slot {slot}: never confirmed")),
        other => Err(format!("close slot {slot}: an unexpected event {other:?}")),
    }
}

/// The peer `bind-same-core` starts: exports `near-<core>` for two bindings, answers every
/// message on each until the other side closes it, closes its side then, and ends after the
/// second (0; else an exit code, and a `FAILED` line the system test sees).
pub fn same_core_peer() -> u64 {
    let core = info(Info::CoreIndex).unwrap_or(u64::MAX);
    let fail = |code: u64, why: String| {
        userland::println!("selftest peer on core {core}: FAILED {why}");
        code
    };
    let Ok(service) = near_of(core) else { return fail(2, "no service name".into()) };
    let mut events = userland::event_loop(POLICY);
    if let Err(e) = events.bindings().export(service, Some(2)) {
        return fail(3, format!("export {service}: {e}"));
    }
    let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
    let deadline = userland::counter() + DEADLINE_SECONDS * frequency;
    let give_up = events.waitset().set_timer(deadline);
    let mut channels: [Option<BoundChannel<EchoProtocol>>; 1] = [None];
    let mut closed = 0;
    while closed < 2 {
        match events.wait(&mut channels[..]) {
            Event::Incoming(binding) if binding.is_same_core() && channels[0].is_none() => {
                channels[0] = Some(binding.into_channel())
            }
            Event::Incoming(binding) => {
                return fail(4, format!("{binding:?}: not a same-core channel, or a second at once"))
            }
            Event::Message(0) => {
                let Some(server) = channels[0].as_mut() else { continue };
                let answer = match server.recv().map_err(|e| format!("{e}")).and_then(|m| answer_to(m, core))
                {
                    Ok(answer) => answer,
                    Err(why) => return fail(5, why),
                };
                // Refused: the client closed the binding meanwhile (its last ask is not answered).
                if let Err(why) = send(server, &answer, deadline) {
                    if server.transport().refusal().is_none() {
                        return fail(6, why);
                    }
                }
            }
            Event::Closed { slot, by_peer: true } => {
                let Some(mut server) = channels[0].take() else {
                    return fail(7, format!("slot {slot} closed, no channel"));
                };
                if server.transport().slot() != slot {
                    return fail(
                        7,
                        format!("slot {slot} closed, the channel is at {}", server.transport().slot()),
                    );
                }
                if let Err((e, _)) = events.bindings().close(server) {
                    return fail(8, format!("close slot {slot}: {e}"));
                }
                closed += 1;
            }
            Event::Timer(timer) if timer == give_up => {
                return fail(9, format!("after {DEADLINE_SECONDS} s: {closed} of 2 bindings closed"))
            }
            other => return fail(10, format!("an unexpected event: {other:?}")),
        }
    }
    0
}
