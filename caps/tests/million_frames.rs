//! "Allocate and free a million frames and nothing runs out": retype a Frame out of RAM,
//! delete it, a million times, at every offset of the RAM in turn; then the whole RAM must
//! still retype in one piece.

mod common;

use caps::{CapAddr, CapType, Retype, PAGE_SIZE};
use common::{fixture_with_ram, RAM, RAM_BASE};

const ROUNDS: u64 = 1_000_000;
const RAM_PAGES: u64 = 256;

#[test]
fn a_million_frames_come_and_go() {
    // (Run `cargo test -p caps --test million_frames -- --nocapture` to see the time.)
    let mut f = fixture_with_ram(RAM_PAGES * PAGE_SIZE);
    let ram = f.cspace.slot(RAM);
    let frame_slot = f.cspace.slot(CapAddr::leaf(0, 1));
    let start = std::time::Instant::now();
    for round in 0..ROUNDS {
        let offset = (round % RAM_PAGES) * PAGE_SIZE;
        let frame = Retype { kind: CapType::Frame, offset, object_size: PAGE_SIZE, count: 1 };
        let made = f.caps.retype(ram, frame, frame_slot).unwrap();
        assert_eq!(made.base, RAM_BASE + offset);
        let removal = f.caps.delete(frame_slot).unwrap();
        assert!(removal.removed.len() == 1 && removal.removed[0].last_copy);
        // The RAM still names the page: nothing is free for the kernel, all of it for retype.
        assert!(removal.unreferenced.is_empty());
    }
    eprintln!("{ROUNDS} retype/delete rounds took {:?}", start.elapsed());
    // Every page is retypable again: the whole RAM in one Frame, then (after a delete) in
    // 255 single pages plus one more Frame for the last page.
    let whole = Retype { kind: CapType::Frame, offset: 0, object_size: RAM_PAGES * PAGE_SIZE, count: 1 };
    assert_eq!(f.caps.retype(ram, whole, frame_slot).map(|r| r.size), Ok(RAM_PAGES * PAGE_SIZE));
    f.caps.delete(frame_slot).unwrap();
    let pages = Retype { kind: CapType::Frame, offset: 0, object_size: PAGE_SIZE, count: RAM_PAGES - 1 };
    assert!(f.caps.retype(ram, pages, frame_slot).is_ok());
    f.caps.check_consistency().unwrap();
    for slot in 1..RAM_PAGES {
        f.caps.delete(f.cspace.slot(CapAddr::leaf(0, slot as u8))).unwrap();
    }
    assert_eq!(f.caps.len(), 3);
    f.caps.check_consistency().unwrap();
}

/// The other pattern of use: many frames at once, then all deleted; a million frames in all.
#[test]
fn a_million_frames_in_batches() {
    let batch = 250;
    let mut f = fixture_with_ram(RAM_PAGES * PAGE_SIZE);
    let ram = f.cspace.slot(RAM);
    for round in 0..ROUNDS / batch {
        let offset = (round % 4) * PAGE_SIZE;
        let frames = Retype { kind: CapType::Frame, offset, object_size: PAGE_SIZE, count: batch };
        let made = f.caps.retype(ram, frames, f.cspace.slot(CapAddr::leaf(0, 1))).unwrap();
        assert_eq!(made, caps::Region { base: RAM_BASE + offset, size: batch * PAGE_SIZE });
        for slot in 1..=batch {
            let removal = f.caps.delete(f.cspace.slot(CapAddr::leaf(0, slot as u8))).unwrap();
            assert!(removal.removed[0].last_copy && removal.unreferenced.is_empty());
        }
    }
    assert_eq!(f.caps.len(), 3);
    f.caps.check_consistency().unwrap();
}
