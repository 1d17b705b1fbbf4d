//! The same-core protocol between EL0 programs and their monitor: the three words the CPU
//! driver's `send_local` carries, as typed messages.
//!
//! Each message is declared with `urpc::declare_messages!` (through [`local_messages!`], which
//! also checks at compile time that its fields fit the two data words), so it has the URPC
//! typed layout cut to three words: word 0 the tag (the reserved header bytes zero), words 1
//! and 2 the fields, packed in order, the rest zero. [`words`] encodes one; [`decode`] turns
//! three words back into a message of an interface, refusing an unknown tag, non-zero reserved
//! or trailing bytes and a field out of range with the [`DecodeError`] that names it. The two
//! directions are two interfaces, [`ToMonitor`] and [`ToProgram`]: a message of the other
//! direction is an unknown tag to each decoder.
//!
//! The serial console's messages (the console driver's typed bytes, the shell's commands and
//! their answers) are in [`shell`]; a `spawn`, whose 16-byte program name fills both field
//! words, travels as two messages the monitor pairs ([`shell::Assembler`]).
//!
//! Tags: 1-22 and 64-65 the first protocol (numbers kept), 23-26 starting programs and closing
//! same-core bindings, 66-79 the runtime's bindings, 80-95 reserved for the same-core line
//! transport, 105-112 the console's and the shell's ([`shell`]; up to 119 kept for them),
//! 120-122 the wait comparison's.
#![no_std]
#![forbid(unsafe_code)]

pub mod bench;

use urpc::interface::{Field, FieldSink, FieldSource, Variant};
use urpc::message::DecodeError;
use urpc::Payload;

pub use bench::Failure;

/// Bytes of fields a three-word message carries (words 1 and 2).
pub const FIELD_BYTES: usize = 16;

