//! The messages the OS exchanges between cores, and [`AnyMessage`] to decode whichever came.
//!
//! | tag | type | body (little-endian, in order) |
//! | --- | --- | --- |
//! | 1 | [`CoreUp`] | core u32, mpidr u64, midr u64, class u8, el u8 |
//! | 2 | [`Ping`] | seq u64, ts u64 |
//! | 3 | [`Pong`] | seq u64, ts u64 |
//! | 4 | [`Offline`] | core u32, reason u8, psci_error i32 |
//!
//! Tag 0 is never used, so a zeroed payload is not a message.

use crate::line::Payload;
use crate::message::{self, Body, BodyReader, BodyWriter, DecodeError, Message};

/// A core reports that its CPU driver is running (sent to the boot core's monitor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CoreUp {
    /// The core's index in the device tree's `/cpus` list.
    pub core: u32,
    /// Its `MPIDR_EL1`, as the core read it.
    pub mpidr: u64,
    /// Its `MIDR_EL1` (implementer, part number, revision).
    pub midr: u64,
    /// Its performance class as the SKB numbers them (for example 0 little, 1 big).
    pub class: u8,
    /// The exception level the CPU driver runs at, 0 to 3.
    pub el: u8,
    /// Its `CTR_EL0` (cache line sizes: `DminLine` in bits 19:16, `CWG` in bits 27:24), as the
    /// core read it: big and little clusters may differ.
    pub ctr: u64,
}

impl CoreUp {
    /// Bytes of the smallest data cache line (`CTR_EL0.DminLine`).
    pub fn dcache_line_bytes(&self) -> u64 {
        4 << ((self.ctr >> 16) & 0xf)
    }

    /// Bytes of the cache writeback granule (`CTR_EL0.CWG`; `None` when the core does not say,
    /// which the architecture allows to mean up to 2 KiB).
    pub fn writeback_granule_bytes(&self) -> Option<u64> {
        let cwg = (self.ctr >> 24) & 0xf;
        (cwg != 0).then(|| 4 << cwg)
    }
}

impl Message for CoreUp {
    const TAG: u16 = 1;

    #[inline]
    fn encode(&self, body: &mut Body) {
        BodyWriter::new(body)
            .u32(self.core)
            .u64(self.mpidr)
            .u64(self.midr)
            .u8(self.class)
            .u8(self.el)
            .u64(self.ctr);
    }

    #[inline]
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        let mut reader = BodyReader::new(body);
        let message = Self {
            core: reader.u32()?,
            mpidr: reader.u64()?,
            midr: reader.u64()?,
            class: reader.u8()?,
            el: reader.u8()?,
            ctr: reader.u64()?,
        };
        reader.finish()?;
        if message.el > 3 {
            return Err(DecodeError::InvalidField { field: "el" });
        }
        Ok(message)
    }
}

/// A latency probe; the peer answers with a [`Pong`] carrying the same `seq` and `ts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ping {
    /// The probe's number, chosen by the sender.
    pub seq: u64,
    /// The sender's timestamp (its generic-timer count), echoed back unchanged.
    pub ts: u64,
}

/// The answer to a [`Ping`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pong {
    /// The `seq` of the ping answered.
    pub seq: u64,
    /// The `ts` of the ping answered.
    pub ts: u64,
}

impl Pong {
    /// The answer to `ping`.
    pub fn answer(ping: &Ping) -> Self {
        Self { seq: ping.seq, ts: ping.ts }
    }
}

#[inline]
fn encode_probe(seq: u64, ts: u64, body: &mut Body) {
    BodyWriter::new(body).u64(seq).u64(ts);
}

#[inline]
fn decode_probe(body: &Body) -> Result<(u64, u64), DecodeError> {
    let mut reader = BodyReader::new(body);
    let fields = (reader.u64()?, reader.u64()?);
    reader.finish()?;
    Ok(fields)
}

impl Message for Ping {
    const TAG: u16 = 2;

    #[inline]
    fn encode(&self, body: &mut Body) {
        encode_probe(self.seq, self.ts, body);
    }

    #[inline]
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        decode_probe(body).map(|(seq, ts)| Self { seq, ts })
    }
}

impl Message for Pong {
    const TAG: u16 = 3;

    #[inline]
    fn encode(&self, body: &mut Body) {
        encode_probe(self.seq, self.ts, body);
    }

    #[inline]
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        decode_probe(body).map(|(seq, ts)| Self { seq, ts })
    }
}

/// Why a core is out of the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OfflineReason {
    /// It did not report in before the deadline.
    Timeout,
    /// PSCI `CPU_ON` failed with this return code.
    PsciError(i32),
    /// It was asked to stop and did.
    Shutdown,
}

/// A core is offline (sent by the boot core's monitor, or by a core about to power down).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Offline {
    /// The core's index in the device tree's `/cpus` list.
    pub core: u32,
    /// Why.
    pub reason: OfflineReason,
}

impl Message for Offline {
    const TAG: u16 = 4;

    #[inline]
    fn encode(&self, body: &mut Body) {
        let (code, psci_error) = match self.reason {
            OfflineReason::Timeout => (1, 0),
            OfflineReason::PsciError(error) => (2, error),
            OfflineReason::Shutdown => (3, 0),
        };
        BodyWriter::new(body).u32(self.core).u8(code).i32(psci_error);
    }

    #[inline]
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        let mut reader = BodyReader::new(body);
        let core = reader.u32()?;
        let code = reader.u8()?;
        let psci_error = reader.i32()?;
        reader.finish()?;
        let reason = match (code, psci_error) {
            (1, 0) => OfflineReason::Timeout,
            (2, error) => OfflineReason::PsciError(error),
            (3, 0) => OfflineReason::Shutdown,
            (1 | 3, _) => return Err(DecodeError::InvalidField { field: "psci_error" }),
            _ => return Err(DecodeError::InvalidField { field: "reason" }),
        };
        Ok(Self { core, reason })
    }
}

/// Any of the OS's messages, for a receiver that takes whatever comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnyMessage {
    /// See [`CoreUp`].
    CoreUp(CoreUp),
    /// See [`Ping`].
    Ping(Ping),
    /// See [`Pong`].
    Pong(Pong),
    /// See [`Offline`].
    Offline(Offline),
}

impl AnyMessage {
    /// Decodes a payload as whichever message its tag names.
    pub fn decode(payload: &Payload) -> Result<Self, DecodeError> {
        let body = &message::body(payload);
        match message::tag(payload)? {
            CoreUp::TAG => CoreUp::decode(body).map(Self::CoreUp),
            Ping::TAG => Ping::decode(body).map(Self::Ping),
            Pong::TAG => Pong::decode(body).map(Self::Pong),
            Offline::TAG => Offline::decode(body).map(Self::Offline),
            unknown => Err(DecodeError::UnknownTag(unknown)),
        }
    }

    /// The payload carrying this message.
    pub fn encode(&self) -> Payload {
        match self {
            Self::CoreUp(message) => message::encode(message),
            Self::Ping(message) => message::encode(message),
            Self::Pong(message) => message::encode(message),
            Self::Offline(message) => message::encode(message),
        }
    }
}
