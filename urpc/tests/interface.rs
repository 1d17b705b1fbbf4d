//! Interfaces declared with `urpc::declare_messages!` and `urpc::declare_interface!`: what the generated code
//! writes, what it refuses, several-line messages over a real ring and the same-core queue.
#![allow(missing_docs)]

use urpc::interface::{tags_repeat, AssemblyError, Channel, ChannelError, SameCore, Variant, Wire};
use urpc::message::{self, DecodeError, Message};
use urpc::{ChannelFrame, Payload, Side};

urpc::declare_messages! {
    /// One line.
    pub struct Hello = 200 { pub from: u32, pub online: u64, pub big: bool }
    /// Nothing but the tag.
    pub struct Tick = 201 {}
    /// Exactly one line's body: 48 bytes.
    pub struct Full48 = 202 { pub a: u64, pub b: u64, pub c: u64, pub d: u64, pub e: u64, pub f: u64 }
    /// Several lines: 4 + 200 + 8 bytes.
    pub struct Table = 203 lines { pub count: u32, pub entries: [u8; 200], pub checksum: u64 }
    /// Several lines where a scalar would straddle a line end: 44 bytes, then a u64.
    pub struct Straddle = 204 lines { pub head: [u8; 44], pub tail: u64 }
}

urpc::declare_messages! {
    /// The nested interface's messages.
    pub struct Inner1 = 210 { pub x: u32 }
    /// Another.
    pub struct Inner2 = 211 { pub y: i32 }
}

urpc::declare_interface! {
    /// A nested interface (as the capability protocol sits inside the monitors').
    pub enum Inner { One(Inner1), Two(Inner2) }
}

urpc::declare_interface! {
    /// The test interface.
    pub enum Test { Hello(Hello), Tick(Tick), Full48(Full48), Table(Table), Straddle(Straddle), Inner(Inner) }
}

fn table(seed: u8) -> Table {
    let mut entries = [0u8; 200];
    for (i, e) in entries.iter_mut().enumerate() {
        *e = (i as u8).wrapping_mul(31).wrapping_add(seed);
    }
    Table { count: 200, entries, checksum: 0xfeed_f00d_dead_beef ^ u64::from(seed) }
}

#[test]
fn one_line_messages_are_plain_messages_and_round_trip() {
    let hello = Hello { from: 3, online: 0b111111, big: true };
    let payload = message::encode(&hello);
    assert_eq!(message::decode::<Hello>(&payload), Ok(hello));
    assert_eq!(Test::decode(&payload), Ok(Test::Hello(hello)));
    assert_eq!(Test::decode(&message::encode(&Tick {})), Ok(Test::Tick(Tick {})));
    let full = Full48 { a: 1, b: 2, c: 3, d: 4, e: 5, f: u64::MAX };
    assert_eq!(Test::decode(&message::encode(&full)), Ok(Test::Full48(full)));
    assert_eq!(
        Test::decode(&message::encode(&Inner1 { x: 9 })),
        Ok(Test::Inner(Inner::One(Inner1 { x: 9 })))
    );
    assert_eq!(<Hello as Wire>::LINES, 1);
    assert_eq!(<Table as Wire>::LINES, 5, "212 bytes over lines of 48, scalars never split");
}

#[test]
fn malformed_one_line_messages_are_refused_by_name() {
    let good = message::encode(&Hello { from: 1, online: 2, big: false });
    let mut words: [u64; 7] = core::array::from_fn(|i| good.word(i));
    words[2] |= 7 << 32; // the bool (body byte 12, payload byte 20) is 7
    assert_eq!(Test::decode(&Payload::from_words(words)), Err(DecodeError::InvalidField { field: "bool" }));
    let mut words: [u64; 7] = core::array::from_fn(|i| good.word(i));
    words[6] = 1; // a byte after the fields
    assert_eq!(Test::decode(&Payload::from_words(words)), Err(DecodeError::TrailingBytes));
    let mut words: [u64; 7] = core::array::from_fn(|i| good.word(i));
    words[0] |= 1 << 40; // a reserved header byte
    assert_eq!(Test::decode(&Payload::from_words(words)), Err(DecodeError::ReservedNotZero));
    assert_eq!(
        Test::decode(&Payload::from_words([999, 0, 0, 0, 0, 0, 0])),
        Err(DecodeError::UnknownTag(999))
    );
    assert_eq!(Test::decode(&Payload::ZERO), Err(DecodeError::UnknownTag(0)));
}

