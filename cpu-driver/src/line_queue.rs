//! The same-core line transport's queue: the URPC lines (56-byte payloads) the CPU driver
//! holds for one dispatcher between a `line_send` and its `line_recv`, as plain logic so the
//! host tests check it. The kernel's `lines` module runs the calls on it.
//!
//! - **Bounded, never lossy.** At most [`LINE_QUEUE_LINES`] lines; a send that does not fit
//!   is refused whole ([`SendRefusal::Full`]) and the queue is unchanged: the sender keeps its
//!   lines and tries again, nothing is dropped.
//! - **No sender takes it all.** At most [`LINES_PER_SENDER`] lines of one badge: the last
//!   [`MAX_LINES_PER_SEND`] are kept for the receiver's other peers, so one that floods it
//!   cannot keep another from sending a whole message.
//! - **All or nothing, contiguous.** The lines of one send (a several-line message, at most
//!   [`MAX_LINES_PER_SEND`]) go in together, one after the other, so another sender's lines
//!   never fall between them and a receiver never sees half a message.
//! - **Per badge in order.** A receiver may take the oldest line of any badge or of one badge
//!   (one channel's lines, in the order they were sent); lines of other badges keep their
//!   places.
//! - **No allocation.** The lines live in a fixed array inside the dispatcher's record, so a
//!   send never asks the kernel heap for memory it may not have.

pub use syscall_abi::{LINES_PER_SENDER, LINE_QUEUE_LINES, LINE_WORDS, MAX_LINES_PER_SEND};

/// One queued line: the badge of the Endpoint it came through and its words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Line {
    /// What the receiver sees of the sender: the Endpoint's badge.
    pub badge: u64,
    /// The payload, header word first.
    pub words: [u64; LINE_WORDS],
}

/// Why a send was refused; the queue did not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendRefusal {
    /// No room for every line of the send now (in the queue, or in the sender's share).
    Full,
    /// No lines, or more than [`MAX_LINES_PER_SEND`].
    Count,
}

/// Which line a receive takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// The oldest, whatever its badge.
    Any,
    /// The oldest that came through an Endpoint with this badge.
    Badge(u64),
}

/// A ring of [`LINE_QUEUE_LINES`] lines.
#[derive(Clone, Debug)]
pub struct LineQueue {
    slots: [Line; LINE_QUEUE_LINES],
    /// Index of the oldest line.
    head: usize,
    /// Lines queued.
    len: usize,
}

