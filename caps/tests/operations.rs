//! Each operation, and each way it can be refused, through the public interface a CPU driver's
//! system calls use.

mod common;

use caps::{
    CapAddr, CapError, CapType, Capability, CoreCapabilities, Region, Retype, Rights, PAGE_SIZE, SLOT_BYTES,
};
use common::{fixture, fixture_with_limit, frames, leaf, Fixture, FIXTURE_USAGE, RAM, RAM_BASE, RAM_SIZE};

impl Fixture {
    fn retype(&mut self, src: CapAddr, request: Retype, dest: CapAddr) -> Result<Region, CapError> {
        self.caps.retype(self.cspace.slot(src), request, self.cspace.slot(dest))
    }

    fn identify(&self, addr: CapAddr) -> Result<Capability, CapError> {
        self.caps.identify(self.cspace.slot(addr))
    }

    fn copy(&mut self, src: CapAddr, dest: CapAddr) -> Result<(), CapError> {
        self.caps.copy(self.cspace.slot(src), self.cspace.slot(dest))
    }

    fn mint(&mut self, src: CapAddr, dest: CapAddr, rights: Rights) -> Result<(), CapError> {
        self.caps.mint(self.cspace.slot(src), self.cspace.slot(dest), rights)
    }

    fn delete(&mut self, addr: CapAddr) -> Result<caps::Removal, CapError> {
        self.caps.delete(self.cspace.slot(addr))
    }

    fn revoke(&mut self, addr: CapAddr) -> Result<caps::Removal, CapError> {
        self.caps.revoke(self.cspace.slot(addr))
    }

    fn check(&self) {
        self.caps.check_consistency().unwrap();
    }
}

#[test]
fn retype_makes_frames_that_identify_as_asked() {
    let mut f = fixture();
    assert_eq!(
        f.retype(RAM, frames(2, 1, 3), leaf(1)),
        Ok(Region { base: RAM_BASE + 2 * PAGE_SIZE, size: 3 * PAGE_SIZE })
    );
    for i in 0..3u8 {
        let frame = f.identify(leaf(1 + i)).unwrap();
        assert_eq!(frame.kind(), CapType::Frame);
        assert_eq!(
            frame.region(),
            Some(Region { base: RAM_BASE + (2 + u64::from(i)) * PAGE_SIZE, size: PAGE_SIZE })
        );
        assert_eq!(frame.rights(), Rights::ALL);
    }
    assert_eq!(f.identify(leaf(4)), Err(CapError::EmptySlot));
    f.check();
}

#[test]
fn retype_makes_every_memory_type() {
    let mut f = fixture();
    let cases = [
        (CapType::Ram, 2 * PAGE_SIZE),
        (CapType::CNode, 4 * PAGE_SIZE),
        (CapType::VNodeL0, PAGE_SIZE),
        (CapType::VNodeL1, PAGE_SIZE),
        (CapType::VNodeL2, PAGE_SIZE),
        (CapType::VNodeL3, PAGE_SIZE),
        (CapType::Dispatcher, PAGE_SIZE),
    ];
    let mut offset = 0;
    for (slot, (kind, size)) in cases.into_iter().enumerate() {
        let request = Retype { kind, offset, object_size: size, count: 1 };
        assert!(f.retype(RAM, request, leaf(slot as u8 + 1)).is_ok(), "{kind:?}");
        assert_eq!(
            f.identify(leaf(slot as u8 + 1)).map(|c| (c.kind(), c.base())),
            Ok((kind, RAM_BASE + offset))
        );
        offset += 4 * PAGE_SIZE;
    }
    f.check();
}

