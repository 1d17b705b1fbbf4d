//! What monitors say to each other over the monitor channels (tags 64-79; 72-76 are the
//! capability protocol's, `capops::wire`).
//!
//! A benchmark pair ends in exactly one of [`BenchResult`] (figures, all of them non-zero)
//! or [`BenchFailed`] (why there are none): a failure is said, never encoded as a zero figure.

use urpc::message::{Body, BodyReader, BodyWriter, DecodeError, Message};
use urpc::Payload;

use crate::bench::Failure;

/// A monitor introduces itself; the boot core's monitor also says which cores are online
/// (bit n = core n), so the others know whom to bind to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The sending core.
    pub from: u32,
    /// Online cores, as the boot core's roll call found them.
    pub online: u64,
}

/// A monitor has bound its channels to `peers` other monitors (sent to the boot core's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// The sending core.
    pub from: u32,
    /// How many peers answered its hello.
    pub peers: u32,
}

/// Coordinator to a monitor: have your `latency` dispatcher echo for core `initiator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchEcho {
    /// The core that will measure.
    pub initiator: u32,
    /// Round trips after the warm-up.
    pub rounds: u32,
}

/// A monitor to the coordinator: my `latency` dispatcher is echoing for `initiator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchReady {
    /// The echoing core.
    pub core: u32,
    /// For whom.
    pub initiator: u32,
}

/// Coordinator to a monitor: have your `latency` dispatcher measure against core `peer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchMeasure {
    /// The echoing core.
    pub peer: u32,
    /// Round trips after the warm-up.
    pub rounds: u32,
}

/// One measured ordered pair (from the measuring core's monitor to the coordinator, and from
/// the coordinator to every monitor, which records it in its SKB replica). Decoding refuses a
/// zero figure and a p99 below the p50: neither is a measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchResult {
    /// The measuring core.
    pub from: u32,
    /// The echoing core.
    pub to: u32,
    /// Median URPC round trip.
    pub p50_ns: u32,
    /// 99th percentile URPC round trip.
    pub p99_ns: u32,
    /// Median raw cache-line round trip on the same pair.
    pub limit_ns: u32,
}

/// One ordered pair that has no measurement, and why (to the coordinator, from the monitor of
/// whichever side failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchFailed {
    /// The measuring core.
    pub from: u32,
    /// The echoing core.
    pub to: u32,
    /// What went wrong.
    pub failure: Failure,
}

/// A core's `selftest` finished (from its monitor to the boot core's): how many checks passed
/// and failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelftestDone {
    /// The core that ran it.
    pub core: u32,
    /// Checks that passed.
    pub passed: u32,
    /// Checks that failed.
    pub failed: u32,
}

/// The boot core's capability exercise (selftest runs): a core says how a step went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExerciseReport {
    /// The reporting core.
    pub core: u32,
    /// Which step ([`EXERCISE_RETYPED`], [`EXERCISE_HELD`]).
    pub step: u32,
    /// The step's figure.
    pub value: u32,
}

/// The boot core's capability exercise: how many capabilities inside `[base, base + size)`
/// does the receiving core hold? (answered with an [`ExerciseReport`] of [`EXERCISE_HELD`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExerciseQuery {
    /// First byte.
    pub base: u64,
    /// Bytes.
    pub size: u64,
}

/// The random exercise: run `operations` random capability operations (seeded by `seed` and
/// the core's index), then report [`EXERCISE_RANDOM_DONE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExerciseRandom {
    /// The run's seed.
    pub seed: u64,
    /// Operations each core starts.
    pub operations: u32,
}

/// The random exercise: report every capability of the protocol's slots to core `to` (one
/// [`ExerciseHolding`] each, then [`EXERCISE_HOLDINGS`] with the count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExerciseListHoldings {
    /// The core collecting them.
    pub to: u32,
}

/// One capability a core holds (see `holdings::Holding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExerciseHolding {
    /// The holding core.
    pub core: u32,
    /// Type number.
    pub kind: u32,
    /// First byte.
    pub base: u64,
    /// Bytes.
    pub size: u64,
    /// The owning core.
    pub owner: u32,
}

/// A program on the sending core spans to the receiving core: start the same boot module there
/// with argument `role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanRequest {
    /// The spanning program's dispatcher index on the sending core.
    pub client: u32,
    /// The boot module's name (up to 8 bytes, as a service identifier).
    pub module: u64,
    /// The member's argument.
    pub role: u32,
    /// Base of the program's image, whose Frame capability was transferred just before: the
    /// member maps it (one address space).
    pub image_base: u64,
}

