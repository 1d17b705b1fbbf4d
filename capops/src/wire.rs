//! The protocol's [`Message`](crate::Message)s as URPC payloads (tags 72-76, beside the
//! monitors' own 64-71), so the monitors and the host-thread tests carry the same bytes. Every
//! field a peer sends is checked on decoding: a capability must be one that could exist
//! (`Capability::memory`'s checks), a phase, vote or refusal one the protocol knows.

use crate::{Message as CapMessage, Refusal};
use agreement::node::Msg;
use agreement::wire::{kind_code, kind_of, phase_code, phase_of};
use caps::{CapType, Capability, Retype, Rights};
use urpc::message::{self, Body, BodyReader, BodyWriter, DecodeError};
use urpc::Payload;

/// Tag of `Transfer`; the others follow.
const TAG_TRANSFER: u16 = 72;
const TAG_RECEIVED: u16 = 73;
const TAG_RETYPE_ASK: u16 = 74;
const TAG_RETYPE_REFUSED: u16 = 75;
const TAG_ROUND: u16 = 76;

/// Whether `tag` is one of the capability protocol's.
pub fn is_capability_tag(tag: u16) -> bool {
    (TAG_TRANSFER..=TAG_ROUND).contains(&tag)
}

fn write_capability(writer: &mut BodyWriter<'_>, capability: &Capability) {
    writer
        .u8(capability.kind() as u8)
        .u8(capability.rights().bits())
        .u64(capability.base())
        .u64(capability.size());
}

fn read_capability(reader: &mut BodyReader<'_>) -> Result<Capability, DecodeError> {
    let invalid = DecodeError::InvalidField { field: "capability" };
    let kind = CapType::from_raw(u64::from(reader.u8()?)).ok_or(invalid)?;
    let rights = Rights::from_bits(u64::from(reader.u8()?)).ok_or(invalid)?;
    let (base, size) = (reader.u64()?, reader.u64()?);
    Ok(Capability::memory(kind, base, size).map_err(|_| invalid)?.reduced(rights))
}

fn refusal_code(result: Result<(), Refusal>) -> u8 {
    match result {
        Ok(()) => 0,
        Err(refusal) => refusal.code(),
    }
}

fn read_refusal(reader: &mut BodyReader<'_>) -> Result<Result<(), Refusal>, DecodeError> {
    match reader.u8()? {
        0 => Ok(Ok(())),
        code => Refusal::from_code(code).map(Err).ok_or(DecodeError::InvalidField { field: "refusal" }),
    }
}

/// The capability protocol as one alternative of an interface (`urpc::declare_interface!`):
/// the monitors' protocol nests it under its five tags.
impl urpc::interface::Variant for CapMessage {
    const TAGS: &'static [u16] = &[TAG_TRANSFER, TAG_RECEIVED, TAG_RETYPE_ASK, TAG_RETYPE_REFUSED, TAG_ROUND];

    fn decode_variant(tag: u16, bodies: &[urpc::message::Body]) -> Result<Self, DecodeError> {
        match bodies {
            [body] => decode(&urpc::message::assemble(tag, body)),
            _ => Err(DecodeError::ReservedNotZero),
        }
    }

    fn encode_one(&self) -> Option<Payload> {
        Some(encode(self))
    }

    fn encode_variant(&self, bodies: &mut [urpc::message::Body; urpc::interface::MAX_LINES]) -> (u16, usize) {
        let payload = encode(self);
        bodies[0] = urpc::message::body(&payload);
        (payload.word(0) as u16, 1)
    }
}

/// A capability protocol message as a URPC payload.
pub fn encode(message: &CapMessage) -> Payload {
    let tag = match message {
        CapMessage::Transfer { .. } => TAG_TRANSFER,
        CapMessage::Received { .. } => TAG_RECEIVED,
        CapMessage::RetypeAsk { .. } => TAG_RETYPE_ASK,
        CapMessage::RetypeRefused { .. } => TAG_RETYPE_REFUSED,
        CapMessage::Round { .. } => TAG_ROUND,
    };
    let mut body = Body::ZERO;
    let mut writer = BodyWriter::new(&mut body);
    match message {
        CapMessage::Transfer { request, capability, owner, answers } => {
            writer.u32(*request).u32(*answers).u32(*owner as u32);
            write_capability(&mut writer, capability);
        }
        CapMessage::Received { request, result } => {
            writer.u32(*request).u8(refusal_code(*result));
        }
        CapMessage::RetypeAsk { request, object, retype } => {
            writer.u32(*request);
            write_capability(&mut writer, object);
            writer.u8(retype.kind as u8).u64(retype.offset).u64(retype.object_size);
        }
        CapMessage::RetypeRefused { request, refusal } => {
            writer.u32(*request).u8(refusal.code());
        }
        CapMessage::Round { msg, object, subtree, protect } => {
            writer.u32(msg.round).u8(phase_code(msg.phase)).u8(kind_code(msg.kind));
            write_capability(&mut writer, object);
            writer.u64(*subtree);
            // The operation: 0 revoke, 1 protect (then the rights).
            match protect {
                None => writer.u8(0).u8(0),
                Some(rights) => writer.u8(1).u8(rights.bits()),
            };
        }
    }
    drop(writer); // stores the last word
    message::assemble(tag, &body)
}

