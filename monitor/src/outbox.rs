//! Messages to other monitors that never get lost: what does not fit into a peer's channel
//! now waits in a queue for that peer, in order, and goes out when the channel has room again
//! (the monitor flushes on every pump). Nothing is dropped and nothing overtakes: a message
//! for a peer with a queue joins the end of that queue. A queue that makes no progress for a
//! while is reported once ([`Outbox::stalled`]), so a peer that stopped reading is visible
//! (a deep queue alone says nothing: a burst to a peer that reads waits too). Only a peer
//! taken as dead loses what waits for it ([`Outbox::forget`]): nobody will read it.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use urpc::Payload;

/// A channel's sending side as the outbox needs it.
pub trait Link {
    /// Sends `payload` now, or says the ring is full (nothing sent).
    fn try_send(&mut self, payload: &Payload) -> Result<(), urpc::Full>;
}

impl Link for urpc::Sender<'_> {
    fn try_send(&mut self, payload: &Payload) -> Result<(), urpc::Full> {
        urpc::Sender::try_send(self, payload)
    }
}

/// What became of a message given to [`Outbox::send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// It is in the peer's channel (and so is everything queued before it).
    Now,
    /// It waits, behind this many messages (itself included).
    Queued(usize),
}

/// Per peer, the messages waiting for room in its channel, and the channel's traffic.
#[derive(Debug, Default)]
pub struct Outbox {
    queues: Vec<VecDeque<Payload>>,
    /// Per peer: since when (ns) its queue has waited with no message going out, and whether
    /// that was reported.
    waiting: Vec<Option<(u64, bool)>>,
    traffic: Vec<Traffic>,
}

/// A queue that made no progress for a while: what [`Outbox::stalled`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    /// Messages waiting.
    pub depth: usize,
    /// For how long nothing went out (ns).
    pub waited_ns: u64,
}

/// What went through one peer's channel, as the shell's `channels` prints it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Messages put into the channel.
    pub sent: u64,
    /// Messages taken out of the peer's channel to this core ([`Outbox::note_received`]).
    pub received: u64,
    /// Times a message found the channel full (it waited in the queue).
    pub full: u64,
}

impl Outbox {
    /// An empty outbox for `peers` peers.
    pub fn new(peers: usize) -> Self {
        Outbox {
            queues: (0..peers).map(|_| VecDeque::new()).collect(),
            waiting: alloc::vec![None; peers],
            traffic: alloc::vec![Traffic::default(); peers],
        }
    }

    /// Like [`flush`](Self::flush), and notes at `now` (ns) whether the queue moved: a queue
    /// that sends something, or is empty, is not waiting.
    pub fn flush_at(&mut self, peer: usize, link: &mut impl Link, now: u64) -> usize {
        let sent = self.flush(peer, link);
        if let Some(waiting) = self.waiting.get_mut(peer) {
            if sent > 0 || self.queues[peer].is_empty() {
                *waiting = None;
            } else if waiting.is_none() {
                *waiting = Some((now, false));
            }
        }
        sent
    }

    /// Once per stall: `peer`'s queue, if nothing of it went out for `bound_ns` by `now`
    /// (as [`flush_at`](Self::flush_at) saw it).
    pub fn stalled(&mut self, peer: usize, now: u64, bound_ns: u64) -> Option<Stall> {
        let waiting = self.waiting.get_mut(peer)?;
        let (since, reported) = waiting.as_mut()?;
        let waited_ns = now.saturating_sub(*since);
        if *reported || waited_ns < bound_ns {
            return None;
        }
        *reported = true;
        Some(Stall { depth: self.queues[peer].len(), waited_ns })
    }

    /// Counts a message received from `peer`.
    pub fn note_received(&mut self, peer: usize) {
        if let Some(traffic) = self.traffic.get_mut(peer) {
            traffic.received += 1;
        }
    }

    /// The traffic of `peer`'s channel (zero for a peer out of range).
    pub fn traffic(&self, peer: usize) -> Traffic {
        self.traffic.get(peer).copied().unwrap_or_default()
    }