/// The answer to a [`SpanRequest`] (status 0 or a `BindStatus` code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanReply {
    /// The spanning program.
    pub client: u32,
    /// 0 or a `BindStatus` code.
    pub status: u32,
}

/// The spanning program shares a page, phase one (prepare): the Frame transferred just before
/// (named by its base) is kept by the member's monitor, not yet given; the answer is a
/// [`SpanShareDone`]. Phase two is [`SpanShareCommit`] once every member core prepared, or the
/// revoke round, which sweeps the kept copies, once one could not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanShare {
    /// The spanning program.
    pub client: u32,
    /// The VNode entry.
    pub entry: u32,
    /// Physical base of the Frame.
    pub frame_base: u64,
}

/// The answer to a [`SpanShare`]: prepared (0) or why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanShareDone {
    /// The spanning program.
    pub client: u32,
    /// The VNode entry.
    pub entry: u32,
    /// 0 or a `BindStatus` code.
    pub status: u32,
}

/// Every member core prepared the share: give the kept Frame to the member, to map at `entry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanShareCommit {
    /// The spanning program.
    pub client: u32,
    /// The VNode entry.
    pub entry: u32,
}

/// Still alive (the membership's heartbeat: every 50 ms to each live peer that got no other
/// membership message meanwhile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The sender.
    pub from: u32,
}

/// A step of a membership round removing the cores in `suspects` (`crate::membership`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MembershipStep {
    /// The round.
    pub round: u32,
    /// `agreement::wire::phase_code` of its phase.
    pub phase: u8,
    /// 0 request, 1 answer no, 2 answer yes.
    pub kind: u8,
    /// The cores the round would remove, a bit each.
    pub suspects: u64,
}

/// The receiving core was removed from the membership: it must stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evicted {
    /// The core that says so.
    pub by: u32,
}

/// A numbered message the receiving monitor sends straight back ([`ProbeEcho`]): after faults,
/// the boot core's monitor checks that none between survivors is lost or duplicated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Its number.
    pub seq: u32,
}

/// The answer to a [`Probe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeEcho {
    /// The probe's number.
    pub seq: u32,
}

/// A member of a span ended (its dispatcher exited or faulted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanMemberEnded {
    /// The spanning program.
    pub client: u32,
    /// `dispatcher_status`'s status.
    pub status: u32,
    /// The faulting address (0 when it exited).
    pub far: u64,
}

/// [`ExerciseReport::step`]: the random operations ended; value: problems found (requests that
/// never ended, mappings that outlived their capability).
pub const EXERCISE_RANDOM_DONE: u32 = 3;
/// [`ExerciseReport::step`]: value: how many [`ExerciseHolding`]s the core sent.
pub const EXERCISE_HOLDINGS: u32 = 4;

/// [`ExerciseReport::step`]: the retype this core asked of the owner ended; value: bit 0 it
/// succeeded, bit 1 the local retype and revoke of the foreign copy were refused as `NotOwner`.
pub const EXERCISE_RETYPED: u32 = 1;
/// [`ExerciseReport::step`]: value is how many capabilities the core holds inside the asked
/// range.
pub const EXERCISE_HELD: u32 = 2;

/// A program on the sending core binds a channel to `service` on the receiving core; the
/// channel's Frame was transferred just before (same channel, so it arrived first) and is
/// named by its base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindRequest {
    /// The service.
    pub service: u64,
    /// The asking program's dispatcher index on the sending core.
    pub client: u32,
    /// Physical base of the channel's Frame.
    pub frame_base: u64,
}

/// The answer to a [`BindRequest`]: status 0 when the service's program got the Frame, else a
/// `local::BindStatus` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindReply {
    /// The asking program's dispatcher index (as in the request).
    pub client: u32,
    /// 0 or a `BindStatus` code.
    pub status: u32,
}

/// The shell's host (the boot core's monitor) asks another core's monitor to act for a
/// command: `op` one of [`shell_op`], `a` and `b` its arguments. The asked monitor prints its
/// part of the answer itself and says [`ShellDone`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShellAsk {
    /// What to do ([`shell_op`]).
    pub op: u32,
    /// First argument.
    pub a: u64,
    /// Second argument.
    pub b: u64,
}

