//! Heap bytes per unit of [`CoreCapabilities::usage`], measured with a counting allocator, for
//! the shapes a program can build: copies of one capability, distinct one-page Frames (one
//! range-tree node each), Endpoints with distinct badges, and CNodes (a table each). A CPU
//! driver divides its heap by this figure to choose its limit
//! (`cpu-driver/src/bin/kernel/capabilities.rs`, `CAPABILITY_LIMIT`), so the test fails if a
//! shape costs more than [`BYTES_PER_UNIT_BOUND`] held plus the transient peak of revoking
//! everything at once.
//!
//! Measured (x86-64 host, 64-bit like AArch64; `cargo test -p caps --test heap_per_capability
//! -- --nocapture`): copies 73 bytes per unit held, distinct Frames 166, Endpoints 73, CNodes
//! 151; a revoke of everything peaks at 39 to 59 bytes per unit more. Worst: 166 + 59 = 225.
//!
//! One test function only: the counter is global, and tests of one binary run in parallel.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use caps::{CapAddr, CapType, Retype, PAGE_SIZE};
use common::{fixture_with_ram, Fixture, RAM};

/// The bound the kernel's limit is computed with (keep equal to
/// `capabilities::BYTES_PER_CAPABILITY_UNIT` in the CPU driver): held plus revoke peak.
const BYTES_PER_UNIT_BOUND: isize = 256;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed) + layout.size() as isize;
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: as the caller promised for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = new_size as isize - layout.size() as isize;
        let live = LIVE.fetch_add(grown, Ordering::Relaxed) + grown;
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: as the caller promised.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Level-2 CNodes of 256 slots in root slots 1..=HOLDERS, from the start of the RAM.
const HOLDERS: u32 = 32;
const HOLDER_BYTES: u64 = 16 * 1024;
/// Where the objects a shape retypes start in the RAM (after the holders).
const OBJECTS_OFFSET: u64 = HOLDERS as u64 * HOLDER_BYTES;

fn holders(f: &mut Fixture) {
    let cnodes = Retype { kind: CapType::CNode, offset: 0, object_size: HOLDER_BYTES, count: HOLDERS.into() };
    f.caps.retype(f.cspace.slot(RAM), cnodes, f.cspace.slot(CapAddr::level1(1))).unwrap();
}

/// Fills every slot of every holder with what `make` puts at slot `n` (0, 1, ...); returns the
/// live heap bytes per unit of usage this added, and the peak while revoking it all, per unit.
fn measure(name: &str, make: impl Fn(&mut Fixture, u64, CapAddr)) -> (isize, isize) {
    let mut f = fixture_with_ram(64 << 20);
    holders(&mut f);
    let (bytes_before, usage_before) = (LIVE.load(Ordering::Relaxed), f.caps.usage());
    let mut n = 0;
    for holder in 1..=HOLDERS {
        for slot in 0..=u8::MAX {
            make(&mut f, n, CapAddr::leaf(holder as u16, slot));
            n += 1;
        }
    }
    let bytes = LIVE.load(Ordering::Relaxed) - bytes_before;
    let units = (f.caps.usage() - usage_before) as isize;
    // The transient peak of removing everything at once (the RAM's revoke lists every
    // capability removed).
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    let removal = f.caps.revoke(f.cspace.slot(RAM)).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - live;
    drop(removal);
    f.caps.check_consistency().unwrap();
    let usage = f.caps.usage() as isize;
    println!(
        "{name}: {units} units, {bytes} bytes, {} bytes per unit; revoke peaks {peak} bytes more, {} per unit of the {} held",
        bytes / units,
        peak / (units + usage_before as isize - usage),
        units + usage_before as isize,
    );
    (bytes / units, peak / units)
}

#[test]
fn heap_bytes_per_unit_stay_under_the_bound() {
    let copies = measure("copies of the RAM", |f, _, dest| {
        f.caps.copy(f.cspace.slot(RAM), f.cspace.slot(dest)).unwrap();
    });
    let frames = measure("distinct one-page Frames", |f, n, dest| {
        let frame = Retype {
            kind: CapType::Frame,
            offset: OBJECTS_OFFSET + n * PAGE_SIZE,
            object_size: PAGE_SIZE,
            count: 1,
        };
        f.caps.retype(f.cspace.slot(RAM), frame, f.cspace.slot(dest)).unwrap();
    });
    let endpoints = measure("Endpoints, one badge each", |f, n, dest| {
        if n == 0 {
            let dispatcher = Retype {
                kind: CapType::Dispatcher,
                offset: OBJECTS_OFFSET,
                object_size: PAGE_SIZE,
                count: 1,
            };
            f.caps.retype(f.cspace.slot(RAM), dispatcher, f.cspace.slot(dest)).unwrap();
        } else {
            let dispatcher = f.cspace.slot(CapAddr::leaf(1, 0));
            f.caps.create_endpoint(dispatcher, n, f.cspace.slot(dest)).unwrap();
        }
    });
    let cnodes = measure("4 KiB CNodes (a table each)", |f, n, dest| {
        let cnode = Retype {
            kind: CapType::CNode,
            offset: OBJECTS_OFFSET + n * PAGE_SIZE,
            object_size: PAGE_SIZE,
            count: 1,
        };
        f.caps.retype(f.cspace.slot(RAM), cnode, f.cspace.slot(dest)).unwrap();
    });
    for (held, revoke_peak) in [copies, frames, endpoints, cnodes] {
        assert!(held + revoke_peak <= BYTES_PER_UNIT_BOUND, "{held} + {revoke_peak} bytes per unit");
    }
}