#[test]
fn retype_refusals() {
    let mut f = fixture();
    // Type pairs.
    f.retype(RAM, frames(0, 2, 1), leaf(1)).unwrap();
    let cnode = Retype { kind: CapType::CNode, offset: 0, object_size: PAGE_SIZE, count: 1 };
    assert_eq!(f.retype(leaf(1), cnode, leaf(2)), Err(CapError::InvalidRetype));
    let endpoint = Retype { kind: CapType::Endpoint, offset: 0, object_size: PAGE_SIZE, count: 1 };
    assert_eq!(f.retype(RAM, endpoint, leaf(2)), Err(CapError::InvalidRetype));
    assert_eq!(f.retype(CapAddr::level1(0), frames(0, 1, 1), leaf(2)), Err(CapError::InvalidRetype));
    // Sizes and alignment.
    assert_eq!(
        f.retype(RAM, Retype { object_size: 100, ..frames(4, 1, 1) }, leaf(2)),
        Err(CapError::InvalidSize)
    );
    let big_vnode =
        Retype { kind: CapType::VNodeL3, offset: 4 * PAGE_SIZE, object_size: 2 * PAGE_SIZE, count: 1 };
    assert_eq!(f.retype(RAM, big_vnode, leaf(2)), Err(CapError::InvalidSize));
    let odd_cnode =
        Retype { kind: CapType::CNode, offset: 4 * PAGE_SIZE, object_size: 3 * PAGE_SIZE, count: 1 };
    assert_eq!(f.retype(RAM, odd_cnode, leaf(2)), Err(CapError::InvalidSize));
    let unaligned_cnode =
        Retype { kind: CapType::CNode, offset: 5 * PAGE_SIZE, object_size: 2 * PAGE_SIZE, count: 1 };
    assert_eq!(f.retype(RAM, unaligned_cnode, leaf(2)), Err(CapError::Misaligned));
    assert_eq!(
        f.retype(RAM, Retype { offset: 5 * PAGE_SIZE + 8, ..frames(0, 1, 1) }, leaf(2)),
        Err(CapError::Misaligned)
    );
    // The same type must shrink.
    assert_eq!(f.retype(leaf(1), frames(0, 2, 1), leaf(2)), Err(CapError::InvalidSize));
    // Bounds and counts.
    assert_eq!(f.retype(RAM, frames(0, 1, 0), leaf(2)), Err(CapError::InvalidArgument));
    assert_eq!(f.retype(RAM, frames(RAM_SIZE / PAGE_SIZE, 1, 1), leaf(2)), Err(CapError::OutOfBounds));
    assert_eq!(f.retype(RAM, frames(RAM_SIZE / PAGE_SIZE - 1, 2, 1), leaf(2)), Err(CapError::OutOfBounds));
    assert_eq!(f.retype(RAM, frames(4, 1, u64::MAX), leaf(2)), Err(CapError::OutOfBounds));
    assert_eq!(
        f.retype(RAM, Retype { offset: !0xfff, ..frames(0, 1, 1) }, leaf(2)),
        Err(CapError::OutOfBounds)
    );
    // Destinations: beyond the CNode, or occupied (and then nothing at all is made).
    assert_eq!(f.retype(RAM, frames(4, 1, 2), leaf(255)), Err(CapError::IndexOutOfRange));
    f.copy(RAM, leaf(3)).unwrap();
    assert_eq!(f.retype(RAM, frames(4, 1, 2), leaf(2)), Err(CapError::SlotOccupied));
    assert_eq!(f.identify(leaf(2)), Err(CapError::EmptySlot));
    // Rights: retype needs write.
    f.mint(RAM, leaf(4), Rights::READ).unwrap();
    assert_eq!(f.retype(leaf(4), frames(4, 1, 1), leaf(5)), Err(CapError::Denied));
    assert_eq!(f.caps.len(), 6);
    f.check();
}

#[test]
fn retyped_ranges_cannot_be_retyped_again_until_freed() {
    let mut f = fixture();
    f.retype(RAM, frames(4, 4, 1), leaf(1)).unwrap();
    // Any overlap with the frame is refused, from the RAM or from a copy of it.
    assert_eq!(f.retype(RAM, frames(4, 1, 1), leaf(2)), Err(CapError::AlreadyRetyped));
    assert_eq!(f.retype(RAM, frames(7, 1, 1), leaf(2)), Err(CapError::AlreadyRetyped));
    assert_eq!(f.retype(RAM, frames(0, 8, 1), leaf(2)), Err(CapError::AlreadyRetyped));
    f.copy(RAM, leaf(9)).unwrap();
    assert_eq!(f.retype(leaf(9), frames(6, 1, 1), leaf(2)), Err(CapError::AlreadyRetyped));
    // Nested: a RAM child, itself retyped: its parent still refuses the whole range.
    f.retype(
        RAM,
        Retype { kind: CapType::Ram, offset: 16 * PAGE_SIZE, object_size: 16 * PAGE_SIZE, count: 1 },
        leaf(3),
    )
    .unwrap();
    f.retype(leaf(3), frames(8, 1, 1), leaf(4)).unwrap();
    assert_eq!(f.retype(RAM, frames(16, 16, 1), leaf(5)), Err(CapError::AlreadyRetyped));
    assert_eq!(f.retype(RAM, frames(24, 1, 1), leaf(5)), Err(CapError::AlreadyRetyped));
    // The ranges on either side are free.
    assert!(f.retype(RAM, frames(0, 4, 1), leaf(5)).is_ok());
    assert!(f.retype(RAM, frames(8, 8, 1), leaf(6)).is_ok());
    assert!(f.retype(leaf(3), frames(9, 7, 1), leaf(7)).is_ok());
    // A RAM retyped whole into a Frame has a descendant of its very own range.
    f.retype(
        RAM,
        Retype { kind: CapType::Ram, offset: 32 * PAGE_SIZE, object_size: 4 * PAGE_SIZE, count: 1 },
        leaf(10),
    )
    .unwrap();
    f.retype(leaf(10), frames(0, 4, 1), leaf(11)).unwrap();
    assert_eq!(f.retype(leaf(10), frames(1, 1, 1), leaf(12)), Err(CapError::AlreadyRetyped));
    // Deleting the frame makes its range retypable again.
    f.delete(leaf(1)).unwrap();
    assert!(f.retype(RAM, frames(4, 1, 4), leaf(12)).is_ok());
    f.check();
}