/// What a [`ShellAsk`] asks.
pub mod shell_op {
    /// Print this core's programs.
    pub const PS: u32 = 1;
    /// Spawn the program named by the 16 bytes of `a` and `b` (little-endian, NUL padded).
    pub const SPAWN: u32 = 2;
    /// Stop this core's program with dispatcher index `a`.
    pub const KILL: u32 = 3;
    /// Time `b` round trips to core `a`'s monitor and print them.
    pub const PING: u32 = 4;
    /// Print this core's channel counts.
    pub const CHANNELS: u32 = 5;
    /// Make sure this core's `latency` program runs (for `bench latency`).
    pub const LATENCY: u32 = 6;
    /// Ctrl-C: stop what the last `ShellAsk` started (no `ShellDone` for this one).
    pub const INTERRUPT: u32 = 7;
}

/// A monitor has done what a [`ShellAsk`] asked (printed its part): `status` 0, or 1 when it
/// could not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShellDone {
    /// The answering core.
    pub from: u32,
    /// 0 done, 1 failed (the reason is printed).
    pub status: u32,
}

/// One round trip of the shell's `ping`: the pinged monitor answers [`ShellPong`] at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShellPing {
    /// Sequence number, echoed.
    pub seq: u32,
}

/// The answer to a [`ShellPing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShellPong {
    /// The ping's sequence number.
    pub seq: u32,
}

macro_rules! message {
    ($type:ident, $tag:expr, [$($field:ident: $kind:ident),*]) => {
        impl Message for $type {
            const TAG: u16 = $tag;
            fn encode(&self, body: &mut Body) {
                let mut writer = BodyWriter::new(body);
                $(writer.$kind(self.$field);)*
            }
            fn decode(body: &Body) -> Result<Self, DecodeError> {
                let mut reader = BodyReader::new(body);
                let message = $type { $($field: reader.$kind()?),* };
                reader.finish()?;
                Ok(message)
            }
        }
    };
}

message!(Hello, 64, [from: u32, online: u64]);
message!(Bound, 65, [from: u32, peers: u32]);
message!(BenchEcho, 66, [initiator: u32, rounds: u32]);
message!(BenchReady, 67, [core: u32, initiator: u32]);
message!(BenchMeasure, 68, [peer: u32, rounds: u32]);
message!(SelftestDone, 71, [core: u32, passed: u32, failed: u32]);
// 72-76: the capability protocol (`capops::wire`).
message!(ExerciseReport, 77, [core: u32, step: u32, value: u32]);
message!(ExerciseQuery, 78, [base: u64, size: u64]);
message!(BindRequest, 79, [service: u64, client: u32, frame_base: u64]);
// 80: agreement's `Msg` (`agreement::wire`).
message!(BindReply, 81, [client: u32, status: u32]);
message!(ExerciseRandom, 82, [seed: u64, operations: u32]);
message!(ExerciseListHoldings, 83, [to: u32]);
message!(ExerciseHolding, 84, [core: u32, kind: u32, base: u64, size: u64, owner: u32]);
message!(SpanRequest, 85, [client: u32, module: u64, role: u32, image_base: u64]);
message!(SpanReply, 86, [client: u32, status: u32]);
message!(SpanShare, 87, [client: u32, entry: u32, frame_base: u64]);
message!(SpanShareDone, 88, [client: u32, entry: u32, status: u32]);
message!(SpanMemberEnded, 89, [client: u32, status: u32, far: u64]);
message!(SpanShareCommit, 90, [client: u32, entry: u32]);
message!(Heartbeat, 91, [from: u32]);
message!(MembershipStep, 92, [round: u32, phase: u8, kind: u8, suspects: u64]);
message!(Evicted, 93, [by: u32]);
message!(Probe, 94, [seq: u32]);
message!(ProbeEcho, 95, [seq: u32]);
message!(ShellAsk, 105, [op: u32, a: u64, b: u64]);
message!(ShellDone, 106, [from: u32, status: u32]);
message!(ShellPing, 107, [seq: u32]);
message!(ShellPong, 108, [seq: u32]);

