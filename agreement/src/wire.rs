//! A protocol message on a URPC channel: [`Msg`] as one typed URPC message (tag
//! [`Msg::TAG`](urpc::Message::TAG)), so the monitors and the host-thread benchmark carry the
//! same bytes. Body: the round (`u32`), the phase (`u8`: 1 prepare, 2 commit, 3 abort) and the
//! kind (`u8`: 1 request, 2 answer yes, 3 answer no); anything else is rejected on decode.

use urpc::message::{Body, BodyReader, BodyWriter, DecodeError, Message};

use crate::node::{Kind, Msg, Phase};

/// A phase's number on the wire: 1 prepare, 2 commit, 3 abort.
pub fn phase_code(phase: Phase) -> u8 {
    match phase {
        Phase::Prepare => 1,
        Phase::Commit => 2,
        Phase::Abort => 3,
    }
}

/// The phase numbered `code`; any other number is an invalid `phase` field.
pub fn phase_of(code: u8) -> Result<Phase, DecodeError> {
    Ok(match code {
        1 => Phase::Prepare,
        2 => Phase::Commit,
        3 => Phase::Abort,
        _ => return Err(DecodeError::InvalidField { field: "phase" }),
    })
}

/// A message kind's number on the wire: 1 request, 2 answer yes, 3 answer no.
pub fn kind_code(kind: Kind) -> u8 {
    match kind {
        Kind::Request => 1,
        Kind::Answer { yes: true } => 2,
        Kind::Answer { yes: false } => 3,
    }
}

/// The kind numbered `code`; any other number is an invalid `kind` field.
pub fn kind_of(code: u8) -> Result<Kind, DecodeError> {
    Ok(match code {
        1 => Kind::Request,
        2 => Kind::Answer { yes: true },
        3 => Kind::Answer { yes: false },
        _ => return Err(DecodeError::InvalidField { field: "kind" }),
    })
}

impl Message for Msg {
    /// Clear of the URPC (1-4), CPU driver (32-34) and monitor (64-71) tags.
    const TAG: u16 = 80;

    fn encode(&self, body: &mut Body) {
        BodyWriter::new(body).u32(self.round).u8(phase_code(self.phase)).u8(kind_code(self.kind));
    }

    fn decode(body: &Body) -> Result<Self, DecodeError> {
        let mut reader = BodyReader::new(body);
        let round = reader.u32()?;
        let phase = phase_of(reader.u8()?)?;
        let kind = kind_of(reader.u8()?)?;
        reader.finish()?;
        Ok(Msg { round, phase, kind })
    }
}

#[cfg(test)]
mod tests {
    use urpc::message::{decode, encode, HEADER_BYTES};
    use urpc::{ChannelFrame, Side};

    use super::*;

    #[test]
    fn every_message_crosses_a_channel_unchanged() {
        let frame: ChannelFrame = ChannelFrame::new();
        let (mut sender, _) = frame.endpoint(Side::A).split();
        let (_, mut receiver) = frame.endpoint(Side::B).split();
        for phase in [Phase::Prepare, Phase::Commit, Phase::Abort] {
            for kind in [Kind::Request, Kind::Answer { yes: true }, Kind::Answer { yes: false }] {
                let msg = Msg { round: u32::MAX - 3, phase, kind };
                sender.try_send_message(&msg).unwrap();
                assert_eq!(receiver.try_recv_message::<Msg>(), Ok(msg));
            }
        }
    }

    #[test]
    fn a_bad_phase_kind_or_trailing_byte_is_an_error_not_a_message() {
        let good = encode(&Msg { round: 5, phase: Phase::Commit, kind: Kind::Request });
        let with = |at: usize, value: u8| {
            let mut payload = good;
            payload[HEADER_BYTES + at] = value;
            decode::<Msg>(&payload)
        };
        assert_eq!(with(4, 0), Err(DecodeError::InvalidField { field: "phase" }));
        assert_eq!(with(4, 4), Err(DecodeError::InvalidField { field: "phase" }));
        assert_eq!(with(5, 9), Err(DecodeError::InvalidField { field: "kind" }));
        assert_eq!(with(6, 1), Err(DecodeError::TrailingBytes));
        assert!(matches!(decode::<Msg>(&urpc::Payload::ZERO), Err(DecodeError::WrongTag { .. })));
    }
}