impl Default for LineQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl LineQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        Self { slots: [Line { badge: 0, words: [0; LINE_WORDS] }; LINE_QUEUE_LINES], head: 0, len: 0 }
    }

    /// Lines queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Lines that would still fit.
    pub fn room(&self) -> usize {
        LINE_QUEUE_LINES - self.len
    }

    /// Lines queued with `badge`.
    pub fn held(&self, badge: u64) -> usize {
        (0..self.len).filter(|&k| self.slots[self.at(k)].badge == badge).count()
    }

    /// Queues every line of `lines` with `badge`, in order, or none of them.
    pub fn send(&mut self, badge: u64, lines: &[[u64; LINE_WORDS]]) -> Result<(), SendRefusal> {
        if lines.is_empty() || lines.len() > MAX_LINES_PER_SEND {
            return Err(SendRefusal::Count);
        }
        if lines.len() > self.room() || self.held(badge) + lines.len() > LINES_PER_SENDER {
            return Err(SendRefusal::Full);
        }
        for words in lines {
            self.slots[(self.head + self.len) % LINE_QUEUE_LINES] = Line { badge, words: *words };
            self.len += 1;
        }
        Ok(())
    }

    /// Takes the oldest line `which` asks for; the others keep their order.
    pub fn take(&mut self, which: Take) -> Option<Line> {
        let found = (0..self.len).find(|&k| match which {
            Take::Any => true,
            Take::Badge(badge) => self.slots[self.at(k)].badge == badge,
        })?;
        let line = self.slots[self.at(found)];
        if found == 0 {
            self.head = (self.head + 1) % LINE_QUEUE_LINES;
        } else {
            // Close the gap: the lines after it move one place towards the head.
            for k in found..self.len - 1 {
                self.slots[self.at(k)] = self.slots[self.at(k + 1)];
            }
        }
        self.len -= 1;
        Some(line)
    }

    /// Drops every line (the receiver ended).
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// The slot of the `k`th oldest line.
    fn at(&self, k: usize) -> usize {
        (self.head + k) % LINE_QUEUE_LINES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u64) -> [u64; LINE_WORDS] {
        [n, n + 1, n + 2, n + 3, n + 4, n + 5, n + 6]
    }

    #[test]
    fn lines_come_out_in_order_with_their_badge() {
        let mut queue = LineQueue::new();
        queue.send(7, &[line(1)]).unwrap();
        queue.send(9, &[line(10), line(20)]).unwrap();
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.take(Take::Any), Some(Line { badge: 7, words: line(1) }));
        assert_eq!(queue.take(Take::Any), Some(Line { badge: 9, words: line(10) }));
        assert_eq!(queue.take(Take::Any), Some(Line { badge: 9, words: line(20) }));
        assert_eq!(queue.take(Take::Any), None);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_full_queue_refuses_and_keeps_everything_then_takes_again_once_drained() {
        let mut queue = LineQueue::new();
        // Two senders fill it: each may hold its share, together no more than the queue.
        for n in 0..LINES_PER_SENDER as u64 {
            queue.send(1, &[line(n)]).unwrap();
        }
        for n in 0..(LINE_QUEUE_LINES - LINES_PER_SENDER) as u64 {
            queue.send(2, &[line(100 + n)]).unwrap();
        }
        assert_eq!(queue.len(), LINE_QUEUE_LINES);
        assert_eq!(queue.send(3, &[line(99)]), Err(SendRefusal::Full));
        assert_eq!(queue.len(), LINE_QUEUE_LINES);
        for n in 0..LINES_PER_SENDER as u64 {
            assert_eq!(queue.take(Take::Any).map(|l| l.words), Some(line(n)), "line {n}");
        }
        for n in 0..(LINE_QUEUE_LINES - LINES_PER_SENDER) as u64 {
            assert_eq!(queue.take(Take::Any).map(|l| l.words), Some(line(100 + n)));
        }
        assert_eq!(queue.take(Take::Any), None);
        queue.send(3, &[line(99)]).unwrap();
        assert_eq!(queue.take(Take::Any).map(|l| l.words), Some(line(99)));
    }

    #[test]
    fn one_sender_that_floods_leaves_room_for_a_whole_message_of_another() {
        let mut queue = LineQueue::new();
        let mut flooded = 0;
        while queue.send(1, &[line(flooded)]).is_ok() {
            flooded += 1;
        }
        assert_eq!(flooded as usize, LINES_PER_SENDER, "the flood stops at its share");
        assert_eq!(queue.held(1), LINES_PER_SENDER);
        let longest = [line(7); MAX_LINES_PER_SEND];
        queue.send(2, &longest).unwrap();
        assert_eq!(queue.len(), LINE_QUEUE_LINES);
        // Once the receiver took one of the flood, the flooder may send one more.
        assert_eq!(queue.send(1, &[line(1000)]), Err(SendRefusal::Full));
        queue.take(Take::Badge(1)).unwrap();
        queue.send(1, &[line(1000)]).unwrap();
    }

    #[test]
    fn a_several_line_send_goes_in_whole_or_not_at_all() {
        let mut queue = LineQueue::new();
        for n in 0..(LINE_QUEUE_LINES - 3) as u64 {
            queue.send(n % 2, &[line(n)]).unwrap();
        }
        let message = [line(100), line(200), line(300), line(400)];
        assert_eq!(queue.send(2, &message), Err(SendRefusal::Full));
        assert_eq!(queue.len(), LINE_QUEUE_LINES - 3, "nothing of the refused message is queued");
        assert_eq!(queue.take(Take::Badge(2)), None);
        queue.take(Take::Any).unwrap();
        queue.send(2, &message).unwrap();
        for expected in message {
            assert_eq!(queue.take(Take::Badge(2)).map(|l| l.words), Some(expected));
        }
    }

    #[test]
    fn sends_of_no_line_or_too_many_are_refused() {
        let mut queue = LineQueue::new();
        assert_eq!(queue.send(1, &[]), Err(SendRefusal::Count));
        let too_many = [line(0); MAX_LINES_PER_SEND + 1];
        assert_eq!(queue.send(1, &too_many), Err(SendRefusal::Count));
        assert!(queue.is_empty());
        queue.send(1, &too_many[..MAX_LINES_PER_SEND]).unwrap();
        assert_eq!(queue.len(), MAX_LINES_PER_SEND);
    }

    #[test]
    fn taking_by_badge_leaves_the_others_in_their_order() {
        let mut queue = LineQueue::new();
        // Wrap the ring first, so the gap is closed across its end.
        for n in 0..LINE_QUEUE_LINES as u64 - 2 {
            queue.send(0, &[line(n)]).unwrap();
            queue.take(Take::Any).unwrap();
        }
        for (badge, n) in [(1, 1), (2, 2), (1, 3), (3, 4), (2, 5)] {
            queue.send(badge, &[line(n)]).unwrap();
        }
        assert_eq!(queue.take(Take::Badge(2)).map(|l| l.words), Some(line(2)));
        assert_eq!(queue.take(Take::Badge(2)).map(|l| l.words), Some(line(5)));
        assert_eq!(queue.take(Take::Badge(2)), None);
        assert_eq!(queue.take(Take::Badge(4)), None);
        let rest: Vec<_> =
            core::iter::from_fn(|| queue.take(Take::Any)).map(|l| (l.badge, l.words)).collect();
        assert_eq!(rest, [(1, line(1)), (1, line(3)), (3, line(4))]);
    }

    #[test]
    fn cleared_queue_is_empty_and_usable() {
        let mut queue = LineQueue::new();
        queue.send(1, &[line(1), line(2)]).unwrap();
        queue.clear();
        assert!(queue.is_empty());
        assert_eq!(queue.room(), LINE_QUEUE_LINES);
        queue.send(1, &[line(3)]).unwrap();
        assert_eq!(queue.take(Take::Any).map(|l| l.words), Some(line(3)));
    }
}
