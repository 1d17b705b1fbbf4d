//! The shared memory of a channel: two rings in one frame, each cache line with one writer,
//! and each 128-byte pair of lines too.
//!
//! With the default [`DEFAULT_SLOTS`] = 30 a channel fills one 4 KiB frame exactly:
//!
//! ```text
//!  offset   lines   contents                                   written by   read by
//!  0x000    0       ring A->B  slot 0   (MessageLine)            A            B
//!  0x040    1       ring A->B  slot 1                            A            B
//!   ...     ...      ...
//!  0x740    29      ring A->B  slot 29                           A            B
//!  0x780    30-31   ring A->B  ack block: consumed, claims, asleep   B            A
//!  0x800    32      ring B->A  slot 0                            B            A
//!   ...     ...      ...
//!  0xf40    61      ring B->A  slot 29                           B            A
//!  0xf80    62-63   ring B->A  ack block                         A            B
//!  0x1000           end of frame (size 64 * (2 * SLOTS + 4) bytes for even SLOTS, alignment 128)
//! ```
//!
//! # Why the acknowledgement takes a 128-byte block
//!
//! Cortex-A72's L2 and many x86 cores fetch lines in aligned 128-byte pairs (the adjacent-line
//! or spatial prefetcher), and a core whose data cache line is 128 bytes (`CTR_EL0.DminLine`)
//! has such a pair as its line. If the receiver's acknowledgement line shared a pair with the
//! sender's last slot, as it did when it took one 64-byte line after 31 slots, the two cores
//! would write one 128-byte unit and pull it back and forth. The [`AckLine`] is therefore 128
//! bytes aligned to 128: every 128-byte block of the frame has exactly one writer, for a ring
//! of any slot count (an odd count leaves a padding line before the block). The cost is one
//! slot per ring (30 instead of 31). [`check_cache_line`] refuses cores whose lines are wider
//! than that block, where single writers could no longer be kept.
//!
//! # Protocol of one ring
//!
//! Message number `k` (counting from 0) goes into slot `k % SLOTS` with sequence word `k + 1`.
//! The receiver expecting message `k` polls that slot's sequence word for exactly `k + 1`;
//! anything else is the previous lap's message (`k + 1 - SLOTS`) or, on the first lap, 0, so the
//! ring is empty. Sequence words are 64-bit and never wrap in practice (584 years at 10^9
//! messages per second), so a stale line can never be taken for a fresh one (no ABA).
//!
//! Flow control is by credits: the receiver publishes on its acknowledgement line how many
//! messages it has consumed (`Release`). The sender may have at most `SLOTS` messages
//! outstanding, `sent - consumed <= SLOTS`; it keeps a cached copy of `consumed` and reads the
//! shared one (`Acquire`) only when the cache says the ring is full, so in steady state it does
//! not touch the acknowledgement line at all. The receiver batches its acknowledgements (every
//! `max(1, SLOTS / 4)` messages) and also acknowledges whenever it finds the ring empty, so a
//! sender never waits on an idle receiver and the reverse traffic stays one line per batch.
//!
//! # Why an all-zero frame is an empty channel
//!
//! Zero sequence words read as "never written" (no message has sequence 0), a zero consumed
//! count says nothing was consumed, and fresh endpoints start with zero counters. So the boot
//! core zeroes a frame, hands it to two cores, and each builds its endpoint without any
//! handshake.
//!
//! # Getting a frame
//!
//! The frame holds only atomics, so a shared reference is all either side needs, and it holds
//! no pointers, so the two cores may map it at different virtual addresses. The kernel turns
//! its mapping into a reference (Normal cacheable Inner-Shareable memory, 64-byte aligned,
//! mapped for the whole lifetime of the endpoints):
//!
//! ```ignore
//! // SAFETY: `va` maps the zeroed channel frame (Normal, Inner-Shareable, cacheable) for the
//! // rest of this core's life; it is 4 KiB aligned and only ever accessed through atomics.
//! let frame: &'static urpc::ChannelFrame = unsafe { &*(va as *const urpc::ChannelFrame) };
//! let urpc::Endpoint { sender, receiver } = frame.endpoint(urpc::Side::B);
//! ```

use crate::endpoint::{Endpoint, Side};
use crate::line::MessageLine;
#[cfg(not(loom))]
use crate::line::LINE_BYTES;
use crate::sync::{AtomicU64, Ordering};

