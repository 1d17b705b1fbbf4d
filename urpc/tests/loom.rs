//! Loom models of the ring's memory ordering: every interleaving and every value the C++11
//! memory model allows a load to see (within a preemption bound for the two 8-slot models),
//! for small rings and a few messages.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p urpc --release --test loom` (about 10 s).
//! Under `--cfg loom` the crate's atomics are loom's and its payload words race-checked
//! cells (see `src/sync.rs`), so this checks the real `try_send`/`try_recv` code, and loom
//! fails a model on any payload access that is not ordered by happens-before with every other
//! access to that word. Each message's payload words all derive from its number, so a torn or
//! stale line also fails the content check, and the sequence check catches loss, duplication
//! and reordering; a receiver that takes a previous lap's line for garbage reports `Desync`,
//! which fails the model too.
//!
//! What each model covers: one message; a 1-slot ring (every send waits for the
//! acknowledgement); a 2-slot ring wrapping twice; batch send and receive; ping-pong over both
//! rings; an 8-slot ring whose acknowledgements come every 2 messages, wrapped; and the flush of
//! acknowledgements on an empty poll, which the sender waits for; and the asleep-flag
//! handshake of `urpc::sleep` (no lost wake-up). Which model catches which
//! weakened ordering or off-by-one: `urpc/mutations.sh` applies each to a copy and says.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::sync::Arc;
use loom::thread;
use urpc::{ChannelFrame, Payload, RecvError, Side, PAYLOAD_BYTES, PAYLOAD_WORDS};

/// Runs `body` under every schedule loom can produce. The models are small enough to explore
/// exhaustively (no preemption bound, about 200,000 executions, 10 s in all);
/// `LOOM_MAX_PREEMPTIONS=3` bounds them for a quick run. Prints how many executions it took.
fn model(body: impl Fn() + Sync + Send + 'static) {
    model_bounded(None, body);
}

/// [`model`] with at most `preemptions` preemptions per execution (`None`: exhaustive, or
/// `LOOM_MAX_PREEMPTIONS` when set).
fn model_bounded(preemptions: Option<usize>, body: impl Fn() + Sync + Send + 'static) {
    static EXECUTIONS: AtomicUsize = AtomicUsize::new(0);
    let mut builder = loom::model::Builder::new();
    if preemptions.is_some() && builder.preemption_bound.is_none() {
        builder.preemption_bound = preemptions;
    }
    EXECUTIONS.store(0, Ordering::Relaxed);
    builder.check(move || {
        EXECUTIONS.fetch_add(1, Ordering::Relaxed);
        body()
    });
    eprintln!("explored {} executions", EXECUTIONS.load(Ordering::Relaxed));
}

fn make(number: u64) -> Payload {
    Payload::from_words(core::array::from_fn(|index| number * 100 + index as u64))
}

fn send<const SLOTS: usize>(sender: &mut urpc::Sender<'_, SLOTS>, number: u64) {
    while sender.try_send(&make(number)).is_err() {
        thread::yield_now();
    }
}

fn recv<const SLOTS: usize>(receiver: &mut urpc::Receiver<'_, SLOTS>) -> Payload {
    loop {
        match receiver.try_recv() {
            Ok(payload) => return payload,
            Err(RecvError::Empty) => thread::yield_now(),
            Err(error) => panic!("{error}"),
        }
    }
}

/// Sends `count` messages through a `SLOTS`-slot ring and checks each one arrives intact.
fn stream<const SLOTS: usize>(count: u64) {
    model(move || {
        let frame = Arc::new(ChannelFrame::<SLOTS>::new());
        let sender_frame = Arc::clone(&frame);
        let sender = thread::spawn(move || {
            let (mut sender, _) = sender_frame.endpoint(Side::A).split();
            for number in 0..count {
                send(&mut sender, number);
            }
        });
        let (_, mut receiver) = frame.endpoint(Side::B).split();
        for number in 0..count {
            assert_eq!(recv(&mut receiver), make(number));
        }
        sender.join().unwrap();
        assert_eq!(receiver.try_recv(), Err(RecvError::Empty));
    });
}

#[test]
fn one_message_arrives_intact() {
    stream::<2>(1);
}

#[test]
fn single_slot_ring_reuses_its_slot_only_after_the_ack() {
    // Every second message must wait for the acknowledgement of the first: the ack path.
    stream::<1>(3);
}

#[test]
fn two_slot_ring_wraps_around_and_fills_up() {
    stream::<2>(4);
}

#[test]
fn batches_keep_order_and_contents() {
    model(|| {
        let frame = Arc::new(ChannelFrame::<2>::new());
        let sender_frame = Arc::clone(&frame);
        let sender = thread::spawn(move || {
            let (mut sender, _) = sender_frame.endpoint(Side::A).split();
            let batch = [make(0), make(1), make(2)];
            let mut sent = 0;
            while sent < batch.len() {
                sent += sender.try_send_batch(&batch[sent..]);
                thread::yield_now();
            }
        });
        let (_, mut receiver) = frame.endpoint(Side::B).split();
        let mut got = [Payload::ZERO; 2];
        let mut next = 0;
        while next < 3 {
            let count = receiver.try_recv_batch(&mut got).unwrap();
            for payload in &got[..count] {
                assert_eq!(*payload, make(next));
                next += 1;
            }
            if count == 0 {
                thread::yield_now();
            }
        }
        sender.join().unwrap();
    });
}

