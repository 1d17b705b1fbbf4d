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

use crate::sync::{AtomicU64, Ordering};

/// Bytes in one message line: the cache-line size the layout is built for.
pub const LINE_BYTES: usize = 64;
/// 64-bit payload words in a line (the eighth word is the sequence word).
pub const PAYLOAD_WORDS: usize = 7;
/// Payload bytes a message carries.
pub const PAYLOAD_BYTES: usize = PAYLOAD_WORDS * 8;
/// Index of the sequence word within the line.
const SEQ_WORD: usize = PAYLOAD_WORDS;

/// The bytes of one message, as the sender hands them over and the receiver gets them back.
pub type Payload = [u8; PAYLOAD_BYTES];

/// One message slot of a ring: a single cache line written only by the ring's sender.
///
/// An all-zero line holds sequence number 0, which no message ever carries: it reads as
/// "never written".
#[repr(C, align(64))]
pub struct MessageLine {
    words: [AtomicU64; PAYLOAD_WORDS + 1],
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
        Self { words: [const { AtomicU64::new(0) }; PAYLOAD_WORDS + 1] }
    }

    /// A never-written line (all zero).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self { words: core::array::from_fn(|_| AtomicU64::new(0)) }
    }

    /// Writes `payload`, then publishes it by storing `seq` (non-zero) with `Release`.
    #[inline(always)]
    pub(crate) fn publish(&self, payload: &Payload, seq: u64) {
        for (word, bytes) in self.words.iter().zip(payload.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(bytes);
            word.store(u64::from_le_bytes(le), Ordering::Relaxed);
        }
        self.words[SEQ_WORD].store(seq, Ordering::Release);
    }

    /// The sequence word, loaded with `Acquire`: if it is the one the reader waits for, the
    /// payload written before it is visible to [`Self::read_payload`].
    #[inline(always)]
    pub(crate) fn seq(&self) -> u64 {
        self.words[SEQ_WORD].load(Ordering::Acquire)
    }

    /// Copies the payload out. Only meaningful after [`Self::seq`] returned the expected value.
    #[inline(always)]
    pub(crate) fn read_payload(&self) -> Payload {
        let mut payload = [0u8; PAYLOAD_BYTES];
        for (word, bytes) in self.words.iter().zip(payload.chunks_exact_mut(8)) {
            bytes.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        payload
    }
}

impl Default for MessageLine {
    fn default() -> Self {
        Self::new()
    }
}