    /// Sends `payload` to `peer` through `link`, after whatever waits for it; queues what does
    /// not fit. A peer out of range is `None` (nothing sent or kept).
    pub fn send(&mut self, peer: usize, payload: Payload, link: &mut impl Link) -> Option<Sent> {
        let queue = self.queues.get_mut(peer)?;
        queue.push_back(payload);
        Self::drain(queue, link, self.traffic.get_mut(peer));
        Some(if queue.is_empty() { Sent::Now } else { Sent::Queued(queue.len()) })
    }

    /// Sends what waits for `peer`, in order, until its channel is full; returns how many went.
    pub fn flush(&mut self, peer: usize, link: &mut impl Link) -> usize {
        let traffic = self.traffic.get_mut(peer);
        self.queues.get_mut(peer).map_or(0, |queue| Self::drain(queue, link, traffic))
    }

    /// Drops what waits for `peer` (taken as dead: its channel will never have room again, and
    /// a queue kept for it would keep the monitor waking to retry); returns how many went.
    pub fn forget(&mut self, peer: usize) -> usize {
        if let Some(waiting) = self.waiting.get_mut(peer) {
            *waiting = None;
        }
        self.queues.get_mut(peer).map_or(0, |queue| core::mem::take(queue).len())
    }

    /// Whether messages wait for any peer.
    pub fn any_pending(&self) -> bool {
        self.queues.iter().any(|q| !q.is_empty())
    }

    /// Messages waiting for `peer`.
    pub fn pending(&self, peer: usize) -> usize {
        self.queues.get(peer).map_or(0, VecDeque::len)
    }

