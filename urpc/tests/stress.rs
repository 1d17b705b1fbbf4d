//! Two-thread stress tests through small rings: every message carries its sequence number and a
//! checksum, and the receiver checks that none is lost, duplicated, reordered or torn.
//!
//! Every test ends within a bound, pass or fail: a failed check on either thread raises a
//! shared abort flag that the other thread's wait loops watch, and a wait loop that sees no
//! progress for [`STALL_LIMIT`] fails the test (a lost message or credit would otherwise leave
//! both threads waiting forever). `URPC_STRESS_MESSAGES` overrides the message count (default
//! 10 million one way).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use urpc::{ChannelFrame, Payload, RecvError, Side, PAYLOAD_WORDS};

/// Held by each test while it runs: the tests spin two threads each, and two tests at once on a
/// two-core machine would mostly measure the scheduler.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How long a wait loop may see no progress before the test fails. A healthy run moves a
/// message every few hundred nanoseconds, and even a descheduled peer on a loaded two-core
/// machine runs again within milliseconds.
const STALL_LIMIT: Duration = Duration::from_secs(10);

fn message_count(default: u64) -> u64 {
    std::env::var("URPC_STRESS_MESSAGES").ok().and_then(|text| text.parse().ok()).unwrap_or(default)
}

/// A cheap mixer, so that each word of a message differs and a torn line shows as a bad sum.
fn mix(value: u64) -> u64 {
    let value = (value ^ (value >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    value ^ (value >> 29)
}

/// Word 0 is the sequence number, words 1..6 derive from it, word 6 is a checksum of the rest.
fn make(seq: u64) -> Payload {
    let mut words = [0u64; PAYLOAD_WORDS];
    words[0] = seq;
    for (index, word) in words.iter_mut().enumerate().take(PAYLOAD_WORDS - 1).skip(1) {
        *word = mix(seq.wrapping_add(index as u64));
    }
    words[PAYLOAD_WORDS - 1] = checksum(&words);
    Payload::from_words(words)
}

fn checksum(words: &[u64; PAYLOAD_WORDS]) -> u64 {
    words[..PAYLOAD_WORDS - 1].iter().fold(0x5eed, |sum, &word| mix(sum ^ word))
}

/// Checks that `payload` is intact and is message number `expected`.
fn check(payload: &Payload, expected: u64) {
    let words = payload.words();
    assert_eq!(words[PAYLOAD_WORDS - 1], checksum(&words), "torn message near {expected}");
    assert_eq!(words[0], expected, "lost, duplicated or reordered message");
}

/// Raised when either thread of a test fails, so that the other stops waiting for it.
struct Abort(AtomicBool);

impl Abort {
    const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// A guard that raises the flag if this thread panics (a failed check or a stall).
    fn on_panic(&self) -> AbortOnPanic<'_> {
        AbortOnPanic(self)
    }

    fn raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

struct AbortOnPanic<'a>(&'a Abort);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0 .0.store(true, Ordering::Relaxed);
        }
    }
}

/// The peer failed: this thread should stop too (its own result no longer matters).
struct PeerAborted;

/// Waits in a busy loop: spins a little, then yields (the test machine may have fewer free
/// cores than threads); fails the test after `limit` without progress, and stops when the
/// peer aborted.
struct Waiter<'a> {
    abort: &'a Abort,
    limit: Duration,
    what: &'static str,
    spins: u32,
    since: Option<Instant>,
}

impl<'a> Waiter<'a> {
    fn new(abort: &'a Abort, what: &'static str) -> Self {
        Self::with_limit(abort, what, STALL_LIMIT)
    }

    fn with_limit(abort: &'a Abort, what: &'static str, limit: Duration) -> Self {
        Self { abort, limit, what, spins: 0, since: None }
    }

    /// Something moved: the stall clock starts again at the next wait.
    fn progress(&mut self) {
        self.spins = 0;
        self.since = None;
    }

    /// One wait. Panics when nothing moved for the limit.
    fn snooze(&mut self) -> Result<(), PeerAborted> {
        self.spins += 1;
        if self.spins < 64 {
            std::hint::spin_loop();
            return Ok(());
        }
        thread::yield_now();
        if self.spins.is_multiple_of(64) {
            if self.abort.raised() {
                return Err(PeerAborted);
            }
            let since = *self.since.get_or_insert_with(Instant::now);
            assert!(since.elapsed() < self.limit, "no progress for {:?} while {}", self.limit, self.what);
        }
        Ok(())
    }
}

/// Sends `count` numbered messages, alternating single sends and batches of up to 3.
fn send_all<const SLOTS: usize>(mut sender: urpc::Sender<'_, SLOTS>, count: u64, abort: &Abort) {
    let _guard = abort.on_panic();
    let mut batch = [Payload::ZERO; 3];
    let mut seq = 0;
    let mut waiter = Waiter::new(abort, "sending (the ring stayed full)");
    while seq < count {
        if seq % 2 == 0 {
            while sender.try_send(&make(seq)).is_err() {
                if waiter.snooze().is_err() {
                    return;
                }
            }
            seq += 1;
        } else {
            let len = (count - seq).min(3) as usize;
            for (offset, slot) in batch[..len].iter_mut().enumerate() {
                *slot = make(seq + offset as u64);
            }
            let mut sent = 0;
            while sent < len {
                let went = sender.try_send_batch(&batch[sent..len]);
                if went == 0 && waiter.snooze().is_err() {
                    return;
                }
                sent += went;
            }
            seq += len as u64;
        }
        waiter.progress();
    }
}