/// Declares same-core messages: `urpc::declare_messages!`, plus a compile-time check that the
/// fields fit [`FIELD_BYTES`].
#[macro_export]
macro_rules! local_messages {
    ($(
        $(#[$meta:meta])*
        $vis:vis struct $name:ident = $tag:literal {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $type:ty),* $(,)?
        }
    )*) => {
        urpc::declare_messages! {
            $(
                $(#[$meta])*
                $vis struct $name = $tag { $($(#[$field_meta])* $field_vis $field: $type),* }
            )*
        }
        $(
            #[allow(unused_comparisons, clippy::absurd_extreme_comparisons)]
            const _: () = assert!(
                0 $(+ <$type as urpc::interface::Field>::BYTES)* <= $crate::FIELD_BYTES,
                concat!(stringify!($name), ": the fields do not fit a same-core message's two words")
            );
        )*
    };
}

pub mod shell;

/// The three words that carry `message`.
pub fn words<M: Variant>(message: &M) -> [u64; 3] {
    // Every declared message is one line whose fields fit words 1 and 2 (checked when it is
    // declared), so words 3 to 6 of its payload are zero.
    let payload = message.encode_one().unwrap_or(Payload::ZERO);
    [payload.word(0), payload.word(1), payload.word(2)]
}

/// The message of interface `I` that three words carry, or why they carry none.
pub fn decode<I: Variant>(words: [u64; 3]) -> Result<I, DecodeError> {
    let payload = Payload::from_words([words[0], words[1], words[2], 0, 0, 0, 0]);
    let tag = urpc::message::tag(&payload)?;
    I::decode_variant(tag, &[urpc::message::body(&payload)])
}

/// A service's name: up to eight bytes (ASCII letters, digits, `-` and `_`), zero-padded,
/// carried as one little-endian word. The empty name is no name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Service([u8; 8]);

impl Service {
    /// The service called `name`; `None` for an empty name, one over eight bytes or one with
    /// another character.
    pub const fn named(name: &str) -> Option<Service> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > 8 {
            return None;
        }
        let mut padded = [0u8; 8];
        let mut index = 0;
        while index < bytes.len() {
            let byte = bytes[index];
            if !(byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_') {
                return None;
            }
            padded[index] = byte;
            index += 1;
        }
        Some(Service(padded))
    }

    /// The service whose word is `word`, if it is a name [`Service::named`] makes.
    pub fn from_word(word: u64) -> Option<Service> {
        let bytes = word.to_le_bytes();
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(8);
        let name = core::str::from_utf8(&bytes[..len]).ok()?;
        // Bytes after the first zero must be zero too: one name, one word.
        Service::named(name).filter(|service| service.word() == word)
    }

    /// The word it travels as.
    pub const fn word(self) -> u64 {
        u64::from_le_bytes(self.0)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(8);
        // Only ASCII bytes are ever put in (`named`).
        core::str::from_utf8(&self.0[..len]).unwrap_or("?")
    }
}

impl core::fmt::Debug for Service {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Service({:?})", self.name())
    }
}

impl core::fmt::Display for Service {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// On the wire as its word; a word that is no name is refused.
impl Field for Service {
    const BYTES: usize = 8;
    fn put(&self, out: &mut impl FieldSink) {
        out.put_bytes(self.word(), 8);
    }
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
        Service::from_word(input.take_bytes(8)?).ok_or(DecodeError::InvalidField { field: "service" })
    }
}

/// Makes a service constant from a name known to be valid.
const fn service(name: &str) -> Service {
    match Service::named(name) {
        Some(service) => service,
        None => panic!("not a service name"),
    }
}

/// The `latency` program's service.
pub const SERVICE_LATENCY: Service = service("latency");
/// The `selftest` program's service.
pub const SERVICE_SELFTEST: Service = service("selftest");
/// `selftest`'s bind check's service.
pub const SERVICE_ECHO: Service = service("echo");
/// The program that gets this core's hotplug answers ([`HotplugDone`]).
pub const SERVICE_HOTPLUG: Service = service("hotplug");

/// Why a bind (or a span's step) did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BindStatus {
    /// No program offers the service (on the core named, or on any online core).
    NoService = 1,
    /// The core named is not online (or no core).
    NoCore = 2,
    /// The asking program has no channel RAM left (or none).
    NoMemory = 3,
    /// The bind was refused: the service takes no binding now, or the capability protocol
    /// refused the channel's Frame.
    Refused = 4,
    /// The program has a bind in flight already.
    Busy = 5,
}

impl BindStatus {
    /// Every status, in code order.
    pub const ALL: [BindStatus; 5] = [
        BindStatus::NoService,
        BindStatus::NoCore,
        BindStatus::NoMemory,
        BindStatus::Refused,
        BindStatus::Busy,
    ];

    /// How a bind (or a span's step) ended, as a message carries it: 0, or the status.
    pub fn code(result: Result<(), BindStatus>) -> u32 {
        result.err().map_or(0, |status| status as u32)
    }

    /// The status with code `code` (0 is success, not a status).
    pub fn from_code(code: u32) -> Option<BindStatus> {
        BindStatus::ALL.into_iter().find(|&status| status as u32 == code)
    }

    /// What it means, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            BindStatus::NoService => "no program offers the service",
            BindStatus::NoCore => "the core is not online",
            BindStatus::NoMemory => "no channel memory left",
            BindStatus::Refused => "the bind was refused",
            BindStatus::Busy => "a bind is in flight already",
        }
    }
}

/// How a step ended, as a field: code 0 done, else a [`BindStatus`]; other codes are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome(pub Result<(), BindStatus>);

impl Outcome {
    /// Done.
    pub const DONE: Outcome = Outcome(Ok(()));

    /// The outcome a status code from another monitor stands for (0 done); a code no status
    /// has counts as [`BindStatus::Refused`], the least that is true of a step that failed.
    pub fn from_code(code: u32) -> Outcome {
        match code {
            0 => Outcome::DONE,
            code => Outcome(Err(BindStatus::from_code(code).unwrap_or(BindStatus::Refused))),
        }
    }
}

impl From<Result<(), BindStatus>> for Outcome {
    fn from(result: Result<(), BindStatus>) -> Self {
        Outcome(result)
    }
}