#[test]
fn frames_split_into_smaller_frames() {
    let mut f = fixture();
    f.retype(RAM, frames(0, 4, 1), leaf(1)).unwrap();
    assert!(f.retype(leaf(1), frames(0, 1, 4), leaf(2)).is_ok());
    assert_eq!(f.retype(leaf(1), frames(0, 1, 1), leaf(6)), Err(CapError::AlreadyRetyped));
    let removal = f.revoke(leaf(1)).unwrap();
    assert_eq!(removal.removed.len(), 4);
    assert!(f.retype(leaf(1), frames(0, 2, 2), leaf(2)).is_ok());
    f.check();
}

#[test]
fn copy_and_mint_never_grow_rights() {
    let mut f = fixture();
    f.retype(RAM, frames(0, 1, 1), leaf(1)).unwrap();
    f.mint(leaf(1), leaf(2), Rights::READ | Rights::WRITE).unwrap();
    assert_eq!(f.identify(leaf(2)).unwrap().rights(), Rights::READ | Rights::WRITE);
    f.copy(leaf(2), leaf(3)).unwrap();
    assert_eq!(f.identify(leaf(3)).unwrap().rights(), Rights::READ | Rights::WRITE);
    assert_eq!(f.mint(leaf(3), leaf(4), Rights::READ | Rights::EXECUTE), Err(CapError::RightsExceeded));
    assert_eq!(f.mint(leaf(3), leaf(4), Rights::ALL), Err(CapError::RightsExceeded));
    f.mint(leaf(3), leaf(4), Rights::NONE).unwrap();
    assert_eq!(f.identify(leaf(4)).unwrap().rights(), Rights::NONE);
    // Children of a reduced RAM get its rights.
    f.mint(RAM, leaf(5), Rights::READ | Rights::WRITE).unwrap();
    f.retype(leaf(5), frames(8, 1, 1), leaf(6)).unwrap();
    assert_eq!(f.identify(leaf(6)).unwrap().rights(), Rights::READ | Rights::WRITE);
    // Copies name the same object.
    assert!(f.identify(leaf(1)).unwrap().same_object(&f.identify(leaf(4)).unwrap()));
    // Copy refusals: empty source, occupied destination.
    assert_eq!(f.copy(leaf(100), leaf(101)), Err(CapError::EmptySlot));
    assert_eq!(f.copy(leaf(1), leaf(2)), Err(CapError::SlotOccupied));
    f.check();
}

#[test]
fn delete_reports_the_last_copy_and_memory_nothing_names() {
    let mut f = fixture();
    f.retype(RAM, frames(0, 1, 1), leaf(1)).unwrap();
    f.copy(leaf(1), leaf(2)).unwrap();
    let first = f.delete(leaf(1)).unwrap();
    assert!(!first.removed[0].last_copy);
    let second = f.delete(leaf(2)).unwrap();
    assert!(second.removed[0].last_copy);
    // The RAM still names the page.
    assert!(second.unreferenced.is_empty());
    // A frame outlives its RAM: deleting the RAM frees what the frame does not cover.
    f.retype(RAM, frames(4, 2, 1), leaf(3)).unwrap();
    let ram = f.delete(RAM).unwrap();
    assert!(ram.removed[0].last_copy);
    assert_eq!(
        ram.unreferenced,
        vec![
            Region { base: RAM_BASE, size: 4 * PAGE_SIZE },
            Region { base: RAM_BASE + 6 * PAGE_SIZE, size: RAM_SIZE - 6 * PAGE_SIZE }
        ]
    );
    let frame = f.delete(leaf(3)).unwrap();
    assert_eq!(frame.unreferenced, vec![Region { base: RAM_BASE + 4 * PAGE_SIZE, size: 2 * PAGE_SIZE }]);
    assert_eq!(f.delete(leaf(3)), Err(CapError::EmptySlot));
    // Memory nothing names can be a root again.
    assert!(f.caps.create_root(Capability::ram(RAM_BASE, RAM_SIZE).unwrap(), f.cspace.slot(RAM)).is_ok());
    f.check();
}

#[test]
fn device_memory_is_never_reported_free() {
    let mut f = fixture();
    f.caps
        .create_root(Capability::device_frame(0x900_0000, PAGE_SIZE).unwrap(), f.cspace.slot(leaf(1)))
        .unwrap();
    let removal = f.delete(leaf(1)).unwrap();
    assert!(removal.removed[0].last_copy);
    assert!(removal.unreferenced.is_empty());
}

