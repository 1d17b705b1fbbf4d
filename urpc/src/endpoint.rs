//! The two ends of a channel and their non-blocking send and receive operations.
//!
//! All shared state lives in the [`ChannelFrame`]; an endpoint holds only a reference to it and
//! its own counters (next sequence number, cached credits, unacknowledged count), which live in
//! the owning core's private memory. Every operation is split-phase: it does what it can now
//! and returns; waiting is the caller's policy (see [`crate::notify`]).

use core::fmt;

use crate::frame::{ChannelFrame, Ring};
use crate::line::Payload;
use crate::message::{self, Message};
use crate::sync::Ordering;

/// Which end of a channel an endpoint is. A sends on ring A->B and receives on ring B->A.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The end that sends on the first ring of the frame (by convention the core that set the
    /// channel up).
    A,
    /// The other end.
    B,
}

impl Side {
    /// The other end.
    pub const fn peer(self) -> Self {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// [`Sender::try_send`] found no free slot: every slot holds a message the receiver has not
/// consumed yet. Nothing was written; try again later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("URPC ring full: the receiver has not consumed the oldest message")
    }
}

/// Why [`Receiver::try_recv`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// No new message yet.
    Empty,
    /// The slot holds a sequence number that neither the expected message nor the previous
    /// lap's can carry: the peer broke the protocol (two senders on one ring, a frame reused
    /// without zeroing it, memory corruption). The channel cannot be trusted any more.
    Desync {
        /// The sequence number the receiver waited for.
        expected: u64,
        /// The one it found.
        found: u64,
    },
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty => f.write_str("URPC ring empty"),
            RecvError::Desync { expected, found } => {
                write!(f, "URPC ring out of sync: expected sequence {expected}, found {found}")
            }
        }
    }
}

/// One end of a channel: the sending half on its outgoing ring, the receiving half on the
/// incoming one. Use the halves directly, or [`Endpoint::split`] them to hand them to
/// different owners (say, a dispatcher that sends and an interrupt path that receives).
pub struct Endpoint<'frame, const SLOTS: usize = { crate::DEFAULT_SLOTS }> {
    /// Sends on this side's outgoing ring.
    pub sender: Sender<'frame, SLOTS>,
    /// Receives on the peer's outgoing ring.
    pub receiver: Receiver<'frame, SLOTS>,
}

impl<'frame, const SLOTS: usize> Endpoint<'frame, SLOTS> {
    /// The endpoint of `side` over `frame` (see [`ChannelFrame::endpoint`]). Starts from the
    /// state of an all-zero frame: nothing sent, nothing received.
    pub fn new(frame: &'frame ChannelFrame<SLOTS>, side: Side) -> Self {
        Self { sender: Sender::new(frame.outgoing(side)), receiver: Receiver::new(frame.incoming(side)) }
    }

    /// The two halves, to be owned separately.
    pub fn split(self) -> (Sender<'frame, SLOTS>, Receiver<'frame, SLOTS>) {
        (self.sender, self.receiver)
    }
}

/// The sending half: the only writer of its ring's message lines.
pub struct Sender<'frame, const SLOTS: usize = { crate::DEFAULT_SLOTS }> {
    pub(crate) ring: &'frame Ring<SLOTS>,
    /// Messages sent so far; the next one carries sequence number `sent + 1`.
    sent: u64,
    /// `sent % SLOTS`, kept separately so the hot path needs no division.
    next_slot: usize,
    /// The receiver's consumed count as last read; `sent` may run up to `SLOTS` ahead of it.
    consumed_seen: u64,
}

impl<'frame, const SLOTS: usize> Sender<'frame, SLOTS> {
    fn new(ring: &'frame Ring<SLOTS>) -> Self {
        #[allow(clippy::let_unit_value, reason = "forces the compile-time slot-count check")]
        let () = Ring::<SLOTS>::VALID;
        Self { ring, sent: 0, next_slot: 0, consumed_seen: 0 }
    }

