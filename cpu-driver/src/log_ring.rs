//! The console without a cross-core lock: every core writes whole lines into its own
//! [`LogRing`] in the shared region, and one core, the console owner (the boot core), drains
//! the rings to the UART in counter order ([`drain`]). No core ever waits for another to print:
//! a core stopped in the middle of a line leaves that line unpublished and every other line
//! flows on. A core that is about to stop (a panic, an exception at EL1) takes the emergency
//! path instead ([`ConsoleGate`]): it claims one atomic flag and writes its line to the UART
//! itself, so its last words come out even when the owner is the core that died.
//!
//! Memory ordering (each ring has one writer, its core, and one reader, the owner):
//!
//! - The writer fills a slot (stamp, length, bytes) with relaxed stores, then stores the ring's
//!   `written` count with release; the owner loads `written` with acquire before it reads the
//!   slot, so it sees the whole line or nothing of it.
//! - The owner reads the slot, then stores `consumed` with release; the writer loads
//!   `consumed` with acquire before it reuses the slot, so it never overwrites a line still
//!   being read.
//! - The writer's and the owner's counters sit in different cache lines (one writer per line).
//!
//! The shared region is Normal Write-Back Inner Shareable memory on every core that maps it
//! (the physmap's RAM attributes; cores run in one Inner Shareable domain), so these
//! acquire/release pairs need no cache maintenance.
//!
//! Under `--cfg loom` the atomics are loom's (and a ring has 2 slots), so the models in
//! `tests/loom.rs` check this very code.

#[cfg(not(loom))]
use core::sync::atomic::{fence, AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicU64, Ordering};

use crate::linebuf::LINE_CAPACITY;

/// Lines one ring holds before its writer must wait for the owner.
#[cfg(not(loom))]
pub const RING_SLOTS: u64 = 64;
/// Lines one ring holds (a small ring for the loom models, which must wrap it).
#[cfg(loom)]
pub const RING_SLOTS: u64 = 2;
const WORDS: usize = LINE_CAPACITY / 8;

/// One line in a ring: the counter value when it was written (the owner's merge key), its
/// length and its bytes (as words: everything in the shared region is atomics).
#[repr(C, align(64))]
struct Slot {
    stamp: AtomicU64,
    len: AtomicU64,
    words: [AtomicU64; WORDS],
}

/// The writer's cache line: lines published, lines dropped because the ring was full.
#[repr(C, align(64))]
struct WriterSide {
    written: AtomicU64,
    dropped: AtomicU64,
}

/// The owner's cache line: lines taken out.
#[repr(C, align(64))]
struct ReaderSide {
    consumed: AtomicU64,
}

/// One core's console lines on their way to the owner. All-zero is an empty ring (the stub
/// zeroes the shared region).
#[repr(C)]
pub struct LogRing {
    writer: WriterSide,
    reader: ReaderSide,
    slots: [Slot; RING_SLOTS as usize],
}