#[test]
fn revoke_removes_descendants_and_copies_and_keeps_the_capability() {
    let mut f = fixture();
    f.retype(RAM, Retype { kind: CapType::Ram, offset: 0, object_size: 8 * PAGE_SIZE, count: 2 }, leaf(1))
        .unwrap();
    f.retype(leaf(1), frames(0, 1, 2), leaf(3)).unwrap();
    f.copy(leaf(3), leaf(5)).unwrap();
    f.copy(RAM, leaf(6)).unwrap();
    f.mint(RAM, leaf(7), Rights::READ).unwrap();
    // Another RAM nothing derives from: untouched.
    f.caps.create_root(Capability::ram(0x8000_0000, PAGE_SIZE).unwrap(), f.cspace.slot(leaf(8))).unwrap();
    let removal = f.revoke(RAM).unwrap();
    let mut removed: Vec<_> =
        removal.removed.iter().map(|r| (r.capability.kind(), r.capability.base())).collect();
    removed.sort();
    assert_eq!(
        removed,
        vec![
            (CapType::Ram, RAM_BASE),
            (CapType::Ram, RAM_BASE),
            (CapType::Ram, RAM_BASE),
            (CapType::Ram, RAM_BASE + 8 * PAGE_SIZE),
            (CapType::Frame, RAM_BASE),
            (CapType::Frame, RAM_BASE),
            (CapType::Frame, RAM_BASE + PAGE_SIZE),
        ]
    );
    assert!(removal.unreferenced.is_empty());
    assert!(f.identify(RAM).is_ok());
    assert!(f.identify(leaf(8)).is_ok());
    for slot in 1..=7 {
        assert_eq!(f.identify(leaf(slot)), Err(CapError::EmptySlot));
    }
    // Everything is retypable again.
    assert!(f.retype(RAM, frames(0, 256, 1), leaf(1)).is_ok());
    assert_eq!(f.revoke(leaf(50)), Err(CapError::EmptySlot));
    f.check();
}

#[test]
fn deleting_the_last_capability_of_a_cnode_deletes_its_contents() {
    let mut f = fixture();
    // A new level-2 CNode from RAM, installed at root slot 1.
    let cnode = Retype { kind: CapType::CNode, offset: 0, object_size: PAGE_SIZE, count: 1 };
    f.caps.retype(f.cspace.slot(RAM), cnode, f.cspace.slot(CapAddr::level1(1))).unwrap();
    assert_eq!(f.identify(CapAddr::level1(1)).unwrap().cnode_slots(), PAGE_SIZE / SLOT_BYTES);
    f.retype(RAM, frames(4, 1, 2), CapAddr::leaf(1, 0)).unwrap();
    f.copy(CapAddr::leaf(1, 0), leaf(1)).unwrap();
    assert_eq!(f.identify(CapAddr::leaf(1, 64)), Err(CapError::IndexOutOfRange));
    let removal = f.delete(CapAddr::level1(1)).unwrap();
    let kinds: Vec<_> = removal.removed.iter().map(|r| (r.capability.kind(), r.last_copy)).collect();
    assert_eq!(kinds.len(), 3);
    assert!(kinds.contains(&(CapType::CNode, true)));
    assert!(kinds.contains(&(CapType::Frame, false)));
    assert!(kinds.contains(&(CapType::Frame, true)));
    assert_eq!(f.identify(CapAddr::leaf(1, 0)), Err(CapError::NotACNode));
    assert!(f.identify(leaf(1)).is_ok());
    f.check();
}

#[test]
fn capability_spaces_of_other_dispatchers() {
    let mut f = fixture();
    // A monitor builds a child's space: a root CNode and a level-2 CNode from its RAM.
    let root = Retype { kind: CapType::CNode, offset: 0, object_size: PAGE_SIZE, count: 1 };
    f.retype(RAM, root, leaf(1)).unwrap();
    let child = f.caps.cspace_at(f.cspace.slot(leaf(1))).unwrap();
    let level2 = Retype { kind: CapType::CNode, offset: 4 * PAGE_SIZE, object_size: 4 * PAGE_SIZE, count: 1 };
    f.caps.retype(f.cspace.slot(RAM), level2, child.slot(CapAddr::level1(0))).unwrap();
    f.retype(RAM, frames(8, 1, 1), leaf(2)).unwrap();
    f.caps.mint(f.cspace.slot(leaf(2)), child.slot(CapAddr::leaf(0, 5)), Rights::READ).unwrap();
    assert_eq!(f.caps.identify(child.slot(CapAddr::leaf(0, 5))).unwrap().rights(), Rights::READ);
    // The kernel keeps the child's root in a held slot, as a dispatcher's control block would.
    let held = f.caps.hold(f.cspace.slot(leaf(1))).unwrap();
    assert_eq!(f.caps.cspace_of_held(held), Ok(child));
    assert_eq!(f.caps.cspace_at(f.cspace.slot(leaf(2))), Err(CapError::WrongType));
    // While the kernel holds the root, revoking the monitor's RAM is refused and changes nothing.
    assert_eq!(f.revoke(RAM).map(|_| ()), Err(CapError::Denied));
    assert!(f.caps.identify(child.slot(CapAddr::leaf(0, 5))).is_ok());
    // Released, the revoke takes the child's whole space with it, and its handle goes stale.
    f.caps.release(held).unwrap();
    f.revoke(RAM).unwrap();
    assert_eq!(f.caps.identify(child.slot(CapAddr::leaf(0, 5))), Err(CapError::Stale));
    assert_eq!(f.caps.held(held), Err(CapError::Stale));
    assert_eq!(f.caps.release(held), Err(CapError::Stale));
    f.check();
}