    /// Sends one message if a slot is free; never blocks, never overwrites an unread message.
    #[inline]
    pub fn try_send(&mut self, payload: &Payload) -> Result<(), Full> {
        if self.free_slots_cached() == 0 && self.refresh_credits() == 0 {
            return Err(Full);
        }
        self.write_next(payload);
        Ok(())
    }

    /// Sends as many of `payloads` as there are free slots, in order; returns how many went.
    ///
    /// Cheaper than one [`try_send`](Self::try_send) each: the credits are checked once.
    pub fn try_send_batch(&mut self, payloads: &[Payload]) -> usize {
        let mut free = self.free_slots_cached();
        if free < payloads.len() {
            free = self.refresh_credits();
        }
        let count = free.min(payloads.len());
        for payload in &payloads[..count] {
            self.write_next(payload);
        }
        count
    }

    /// Encodes `message` with its type tag (see [`crate::message`]) and sends it.
    pub fn try_send_message<M: Message>(&mut self, message: &M) -> Result<(), Full> {
        self.try_send(&message::encode(message))
    }

    /// Free slots now, after re-reading the receiver's acknowledgements.
    pub fn free_slots(&mut self) -> usize {
        self.refresh_credits()
    }

    /// Messages sent since the channel was empty.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Free slots according to the cached credits (never more than the truth).
    #[inline(always)]
    fn free_slots_cached(&self) -> usize {
        // `sent - consumed_seen <= SLOTS` is the flow-control invariant, so this cannot wrap.
        SLOTS - (self.sent - self.consumed_seen) as usize
    }

    /// Re-reads the consumed count and returns the free slots. `Acquire` pairs with the
    /// receiver's `Release`, so its reads of the slots happen before we overwrite them.
    #[cold]
    fn refresh_credits(&mut self) -> usize {
        let consumed = self.ring.ack.consumed.load(Ordering::Acquire);
        // A receiver that claims more than was sent is broken; trusting it would let us
        // overwrite unread messages, so never let the cached credits run past `sent`.
        self.consumed_seen = consumed.clamp(self.consumed_seen, self.sent);
        self.free_slots_cached()
    }

    /// Writes the next message into its slot; the caller has checked there is a free one.
    #[inline(always)]
    fn write_next(&mut self, payload: &Payload) {
        self.ring.slots[self.next_slot].publish(payload, self.sent + 1);
        self.sent += 1;
        self.next_slot = if self.next_slot + 1 == SLOTS { 0 } else { self.next_slot + 1 };
    }
}

/// The receiving half: the only reader of its ring's message lines and the only writer of its
/// acknowledgement line.
pub struct Receiver<'frame, const SLOTS: usize = { crate::DEFAULT_SLOTS }> {
    pub(crate) ring: &'frame Ring<SLOTS>,
    /// Messages consumed so far; the next one carries sequence number `received + 1`.
    pub(crate) received: u64,
    /// `received % SLOTS`.
    pub(crate) next_slot: usize,
    /// The consumed count last published on the acknowledgement line.
    acknowledged: u64,
}

impl<'frame, const SLOTS: usize> Receiver<'frame, SLOTS> {
    /// Acknowledge after this many messages: rarely enough that the reverse traffic is one
    /// line per batch, often enough that a streaming sender keeps three quarters of the ring.
    const ACK_BATCH: u64 = if SLOTS >= 4 { (SLOTS / 4) as u64 } else { 1 };

    fn new(ring: &'frame Ring<SLOTS>) -> Self {
        #[allow(clippy::let_unit_value, reason = "forces the compile-time slot-count check")]
        let () = Ring::<SLOTS>::VALID;
        Self { ring, received: 0, next_slot: 0, acknowledged: 0 }
    }