/// Decodes a payload whose tag [`is_capability_tag`].
pub fn decode(payload: &Payload) -> Result<CapMessage, DecodeError> {
    let tag = message::tag(payload)?;
    let body = message::body(payload);
    let mut reader = BodyReader::new(&body);
    let decoded = match tag {
        TAG_TRANSFER => {
            let (request, answers, owner) = (reader.u32()?, reader.u32()?, reader.u32()?);
            let capability = read_capability(&mut reader)?;
            CapMessage::Transfer { request, capability, owner: owner as usize, answers }
        }
        TAG_RECEIVED => CapMessage::Received { request: reader.u32()?, result: read_refusal(&mut reader)? },
        TAG_RETYPE_ASK => {
            let request = reader.u32()?;
            let object = read_capability(&mut reader)?;
            let kind = CapType::from_raw(u64::from(reader.u8()?))
                .ok_or(DecodeError::InvalidField { field: "kind" })?;
            let (offset, object_size) = (reader.u64()?, reader.u64()?);
            CapMessage::RetypeAsk { request, object, retype: Retype { kind, offset, object_size, count: 1 } }
        }
        TAG_RETYPE_REFUSED => {
            let request = reader.u32()?;
            let refusal = match read_refusal(&mut reader)? {
                Err(refusal) => refusal,
                Ok(()) => return Err(DecodeError::InvalidField { field: "refusal" }),
            };
            CapMessage::RetypeRefused { request, refusal }
        }
        TAG_ROUND => {
            let (round, phase, kind) = (reader.u32()?, phase_of(reader.u8()?)?, kind_of(reader.u8()?)?);
            let object = read_capability(&mut reader)?;
            let subtree = reader.u64()?;
            let protect = match (reader.u8()?, reader.u8()?) {
                (0, 0) => None,
                (1, bits) => Some(
                    Rights::from_bits(u64::from(bits))
                        .ok_or(DecodeError::InvalidField { field: "rights" })?,
                ),
                _ => return Err(DecodeError::InvalidField { field: "operation" }),
            };
            CapMessage::Round { msg: Msg { round, phase, kind }, object, subtree, protect }
        }
        other => return Err(DecodeError::UnknownTag(other)),
    };
    reader.finish()?;
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use agreement::node::{Kind, Phase};

    use super::*;

    fn frame() -> Capability {
        Capability::memory(CapType::Frame, 0x4010_0000, 0x4000)
            .unwrap()
            .reduced(Rights::from_bits(0b11).unwrap())
    }

    #[test]
    fn every_message_round_trips() {
        let retype = Retype { kind: CapType::Frame, offset: 0x1000, object_size: 0x2000, count: 1 };
        for message in [
            CapMessage::Transfer { request: 7, capability: frame(), owner: 3, answers: 9 },
            CapMessage::Received { request: 7, result: Ok(()) },
            CapMessage::Received { request: 8, result: Err(Refusal::Revoking) },
            CapMessage::Received { request: 8, result: Err(Refusal::Capability(caps::CapError::Overlap)) },
            CapMessage::RetypeAsk { request: 1, object: frame(), retype },
            CapMessage::RetypeRefused { request: 1, refusal: Refusal::Busy },
            CapMessage::Round {
                msg: Msg { round: (2 << 20) | 5, phase: Phase::Commit, kind: Kind::Answer { yes: false } },
                object: frame(),
                subtree: 0b1011_0000,
                protect: None,
            },
            CapMessage::Round {
                msg: Msg { round: 1, phase: Phase::Prepare, kind: Kind::Request },
                object: frame(),
                subtree: 0,
                protect: Some(Rights::READ),
            },
        ] {
            let payload = encode(&message);
            assert!(is_capability_tag(message::tag(&payload).unwrap()));
            assert_eq!(decode(&payload), Ok(message));
        }
    }

    #[test]
    fn junk_is_refused() {
        let good = encode(&CapMessage::Transfer { request: 7, capability: frame(), owner: 3, answers: 0 });
        // Body offsets: request 0..4, answers 4..8, owner 8..12, kind 12, rights 13, base 14..22.
        let body_at = |i: usize| 8 + i;
        let mut bad_kind = good;
        bad_kind.0[body_at(12)] = 99;
        let mut not_memory = good;
        not_memory.0[body_at(12)] = CapType::Kernel as u8;
        let mut bad_rights = good;
        bad_rights.0[body_at(13)] = 0x80;
        let mut misaligned = good;
        misaligned.0[body_at(14)] = 0x10;
        let mut trailing = good;
        trailing.0[urpc::PAYLOAD_BYTES - 1] = 1;
        for (payload, what) in [
            (bad_kind, "type"),
            (not_memory, "not memory"),
            (bad_rights, "rights"),
            (misaligned, "misaligned"),
            (trailing, "trailing"),
        ] {
            assert!(decode(&payload).is_err(), "{what}");
        }
        let mut bad_phase = encode(&CapMessage::Round {
            msg: Msg { round: 1, phase: Phase::Prepare, kind: Kind::Request },
            object: frame(),
            subtree: 0,
            protect: None,
        });
        let mut bad_operation = bad_phase;
        bad_operation.0[8 + 32] = 2;
        assert_eq!(decode(&bad_operation), Err(DecodeError::InvalidField { field: "operation" }));
        bad_phase.0[body_at(4)] = 4;
        assert_eq!(decode(&bad_phase), Err(DecodeError::InvalidField { field: "phase" }));
        let refused_ok = encode(&CapMessage::Received { request: 1, result: Ok(()) });
        let mut as_refused = refused_ok;
        as_refused.0[0] = TAG_RETYPE_REFUSED as u8;
        assert_eq!(decode(&as_refused), Err(DecodeError::InvalidField { field: "refusal" }));
    }
}