impl MembershipStep {
    /// The wire form of a membership message (`None` for the heartbeat and the eviction, which
    /// have messages of their own).
    pub fn from_wire(wire: crate::membership::Wire) -> Option<MembershipStep> {
        use agreement::node::Kind;
        let crate::membership::Wire::Round { msg, suspects } = wire else { return None };
        let kind = match msg.kind {
            Kind::Request => 0,
            Kind::Answer { yes: false } => 1,
            Kind::Answer { yes: true } => 2,
        };
        Some(MembershipStep {
            round: msg.round,
            phase: agreement::wire::phase_code(msg.phase),
            kind,
            suspects,
        })
    }

    /// Back to the protocol's form; a malformed step is refused.
    pub fn to_wire(self) -> Result<crate::membership::Wire, DecodeError> {
        use agreement::node::{Kind, Msg};
        let phase = agreement::wire::phase_of(self.phase)?;
        let kind = match self.kind {
            0 => Kind::Request,
            1 => Kind::Answer { yes: false },
            2 => Kind::Answer { yes: true },
            _ => return Err(DecodeError::InvalidField { field: "kind" }),
        };
        Ok(crate::membership::Wire::Round {
            msg: Msg { round: self.round, phase, kind },
            suspects: self.suspects,
        })
    }
}

impl Message for BenchResult {
    const TAG: u16 = 69;
    fn encode(&self, body: &mut Body) {
        let mut writer = BodyWriter::new(body);
        writer.u32(self.from).u32(self.to).u32(self.p50_ns).u32(self.p99_ns).u32(self.limit_ns);
    }
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        let mut reader = BodyReader::new(body);
        let (from, to) = (reader.u32()?, reader.u32()?);
        let (p50_ns, p99_ns, limit_ns) = (reader.u32()?, reader.u32()?, reader.u32()?);
        reader.finish()?;
        let result = BenchResult { from, to, p50_ns, p99_ns, limit_ns };
        result.check()?;
        Ok(result)
    }
}

impl BenchResult {
    /// Whether the figures can be a measurement: none is zero, and the p99 is not below the
    /// p50. The field that is not is the error.
    pub fn check(&self) -> Result<(), DecodeError> {
        if self.p50_ns == 0 {
            return Err(DecodeError::InvalidField { field: "p50_ns" });
        }
        if self.p99_ns < self.p50_ns {
            return Err(DecodeError::InvalidField { field: "p99_ns" });
        }
        if self.limit_ns == 0 {
            return Err(DecodeError::InvalidField { field: "limit_ns" });
        }
        Ok(())
    }
}

impl Message for BenchFailed {
    const TAG: u16 = 70;
    fn encode(&self, body: &mut Body) {
        BodyWriter::new(body).u32(self.from).u32(self.to).u32(self.failure.code());
    }
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        let mut reader = BodyReader::new(body);
        let (from, to, code) = (reader.u32()?, reader.u32()?, reader.u32()?);
        reader.finish()?;
        let failure = Failure::from_code(code).ok_or(DecodeError::InvalidField { field: "failure" })?;
        Ok(BenchFailed { from, to, failure })
    }
}

/// Any monitor message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorMessage {
    /// See [`Hello`].
    Hello(Hello),
    /// See [`Bound`].
    Bound(Bound),
    /// See [`BenchEcho`].
    BenchEcho(BenchEcho),
    /// See [`BenchReady`].
    BenchReady(BenchReady),
    /// See [`BenchMeasure`].
    BenchMeasure(BenchMeasure),
    /// See [`BenchResult`].
    BenchResult(BenchResult),
    /// See [`BenchFailed`].
    BenchFailed(BenchFailed),
    /// See [`SelftestDone`].
    SelftestDone(SelftestDone),
    /// A capability protocol message (`capops`).
    Capability(capops::Message),
    /// See [`ExerciseReport`].
    ExerciseReport(ExerciseReport),
    /// See [`ExerciseQuery`].
    ExerciseQuery(ExerciseQuery),
    /// See [`BindRequest`].
    BindRequest(BindRequest),
    /// See [`BindReply`].
    BindReply(BindReply),
    /// See [`ExerciseRandom`].
    ExerciseRandom(ExerciseRandom),
    /// See [`ExerciseListHoldings`].
    ExerciseListHoldings(ExerciseListHoldings),
    /// See [`ExerciseHolding`].
    ExerciseHolding(ExerciseHolding),
    /// See [`SpanRequest`].
    SpanRequest(SpanRequest),
    /// See [`SpanReply`].
    SpanReply(SpanReply),
    /// See [`SpanShare`].
    SpanShare(SpanShare),
    /// See [`SpanShareDone`].
    SpanShareDone(SpanShareDone),
    /// See [`SpanMemberEnded`].
    SpanMemberEnded(SpanMemberEnded),
    /// See [`SpanShareCommit`].
    SpanShareCommit(SpanShareCommit),
    /// See [`Heartbeat`].
    Heartbeat(Heartbeat),
    /// See [`MembershipStep`].
    MembershipStep(MembershipStep),
    /// See [`Evicted`].
    Evicted(Evicted),
    /// See [`Probe`].
    Probe(Probe),
    /// See [`ProbeEcho`].
    ProbeEcho(ProbeEcho),
    /// See [`ShellAsk`].
    ShellAsk(ShellAsk),
    /// See [`ShellDone`].
    ShellDone(ShellDone),
    /// See [`ShellPing`].
    ShellPing(ShellPing),
    /// See [`ShellPong`].
    ShellPong(ShellPong),
}