#[test]
fn endpoints_derive_from_their_dispatcher() {
    let mut f = fixture();
    let dispatcher = Retype { kind: CapType::Dispatcher, offset: 0, object_size: PAGE_SIZE, count: 1 };
    f.retype(RAM, dispatcher, leaf(1)).unwrap();
    f.caps.create_endpoint(f.cspace.slot(leaf(1)), 7, f.cspace.slot(leaf(2))).unwrap();
    f.caps.create_endpoint(f.cspace.slot(leaf(1)), 8, f.cspace.slot(leaf(3))).unwrap();
    let endpoint = f.identify(leaf(2)).unwrap();
    assert_eq!((endpoint.kind(), endpoint.badge(), endpoint.base()), (CapType::Endpoint, 7, RAM_BASE));
    assert_eq!(
        f.caps.create_endpoint(f.cspace.slot(RAM), 1, f.cspace.slot(leaf(4))),
        Err(CapError::WrongType)
    );
    // Revoking one endpoint leaves the other badge alone; revoking the dispatcher takes both.
    f.copy(leaf(2), leaf(4)).unwrap();
    assert_eq!(f.revoke(leaf(2)).unwrap().removed.len(), 1);
    assert!(f.identify(leaf(3)).is_ok());
    assert_eq!(f.revoke(leaf(1)).unwrap().removed.len(), 2);
    // The dispatcher's page is retyped until its last capability goes.
    assert_eq!(f.retype(RAM, frames(0, 1, 1), leaf(5)), Err(CapError::AlreadyRetyped));
    f.delete(leaf(1)).unwrap();
    assert!(f.retype(RAM, frames(0, 1, 1), leaf(5)).is_ok());
    f.check();
}

#[test]
fn roots_never_overlap() {
    let mut f = fixture();
    let slot = f.cspace.slot(leaf(1));
    assert_eq!(
        f.caps.create_root(Capability::ram(RAM_BASE + RAM_SIZE - PAGE_SIZE, 2 * PAGE_SIZE).unwrap(), slot),
        Err(CapError::Overlap)
    );
    assert_eq!(
        f.caps.create_root(Capability::ram(RAM_BASE - PAGE_SIZE, 2 * PAGE_SIZE).unwrap(), slot),
        Err(CapError::Overlap)
    );
    assert_eq!(
        f.caps.create_root(Capability::device_frame(0x1000_0000, PAGE_SIZE).unwrap(), slot),
        Err(CapError::Overlap)
    );
    assert!(f.caps.create_root(Capability::ram(RAM_BASE + RAM_SIZE, PAGE_SIZE).unwrap(), slot).is_ok());
    // Interrupts and the kernel object are numbered apart from memory.
    f.caps.create_root(Capability::irq(30), f.cspace.slot(leaf(2))).unwrap();
    assert_eq!(f.caps.create_root(Capability::irq(30), f.cspace.slot(leaf(3))), Err(CapError::Overlap));
    f.caps.create_root(Capability::kernel(), f.cspace.slot(leaf(3))).unwrap();
    assert_eq!(f.caps.create_held_root(Capability::kernel()), Err(CapError::Overlap));
    f.copy(leaf(3), leaf(4)).unwrap();
    assert_eq!(f.identify(leaf(4)).unwrap().kind(), CapType::Kernel);
    assert_eq!(f.caps.create_root(Capability::irq(1), f.cspace.slot(leaf(3))), Err(CapError::SlotOccupied));
    f.check();
}

#[test]
fn held_slots() {
    let mut caps = CoreCapabilities::new();
    let ram = caps.create_held_root(Capability::ram(0, 4 * PAGE_SIZE).unwrap()).unwrap();
    assert_eq!(caps.held(ram).unwrap().size(), 4 * PAGE_SIZE);
    assert_eq!(caps.cspace_of_held(ram), Err(CapError::WrongType));
    let root =
        caps.create_held_root(Capability::memory(CapType::CNode, 0x10_0000, PAGE_SIZE).unwrap()).unwrap();
    let cspace = caps.cspace_of_held(root).unwrap();
    caps.copy_held(ram, cspace.slot(CapAddr::level1(3))).unwrap();
    assert_eq!(caps.copy_held(ram, cspace.slot(CapAddr::level1(3))), Err(CapError::SlotOccupied));
    let released = caps.release(ram).unwrap();
    assert!(!released.removed[0].last_copy);
    assert_eq!(caps.held(ram), Err(CapError::Stale));
    // A new held capability reuses the index, and the old handle stays stale.
    let other = caps.create_held_root(Capability::irq(5)).unwrap();
    assert_eq!(caps.held(ram), Err(CapError::Stale));
    assert_eq!(caps.held(other).unwrap().kind(), CapType::Irq);
    // Releasing the root CNode's only capability empties the space and makes its handle stale.
    let gone = caps.release(root).unwrap();
    assert_eq!(gone.removed.len(), 2);
    assert_eq!(gone.unreferenced.len(), 2);
    assert_eq!(caps.identify(cspace.slot(CapAddr::level1(3))), Err(CapError::Stale));
    assert_eq!(caps.len(), 1);
    caps.check_consistency().unwrap();
}

