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

/// Little-endian words in a body.
pub const BODY_WORDS: usize = BODY_BYTES / 8;

/// The body of a typed payload: its last 48 bytes, aligned to 8 like the payload.
///
/// The alignment is the point: a message's `encode` and `decode` get a `&mut Body` / `&Body`,
/// and when the compiler does not inline them it knows only what the type says. With a
/// plain `[u8; 48]` (alignment 1) the bare-metal targets, which build with `+strict-align`,
/// had to write every field byte by byte (the monitor's `Hello::encode`: 12 `strb`); with an
/// 8-aligned body, and a [`BodyWriter`] that writes whole words, a field costs a word load,
/// a mask and a word store at most, and a run of fields in one word one store.
/// `scripts/lib/urpc-codegen.sh` and `tests/tests/disassembly.rs` check the built code.
///
/// It dereferences to its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C, align(8))]
pub struct Body(pub [u8; BODY_BYTES]);

const _: () = {
    assert!(BODY_BYTES.is_multiple_of(8), "the body is whole words");
    assert!(core::mem::size_of::<Body>() == BODY_BYTES && core::mem::align_of::<Body>() == 8);
};

impl Body {
    /// All zero: what a message's `encode` starts from.
    pub const ZERO: Self = Self([0; BODY_BYTES]);

    /// Word `index` (0 to 5), little-endian.
    ///
    /// # Panics
    ///
    /// If `index` is 6 or more.
    #[inline(always)]
    pub fn word(&self, index: usize) -> u64 {
        u64::from_le_bytes(self.0.as_chunks::<8>().0[index])
    }

    /// Sets word `index` (0 to 5), little-endian.
    ///
    /// # Panics
    ///
    /// If `index` is 6 or more.
    #[inline(always)]
    pub fn set_word(&mut self, index: usize, value: u64) {
        self.0.as_chunks_mut::<8>().0[index] = value.to_le_bytes();
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::ZERO
    }
}

impl core::ops::Deref for Body {
    type Target = [u8; BODY_BYTES];

    #[inline(always)]
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl core::ops::DerefMut for Body {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: [u64; BODY_WORDS] = core::array::from_fn(|index| self.word(index));
        f.debug_tuple("Body").field(&words).finish()
    }
}

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

/// The payload carrying `message`: header with its tag, then its body. Inlined into a send,
/// the body is the payload's words in registers (no copy is left).
#[inline]
pub fn encode<M: Message>(message: &M) -> Payload {
    let mut body = Body::ZERO;
    message.encode(&mut body);
    assemble(M::TAG, &body)
}

/// The payload with header `tag` (reserved bytes zero) and `body`: seven word moves.
#[inline(always)]
pub fn assemble(tag: u16, body: &Body) -> Payload {
    let [w1, w2, w3, w4, w5, w6] = core::array::from_fn(|index| body.word(index));
    Payload::from_words([u64::from(tag), w1, w2, w3, w4, w5, w6])
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

/// The body of a payload (everything after the header): six word moves, which vanish when
/// the decoder is inlined.
#[inline(always)]
pub fn body(payload: &Payload) -> Body {
    let mut body = Body::ZERO;
    for index in 0..BODY_WORDS {
        body.set_word(index, payload.word(index + 1));
    }
    body
}

/// Decodes `payload` as an `M`, checking the header, the tag and the body (in place).
#[inline]
pub fn decode<M: Message>(payload: &Payload) -> Result<M, DecodeError> {
    let found = tag(payload)?;
    if found != M::TAG {
        return Err(DecodeError::WrongTag { expected: M::TAG, found });
    }
    M::decode(&body(payload))
}

/// Writes fields one after the other into a body, little-endian, packed.
///
/// Every store is a whole word: the writer gathers the fields of the current word in a
/// register and stores the word when a field reaches its end, and the last, partly filled
/// word when the writer is dropped. The body arrives zeroed (see [`Message::encode`]), so
/// bytes of a word that no field covers are stored as zero. (A word updated in place, load,
/// mask, insert and store, lets the compiler narrow a lone `u8` field to a byte store.)
///
/// Writing past the end of the body is ignored rather than a panic; the message's decoder then
/// reports [`DecodeError::BodyOverflow`], and the round-trip tests catch the definition bug.
pub struct BodyWriter<'body> {
    body: &'body mut Body,
    position: usize,
    /// The fields of word `word_index` written so far (stored when complete or on drop).
    word: u64,
    /// The word the last field that fitted ended in (`BODY_WORDS` once the body is full).
    word_index: usize,
    /// Whether `word` holds a field not yet stored.
    pending: bool,
}