impl Field for Outcome {
    const BYTES: usize = 4;
    fn put(&self, out: &mut impl FieldSink) {
        out.put_bytes(u64::from(BindStatus::code(self.0)), 4);
    }
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
        match input.take_bytes(4)? as u32 {
            0 => Ok(Outcome::DONE),
            code => BindStatus::from_code(code)
                .map(|status| Outcome(Err(status)))
                .ok_or(DecodeError::InvalidField { field: "outcome" }),
        }
    }
}

/// `latency`'s start argument: echo what the other same-core program sends (the same-core
/// transport's comparison; 80 to 95 are its numbers).
pub const SAME_CORE_ECHO: u64 = 83;
/// `latency`'s start argument: time round trips to the same-core echo.
pub const SAME_CORE_MEASURE: u64 = 84;
/// Where each same-core `latency` finds its Endpoint to the other (the monitor gives it):
/// the first free slot of a program's capability space (`syscall_abi::SLOT_FIRST_FREE`).
pub const SAME_CORE_PEER_SLOT: u32 = 16;
/// The badge of that Endpoint: the one each same-core program accepts messages from.
pub const SAME_CORE_PEER_BADGE: u64 = 0x7065_6572;

/// [`Bind::core`] for a bind by name alone: the monitor asks the other cores' monitors which
/// of them offers the service.
pub const ANY_CORE: u32 = u32::MAX;

/// Badges of the Endpoints of same-core bound channels start here (clear of the monitor's 0,
/// dispatcher indices and [`SAME_CORE_PEER_BADGE`]).
pub const BOUND_LINE_BADGE_BASE: u64 = 1 << 40;

/// The badge a program's same-core bound channel receives with, the channel whose Endpoint
/// to the peer is at `slot` of its capability space: the monitor badges the Endpoint it
/// gives the peer with it. Each side knows its own slot, so each knows its badge, and several
/// channels share the program's one kernel line queue without taking each other's lines.
pub const fn bound_line_badge(slot: u32) -> u64 {
    BOUND_LINE_BADGE_BASE | slot as u64
}

