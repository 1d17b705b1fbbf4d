//! The typed layer: Rust types that encode into a payload and decode from one, checking it.
//!
//! A typed payload is an 8-byte header followed by a 48-byte body:
//!
//! ```text
//!  byte 0      2                 8                                              56
//!       +------+-----------------+-----------------------------------------------+
//!       | tag  | reserved, zero  | body: the message's fields, little-endian,    |
//!       | u16  |                 | packed in declaration order, then zero bytes  |
//!       +------+-----------------+-----------------------------------------------+
//! ```
//!
//! The payload comes from another core and is not trusted: [`decode`] checks the tag, that the
//! reserved bytes and every byte after the fields are zero, and each field's range, and
//! answers a [`DecodeError`] naming the problem instead of a value built from garbage. Because
//! unused bytes must be zero the encoding is canonical: a payload that decodes re-encodes to
//! the same bytes, and an all-zero payload (tag 0) is never a message.
//!
//! Define a message by implementing [`Message`] with [`BodyWriter`] and [`BodyReader`]; the
//! messages the OS uses are in [`crate::messages`].

use core::fmt;

use crate::line::{Payload, PAYLOAD_BYTES};

/// Bytes of the typed header (tag and reserved bytes) at the start of a payload.
pub const HEADER_BYTES: usize = 8;
/// Bytes a message's fields may use.
pub const BODY_BYTES: usize = PAYLOAD_BYTES - HEADER_BYTES;

/// The body of a typed payload.
pub type Body = [u8; BODY_BYTES];

/// A message type that travels in one URPC line.
pub trait Message: Sized {
    /// The tag that identifies this type on the wire: unique per type, never 0.
    const TAG: u16;

    /// Writes the fields into `body`, which arrives zeroed; bytes left alone must stay zero.
    fn encode(&self, body: &mut Body);

    /// Rebuilds the value from `body`, rejecting anything [`encode`](Self::encode) would not
    /// have written. Must not panic on any input.
    fn decode(body: &Body) -> Result<Self, DecodeError>;
}

/// Why a payload is not a valid message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The tag names no known message type (tag 0: an empty or zeroed line).
    UnknownTag(u16),
    /// The tag names another type than the one asked for.
    WrongTag {
        /// The requested type's tag.
        expected: u16,
        /// The payload's tag.
        found: u16,
    },
    /// A header byte that must be zero is not.
    ReservedNotZero,
    /// A byte after the message's fields is not zero.
    TrailingBytes,
    /// A field holds a value its type does not allow.
    InvalidField {
        /// The field's name.
        field: &'static str,
    },
    /// The fields need more than [`BODY_BYTES`] (a bug in the message definition).
    BodyOverflow,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnknownTag(tag) => write!(f, "unknown message tag {tag}"),
            DecodeError::WrongTag { expected, found } => {
                write!(f, "message tag {found}, expected {expected}")
            }
            DecodeError::ReservedNotZero => f.write_str("reserved header bytes not zero"),
            DecodeError::TrailingBytes => f.write_str("bytes after the message fields not zero"),
            DecodeError::InvalidField { field } => write!(f, "invalid value in field `{field}`"),
            DecodeError::BodyOverflow => f.write_str("message fields longer than the body"),
        }
    }
}

/// The payload carrying `message`: header with its tag, then its body.
pub fn encode<M: Message>(message: &M) -> Payload {
    let mut payload = [0u8; PAYLOAD_BYTES];
    let (header, body) = payload.split_at_mut(HEADER_BYTES);
    header[..2].copy_from_slice(&M::TAG.to_le_bytes());
    let mut fields: Body = [0; BODY_BYTES];
    message.encode(&mut fields);
    body.copy_from_slice(&fields);
    payload
}

/// The tag of a payload, after checking the reserved header bytes; the body is not looked at.
pub fn tag(payload: &Payload) -> Result<u16, DecodeError> {
    if payload[2..HEADER_BYTES].iter().any(|&byte| byte != 0) {
        return Err(DecodeError::ReservedNotZero);
    }
    Ok(u16::from_le_bytes([payload[0], payload[1]]))
}

/// The body of a payload (everything after the header).
pub fn body(payload: &Payload) -> Body {
    let mut body: Body = [0; BODY_BYTES];
    body.copy_from_slice(&payload[HEADER_BYTES..]);
    body
}

/// Decodes `payload` as an `M`, checking the header, the tag and the body.
pub fn decode<M: Message>(payload: &Payload) -> Result<M, DecodeError> {
    let found = tag(payload)?;
    if found != M::TAG {
        return Err(DecodeError::WrongTag { expected: M::TAG, found });
    }
    M::decode(&body(payload))
}

/// Writes fields one after the other into a body, little-endian.
///
/// Writing past the end of the body is ignored rather than a panic; the message's decoder then
/// reports [`DecodeError::BodyOverflow`], and the round-trip tests catch the definition bug.
pub struct BodyWriter<'body> {
    body: &'body mut Body,
    position: usize,
}

impl<'body> BodyWriter<'body> {
    /// A writer at the start of `body`.
    pub fn new(body: &'body mut Body) -> Self {
        Self { body, position: 0 }
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.position + bytes.len();
        if let Some(destination) = self.body.get_mut(self.position..end) {
            destination.copy_from_slice(bytes);
        }
        self.position = end;
        self
    }

    /// Appends a `u8`.
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes(&[value])
    }

    /// Appends a `u32`.
    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }

    /// Appends an `i32`.
    pub fn i32(&mut self, value: i32) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }

    /// Appends a `u64`.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }
}

/// Reads fields one after the other from a body, then checks that the rest is zero.
pub struct BodyReader<'body> {
    body: &'body Body,
    position: usize,
}

impl<'body> BodyReader<'body> {
    /// A reader at the start of `body`.
    pub fn new(body: &'body Body) -> Self {
        Self { body, position: 0 }
    }

    /// The next `N` bytes.
    pub fn bytes<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.position + N;
        let source = self.body.get(self.position..end).ok_or(DecodeError::BodyOverflow)?;
        let mut bytes = [0u8; N];
        bytes.copy_from_slice(source);
        self.position = end;
        Ok(bytes)
    }

    /// The next `u8`.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes::<1>()?[0])
    }

    /// The next `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.bytes().map(u32::from_le_bytes)
    }

    /// The next `i32`.
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.bytes().map(i32::from_le_bytes)
    }

    /// The next `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.bytes().map(u64::from_le_bytes)
    }

    /// Ends decoding: every byte after the fields read must be zero.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.body.get(self.position..) {
            Some(rest) if rest.iter().all(|&byte| byte == 0) => Ok(()),
            _ => Err(DecodeError::TrailingBytes),
        }
    }
}