impl Slot {
    fn new() -> Self {
        Slot {
            stamp: AtomicU64::new(0),
            len: AtomicU64::new(0),
            words: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl LogRing {
    /// An empty ring (the same as all-zero memory, which is how the shared region's rings
    /// start; the cores never build one, the host tests and models do).
    pub fn new() -> Self {
        LogRing {
            writer: WriterSide { written: AtomicU64::new(0), dropped: AtomicU64::new(0) },
            reader: ReaderSide { consumed: AtomicU64::new(0) },
            slots: core::array::from_fn(|_| Slot::new()),
        }
    }
}

impl Default for LogRing {
    fn default() -> Self {
        Self::new()
    }
}

/// The ring has no free slot: the owner has not taken the oldest lines out yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

impl LogRing {
    /// Bytes of one ring.
    pub const BYTES: u64 = core::mem::size_of::<LogRing>() as u64;

    /// Appends `line` (cut to [`LINE_CAPACITY`] bytes) with its `stamp`; only the ring's own
    /// core calls this. `before_publish` runs after the slot is written and before the line
    /// is published (a test stops a core there; everyone else passes a no-op).
    pub fn push_with(&self, stamp: u64, line: &[u8], before_publish: impl FnOnce()) -> Result<(), Full> {
        let written = self.writer.written.load(Ordering::Relaxed);
        // Acquire: the owner's reads of the slot this reuses happened before its `consumed` store.
        let consumed = self.reader.consumed.load(Ordering::Acquire);
        if written.wrapping_sub(consumed) >= RING_SLOTS {
            return Err(Full);
        }
        let slot = &self.slots[(written % RING_SLOTS) as usize];
        let len = line.len().min(LINE_CAPACITY);
        slot.stamp.store(stamp, Ordering::Relaxed);
        slot.len.store(len as u64, Ordering::Relaxed);
        for (word, chunk) in slot.words.iter().zip(line[..len].chunks(8)) {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            word.store(u64::from_le_bytes(bytes), Ordering::Relaxed);
        }
        before_publish();
        // Release: the slot's stores above are visible to whoever sees the new count.
        self.writer.written.store(written.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Appends `line`; see [`LogRing::push_with`].
    pub fn push(&self, stamp: u64, line: &[u8]) -> Result<(), Full> {
        self.push_with(stamp, line, || {})
    }

    /// Counts one line its core threw away because the ring stayed full; only the ring's own
    /// core calls this. The owner reports the count.
    pub fn count_drop(&self) {
        let dropped = self.writer.dropped.load(Ordering::Relaxed);
        self.writer.dropped.store(dropped + 1, Ordering::Relaxed);
    }

    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.writer.dropped.load(Ordering::Relaxed)
    }

    /// Lines taken out so far (the writer waits on this while the ring is full).
    pub fn consumed(&self) -> u64 {
        self.reader.consumed.load(Ordering::Acquire)
    }

    /// The stamp of the oldest line not yet taken out; only the ring's reader calls this.
    pub fn oldest_stamp(&self) -> Option<u64> {
        // Acquire: the emergency path may have been the reader last (see `pop`).
        let consumed = self.reader.consumed.load(Ordering::Acquire);
        // Acquire: pairs with the writer's release of `written`; the slot is complete.
        let written = self.writer.written.load(Ordering::Acquire);
        (consumed != written)
            .then(|| self.slots[(consumed % RING_SLOTS) as usize].stamp.load(Ordering::Relaxed))
    }

    /// Takes the oldest line out into `out` and returns its length; only the ring's reader
    /// calls this (the owner, or the ring's own core on the emergency path while the owner is
    /// kept out by the [`ConsoleGate`]).
    pub fn pop(&self, out: &mut [u8; LINE_CAPACITY]) -> Option<usize> {
        // Acquire: a reader before this one (the owner or the emergency path) released it.
        let consumed = self.reader.consumed.load(Ordering::Acquire);
        let written = self.writer.written.load(Ordering::Acquire);
        if consumed == written {
            return None;
        }
        let slot = &self.slots[(consumed % RING_SLOTS) as usize];
        let len = (slot.len.load(Ordering::Relaxed) as usize).min(LINE_CAPACITY);
        for (chunk, word) in out[..len].chunks_mut(8).zip(&slot.words) {
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes()[..chunk.len()]);
        }
        // Release: the reads above are done before the writer may reuse the slot.
        self.reader.consumed.store(consumed.wrapping_add(1), Ordering::Release);
        Some(len)
    }
}

/// Who may write to the UART right now besides the owner's draining: one cache line the owner
/// writes (`draining`, set while it writes a line) and one any core may claim (`emergency`,
/// the index plus one of the core on the emergency path). Each side writes its flag, then a
/// sequentially consistent fence (`dmb ish` on AArch64), then reads the other's flag
/// (Dekker's handshake): with a fence between each side's store and load, at least one of the
/// two sees the other's flag, so the owner and an emergency writer never write a line at the
/// same time, and neither ever waits for the other without a bound. The flags' release stores
/// (`end_line`, `release_emergency`) and acquire loads also order each side's use of a ring
/// before the other's.
#[repr(C)]
pub struct ConsoleGate {
    draining: GateLine,
    emergency: GateLine,
}

#[repr(C, align(64))]
struct GateLine(AtomicU64);

impl ConsoleGate {
    /// An idle gate (the same as all-zero memory).
    pub fn new() -> Self {
        ConsoleGate { draining: GateLine(AtomicU64::new(0)), emergency: GateLine(AtomicU64::new(0)) }
    }
}

impl Default for ConsoleGate {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsoleGate {
    /// Bytes of the gate.
    pub const BYTES: u64 = core::mem::size_of::<ConsoleGate>() as u64;

    /// The owner, before writing one line: false (and nothing claimed) while a core is on the
    /// emergency path.
    pub fn begin_line(&self) -> bool {
        self.draining.0.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if self.emergency.0.load(Ordering::Acquire) != 0 {
            self.draining.0.store(0, Ordering::Release);
            return false;
        }
        true
    }

    /// The owner, after writing the line [`ConsoleGate::begin_line`] allowed.
    pub fn end_line(&self) {
        self.draining.0.store(0, Ordering::Release);
    }

    /// Whether the owner is writing a line now (after [`ConsoleGate::claim_emergency`]).
    pub fn owner_writing(&self) -> bool {
        self.draining.0.load(Ordering::Acquire) != 0
    }

    /// Core `core`, about to stop: claims the emergency path; false while another core has it.
    pub fn claim_emergency(&self, core: u64) -> bool {
        let claimed =
            self.emergency.0.compare_exchange(0, core + 1, Ordering::Acquire, Ordering::Relaxed).is_ok();
        if claimed {
            fence(Ordering::SeqCst); // between this store and the load of `draining`
        }
        claimed
    }

    /// Core `to` takes the emergency flag over from core `from`, which the other cores agreed
    /// has failed while holding it (a core that took the console over and then failed); false
    /// if `from` does not hold it.
    pub fn steal_emergency(&self, from: u64, to: u64) -> bool {
        let stolen =
            self.emergency.0.compare_exchange(from + 1, to + 1, Ordering::AcqRel, Ordering::Relaxed).is_ok();
        if stolen {
            fence(Ordering::SeqCst);
        }
        stolen
    }

    /// Whether core `core` holds the emergency flag.
    pub fn held_by(&self, core: u64) -> bool {
        self.emergency.0.load(Ordering::Acquire) == core + 1
    }

    /// Gives the emergency path back (after its line is out).
    pub fn release_emergency(&self) {
        self.emergency.0.store(0, Ordering::Release);
    }
}

/// One line for the UART from [`drain`]: whose it is and its bytes (ending in a newline).
pub struct DrainedLine<'a> {
    /// The core that wrote it.
    pub core: usize,
    /// The line.
    pub bytes: &'a [u8],
}

/// What the owner remembers between drains: the drop count of each ring it has reported.
#[derive(Debug)]
pub struct DrainState<const CORES: usize> {
    reported_drops: [u64; CORES],
}

impl<const CORES: usize> DrainState<CORES> {
    /// Nothing reported yet.
    pub const fn new() -> Self {
        DrainState { reported_drops: [0; CORES] }
    }
}

impl<const CORES: usize> Default for DrainState<CORES> {
    fn default() -> Self {
        Self::new()
    }
}

/// Which of `rings` holds the oldest line (by stamp), if any holds one.
pub fn oldest(rings: &[&LogRing]) -> Option<usize> {
    rings
        .iter()
        .enumerate()
        .filter_map(|(core, ring)| ring.oldest_stamp().map(|stamp| (stamp, core)))
        .min()
        .map(|(_, core)| core)
}

/// The owner's drain: moves every line now in `rings` to `write`, oldest stamp first across
/// the rings (lines of one core stay in their order), at most [`RING_SLOTS`] per ring so a
/// core that never stops printing cannot keep the owner here. A ring whose drop count grew
/// gets a line saying so, in place of the lines lost. Stops early (returning false) when the
/// gate says a core is on the emergency path; returns true when it went through.
pub fn drain<const CORES: usize>(
    rings: &[&LogRing],
    gate: &ConsoleGate,
    state: &mut DrainState<CORES>,
    write: impl FnMut(DrainedLine<'_>),
) -> bool {
    drain_lines(rings, state, || gate.begin_line(), || gate.end_line(), write)
}

/// [`drain`] for core `me`, which holds the gate's emergency flag for good: the core that took
/// the console over when its owner failed (the old owner, were it still running, is kept out by
/// that flag). Before each line it checks that it still holds the flag: a core that took the
/// console over from it in turn ([`ConsoleGate::steal_emergency`]) stops it within one line.
pub fn drain_held<const CORES: usize>(
    rings: &[&LogRing],
    gate: &ConsoleGate,
    me: u64,
    state: &mut DrainState<CORES>,
    write: impl FnMut(DrainedLine<'_>),
) -> bool {
    drain_lines(rings, state, || gate.held_by(me), || {}, write)
}

fn drain_lines<const CORES: usize>(
    rings: &[&LogRing],
    state: &mut DrainState<CORES>,
    mut begin_line: impl FnMut() -> bool,
    mut end_line: impl FnMut(),
    mut write: impl FnMut(DrainedLine<'_>),
) -> bool {
    let mut buffer = [0u8; LINE_CAPACITY];
    let mut budget = RING_SLOTS * rings.len() as u64;
    while budget > 0 {
        budget -= 1;
        let Some(core) = oldest(rings) else { break };
        if !begin_line() {
            return false;
        }
        if let Some(len) = rings[core].pop(&mut buffer) {
            write(DrainedLine { core, bytes: &buffer[..len] });
        }
        end_line();
    }
    for (core, ring) in rings.iter().enumerate().take(CORES) {
        let dropped = ring.dropped();
        if dropped != state.reported_drops[core] {
            if !begin_line() {
                return false;
            }
            let mut line = crate::linebuf::LineBuffer::new();
            let lost = dropped - state.reported_drops[core];
            let _ = core::fmt::Write::write_fmt(
                &mut line,
                format_args!("core {core}: console: {lost} lines dropped (its log ring was full)"),
            );
            write(DrainedLine { core, bytes: line.finish() });
            state.reported_drops[core] = dropped;
            end_line();
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    fn ring() -> Box<LogRing> {
        Box::default()
    }

    fn gate() -> ConsoleGate {
        ConsoleGate::new()
    }

    #[test]
    fn lines_come_out_whole_oldest_stamp_first() {
        let (a, b) = (ring(), ring());
        a.push(10, b"a first\n").unwrap();
        b.push(5, b"b first\n").unwrap();
        a.push(20, b"a second\n").unwrap();
        b.push(30, b"b second\n").unwrap();
        let mut out = Vec::new();
        let mut state = DrainState::<2>::default();
        assert!(drain(&[&a, &b], &gate(), &mut state, |l| out.push((l.core, l.bytes.to_vec()))));
        let expected: Vec<(usize, Vec<u8>)> = vec![
            (1, b"b first\n".to_vec()),
            (0, b"a first\n".to_vec()),
            (0, b"a second\n".to_vec()),
            (1, b"b second\n".to_vec()),
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn a_full_ring_refuses_and_its_drops_are_reported_once() {
        let r = ring();
        for n in 0..RING_SLOTS {
            r.push(n, format!("line {n}\n").as_bytes()).unwrap();
        }
        assert_eq!(r.push(99, b"one too many\n"), Err(Full));
        r.count_drop();
        r.count_drop();
        let mut lines = Vec::new();
        let mut state = DrainState::<1>::default();
        drain(&[&r], &gate(), &mut state, |l| lines.push(String::from_utf8(l.bytes.to_vec()).unwrap()));
        assert_eq!(lines.len() as u64, RING_SLOTS + 1);
        assert_eq!(lines.last().unwrap(), "core 0: console: 2 lines dropped (its log ring was full)\n");
        lines.clear();
        r.push(100, b"after\n").unwrap();
        drain(&[&r], &gate(), &mut state, |l| lines.push(String::from_utf8(l.bytes.to_vec()).unwrap()));
        assert_eq!(lines, ["after\n"]);
    }

    #[test]
    fn a_line_never_published_holds_nobody_up() {
        let (stalled, other) = (ring(), ring());
        stalled.push(1, b"published\n").unwrap();
        // The writer stops between writing the slot and publishing it: the "stop" here is a
        // panic caught below, after which the ring's core never touches the ring again.
        let half = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = stalled.push_with(2, b"half written\n", || panic!("core stops"));
        }));
        assert!(half.is_err());
        other.push(3, b"other core\n").unwrap();
        let mut out = Vec::new();
        drain(&[&stalled, &other], &gate(), &mut DrainState::<2>::default(), |l| out.push(l.bytes.to_vec()));
        assert_eq!(out, [b"published\n".to_vec(), b"other core\n".to_vec()]);
    }

    #[test]
    fn the_owner_stops_draining_while_a_core_is_on_the_emergency_path() {
        let r = ring();
        r.push(1, b"waits\n").unwrap();
        let g = gate();
        assert!(g.claim_emergency(3));
        assert!(!g.claim_emergency(4), "one emergency writer at a time");
        let mut out = 0;
        assert!(!drain(&[&r], &g, &mut DrainState::<1>::default(), |_| out += 1));
        assert_eq!(out, 0);
        g.release_emergency();
        assert!(drain(&[&r], &g, &mut DrainState::<1>::default(), |_| out += 1));
        assert_eq!(out, 1);
    }

    #[test]
    fn a_core_that_took_the_console_over_drains_and_the_old_owner_drains_nothing() {
        let (old_owner, other) = (ring(), ring());
        old_owner.push(1, b"the owner's last line\n").unwrap();
        other.push(2, b"printed after the owner failed\n").unwrap();
        let g = gate();
        // The successor holds the emergency flag for good.
        assert!(g.claim_emergency(1));
        assert!(!g.owner_writing());
        let mut old = 0;
        assert!(!drain(&[&old_owner, &other], &g, &mut DrainState::<2>::default(), |_| old += 1));
        assert_eq!(old, 0, "the old owner, still running, takes no line");
        let mut out = Vec::new();
        assert!(drain_held(&[&old_owner, &other], &g, 1, &mut DrainState::<2>::default(), |l| {
            out.push((l.core, l.bytes.to_vec()))
        }));
        assert_eq!(
            out,
            [(0, b"the owner's last line\n".to_vec()), (1, b"printed after the owner failed\n".to_vec())]
        );
        assert!(!g.claim_emergency(2), "another core's emergency line goes into its ring instead");
        // The successor fails in turn: core 3 takes the flag from it, and core 1 drains no more.
        other.push(3, b"after the successor failed\n").unwrap();
        assert!(!g.steal_emergency(2, 3), "core 2 does not hold it");
        assert!(g.steal_emergency(1, 3));
        let mut by_core_1 = 0;
        assert!(
            !drain_held(&[&old_owner, &other], &g, 1, &mut DrainState::<2>::default(), |_| by_core_1 += 1)
        );
        assert_eq!(by_core_1, 0);
        let mut by_core_3 = Vec::new();
        assert!(drain_held(&[&old_owner, &other], &g, 3, &mut DrainState::<2>::default(), |l| {
            by_core_3.push(l.bytes.to_vec())
        }));
        assert_eq!(by_core_3, [b"after the successor failed\n".to_vec()]);
    }

    /// The owner and a core on the emergency path, each on its own thread, never write to the
    /// "UART" at the same time: the gate's handshake (each side's flag store, then its load of
    /// the other's, sequentially consistent) lets at most one through.
    #[test]
    fn the_gate_never_lets_the_owner_and_an_emergency_writer_write_at_once() {
        const ROUNDS: u32 = 1_000_000;
        let gate = Arc::new(ConsoleGate::new());
        let start = Arc::new(std::sync::Barrier::new(2));
        let uart_busy = Arc::new(AtomicBool::new(false));
        let write = |uart_busy: &AtomicBool, who: &str| {
            assert!(!uart_busy.swap(true, Ordering::Relaxed), "{who} writes while the other one does");
            std::hint::spin_loop();
            uart_busy.store(false, Ordering::Relaxed);
        };
        let owner = {
            let (gate, uart_busy, start) = (Arc::clone(&gate), Arc::clone(&uart_busy), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..ROUNDS {
                    if gate.begin_line() {
                        write(&uart_busy, "the owner");
                        gate.end_line();
                    }
                }
            })
        };
        start.wait();
        for _ in 0..ROUNDS {
            if gate.claim_emergency(1) {
                while gate.owner_writing() {
                    std::hint::spin_loop();
                }
                write(&uart_busy, "the emergency writer");
                gate.release_emergency();
            }
        }
        owner.join().unwrap();
    }

    /// Three writers and the owner on their own threads: every line that was not dropped
    /// arrives whole, each core's lines in order, and drops are counted, never lost silently.
    #[test]
    fn concurrent_writers_and_owner_keep_lines_whole_and_in_order() {
        const CORES: usize = 3;
        const LINES: u64 = 2000;
        let rings: Arc<Vec<Box<LogRing>>> = Arc::new((0..CORES).map(|_| ring()).collect());
        let done = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..CORES)
            .map(|core| {
                let rings = Arc::clone(&rings);
                std::thread::spawn(move || {
                    for n in 0..LINES {
                        let line = format!("core {core} line {n} {}\n", "x".repeat((n % 200) as usize));
                        if rings[core].push(n, line.as_bytes()).is_err() {
                            rings[core].count_drop();
                        }
                    }
                })
            })
            .collect();
        let owner = {
            let (rings, done) = (Arc::clone(&rings), Arc::clone(&done));
            std::thread::spawn(move || {
                let gate = gate();
                let mut state = DrainState::<CORES>::default();
                let mut next = [0u64; CORES];
                let mut reported = [0u64; CORES];
                let mut delivered = [0u64; CORES];
                let refs: Vec<&LogRing> = rings.iter().map(|r| &**r).collect();
                loop {
                    let finished = done.load(Ordering::Acquire);
                    drain(&refs, &gate, &mut state, |l| {
                        let text = std::str::from_utf8(l.bytes).unwrap();
                        if let Some(rest) = text.strip_prefix(&format!("core {}: console: ", l.core)) {
                            reported[l.core] += rest.split(' ').next().unwrap().parse::<u64>().unwrap();
                            return;
                        }
                        let mut words = text.split(' ');
                        assert_eq!(words.next(), Some("core"));
                        assert_eq!(words.next().unwrap().parse::<usize>().unwrap(), l.core);
                        assert_eq!(words.next(), Some("line"));
                        let n: u64 = words.next().unwrap().parse().unwrap();
                        assert!(n >= next[l.core], "core {} went back from {} to {n}", l.core, next[l.core]);
                        let filler = words.next().unwrap();
                        assert_eq!(filler, format!("{}\n", "x".repeat((n % 200) as usize)), "a torn line");
                        next[l.core] = n + 1;
                        delivered[l.core] += 1;
                    });
                    if finished {
                        break;
                    }
                }
                (delivered, reported)
            })
        };
        writers.into_iter().for_each(|w| w.join().unwrap());
        done.store(true, Ordering::Release);
        let (delivered, reported) = owner.join().unwrap();
        for core in 0..CORES {
            let dropped = rings[core].dropped();
            assert_eq!(reported[core], dropped, "core {core}: every drop reported");
            assert_eq!(delivered[core] + dropped, LINES, "core {core}: every line delivered or counted");
        }
    }
}