/// Message slots per ring in the default frame: the most that fit two rings, each with its
/// 128-byte acknowledgement block, in 4 KiB.
pub const DEFAULT_SLOTS: usize = 30;

/// The granularity the frame keeps single-writer: an aligned pair of 64-byte lines (see the
/// module documentation), and so any data cache line up to this size.
pub const WRITER_BLOCK_BYTES: usize = 128;

/// A core's data cache line is wider than [`WRITER_BLOCK_BYTES`]: lines written by the two
/// ends of a channel would share one of its cache lines ([`check_cache_line`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineTooWide {
    /// The core's smallest data cache line, in bytes (`CTR_EL0.DminLine`).
    pub line_bytes: usize,
}

impl core::fmt::Display for LineTooWide {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "data cache line of {} bytes: URPC keeps each writer's lines apart only up to {} bytes",
            self.line_bytes, WRITER_BLOCK_BYTES
        )
    }
}

/// Whether a core whose smallest data cache line is `line_bytes` (from `CTR_EL0`) can use URPC
/// frames: up to [`WRITER_BLOCK_BYTES`] every cache line still has one writer (a 128-byte line
/// holds two message slots of one sender, or one acknowledgement block); wider lines would mix
/// the two ends' writes and are refused. A line narrower than the 64-byte message line only
/// splits a message over several lines of one writer, which costs transfers but stays correct.
pub const fn check_cache_line(line_bytes: usize) -> Result<(), LineTooWide> {
    if line_bytes > WRITER_BLOCK_BYTES {
        Err(LineTooWide { line_bytes })
    } else {
        Ok(())
    }
}

/// The 128-byte block a ring's receiver writes: credits for the sender, and whether the
/// receiver sleeps.
///
/// Its first word is the consumed count; its second records which ends of the ring were
/// claimed by [`ChannelFrame::try_endpoint`] (written once each, when a channel is set up);
/// its third is the receiver's asleep flag ([`crate::sleep`]). The rest of the block keeps the
/// sender's message lines and the receiver-written words in different 128-byte units (see the
/// module documentation). The rest is an explicit zero field, not compiler padding, so every
/// byte of a frame is initialised (a frame can be viewed as bytes, and [`ChannelFrame::new`]
/// is byte for byte the zeroed memory the kernel hands out).
#[repr(C, align(128))]
pub struct AckLine {
    /// Messages the receiver has consumed (and will never read again), stored with `Release`.
    pub(crate) consumed: AtomicU64,
    /// Bit 0: the ring's sending end is claimed; bit 1: its receiving end.
    pub(crate) claims: AtomicU64,
    /// Non-zero while the receiver sleeps until notified (see [`crate::sleep`]).
    pub(crate) asleep: AtomicU64,
    /// Never read or written after construction: zero.
    unused: [u64; BLOCK_WORDS - 3],
}

/// [`AckLine::claims`] bits.
const CLAIM_SENDER: u64 = 1 << 0;
const CLAIM_RECEIVER: u64 = 1 << 1;

/// A second endpoint for a side of a channel was refused ([`ChannelFrame::try_endpoint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideTaken;

/// 64-bit words in an acknowledgement block.
const BLOCK_WORDS: usize = WRITER_BLOCK_BYTES / 8;

impl AckLine {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Self {
            consumed: AtomicU64::new(0),
            claims: AtomicU64::new(0),
            asleep: AtomicU64::new(0),
            unused: [0; BLOCK_WORDS - 3],
        }
    }

    #[cfg(loom)]
    fn new() -> Self {
        Self {
            consumed: AtomicU64::new(0),
            claims: AtomicU64::new(0),
            asleep: AtomicU64::new(0),
            unused: [0; BLOCK_WORDS - 3],
        }
    }
}

/// One direction of a channel: `SLOTS` message lines written by the sender and one
/// acknowledgement block written by the receiver.
#[repr(C)]
pub struct Ring<const SLOTS: usize> {
    pub(crate) slots: [MessageLine; SLOTS],
    pub(crate) ack: AckLine,
}

impl<const SLOTS: usize> Ring<SLOTS> {
    /// Rejects a ring without slots at compile time (when an endpoint is instantiated).
    pub(crate) const VALID: () = assert!(SLOTS > 0, "a URPC ring needs at least one slot");

