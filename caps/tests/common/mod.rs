//! A small capability space shared by the tests: a root CNode held by the kernel, one level-2
//! CNode of 256 slots in root slot 0, and 1 MiB of RAM in its slot 0.
#![allow(dead_code)]

use caps::{CSpace, CapAddr, CapType, Capability, CoreCapabilities, HeldSlot, Retype, PAGE_SIZE};

pub const RAM_BASE: u64 = 0x4000_0000;
pub const RAM_SIZE: u64 = 1 << 20;
pub const RAM: CapAddr = CapAddr::leaf(0, 0);

pub struct Fixture {
    pub caps: CoreCapabilities,
    pub root: HeldSlot,
    pub cspace: CSpace,
}

pub fn fixture() -> Fixture {
    fixture_with_ram(RAM_SIZE)
}

pub fn fixture_with_ram(ram_size: u64) -> Fixture {
    build(CoreCapabilities::new(), ram_size)
}

/// As [`fixture_with_ram`], on a core limited to `limit` units of capabilities
/// ([`CoreCapabilities::usage`]); the fixture itself takes [`FIXTURE_USAGE`] of them.
pub fn fixture_with_limit(ram_size: u64, limit: usize) -> Fixture {
    build(CoreCapabilities::with_limit(limit), ram_size)
}

/// Units of the limit the fixture takes: the root CNode (capability and table), the level-2
/// CNode (capability, table, root slot 0) and the RAM (capability, level-2 slot 0).
pub const FIXTURE_USAGE: usize = 7;

fn build(mut caps: CoreCapabilities, ram_size: u64) -> Fixture {
    // The CNodes come from memory below the RAM, as a kernel makes its first dispatcher's.
    let root =
        caps.create_held_root(Capability::memory(CapType::CNode, 0x1000_0000, PAGE_SIZE).unwrap()).unwrap();
    let cspace = caps.cspace_of_held(root).unwrap();
    let level2 = Capability::memory(CapType::CNode, 0x1000_4000, 4 * PAGE_SIZE).unwrap();
    caps.create_root(level2, cspace.slot(CapAddr::level1(0))).unwrap();
    caps.create_root(Capability::ram(RAM_BASE, ram_size).unwrap(), cspace.slot(RAM)).unwrap();
    Fixture { caps, root, cspace }
}

/// Slot `slot` of the level-2 CNode.
pub fn leaf(slot: u8) -> CapAddr {
    CapAddr::leaf(0, slot)
}

/// `count` Frames of `pages_each` pages from page `offset_pages` on.
pub fn frames(offset_pages: u64, pages_each: u64, count: u64) -> Retype {
    Retype {
        kind: CapType::Frame,
        offset: offset_pages * PAGE_SIZE,
        object_size: pages_each * PAGE_SIZE,
        count,
    }
}
