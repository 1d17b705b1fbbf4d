//! The transports under test and the two measurements each gets on a pair of pinned threads:
//! round-trip latency (ping-pong) and one-way pipelined throughput.
//!
//! Every transport is polled with its non-blocking call in a spin loop, so the figures compare
//! the transports themselves, not their sleeping strategies.

use std::hint::spin_loop;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use core_affinity::CoreId;
use urpc::{ChannelFrame, Payload, Side, PAYLOAD_BYTES};

/// Round trips timed together in one latency sample (so the clock's own cost is amortised).
pub const ROUND_TRIPS_PER_SAMPLE: u64 = 100;
/// Untimed round trips or messages before each measurement, to warm caches and predictors
/// (the rounds are short and many, so this is kept small; 500 round trips are about 0.1 ms).
const WARM_UP: u64 = 500;
/// Slots in every ring under test (the default URPC frame's, so all transports get the same).
const CAPACITY: usize = urpc::DEFAULT_SLOTS;

/// A transport to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One cache line bounced with an atomic store and load: the hardware's limit.
    CacheLine,
    /// Two cache lines, one written by each side (ping and pong), in different 128-byte blocks:
    /// the limit for a protocol that keeps one writer per line, as URPC does.
    TwoLines,
    /// The same two lines adjacent, in one 128-byte block (64-byte placement): what an
    /// adjacent-line prefetcher that pairs lines does to two writers sharing a pair.
    TwoLines64,
    /// A 31-line ring each way carrying 56-byte messages as URPC's lines do (seven payload
    /// words, then the sequence word), without flow control or counters: the floor for URPC.
    /// The two rings start in different 128-byte blocks.
    RingFloor,
    /// The same with the second ring right after the first (64-byte placement, as URPC's frame
    /// had it before the 128-byte acknowledgement blocks): the first ring's last line and the
    /// second's first share a 128-byte block.
    RingFloor64,
    /// This crate, raw payloads.
    Urpc,
    /// This crate carrying a message type written by hand (`Message` with the body writer and
    /// reader), sent with `try_send_message` and decoded on arrival.
    UrpcHandWritten,
    /// The same message declared with `urpc::declare_messages!` and carried by a typed
    /// `urpc::interface::Channel` (the generated layer).
    UrpcDeclared,
    /// `rtrb`, a wait-free single-producer single-consumer ring.
    Rtrb,
    /// `crossbeam-channel`, a bounded multi-producer multi-consumer channel.
    Crossbeam,
}

impl Kind {
    /// Every kind, in the order they are reported.
    pub const ALL: [Kind; 10] = [
        Kind::CacheLine,
        Kind::TwoLines,
        Kind::TwoLines64,
        Kind::RingFloor,
        Kind::RingFloor64,
        Kind::Urpc,
        Kind::UrpcHandWritten,
        Kind::UrpcDeclared,
        Kind::Rtrb,
        Kind::Crossbeam,
    ];