local_messages! {
    /// Program to monitor: it offers `service` (the monitor's name table).
    pub struct Register = 1 {
        /// The service.
        pub service: Service,
    }
    /// Monitor to `latency`: echo for core `peer`.
    pub struct Echo = 2 {
        /// Timed round trips.
        pub rounds: u64,
        /// The other core of the pair.
        pub peer: u32,
    }
    /// Monitor to `latency`: measure against core `peer`.
    pub struct Measure = 3 {
        /// Timed round trips.
        pub rounds: u64,
        /// The other core of the pair.
        pub peer: u32,
    }
    /// `latency` to its monitor: echoing for `peer`.
    pub struct Ready = 4 {
        /// The other core of the pair.
        pub peer: u32,
    }
    /// `latency` to its monitor: the figures against `peer`, every one non-zero (a measurement
    /// that cannot give one is a failure instead; the monitor checks).
    pub struct Measured = 5 {
        /// The other core of the pair.
        pub peer: u32,
        /// Median raw cache-line round trip.
        pub limit_ns: u32,
        /// Median URPC round trip.
        pub p50_ns: u32,
        /// 99th percentile URPC round trip.
        pub p99_ns: u32,
    }
    /// `latency` to its monitor: measuring against `peer` failed.
    pub struct FailedMeasuring = 6 {
        /// The other core of the pair.
        pub peer: u32,
        /// What went wrong.
        pub failure: Failure,
    }
    /// `latency` to its monitor: it cannot echo for `peer`.
    pub struct FailedEchoing = 7 {
        /// The other core of the pair.
        pub peer: u32,
        /// What went wrong.
        pub failure: Failure,
    }
    /// Monitor to `selftest`: its RAM capability is in place (at `SLOT_FIRST_RAM`).
    pub struct SelftestGo = 8 {}
    /// `selftest` to its monitor: all checks ran.
    pub struct SelftestDone = 9 {
        /// Checks that passed.
        pub passed: u32,
        /// Checks that failed.
        pub failed: u32,
    }
    /// Program to monitor: it offers `service` to other cores; the Frame of the next channel
    /// bound to it goes to `slot` of its capability space. One binding per `Accept`: the
    /// program accepts again (another slot) to take another.
    pub struct Accept = 10 {
        /// The service.
        pub service: Service,
        /// A slot of the program's capability space.
        pub slot: u32,
    }
    /// Program to monitor: bind a channel to `service` on core `core` ([`ANY_CORE`]: wherever
    /// it is offered, this core first, else the nearest core that offers it), the channel to
    /// go to `slot`: a URPC channel's Frame when the service is on another core, an Endpoint
    /// to the serving program (badged [`bound_line_badge`] of the server's slot) when it is on
    /// this core, for the kernel's line transport.
    pub struct Bind = 11 {
        /// The service.
        pub service: Service,
        /// The core.
        pub core: u32,
        /// A slot of the program's capability space.
        pub slot: u32,
    }
    /// Monitor to the program that asked to bind: done (the channel is at `slot`, the program
    /// is side A of it, the service is on `core`: this core means an Endpoint, another a
    /// Frame), or why not.
    pub struct Bound = 12 {
        /// The core.
        pub core: u32,
        /// A slot of the program's capability space.
        pub slot: u32,
        /// Done, or why not.
        pub outcome: Outcome,
    }
    /// Monitor to a program that accepts a service: core `core` bound a channel to it, at
    /// `slot` (the program is side B): a Frame from another core, an Endpoint to the binding
    /// program (badged [`bound_line_badge`] of its slot) from this core.
    pub struct BindIncoming = 13 {
        /// The core.
        pub core: u32,
        /// A slot of the program's capability space.
        pub slot: u32,
    }
    /// Program to monitor: start the boot module `program` (a name of at most eight bytes) on
    /// this core with start argument `argument`, as a program of this monitor (its Endpoint
    /// to the monitor, its bindings). Answered by [`Started`].
    pub struct Start = 23 {
        /// The boot module's name.
        pub program: Service,
        /// Its start argument.
        pub argument: u64,
    }
    /// Monitor to program: the [`Start`] of `program` ended: running as dispatcher
    /// `dispatcher`, or why not (`NoService`: no such boot module; `NoMemory`: no RAM or slot
    /// left for it; `Refused`: the spawn or its Endpoint refused).
    pub struct Started = 24 {
        /// The boot module's name.
        pub program: Service,
        /// Its dispatcher index (0 when it did not start).
        pub dispatcher: u32,
        /// Done, or why not.
        pub outcome: Outcome,
    }
    /// Program to monitor: close the same-core bound channel whose Endpoint is at `slot` of the
    /// program's capability space. The monitor revokes both programs' Endpoints (no line is
    /// sent either way after) and says [`Unbound`] to both; a slot with no same-core binding
    /// is ignored.
    pub struct Unbind = 25 {
        /// The program's slot.
        pub slot: u32,
    }
    /// Monitor to program: the same-core binding at `slot` is closed (by this program, or by
    /// the other side): its Endpoint there is gone; lines the other side sent before are still
    /// queued for it.
    pub struct Unbound = 26 {
        /// The program's slot.
        pub slot: u32,
    }
    /// Program to monitor: start this program on core `core` with argument `role` (a member of
    /// its span, in the same address space).
    pub struct Span = 14 {
        /// The core.
        pub core: u32,
        /// The member's argument.
        pub role: u32,
    }
    /// Monitor to the spanning program: the span to `core` is done, or why not.
    pub struct Spanned = 15 {
        /// The core.
        pub core: u32,
        /// Done, or why not.
        pub outcome: Outcome,
    }
    /// Spanning program to monitor: share a new page with the span at `entry` of every member's
    /// level-3 VNode, its Frame to `slot` here. Monitor to a member: map the Frame at `slot` at
    /// `entry`.
    pub struct SpanShare = 16 {
        /// The entry of the level-3 VNode.
        pub entry: u32,
        /// A slot of the program's capability space.
        pub slot: u32,
    }
    /// Monitor to the spanning program: every member was given the page (all or nothing).
    pub struct SpanShared = 17 {
        /// The entry of the level-3 VNode.
        pub entry: u32,
        /// Done, or why not.
        pub outcome: Outcome,
    }
    /// Spanning program to monitor: unmap the shared page everywhere, over a route of the
    /// member cores (`strategy` 0 unicast, 1 broadcast, 2 the SKB's tree).
    pub struct SpanUnshare = 18 {
        /// The entry of the level-3 VNode.
        pub entry: u32,
        /// The route: 0 unicast, 1 broadcast, 2 the SKB's tree.
        pub strategy: u32,
    }
    /// Monitor to the spanning program: the page is unmapped on every core of the span and its
    /// memory free again, in `elapsed_ns`.
    pub struct SpanUnshared = 19 {
        /// The entry of the level-3 VNode.
        pub entry: u32,
        /// Done, or why not.
        pub outcome: Outcome,
        /// Nanoseconds the agreement took.
        pub elapsed_ns: u64,
    }
    /// Monitor to the spanning program: the member on `core` ended with `status`
    /// (`dispatcher_status`), `far` the faulting address.
    pub struct SpanMemberEnded = 20 {
        /// The core.
        pub core: u32,
        /// The status code.
        pub status: u32,
        /// The faulting address.
        pub far: u64,
    }
    /// Spanning program to monitor: make the shared page read-only on every core of the span
    /// (route as for [`SpanUnshare`]).
    pub struct SpanProtect = 21 {
        /// The entry of the level-3 VNode.
        pub entry: u32,
        /// The route: 0 unicast, 1 broadcast, 2 the SKB's tree.
        pub strategy: u32,
    }
    /// Monitor to the spanning program: every copy and mapping of the page is read-only on
    /// every core of the span, in `elapsed_ns`.
    pub struct SpanProtected = 22 {
        /// The entry of the level-3 VNode.
        pub entry: u32,
        /// Done, or why not.
        pub outcome: Outcome,
        /// Nanoseconds the agreement took.
        pub elapsed_ns: u64,
    }
    /// Program to monitor: take `core` off (`on` false) or start it again; the answer comes as
    /// [`HotplugDone`] to the program registered as [`SERVICE_HOTPLUG`].
    pub struct Hotplug = 64 {
        /// The core.
        pub core: u32,
        /// Started again (true) or taken off.
        pub on: bool,
    }
    /// Monitor to program: the hotplug of `core` is done (`status` 0), or the refusal's code.
    pub struct HotplugDone = 65 {
        /// The core.
        pub core: u32,
        /// Started again (true) or taken off.
        pub on: bool,
        /// The status code.
        pub status: u32,
    }
    /// Monitor to each of the two same-core `latency` programs (started with
    /// [`SAME_CORE_ECHO`] and [`SAME_CORE_MEASURE`]): go, `rounds` round trips of each kind
    /// through the CPU driver's line transport and through `send_local`.
    pub struct SameCoreGo = 80 {
        /// Timed round trips of each kind.
        pub rounds: u64,
    }
    /// The measuring same-core `latency` to its monitor: round trips through the kernel line
    /// transport and through `send_local`, every figure non-zero.
    pub struct SameCoreResult = 81 {
        /// Median line round trip.
        pub line_p50_ns: u32,
        /// 99th percentile line round trip.
        pub line_p99_ns: u32,
        /// Median `send_local` round trip.
        pub send_local_p50_ns: u32,
        /// 99th percentile `send_local` round trip.
        pub send_local_p99_ns: u32,
    }
    /// The measuring same-core `latency` to its monitor: it could not measure.
    pub struct SameCoreFailed = 82 {
        /// What went wrong.
        pub failure: Failure,
    }
    /// Monitor to `latency`: echo for `peer` waiting and waking in wait mode `mode`
    /// (`urpc::WaitMode::code`), then report the wake SGIs raised in a last pong.
    pub struct EchoWaiting = 120 {
        /// The other core of the pair.
        pub peer: u32,
        /// Timed round trips.
        pub rounds: u32,
        /// The wait mode's code (`urpc::WaitMode::code`).
        pub mode: u8,
    }
    /// Monitor to `latency`: time `rounds` round trips against `peer` in wait mode `mode`.
    pub struct MeasureWaiting = 121 {
        /// The other core of the pair.
        pub peer: u32,
        /// Timed round trips.
        pub rounds: u32,
        /// The wait mode's code (`urpc::WaitMode::code`).
        pub mode: u8,
    }
    /// `latency` to its monitor: the mean round trip and the wake SGIs both sides raised per
    /// 10,000 messages.
    pub struct WaitResult = 122 {
        /// The other core of the pair.
        pub peer: u32,
        /// The wait mode's code (`urpc::WaitMode::code`).
        pub mode: u8,
        /// Mean round trip.
        pub rtt_ns: u32,
        /// Wake SGIs per 10,000 messages.
        pub sgis_per_10k: u32,
    }
}

