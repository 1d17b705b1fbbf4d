//! What monitors say to each other over the monitor channels: the messages declared once with
//! `urpc::declare_messages!` (encoders and checking decoders generated) and gathered, with the
//! capability protocol nested under its tags 72-76 (`capops::wire`), into the
//! [`MonitorMessage`] interface (`urpc::declare_interface!`: unique tags checked at compile time).
//!
//! A benchmark pair ends in exactly one of [`BenchResult`] (figures, all of them non-zero)
//! or [`BenchFailed`] (why there are none): a failure is said, never encoded as a zero figure.

use urpc::message::{Body, BodyReader, BodyWriter, DecodeError, Message};

use crate::bench::Failure;
use local_protocol::Service;

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

// 72-76 are the capability protocol's (`capops::wire`), 80 agreement's `Msg`
// (`agreement::wire`), 69 and 70 the hand-written `BenchResult` and `BenchFailed` below.
urpc::declare_messages! {
    /// A monitor introduces itself; the boot core's monitor also says which cores are online
    /// (bit n = core n), so the others know whom to bind to.
    pub struct Hello = 64 {
        /// The sending core.
        pub from: u32,
        /// Online cores, as the boot core's roll call found them.
        pub online: u64,
    }

    /// A monitor has bound its channels to `peers` other monitors (sent to the boot core's).
    pub struct Bound = 65 {
        /// The sending core.
        pub from: u32,
        /// How many peers answered its hello.
        pub peers: u32,
    }

    /// Coordinator to a monitor: have your `latency` dispatcher echo for core `initiator`.
    pub struct BenchEcho = 66 {
        /// The core that will measure.
        pub initiator: u32,
        /// Round trips after the warm-up.
        pub rounds: u32,
    }

    /// Coordinator to a monitor: have your `latency` dispatcher echo for core `initiator` in the
    /// wait comparison, waiting and waking as the wait mode with code `wait` says
    /// (`urpc::WaitMode::code`); answered like [`BenchEcho`]. (120-127: the runtime's tags.)
    pub struct BenchEchoWaiting = 120 {
        /// The core that will measure.
        pub initiator: u32,
        /// Round trips after the warm-up.
        pub rounds: u32,
        /// The wait mode's code.
        pub wait: u32,
    }

    /// A monitor to the coordinator: my `latency` dispatcher is echoing for `initiator`.
    pub struct BenchReady = 67 {
        /// The echoing core.
        pub core: u32,
        /// For whom.
        pub initiator: u32,
    }

    /// Coordinator to a monitor: have your `latency` dispatcher measure against core `peer`.
    pub struct BenchMeasure = 68 {
        /// The echoing core.
        pub peer: u32,
        /// Round trips after the warm-up.
        pub rounds: u32,
    }

    /// A core's `selftest` finished (from its monitor to the boot core's): how many checks passed
    /// and failed.
    pub struct SelftestDone = 71 {
        /// The core that ran it.
        pub core: u32,
        /// Checks that passed.
        pub passed: u32,
        /// Checks that failed.
        pub failed: u32,
    }

    /// The boot core's capability exercise (selftest runs): a core says how a step went.
    pub struct ExerciseReport = 77 {
        /// The reporting core.
        pub core: u32,
        /// Which step ([`EXERCISE_RETYPED`], [`EXERCISE_HELD`]).
        pub step: u32,
        /// The step's figure.
        pub value: u32,
    }

    /// The boot core's capability exercise: how many capabilities inside `[base, base + size)`
    /// does the receiving core hold? (answered with an [`ExerciseReport`] of [`EXERCISE_HELD`]).
    pub struct ExerciseQuery = 78 {
        /// First byte.
        pub base: u64,
        /// Bytes.
        pub size: u64,
    }

    /// A program on the sending core binds a channel to `service` on the receiving core; the
    /// channel's Frame was transferred just before (same channel, so it arrived first) and is
    /// named by its base.
    pub struct BindRequest = 79 {
        /// The service.
        pub service: Service,
        /// The asking program's dispatcher index on the sending core.
        pub client: u32,
        /// Physical base of the channel's Frame.
        pub frame_base: u64,
    }

    /// The answer to a [`BindRequest`]: status 0 when the service's program got the Frame, else a
    /// `local_protocol::BindStatus` code.
    pub struct BindReply = 81 {
        /// The asking program's dispatcher index (as in the request).
        pub client: u32,
        /// 0 or a `BindStatus` code.
        pub status: u32,
    }

    /// A program on the sending core binds to `service` without naming a core: does a program
    /// on the receiving core offer it? Answered with [`NameAnswer`] from the receiving
    /// monitor's own table (`crate::lookup`).
    pub struct NameQuery = 109 {
        /// The query's number, echoed.
        pub query: u32,
        /// The service.
        pub service: Service,
    }

    /// The answer to [`NameQuery`] `query`.
    pub struct NameAnswer = 110 {
        /// The query's number.
        pub query: u32,
        /// A program on the answering core accepts bindings to the service.
        pub offered: bool,
    }

    /// The random exercise: run `operations` random capability operations (seeded by `seed` and
    /// the core's index), then report [`EXERCISE_RANDOM_DONE`].
    pub struct ExerciseRandom = 82 {
        /// The run's seed.
        pub seed: u64,
        /// Operations each core starts.
        pub operations: u32,
    }

    /// The random exercise: report every capability of the protocol's slots to core `to` (one
    /// [`ExerciseHolding`] each, then [`EXERCISE_HOLDINGS`] with the count).
    pub struct ExerciseListHoldings = 83 {
        /// The core collecting them.
        pub to: u32,
    }

    /// One capability a core holds (see `holdings::Holding`).
    pub struct ExerciseHolding = 84 {
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
    pub struct SpanRequest = 85 {
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
    pub struct SpanReply = 86 {
        /// The spanning program.
        pub client: u32,
        /// 0 or a `BindStatus` code.
        pub status: u32,
    }

    /// The spanning program shares a page, phase one (prepare): the Frame transferred just before
    /// (named by its base) is kept by the member's monitor, not yet given; the answer is a
    /// [`SpanShareDone`]. Phase two is [`SpanShareCommit`] once every member core prepared, or the
    /// revoke round, which sweeps the kept copies, once one could not.
    pub struct SpanShare = 87 {
        /// The spanning program.
        pub client: u32,
        /// The VNode entry.
        pub entry: u32,
        /// Physical base of the Frame.
        pub frame_base: u64,
    }

    /// The answer to a [`SpanShare`]: prepared (0) or why not.
    pub struct SpanShareDone = 88 {
        /// The spanning program.
        pub client: u32,
        /// The VNode entry.
        pub entry: u32,
        /// 0 or a `BindStatus` code.
        pub status: u32,
    }

    /// A member of a span ended (its dispatcher exited or faulted).
    pub struct SpanMemberEnded = 89 {
        /// The spanning program.
        pub client: u32,
        /// `dispatcher_status`'s status.
        pub status: u32,
        /// The faulting address (0 when it exited).
        pub far: u64,
    }

    /// Every member core prepared the share: give the kept Frame to the member, to map at `entry`.
    pub struct SpanShareCommit = 90 {
        /// The spanning program.
        pub client: u32,
        /// The VNode entry.
        pub entry: u32,
    }

    /// Still alive (the membership's heartbeat: every 50 ms to each live peer that got no other
    /// membership message meanwhile).
    pub struct Heartbeat = 91 {
        /// The sender.
        pub from: u32,
    }

    /// A step of a membership round (`crate::membership`): removing the cores in `cores`, or
    /// adding or removing the one core in `cores` as `incarnation` (a join, a leave).
    pub struct MembershipStep = 92 {
        /// The round.
        pub round: u32,
        /// `agreement::wire::phase_code` of its phase.
        pub phase: u8,
        /// 0 request, 1 answer no, 2 answer yes.
        pub kind: u8,
        /// 0 removal (failure), 1 join, 2 leave.
        pub change: u8,
        /// The cores the round is about, a bit each (exactly one for a join or a leave).
        pub cores: u64,
        /// The incarnation a join or a leave names (0 for a removal).
        pub incarnation: u32,
    }

    /// To the boot core's monitor (which starts cores), or to `core`'s own monitor from there:
    /// take `core` off (its monitor leaves the membership by agreement, then powers it off).
    /// `asker`: the core whose monitor asked, told the outcome with [`HotplugDone`].
    pub struct HotplugOff = 96 {
        /// The core to take off.
        pub core: u32,
        /// Who asked.
        pub asker: u32,
    }

    /// To the boot core's monitor: start `core` again (it must be off) and have it rejoin.
    pub struct HotplugOn = 97 {
        /// The core to start.
        pub core: u32,
        /// Who asked.
        pub asker: u32,
    }

    /// From a core's monitor to the boot core's: this core is up and asks to join (a core that
    /// boots with the machine is answered by the roll call; one started again, by a join round).
    pub struct JoinRequest = 98 {
        /// The core asking.
        pub core: u32,
    }

    /// To a core that rejoined: the live cores agreed to its join as `incarnation`.
    pub struct Welcome = 99 {
        /// Its incarnation.
        pub incarnation: u32,
        /// The live cores, itself included, a bit each.
        pub live: u64,
    }

    /// To the monitor that asked for a hotplug step: how it ended.
    pub struct HotplugDone = 100 {
        /// The core.
        pub core: u32,
        /// 1: it was started again and rejoined; 0: it went off.
        pub on: u8,
        /// 0 done, else `crate::hotplug::Refusal` code.
        pub status: u32,
    }

    /// The shell's host (the boot core's monitor) asks another core's monitor to act for a
    /// command: `op` one of [`shell_op`], `a` and `b` its arguments. The asked monitor prints its
    /// part of the answer itself and says [`ShellDone`].
    pub struct ShellAsk = 105 {
        /// What to do ([`shell_op`]).
        pub op: u32,
        /// First argument.
        pub a: u64,
        /// Second argument.
        pub b: u64,
    }

    /// A monitor has done what a [`ShellAsk`] asked (printed its part): `status` 0, or 1 when it
    /// could not.
    pub struct ShellDone = 106 {
        /// The answering core.
        pub from: u32,
        /// 0 done, 1 failed (the reason is printed).
        pub status: u32,
    }

    /// One round trip of the shell's `ping`: the pinged monitor answers [`ShellPong`] at once.
    pub struct ShellPing = 107 {
        /// Sequence number, echoed.
        pub seq: u32,
    }

    /// The answer to a [`ShellPing`].
    pub struct ShellPong = 108 {
        /// The ping's sequence number.
        pub seq: u32,
    }

    /// The coordinator asks a monitor to run the same-core comparison on its core (`rounds`
    /// round trips of each kind) and print its lines, with the ratios to the EL0 URPC round trip
    /// this boot measured from that core to `peer` (`urpc_p50_ns`; 0: none measured). Answered
    /// by [`SameCoreDone`].
    pub struct SameCoreAsk = 101 {
        /// Round trips of each kind.
        pub rounds: u32,
        /// The core of the cross-core figure.
        pub peer: u32,
        /// Its EL0 URPC p50 (ns), 0 for none.
        pub urpc_p50_ns: u32,
    }

    /// A monitor ran the comparison a [`SameCoreAsk`] asked for and printed its lines (or why
    /// it has none).
    pub struct SameCoreDone = 102 {
        /// The core it ran on.
        pub core: u32,
        /// Whether it printed figures.
        pub measured: bool,
    }

    /// The receiving core was removed from the membership: it must stop.
    pub struct Evicted = 93 {
        /// The core that says so.
        pub by: u32,
    }

    /// A numbered message the receiving monitor sends straight back ([`ProbeEcho`]): after faults,
    /// the boot core's monitor checks that none between survivors is lost or duplicated.
    pub struct Probe = 94 {
        /// Its number.
        pub seq: u32,
    }

    /// The answer to a [`Probe`].
    pub struct ProbeEcho = 95 {
        /// The probe's number.
        pub seq: u32,
    }

    /// The boot monitor, after faults, asks a survivor to probe every other survivor and answer
    /// with a [`ProbeReport`].
    pub struct ProbeAll = 128 {
        /// Which check this is.
        pub round: u32,
    }

    /// A survivor's answer to [`ProbeAll`]: what it lost and what it saw of the faults.
    pub struct ProbeReport = 129 {
        /// The [`ProbeAll`] it answers.
        pub round: u32,
        /// Its probes that did not come back exactly once.
        pub lost: u32,
        /// How many peers it probed.
        pub peers: u32,
        /// Cores whose damaged lines it rejected, a bit each.
        pub malformed_from: u64,
        /// Cores whose storm ended at it ([`StormDone`] arrived), a bit each.
        pub storms_ended: u64,
        /// Storm messages announced to it but not received.
        pub storm_lost: u32,
    }

    /// One message of a storm (the fault harness floods every ring); counted and dropped.
    pub struct Storm = 130 {
        /// Its number in the storm.
        pub seq: u32,
    }

    /// The end of a storm: how many [`Storm`] messages came before it on this channel.
    pub struct StormDone = 131 {
        /// Storm messages sent.
        pub sent: u32,
    }
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

impl MembershipStep {
    /// The wire form of a membership message (`None` for the heartbeat and the eviction, which
    /// have messages of their own).
    pub fn from_wire(wire: crate::membership::Wire) -> Option<MembershipStep> {
        use crate::membership::Change;
        use agreement::node::Kind;
        let crate::membership::Wire::Round { msg, change } = wire else { return None };
        let kind = match msg.kind {
            Kind::Request => 0,
            Kind::Answer { yes: false } => 1,
            Kind::Answer { yes: true } => 2,
        };
        let one = |core: usize| 1u64.checked_shl(core as u32).unwrap_or(0);
        let (change, cores, incarnation) = match change {
            Change::Remove { suspects } => (0, suspects, 0),
            Change::Join { core, incarnation } => (1, one(core), incarnation),
            Change::Leave { core, incarnation } => (2, one(core), incarnation),
        };
        Some(MembershipStep {
            round: msg.round,
            phase: agreement::wire::phase_code(msg.phase),
            kind,
            change,
            cores,
            incarnation,
        })
    }

    /// Back to the protocol's form; a malformed step is refused.
    pub fn to_wire(self) -> Result<crate::membership::Wire, DecodeError> {
        use crate::membership::Change;
        use agreement::node::{Kind, Msg};
        let phase = agreement::wire::phase_of(self.phase)?;
        let kind = match self.kind {
            0 => Kind::Request,
            1 => Kind::Answer { yes: false },
            2 => Kind::Answer { yes: true },
            _ => return Err(DecodeError::InvalidField { field: "kind" }),
        };
        let single = || match self.cores.count_ones() {
            1 => Ok(self.cores.trailing_zeros() as usize),
            _ => Err(DecodeError::InvalidField { field: "cores" }),
        };
        let (cores, incarnation) = (self.cores, self.incarnation);
        let change = match self.change {
            0 if incarnation == 0 => Change::Remove { suspects: cores },
            1 => Change::Join { core: single()?, incarnation },
            2 => Change::Leave { core: single()?, incarnation },
            _ => return Err(DecodeError::InvalidField { field: "change" }),
        };
        Ok(crate::membership::Wire::Round { msg: Msg { round: self.round, phase, kind }, change })
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

urpc::declare_interface! {
    /// Any monitor message; `decode` refuses unknown tags and malformed lines.
    pub enum MonitorMessage {
        /// See [`Hello`].
        Hello(Hello),
        /// See [`Bound`].
        Bound(Bound),
        /// See [`BenchEcho`].
        BenchEcho(BenchEcho),
        /// See [`BenchEchoWaiting`].
        BenchEchoWaiting(BenchEchoWaiting),
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
        /// See [`NameQuery`].
        NameQuery(NameQuery),
        /// See [`NameAnswer`].
        NameAnswer(NameAnswer),
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
        /// See [`HotplugOff`].
        HotplugOff(HotplugOff),
        /// See [`HotplugOn`].
        HotplugOn(HotplugOn),
        /// See [`JoinRequest`].
        JoinRequest(JoinRequest),
        /// See [`Welcome`].
        Welcome(Welcome),
        /// See [`HotplugDone`].
        HotplugDone(HotplugDone),
        /// See [`ShellAsk`].
        ShellAsk(ShellAsk),
        /// See [`ShellDone`].
        ShellDone(ShellDone),
        /// See [`ShellPing`].
        ShellPing(ShellPing),
        /// See [`ShellPong`].
        ShellPong(ShellPong),
        /// See [`SameCoreAsk`].
        SameCoreAsk(SameCoreAsk),
        /// See [`SameCoreDone`].
        SameCoreDone(SameCoreDone),
        /// See [`Probe`].
        Probe(Probe),
        /// See [`ProbeEcho`].
        ProbeEcho(ProbeEcho),
        /// See [`ProbeAll`].
        ProbeAll(ProbeAll),
        /// See [`ProbeReport`].
        ProbeReport(ProbeReport),
        /// See [`Storm`].
        Storm(Storm),
        /// See [`StormDone`].
        StormDone(StormDone),
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
        let bind = BindRequest { service: local_protocol::SERVICE_ECHO, client: 3, frame_base: 0x4800_0000 };
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
        let step = MembershipStep {
            round: 3 << 24 | 7,
            phase: 1,
            kind: 2,
            change: 0,
            cores: 0b1000,
            incarnation: 0,
        };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&step)),
            Ok(MonitorMessage::MembershipStep(step))
        );
        assert_eq!(step.to_wire().ok().and_then(MembershipStep::from_wire), Some(step));
        assert!(MembershipStep { kind: 3, ..step }.to_wire().is_err());
        assert!(MembershipStep { phase: 9, ..step }.to_wire().is_err());
        let join = MembershipStep { change: 1, cores: 1 << 5, incarnation: 2, ..step };
        assert_eq!(
            join.to_wire(),
            Ok(crate::membership::Wire::Round {
                msg: agreement::node::Msg {
                    round: 3 << 24 | 7,
                    phase: agreement::node::Phase::Prepare,
                    kind: agreement::node::Kind::Answer { yes: true }
                },
                change: crate::membership::Change::Join { core: 5, incarnation: 2 }
            })
        );
        assert_eq!(join.to_wire().ok().and_then(MembershipStep::from_wire), Some(join));
        // A join or a leave names exactly one core; a removal names no incarnation.
        assert!(MembershipStep { cores: 0b110, ..join }.to_wire().is_err());
        assert!(MembershipStep { change: 2, cores: 0, ..join }.to_wire().is_err());
        assert!(MembershipStep { incarnation: 1, ..step }.to_wire().is_err());
        assert!(MembershipStep { change: 3, ..step }.to_wire().is_err());
        let off = HotplugOff { core: 3, asker: 0 };
        assert_eq!(MonitorMessage::decode(&urpc::message::encode(&off)), Ok(MonitorMessage::HotplugOff(off)));
        let welcome = Welcome { incarnation: 4, live: 0b101101 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&welcome)),
            Ok(MonitorMessage::Welcome(welcome))
        );
        let reply = BindReply { client: 3, status: 1 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&reply)),
            Ok(MonitorMessage::BindReply(reply))
        );
        let query = NameQuery { query: 7, service: local_protocol::SERVICE_ECHO };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&query)),
            Ok(MonitorMessage::NameQuery(query))
        );
        let answer = NameAnswer { query: 7, offered: true };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&answer)),
            Ok(MonitorMessage::NameAnswer(answer))
        );
        let mut no_name = urpc::message::encode(&query);
        no_name.0[8 + 4..8 + 12].fill(0);
        assert_eq!(MonitorMessage::decode(&no_name), Err(DecodeError::InvalidField { field: "service" }));
        let echo = BenchEchoWaiting { initiator: 0, rounds: 5000, wait: 3 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&echo)),
            Ok(MonitorMessage::BenchEchoWaiting(echo))
        );
        let hello = Hello { from: 0, online: 0b111111 };
        assert_eq!(MonitorMessage::decode(&urpc::message::encode(&hello)), Ok(MonitorMessage::Hello(hello)));
        assert!(MonitorMessage::decode(&urpc::Payload::ZERO).is_err());
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
    fn the_same_core_comparisons_messages_round_trip_and_a_bad_flag_is_refused() {
        let ask = SameCoreAsk { rounds: 10_000, peer: 0, urpc_p50_ns: 432 };
        assert_eq!(
            MonitorMessage::decode(&urpc::message::encode(&ask)),
            Ok(MonitorMessage::SameCoreAsk(ask))
        );
        let done = SameCoreDone { core: 5, measured: true };
        let mut line = urpc::message::encode(&done);
        assert_eq!(MonitorMessage::decode(&line), Ok(MonitorMessage::SameCoreDone(done)));
        // The flag is the byte after the core: only 0 and 1 are a bool.
        line[8 + 4] = 2;
        assert!(MonitorMessage::decode(&line).is_err());
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