    /// The name in the output and the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Kind::CacheLine => "cacheline",
            Kind::TwoLines => "twolines",
            Kind::TwoLines64 => "twolines-64",
            Kind::RingFloor => "ring-floor",
            Kind::RingFloor64 => "ring-floor-64",
            Kind::Urpc => "urpc",
            Kind::UrpcHandWritten => "urpc-hand-written",
            Kind::UrpcDeclared => "urpc-declared",
            Kind::Rtrb => "rtrb",
            Kind::Crossbeam => "crossbeam",
        }
    }

    /// Whether a one-way throughput figure means anything (a lone line carries no queue).
    pub fn has_throughput(self) -> bool {
        matches!(self, Kind::Urpc | Kind::Rtrb | Kind::Crossbeam)
    }

    /// Nanoseconds per round trip, one sample per [`ROUND_TRIPS_PER_SAMPLE`] round trips,
    /// `round_trips` in all, with the client on `client` and the echoing server on `server`.
    pub fn round_trips(self, client: CoreId, server: CoreId, round_trips: u64) -> Vec<f64> {
        let samples = round_trips.div_ceil(ROUND_TRIPS_PER_SAMPLE);
        match self {
            Kind::CacheLine => cache_line_round_trips(client, server, samples),
            Kind::TwoLines => two_lines_round_trips::<1>(client, server, samples),
            Kind::TwoLines64 => two_lines_round_trips::<0>(client, server, samples),
            Kind::RingFloor => ring_floor_round_trips::<1>(client, server, samples),
            Kind::RingFloor64 => ring_floor_round_trips::<0>(client, server, samples),
            Kind::UrpcHandWritten => hand_written_round_trips(client, server, samples),
            Kind::UrpcDeclared => declared_round_trips(client, server, samples),
            Kind::Urpc => {
                let frame: Box<ChannelFrame> = Box::default();
                let a = frame.endpoint(Side::A);
                let b = frame.endpoint(Side::B);
                let (mut a_tx, mut a_rx) = a.split();
                let (mut b_tx, mut b_rx) = b.split();
                ping_pong(
                    client,
                    server,
                    samples,
                    move |message| {
                        while a_tx.try_send(message).is_err() {
                            spin_loop();
                        }
                    },
                    move || loop {
                        if let Ok(message) = a_rx.try_recv() {
                            return message;
                        }
                        spin_loop();
                    },
                    move || loop {
                        if let Ok(message) = b_rx.try_recv() {
                            while b_tx.try_send(&message).is_err() {
                                spin_loop();
                            }
                            return;
                        }
                        spin_loop();
                    },
                )
            }
            Kind::Rtrb => {
                let (mut ping_tx, mut ping_rx) = rtrb::RingBuffer::<Payload>::new(CAPACITY);
                let (mut pong_tx, mut pong_rx) = rtrb::RingBuffer::<Payload>::new(CAPACITY);
                ping_pong(
                    client,
                    server,
                    samples,
                    move |message| {
                        while ping_tx.push(*message).is_err() {
                            spin_loop();
                        }
                    },
                    move || loop {
                        if let Ok(message) = pong_rx.pop() {
                            return message;
                        }
                        spin_loop();
                    },
                    move || loop {
                        if let Ok(message) = ping_rx.pop() {
                            while pong_tx.push(message).is_err() {
                                spin_loop();
                            }
                            return;
                        }
                        spin_loop();
                    },
                )
            }
            Kind::Crossbeam => {
                let (ping_tx, ping_rx) = crossbeam_channel::bounded::<Payload>(CAPACITY);
                let (pong_tx, pong_rx) = crossbeam_channel::bounded::<Payload>(CAPACITY);
                ping_pong(
                    client,
                    server,
                    samples,
                    move |message| {
                        while ping_tx.try_send(*message).is_err() {
                            spin_loop();
                        }
                    },
                    move || loop {
                        if let Ok(message) = pong_rx.try_recv() {
                            return message;
                        }
                        spin_loop();
                    },
                    move || loop {
                        if let Ok(message) = ping_rx.try_recv() {
                            while pong_tx.try_send(message).is_err() {
                                spin_loop();
                            }
                            return;
                        }
                        spin_loop();
                    },
                )
            }
        }
    }

    /// Messages per second from `sender` to `receiver`, `messages` sent back to back.
    pub fn throughput(self, sender: CoreId, receiver: CoreId, messages: u64) -> f64 {
        match self {
            Kind::CacheLine
            | Kind::TwoLines
            | Kind::TwoLines64
            | Kind::RingFloor
            | Kind::RingFloor64
            | Kind::UrpcHandWritten
            | Kind::UrpcDeclared => f64::NAN,
            Kind::Urpc => {
                let frame: Box<ChannelFrame> = Box::default();
                let (mut tx, _) = frame.endpoint(Side::A).split();
                let (_, mut rx) = frame.endpoint(Side::B).split();
                stream(
                    sender,
                    receiver,
                    messages,
                    move |message| {
                        while tx.try_send(message).is_err() {
                            spin_loop();
                        }
                    },
                    move || loop {
                        if let Ok(message) = rx.try_recv() {
                            return message;
                        }
                        spin_loop();
                    },
                )
            }
            Kind::Rtrb => {
                let (mut tx, mut rx) = rtrb::RingBuffer::<Payload>::new(CAPACITY);
                stream(
                    sender,
                    receiver,
                    messages,
                    move |message| {
                        while tx.push(*message).is_err() {
                            spin_loop();
                        }
                    },
                    move || loop {
                        if let Ok(message) = rx.pop() {
                            return message;
                        }
                        spin_loop();
                    },
                )
            }
            Kind::Crossbeam => {
                let (tx, rx) = crossbeam_channel::bounded::<Payload>(CAPACITY);
                stream(
                    sender,
                    receiver,
                    messages,
                    move |message| {
                        while tx.try_send(*message).is_err() {
                            spin_loop();
                        }
                    },
                    move || loop {
                        if let Ok(message) = rx.try_recv() {
                            return message;
                        }
                        spin_loop();
                    },
                )
            }
        }
    }
}

