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
/// Untimed round trips or messages before each measurement, to warm caches and predictors.
const WARM_UP: u64 = 2_000;
/// Slots in every ring under test (the default URPC frame's, so all transports get the same).
const CAPACITY: usize = urpc::DEFAULT_SLOTS;

/// A transport to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One cache line bounced with an atomic store and load: the hardware's limit.
    CacheLine,
    /// Two cache lines, one written by each side (ping and pong): the limit for a protocol
    /// that keeps one writer per line, as URPC does.
    TwoLines,
    /// This crate.
    Urpc,
    /// `rtrb`, a wait-free single-producer single-consumer ring.
    Rtrb,
    /// `crossbeam-channel`, a bounded multi-producer multi-consumer channel.
    Crossbeam,
}

impl Kind {
    /// Every kind, in the order they are reported.
    pub const ALL: [Kind; 5] = [Kind::CacheLine, Kind::TwoLines, Kind::Urpc, Kind::Rtrb, Kind::Crossbeam];

    /// The name in the output and the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Kind::CacheLine => "cacheline",
            Kind::TwoLines => "twolines",
            Kind::Urpc => "urpc",
            Kind::Rtrb => "rtrb",
            Kind::Crossbeam => "crossbeam",
        }
    }

    /// Whether a one-way throughput figure means anything (a lone line carries no queue).
    pub fn has_throughput(self) -> bool {
        !matches!(self, Kind::CacheLine | Kind::TwoLines)
    }

    /// Nanoseconds per round trip, one sample per [`ROUND_TRIPS_PER_SAMPLE`] round trips,
    /// `round_trips` in all, with the client on `client` and the echoing server on `server`.
    pub fn round_trips(self, client: CoreId, server: CoreId, round_trips: u64) -> Vec<f64> {
        let samples = round_trips.div_ceil(ROUND_TRIPS_PER_SAMPLE);
        match self {
            Kind::CacheLine => cache_line_round_trips(client, server, samples),
            Kind::TwoLines => two_lines_round_trips(client, server, samples),
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
            Kind::CacheLine | Kind::TwoLines => f64::NAN,
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
    struct Line(AtomicU64);
    let line = Line(AtomicU64::new(0));
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

/// The limit with one writer per line: the client writes the ping line, the server the pong
/// line, each on its own 128-byte-aligned line (adjacent-line prefetchers pair 64-byte lines).
fn two_lines_round_trips(client_core: CoreId, server_core: CoreId, samples: u64) -> Vec<f64> {
    #[repr(align(128))]
    struct Line(AtomicU64);
    let ping = Line(AtomicU64::new(0));
    let pong = Line(AtomicU64::new(0));
    let (ping, pong) = (&ping.0, &pong.0);
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
