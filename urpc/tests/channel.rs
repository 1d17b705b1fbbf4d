//! Single-threaded behaviour of a channel: empty, full, wrap-around, batches, acknowledgement
//! batching, the zero-frame rule, protocol-violation detection and the wait helper.

use std::cell::Cell;

use urpc::messages::{AnyMessage, CoreUp, Ping};
use urpc::{
    poll_then_wait, ChannelFrame, Full, Notify, Payload, RecvError, RecvMessageError, Side, DEFAULT_SLOTS,
};

fn payload(value: u64) -> Payload {
    Payload::from_words(core::array::from_fn(|index| value ^ (index as u64) << 56))
}

#[test]
fn zeroed_memory_is_an_empty_channel() {
    // SAFETY: `ChannelFrame` consists of `AtomicU64`s, for which all-zero bytes are a valid
    // value; this is exactly what the boot core does to a frame before handing it out.
    let frame: Box<ChannelFrame> = unsafe { Box::new_zeroed().assume_init() };
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    assert_eq!(a.receiver.try_recv(), Err(RecvError::Empty));
    assert_eq!(b.receiver.try_recv(), Err(RecvError::Empty));
    assert_eq!(a.sender.free_slots(), DEFAULT_SLOTS);
    a.sender.try_send(&payload(7)).unwrap();
    assert_eq!(b.receiver.try_recv(), Ok(payload(7)));
}

#[test]
fn new_frame_is_all_zero_bytes_and_fills_a_page() {
    let frame = ChannelFrame::<DEFAULT_SLOTS>::new();
    assert_eq!(ChannelFrame::<DEFAULT_SLOTS>::BYTES, 4096);
    // SAFETY: the frame is `BYTES` long, initialised, and not written while this view lives.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            &frame as *const ChannelFrame as *const u8,
            ChannelFrame::<DEFAULT_SLOTS>::BYTES,
        )
    };
    assert!(bytes.iter().all(|&byte| byte == 0));
}

#[test]
fn both_directions_are_independent() {
    let frame: ChannelFrame = ChannelFrame::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    a.sender.try_send(&payload(1)).unwrap();
    b.sender.try_send(&payload(2)).unwrap();
    assert_eq!(a.receiver.try_recv(), Ok(payload(2)));
    assert_eq!(b.receiver.try_recv(), Ok(payload(1)));
    assert_eq!(a.receiver.try_recv(), Err(RecvError::Empty));
    assert_eq!(b.receiver.try_recv(), Err(RecvError::Empty));
}

#[test]
fn full_ring_refuses_and_keeps_every_message() {
    let frame = ChannelFrame::<4>::new();
    let (mut sender, _) = frame.endpoint(Side::A).split();
    let (_, mut receiver) = frame.endpoint(Side::B).split();
    for value in 0..4 {
        sender.try_send(&payload(value)).unwrap();
    }
    assert_eq!(sender.try_send(&payload(99)), Err(Full));
    assert_eq!(sender.free_slots(), 0);
    assert_eq!(receiver.try_recv(), Ok(payload(0)));
    // One consumed message (the acknowledgement batch is 1 for a 4-slot ring) frees one slot.
    sender.try_send(&payload(4)).unwrap();
    assert_eq!(sender.try_send(&payload(99)), Err(Full));
    for value in 1..5 {
        assert_eq!(receiver.try_recv(), Ok(payload(value)));
    }
    assert_eq!(receiver.try_recv(), Err(RecvError::Empty));
}

#[test]
fn wraps_around_many_laps_in_order() {
    let frame = ChannelFrame::<3>::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    let mut next_sent = 0;
    let mut next_received = 0;
    // Every loop is bounded: a broken ring fails this test instead of spinning forever.
    for _ in 0..1000 {
        if next_received >= 1000 {
            break;
        }
        let mut burst = 0;
        while a.sender.try_send(&payload(next_sent)).is_ok() {
            next_sent += 1;
            burst += 1;
            assert!(burst <= 3, "more than 3 messages in flight in a 3-slot ring");
        }
        while let Ok(got) = b.receiver.try_recv() {
            assert_eq!(got, payload(next_received));
            next_received += 1;
        }
        assert_eq!(b.receiver.try_recv(), Err(RecvError::Empty), "after message {next_received}");
    }
    assert!(next_received >= 1000, "the ring stopped moving after {next_received} messages");
    assert_eq!(a.sender.sent(), next_sent);
    assert_eq!(b.receiver.received(), next_received);
}

#[test]
fn acknowledgements_are_batched_but_an_idle_receiver_returns_all_credits() {
    let frame: ChannelFrame = ChannelFrame::new(); // 31 slots: acknowledgements every 7 messages
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    for value in 0..DEFAULT_SLOTS as u64 {
        a.sender.try_send(&payload(value)).unwrap();
    }
    for _ in 0..10 {
        b.receiver.try_recv().unwrap();
    }
    // Ten consumed, seven acknowledged so far.
    assert_eq!(a.sender.free_slots(), 7);
    for _ in 10..DEFAULT_SLOTS {
        b.receiver.try_recv().unwrap();
    }
    assert_eq!(b.receiver.try_recv(), Err(RecvError::Empty));
    assert_eq!(a.sender.free_slots(), DEFAULT_SLOTS);
}

