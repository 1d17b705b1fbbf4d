//! Capabilities across cores: export, receive, the owner-only operations, what lent objects
//! refuse, and the sweep and agreed revoke that replace a local revoke for them. Two or three
//! `CoreCapabilities` stand for the cores; the monitors' messages are the test's hand-offs.

mod common;

use caps::{CapAddr, CapError, CapType, Capability, Owner, Region, Retype, Rights, PAGE_SIZE};
use common::{fixture, frames, leaf, Fixture, RAM, RAM_BASE, RAM_SIZE};

/// A core with the fixture's CNodes and no RAM (its own memory is elsewhere).
fn core_without_ram() -> Fixture {
    let mut core = fixture();
    core.caps.delete(core.cspace.slot(RAM)).unwrap();
    core
}

impl Fixture {
    fn at(&self, addr: CapAddr) -> caps::SlotRef {
        self.cspace.slot(addr)
    }

    fn export(&mut self, addr: CapAddr) -> (Capability, Owner) {
        self.caps.export(self.at(addr)).unwrap()
    }

    /// Receives what `from` exported, with owner seen from the sender (`me` is this core's
    /// index, as a monitor translates `Owner::Here` of the sender into the sender's index).
    fn receive(
        &mut self,
        sent: (Capability, Owner),
        sender: u32,
        me: u32,
        dest: CapAddr,
    ) -> Result<(), CapError> {
        let owner = match sent.1 {
            Owner::Here if sender == me => Owner::Here,
            Owner::Here => Owner::Core(sender),
            Owner::Core(core) if core == me => Owner::Here,
            other => other,
        };
        self.caps.receive(sent.0, owner, self.at(dest))
    }

    fn check(&self) {
        self.caps.check_consistency().unwrap();
    }
}

#[test]
fn a_received_copy_is_foreign_and_only_the_owner_retypes_or_revokes() {
    let (mut owner, mut other) = (fixture(), core_without_ram());
    owner.caps.retype(owner.at(RAM), frames(0, 4, 1), owner.at(leaf(1))).unwrap();
    let sent = owner.export(leaf(1));
    assert_eq!(sent.1, Owner::Here);
    assert_eq!(owner.caps.lent(owner.at(leaf(1))), Ok(true));
    other.receive(sent, 0, 1, leaf(1)).unwrap();
    assert_eq!(other.caps.owner(other.at(leaf(1))), Ok(Owner::Core(0)));
    assert_eq!(other.caps.identify(other.at(leaf(1))), Ok(sent.0));

    assert_eq!(
        other.caps.retype(other.at(leaf(1)), frames(0, 1, 1), other.at(leaf(2))),
        Err(CapError::NotOwner)
    );
    assert_eq!(other.caps.revoke(other.at(leaf(1))), Err(CapError::NotOwner));
    // A local copy of a foreign copy is foreign too; deleting foreign copies frees nothing.
    other.caps.copy(other.at(leaf(1)), other.at(leaf(3))).unwrap();
    assert_eq!(other.caps.owner(other.at(leaf(3))), Ok(Owner::Core(0)));
    assert!(other.caps.delete(other.at(leaf(3))).unwrap().unreferenced.is_empty());
    let removal = other.caps.delete(other.at(leaf(1))).unwrap();
    assert!(removal.removed[0].last_copy);
    assert!(removal.unreferenced.is_empty(), "another core's memory is never handed out here");
    other.check();
    owner.check();
}