#[test]
fn tags_are_checked_unique_and_never_zero() {
    assert!(!tags_repeat(&[&[1, 2], &[3], &[]]));
    assert!(tags_repeat(&[&[1, 2], &[3, 2]]));
    assert!(tags_repeat(&[&[1, 1]]));
    assert!(tags_repeat(&[&[4], &[0]]));
    assert_eq!(Test::TAGS, [200, 201, 202, 203, 204, 210, 211]);
}

fn over<T: urpc::interface::Transport>(mut sender: Channel<Test, T>) -> Channel<Test, T> {
    assert_eq!(sender.send(&table(1)), Ok(()));
    assert_eq!(sender.send(&Hello { from: 1, online: 1, big: false }), Ok(()));
    assert_eq!(sender.send(&Straddle { head: [7; 44], tail: u64::MAX - 1 }), Ok(()));
    sender
}

#[test]
fn several_line_messages_cross_a_real_ring_whole_and_in_order() {
    let frame: ChannelFrame = ChannelFrame::new();
    let (a, b) = (frame.endpoint(Side::A), frame.endpoint(Side::B));
    let _ = over(Channel::<Test, _>::new(a));
    let mut receiver = Channel::<Test, _>::new(b);
    assert_eq!(receiver.recv(), Ok(Test::Table(table(1))));
    assert_eq!(receiver.recv(), Ok(Test::Hello(Hello { from: 1, online: 1, big: false })));
    assert_eq!(receiver.recv(), Ok(Test::Straddle(Straddle { head: [7; 44], tail: u64::MAX - 1 })));
    assert_eq!(receiver.recv(), Err(ChannelError::Empty));
}

#[test]
fn the_same_core_transport_carries_the_same_messages() {
    let mut channel = over(Channel::<Test, SameCore<16>>::new(SameCore::default()));
    assert_eq!(channel.recv(), Ok(Test::Table(table(1))));
    assert!(matches!(channel.recv(), Ok(Test::Hello(_))));
    assert!(matches!(channel.recv(), Ok(Test::Straddle(_))));
    assert_eq!(channel.recv(), Err(ChannelError::Empty));
}

#[test]
fn a_ring_without_room_for_every_line_takes_none_of_them() {
    let frame: ChannelFrame = ChannelFrame::new();
    let (a, b) = (frame.endpoint(Side::A), frame.endpoint(Side::B));
    let mut sender = Channel::<Test, _>::new(a);
    let mut sent = 0;
    while sender.send(&Tick {}).is_ok() {
        sent += 1;
    }
    let mut receiver = Channel::<Test, _>::new(b);
    // Three lines read: the five-line table still does not fit, and no line of it goes.
    for _ in 0..3 {
        assert_eq!(receiver.recv(), Ok(Test::Tick(Tick {})));
    }
    assert!(sender.send(&table(2)).is_err());
    let mut ticks = 3;
    while let Ok(message) = receiver.recv() {
        assert_eq!(message, Test::Tick(Tick {}), "only ticks: nothing of the refused table");
        ticks += 1;
    }
    assert_eq!(ticks, sent);
    assert_eq!(sender.send(&table(2)), Ok(()));
    assert_eq!(receiver.recv(), Ok(Test::Table(table(2))));
}

#[test]
fn a_partly_full_ring_refuses_the_whole_several_line_message() {
    let mut queue = Channel::<Test, SameCore<6>>::new(SameCore::default());
    for _ in 0..2 {
        queue.send(&Tick {}).unwrap();
    }
    assert!(queue.send(&table(3)).is_err(), "5 lines, 4 free: refused");
    assert_eq!(queue.recv(), Ok(Test::Tick(Tick {})));
    assert_eq!(queue.send(&table(3)), Ok(()), "5 free now");
    assert_eq!(queue.recv(), Ok(Test::Tick(Tick {})));
    assert_eq!(queue.recv(), Ok(Test::Table(table(3))));
}

