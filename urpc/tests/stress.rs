//! Two-thread stress tests through small rings: every message carries its sequence number and a
//! checksum, and the receiver checks that none is lost, duplicated, reordered or torn.
//!
//! `URPC_STRESS_MESSAGES` overrides the message count (default 10 million one way).

use std::sync::Mutex;
use std::thread;

use urpc::{ChannelFrame, Payload, RecvError, Side, PAYLOAD_WORDS};

/// Held by each test while it runs: the tests spin two threads each, and two tests at once on a
/// two-core machine would mostly measure the scheduler.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

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

/// Backs off from a busy wait: spins a little, then yields, since the test machine may have
/// fewer free cores than threads.
struct Backoff(u32);

impl Backoff {
    fn snooze(&mut self) {
        self.0 += 1;
        if self.0 < 64 {
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }
}

fn one_way(count: u64) {
    let frame = ChannelFrame::<8>::new();
    let (mut sender, _) = frame.endpoint(Side::A).split();
    let (_, mut receiver) = frame.endpoint(Side::B).split();
    thread::scope(|scope| {
        scope.spawn(move || {
            let mut batch = [Payload::ZERO; 3];
            let mut seq = 0;
            while seq < count {
                // Alternate single sends and batches so both paths carry traffic.
                if seq % 2 == 0 {
                    let mut backoff = Backoff(0);
                    while sender.try_send(&make(seq)).is_err() {
                        backoff.snooze();
                    }
                    seq += 1;
                } else {
                    let len = (count - seq).min(3) as usize;
                    for (offset, slot) in batch[..len].iter_mut().enumerate() {
                        *slot = make(seq + offset as u64);
                    }
                    let mut sent = 0;
                    let mut backoff = Backoff(0);
                    while sent < len {
                        let went = sender.try_send_batch(&batch[sent..len]);
                        if went == 0 {
                            backoff.snooze();
                        }
                        sent += went;
                    }
                    seq += len as u64;
                }
            }
        });
        let mut batch = [Payload::ZERO; 5];
        let mut expected = 0;
        let mut backoff = Backoff(0);
        while expected < count {
            if expected % 3 == 0 {
                match receiver.try_recv() {
                    Ok(payload) => {
                        check(&payload, expected);
                        expected += 1;
                        backoff = Backoff(0);
                    }
                    Err(RecvError::Empty) => backoff.snooze(),
                    Err(error) => panic!("{error}"),
                }
            } else {
                let got = receiver.try_recv_batch(&mut batch).unwrap();
                for payload in &batch[..got] {
                    check(payload, expected);
                    expected += 1;
                }
                if got == 0 {
                    backoff.snooze();
                } else {
                    backoff = Backoff(0);
                }
            }
        }
        assert_eq!(receiver.try_recv(), Err(RecvError::Empty), "a message after the last one");
    });
}

#[test]
fn ten_million_messages_one_way_through_an_eight_slot_ring() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    one_way(message_count(10_000_000));
}

#[test]
fn echo_both_directions_through_three_slot_rings() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let count = message_count(10_000_000) / 10;
    let frame = ChannelFrame::<3>::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    thread::scope(|scope| {
        // B echoes every message back as soon as it can.
        scope.spawn(move || {
            let mut echoed = 0;
            let mut backoff = Backoff(0);
            while echoed < count {
                match b.receiver.try_recv() {
                    Ok(payload) => {
                        check(&payload, echoed);
                        while b.sender.try_send(&payload).is_err() {
                            backoff.snooze();
                        }
                        echoed += 1;
                        backoff = Backoff(0);
                    }
                    Err(RecvError::Empty) => backoff.snooze(),
                    Err(error) => panic!("{error}"),
                }
            }
        });
        // A keeps the ring to B as full as it can while draining the echoes.
        let (mut sent, mut returned) = (0, 0);
        let mut backoff = Backoff(0);
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
                backoff = Backoff(0);
            } else {
                backoff.snooze();
            }
        }
    });
}
