//! The asleep flag and the waiting policy (`urpc::sleep`), on the host. Every wait is
//! bounded: the fake interrupt's sleep gives up after 10 s and records it, which fails the
//! test instead of hanging it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use urpc::{ChannelFrame, Notify, Payload, PollDeadline, Side, SpinWatch, WaitError, WaitPolicy, WatchLine};

fn payload(n: u64) -> Payload {
    Payload::from_words([n, !n, 0, 0, 0, 0, n])
}

#[test]
fn the_flag_is_set_only_while_the_ring_stays_empty() {
    let frame: ChannelFrame = ChannelFrame::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    assert!(!a.sender.receiver_asleep(), "a fresh frame has nobody asleep");
    assert!(b.receiver.prepare_to_sleep(), "empty ring: sleep");
    assert!(a.sender.receiver_asleep());
    assert!(!b.sender.receiver_asleep(), "the other ring's receiver is awake");
    b.receiver.woke();
    assert!(!a.sender.receiver_asleep());

    a.sender.try_send(&payload(1)).unwrap();
    assert!(!b.receiver.prepare_to_sleep(), "a message is waiting: do not sleep");
    assert!(!a.sender.receiver_asleep(), "and the flag is cleared again");
    assert_eq!(b.receiver.try_recv(), Ok(payload(1)));
    assert!(b.receiver.prepare_to_sleep(), "empty again after the message was taken");
    b.receiver.woke();
}

/// A receiver of a 2-slot ring that has taken 4 messages (it expects sequence 5 in slot 0,
/// where the empty value is 3), and a second, fresh sender on the same ring, whose first
/// message puts sequence 1 there: a protocol violation.
fn desync_after_four<'f>(frame: &'f ChannelFrame<2>) -> (urpc::Receiver<'f, 2>, urpc::Sender<'f, 2>) {
    let (mut first, _) = frame.endpoint(Side::A).split();
    let (_, mut receiver) = frame.endpoint(Side::B).split();
    for n in 0..4 {
        first.try_send(&payload(n)).unwrap();
        assert_eq!(receiver.try_recv(), Ok(payload(n)));
    }
    let (second, _) = frame.endpoint(Side::A).split();
    (receiver, second)
}

#[test]
fn garbage_in_the_slot_is_no_reason_to_sleep() {
    let frame = ChannelFrame::<2>::new();
    let (mut receiver, mut second) = desync_after_four(&frame);
    assert!(receiver.prepare_to_sleep(), "slot 0 holds the empty value 3");
    receiver.woke();
    second.try_send(&payload(9)).unwrap();
    assert!(!receiver.prepare_to_sleep(), "sequence 1 where 5 or the empty 3 belong");
    assert_eq!(receiver.try_recv(), Err(urpc::RecvError::Desync { expected: 5, found: 1 }));
}

#[test]
fn watch_is_given_the_next_slot_and_its_empty_value() {
    struct Record(Mutex<Vec<u64>>);
    impl WatchLine for Record {
        fn wait_for_store(&self, word: &AtomicU64, seen: u64) {
            self.0.lock().unwrap().push(seen);
            assert_eq!(word.load(Ordering::Relaxed), seen, "the word holds the empty value");
        }
    }
    let frame = ChannelFrame::<2>::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    let record = Record(Mutex::new(Vec::new()));
    for n in 0..5 {
        b.receiver.watch(&record);
        a.sender.try_send(&payload(n)).unwrap();
        assert_eq!(b.receiver.try_recv(), Ok(payload(n)));
    }
    // Slot k waits for sequence k + 1; while empty it holds the previous lap's, k + 1 - 2.
    assert_eq!(*record.0.lock().unwrap(), [0, 0, 1, 2, 3]);
}

/// An interrupt as the GIC has it: raising it makes it pending (one bit), a sleeper ends on
/// a pending one and takes it. Sleeping gives up after 10 s and counts that as a lost
/// wake-up.
#[derive(Default)]
struct FakeInterrupt {
    pending: Mutex<bool>,
    raised: Condvar,
    sent: AtomicU64,
    lost: AtomicU64,
}

impl Notify for FakeInterrupt {
    fn notify(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        *self.pending.lock().unwrap() = true;
        self.raised.notify_one();
    }

    fn wait(&self) {
        let pending = self.pending.lock().unwrap();
        let (mut pending, result) =
            self.raised.wait_timeout_while(pending, Duration::from_secs(10), |pending| !*pending).unwrap();
        if result.timed_out() {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
        *pending = false;
    }
}

fn forever() -> PollDeadline<impl FnMut() -> u64> {
    PollDeadline::new(|| 0, 0, u64::MAX, 1)
}

/// A stream whose receiver sleeps as soon as the ring is empty and whose sender raises the
/// interrupt only when it reads the flag set: every message arrives, none waits for the
/// 10-second give-up, and no more interrupts than messages are raised.
#[test]
fn sleeping_receiver_gets_every_message_with_interrupts_only_when_asleep() {
    const MESSAGES: u64 = 100_000;
    let frame = ChannelFrame::<4>::new();
    let interrupt = FakeInterrupt::default();
    // Raised if the receiving side fails, so the sender stops waiting for room and the test
    // ends with the failure instead of hanging.
    let abort = std::sync::atomic::AtomicBool::new(false);
    struct RaiseOnUnwind<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for RaiseOnUnwind<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.store(true, Ordering::Relaxed);
            }
        }
    }
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let (mut sender, _) = frame.endpoint(Side::A).split();
            for n in 0..MESSAGES {
                while sender.try_send(&payload(n)).is_err() {
                    if abort.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::yield_now();
                }
                sender.notify_if_asleep(&interrupt);
            }
        });
        let _guard = RaiseOnUnwind(&abort);
        let (_, mut receiver) = frame.endpoint(Side::B).split();
        let policy = WaitPolicy { polls: 0, watches: 0 };
        for n in 0..MESSAGES {
            let got = receiver.recv_waiting(policy, &SpinWatch, &interrupt, &mut forever());
            assert_eq!(got, Ok(payload(n)));
            assert_eq!(interrupt.lost.load(Ordering::Relaxed), 0, "a sleep waited 10 s for message {n}");
        }
    });
    // At most one per message (how many fewer depends on the threads' timing, so no test).
    let sent = interrupt.sent.load(Ordering::Relaxed);
    assert!(sent <= MESSAGES, "{sent} interrupts for {MESSAGES} messages");
}

#[test]
fn recv_waiting_ends_at_the_deadline_or_on_a_broken_ring() {
    let frame = ChannelFrame::<2>::new();
    let (_, mut receiver) = frame.endpoint(Side::B).split();
    struct NeverWoken;
    impl Notify for NeverWoken {
        fn notify(&self) {}
        fn wait(&self) {}
    }
    let mut clock = 0;
    let mut deadline = PollDeadline::new(
        move || {
            clock += 10;
            clock
        },
        0,
        1_000,
        1,
    );
    let policy = WaitPolicy { polls: 3, watches: 2 };
    assert_eq!(
        receiver.recv_waiting(policy, &SpinWatch, &NeverWoken, &mut deadline),
        Err(WaitError::TimedOut)
    );
    assert!(receiver.prepare_to_sleep(), "nothing arrived");
    receiver.woke();

    let frame = ChannelFrame::<2>::new();
    let (mut receiver, mut second) = desync_after_four(&frame);
    second.try_send(&payload(9)).unwrap();
    let result = receiver.recv_waiting(policy, &SpinWatch, &NeverWoken, &mut forever());
    assert_eq!(result, Err(WaitError::Desync { expected: 5, found: 1 }));
}