#[test]
fn a_lent_object_keeps_its_last_copy_until_an_agreed_revoke() {
    let (mut owner, mut other) = (fixture(), core_without_ram());
    owner.caps.retype(owner.at(RAM), frames(0, 2, 1), owner.at(leaf(1))).unwrap();
    other.receive(owner.export(leaf(1)), 0, 1, leaf(5)).unwrap();

    assert_eq!(owner.caps.delete(owner.at(leaf(1))), Err(CapError::Lent));
    assert_eq!(owner.caps.revoke(owner.at(RAM)), Err(CapError::Lent), "the revoke would reach a lent Frame");
    assert_eq!(owner.caps.revoke(owner.at(leaf(1))), Err(CapError::Lent));
    // Nothing changed on refusal.
    assert_eq!(owner.caps.len(), 4);
    owner.check();

    // The agreed revoke: the other core sweeps, then the owner revokes its own.
    let object = owner.caps.identify(owner.at(leaf(1))).unwrap();
    let swept = other.caps.sweep(object, 0);
    assert_eq!(swept.removed.len(), 1);
    assert!(swept.unreferenced.is_empty());
    assert_eq!(other.caps.identify(other.at(leaf(5))), Err(CapError::EmptySlot));
    let removal = owner.caps.revoke_agreed(owner.at(RAM)).unwrap();
    assert_eq!(removal.removed.len(), 1, "the Frame");
    assert_eq!(removal.unreferenced, Vec::<Region>::new(), "the RAM still names its memory");
    owner.check();
    other.check();
    // The RAM's last capability goes: all of it is free again, none kept back for the Frame.
    let freed = owner.caps.delete(owner.at(RAM)).unwrap();
    assert_eq!(freed.unreferenced, vec![Region { base: RAM_BASE, size: RAM_SIZE }]);
}

#[test]
fn the_sweep_takes_a_kernel_held_foreign_copy_too() {
    // A dispatcher that joined a program on another core maps that core's image through a
    // kernel-held copy: the owner's revoke must reach it, or the image could be reused there
    // while this core still maps it.
    let (mut owner, mut other) = (fixture(), core_without_ram());
    owner.caps.retype(owner.at(RAM), frames(0, 4, 1), owner.at(leaf(1))).unwrap();
    other.receive(owner.export(leaf(1)), 0, 1, leaf(1)).unwrap();
    let held = other.caps.hold(other.at(leaf(1))).unwrap();
    other.caps.delete(other.at(leaf(1))).unwrap();
    assert!(other.caps.held(held).is_ok(), "the kernel's copy outlives the monitor's");
    let object = owner.caps.identify(owner.at(leaf(1))).unwrap();
    let swept = other.caps.sweep(object, 0);
    assert_eq!(swept.removed.len(), 1);
    assert!(swept.removed[0].capability.same_object(&object));
    assert!(other.caps.held(held).is_err(), "the held copy went with the sweep");
    other.check();
}

#[test]
fn the_sweep_reaches_nested_foreign_copies_and_nothing_else() {
    let (mut owner, mut other) = (fixture(), core_without_ram());
    owner.caps.retype(owner.at(RAM), frames(0, 4, 2), owner.at(leaf(1))).unwrap();
    owner.caps.retype(owner.at(leaf(1)), frames(1, 1, 1), owner.at(leaf(3))).unwrap();
    // The other core gets the 4-page Frame, a page inside it and the second 4-page Frame.
    other.receive(owner.export(leaf(1)), 0, 1, leaf(1)).unwrap();
    other.receive(owner.export(leaf(3)), 0, 1, leaf(3)).unwrap();
    other.receive(owner.export(leaf(2)), 0, 1, leaf(2)).unwrap();
    other.check();

    let object = owner.caps.identify(owner.at(leaf(1))).unwrap();
    let swept = other.caps.sweep(object, 0);
    assert_eq!(swept.removed.len(), 2, "the Frame and the page inside it");
    assert!(other.caps.identify(other.at(leaf(2))).is_ok(), "the Frame beside it stays");
    // A sweep for another owner takes nothing.
    assert!(other.caps.sweep(owner.caps.identify(owner.at(leaf(2))).unwrap(), 7).removed.is_empty());
    other.check();
    owner.caps.revoke_agreed(owner.at(leaf(1))).unwrap();
    assert_eq!(owner.caps.identify(owner.at(leaf(3))), Err(CapError::EmptySlot));
    assert_eq!(owner.caps.lent(owner.at(leaf(1))), Ok(false));
    owner.check();
}