/// The low `bytes` bytes of a word set (`bytes` from 1 to 8).
#[inline(always)]
fn low_bytes(bytes: usize) -> u64 {
    u64::MAX >> (64 - 8 * bytes)
}

impl<'body> BodyWriter<'body> {
    /// A writer at the start of `body`.
    #[inline]
    pub fn new(body: &'body mut Body) -> Self {
        Self { body, position: 0, word: 0, word_index: 0, pending: false }
    }

    /// Puts the low `bytes` bytes of `value` (the rest zero) at the current position.
    #[inline(always)]
    fn put(&mut self, value: u64, bytes: usize) -> &mut Self {
        let end = self.position + bytes;
        if end <= BODY_BYTES {
            let (index, shift) = (self.position / 8, 8 * (self.position % 8));
            self.word |= value << shift;
            self.pending = true;
            if shift + 8 * bytes >= 64 {
                // This word is complete: store it; the field's top bytes start the next.
                self.body.set_word(index, self.word);
                let spill = shift + 8 * bytes - 64;
                self.word = if spill > 0 { value >> (64 - shift) } else { 0 };
                self.pending = spill > 0;
            }
            self.word_index = end / 8;
        }
        self.position = end;
        self
    }

    /// Appends raw bytes.
    #[inline]
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &byte in bytes {
            self.put(u64::from(byte), 1);
        }
        self
    }

    /// Appends a `u8`.
    #[inline]
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.put(u64::from(value), 1)
    }

    /// Appends a `u32`.
    #[inline]
    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.put(u64::from(value), 4)
    }

    /// Appends an `i32`.
    #[inline]
    pub fn i32(&mut self, value: i32) -> &mut Self {
        self.put(u64::from(value as u32), 4)
    }

    /// Appends a `u64`.
    #[inline]
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.put(value, 8)
    }
}

impl Drop for BodyWriter<'_> {
    /// Stores the last, partly filled word.
    #[inline(always)]
    fn drop(&mut self) {
        // Pending bits never belong past the last word: a field ending exactly there
        // completes it and leaves nothing pending.
        if self.pending && self.word_index < BODY_WORDS {
            self.body.set_word(self.word_index, self.word);
        }
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

    /// The next `bytes` bytes (1 to 8) as a little-endian number, read a word at a time.
    #[inline(always)]
    fn take(&mut self, bytes: usize) -> Result<u64, DecodeError> {
        let end = self.position + bytes;
        if end > BODY_BYTES {
            return Err(DecodeError::BodyOverflow);
        }
        let (index, shift) = (self.position / 8, 8 * (self.position % 8));
        let mut value = self.body.word(index) >> shift;
        if shift + 8 * bytes > 64 {
            value |= self.body.word(index + 1) << (64 - shift);
        }
        self.position = end;
        Ok(value & low_bytes(bytes))
    }

    /// The next `N` bytes.
    #[inline]
    pub fn bytes<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        if self.position + N > BODY_BYTES {
            return Err(DecodeError::BodyOverflow);
        }
        let mut bytes = [0u8; N];
        for byte in &mut bytes {
            *byte = self.take(1)? as u8;
        }
        Ok(bytes)
    }

    /// The next `u8`.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        self.take(1).map(|value| value as u8)
    }

    /// The next `u32`.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.take(4).map(|value| value as u32)
    }

    /// The next `i32`.
    #[inline]
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.take(4).map(|value| value as u32 as i32)
    }

    /// The next `u64`.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.take(8)
    }

    /// Ends decoding: every byte after the fields read must be zero. Checked a word at a time
    /// (the word holding the last field's end is masked), so that on the cores it is a few
    /// word loads rather than a loop over bytes.
    #[inline]
    pub fn finish(self) -> Result<(), DecodeError> {
        let mut rest = 0;
        for (index, chunk) in self.body.0.as_chunks::<8>().0.iter().enumerate() {
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