    #[cfg(not(loom))]
    const fn new() -> Self {
        Self { slots: [const { MessageLine::new() }; SLOTS], ack: AckLine::new() }
    }

    #[cfg(loom)]
    fn new() -> Self {
        Self { slots: core::array::from_fn(|_| MessageLine::new()), ack: AckLine::new() }
    }
}

/// The shared memory of one channel: ring A->B, then ring B->A. All zero means empty.
///
/// See the [module documentation](self) for the layout and the protocol.
#[repr(C)]
pub struct ChannelFrame<const SLOTS: usize = DEFAULT_SLOTS> {
    pub(crate) a_to_b: Ring<SLOTS>,
    pub(crate) b_to_a: Ring<SLOTS>,
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<AckLine>() == WRITER_BLOCK_BYTES && align_of::<AckLine>() == WRITER_BLOCK_BYTES);
    assert!(BLOCK_WORDS * 8 == WRITER_BLOCK_BYTES, "an acknowledgement block has no padding bytes");
    assert!(WRITER_BLOCK_BYTES == 2 * LINE_BYTES);
    assert!(size_of::<Ring<DEFAULT_SLOTS>>() == DEFAULT_SLOTS * LINE_BYTES + WRITER_BLOCK_BYTES);
    assert!(size_of::<ChannelFrame>() == 4096, "the default channel must fill one 4 KiB frame");
    assert!(align_of::<ChannelFrame>() == WRITER_BLOCK_BYTES);
    assert!(offset_of!(ChannelFrame, b_to_a) == 0x800);
    assert!(offset_of!(Ring<DEFAULT_SLOTS>, ack) == 0x780);
};

impl<const SLOTS: usize> ChannelFrame<SLOTS> {
    /// Size of the frame in bytes: two rings of `SLOTS` lines rounded up to a 128-byte block,
    /// each with its 128-byte acknowledgement block.
    pub const BYTES: usize = core::mem::size_of::<Self>();

    /// An empty channel: every byte zero, the same as a frame the boot core zeroed.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self { a_to_b: Ring::new(), b_to_a: Ring::new() }
    }

    /// An empty channel: every byte zero, the same as a frame the boot core zeroed.
    #[cfg(loom)]
    pub fn new() -> Self {
        Self { a_to_b: Ring::new(), b_to_a: Ring::new() }
    }

    /// The endpoint of `side`: it sends on its outgoing ring and receives on the other.
    ///
    /// Build exactly one endpoint per side over a frame (each ring must have one sender and
    /// one receiver); a second endpoint for the same side would be a second writer, which the
    /// protocol cannot survive (though it stays memory-safe).
    pub fn endpoint(&self, side: Side) -> Endpoint<'_, SLOTS> {
        Endpoint::new(self, side)
    }

    /// The endpoint of `side`, if no endpoint of that side was claimed over this frame before
    /// (in any address space that maps it): a second writer of a ring would break the
    /// protocol, so a side is claimed for the frame's life (a channel is set up once, on a
    /// freshly zeroed frame). Nothing is claimed when it is refused.
    pub fn try_endpoint(&self, side: Side) -> Result<Endpoint<'_, SLOTS>, SideTaken> {
        let (outgoing, incoming) = (&self.outgoing(side).ack.claims, &self.incoming(side).ack.claims);
        if outgoing.fetch_or(CLAIM_SENDER, Ordering::AcqRel) & CLAIM_SENDER != 0 {
            return Err(SideTaken);
        }
        if incoming.fetch_or(CLAIM_RECEIVER, Ordering::AcqRel) & CLAIM_RECEIVER != 0 {
            outgoing.fetch_and(!CLAIM_SENDER, Ordering::AcqRel);
            return Err(SideTaken);
        }
        Ok(Endpoint::new(self, side))
    }

    /// Empties the channel for a new pair of endpoints, as a freshly zeroed frame: every
    /// sequence word and acknowledgement block back to zero, no side claimed. Only for a
    /// frame that no endpoint uses any more on either side (the core at one end is powered
    /// off and the other dropped its endpoint): a live endpoint would see its ring go back in
    /// time. Whoever builds the new endpoints must see these stores first (a release/acquire
    /// chain, or the barrier before starting the core that builds one).
    pub fn reset(&self) {
        for ring in [&self.a_to_b, &self.b_to_a] {
            for slot in &ring.slots {
                slot.clear();
            }
            ring.ack.consumed.store(0, Ordering::Release);
            ring.ack.asleep.store(0, Ordering::Release);
            ring.ack.claims.store(0, Ordering::Release);
        }
    }

    /// The ring `side` sends on.
    pub(crate) fn outgoing(&self, side: Side) -> &Ring<SLOTS> {
        match side {
            Side::A => &self.a_to_b,
            Side::B => &self.b_to_a,
        }
    }

    /// The ring `side` receives on.
    pub(crate) fn incoming(&self, side: Side) -> &Ring<SLOTS> {
        self.outgoing(side.peer())
    }
}

