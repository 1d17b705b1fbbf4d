//! The message line: one 64-byte cache line of seven payload words and a sequence word.
//!
//! ```text
//!  byte 0       8      16      24      32      40      48      56      64
//!       +-------+-------+-------+-------+-------+-------+-------+-------+
//!       | w0    | w1    | w2    | w3    | w4    | w5    | w6    | seq   |
//!       +-------+-------+-------+-------+-------+-------+-------+-------+
//!        \______________ payload, 56 bytes ________________/  written last,
//!          little-endian words, stored Relaxed                 Release / Acquire
//! ```
//!
//! # Why every word is an atomic, and why Relaxed is enough for the payload
//!
//! The line is written by one core and read by another without a lock, so plain (non-atomic)
//! payload words would be a data race in the Rust memory model whenever the reader polls a
//! line the writer is filling, even if the reader then throws the bytes away, and `unsafe`
//! volatile copies would be needed to pretend otherwise. Making each word an `AtomicU64`
//! removes the race by construction and needs no `unsafe`:
//!
//! - The writer stores `w0..w6` with `Relaxed`, then `seq` with `Release`. The reader loads
//!   `seq` with `Acquire`; when it holds the value it expects, the writer's payload stores
//!   *happen before* the reader's payload loads, so the reader sees them (or later stores).
//! - There are no later stores to see: flow control (see [`crate::frame`]) lets the writer
//!   reuse the line only after the reader has published, with `Release`, that it consumed it,
//!   and the writer reads that with `Acquire` before writing. So the reader's loads happen
//!   before the next lap's stores, and a torn (half old, half new) message cannot be observed.
//!
//! On AArch64 a `Relaxed` 64-bit store or load is a plain `STR`/`LDR`, `Release` is `STLR`
//! and `Acquire` is `LDAR`, all single-copy atomic for aligned doublewords; on x86-64 all of
//! them are plain `MOV`s. The atomics cost nothing over a `memcpy` except that the compiler
//! does not merge them into pair stores. No read-modify-write is used, so the rings need no
//! exclusive monitor.
//!
//! The payload words are `PayloadWord`s (`src/sync.rs`): these relaxed atomics on the cores,
//! and under `--cfg loom` race-checked cells, so that the loom models check the two
//! happens-before edges above directly (see `src/sync.rs`).

use crate::sync::{AtomicU64, Ordering, PayloadWord};

/// Bytes in one message line: the cache-line size the layout is built for.
pub const LINE_BYTES: usize = 64;
/// 64-bit payload words in a line (the eighth word is the sequence word).
pub const PAYLOAD_WORDS: usize = 7;
/// Payload bytes a message carries.
pub const PAYLOAD_BYTES: usize = PAYLOAD_WORDS * 8;

/// The bytes of one message, as the sender hands them over and the receiver gets them back:
/// 56 bytes, aligned to 8 so that every copy between a payload and a [`MessageLine`] is seven
/// word loads and seven word stores. (A plain `[u8; 56]` has alignment 1, and the bare-metal
/// targets build with `+strict-align`, where a copy through such a reference becomes 56 byte
/// loads and 56 byte stores; `scripts/lib/urpc-codegen.sh` checks the machine code.)
///
/// It dereferences to its `[u8; 56]`, so bytes are read and written by index or slice as
/// before; [`Payload::word`] and [`Payload::from_words`] give the little-endian words.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C, align(8))]
pub struct Payload(pub [u8; PAYLOAD_BYTES]);

const _: () = {
    assert!(core::mem::size_of::<Payload>() == PAYLOAD_BYTES);
    assert!(core::mem::align_of::<Payload>() == 8);
};

impl Payload {
    /// All zero: the payload of no message (the typed layer's tag 0).
    pub const ZERO: Self = Self([0; PAYLOAD_BYTES]);

    /// The payload holding `bytes`.
    #[inline(always)]
    pub const fn new(bytes: [u8; PAYLOAD_BYTES]) -> Self {
        Self(bytes)
    }

