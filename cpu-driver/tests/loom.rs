//! Loom models of the console's memory ordering (`cpu_driver::log_ring`): every interleaving,
//! and every value the C++11 memory model lets a load see, of a writer core, the owner and a
//! core on the emergency path, over 2-slot rings.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p cpu-driver --release --test loom`. Under
//! `--cfg loom` the rings' and the gate's atomics are loom's, so this checks the real
//! `push`/`pop`/`drain` and gate code. What stands for the UART is a loom cell: loom fails a
//! model if two writes to it are not ordered by happens-before, which is what the gate must
//! guarantee (not only that the writes do not overlap in time).
//!
//! Weakened on purpose, each of these fails a model: the writer's release of `written` or the
//! reader's acquire of it made relaxed, the full-ring test off by one (`>` for `>=`), either
//! fence of the gate removed, `end_line`'s release made relaxed. Not caught: the writer's
//! acquire of `consumed` made relaxed, which only load buffering (a read of the slot seeing a
//! later overwrite) would expose, and loom does not model load buffering; that edge is argued
//! in `log_ring`'s module documentation only.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

use cpu_driver::linebuf::LINE_CAPACITY;
use cpu_driver::log_ring::{drain, ConsoleGate, DrainState, LogRing, RING_SLOTS};

/// The lines the UART printed, as a race-checked cell.
struct Uart(UnsafeCell<Vec<Vec<u8>>>);

// SAFETY: loom's cell checks every access for a data race itself (this is the model's UART,
// not the kernel's); sharing it between the model's threads is what is being checked.
unsafe impl Sync for Uart {}

impl Uart {
    fn new() -> Self {
        Uart(UnsafeCell::new(Vec::new()))
    }

    fn write(&self, line: &[u8]) {
        // SAFETY: loom reports any access not ordered by happens-before with this one.
        self.0.with_mut(|lines| unsafe { (*lines).push(line.to_vec()) });
    }

    fn lines(&self) -> Vec<Vec<u8>> {
        // SAFETY: as in `write`.
        self.0.with(|lines| unsafe { (*lines).clone() })
    }
}

/// A 12-byte line (two words) whose bytes all derive from `n`: a torn or stale read shows.
fn line(n: u8) -> Vec<u8> {
    let mut bytes = vec![b'a' + n; 11];
    bytes.push(b'\n');
    bytes
}

/// The writer publishes more lines than the ring holds while the owner reads them: each line
/// arrives whole, in order, once; the writer reuses a slot only after the owner read it.
#[test]
fn lines_cross_a_wrapping_ring_whole_and_in_order() {
    loom::model(|| {
        let ring = Arc::new(LogRing::new());
        let lines = RING_SLOTS as u8 + 1;
        let writer = {
            let ring = Arc::clone(&ring);
            thread::spawn(move || {
                for n in 0..lines {
                    while ring.push(u64::from(n), &line(n)).is_err() {
                        thread::yield_now();
                    }
                }
            })
        };
        let mut out = [0u8; LINE_CAPACITY];
        for n in 0..lines {
            let len = loop {
                if let Some(len) = ring.pop(&mut out) {
                    break len;
                }
                thread::yield_now();
            };
            assert_eq!(&out[..len], line(n).as_slice(), "line {n}");
        }
        writer.join().unwrap();
    });
}

/// The owner drains a ring while its core, on the emergency path, takes its own earlier line
/// out and writes its last line: every line reaches the UART exactly once, the earlier line
/// before the last one, and the UART's two writers are ordered by happens-before (the gate).
#[test]
fn the_owner_and_an_emergency_writer_never_write_at_once() {
    loom::model(|| {
        let ring = Arc::new(LogRing::new());
        let gate = Arc::new(ConsoleGate::new());
        let uart = Arc::new(Uart::new());
        ring.push(1, &line(0)).unwrap();
        let owner = {
            let (ring, gate, uart) = (Arc::clone(&ring), Arc::clone(&gate), Arc::clone(&uart));
            thread::spawn(move || {
                let mut state = DrainState::<1>::new();
                drain(&[&*ring], &gate, &mut state, |l| uart.write(l.bytes));
            })
        };
        // The emergency path as `kernel/console.rs` takes it, without its time bounds.
        assert!(gate.claim_emergency(0));
        while gate.owner_writing() {
            thread::yield_now();
        }
        let mut out = [0u8; LINE_CAPACITY];
        while let Some(len) = ring.pop(&mut out) {
            uart.write(&out[..len]);
        }
        uart.write(&line(9));
        gate.release_emergency();
        owner.join().unwrap();
        assert_eq!(uart.lines(), [line(0), line(9)]);
    });
}