#[test]
fn bad_addresses_are_errors() {
    let mut f = fixture();
    f.retype(RAM, frames(0, 1, 1), leaf(1)).unwrap();
    let cases = [
        (CapAddr::from_raw(0x0100_0000), CapError::InvalidAddress),
        (CapAddr::from_raw(0x8000_0001), CapError::InvalidAddress),
        (CapAddr::level1(64), CapError::IndexOutOfRange),
        (CapAddr::leaf(64, 0), CapError::IndexOutOfRange),
        (CapAddr::leaf(2, 0), CapError::NotACNode),
        (CapAddr::level1(2), CapError::EmptySlot),
        (leaf(200), CapError::EmptySlot),
    ];
    for (addr, error) in cases {
        assert_eq!(f.identify(addr), Err(error), "{addr:?}");
        assert_eq!(f.delete(addr).err(), Some(error), "{addr:?}");
        assert_eq!(f.revoke(addr).err(), Some(error), "{addr:?}");
        assert_eq!(f.copy(addr, leaf(10)), Err(error), "{addr:?}");
        assert_eq!(f.retype(addr, frames(8, 1, 1), leaf(10)), Err(error), "{addr:?}");
    }
    // A level-1 slot that holds something other than a CNode cannot be walked through.
    f.copy(leaf(1), CapAddr::level1(2)).unwrap();
    assert_eq!(f.identify(CapAddr::leaf(2, 0)), Err(CapError::NotACNode));
    assert_eq!(f.caps.len(), 5);
    f.check();
}

#[test]
fn lookup_checks_type_and_rights() {
    let mut f = fixture();
    f.retype(RAM, frames(0, 1, 1), leaf(1)).unwrap();
    f.mint(leaf(1), leaf(2), Rights::READ).unwrap();
    let read_only = f.cspace.slot(leaf(2));
    assert_eq!(f.caps.lookup(read_only, CapType::Frame, Rights::READ).map(|c| c.base()), Ok(RAM_BASE));
    assert_eq!(f.caps.lookup(read_only, CapType::Frame, Rights::READ | Rights::WRITE), Err(CapError::Denied));
    assert_eq!(f.caps.lookup(read_only, CapType::Kernel, Rights::NONE), Err(CapError::WrongType));
    assert_eq!(f.caps.lookup(f.cspace.slot(leaf(3)), CapType::Frame, Rights::NONE), Err(CapError::EmptySlot));
    assert_eq!(
        f.caps.lookup(f.cspace.slot(CapAddr::from_raw(u32::MAX)), CapType::Frame, Rights::NONE),
        Err(CapError::InvalidAddress)
    );
}

#[test]
fn identities_are_per_capability_and_reported_on_removal() {
    let mut f = fixture();
    f.retype(RAM, frames(0, 1, 1), leaf(1)).unwrap();
    f.copy(leaf(1), leaf(2)).unwrap();
    let (first, id1) = f.caps.identify_with_id(f.cspace.slot(leaf(1))).unwrap();
    let (copy, id2) = f.caps.identify_with_id(f.cspace.slot(leaf(2))).unwrap();
    assert_eq!(first, copy);
    assert_ne!(id1, id2, "a copy has its own identity");
    // Revoking the RAM removes both frames, each reported with the identity it had.
    let removal = f.revoke(RAM).unwrap();
    let mut ids: Vec<_> = removal.removed.iter().map(|r| r.id).collect();
    ids.sort();
    assert_eq!(ids, vec![id1.min(id2), id1.max(id2)]);
    // A new capability in the same slot, of the same object, has a new identity.
    f.retype(RAM, frames(0, 1, 1), leaf(1)).unwrap();
    let (_, id3) = f.caps.identify_with_id(f.cspace.slot(leaf(1))).unwrap();
    assert!(id3 != id1 && id3 != id2);
    assert_eq!(f.delete(leaf(1)).unwrap().removed[0].id, id3);
    assert_eq!(f.caps.identify_with_id(f.cspace.slot(leaf(1))), Err(CapError::EmptySlot));
    f.check();
}

// ----- The per-core limit on capabilities -----

/// Everything the fixture's core holds, for comparing before and after a refusal.
fn snapshot(f: &Fixture) -> (usize, Vec<Capability>) {
    (f.caps.usage(), f.caps.capabilities().collect())
}

#[test]
fn fixture_usage_is_as_documented() {
    let f = fixture_with_limit(RAM_SIZE, 100);
    assert_eq!(f.caps.usage(), FIXTURE_USAGE);
    assert_eq!(f.caps.limit(), 100);
    assert_eq!(fixture().caps.limit(), caps::DEFAULT_CAPABILITY_LIMIT);
}