/// A 56-byte message numbered `number` (the number in the first word, so it can be checked).
fn message(number: u64) -> Payload {
    let mut message = Payload::new([0xa5u8; PAYLOAD_BYTES]);
    message[..8].copy_from_slice(&number.to_le_bytes());
    message
}

fn number(message: &Payload) -> u64 {
    message.word(0)
}

fn pin(core: CoreId) {
    // Not pinned is still a valid (if noisier) measurement, so carry on but say so.
    if !core_affinity::set_for_current(core) {
        eprintln!("[urpc-bench] could not pin a thread to core {}", core.id);
    }
}

/// Runs `client` and `server` on their cores, started together; returns the client's result.
fn on_pair<R: Send>(
    client_core: CoreId,
    server_core: CoreId,
    client: impl FnOnce() -> R + Send,
    server: impl FnOnce() + Send,
) -> R {
    let start = Barrier::new(2);
    thread::scope(|scope| {
        let start = &start;
        scope.spawn(move || {
            pin(server_core);
            start.wait();
            server();
        });
        let client = scope.spawn(move || {
            pin(client_core);
            start.wait();
            client()
        });
        client.join().expect("benchmark client panicked")
    })
}

/// The message of the two typed kinds, written by hand the way the monitors' messages were.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HandPing {
    turn: u64,
    stamp: u64,
    core: u32,
}

impl urpc::Message for HandPing {
    const TAG: u16 = 7;
    fn encode(&self, body: &mut urpc::message::Body) {
        urpc::message::BodyWriter::new(body).u64(self.turn).u64(self.stamp).u32(self.core);
    }
    fn decode(body: &urpc::message::Body) -> Result<Self, urpc::DecodeError> {
        let mut reader = urpc::message::BodyReader::new(body);
        let ping = HandPing { turn: reader.u64()?, stamp: reader.u64()?, core: reader.u32()? };
        reader.finish()?;
        Ok(ping)
    }
}

urpc::declare_messages! {
    /// The same message, declared.
    struct DeclaredPing = 7 { turn: u64, stamp: u64, core: u32 }
}

urpc::declare_interface! {
    /// The typed kind's interface.
    enum BenchInterface { Ping(DeclaredPing) }
}

/// Round trips of a hand-written message: encoded by `try_send_message`, decoded (and
/// checked) by `try_recv_message` on both sides.
fn hand_written_round_trips(client_core: CoreId, server_core: CoreId, samples: u64) -> Vec<f64> {
    let frame: Box<ChannelFrame> = Box::default();
    let (mut a_tx, mut a_rx) = frame.endpoint(Side::A).split();
    let (mut b_tx, mut b_rx) = frame.endpoint(Side::B).split();
    let total = WARM_UP + samples * ROUND_TRIPS_PER_SAMPLE;
    let client = move || {
        timed_round_trips(samples, |turn| {
            let ping = HandPing { turn, stamp: turn ^ 0x5555, core: 1 };
            while a_tx.try_send_message(&ping).is_err() {
                spin_loop();
            }
            loop {
                match a_rx.try_recv_message::<HandPing>() {
                    Ok(echo) => {
                        assert_eq!(echo, ping, "echo out of order");
                        break;
                    }
                    Err(urpc::RecvMessageError::Recv(urpc::RecvError::Empty)) => spin_loop(),
                    Err(e) => panic!("hand-written echo: {e}"),
                }
            }
        })
    };
    let server = move || {
        for _ in 0..total {
            let ping = loop {
                if let Ok(ping) = b_rx.try_recv_message::<HandPing>() {
                    break ping;
                }
                spin_loop();
            };
            while b_tx.try_send_message(&ping).is_err() {
                spin_loop();
            }
        }
    };
    on_pair(client_core, server_core, client, server)
}

/// Round trips of the declared message over typed channels (generated encoder, interface
/// decoder with its tag dispatch and line assembler).
fn declared_round_trips(client_core: CoreId, server_core: CoreId, samples: u64) -> Vec<f64> {
    use urpc::interface::{Channel, ChannelError};
    let frame: Box<ChannelFrame> = Box::default();
    let mut a = Channel::<BenchInterface, _>::new(frame.endpoint(Side::A));
    let mut b = Channel::<BenchInterface, _>::new(frame.endpoint(Side::B));
    let total = WARM_UP + samples * ROUND_TRIPS_PER_SAMPLE;
    let client = move || {
        timed_round_trips(samples, |turn| {
            let ping = DeclaredPing { turn, stamp: turn ^ 0x5555, core: 1 };
            while a.send(&ping).is_err() {
                spin_loop();
            }
            loop {
                match a.recv() {
                    Ok(BenchInterface::Ping(echo)) => {
                        assert_eq!(echo, ping, "echo out of order");
                        break;
                    }
                    Err(ChannelError::Empty) => spin_loop(),
                    Err(e) => panic!("declared echo: {e}"),
                }
            }
        })
    };
    let server = move || {
        for _ in 0..total {
            let ping = loop {
                if let Ok(BenchInterface::Ping(ping)) = b.recv() {
                    break ping;
                }
                spin_loop();
            };
            while b.send(&ping).is_err() {
                spin_loop();
            }
        }
    };
    on_pair(client_core, server_core, client, server)
}

