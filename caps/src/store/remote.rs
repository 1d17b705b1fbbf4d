//! Capabilities across cores: who owns an object, what was lent, and the parts of the
//! distributed operations one core does.
//!
//! Every object a capability names on more than one core has exactly one **owning core**; the
//! capabilities of it elsewhere are **foreign copies**. Only memory crosses cores (RAM, Frames,
//! device frames): a CNode, translation table or dispatcher is one core's kernel state and
//! stays there. The rules that keep the cores' derivation databases consistent without sharing
//! them (Barrelfish's distributed capabilities, with retype kept on the owner):
//!
//! - **Only the owner retypes or revokes.** Every descendant of an object is then made on its
//!   owning core, whose derivation database sees them all: two cores racing to retype the same
//!   memory both ask the owner, and its ordinary local check lets exactly one through. A core
//!   holding a foreign copy gets [`CapError::NotOwner`] and asks the owner through the monitors.
//! - **What was lent is tracked.** [`CoreCapabilities::export`] on the owner marks the object
//!   *lent*: its last copy there cannot be deleted ([`CapError::Lent`]) and a local revoke that
//!   would reach it is refused, because copies elsewhere would outlive it. The monitors revoke
//!   it by agreement: every other core [`sweep`](CoreCapabilities::sweep)s its foreign copies,
//!   then the owner [`revoke_agreed`](CoreCapabilities::revoke_agreed)s.
//! - **Foreign memory is never handed out again.** Removing a foreign copy, or the last copy of
//!   a lent object, never reports the memory as unreferenced.
//! - **Foreign copies nest only in foreign copies of the same owner.** A received capability
//!   must be a copy of an object already here, lie outside everything here, or lie inside a
//!   foreign object of the same owner without cutting across what is inside that; anything else
//!   (a monitor's mistake or a forged message) is refused with [`CapError::Overlap`].
//!
//! The kernel calls these only for the holder of the Kernel capability: they are the
//! mechanism, and the protocol that orders them across cores lives in the monitors.

use alloc::vec::Vec;

use super::{CoreCapabilities, Location, Removal, SlotRef};
use crate::capability::{CapType, Capability};
use crate::error::CapError;
use crate::mdb::MdbKey;

/// Which core owns an object, as seen from a core holding a capability of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// This core.
    Here,
    /// Another core, by its index: the capability here is a foreign copy.
    Core(u32),
}

/// An object independent of who holds it and with which rights: what copies share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    kind: CapType,
    base: u64,
    size: u64,
    badge: u64,
}

impl ObjectKey {
    pub(crate) fn of(capability: &Capability) -> ObjectKey {
        ObjectKey {
            kind: capability.kind(),
            base: capability.base(),
            size: capability.size(),
            badge: capability.badge(),
        }
    }
}

impl CoreCapabilities {
    /// Whether capabilities of `kind` may be sent to another core: memory only (RAM, Frames,
    /// device frames).
    pub fn transferable(kind: CapType) -> bool {
        matches!(kind, CapType::Ram | CapType::Frame | CapType::DeviceFrame)
    }

    /// Who owns the object of the capability at `slot`.
    pub fn owner(&self, slot: SlotRef) -> Result<Owner, CapError> {
        let capability = self.identify(slot)?;
        Ok(self.owner_of(&capability))
    }

    fn owner_of(&self, capability: &Capability) -> Owner {
        match self.foreign.get(&ObjectKey::of(capability)) {
            Some(&core) => Owner::Core(core),
            None => Owner::Here,
        }
    }

    /// Whether the object of `slot`'s capability was lent to other cores (only ever true on
    /// its owner).
    pub fn lent(&self, slot: SlotRef) -> Result<bool, CapError> {
        Ok(self.is_lent(&self.identify(slot)?))
    }

    /// The capability at `slot` and its owner, for a monitor to send to another core: the
    /// receiving monitor makes the copy there with [`receive`](Self::receive). On the owner
    /// the object becomes lent. Refused (`WrongType`) for kinds that never cross cores.
    pub fn export(&mut self, slot: SlotRef) -> Result<(Capability, Owner), CapError> {
        let capability = self.identify(slot)?;
        if !Self::transferable(capability.kind()) {
            return Err(CapError::WrongType);
        }
        let owner = self.owner_of(&capability);
        if owner == Owner::Here {
            self.lent.insert(ObjectKey::of(&capability));
        }
        Ok((capability, owner))
    }