#[test]
fn retype_past_the_limit_is_refused_and_changes_nothing() {
    // Room for exactly three Frames in slots 1..=3 (a capability and a table entry each).
    let mut f = fixture_with_limit(RAM_SIZE, FIXTURE_USAGE + 6);
    let before = snapshot(&f);
    assert_eq!(f.retype(RAM, frames(0, 1, 4), leaf(1)), Err(CapError::OutOfCapabilities));
    assert_eq!(snapshot(&f), before);
    assert_eq!(f.retype(RAM, frames(0, 1, 3), leaf(1)).map(|r| r.size), Ok(3 * PAGE_SIZE));
    assert_eq!(f.caps.usage(), f.caps.limit());
    let before = snapshot(&f);
    assert_eq!(f.retype(RAM, frames(3, 1, 1), leaf(4)), Err(CapError::OutOfCapabilities));
    assert_eq!(snapshot(&f), before);
    f.check();
    // Deleting makes room again.
    f.delete(leaf(3)).unwrap();
    assert_eq!(f.retype(RAM, frames(3, 1, 1), leaf(3)).map(|r| r.size), Ok(PAGE_SIZE));
    f.check();
}

#[test]
fn the_reserve_is_for_the_privileged_caller_alone() {
    // Room for three Frames, the last two kept for the privileged caller (the monitor).
    let mut f = fixture_with_limit(RAM_SIZE, FIXTURE_USAGE + 6);
    f.caps.set_reserve(4);
    assert_eq!(f.retype(RAM, frames(0, 1, 1), leaf(1)).map(|r| r.size), Ok(PAGE_SIZE));
    let before = snapshot(&f);
    assert_eq!(f.retype(RAM, frames(1, 1, 1), leaf(2)), Err(CapError::OutOfCapabilities));
    assert_eq!(snapshot(&f), before, "a refusal changes nothing");
    f.caps.set_privileged(true);
    assert_eq!(f.retype(RAM, frames(1, 1, 2), leaf(2)).map(|r| r.size), Ok(2 * PAGE_SIZE));
    assert_eq!(f.caps.usage(), f.caps.limit());
    assert_eq!(
        f.retype(RAM, frames(3, 1, 1), leaf(4)),
        Err(CapError::OutOfCapabilities),
        "not past the limit"
    );
    f.caps.set_privileged(false);
    f.delete(leaf(3)).unwrap();
    assert_eq!(
        f.retype(RAM, frames(3, 1, 1), leaf(3)),
        Err(CapError::OutOfCapabilities),
        "still in the reserve"
    );
    f.check();
}

#[test]
fn table_growth_counts_toward_the_limit() {
    // One capability in slot 9 of the level-2 CNode costs 1 + 9 table entries (slots 1..=9).
    let mut f = fixture_with_limit(RAM_SIZE, FIXTURE_USAGE + 9);
    assert_eq!(f.copy(RAM, leaf(9)), Err(CapError::OutOfCapabilities));
    assert_eq!(f.caps.usage(), FIXTURE_USAGE);
    assert_eq!(f.copy(RAM, leaf(8)), Ok(()));
    assert_eq!(f.caps.usage(), FIXTURE_USAGE + 9);
    // Deleting from the end gives the entries back.
    f.delete(leaf(8)).unwrap();
    assert_eq!(f.caps.usage(), FIXTURE_USAGE);
    f.check();
}

#[test]
fn retyped_cnodes_count_their_tables() {
    // Two CNodes in root slots 1 and 2: two capabilities, two tables, two root entries.
    let cnodes = Retype { kind: CapType::CNode, offset: 0, object_size: PAGE_SIZE, count: 2 };
    let mut f = fixture_with_limit(RAM_SIZE, FIXTURE_USAGE + 5);
    let before = snapshot(&f);
    assert_eq!(f.retype(RAM, cnodes, CapAddr::level1(1)), Err(CapError::OutOfCapabilities));
    assert_eq!(snapshot(&f), before);
    let mut f = fixture_with_limit(RAM_SIZE, FIXTURE_USAGE + 6);
    assert!(f.retype(RAM, cnodes, CapAddr::level1(1)).is_ok());
    assert_eq!(f.caps.usage(), f.caps.limit());
    // A copy of a CNode shares its table: only the capability and its slot.
    f.delete(CapAddr::level1(2)).unwrap();
    assert_eq!(f.caps.usage(), FIXTURE_USAGE + 3);
    assert_eq!(f.copy(CapAddr::level1(1), CapAddr::level1(2)), Ok(()));
    assert_eq!(f.caps.usage(), FIXTURE_USAGE + 5);
    // Deleting the CNodes (and so their contents) gives everything back.
    f.delete(CapAddr::level1(2)).unwrap();
    f.delete(CapAddr::level1(1)).unwrap();
    assert_eq!(f.caps.usage(), FIXTURE_USAGE);
    f.check();
}

