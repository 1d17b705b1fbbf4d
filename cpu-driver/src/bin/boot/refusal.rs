//! A boot the stub cannot carry on with ends here, never silently: the reason goes out on the
//! best console there is, then the machine is ended with a failure status where anything
//! offers one, powered off where only PSCI does, and otherwise the core parks, repeating the
//! reason so a terminal attached late still sees it.
//!
//! The console, best first: the one already started (the device tree's, found by
//! `skb::devices::console`: `stdout-path`, else `/aliases/serial0`, else the first UART);
//! else, if the blob is mapped, what [`skb::Rescue`] still reads from a tree the SKB refused;
//! else the build's fallback ([`cpu_driver::fallback_console`]).
//!
//! The ending, in order, each step tried once:
//!
//! 1. Semihosting `SYS_EXIT` with status 1: QEMU with `-semihosting-config enable=on` exits 1.
//!    Without semihosting the `HLT` is an undefined instruction; the exception comes back here
//!    (the stub's vectors call [`carry_on`] while a refusal is under way) and step 2 follows.
//! 2. PSCI `SYSTEM_OFF`, over the conduit the tree names or, for a tree that cannot be read,
//!    the one the entry level implies (`smc` when entered at EL2, where no hypervisor sits
//!    above, else `hvc`). QEMU then exits 0 (PSCI has no failure status: the console says it);
//!    firmware without PSCI takes the call as an undefined instruction, and step 3 follows.
//! 3. Park: every [`REPEAT_SECONDS`] the reason again, sleeping on the timer's event stream in
//!    between.
//!
//! Only the stub's core runs while it does, so the state is a few statics with no contention.
//! A refusal may come with the MMU off, where every data access is Device-nGnRnE and must be
//! aligned: the bare-metal target builds with `strict-align`, so formatting the reason makes
//! no unaligned access.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, Ordering};

use cpu_driver::arch::aarch64::psci::Conduit;
use cpu_driver::arch::aarch64::{cpu, semihosting};
use cpu_driver::fallback_console::FALLBACK;
use cpu_driver::linebuf::LineBuffer;
use spin::{Mutex, Once};

use crate::console::{self, stub_println};

/// Seconds between repeats of the reason once parked.
const REPEAT_SECONDS: u64 = 10;

/// No refusal under way.
const IDLE: u8 = 0;
/// The reason is being recorded and printed.
const TELLING: u8 = 1;
/// Semihosting's exit was tried.
const TRIED_SEMIHOSTING: u8 = 2;
/// PSCI `SYSTEM_OFF` was tried.
const TRIED_PSCI: u8 = 3;

/// How far the refusal got; a step that traps resumes after itself.
static STAGE: AtomicU8 = AtomicU8::new(IDLE);
/// The line printed, kept for the repeats.
static REASON: Mutex<LineBuffer> = Mutex::new(LineBuffer::new());
/// The device tree, once mapped and the heap is up (so [`skb::Rescue`] can read it).
static DTB: Once<&'static [u8]> = Once::new();
/// The PSCI conduit: the tree's once read, else the entry level's guess.
static CONDUIT: Once<Option<Conduit>> = Once::new();
/// The level the firmware entered the stub at.
static ENTRY_EL: AtomicU8 = AtomicU8::new(1);

/// Records the entry level (the conduit's guess while the tree is unread).
pub fn entered_at(el: u64) {
    ENTRY_EL.store(el.min(3) as u8, Ordering::Relaxed);
}

/// The device tree can be read from now on (mapped, heap up).
pub fn tree_readable(dtb: &'static [u8]) {
    DTB.call_once(|| dtb);
}

/// The conduit the device tree names (`None`: it names no PSCI), once the SKB read it.
pub fn conduit_known(conduit: Option<Conduit>) {
    CONDUIT.call_once(|| conduit);
}

/// Whether a refusal is under way (an exception or a panic must then carry it on).
pub fn under_way() -> bool {
    STAGE.load(Ordering::Relaxed) != IDLE
}

/// Says `boot stub: fatal: <reason>` and ends the run (see the module documentation).
pub fn refuse(reason: fmt::Arguments<'_>) -> ! {
    if STAGE.compare_exchange(IDLE, TELLING, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
        {
            let mut line = REASON.lock();
            let _ = write!(line, "boot stub: fatal: {reason}");
        }
        start_console();
        print_reason();
    }
    carry_on()
}

/// Takes the next step of the ending; called by [`refuse`] and, while a refusal is under way,
/// by the stub's exception vector and panic handler (a step that trapped).
pub fn carry_on() -> ! {
    loop {
        match STAGE.load(Ordering::Relaxed) {
            IDLE | TELLING => {
                STAGE.store(TRIED_SEMIHOSTING, Ordering::Relaxed);
                semihosting::exit(1);
            }
            TRIED_SEMIHOSTING => {
                STAGE.store(TRIED_PSCI, Ordering::Relaxed);
                if let Some(conduit) = conduit() {
                    let result = conduit.system_off();
                    stub_println!("boot stub: PSCI SYSTEM_OFF failed: {result:?}");
                }
            }
            _ => park(),
        }
    }
}

/// Starts a console if none is: what the mapped tree still names, else the build's fallback.
fn start_console() {
    if console::started() {
        return;
    }
    let from_tree = DTB.get().and_then(|dtb| skb::Rescue::from_dtb(dtb).console);
    let config = from_tree.map(|c| console::config_of(Some(&c))).or(FALLBACK).unwrap_or_default();
    console::init(&config);
}

fn conduit() -> Option<Conduit> {
    *CONDUIT.call_once(|| {
        let from_tree = DTB.get().map(|dtb| skb::Rescue::from_dtb(dtb).psci_conduit);
        match from_tree {
            Some(Some(skb::PsciConduit::Hvc)) => Some(Conduit::Hvc),
            Some(Some(skb::PsciConduit::Smc)) => Some(Conduit::Smc),
            Some(None) => None,
            None if ENTRY_EL.load(Ordering::Relaxed) >= 2 => Some(Conduit::Smc),
            None => Some(Conduit::Hvc),
        }
    })
}

fn print_reason() {
    match REASON.try_lock() {
        Some(line) => {
            stub_println!("{}", core::str::from_utf8(line.as_bytes()).unwrap_or("boot stub: fatal"))
        }
        // Held by a formatting that trapped: the reason is lost, not the fact.
        None => stub_println!("boot stub: fatal: (the reason could not be formatted)"),
    }
}

/// Repeats the reason every [`REPEAT_SECONDS`], asleep in between.
fn park() -> ! {
    let period = cpu::counter_frequency().max(1) * REPEAT_SECONDS;
    cpu::enable_event_stream();
    loop {
        stub_println!("boot stub: nothing could power this machine off; parked, repeating why:");
        print_reason();
        let until = cpu::counter().saturating_add(period);
        while cpu::counter() < until {
            cpu::wait_for_event();
        }
    }
}
