//! The shared memory of a channel: two rings in one frame, each cache line with one writer.
//!
//! With the default [`DEFAULT_SLOTS`] = 31 a channel fills one 4 KiB frame exactly:
//!
//! ```text
//!  offset   line   contents                         written by   read by
//!  0x000    0      ring A->B  slot 0   (MessageLine)  A            B
//!  0x040    1      ring A->B  slot 1                  A            B
//!   ...     ...     ...
//!  0x780    30     ring A->B  slot 30                 A            B
//!  0x7c0    31     ring A->B  ack: consumed count     B            A
//!  0x800    32     ring B->A  slot 0                  B            A
//!   ...     ...     ...
//!  0xf80    62     ring B->A  slot 30                 B            A
//!  0xfc0    63     ring B->A  ack: consumed count     A            B
//!  0x1000          end of frame (size 64 * (2 * SLOTS + 2) bytes, alignment 64)
//! ```
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

/// Message slots per ring in the default frame: the most that fit two rings in 4 KiB.
pub const DEFAULT_SLOTS: usize = 31;

/// The line a ring's receiver writes to return credits to the sender.
///
/// Its first word is the consumed count; its second records which ends of the ring were
/// claimed by [`ChannelFrame::try_endpoint`] (written once each, when a channel is set up);
/// the rest of the line keeps the sender's message lines and the receiver-written count apart. The rest is an explicit zero field, not compiler padding,
/// so every byte of a frame is initialised (a frame can be viewed as bytes, and
/// [`ChannelFrame::new`] is byte for byte the zeroed memory the kernel hands out).
#[repr(C, align(64))]
pub struct AckLine {
    /// Messages the receiver has consumed (and will never read again), stored with `Release`.
    pub(crate) consumed: AtomicU64,
    /// Bit 0: the ring's sending end is claimed; bit 1: its receiving end.
    pub(crate) claims: AtomicU64,
    /// Never read or written after construction: zero.
    unused: [u64; LINE_WORDS - 2],
}

/// [`AckLine::claims`] bits.
const CLAIM_SENDER: u64 = 1 << 0;
const CLAIM_RECEIVER: u64 = 1 << 1;

/// A second endpoint for a side of a channel was refused ([`ChannelFrame::try_endpoint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideTaken;

/// 64-bit words in a line.
const LINE_WORDS: usize = 8;

impl AckLine {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Self { consumed: AtomicU64::new(0), claims: AtomicU64::new(0), unused: [0; LINE_WORDS - 2] }
    }

    #[cfg(loom)]
    fn new() -> Self {
        Self { consumed: AtomicU64::new(0), claims: AtomicU64::new(0), unused: [0; LINE_WORDS - 2] }
    }
}

/// One direction of a channel: `SLOTS` message lines written by the sender and one
/// acknowledgement line written by the receiver.
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
    assert!(size_of::<AckLine>() == LINE_BYTES);
    assert!(LINE_WORDS * 8 == LINE_BYTES, "an acknowledgement line has no padding bytes");
    assert!(size_of::<Ring<DEFAULT_SLOTS>>() == (DEFAULT_SLOTS + 1) * LINE_BYTES);
    assert!(size_of::<ChannelFrame>() == 4096, "the default channel must fill one 4 KiB frame");
    assert!(align_of::<ChannelFrame>() == LINE_BYTES);
    assert!(offset_of!(ChannelFrame, b_to_a) == 0x800);
    assert!(offset_of!(Ring<DEFAULT_SLOTS>, ack) == 0x7c0);
};

impl<const SLOTS: usize> ChannelFrame<SLOTS> {
    /// Size of the frame in bytes: `64 * (2 * SLOTS + 2)`.
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