impl<const SLOTS: usize> Default for ChannelFrame<SLOTS> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use core::mem::{offset_of, size_of};

    use super::*;

    /// The 128-byte blocks `[start, end)` touches.
    fn blocks(start: usize, end: usize) -> core::ops::Range<usize> {
        start / WRITER_BLOCK_BYTES..end.div_ceil(WRITER_BLOCK_BYTES)
    }

    /// No 128-byte block of the frame holds lines of both ends, for any slot count: the
    /// blocks written by A (ring A->B's slots, ring B->A's acknowledgements) and by B are
    /// disjoint.
    fn check_single_writer_blocks<const SLOTS: usize>() {
        let ring = size_of::<Ring<SLOTS>>();
        let slots = SLOTS * LINE_BYTES;
        let ack = offset_of!(Ring<SLOTS>, ack);
        let second = offset_of!(ChannelFrame<SLOTS>, b_to_a);
        assert_eq!(second, ring);
        let written_by_a = [blocks(0, slots), blocks(second + ack, second + ring)];
        let written_by_b = [blocks(ack, ring), blocks(second, second + slots)];
        for a in &written_by_a {
            for b in &written_by_b {
                assert!(a.end <= b.start || b.end <= a.start, "SLOTS={SLOTS}: blocks {a:?} and {b:?} meet");
            }
        }
        assert!(ack >= slots && ack.is_multiple_of(WRITER_BLOCK_BYTES));
    }

    #[test]
    fn a_reset_frame_takes_new_endpoints_that_start_empty() {
        let frame: ChannelFrame = ChannelFrame::new();
        {
            // The first pair: a line each way, left unread, then both ends gone.
            let mut a = frame.try_endpoint(Side::A).unwrap();
            let mut b = frame.try_endpoint(Side::B).unwrap();
            let line = crate::Payload::from_words([7; crate::line::PAYLOAD_WORDS]);
            a.sender.try_send(&line).unwrap();
            b.sender.try_send(&line).unwrap();
            assert!(frame.try_endpoint(Side::A).is_err());
        }
        frame.reset();
        let mut a = frame.try_endpoint(Side::A).expect("side A claimable again");
        let mut b = frame.try_endpoint(Side::B).expect("side B claimable again");
        assert!(a.receiver.try_recv().is_err() && b.receiver.try_recv().is_err(), "old lines are gone");
        let fresh = crate::Payload::from_words([9; crate::line::PAYLOAD_WORDS]);
        a.sender.try_send(&fresh).unwrap();
        assert_eq!(b.receiver.try_recv().ok(), Some(fresh));
    }

    #[test]
    fn every_128_byte_block_has_one_writer_for_any_slot_count() {
        check_single_writer_blocks::<1>();
        check_single_writer_blocks::<2>();
        check_single_writer_blocks::<3>();
        check_single_writer_blocks::<7>();
        check_single_writer_blocks::<DEFAULT_SLOTS>();
        check_single_writer_blocks::<31>();
        assert_eq!(ChannelFrame::<DEFAULT_SLOTS>::BYTES, 4096);
        assert_eq!(ChannelFrame::<31>::BYTES, 4352, "31 slots no longer fit a page");
    }

    #[test]
    fn cache_lines_wider_than_the_block_are_refused() {
        for line in [16, 32, 64, 128] {
            assert_eq!(check_cache_line(line), Ok(()), "{line}-byte lines");
        }
        for line in [256, 512, 2048] {
            assert_eq!(check_cache_line(line), Err(LineTooWide { line_bytes: line }));
        }
        assert_eq!(
            LineTooWide { line_bytes: 256 }.to_string(),
            "data cache line of 256 bytes: URPC keeps each writer's lines apart only up to 128 bytes"
        );
    }
}
