//! The latency benchmark's words that travel between the `latency` program and its monitor
//! (and on between monitors): why a pair failed ([`Failure`], a checked message field) and the
//! times the failures' descriptions name.

use core::fmt;

use urpc::interface::{Field, FieldSink, FieldSource};
use urpc::DecodeError;

/// Seconds without progress after which the `latency` program gives up on its peer (long
/// enough for a host to deschedule a vCPU for a while).
pub const PATIENCE_SECONDS: u64 = 2;
/// Seconds the coordinator waits for the echoing side to get ready.
pub const READY_TIMEOUT_SECONDS: u64 = 10;
/// Seconds the coordinator waits for a pair's result once measuring started, beyond
/// [`RESULT_SECONDS_PER_MILLION_ROUNDS`] for its round trips.
pub const RESULT_TIMEOUT_SECONDS: u64 = 30;
/// Seconds a million round trips may add to the wait for a result: 50 us each (URPC plus the
/// raw line), a hundred times what they take on an idle QEMU virt machine, so a loaded host
/// that runs the pair's vCPUs in turns still finishes `bench-rounds=1000000`. A pair that
/// stops making progress fails sooner, by name, on the measuring side ([`PATIENCE_SECONDS`]).
pub const RESULT_SECONDS_PER_MILLION_ROUNDS: u64 = 50;

/// How long the coordinator waits for the result of a pair of `rounds` round trips.
pub fn result_timeout_seconds(rounds: u64) -> u64 {
    RESULT_TIMEOUT_SECONDS + rounds.saturating_mul(RESULT_SECONDS_PER_MILLION_ROUNDS).div_ceil(1_000_000)
}

/// Why one ordered pair has no measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The pair's application channel could not be mapped.
    NoChannel,
    /// The echoing core answered no ping within [`PATIENCE_SECONDS`].
    NoPong,
    /// The echoing core answered a ping with another sequence number.
    WrongPong,
    /// The peer took no message for [`PATIENCE_SECONDS`] (its ring stayed full).
    RingFull,
    /// The echoing core stopped bouncing the raw cache line.
    NoBounce,
    /// A figure came out as zero counter ticks: below the counter's resolution, so not a
    /// measurement.
    BelowResolution,
    /// A core has no `latency` program registered with its monitor.
    NoLatencyService,
    /// The CPU driver refused to hand the pair's channel to the `latency` program.
    GrantRefused,
    /// The echoing side did not get ready within [`READY_TIMEOUT_SECONDS`].
    EchoNotReady,
    /// No result arrived within [`result_timeout_seconds`] of asking the measuring side.
    NoResult,
    /// A core of the pair stopped answering earlier in the run (its monitor never bound, or
    /// a pair of its timed out): the pair is not tried, so no later pair waits on it.
    CoreDead,
    /// The measuring program's heap could not hold the samples (too many slow round trips).
    NoMemory,
}

impl Failure {
    /// Every failure, in code order.
    pub const ALL: [Failure; 12] = [
        Failure::NoChannel,
        Failure::NoPong,
        Failure::WrongPong,
        Failure::RingFull,
        Failure::NoBounce,
        Failure::BelowResolution,
        Failure::NoLatencyService,
        Failure::GrantRefused,
        Failure::EchoNotReady,
        Failure::NoResult,
        Failure::CoreDead,
        Failure::NoMemory,
    ];

    /// The number that stands for it in messages (1-based, so a zeroed word is never one).
    pub fn code(self) -> u32 {
        Self::ALL.iter().position(|&f| f == self).map_or(0, |i| i as u32 + 1)
    }

    /// The failure a message's number stands for; `None` for anything else.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.get((code as usize).checked_sub(1)?).copied()
    }

    /// A one-word name, the first word after `failed:` on the console and the CSV's
    /// `failure` column.
    pub fn name(self) -> &'static str {
        match self {
            Failure::NoChannel => "no-channel",
            Failure::NoPong => "no-pong",
            Failure::WrongPong => "wrong-pong",
            Failure::RingFull => "ring-full",
            Failure::NoBounce => "no-bounce",
            Failure::BelowResolution => "below-resolution",
            Failure::NoLatencyService => "no-latency-service",
            Failure::GrantRefused => "grant-refused",
            Failure::EchoNotReady => "echo-not-ready",
            Failure::NoResult => "no-result",
            Failure::CoreDead => "core-dead",
            Failure::NoMemory => "no-memory",
        }
    }
}

/// `name (what happened)`.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.name())?;
        match self {
            Failure::NoChannel => write!(f, "the pair's channel could not be mapped"),
            Failure::NoPong => write!(f, "the echoing core answered no ping within {PATIENCE_SECONDS} s"),
            Failure::WrongPong => write!(f, "the echoing core answered with another sequence number"),
            Failure::RingFull => write!(f, "the peer took no message for {PATIENCE_SECONDS} s"),
            Failure::NoBounce => {
                write!(f, "the echoing core stopped bouncing the cache line for {PATIENCE_SECONDS} s")
            }
            Failure::BelowResolution => {
                write!(f, "a median of 0 counter ticks is below the counter's resolution")
            }
            Failure::NoLatencyService => write!(f, "no latency program registered on a core of the pair"),
            Failure::GrantRefused => write!(f, "the CPU driver refused to grant the pair's channel"),
            Failure::EchoNotReady => {
                write!(f, "the echoing core was not ready within {READY_TIMEOUT_SECONDS} s")
            }
            Failure::NoResult => write!(
                f,
                "no result within {RESULT_TIMEOUT_SECONDS} s and {RESULT_SECONDS_PER_MILLION_ROUNDS} us a round trip"
            ),
            Failure::CoreDead => write!(f, "a core of the pair stopped answering earlier: not tried"),
            Failure::NoMemory => write!(f, "the measuring program's heap could not hold the samples"),
        }?;
        write!(f, ")")
    }
}

/// Round trips between two programs of one core, each way measured in the same boot: p50 and
/// p99 in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SameCore {
    /// Through the kernel's line transport (a whole URPC line each way).
    pub line: (u32, u32),
    /// Through `send_local` (three words each way).
    pub send_local: (u32, u32),
}

/// On the wire as its code; a code no failure has is refused by name.
impl Field for Failure {
    const BYTES: usize = 4;
    fn put(&self, out: &mut impl FieldSink) {
        out.put_bytes(u64::from(self.code()), 4);
    }
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
        let code = input.take_bytes(4)? as u32;
        Failure::from_code(code).ok_or(DecodeError::InvalidField { field: "failure" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_codes_round_trip_and_zero_is_no_failure() {
        for failure in Failure::ALL {
            assert_eq!(Failure::from_code(failure.code()), Some(failure));
        }
        assert_eq!(Failure::from_code(0), None);
        assert_eq!(Failure::from_code(Failure::ALL.len() as u32 + 1), None);
    }
}
