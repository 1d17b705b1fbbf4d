//! This core's console, with no cross-core lock. Every core formats a whole line and puts it
//! into its own log ring in the shared region (`cpu_driver::log_ring`); the boot core is the
//! console owner and moves every ring's lines to the UART, oldest first: after each line of
//! its own, whenever its scheduler is idle or takes an interrupt, and at least every
//! [`DRAIN_PERIOD_US`] (its timer, [`drain_deadline`]). A core that is about to stop (a panic,
//! an exception at EL1) writes its last line itself ([`emergency_line`]): it claims the
//! console gate's emergency flag, waits a bounded time for the owner to finish the line it is
//! writing, flushes its own ring and writes to the UART. No path waits for another core
//! without a bound, so a core stopped anywhere, even in the middle of a line, blocks no one.
//!
//! When the owner fails after boot, another core's monitor (on its Kernel capability) makes
//! its kernel the owner ([`take_over`]): that core claims the emergency flag for good, which
//! keeps the old owner out of the rings should it still run, and drains them from then on.

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cpu_driver::arch::aarch64::cpu;
use cpu_driver::arch::aarch64::uart::Uart;
use cpu_driver::boot_record::{ConsoleConfig, MAX_CORES};
use cpu_driver::input_line::{InputLine, Refused};
use cpu_driver::layout::phys_to_virt;
use cpu_driver::linebuf::{LineBuffer, LINE_CAPACITY};
use cpu_driver::log_ring::{self, ConsoleGate, DrainState, LogRing};
use cpu_driver::shared_region::SharedRegion;
use spin::{Mutex, Once};

/// The owner drains the rings at least this often, even while its dispatchers compute.
pub const DRAIN_PERIOD_US: u64 = 2_000;
/// How long a core whose ring is full waits for the owner to take lines out before it drops
/// the line (longer than a 256-byte line takes at 115200 baud, 22 ms, several times over).
const FULL_RING_WAIT_US: u64 = 100_000;
/// How long the emergency path waits for another core's emergency line, or for the owner to
/// end the line it is writing.
const EMERGENCY_WAIT_US: u64 = 100_000;

struct Console {
    uart: Uart,
    core: u64,
    owner: bool,
    region: SharedRegion,
    ring: &'static LogRing,
    gate: &'static ConsoleGate,
}

static CONSOLE: Once<Console> = Once::new();
/// The owner's memory of reported drops; `try_lock` only, so a fault inside a drain that
/// reaches the emergency path does not drain again.
static DRAIN: Mutex<DrainState<MAX_CORES>> = Mutex::new(DrainState::new());
/// The line being typed at the console, on the owner (`input_line`); `try_lock` only, as
/// [`DRAIN`].
static INPUT_LINE: Mutex<InputLine> = Mutex::new(InputLine::new());
/// One more than the ring's `consumed` count when this core last gave up waiting for room (the
/// owner made no progress for [`FULL_RING_WAIT_US`]): until the owner takes a line out, a
/// full ring drops at once instead of waiting again. 0: not given up.
static GAVE_UP_AT: AtomicU64 = AtomicU64::new(0);
/// This core took the console over from a failed owner ([`take_over`]) and holds the gate's
/// emergency flag for good.
static TAKEN_OVER: AtomicBool = AtomicBool::new(false);

/// Starts the console; the boot core becomes the owner.
pub fn init(config: &ConsoleConfig, region: SharedRegion, core: u64, owner: bool) {
    let uart = match phys_to_virt(config.base_pa) {
        // SAFETY: the physmap maps every non-RAM address as device memory, for good.
        // (Not programmed again: the stub set the UART up before any CPU driver ran.)
        Some(va) => unsafe { Uart::new(config, va, false) },
        None => Uart::none(),
    };
    let Some(ring) = region.log_ring(core) else { return };
    CONSOLE.call_once(|| Console { uart, core, owner, region, ring, gate: region.console_gate() });
}

fn ticks(microseconds: u64) -> u64 {
    cpu::counter_frequency() * microseconds / 1_000_000
}

/// Prints one line: into this core's ring (the owner then drains every ring).
pub fn print_line(args: core::fmt::Arguments<'_>) {
    let Some(console) = CONSOLE.get() else { return };
    let mut line = LineBuffer::new();
    let _ = line.write_fmt(args);
    console.put(line.finish(), || {});
    if console.owns() {
        drain();
    }
}

impl Console {
    /// Whether this core drains the rings: the boot core, or the one that took over.
    fn owns(&self) -> bool {
        self.owner || TAKEN_OVER.load(Ordering::Acquire)
    }