    /// The payload whose little-endian words are `words`.
    #[inline(always)]
    pub fn from_words(words: [u64; PAYLOAD_WORDS]) -> Self {
        let mut payload = Self::ZERO;
        for (chunk, word) in payload.0.as_chunks_mut::<8>().0.iter_mut().zip(words) {
            *chunk = word.to_le_bytes();
        }
        payload
    }

    /// Word `index` (0 to 6), little-endian: bytes `8 * index .. 8 * index + 8`.
    ///
    /// # Panics
    ///
    /// If `index` is 7 or more.
    #[inline(always)]
    pub fn word(&self, index: usize) -> u64 {
        u64::from_le_bytes(self.0.as_chunks::<8>().0[index])
    }

    /// The seven little-endian words.
    #[inline(always)]
    pub fn words(&self) -> [u64; PAYLOAD_WORDS] {
        let mut words = [0; PAYLOAD_WORDS];
        for (word, chunk) in words.iter_mut().zip(self.0.as_chunks::<8>().0) {
            *word = u64::from_le_bytes(*chunk);
        }
        words
    }
}

impl core::ops::Deref for Payload {
    type Target = [u8; PAYLOAD_BYTES];

    #[inline(always)]
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl core::ops::DerefMut for Payload {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Default for Payload {
    fn default() -> Self {
        Self::ZERO
    }
}

impl From<[u8; PAYLOAD_BYTES]> for Payload {
    #[inline(always)]
    fn from(bytes: [u8; PAYLOAD_BYTES]) -> Self {
        Self(bytes)
    }
}

impl core::fmt::Debug for Payload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Payload").field(&self.words()).finish()
    }
}

/// One message slot of a ring: a single cache line written only by the ring's sender.
///
/// An all-zero line holds sequence number 0, which no message ever carries: it reads as
/// "never written".
#[repr(C, align(64))]
pub struct MessageLine {
    /// `w0..w6`, stored and loaded `Relaxed`.
    payload: [PayloadWord; PAYLOAD_WORDS],
    /// The sequence word, stored `Release` after the payload, loaded `Acquire`.
    seq: AtomicU64,
}

#[cfg(not(loom))]
const _: () = {
    assert!(core::mem::size_of::<MessageLine>() == LINE_BYTES);
    assert!(core::mem::align_of::<MessageLine>() == LINE_BYTES);
    assert!(PAYLOAD_BYTES >= 56);
};

impl MessageLine {
    /// A never-written line (all zero).
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self { payload: [const { PayloadWord::new() }; PAYLOAD_WORDS], seq: AtomicU64::new(0) }
    }

    /// A never-written line (all zero).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self { payload: core::array::from_fn(|_| PayloadWord::new()), seq: AtomicU64::new(0) }
    }

    /// Back to never written (sequence 0); the payload words are read only under a matching
    /// sequence, so they may stay.
    pub(crate) fn clear(&self) {
        self.seq.store(0, Ordering::Release);
    }

    /// Writes `payload`, then publishes it by storing `seq` (non-zero) with `Release`.
    #[inline(always)]
    pub(crate) fn publish(&self, payload: &Payload, seq: u64) {
        for (word, bytes) in self.payload.iter().zip(payload.0.as_chunks::<8>().0) {
            word.store(u64::from_le_bytes(*bytes));
        }
        self.seq.store(seq, Ordering::Release);
    }

    /// The sequence word, loaded with `Acquire`: if it is the one the reader waits for, the
    /// payload written before it is visible to [`Self::read_payload`].
    #[inline(always)]
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// The sequence word itself, for a core that waits on its line (see [`crate::sleep`]).
    #[inline(always)]
    pub(crate) fn seq_word(&self) -> &AtomicU64 {
        &self.seq
    }

    /// Copies the payload out. Only meaningful after [`Self::seq`] returned the expected value.
    #[inline(always)]
    pub(crate) fn read_payload(&self) -> Payload {
        let mut payload = Payload::ZERO;
        for (word, bytes) in self.payload.iter().zip(payload.0.as_chunks_mut::<8>().0) {
            *bytes = word.load().to_le_bytes();
        }
        payload
    }
}

impl Default for MessageLine {
    fn default() -> Self {
        Self::new()
    }
}