    fn drain(
        queue: &mut VecDeque<Payload>,
        link: &mut impl Link,
        mut traffic: Option<&mut Traffic>,
    ) -> usize {
        let mut sent = 0;
        while let Some(next) = queue.front() {
            if link.try_send(next).is_err() {
                if let Some(traffic) = traffic.as_deref_mut() {
                    traffic.full += 1;
                }
                break;
            }
            queue.pop_front();
            sent += 1;
        }
        if let Some(traffic) = traffic {
            traffic.sent += sent as u64;
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A channel with room for `room` messages at a time; `taken` drains it.
    struct FakeLink {
        room: usize,
        delivered: Vec<u64>,
        in_ring: usize,
    }

    impl FakeLink {
        fn new(room: usize) -> Self {
            FakeLink { room, delivered: Vec::new(), in_ring: 0 }
        }
        fn receive_all(&mut self) {
            self.in_ring = 0;
        }
    }

    impl Link for FakeLink {
        fn try_send(&mut self, payload: &Payload) -> Result<(), urpc::Full> {
            if self.in_ring == self.room {
                return Err(urpc::Full);
            }
            self.in_ring += 1;
            self.delivered.push(payload.word(0));
            Ok(())
        }
    }

    fn message(n: u64) -> Payload {
        Payload::from_words([n, 0, 0, 0, 0, 0, 0])
    }

    #[test]
    fn a_full_channel_queues_in_order_and_nothing_is_lost_or_overtaken() {
        let mut outbox = Outbox::new(2);
        let mut link = FakeLink::new(2);
        assert_eq!(outbox.send(1, message(1), &mut link), Some(Sent::Now));
        assert_eq!(outbox.send(1, message(2), &mut link), Some(Sent::Now));
        assert_eq!(outbox.send(1, message(3), &mut link), Some(Sent::Queued(1)));
        assert!(outbox.any_pending());
        assert_eq!(outbox.send(1, message(4), &mut link), Some(Sent::Queued(2)));
        assert_eq!(outbox.pending(1), 2);
        assert_eq!(outbox.flush(1, &mut link), 0, "still full");
        link.receive_all();
        // A new message joins the queue's end: 3 and 4 go first.
        assert_eq!(outbox.send(1, message(5), &mut link), Some(Sent::Queued(1)));
        link.receive_all();
        assert_eq!(outbox.flush(1, &mut link), 1);
        assert_eq!(link.delivered, [1, 2, 3, 4, 5]);
        assert_eq!(outbox.pending(1), 0);
        assert_eq!(outbox.pending(0), 0, "other peers are not affected");
        assert!(!outbox.any_pending());
        // Every message went in once; the ring was found full by messages 3 and 4, the first
        // flush, and message 5 behind 3 and 4.
        outbox.note_received(1);
        assert_eq!(outbox.traffic(1), Traffic { sent: 5, received: 1, full: 4 });
        assert_eq!(outbox.traffic(0), Traffic::default());
        assert_eq!(outbox.traffic(7), Traffic::default());
    }

    #[test]
    fn a_queue_that_makes_no_progress_is_reported_once_and_a_burst_that_drains_never() {
        const SECOND: u64 = 1_000_000_000;
        let mut outbox = Outbox::new(2);
        let mut link = FakeLink::new(4);
        // A burst of 64 to a peer that reads: a deep queue, but it moves.
        for n in 0..64 {
            outbox.send(0, message(n), &mut link);
        }
        for step in 0..100 {
            link.receive_all();
            outbox.flush_at(0, &mut link, step * SECOND / 10);
            assert_eq!(outbox.stalled(0, step * SECOND / 10, SECOND), None);
        }
        assert_eq!(outbox.pending(0), 0);
        // A peer that reads nothing: reported once its queue waited a second, then not again.
        for n in 0..10 {
            outbox.send(1, message(n), &mut link);
        }
        outbox.flush_at(1, &mut link, 0);
        assert_eq!(outbox.stalled(1, SECOND / 2, SECOND), None);
        outbox.flush_at(1, &mut link, SECOND / 2);
        assert_eq!(outbox.stalled(1, SECOND, SECOND), Some(Stall { depth: 6, waited_ns: SECOND }));
        assert_eq!(outbox.stalled(1, 2 * SECOND, SECOND), None, "once per stall");
        // It reads again: the stall ends; a new one is a new report.
        link.receive_all();
        outbox.flush_at(1, &mut link, 3 * SECOND);
        outbox.flush_at(1, &mut link, 3 * SECOND);
        assert_eq!(outbox.stalled(1, 5 * SECOND, SECOND), Some(Stall { depth: 2, waited_ns: 2 * SECOND }));
        assert_eq!(outbox.forget(1), 2);
        assert_eq!(outbox.stalled(1, 9 * SECOND, SECOND), None);
    }

    #[test]
    fn a_peer_out_of_range_keeps_nothing() {
        let mut outbox = Outbox::new(1);
        let mut link = FakeLink::new(4);
        assert_eq!(outbox.send(3, message(1), &mut link), None);
        assert!(link.delivered.is_empty());
        assert_eq!(outbox.flush(3, &mut link), 0);
    }

    #[test]
    fn many_messages_through_a_small_ring_arrive_all_in_order() {
        let mut outbox = Outbox::new(1);
        let mut link = FakeLink::new(3);
        for n in 0..1000u64 {
            let _ = outbox.send(0, message(n), &mut link);
            if n % 7 == 0 {
                link.receive_all();
                outbox.flush(0, &mut link);
            }
        }
        while outbox.pending(0) > 0 {
            link.receive_all();
            outbox.flush(0, &mut link);
        }
        assert_eq!(link.delivered, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn a_dead_peer_s_queue_is_forgotten_and_the_others_stay() {
        let mut outbox = Outbox::new(3);
        let mut full = FakeLink::new(0);
        for n in 0..5 {
            outbox.send(1, message(n), &mut full);
            outbox.send(2, message(n), &mut full);
        }
        assert_eq!(outbox.forget(1), 5);
        assert_eq!((outbox.pending(1), outbox.pending(2)), (0, 5));
        assert!(outbox.any_pending(), "peer 2's messages still wait");
        assert_eq!(outbox.forget(2), 5);
        assert!(!outbox.any_pending());
        assert_eq!(outbox.forget(7), 0, "no such peer");
    }
}
