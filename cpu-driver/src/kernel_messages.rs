//! The CPU drivers' own messages, as they travel on the kernel channels of the shared region
//! ([`crate::shared_region`]): a core's wake target and its report to the boot core, the boot
//! core's wake-up directory, and the boot-time round-trip measurement. Encoding and decoding
//! are plain Rust, tested on the host; a payload that does not decode is refused, never
//! trusted.

use urpc::message::{Body, BodyReader, BodyWriter, DecodeError, Message};
use urpc::messages::{CoreUp, Ping, Pong};
use urpc::Payload;
pub use urpc::WaitMode;

/// Tells the boot core how to wake this core: its SGI target (MPIDR on GICv3, CPU interface
/// mask on GICv2, which only the core itself can read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeTarget {
    /// The sending core.
    pub core: u32,
    /// Its SGI target.
    pub target: u64,
}

/// The boot core's directory entry for one core, sent to every core after the roll call so
/// each can wake any other (a replica, kept by messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerTarget {
    /// The core described.
    pub core: u32,
    /// Its SGI target.
    pub target: u64,
}

/// Asks a core to answer `warmup + rounds` pings on its kernel channel, waiting for each as
/// `wait` says; after a [`WaitMode::Spin`] measurement it also bounces the ping-pong line
/// `warmup + rounds` times, after the others it reports the interrupts it raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasureRequest {
    /// Round trips that are timed.
    pub rounds: u32,
    /// Round trips before timing starts.
    pub warmup: u32,
    /// How both sides wait for the next message and wake each other.
    pub wait: WaitMode,
}

/// Longest measurement a core agrees to serve.
pub const MAX_MEASURE_ROUNDS: u32 = 1_000_000;

/// The body both [`WakeTarget`] and [`PeerTarget`] carry: a core and its SGI target.
fn encode_core_target(core: u32, target: u64, body: &mut Body) {
    BodyWriter::new(body).u32(core).u64(target);
}

fn decode_core_target(body: &Body) -> Result<(u32, u64), DecodeError> {
    let mut reader = BodyReader::new(body);
    let fields = (reader.u32()?, reader.u64()?);
    reader.finish()?;
    Ok(fields)
}

impl Message for WakeTarget {
    const TAG: u16 = 32;
    fn encode(&self, body: &mut Body) {
        encode_core_target(self.core, self.target, body);
    }
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        decode_core_target(body).map(|(core, target)| WakeTarget { core, target })
    }
}

impl Message for PeerTarget {
    const TAG: u16 = 33;
    fn encode(&self, body: &mut Body) {
        encode_core_target(self.core, self.target, body);
    }
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        decode_core_target(body).map(|(core, target)| PeerTarget { core, target })
    }
}

impl Message for MeasureRequest {
    const TAG: u16 = 34;
    fn encode(&self, body: &mut Body) {
        BodyWriter::new(body).u32(self.rounds).u32(self.warmup).u8(self.wait.code());
    }
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        let mut reader = BodyReader::new(body);
        let (rounds, warmup) = (reader.u32()?, reader.u32()?);
        let wait = WaitMode::from_code(reader.u8()?).ok_or(DecodeError::InvalidField { field: "wait" })?;
        reader.finish()?;
        let message = MeasureRequest { rounds, warmup, wait };
        if message.rounds.saturating_add(message.warmup) > MAX_MEASURE_ROUNDS {
            return Err(DecodeError::InvalidField { field: "rounds" });
        }
        Ok(message)
    }
}

/// Whatever arrives on a kernel channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelMessage {
    /// A core's report (to the boot core).
    CoreUp(CoreUp),
    /// How to wake a core (to the boot core).
    WakeTarget(WakeTarget),
    /// A directory entry (from the boot core).
    PeerTarget(PeerTarget),
    /// Start serving a measurement (from the boot core).
    MeasureRequest(MeasureRequest),
    /// A latency probe.
    Ping(Ping),
    /// Its answer.
    Pong(Pong),
}

impl KernelMessage {
    /// Decodes a payload; anything malformed or unknown is an error, never trusted.
    pub fn decode(payload: &Payload) -> Result<Self, DecodeError> {
        let body = &urpc::message::body(payload);
        Ok(match urpc::message::tag(payload)? {
            CoreUp::TAG => KernelMessage::CoreUp(CoreUp::decode(body)?),
            WakeTarget::TAG => KernelMessage::WakeTarget(WakeTarget::decode(body)?),
            PeerTarget::TAG => KernelMessage::PeerTarget(PeerTarget::decode(body)?),
            MeasureRequest::TAG => KernelMessage::MeasureRequest(MeasureRequest::decode(body)?),
            Ping::TAG => KernelMessage::Ping(Ping::decode(body)?),
            Pong::TAG => KernelMessage::Pong(Pong::decode(body)?),
            other => return Err(DecodeError::UnknownTag(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_messages_round_trip_and_garbage_is_refused() {
        let messages = [
            KernelMessage::WakeTarget(WakeTarget { core: 3, target: 0x103 }),
            KernelMessage::PeerTarget(PeerTarget { core: 5, target: 0x20 }),
            KernelMessage::MeasureRequest(MeasureRequest {
                rounds: 10_000,
                warmup: 1_000,
                wait: WaitMode::Spin,
            }),
            KernelMessage::MeasureRequest(MeasureRequest {
                rounds: 5_000,
                warmup: 500,
                wait: WaitMode::WatchThenAsleep,
            }),
            KernelMessage::Ping(Ping { seq: 7, ts: 99 }),
        ];
        for message in messages {
            let payload = match message {
                KernelMessage::WakeTarget(m) => urpc::message::encode(&m),
                KernelMessage::PeerTarget(m) => urpc::message::encode(&m),
                KernelMessage::MeasureRequest(m) => urpc::message::encode(&m),
                KernelMessage::Ping(m) => urpc::message::encode(&m),
                _ => unreachable!(),
            };
            assert_eq!(KernelMessage::decode(&payload), Ok(message));
        }
        let too_long =
            urpc::message::encode(&MeasureRequest { rounds: u32::MAX, warmup: 1, wait: WaitMode::Spin });
        assert!(KernelMessage::decode(&too_long).is_err());
        let mut no_such_mode =
            urpc::message::encode(&MeasureRequest { rounds: 1, warmup: 1, wait: WaitMode::Spin });
        no_such_mode[urpc::message::HEADER_BYTES + 8] = 4;
        assert_eq!(KernelMessage::decode(&no_such_mode), Err(DecodeError::InvalidField { field: "wait" }));
        assert!(KernelMessage::decode(&Payload::ZERO).is_err());
        let mut unknown = Payload::ZERO;
        unknown[0] = 200;
        assert!(KernelMessage::decode(&unknown).is_err());
    }
}