    /// Puts a copy of another core's capability (as [`export`](Self::export) gave it there)
    /// into the empty slot `dest`. With [`Owner::Here`] the object must be one this core owns
    /// and holds (a copy coming home); otherwise it becomes a foreign copy owned by that core,
    /// placed by the rules in the module documentation. Nothing changes when it is refused.
    pub fn receive(&mut self, capability: Capability, owner: Owner, dest: SlotRef) -> Result<(), CapError> {
        if !Self::transferable(capability.kind()) {
            return Err(CapError::WrongType);
        }
        let location = self.resolve_empty(dest)?;
        let object = ObjectKey::of(&capability);
        let parent = match (owner, self.mdb.any_copy(&capability)) {
            (Owner::Here, Some(copy)) if !self.foreign.contains_key(&object) => Some(copy),
            (Owner::Here, _) => return Err(CapError::InvalidArgument),
            (Owner::Core(core), Some(copy)) if self.foreign.get(&object) == Some(&core) => Some(copy),
            (Owner::Core(_), Some(_)) => return Err(CapError::Overlap),
            (Owner::Core(core), None) => self.foreign_parent(&capability, core)?,
        };
        self.reserve(self.cost(location, &capability))?;
        self.install(location, capability, parent.as_ref());
        if let Owner::Core(core) = owner {
            self.foreign.insert(object, core);
        }
        Ok(())
    }

    /// Where a new foreign object of `owner` goes in the derivation database: `None` when it
    /// overlaps nothing here, else the foreign object of the same owner it lies inside.
    fn foreign_parent(&self, capability: &Capability, owner: u32) -> Result<Option<MdbKey>, CapError> {
        if !self.mdb.overlaps_anything(capability) {
            return Ok(None);
        }
        let (space, base, size) = (capability.kind().space(), capability.base(), capability.size());
        let parent = self.mdb.innermost_containing(space, base, size).ok_or(CapError::Overlap)?;
        let Some(parent_capability) = self.capability_of(&parent) else { return Err(CapError::Overlap) };
        if self.foreign.get(&ObjectKey::of(&parent_capability)) != Some(&owner) {
            return Err(CapError::Overlap);
        }
        let same_range = (parent_capability.base(), parent_capability.size()) == (base, size);
        if !same_range && self.mdb.child_overlaps(&parent, base, size) {
            return Err(CapError::Overlap);
        }
        Ok(Some(parent))
    }

    /// Records that the memory of the capability in kernel-held slot `slot` was given to core
    /// `owner` (the boot core's record of a core it started: its private region and memory
    /// share): from now on the object is that core's, so this core never hands the memory out
    /// again and copies of that core's capabilities inside it may be received here. Refused
    /// (`Lent`) for an object this core lent.
    pub fn disown_held(&mut self, slot: super::HeldSlot, owner: u32) -> Result<(), CapError> {
        let capability = self.held(slot)?;
        if self.is_lent(&capability) {
            return Err(CapError::Lent);
        }
        self.foreign.insert(ObjectKey::of(&capability), owner);
        self.given_away.insert(ObjectKey::of(&capability));
        Ok(())
    }

    /// Removes every foreign copy owned by `owner` of `object` and of the objects inside it
    /// (its descendants there): this core's part of the owner's revoke, after which the owner
    /// revokes its own with [`revoke_agreed`](Self::revoke_agreed). Returns what went (the
    /// kernel unmaps what was mapped, and ends a dispatcher whose kernel-held copy went: one
    /// that mapped another core's program image); never any unreferenced memory.
    pub fn sweep(&mut self, object: Capability, owner: u32) -> Removal {
        let targets: Vec<MdbKey> = self
            .mdb
            .starting_inside(object.kind().space(), object.base(), object.size())
            .into_iter()
            // The kernel's records of memory given to a core it started are not copies that
            // core handed around; every other foreign copy goes, kernel-held ones included.
            .filter(|key| {
                !matches!(self.mdb.location(key), Some(Location::Held(_)))
                    || self
                        .capability_of(key)
                        .is_some_and(|held| !self.given_away.contains(&ObjectKey::of(&held)))
            })
            .filter(|key| {
                self.capability_of(key).is_some_and(|held| {
                    (object.same_object(&held) || object.is_ancestor_of(&held))
                        && self.foreign.get(&ObjectKey::of(&held)) == Some(&owner)
                })
            })
            .collect();
        self.remove_all(targets)
    }