#[test]
fn every_creating_operation_is_refused_at_the_limit() {
    let mut f = fixture_with_limit(RAM_SIZE, FIXTURE_USAGE + 4);
    // A Dispatcher in slot 1 (2 units), then a Frame copy in slot 2 fills the core.
    let dispatcher = Retype { kind: CapType::Dispatcher, offset: 0, object_size: PAGE_SIZE, count: 1 };
    f.retype(RAM, dispatcher, leaf(1)).unwrap();
    f.copy(RAM, leaf(2)).unwrap();
    assert_eq!(f.caps.usage(), f.caps.limit());
    let before = snapshot(&f);
    let cspace = f.cspace;
    let full: Result<(), CapError> = Err(CapError::OutOfCapabilities);
    assert_eq!(f.copy(leaf(1), leaf(2)), Err(CapError::SlotOccupied), "other checks come first");
    assert_eq!(f.copy(leaf(1), leaf(3)), full);
    assert_eq!(f.mint(leaf(1), leaf(3), Rights::READ), full);
    assert_eq!(f.caps.create_endpoint(cspace.slot(leaf(1)), 7, cspace.slot(leaf(3))), full);
    assert_eq!(f.retype(RAM, frames(8, 1, 1), leaf(3)).map(|_| ()), full);
    let device = Capability::device_frame(0x0900_0000, PAGE_SIZE).unwrap();
    assert_eq!(f.caps.create_root(device, cspace.slot(leaf(3))), full);
    assert_eq!(f.caps.create_held_root(device).map(|_| ()), full);
    assert_eq!(f.caps.hold(cspace.slot(leaf(1))).map(|_| ()), full);
    assert_eq!(f.caps.copy_held(f.root, cspace.slot(leaf(3))), full);
    assert_eq!(snapshot(&f), before);
    f.check();
    // Deleting the copy makes room for exactly one capability in slot 2 again.
    f.delete(leaf(2)).unwrap();
    assert_eq!(f.caps.create_endpoint(cspace.slot(leaf(1)), 7, cspace.slot(leaf(2))), Ok(()));
    assert_eq!(f.caps.usage(), f.caps.limit());
    f.check();
}

#[test]
fn retype_held_makes_kernel_objects_the_holder_cannot_remove() {
    let mut f = fixture();
    let cnode = Retype { kind: CapType::CNode, offset: 0, object_size: PAGE_SIZE, count: 1 };
    let (held, region) = f.caps.retype_held(f.cspace.slot(RAM), cnode).unwrap();
    assert_eq!(region, Region { base: RAM_BASE, size: PAGE_SIZE });
    assert_eq!(f.caps.held(held).map(|c| (c.kind(), c.base())), Ok((CapType::CNode, RAM_BASE)));
    let (frame, _) = f.caps.retype_held(f.cspace.slot(RAM), frames(1, 4, 1)).unwrap();
    // The range is taken: a retype over it is refused, and so is a revoke that would reach it.
    assert_eq!(f.retype(RAM, frames(2, 1, 1), leaf(1)), Err(CapError::AlreadyRetyped));
    assert_eq!(f.revoke(RAM).map(|_| ()), Err(CapError::Denied));
    assert_eq!(
        f.caps.retype_held(f.cspace.slot(RAM), frames(0, 1, 2)).map(|_| ()),
        Err(CapError::InvalidArgument)
    );
    assert_eq!(
        f.caps.retype_held(f.cspace.slot(RAM), frames(0, RAM_SIZE / PAGE_SIZE + 1, 1)).map(|_| ()),
        Err(CapError::OutOfBounds)
    );
    f.check();
    // Released, the memory is the RAM's to retype again.
    f.caps.release(held).unwrap();
    f.caps.release(frame).unwrap();
    assert!(f.retype(RAM, frames(0, 5, 1), leaf(1)).is_ok());
    assert!(f.revoke(RAM).is_ok());
    f.check();
}

/// What `spawn` relies on for a child's Dispatcher capability: a control block retyped into a
/// kernel-held slot and copied to the parent. Released when the child ends, the parent's copy
/// keeps the page taken (not the last copy); the parent deleting it is the last copy, and then
/// the whole RAM retypes again. The copy has the RAM's rights, no more.
#[test]
fn a_held_dispatcher_copied_out_keeps_its_page_until_the_last_copy_goes() {
    let mut f = fixture();
    let control = Retype { kind: CapType::Dispatcher, offset: 0, object_size: PAGE_SIZE, count: 1 };
    let (held, _) = f.caps.retype_held(f.cspace.slot(RAM), control).unwrap();
    f.caps.copy_held(held, f.cspace.slot(leaf(1))).unwrap();
    let copy = f.identify(leaf(1)).unwrap();
    assert_eq!((copy.kind(), copy.base()), (CapType::Dispatcher, RAM_BASE));
    assert_eq!(copy.rights(), f.identify(RAM).unwrap().rights());
    // An occupied destination is refused, nothing made.
    assert_eq!(f.caps.copy_held(held, f.cspace.slot(leaf(1))), Err(CapError::SlotOccupied));
    // The child ends: its held capability goes, not the last one.
    let released = f.caps.release(held).unwrap();
    assert!(released.removed.iter().all(|r| !r.last_copy), "{released:?}");
    assert_eq!(f.retype(RAM, frames(0, 1, 1), leaf(2)), Err(CapError::AlreadyRetyped));
    // The parent deletes its copy: the last one; the RAM is whole again.
    let deleted = f.delete(leaf(1)).unwrap();
    assert!(deleted.removed.iter().any(|r| r.last_copy && r.capability.kind() == CapType::Dispatcher));
    assert!(f.retype(RAM, frames(0, RAM_SIZE / PAGE_SIZE, 1), leaf(2)).is_ok());
    f.check();
}
