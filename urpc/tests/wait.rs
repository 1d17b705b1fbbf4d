//! The blocking and timed calls, waiting on many channels, and the peek at the next tag
//! (`urpc::wait`). Every wait here is bounded: a fake clock ends timed waits, and the notifier
//! of the blocking calls gives up (fails the test) after a bound instead of hanging.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use urpc::message::{encode, Body, BodyReader, BodyWriter, DecodeError, Message};
use urpc::{recv_any, ChannelFrame, Full, Notify, Payload, PollDeadline, Side, WaitError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ping {
    n: u64,
}

impl Message for Ping {
    const TAG: u16 = 7;
    fn encode(&self, body: &mut Body) {
        BodyWriter::new(body).u64(self.n);
    }
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        let mut reader = BodyReader::new(body);
        let n = reader.u64()?;
        reader.finish()?;
        Ok(Ping { n })
    }
}

fn payload(n: u64) -> Payload {
    Payload::from_words([n, 0, 0, 0, 0, 0, 0])
}

/// A clock that moves `step` ticks each time it is read.
fn fake_clock(step: u64) -> impl FnMut() -> u64 {
    let now = Cell::new(0);
    move || {
        now.set(now.get() + step);
        now.get()
    }
}

/// Spins, and fails the test after `limit` waits rather than hang.
struct BoundedSpin {
    waits: AtomicU64,
    limit: u64,
}

impl Notify for BoundedSpin {
    fn notify(&self) {}
    fn wait(&self) {
        let waits = self.waits.fetch_add(1, Ordering::Relaxed);
        assert!(waits < self.limit, "waited {waits} times: the message never came");
        std::thread::yield_now();
    }
}

fn bounded() -> BoundedSpin {
    BoundedSpin { waits: AtomicU64::new(0), limit: 50_000_000 }
}

#[test]
fn peek_tag_looks_without_taking() {
    let frame: ChannelFrame = ChannelFrame::new();
    let (mut tx, _) = frame.endpoint(Side::A).split();
    let (_, mut rx) = frame.endpoint(Side::B).split();
    assert_eq!(rx.peek_tag(), None);
    tx.try_send(&encode(&Ping { n: 42 })).unwrap();
    assert_eq!(rx.peek_tag(), Some(Ok(Ping::TAG)));
    assert_eq!(rx.peek_tag(), Some(Ok(Ping::TAG)), "peeking twice takes nothing");
    assert_eq!(rx.try_recv_message::<Ping>().unwrap(), Ping { n: 42 });
    assert_eq!(rx.peek_tag(), None);
    // A malformed header is reported, and the message is still there to take.
    let mut bad = payload(0);
    bad.0[3] = 1;
    tx.try_send(&bad).unwrap();
    assert_eq!(rx.peek_tag(), Some(Err(DecodeError::ReservedNotZero)));
    assert_eq!(rx.try_recv().unwrap(), bad);
}

#[test]
fn timed_calls_end_at_their_deadline_and_change_nothing() {
    let frame: ChannelFrame = ChannelFrame::new();
    let (mut tx, _) = frame.endpoint(Side::A).split();
    let (_, mut rx) = frame.endpoint(Side::B).split();
    let mut deadline = PollDeadline::new(fake_clock(10), 0, 100, 4);
    assert_eq!(rx.recv_timeout(&mut deadline), Err(WaitError::TimedOut));
    for n in 0..urpc::DEFAULT_SLOTS as u64 {
        tx.try_send(&payload(n)).unwrap();
    }
    let mut deadline = PollDeadline::new(fake_clock(10), 0, 100, 4);
    assert_eq!(tx.send_timeout(&payload(99), &mut deadline), Err(Full));
    assert_eq!(tx.sent(), urpc::DEFAULT_SLOTS as u64, "a timed-out send sent nothing");
    let mut deadline = PollDeadline::new(fake_clock(10), 0, 100, 4);
    assert_eq!(rx.recv_timeout(&mut deadline), Ok(payload(0)));
    // Room again (the receiver acknowledges when it finds the ring empty; drain it).
    while rx.try_recv().is_ok() {}
    let mut deadline = PollDeadline::new(fake_clock(10), 0, 100, 4);
    assert_eq!(tx.send_timeout(&payload(99), &mut deadline), Ok(()));
}

#[test]
fn waiting_on_many_channels_takes_each_in_turn() {
    let frames: Vec<ChannelFrame> = (0..3).map(|_| ChannelFrame::new()).collect();
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for frame in &frames {
        senders.push(frame.endpoint(Side::A).split().0);
        receivers.push(frame.endpoint(Side::B).split().1);
    }
    let mut deadline = PollDeadline::new(fake_clock(10), 0, 100, 2);
    assert_eq!(recv_any(&mut receivers, 0, &mut deadline), Err((None, WaitError::TimedOut)));
    senders[2].try_send(&payload(20)).unwrap();
    let mut deadline = PollDeadline::new(fake_clock(10), 0, 100, 2);
    assert_eq!(recv_any(&mut receivers, 0, &mut deadline), Ok((2, payload(20))));
    // Two busy channels: starting after the last one served, the other goes first.
    senders[0].try_send(&payload(1)).unwrap();
    senders[1].try_send(&payload(11)).unwrap();
    senders[1].try_send(&payload(12)).unwrap();
    let mut deadline = PollDeadline::new(fake_clock(10), 0, 100, 2);
    assert_eq!(recv_any(&mut receivers, 1, &mut deadline), Ok((1, payload(11))));
    assert_eq!(recv_any(&mut receivers, 2, &mut deadline), Ok((0, payload(1))));
    assert_eq!(recv_any(&mut receivers, 1, &mut deadline), Ok((1, payload(12))));
    let mut none: Vec<urpc::Receiver<'_>> = Vec::new();
    assert_eq!(recv_any(&mut none, 0, &mut deadline), Err((None, WaitError::TimedOut)));
}

#[test]
fn blocking_calls_carry_every_message_between_threads() {
    const MESSAGES: u64 = 20_000;
    let frame: ChannelFrame = ChannelFrame::new();
    let (mut tx, _) = frame.endpoint(Side::A).split();
    let (_, mut rx) = frame.endpoint(Side::B).split();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let notifier = bounded();
            for n in 1..=MESSAGES {
                tx.send_blocking(&payload(n), &notifier);
            }
        });
        let notifier = bounded();
        for n in 1..=MESSAGES {
            assert_eq!(rx.recv_blocking(&notifier), Ok(payload(n)), "message {n}");
        }
    });
}

#[test]
fn a_side_is_claimed_once() {
    let frame: ChannelFrame = ChannelFrame::new();
    let a = frame.try_endpoint(Side::A);
    assert!(a.is_ok());
    assert_eq!(frame.try_endpoint(Side::A).err(), Some(urpc::SideTaken), "a second side A");
    let b = frame.try_endpoint(Side::B);
    assert!(b.is_ok(), "side B is still free");
    assert_eq!(frame.try_endpoint(Side::B).err(), Some(urpc::SideTaken));
    // The claims do not disturb the channel.
    let (mut tx, _) = a.unwrap().split();
    let (_, mut rx) = b.unwrap().split();
    tx.try_send(&payload(5)).unwrap();
    assert_eq!(rx.try_recv(), Ok(payload(5)));
}