/// Receives and checks `count` messages, alternating single receives and batches of up to 5;
/// `skip` drops the message with that number unchecked, to test the harness.
fn receive_all<const SLOTS: usize>(
    mut receiver: urpc::Receiver<'_, SLOTS>,
    count: u64,
    mut skip: Option<u64>,
    abort: &Abort,
) {
    let _guard = abort.on_panic();
    let mut batch = [Payload::ZERO; 5];
    let mut expected = 0;
    let mut waiter = Waiter::new(abort, "receiving (no message came)");
    while expected < count {
        if expected % 3 == 0 {
            match receiver.try_recv() {
                Ok(payload) => {
                    if skip == Some(expected) {
                        // Dropped unchecked: the next check sees the gap.
                        skip = None;
                    } else {
                        check(&payload, expected);
                        expected += 1;
                    }
                    waiter.progress();
                }
                Err(RecvError::Empty) => {
                    if waiter.snooze().is_err() {
                        return;
                    }
                }
                Err(error) => panic!("{error}"),
            }
        } else {
            let got = receiver.try_recv_batch(&mut batch).unwrap();
            for payload in &batch[..got] {
                if skip == Some(expected) {
                    skip = None;
                    continue;
                }
                check(payload, expected);
                expected += 1;
            }
            if got > 0 {
                waiter.progress();
            } else if waiter.snooze().is_err() {
                return;
            }
        }
    }
    assert_eq!(receiver.try_recv(), Err(RecvError::Empty), "a message after the last one");
}

fn one_way(count: u64, skip: Option<u64>) {
    let frame = ChannelFrame::<8>::new();
    let (sender, _) = frame.endpoint(Side::A).split();
    let (_, receiver) = frame.endpoint(Side::B).split();
    let abort = Abort::new();
    thread::scope(|scope| {
        scope.spawn(|| send_all(sender, count, &abort));
        receive_all(receiver, count, skip, &abort);
    });
}

#[test]
fn ten_million_messages_one_way_through_an_eight_slot_ring() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    one_way(message_count(10_000_000), None);
}

#[test]
#[should_panic(expected = "lost, duplicated or reordered message")]
fn a_lost_message_fails_the_test_and_stops_the_sender() {
    // The receiver drops message 6 and fails its check on message 7 while the sender, with a
    // million more to send, waits on a full ring: it must see the abort and end, or this test
    // would hang instead of failing.
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    one_way(1_000_000, Some(6));
}

#[test]
#[should_panic(expected = "no progress for 200ms while sending (the ring stayed full)")]
fn a_peer_that_stops_fails_the_test_within_the_stall_limit() {
    // Nobody receives: the sender fills the 2-slot ring and then sees no progress.
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let frame = ChannelFrame::<2>::new();
    let (mut sender, _) = frame.endpoint(Side::A).split();
    let abort = Abort::new();
    let _guard = abort.on_panic();
    let mut waiter = Waiter::with_limit(&abort, "sending (the ring stayed full)", Duration::from_millis(200));
    for seq in 0.. {
        while sender.try_send(&make(seq)).is_err() {
            let _ = waiter.snooze();
        }
        waiter.progress();
    }
}

#[test]
fn echo_both_directions_through_three_slot_rings() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let count = message_count(10_000_000) / 10;
    let frame = ChannelFrame::<3>::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    let abort = Abort::new();
    thread::scope(|scope| {
        // B echoes every message back as soon as it can.
        scope.spawn(|| {
            let _guard = abort.on_panic();
            let mut echoed = 0;
            let mut waiter = Waiter::new(&abort, "echoing");
            while echoed < count {
                match b.receiver.try_recv() {
                    Ok(payload) => {
                        check(&payload, echoed);
                        while b.sender.try_send(&payload).is_err() {
                            if waiter.snooze().is_err() {
                                return;
                            }
                        }
                        echoed += 1;
                        waiter.progress();
                    }
                    Err(RecvError::Empty) => {
                        if waiter.snooze().is_err() {
                            return;
                        }
                    }
                    Err(error) => panic!("{error}"),
                }
            }
        });
        // A keeps the ring to B as full as it can while draining the echoes.
        let _guard = abort.on_panic();
        let (mut sent, mut returned) = (0, 0);
        let mut waiter = Waiter::new(&abort, "sending and draining echoes");
        while returned < count {
            let mut progress = false;
            if sent < count && a.sender.try_send(&make(sent)).is_ok() {
                sent += 1;
                progress = true;
            }
            if let Ok(payload) = a.receiver.try_recv() {
                check(&payload, returned);
                returned += 1;
                progress = true;
            }
            if progress {
                waiter.progress();
            } else if waiter.snooze().is_err() {
                return;
            }
        }
    });
}