    /// Puts `bytes` into this core's ring, waiting a bounded time while it is full; a line
    /// that still finds no room is dropped and counted (the owner reports the count).
    fn put(&self, bytes: &[u8], before_publish: impl FnOnce() + Copy) {
        let push = || self.ring.push_with(cpu::counter(), bytes, before_publish).is_ok();
        if push() {
            return;
        }
        if self.owns() {
            drain();
            if !push() {
                self.ring.count_drop();
            }
            return;
        }
        let gave_up_at = GAVE_UP_AT.load(Ordering::Relaxed);
        if gave_up_at != 0 && gave_up_at == self.ring.consumed() + 1 {
            self.ring.count_drop(); // the owner still takes nothing out
            return;
        }
        let deadline = cpu::counter() + ticks(FULL_RING_WAIT_US);
        while cpu::counter() < deadline {
            core::hint::spin_loop();
            if push() {
                GAVE_UP_AT.store(0, Ordering::Relaxed);
                return;
            }
        }
        GAVE_UP_AT.store(self.ring.consumed() + 1, Ordering::Relaxed);
        self.ring.count_drop();
    }

    fn rings(&self) -> ([&'static LogRing; MAX_CORES], usize) {
        let mut rings = [self.ring; MAX_CORES];
        let count = (self.region.layout.core_count() as usize).min(MAX_CORES);
        for (core, slot) in rings.iter_mut().enumerate().take(count) {
            if let Some(ring) = self.region.log_ring(core as u64) {
                *slot = ring;
            }
        }
        (rings, count)
    }
}

/// On the owner: moves every line now in the rings to the UART, oldest first. Elsewhere, or
/// while the owner is already draining (a fault inside a drain), does nothing. A line being
/// typed ([`input_line`]) is taken off before the first line and drawn again after the last.
pub fn drain() {
    let Some(console) = CONSOLE.get().filter(|c| c.owns()) else { return };
    let Some(mut state) = DRAIN.try_lock() else { return };
    let (rings, count) = console.rings();
    let typing = INPUT_LINE.try_lock();
    let mut hidden = false;
    let write = |line: log_ring::DrainedLine<'_>| {
        if let Some(typing) = typing.as_ref().filter(|_| !hidden) {
            typing.hide(&mut |bytes| console.uart.write_bytes(bytes));
            hidden = true;
        }
        console.uart.write_bytes(line.bytes)
    };
    if TAKEN_OVER.load(Ordering::Acquire) {
        log_ring::drain_held(&rings[..count], console.gate, console.core, &mut state, write);
    } else {
        log_ring::drain(&rings[..count], console.gate, &mut state, write);
    }
    if let Some(typing) = typing.as_ref().filter(|_| hidden) {
        // Under the gate, as a line: an emergency writer waits for it like for any other.
        if console.gate.begin_line() {
            typing.redraw(&mut |bytes| console.uart.write_bytes(bytes));
            console.gate.end_line();
        }
    }
}

/// The line being typed on the console (see `cpu_driver::input_line`), on the owner only:
/// shows `text` with the cursor `cursor` bytes in, or with `enter` ends it (it stays, a new
/// line follows). Lines waiting in the rings are printed first, so the typing comes after
/// them. Refused (`Denied`) off the owner, or while another core holds the console's
/// emergency path.
pub fn input_line(text: &[u8], cursor: usize, enter: bool) -> Result<(), InputRefusal> {
    let console = CONSOLE.get().filter(|c| c.owns()).ok_or(InputRefusal::NotOwner)?;
    drain();
    let mut typing = INPUT_LINE.try_lock().ok_or(InputRefusal::NotOwner)?;
    if !console.gate.begin_line() {
        return Err(InputRefusal::NotOwner);
    }
    let mut out = |bytes: &[u8]| console.uart.write_bytes(bytes);
    let result = if enter {
        typing.update(text, cursor, &mut out).map(|()| typing.enter(&mut out))
    } else {
        typing.update(text, cursor, &mut out)
    };
    console.gate.end_line();
    result.map_err(InputRefusal::Line)
}

/// Why [`input_line`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputRefusal {
    /// This core does not own the console (or cannot write to it now).
    NotOwner,
    /// The line itself (`input_line::Refused`).
    Line(Refused),
}

/// Makes this core the console's owner because the owner failed (its monitor asks, on the
/// Kernel capability, once the survivors agreed the owner is gone): claims the gate's
/// emergency flag for good (waiting a bounded time for another core's emergency line), or
/// takes it from `failed`, a core that had taken the console over and failed in turn (then
/// waits a bounded time, so that its kernel, were it still running, ends the one line it may
/// have begun), waits a bounded time for the boot core to end the line it may be writing (a
/// core that stopped mid-line gets its line ended here), then drains. False if the flag could
/// not be had.
pub fn take_over(failed: Option<u64>) -> bool {
    let Some(console) = CONSOLE.get() else { return false };
    if TAKEN_OVER.load(Ordering::Acquire) || (console.owner && failed.is_none()) {
        return true;
    }
    let gate = console.gate;
    let mut stolen = false;
    let claimed = wait_bounded(EMERGENCY_WAIT_US, || {
        stolen = failed.is_some_and(|from| gate.steal_emergency(from, console.core));
        stolen || gate.claim_emergency(console.core)
    });
    if !claimed {
        return false;
    }
    if stolen {
        wait_bounded(EMERGENCY_WAIT_US, || false);
    }
    if !wait_bounded(EMERGENCY_WAIT_US, || !gate.owner_writing()) {
        console.uart.write_bytes(b"\n");
    }
    TAKEN_OVER.store(true, Ordering::Release);
    drain();
    true
}