#[test]
fn received_capabilities_that_do_not_fit_are_refused_and_change_nothing() {
    let (mut owner, mut other) = (fixture(), core_without_ram());
    owner.caps.retype(owner.at(RAM), frames(0, 4, 1), owner.at(leaf(1))).unwrap();
    let frame = owner.export(leaf(1));
    let before = other.caps.len();

    // Memory the receiving core owns itself.
    let mut overlapping = fixture();
    assert_eq!(overlapping.receive(frame, 0, 1, leaf(9)), Err(CapError::Overlap));
    // Kinds that never cross cores.
    let cnode = Capability::memory(CapType::CNode, 0x8000_0000, PAGE_SIZE).unwrap();
    assert_eq!(other.caps.receive(cnode, Owner::Core(0), other.at(leaf(1))), Err(CapError::WrongType));
    assert_eq!(owner.caps.export(owner.at(CapAddr::level1(0))), Err(CapError::WrongType));
    // A copy "coming home" to a core that holds no copy of it.
    assert_eq!(other.caps.receive(frame.0, Owner::Here, other.at(leaf(1))), Err(CapError::InvalidArgument));
    assert_eq!(other.caps.len(), before);

    other.receive(frame, 0, 1, leaf(1)).unwrap();
    // The same object claimed by another owner; a range cutting across a foreign object; a
    // larger object around one already here (send the larger one first).
    assert_eq!(other.caps.receive(frame.0, Owner::Core(2), other.at(leaf(2))), Err(CapError::Overlap));
    let across = Capability::memory(CapType::Frame, RAM_BASE + 2 * PAGE_SIZE, 4 * PAGE_SIZE).unwrap();
    assert_eq!(other.caps.receive(across, Owner::Core(0), other.at(leaf(2))), Err(CapError::Overlap));
    let around = Capability::ram(RAM_BASE, 8 * PAGE_SIZE).unwrap();
    assert_eq!(other.caps.receive(around, Owner::Core(0), other.at(leaf(2))), Err(CapError::Overlap));
    // Occupied destination.
    assert_eq!(other.receive(frame, 0, 1, leaf(1)), Err(CapError::SlotOccupied));
    assert_eq!(other.caps.len(), before + 1);
    other.check();

    // Inside the foreign Frame, from the same owner: accepted, below it.
    let page =
        Capability::memory(CapType::Frame, RAM_BASE + PAGE_SIZE, PAGE_SIZE).unwrap().reduced(Rights::READ);
    other.caps.receive(page, Owner::Core(0), other.at(leaf(2))).unwrap();
    assert_eq!(other.caps.identify(other.at(leaf(2))).unwrap().rights(), Rights::READ);
    other.check();
}

#[test]
fn a_copy_coming_home_is_a_local_copy_again() {
    let (mut owner, mut other) = (fixture(), core_without_ram());
    owner.caps.retype(owner.at(RAM), frames(0, 1, 1), owner.at(leaf(1))).unwrap();
    other.receive(owner.export(leaf(1)), 0, 1, leaf(1)).unwrap();
    let back = other.export(leaf(1));
    assert_eq!(back.1, Owner::Core(0));
    owner.receive(back, 1, 0, leaf(2)).unwrap();
    assert_eq!(owner.caps.owner(owner.at(leaf(2))), Ok(Owner::Here));
    // Two local copies: one may go, the last may not while lent.
    owner.caps.delete(owner.at(leaf(2))).unwrap();
    assert_eq!(owner.caps.delete(owner.at(leaf(1))), Err(CapError::Lent));
    owner.check();
}