    /// The owner's revoke once every other core has swept: removes the other copies and the
    /// descendants here, keeps the capability at `slot`, and the object is no longer lent.
    /// Only for the owner (`NotOwner`); the kernel's own objects refuse as in
    /// [`revoke`](Self::revoke).
    pub fn revoke_agreed(&mut self, slot: SlotRef) -> Result<Removal, CapError> {
        let (location, _) = self.resolve(slot)?;
        let entry = self.entry(location).ok_or(CapError::EmptySlot)?;
        self.check_owned(&entry.capability)?;
        let targets = self.revoke_targets(&entry)?;
        let removal = self.remove_all(targets);
        self.lent.remove(&ObjectKey::of(&entry.capability));
        Ok(removal)
    }

    /// Reduces the rights of every copy of `object` here to those it has and `rights` names:
    /// the foreign copies owned by core `owner`, or with `None` this core's own copies of an
    /// object it owns. One core's part of a protect by agreement (the kernel then downgrades
    /// their mappings). Returns the copies whose rights changed, with their new capability.
    pub fn reduce_copies(
        &mut self,
        object: Capability,
        owner: Option<u32>,
        rights: crate::Rights,
    ) -> Vec<(super::CapId, Capability)> {
        let owned_as_asked = |this: &CoreCapabilities, held: &Capability| match owner {
            Some(owner) => this.foreign.get(&ObjectKey::of(held)) == Some(&owner),
            None => this.owner_of(held) == Owner::Here,
        };
        let mut changed = Vec::new();
        for key in self.mdb.starting_inside(object.kind().space(), object.base(), object.size()) {
            let Some(location) = self.mdb.location(&key) else { continue };
            let Some(entry) = self.entry(location) else { continue };
            let held = entry.capability;
            if !held.same_object(&object) || !owned_as_asked(self, &held) {
                continue;
            }
            let reduced = held.reduced(rights);
            if reduced.rights() != held.rights() {
                self.set_capability(location, reduced);
                changed.push((super::CapId(entry.id), reduced));
            }
        }
        changed
    }

    /// Refuses a capability of another core's object (`NotOwner`).
    pub(super) fn check_owned(&self, capability: &Capability) -> Result<(), CapError> {
        match self.owner_of(capability) {
            Owner::Here => Ok(()),
            Owner::Core(_) => Err(CapError::NotOwner),
        }
    }

    pub(super) fn is_lent(&self, capability: &Capability) -> bool {
        self.lent.contains(&ObjectKey::of(capability))
    }

    pub(super) fn key_is_lent(&self, key: &MdbKey) -> bool {
        self.capability_of(key).is_some_and(|capability| self.is_lent(&capability))
    }

    fn capability_of(&self, key: &MdbKey) -> Option<Capability> {
        let location: Location = self.mdb.location(key)?;
        self.entry(location).map(|entry| entry.capability)
    }

    /// Called for each capability removed: whether its object is shared with other cores
    /// (foreign or lent), forgetting that when this was its last copy here.
    pub(super) fn forget_remote_state(&mut self, capability: &Capability, last_copy: bool) -> bool {
        let object = ObjectKey::of(capability);
        let shared = self.foreign.contains_key(&object) || self.lent.contains(&object);
        if last_copy {
            self.foreign.remove(&object);
            self.lent.remove(&object);
        }
        shared
    }

    /// Checks the remote bookkeeping against the capabilities (for tests): every foreign or
    /// lent object has a capability here, and nothing both foreign and lent.
    pub(super) fn check_remote(&self) -> Result<(), &'static str> {
        for object in self.foreign.keys().chain(self.lent.iter()) {
            let probe =
                Capability::derived(object.kind, object.base, object.size, crate::Rights::NONE, object.badge);
            if self.mdb.any_copy(&probe).is_none() {
                return Err("a foreign or lent object has no capability here");
            }
        }
        if self.lent.iter().any(|object| self.foreign.contains_key(object)) {
            return Err("an object is both foreign and lent");
        }
        Ok(())
    }
}