/// On the owner, the counter value by which it must drain again (its scheduler sleeps and
/// runs dispatchers no longer than that); `None` on the other cores.
pub fn drain_deadline() -> Option<u64> {
    CONSOLE.get().filter(|c| c.owns()).map(|_| cpu::counter() + ticks(DRAIN_PERIOD_US))
}

/// Waits up to `microseconds` for `done`; whether it came.
fn wait_bounded(microseconds: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = cpu::counter() + ticks(microseconds);
    loop {
        if done() {
            return true;
        }
        if cpu::counter() >= deadline {
            return false;
        }
        core::hint::spin_loop();
    }
}

/// The last line of a core that is about to stop, written to the UART by the core itself so
/// that it comes out even when the owner is dead (or is this core). On the owner, a last
/// drain of every ring comes first. Every wait is bounded; a line that cannot take the
/// emergency path in time goes into the ring like any other.
pub fn emergency_line(args: core::fmt::Arguments<'_>) {
    let Some(console) = CONSOLE.get() else { return };
    let mut line = LineBuffer::new();
    let _ = line.write_fmt(args);
    let bytes = line.finish();
    if console.owns() {
        drain();
    }
    if TAKEN_OVER.load(Ordering::Acquire) {
        console.uart.write_bytes(bytes); // this core holds the flag: no one else writes
        return;
    }
    let gate = console.gate;
    if !wait_bounded(EMERGENCY_WAIT_US, || gate.claim_emergency(console.core)) {
        console.put(bytes, || {});
        return;
    }
    if console.owner {
        if gate.owner_writing() {
            console.uart.write_bytes(b"\n"); // this core stopped half-way through a line
        }
    } else if wait_bounded(EMERGENCY_WAIT_US, || !gate.owner_writing()) {
        // The owner is kept out of the rings until the gate is released: this core may take
        // its own earlier lines out itself, so they precede its last one.
        let mut buffer = [0u8; LINE_CAPACITY];
        while let Some(len) = console.ring.pop(&mut buffer) {
            console.uart.write_bytes(&buffer[..len]);
        }
    }
    console.uart.write_bytes(bytes);
    gate.release_emergency();
}

/// Before the run ends from this core: every line the rings hold goes to the UART. On the
/// owner that is a drain; elsewhere (the run ended by another core because the owner failed)
/// this core claims the gate's emergency flag, which keeps the owner out of the rings, and
/// takes the lines out itself, oldest first. Every wait is bounded; if the gate cannot be had,
/// nothing is printed.
pub fn last_drain() {
    let Some(console) = CONSOLE.get() else { return };
    if console.owns() {
        drain();
        return;
    }
    let gate = console.gate;
    if !wait_bounded(EMERGENCY_WAIT_US, || gate.claim_emergency(console.core)) {
        return;
    }
    if wait_bounded(EMERGENCY_WAIT_US, || !gate.owner_writing()) {
        let (rings, count) = console.rings();
        let mut buffer = [0u8; LINE_CAPACITY];
        for _ in 0..log_ring::RING_SLOTS * count as u64 {
            let Some(core) = log_ring::oldest(&rings[..count]) else { break };
            if let Some(len) = rings[core].pop(&mut buffer) {
                console.uart.write_bytes(&buffer[..len]);
            }
        }
    }
    gate.release_emergency();
}

/// For the `console-stall-test`: this core stops for good half-way through putting `args`
/// into its ring (the slot written, the line not yet published), with interrupts masked.
pub fn stall_mid_line(args: core::fmt::Arguments<'_>) -> ! {
    if let Some(console) = CONSOLE.get() {
        let mut line = LineBuffer::new();
        let _ = line.write_fmt(args);
        console.put(line.finish(), || cpu::halt());
    }
    cpu::halt()
}

/// `println!` for the CPU driver.
macro_rules! kprintln {
    ($($arg:tt)*) => { $crate::console::print_line(format_args!($($arg)*)) };
}
pub(crate) use kprintln;

/// The last words of a core about to stop (see [`emergency_line`]).
macro_rules! kprintln_emergency {
    ($($arg:tt)*) => { $crate::console::emergency_line(format_args!($($arg)*)) };
}
pub(crate) use kprintln_emergency;