urpc::declare_interface! {
    /// What a program says to its monitor.
    pub enum ToMonitor {
        /// See [`Register`].
        Register(Register),
        /// See [`Ready`].
        Ready(Ready),
        /// See [`Measured`].
        Measured(Measured),
        /// See [`FailedMeasuring`].
        FailedMeasuring(FailedMeasuring),
        /// See [`FailedEchoing`].
        FailedEchoing(FailedEchoing),
        /// See [`SelftestDone`].
        SelftestDone(SelftestDone),
        /// See [`Accept`].
        Accept(Accept),
        /// See [`Bind`].
        Bind(Bind),
        /// See [`Start`].
        Start(Start),
        /// See [`Unbind`].
        Unbind(Unbind),
        /// See [`Span`].
        Span(Span),
        /// See [`SpanShare`].
        SpanShare(SpanShare),
        /// See [`SpanUnshare`].
        SpanUnshare(SpanUnshare),
        /// See [`SpanProtect`].
        SpanProtect(SpanProtect),
        /// See [`Hotplug`].
        Hotplug(Hotplug),
        /// See [`WaitResult`].
        WaitResult(WaitResult),
        /// See [`SameCoreResult`].
        SameCoreResult(SameCoreResult),
        /// See [`SameCoreFailed`].
        SameCoreFailed(SameCoreFailed),
        /// See [`shell::Input`] (from the console driver).
        Input(shell::Input),
        /// See [`shell::Ask`].
        Ask(shell::Ask),
        /// See [`shell::Interrupt`].
        Interrupt(shell::Interrupt),
        /// See [`shell::StatsDone`].
        StatsDone(shell::StatsDone),
        /// See [`shell::SpawnOn`].
        SpawnOn(shell::SpawnOn),
        /// See [`shell::SpawnName`].
        SpawnName(shell::SpawnName),
    }
}