#[test]
fn ping_pong_over_both_rings() {
    model(|| {
        let frame = Arc::new(ChannelFrame::<1>::new());
        let echo_frame = Arc::clone(&frame);
        let echo = thread::spawn(move || {
            let mut b = echo_frame.endpoint(Side::B);
            for _ in 0..2 {
                let ping = recv(&mut b.receiver);
                let mut pong = ping;
                pong[0] ^= 1;
                send_payload(&mut b.sender, &pong);
            }
        });
        let mut a = frame.endpoint(Side::A);
        for number in 0..2 {
            send(&mut a.sender, number);
            let mut expected = make(number);
            expected[0] ^= 1;
            assert_eq!(recv(&mut a.receiver), expected);
        }
        echo.join().unwrap();
    });
}

fn send_payload<const SLOTS: usize>(sender: &mut urpc::Sender<'_, SLOTS>, payload: &Payload) {
    while sender.try_send(payload).is_err() {
        thread::yield_now();
    }
}

/// An 8-slot ring acknowledges every 2 messages: 11 messages wrap it, so the sender reuses
/// slots 0 to 2 on credits that only batched acknowledgements returned. Bounded to 3
/// preemptions (about 50,000 executions, 1.5 s; 4 preemptions: 300,000 and 17 s; unbounded
/// it runs for hours): every mutation the crate's mutation script applies fails with 2.
#[test]
fn batched_acknowledgements_return_the_slots_they_cover() {
    model_bounded(Some(3), || {
        let frame = Arc::new(ChannelFrame::<8>::new());
        let sender_frame = Arc::clone(&frame);
        let sender = thread::spawn(move || {
            let (mut sender, _) = sender_frame.endpoint(Side::A).split();
            for number in 0..11 {
                send(&mut sender, number);
            }
        });
        let (_, mut receiver) = frame.endpoint(Side::B).split();
        for number in 0..11 {
            assert_eq!(recv(&mut receiver), make(number));
        }
        sender.join().unwrap();
        assert_eq!(receiver.try_recv(), Err(RecvError::Empty));
    });
}

/// The flush on an empty poll: the sender sends one message (less than the acknowledgement
/// batch of 2) and waits until every credit is back, which only the receiver's flush on
/// finding the ring empty returns; then it fills the ring again, reusing slot 0 on that
/// flushed credit. Without the flush both threads wait forever and loom fails the model.
/// Bounded to 3 preemptions (about 700 executions).
#[test]
fn an_empty_poll_flushes_the_acknowledgements() {
    model_bounded(Some(3), || {
        let frame = Arc::new(ChannelFrame::<8>::new());
        let sender_frame = Arc::clone(&frame);
        let sender = thread::spawn(move || {
            let (mut sender, _) = sender_frame.endpoint(Side::A).split();
            send(&mut sender, 0);
            while sender.free_slots() < 8 {
                thread::yield_now();
            }
            for number in 1..=8 {
                send(&mut sender, number);
            }
        });
        let (_, mut receiver) = frame.endpoint(Side::B).split();
        for number in 0..=8 {
            assert_eq!(recv(&mut receiver), make(number));
        }
        sender.join().unwrap();
    });
}

/// The asleep-flag handshake (`urpc::sleep`): the receiver finds the ring empty, announces
/// it sleeps (flag, full barrier, look again) and, if still empty, sleeps until an interrupt
/// is pending; the sender publishes, then (full barrier) reads the flag and raises an
/// interrupt if it is set. Interrupts latch as a GIC's SGI does: one raised before the sleep
/// stays pending and ends it at once, and the sleeper takes every pending one on waking. (They
/// are a count only the sender writes, and the sleeper remembers how many it took: loom orders
/// a store against a concurrent read-modify-write only partially, so a pending *bit* that both
/// sides write could let the sleeper miss a set bit C++ guarantees it sees.) A lost wake-up is
/// a receiver asleep with nothing pending once the sender has finished: no interrupt can come
/// any more, a core would sleep for good, and the model fails with that message. Two
/// messages, so the second sleep starts from the flag the first wake-up cleared, or with a
/// stale interrupt pending. Exhaustive.
#[test]
fn asleep_flag_handshake_loses_no_wakeup() {
    use loom::sync::atomic::{AtomicBool, AtomicU64};

    model(|| {
        let frame = Arc::new(ChannelFrame::<2>::new());
        let raised = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicBool::new(false));
        let (sender_frame, sender_raised, sender_finished) =
            (Arc::clone(&frame), Arc::clone(&raised), Arc::clone(&finished));
        let sender = thread::spawn(move || {
            let (mut sender, _) = sender_frame.endpoint(Side::A).split();
            for number in 0..2 {
                send(&mut sender, number);
                if sender.receiver_asleep() {
                    let count = sender_raised.load(Ordering::Relaxed);
                    sender_raised.store(count + 1, Ordering::Release);
                }
            }
            sender_finished.store(true, Ordering::Release);
        });
        let (_, mut receiver) = frame.endpoint(Side::B).split();
        let mut taken = 0;
        for number in 0..2 {
            loop {
                match receiver.try_recv() {
                    Ok(payload) => {
                        assert_eq!(payload, make(number));
                        break;
                    }
                    Err(RecvError::Empty) => {}
                    Err(error) => panic!("{error}"),
                }
                if receiver.prepare_to_sleep() {
                    // WFI: ends once an interrupt is pending, taking all that are.
                    loop {
                        let sender_done = finished.load(Ordering::Acquire);
                        let now = raised.load(Ordering::Acquire);
                        if now > taken {
                            taken = now;
                            break;
                        }
                        assert!(
                            !sender_done,
                            "lost wake-up: asleep for message {number}, and no interrupt will come"
                        );
                        thread::yield_now();
                    }
                    receiver.woke();
                }
            }
        }
        sender.join().unwrap();
    });
}

#[test]
fn payload_words_fill_the_line() {
    // Not a model: guards the assumption above that every word carries distinct data.
    assert_eq!(PAYLOAD_WORDS * 8, PAYLOAD_BYTES);
}
