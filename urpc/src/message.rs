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

/// The body of a typed payload: the last 48 bytes of a [`Payload`], borrowed in place (it
/// starts 8 bytes into an 8-aligned payload, so its words are aligned too).
pub type Body = [u8; BODY_BYTES];

const _: () = assert!(BODY_BYTES.is_multiple_of(8), "the body is whole words");

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

/// The payload carrying `message`: header with its tag, then its body. The fields are
/// written in place, straight into the payload (no temporary body to copy).
#[inline]
pub fn encode<M: Message>(message: &M) -> Payload {
    let mut payload = Payload::from_words([u64::from(M::TAG), 0, 0, 0, 0, 0, 0]);
    message.encode(body_mut(&mut payload));
    payload
}

/// The tag of a payload, after checking the reserved header bytes; the body is not looked at.
/// Reads the header as one word.
#[inline]
pub fn tag(payload: &Payload) -> Result<u16, DecodeError> {
    let header = payload.word(0);
    if header >> 16 != 0 {
        return Err(DecodeError::ReservedNotZero);
    }
    Ok(header as u16)
}

/// The body of a payload (everything after the header), in place: no copy.
#[inline(always)]
pub fn body(payload: &Payload) -> &Body {
    match payload.0.last_chunk::<BODY_BYTES>() {
        Some(body) => body,
        None => unreachable!("the body is the end of the payload"),
    }
}

/// The body of a payload, in place, to write.
#[inline(always)]
pub fn body_mut(payload: &mut Payload) -> &mut Body {
    match payload.0.last_chunk_mut::<BODY_BYTES>() {
        Some(body) => body,
        None => unreachable!("the body is the end of the payload"),
    }
}

/// Decodes `payload` as an `M`, checking the header, the tag and the body (in place).
#[inline]
pub fn decode<M: Message>(payload: &Payload) -> Result<M, DecodeError> {
    let found = tag(payload)?;
    if found != M::TAG {
        return Err(DecodeError::WrongTag { expected: M::TAG, found });
    }
    M::decode(body(payload))
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
    #[inline]
    pub fn new(body: &'body mut Body) -> Self {
        Self { body, position: 0 }
    }

    /// Appends raw bytes.
    #[inline]
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.position + bytes.len();
        if let Some(destination) = self.body.get_mut(self.position..end) {
            destination.copy_from_slice(bytes);
        }
        self.position = end;
        self
    }

    /// Appends a `u8`.
    #[inline]
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes(&[value])
    }

    /// Appends a `u32`.
    #[inline]
    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }

    /// Appends an `i32`.
    #[inline]
    pub fn i32(&mut self, value: i32) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }

    /// Appends a `u64`.
    #[inline]
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
    #[inline]
    pub fn new(body: &'body Body) -> Self {
        Self { body, position: 0 }
    }

    /// The next `N` bytes.
    #[inline]
    pub fn bytes<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.position + N;
        let source = self.body.get(self.position..end).ok_or(DecodeError::BodyOverflow)?;
        let mut bytes = [0u8; N];
        bytes.copy_from_slice(source);
        self.position = end;
        Ok(bytes)
    }

    /// The next `u8`.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes::<1>()?[0])
    }

    /// The next `u32`.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.bytes().map(u32::from_le_bytes)
    }

    /// The next `i32`.
    #[inline]
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.bytes().map(i32::from_le_bytes)
    }

    /// The next `u64`.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.bytes().map(u64::from_le_bytes)
    }

    /// Ends decoding: every byte after the fields read must be zero. Checked a word at a time
    /// (the word holding the last field's end is masked), so that on the cores it is a few
    /// word loads rather than a loop over bytes.
    #[inline]
    pub fn finish(self) -> Result<(), DecodeError> {
        let mut rest = 0;
        for (index, chunk) in self.body.as_chunks::<8>().0.iter().enumerate() {
            let start = index * 8;
            // The bytes of this word at or after `position` (byte k is bits 8k..8k+8).
            let unread = if start >= self.position {
                u64::MAX
            } else if start + 8 <= self.position {
                0
            } else {
                u64::MAX << (8 * (self.position - start))
            };
            rest |= u64::from_le_bytes(*chunk) & unread;
        }
        if rest == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}