    /// Takes the next message if one has arrived; never blocks.
    ///
    /// When the ring is empty, pending acknowledgements are published first, so a sender that
    /// sees [`Full`] knows the receiver has unread messages.
    #[inline]
    pub fn try_recv(&mut self) -> Result<Payload, RecvError> {
        let line = &self.ring.slots[self.next_slot];
        let seq = line.seq();
        let expected = self.received + 1;
        if seq != expected {
            return Err(self.not_ready(expected, seq));
        }
        let payload = line.read_payload();
        self.received = expected;
        self.next_slot = if self.next_slot + 1 == SLOTS { 0 } else { self.next_slot + 1 };
        if self.received - self.acknowledged >= Self::ACK_BATCH {
            self.acknowledge();
        }
        Ok(payload)
    }

    /// Takes up to `out.len()` messages that have arrived, in order; returns how many
    /// (0: the ring is empty). Acknowledges once at the end.
    pub fn try_recv_batch(&mut self, out: &mut [Payload]) -> Result<usize, RecvError> {
        let mut count = 0;
        for slot in out.iter_mut() {
            let line = &self.ring.slots[self.next_slot];
            let seq = line.seq();
            let expected = self.received + 1;
            if seq != expected {
                let error = self.not_ready(expected, seq);
                return if count > 0 || error == RecvError::Empty { Ok(count) } else { Err(error) };
            }
            *slot = line.read_payload();
            self.received = expected;
            self.next_slot = if self.next_slot + 1 == SLOTS { 0 } else { self.next_slot + 1 };
            count += 1;
        }
        if self.received != self.acknowledged {
            self.acknowledge();
        }
        Ok(count)
    }

    /// Receives one message and decodes it as `M`.
    ///
    /// The message is consumed even if it does not decode: the error says why it was dropped.
    pub fn try_recv_message<M: Message>(&mut self) -> Result<M, RecvMessageError> {
        let payload = self.try_recv().map_err(RecvMessageError::Recv)?;
        message::decode(&payload).map_err(RecvMessageError::Decode)
    }

    /// The next message's payload, without taking it (`None` when nothing is waiting).
    pub(crate) fn peek(&self) -> Option<Payload> {
        let line = &self.ring.slots[self.next_slot];
        (line.seq() == self.received + 1).then(|| line.read_payload())
    }

    /// Whether a message is waiting, without taking it (a condition for a wait loop).
    pub fn has_message(&self) -> bool {
        self.ring.slots[self.next_slot].seq() == self.received + 1
    }

    /// Messages received since the channel was empty.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Publishes every consumed message as acknowledged now (before sleeping, for example).
    pub fn flush_acknowledgements(&mut self) {
        if self.received != self.acknowledged {
            self.acknowledge();
        }
    }

    /// The slot did not hold the expected message: empty, or a protocol violation. Only a
    /// value from the previous lap (`expected - SLOTS`, or 0 on the first lap) means empty;
    /// flow control makes every other value impossible for a well-behaved sender.
    #[cold]
    fn not_ready(&mut self, expected: u64, found: u64) -> RecvError {
        if found != expected.saturating_sub(SLOTS as u64) {
            return RecvError::Desync { expected, found };
        }
        // Idle: return the credits now so the sender is never held up by our batching.
        self.flush_acknowledgements();
        RecvError::Empty
    }

    /// `Release` orders our reads of the consumed slots before the sender's reuse of them.
    fn acknowledge(&mut self) {
        self.ring.ack.consumed.store(self.received, Ordering::Release);
        self.acknowledged = self.received;
    }
}

/// Why [`Receiver::try_recv_message`] produced no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvMessageError {
    /// Nothing received (see [`RecvError`]).
    Recv(RecvError),
    /// A message was received and consumed, but did not decode as the requested type.
    Decode(message::DecodeError),
}

impl fmt::Display for RecvMessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvMessageError::Recv(error) => error.fmt(f),
            RecvMessageError::Decode(error) => write!(f, "URPC message dropped: {error}"),
        }
    }
}