urpc::declare_interface! {
    /// What a monitor says to a program of its core.
    pub enum ToProgram {
        /// See [`Echo`].
        Echo(Echo),
        /// See [`Measure`].
        Measure(Measure),
        /// See [`SelftestGo`].
        SelftestGo(SelftestGo),
        /// See [`Bound`].
        Bound(Bound),
        /// See [`BindIncoming`].
        BindIncoming(BindIncoming),
        /// See [`Started`].
        Started(Started),
        /// See [`Unbound`].
        Unbound(Unbound),
        /// See [`Spanned`].
        Spanned(Spanned),
        /// See [`SpanShare`].
        SpanShare(SpanShare),
        /// See [`SpanShared`].
        SpanShared(SpanShared),
        /// See [`SpanUnshared`].
        SpanUnshared(SpanUnshared),
        /// See [`SpanMemberEnded`].
        SpanMemberEnded(SpanMemberEnded),
        /// See [`SpanProtected`].
        SpanProtected(SpanProtected),
        /// See [`HotplugDone`].
        HotplugDone(HotplugDone),
        /// See [`EchoWaiting`].
        EchoWaiting(EchoWaiting),
        /// See [`MeasureWaiting`].
        MeasureWaiting(MeasureWaiting),
        /// See [`SameCoreGo`].
        SameCoreGo(SameCoreGo),
        /// See [`shell::Input`] (to the shell).
        Input(shell::Input),
        /// See [`shell::Done`].
        Done(shell::Done),
        /// See [`shell::Stats`].
        Stats(shell::Stats),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips_through_three_words() {
        let to_monitor = [
            ToMonitor::Register(Register { service: SERVICE_LATENCY }),
            ToMonitor::Ready(Ready { peer: 3 }),
            ToMonitor::Measured(Measured { peer: 1, limit_ns: 2, p50_ns: 3, p99_ns: u32::MAX }),
            ToMonitor::FailedMeasuring(FailedMeasuring { peer: 2, failure: Failure::NoPong }),
            ToMonitor::FailedEchoing(FailedEchoing { peer: 2, failure: Failure::CoreDead }),
            ToMonitor::SelftestDone(SelftestDone { passed: 40, failed: 1 }),
            ToMonitor::Accept(Accept { service: SERVICE_ECHO, slot: 77 }),
            ToMonitor::Bind(Bind { service: SERVICE_ECHO, core: ANY_CORE, slot: 78 }),
            ToMonitor::Start(Start { program: SERVICE_ECHO, argument: u64::MAX }),
            ToMonitor::Unbind(Unbind { slot: 37 }),
            ToMonitor::Span(Span { core: 2, role: 0x104 }),
            ToMonitor::SpanShare(SpanShare { entry: 502, slot: 60 }),
            ToMonitor::SpanUnshare(SpanUnshare { entry: 502, strategy: 2 }),
            ToMonitor::SpanProtect(SpanProtect { entry: 502, strategy: 1 }),
            ToMonitor::Hotplug(Hotplug { core: 3, on: true }),
            ToMonitor::WaitResult(WaitResult { peer: 1, mode: 2, rtt_ns: 900, sgis_per_10k: 10_000 }),
        ];
        for message in to_monitor {
            assert_eq!(decode::<ToMonitor>(words(&message)), Ok(message));
        }
        let to_program = [
            ToProgram::Echo(Echo { rounds: u64::MAX, peer: 1 }),
            ToProgram::Measure(Measure { rounds: 10_000, peer: 0 }),
            ToProgram::SelftestGo(SelftestGo {}),
            ToProgram::Bound(Bound { core: 2, slot: 78, outcome: Outcome(Err(BindStatus::Busy)) }),
            ToProgram::BindIncoming(BindIncoming { core: 1, slot: 77 }),
            ToProgram::Unbound(Unbound { slot: 37 }),
            ToProgram::Started(Started {
                program: SERVICE_ECHO,
                dispatcher: 7,
                outcome: Outcome(Err(BindStatus::NoService)),
            }),
            ToProgram::Spanned(Spanned { core: 2, outcome: Outcome::DONE }),
            ToProgram::SpanShare(SpanShare { entry: 502, slot: 60 }),
            ToProgram::SpanShared(SpanShared { entry: 502, outcome: Outcome(Err(BindStatus::Refused)) }),
            ToProgram::SpanUnshared(SpanUnshared { entry: 1, outcome: Outcome::DONE, elapsed_ns: 1 << 40 }),
            ToProgram::SpanMemberEnded(SpanMemberEnded { core: 3, status: 2, far: 0xdead_b000 }),
            ToProgram::SpanProtected(SpanProtected { entry: 1, outcome: Outcome::DONE, elapsed_ns: 5 }),
            ToProgram::HotplugDone(HotplugDone { core: 3, on: false, status: 4 }),
            ToProgram::EchoWaiting(EchoWaiting { peer: 1, rounds: 5000, mode: 3 }),
            ToProgram::MeasureWaiting(MeasureWaiting { peer: 1, rounds: 5000, mode: 3 }),
        ];
        for message in to_program {
            assert_eq!(decode::<ToProgram>(words(&message)), Ok(message));
        }
    }

    #[test]
    fn the_layout_is_the_first_protocols_tag_word_then_the_fields() {
        assert_eq!(words(&SelftestGo {}), [8, 0, 0]);
        assert_eq!(words(&Ready { peer: 7 }), [4, 7, 0]);
        assert_eq!(
            words(&Accept { service: SERVICE_ECHO, slot: 9 }),
            [10, u64::from_le_bytes(*b"echo\0\0\0\0"), 9]
        );
        assert_eq!(words(&Hotplug { core: 3, on: true }), [64, 3 | 1 << 32, 0]);
    }

    #[test]
    fn malformed_and_unknown_words_are_refused_by_name() {
        assert_eq!(decode::<ToMonitor>([0, 0, 0]), Err(DecodeError::UnknownTag(0)));
        assert_eq!(decode::<ToMonitor>([99, 0, 0]), Err(DecodeError::UnknownTag(99)));
        // A message of the other direction is no message here.
        assert_eq!(decode::<ToMonitor>(words(&SelftestGo {})), Err(DecodeError::UnknownTag(8)));
        assert_eq!(decode::<ToProgram>(words(&Ready { peer: 1 })), Err(DecodeError::UnknownTag(4)));
        // A tag is the first word's low two bytes: a byte count above one is no tag.
        assert_eq!(decode::<ToMonitor>([105 | 3 << 8, 0, 0]), Err(DecodeError::UnknownTag(105 | 3 << 8)));
        assert_eq!(decode::<ToMonitor>([4 | 1 << 16, 7, 0]), Err(DecodeError::ReservedNotZero));
        assert_eq!(decode::<ToMonitor>([4, 7, 1]), Err(DecodeError::TrailingBytes));
        assert_eq!(decode::<ToMonitor>([4, 7 | 1 << 40, 0]), Err(DecodeError::TrailingBytes));
        assert_eq!(
            decode::<ToMonitor>([64, 3 | 2 << 32, 0]),
            Err(DecodeError::InvalidField { field: "bool" })
        );
        assert_eq!(
            decode::<ToMonitor>([6, 2 | 99 << 32, 0]),
            Err(DecodeError::InvalidField { field: "failure" })
        );
        assert_eq!(decode::<ToMonitor>([6, 2, 0]), Err(DecodeError::InvalidField { field: "failure" }));
        assert_eq!(decode::<ToProgram>([12, 2, 9]), Err(DecodeError::InvalidField { field: "outcome" }));
        assert_eq!(decode::<ToMonitor>([1, 0, 0]), Err(DecodeError::InvalidField { field: "service" }));
        let bad_name = u64::from_le_bytes(*b"ec\0ho\0\0\0");
        assert_eq!(
            decode::<ToMonitor>([1, bad_name, 0]),
            Err(DecodeError::InvalidField { field: "service" })
        );
        let space = u64::from_le_bytes(*b"ec ho\0\0\0");
        assert_eq!(decode::<ToMonitor>([1, space, 0]), Err(DecodeError::InvalidField { field: "service" }));
    }

    #[test]
    fn service_names() {
        assert_eq!(SERVICE_ECHO.name(), "echo");
        assert_eq!(SERVICE_SELFTEST.word(), u64::from_le_bytes(*b"selftest"));
        assert_eq!(Service::named("selftest").map(|s| s.name().len()), Some(8));
        assert_eq!(Service::named(""), None);
        assert_eq!(Service::named("ninebytes"), None);
        assert_eq!(Service::named("a b"), None);
        assert_eq!(Service::from_word(SERVICE_HOTPLUG.word()), Some(SERVICE_HOTPLUG));
        assert_eq!(std_format(SERVICE_LATENCY), "latency");
    }

    #[test]
    fn bind_statuses_round_trip() {
        for status in BindStatus::ALL {
            assert_eq!(BindStatus::from_code(status as u32), Some(status));
            assert_eq!(BindStatus::from_code(BindStatus::code(Err(status))), Some(status));
        }
        assert_eq!(BindStatus::from_code(0), None);
        assert_eq!(BindStatus::code(Ok(())), 0);
        assert_eq!(Outcome::from_code(0), Outcome::DONE);
        assert_eq!(Outcome::from_code(5), Outcome(Err(BindStatus::Busy)));
        assert_eq!(Outcome::from_code(77), Outcome(Err(BindStatus::Refused)));
    }

    fn std_format(service: Service) -> std::string::String {
        std::format!("{service}")
    }

    extern crate std;
}