#[test]
fn explicit_flush_returns_credits() {
    let frame: ChannelFrame = ChannelFrame::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    a.sender.try_send(&payload(1)).unwrap();
    a.sender.try_send(&payload(2)).unwrap();
    b.receiver.try_recv().unwrap();
    assert_eq!(a.sender.free_slots(), DEFAULT_SLOTS - 2);
    b.receiver.flush_acknowledgements();
    assert_eq!(a.sender.free_slots(), DEFAULT_SLOTS - 1);
}

#[test]
fn batches_send_what_fits_and_receive_what_arrived() {
    let frame = ChannelFrame::<8>::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    let outgoing: Vec<Payload> = (0..12).map(payload).collect();
    assert_eq!(a.sender.try_send_batch(&outgoing), 8);
    assert_eq!(a.sender.try_send_batch(&outgoing[8..]), 0);
    let mut incoming = [Payload::ZERO; 5];
    assert_eq!(b.receiver.try_recv_batch(&mut incoming), Ok(5));
    assert_eq!(&incoming[..], &outgoing[..5]);
    // The batch acknowledged all five at its end.
    assert_eq!(a.sender.try_send_batch(&outgoing[8..]), 4);
    assert_eq!(b.receiver.try_recv_batch(&mut incoming), Ok(5));
    assert_eq!(&incoming[..], &outgoing[5..10]);
    assert_eq!(b.receiver.try_recv_batch(&mut incoming), Ok(2));
    assert_eq!(&incoming[..2], &outgoing[10..]);
    assert_eq!(b.receiver.try_recv_batch(&mut incoming), Ok(0));
}

#[test]
fn a_second_sender_on_one_ring_is_detected_as_desync() {
    let frame = ChannelFrame::<2>::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    for value in 1..=4 {
        a.sender.try_send(&payload(value)).unwrap();
        assert_eq!(b.receiver.try_recv(), Ok(payload(value)));
    }
    // Slot 0 holds sequence 3 from the last lap: the ring is empty.
    assert_eq!(b.receiver.try_recv(), Err(RecvError::Empty));
    // A second endpoint for side A starts from zero and writes sequence 1 into slot 0: a
    // value from no lap the receiver can be on.
    let mut rogue = frame.endpoint(Side::A);
    rogue.sender.try_send(&payload(0)).unwrap();
    assert_eq!(b.receiver.try_recv(), Err(RecvError::Desync { expected: 5, found: 1 }));
}

#[test]
fn typed_messages_travel_and_wrong_types_are_reported() {
    let frame: ChannelFrame = ChannelFrame::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    let up = CoreUp { core: 4, mpidr: 0x8000_0100, midr: 0x410f_d083, class: 1, el: 1, ctr: 0x8444_c004 };
    a.sender.try_send_message(&up).unwrap();
    a.sender.try_send_message(&Ping { seq: 1, ts: 2 }).unwrap();
    assert_eq!(b.receiver.try_recv_message::<CoreUp>(), Ok(up));
    assert!(matches!(b.receiver.try_recv_message::<CoreUp>(), Err(RecvMessageError::Decode(_))));
    assert_eq!(b.receiver.try_recv_message::<CoreUp>(), Err(RecvMessageError::Recv(RecvError::Empty)));
    a.sender.try_send_message(&Ping { seq: 3, ts: 4 }).unwrap();
    let line = b.receiver.try_recv().unwrap();
    assert_eq!(AnyMessage::decode(&line), Ok(AnyMessage::Ping(Ping { seq: 3, ts: 4 })));
}

/// A notifier that counts its waits and, after a few, lets a message "arrive".
struct CountingNotifier {
    waits: Cell<u32>,
}

impl Notify for CountingNotifier {
    fn notify(&self) {}

    fn wait(&self) {
        self.waits.set(self.waits.get() + 1);
    }
}

#[test]
fn poll_then_wait_polls_first_then_sleeps_until_a_message_comes() {
    let frame: ChannelFrame = ChannelFrame::new();
    let mut a = frame.endpoint(Side::A);
    let mut b = frame.endpoint(Side::B);
    let notifier = CountingNotifier { waits: Cell::new(0) };
    let mut attempts = 0;
    let got = poll_then_wait(&notifier, 10, || {
        attempts += 1;
        if attempts == 15 {
            a.sender.try_send(&payload(5)).unwrap();
        }
        b.receiver.try_recv().ok()
    });
    assert_eq!(got, payload(5));
    assert_eq!(attempts, 15);
    assert_eq!(
        notifier.waits.get(),
        4,
        "ten polls, then one wait after each of the failed attempts 11 to 14"
    );
}