impl MonitorMessage {
    /// Decodes whatever arrived; malformed or unknown lines are errors, never trusted.
    pub fn decode(payload: &Payload) -> Result<Self, DecodeError> {
        let body = &urpc::message::body(payload);
        Ok(match urpc::message::tag(payload)? {
            Hello::TAG => MonitorMessage::Hello(Hello::decode(body)?),
            Bound::TAG => MonitorMessage::Bound(Bound::decode(body)?),
            BenchEcho::TAG => MonitorMessage::BenchEcho(BenchEcho::decode(body)?),
            BenchReady::TAG => MonitorMessage::BenchReady(BenchReady::decode(body)?),
            BenchMeasure::TAG => MonitorMessage::BenchMeasure(BenchMeasure::decode(body)?),
            BenchResult::TAG => MonitorMessage::BenchResult(BenchResult::decode(body)?),
            BenchFailed::TAG => MonitorMessage::BenchFailed(BenchFailed::decode(body)?),
            SelftestDone::TAG => MonitorMessage::SelftestDone(SelftestDone::decode(body)?),
            ExerciseReport::TAG => MonitorMessage::ExerciseReport(ExerciseReport::decode(body)?),
            ExerciseQuery::TAG => MonitorMessage::ExerciseQuery(ExerciseQuery::decode(body)?),
            BindRequest::TAG => MonitorMessage::BindRequest(BindRequest::decode(body)?),
            BindReply::TAG => MonitorMessage::BindReply(BindReply::decode(body)?),
            ExerciseRandom::TAG => MonitorMessage::ExerciseRandom(ExerciseRandom::decode(body)?),
            ExerciseListHoldings::TAG => {
                MonitorMessage::ExerciseListHoldings(ExerciseListHoldings::decode(body)?)
            }
            ExerciseHolding::TAG => MonitorMessage::ExerciseHolding(ExerciseHolding::decode(body)?),
            SpanRequest::TAG => MonitorMessage::SpanRequest(SpanRequest::decode(body)?),
            SpanReply::TAG => MonitorMessage::SpanReply(SpanReply::decode(body)?),
            SpanShare::TAG => MonitorMessage::SpanShare(SpanShare::decode(body)?),
            SpanShareDone::TAG => MonitorMessage::SpanShareDone(SpanShareDone::decode(body)?),
            SpanMemberEnded::TAG => MonitorMessage::SpanMemberEnded(SpanMemberEnded::decode(body)?),
            SpanShareCommit::TAG => MonitorMessage::SpanShareCommit(SpanShareCommit::decode(body)?),
            Heartbeat::TAG => MonitorMessage::Heartbeat(Heartbeat::decode(body)?),
            MembershipStep::TAG => MonitorMessage::MembershipStep(MembershipStep::decode(body)?),
            Evicted::TAG => MonitorMessage::Evicted(Evicted::decode(body)?),
            Probe::TAG => MonitorMessage::Probe(Probe::decode(body)?),
            ProbeEcho::TAG => MonitorMessage::ProbeEcho(ProbeEcho::decode(body)?),
            ShellAsk::TAG => MonitorMessage::ShellAsk(ShellAsk::decode(body)?),
            ShellDone::TAG => MonitorMessage::ShellDone(ShellDone::decode(body)?),
            ShellPing::TAG => MonitorMessage::ShellPing(ShellPing::decode(body)?),
            ShellPong::TAG => MonitorMessage::ShellPong(ShellPong::decode(body)?),
            tag if capops::wire::is_capability_tag(tag) => {
                MonitorMessage::Capability(capops::wire::decode(payload)?)
            }
            other => return Err(DecodeError::UnknownTag(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_junk_is_refused() {
        let result = BenchResult { from: 1, to: 4, p50_ns: 1500, p99_ns: 2100, limit_ns: 150 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&result)),
            Ok(MonitorMessage::BenchResult(result))
        );
        let done = SelftestDone { core: 3, passed: 10, failed: 1 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&done)),
            Ok(MonitorMessage::SelftestDone(done))
        );
        let bind = BindRequest { service: crate::local::SERVICE_ECHO, client: 3, frame_base: 0x4800_0000 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&bind)),
            Ok(MonitorMessage::BindRequest(bind))
        );
        let holding = ExerciseHolding { core: 2, kind: 2, base: 0x4000_0000, size: 0x1000, owner: 0 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&holding)),
            Ok(MonitorMessage::ExerciseHolding(holding))
        );
        let share = SpanShare { client: 3, entry: 502, frame_base: 0x4800_0000 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&share)),
            Ok(MonitorMessage::SpanShare(share))
        );
        let commit = SpanShareCommit { client: 3, entry: 502 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&commit)),
            Ok(MonitorMessage::SpanShareCommit(commit))
        );
        let step = MembershipStep { round: 3 << 24 | 7, phase: 1, kind: 2, suspects: 0b1000 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&step)),
            Ok(MonitorMessage::MembershipStep(step))
        );
        assert_eq!(step.to_wire().ok().and_then(MembershipStep::from_wire), Some(step));
        assert!(MembershipStep { kind: 3, ..step }.to_wire().is_err());
        assert!(MembershipStep { phase: 9, ..step }.to_wire().is_err());
        let reply = BindReply { client: 3, status: 1 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&reply)),
            Ok(MonitorMessage::BindReply(reply))
        );
        let hello = Hello { from: 0, online: 0b111111 };
        assert_eq!(MonitorMessage::decode(&urpc::message::encode(&hello)), Ok(MonitorMessage::Hello(hello)));
        assert!(MonitorMessage::decode(&Payload::ZERO).is_err());
        let mut bad = urpc::message::encode(&hello);
        bad[urpc::PAYLOAD_BYTES - 1] = 1;
        assert!(MonitorMessage::decode(&bad).is_err(), "trailing bytes must be zero");
    }

    #[test]
    fn the_shells_messages_round_trip() {
        let ask = ShellAsk { op: shell_op::PING, a: 4, b: 100 };
        assert_eq!(MonitorMessage::decode(&urpc::message::encode(&ask)), Ok(MonitorMessage::ShellAsk(ask)));
        let done = ShellDone { from: 3, status: 1 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&done)),
            Ok(MonitorMessage::ShellDone(done))
        );
        let ping = ShellPing { seq: 7 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&ping)),
            Ok(MonitorMessage::ShellPing(ping))
        );
        let pong = ShellPong { seq: 7 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&pong)),
            Ok(MonitorMessage::ShellPong(pong))
        );
    }

    #[test]
    fn a_failure_travels_as_a_failure() {
        let failed = BenchFailed { from: 2, to: 3, failure: Failure::NoPong };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&failed)),
            Ok(MonitorMessage::BenchFailed(failed))
        );
        let mut unknown = urpc::message::encode(&failed);
        unknown[8 + 8] = 0; // the failure code: 0 is no failure
        assert_eq!(MonitorMessage::decode(&unknown), Err(DecodeError::InvalidField { field: "failure" }));
    }

    #[test]
    fn a_zero_figure_is_not_a_result() {
        let good = BenchResult { from: 2, to: 3, p50_ns: 1500, p99_ns: 2100, limit_ns: 150 };
        for (bad, field) in [
            (BenchResult { p50_ns: 0, p99_ns: 0, limit_ns: 0, ..good }, "p50_ns"),
            (BenchResult { limit_ns: 0, ..good }, "limit_ns"),
            (BenchResult { p99_ns: 1000, ..good }, "p99_ns"),
        ] {
            assert_eq!(
                MonitorMessage::decode(&urpc::message::encode(&bad)),
                Err(DecodeError::InvalidField { field }),
                "{bad:?}"
            );
        }
    }
}