#[test]
fn the_owner_decides_racing_retypes_of_the_same_memory() {
    // Two cores hold the owner's RAM and both want 8 pages from its start: each must ask the
    // owner, whose one derivation database lets exactly one retype through.
    let mut owner = fixture();
    let mut cores = [core_without_ram(), core_without_ram()];
    let ram = owner.export(RAM);
    for (index, core) in cores.iter_mut().enumerate() {
        core.receive(ram, 0, index as u32 + 1, RAM).unwrap();
        assert_eq!(
            core.caps.retype(core.at(RAM), frames(0, 8, 1), core.at(leaf(1))),
            Err(CapError::NotOwner)
        );
    }
    let first = owner.caps.retype(owner.at(RAM), frames(0, 8, 1), owner.at(leaf(1)));
    let second = owner.caps.retype(owner.at(RAM), frames(0, 8, 1), owner.at(leaf(2)));
    assert!(first.is_ok());
    assert_eq!(second, Err(CapError::AlreadyRetyped));
    owner.check();
}

#[test]
fn memory_given_to_another_core_takes_that_cores_copies_and_no_sweep_removes_the_record() {
    // The boot core retypes a started core's share into a kernel-held Frame, then records that
    // the memory is that core's: its capabilities inside the share may come back as copies.
    let mut boot = fixture();
    let share = Retype { kind: CapType::Frame, offset: 0, object_size: 16 * PAGE_SIZE, count: 1 };
    let (held, _) = boot.caps.retype_held(boot.at(RAM), share).unwrap();
    let page = Capability::ram(RAM_BASE + PAGE_SIZE, PAGE_SIZE).unwrap();
    assert_eq!(boot.caps.receive(page, Owner::Core(3), boot.at(leaf(1))), Err(CapError::Overlap));
    boot.caps.disown_held(held, 3).unwrap();
    boot.caps.receive(page, Owner::Core(3), boot.at(leaf(1))).unwrap();
    assert_eq!(boot.caps.receive(page, Owner::Core(4), boot.at(leaf(2))), Err(CapError::Overlap));
    // The other core revokes all of its share: the copy goes, the kernel's record stays.
    let whole = Capability::ram(RAM_BASE, 16 * PAGE_SIZE).unwrap();
    assert_eq!(boot.caps.sweep(whole, 3).removed.len(), 1);
    assert!(boot.caps.held(held).is_ok());
    boot.check();
    // Released, it reports no memory free: it is not this core's.
    assert!(boot.caps.release(held).unwrap().unreferenced.is_empty());
}

#[test]
fn a_protect_reduces_the_rights_of_the_copies_asked_for_and_no_others() {
    let (mut owner, mut other) = (fixture(), core_without_ram());
    owner.caps.retype(owner.at(RAM), frames(0, 1, 2), owner.at(leaf(1))).unwrap();
    owner.caps.copy(owner.at(leaf(1)), owner.at(leaf(3))).unwrap();
    other.receive(owner.export(leaf(1)), 0, 1, leaf(1)).unwrap();
    other.caps.copy(other.at(leaf(1)), other.at(leaf(4))).unwrap();
    other.receive(owner.export(leaf(2)), 0, 1, leaf(2)).unwrap();
    let object = owner.caps.identify(owner.at(leaf(1))).unwrap();

    // The other core's foreign copies of that Frame (not of the one beside it).
    let changed = other.caps.reduce_copies(object, Some(0), Rights::READ);
    assert_eq!(changed.len(), 2);
    for slot in [leaf(1), leaf(4)] {
        assert_eq!(other.caps.identify(other.at(slot)).unwrap().rights(), Rights::READ);
    }
    assert_eq!(other.caps.identify(other.at(leaf(2))).unwrap().rights(), Rights::ALL);
    assert!(other.caps.reduce_copies(object, Some(5), Rights::NONE).is_empty(), "another owner's: none");
    assert!(other.caps.reduce_copies(object, Some(0), Rights::READ).is_empty(), "nothing left to reduce");
    // The owner's own copies; rights never grow back.
    assert_eq!(owner.caps.reduce_copies(object, None, Rights::READ).len(), 2);
    assert!(owner.caps.reduce_copies(object, None, Rights::ALL).is_empty());
    assert_eq!(owner.caps.identify(owner.at(leaf(3))).unwrap().rights(), Rights::READ);
    owner.check();
    other.check();
}