/// The lines of `message`, as a sender would put them on the ring.
fn lines<M: Variant>(message: &M) -> Vec<Payload> {
    let mut channel = Channel::<Test, SameCore<16>>::new(SameCore::default());
    channel.send(message).unwrap();
    let mut out = Vec::new();
    while let Ok(line) = urpc::interface::Transport::recv_line(channel.transport()) {
        out.push(line);
    }
    out
}

fn receive(lines: &[Payload]) -> Vec<Result<Test, ChannelError>> {
    let mut channel = Channel::<Test, SameCore<32>>::new(SameCore::default());
    urpc::interface::Transport::send_lines(channel.transport(), lines).unwrap();
    let mut out = Vec::new();
    loop {
        match channel.recv() {
            Err(ChannelError::Empty) => return out,
            other => out.push(other),
        }
    }
}

#[test]
fn lines_out_of_order_or_cut_short_are_refused_and_the_next_message_still_arrives() {
    let table_lines = lines(&table(4));
    assert_eq!(table_lines.len(), 5);
    let tick = message::encode(&Tick {});
    // A line of a longer message is no one-line message.
    assert_eq!(Test::decode(&table_lines[0]), Err(DecodeError::ReservedNotZero));
    // Two lines swapped.
    let mut swapped = table_lines.clone();
    swapped.swap(1, 2);
    swapped.push(tick);
    let got = receive(&swapped);
    assert_eq!(got.first(), Some(&Err(ChannelError::Assembly(AssemblyError::OutOfOrder))));
    assert_eq!(got.last(), Some(&Ok(Test::Tick(Tick {}))));
    // Cut short by a one-line message: refused, and the following table arrives whole.
    let mut cut = table_lines[..2].to_vec();
    cut.push(tick);
    cut.extend(table_lines.iter().copied());
    let got = receive(&cut);
    assert_eq!(got, [Err(ChannelError::Assembly(AssemblyError::OutOfOrder)), Ok(Test::Table(table(4)))]);
    // A header claiming one line of a one-line count, or a count past the limit.
    let bad_count = Payload::from_words([203 | 1 << 24, 0, 0, 0, 0, 0, 0]);
    let too_many = Payload::from_words([203 | 9 << 24, 0, 0, 0, 0, 0, 0]);
    assert_eq!(receive(&[bad_count, too_many, tick]).len(), 3);
    assert_eq!(
        receive(&[bad_count, too_many]),
        [
            Err(ChannelError::Assembly(AssemblyError::BadHeader)),
            Err(ChannelError::Assembly(AssemblyError::BadHeader))
        ]
    );
}

#[test]
fn padding_in_several_line_messages_must_be_zero() {
    let mut straddle = lines(&Straddle { head: [1; 44], tail: 5 });
    assert_eq!(straddle.len(), 2, "the u64 does not fit the 4 bytes left: it starts line 2");
    let mut words: [u64; 7] = core::array::from_fn(|i| straddle[0].word(i));
    words[6] |= 0xff << 40; // within the 4-byte gap at the end of line 1
    straddle[0] = Payload::from_words(words);
    assert_eq!(receive(&straddle), [Err(ChannelError::Decode(DecodeError::TrailingBytes))]);
}

#[test]
fn random_tables_round_trip() {
    let mut state = 0x1234_5678_9abc_def1u64;
    for _ in 0..500 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let message = Table {
            count: state as u32,
            entries: core::array::from_fn(|i| (state >> (i % 56)) as u8),
            checksum: state,
        };
        assert_eq!(receive(&lines(&message)), [Ok(Test::Table(message))]);
    }
}

#[test]
fn declared_one_line_messages_encode_like_hand_written_ones() {
    // Hand-written with the body writer, as the monitor's messages were.
    struct Manual {
        from: u32,
        online: u64,
        big: bool,
    }
    impl Message for Manual {
        const TAG: u16 = 200;
        fn encode(&self, body: &mut message::Body) {
            message::BodyWriter::new(body).u32(self.from).u64(self.online).u8(u8::from(self.big));
        }
        fn decode(_: &message::Body) -> Result<Self, DecodeError> {
            unreachable!()
        }
    }
    let manual = message::encode(&Manual { from: 7, online: 0xabcdef, big: true });
    assert_eq!(manual, message::encode(&Hello { from: 7, online: 0xabcdef, big: true }));
}