/// The client side of every round-trip kind: `round_trip(turn)` for turns `0..WARM_UP`
/// untimed, then `samples` timed batches of [`ROUND_TRIPS_PER_SAMPLE`]; nanoseconds per round
/// trip, one value per batch.
fn timed_round_trips(samples: u64, mut round_trip: impl FnMut(u64)) -> Vec<f64> {
    for turn in 0..WARM_UP {
        round_trip(turn);
    }
    let mut nanos_per_round_trip = Vec::with_capacity(samples as usize);
    let mut turn = WARM_UP;
    for _ in 0..samples {
        let started = Instant::now();
        for _ in 0..ROUND_TRIPS_PER_SAMPLE {
            round_trip(turn);
            turn += 1;
        }
        nanos_per_round_trip.push(started.elapsed().as_nanos() as f64 / ROUND_TRIPS_PER_SAMPLE as f64);
    }
    nanos_per_round_trip
}

/// Ping-pong: the client sends a numbered message and waits for its echo, `samples` times
/// [`ROUND_TRIPS_PER_SAMPLE`] after a warm-up.
fn ping_pong(
    client_core: CoreId,
    server_core: CoreId,
    samples: u64,
    mut send: impl FnMut(&Payload) + Send,
    mut receive: impl FnMut() -> Payload + Send,
    mut echo_one: impl FnMut() + Send,
) -> Vec<f64> {
    let total = WARM_UP + samples * ROUND_TRIPS_PER_SAMPLE;
    let client = move || {
        timed_round_trips(samples, |turn| {
            send(&message(turn));
            let answer = receive();
            assert_eq!(number(&answer), turn, "echo out of order");
        })
    };
    let server = move || {
        for _ in 0..total {
            echo_one();
        }
    };
    on_pair(client_core, server_core, client, server)
}

/// The hardware limit: one 64-byte line, the client writes odd numbers, the server answers
/// each with the next even one.
fn cache_line_round_trips(client_core: CoreId, server_core: CoreId, samples: u64) -> Vec<f64> {
    #[repr(align(128))]
    struct Block(AtomicU64);
    let line = Block(AtomicU64::new(0));
    let line = &line.0;
    let total = WARM_UP + samples * ROUND_TRIPS_PER_SAMPLE;
    let round_trip = move |turn: u64| {
        line.store(2 * turn + 1, Ordering::Release);
        while line.load(Ordering::Acquire) != 2 * turn + 2 {
            spin_loop();
        }
    };
    let client = move || timed_round_trips(samples, round_trip);
    let server = move || {
        for turn in 0..total {
            while line.load(Ordering::Acquire) != 2 * turn + 1 {
                spin_loop();
            }
            line.store(2 * turn + 2, Ordering::Release);
        }
    };
    on_pair(client_core, server_core, client, server)
}

/// One-way streaming: the sender sends `messages` back to back, the receiver takes them and
/// checks their order; the time runs from the first message after the warm-up to the last.
fn stream(
    sender_core: CoreId,
    receiver_core: CoreId,
    messages: u64,
    mut send: impl FnMut(&Payload) + Send,
    mut receive: impl FnMut() -> Payload + Send,
) -> f64 {
    let total = WARM_UP + messages;
    let sender = move || {
        for next in 0..total {
            send(&message(next));
        }
    };
    let receiver = move || {
        let mut started = Instant::now();
        for next in 0..total {
            if next == WARM_UP {
                started = Instant::now();
            }
            let got = receive();
            assert_eq!(number(&got), next, "message out of order");
        }
        messages as f64 / started.elapsed().as_secs_f64()
    };
    on_pair(receiver_core, sender_core, receiver, sender)
}

/// A 64-byte line holding one word.
#[repr(C, align(64))]
struct Line(AtomicU64);

/// Two one-word lines written by different sides, `GAP` lines apart after the first: 1 puts
/// them in different 128-byte blocks, 0 in the same one.
#[repr(C, align(128))]
struct TwoLines<const GAP: usize> {
    ping: Line,
    _gap: [Line; GAP],
    pong: Line,
}

/// The limit with one writer per line: the client writes the ping line, the server the pong
/// line (`GAP` as in [`TwoLines`]).
fn two_lines_round_trips<const GAP: usize>(
    client_core: CoreId,
    server_core: CoreId,
    samples: u64,
) -> Vec<f64> {
    let lines = TwoLines::<GAP> {
        ping: Line(AtomicU64::new(0)),
        _gap: std::array::from_fn(|_| Line(AtomicU64::new(0))),
        pong: Line(AtomicU64::new(0)),
    };
    let (ping, pong) = (&lines.ping.0, &lines.pong.0);
    let total = WARM_UP + samples * ROUND_TRIPS_PER_SAMPLE;
    let round_trip = move |turn: u64| {
        ping.store(turn + 1, Ordering::Release);
        while pong.load(Ordering::Acquire) != turn + 1 {
            spin_loop();
        }
    };
    let client = move || timed_round_trips(samples, round_trip);
    let server = move || {
        for turn in 0..total {
            while ping.load(Ordering::Acquire) != turn + 1 {
                spin_loop();
            }
            pong.store(turn + 1, Ordering::Release);
        }
    };
    on_pair(client_core, server_core, client, server)
}

/// Lines in each ring of the ring floor: 31, URPC's ring before its acknowledgement took a
/// 128-byte block (30 now; one line more makes no measurable difference to a ping-pong). Odd,
/// so that in `ring-floor-64` the first ring's last line and the second ring's first share a
/// 128-byte block, the placement the frame had then.
const FLOOR_SLOTS: usize = 31;

/// One message line of the ring floor, laid out as URPC's: seven payload words, then the
/// sequence word.
#[repr(C, align(64))]
struct FloorLine {
    payload: [AtomicU64; 7],
    seq: AtomicU64,
}

impl FloorLine {
    fn new() -> Self {
        Self { payload: std::array::from_fn(|_| AtomicU64::new(0)), seq: AtomicU64::new(0) }
    }

    /// Stores the payload, then publishes it as message `seq`.
    fn publish(&self, message: &Payload, seq: u64) {
        for (index, word) in self.payload.iter().enumerate() {
            word.store(message.word(index), Ordering::Relaxed);
        }
        self.seq.store(seq, Ordering::Release);
    }

    /// Waits for message `seq` and copies it out.
    fn take(&self, seq: u64) -> Payload {
        while self.seq.load(Ordering::Acquire) != seq {
            spin_loop();
        }
        Payload::from_words(std::array::from_fn(|index| self.payload[index].load(Ordering::Relaxed)))
    }
}

/// The ping ring (written by the client) and the pong ring (written by the server), `GAP`
/// lines apart: 1 starts the pong ring in a new 128-byte block, 0 right after the ping ring.
#[repr(C, align(128))]
struct FloorRings<const GAP: usize> {
    ping: [FloorLine; FLOOR_SLOTS],
    _gap: [Line; GAP],
    pong: [FloorLine; FLOOR_SLOTS],
}

/// The floor for a ring of 56-byte messages: round trip `k` goes through line `k % 31` of each
/// ring, with URPC's copies and orderings but no flow control (a ping-pong never has more
/// than one message in flight, so the sequence word alone is safe) and no counters.
fn ring_floor_round_trips<const GAP: usize>(
    client_core: CoreId,
    server_core: CoreId,
    samples: u64,
) -> Vec<f64> {
    let rings = Box::new(FloorRings::<GAP> {
        ping: std::array::from_fn(|_| FloorLine::new()),
        _gap: std::array::from_fn(|_| Line(AtomicU64::new(0))),
        pong: std::array::from_fn(|_| FloorLine::new()),
    });
    let (ping, pong) = (&rings.ping, &rings.pong);
    let total = WARM_UP + samples * ROUND_TRIPS_PER_SAMPLE;
    let round_trip = move |turn: u64| {
        let slot = (turn % FLOOR_SLOTS as u64) as usize;
        ping[slot].publish(&message(turn), turn + 1);
        let answer = pong[slot].take(turn + 1);
        assert_eq!(number(&answer), turn, "echo out of order");
    };
    let client = move || timed_round_trips(samples, round_trip);
    let server = move || {
        for turn in 0..total {
            let slot = (turn % FLOOR_SLOTS as u64) as usize;
            let message = ping[slot].take(turn + 1);
            pong[slot].publish(&message, turn + 1);
        }
    };
    on_pair(client_core, server_core, client, server)
}
