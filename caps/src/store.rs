//! The capabilities of one core: CNode tables, kernel-held slots, the derivation database, and
//! the operations a CPU driver's system calls invoke on them.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::address::{CapAddr, Decoded};
use crate::capability::{CapType, Capability, Region, Space};
use crate::error::CapError;
use crate::mdb::{Mdb, MdbKey};
use crate::rights::Rights;

mod remote;

use remote::ObjectKey;
pub use remote::Owner;

/// Where a capability is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Location {
    /// Slot `index` of the CNode whose table is `tables[table]`.
    Slot { table: u32, index: u32 },
    /// Kernel-held slot `index`.
    Held(u32),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    capability: Capability,
    id: u64,
    /// For a CNode: its table's index in `CoreCapabilities::tables`, so that following a
    /// capability address costs an array index per level.
    table: u32,
}

impl Entry {
    fn key(&self) -> MdbKey {
        MdbKey::of(&self.capability, self.id)
    }
}

/// The slots of one CNode object, shared by every copy of its capability.
///
/// The array of entries grows up to the highest slot used, not to the CNode's size, so the
/// kernel heap grows with the capabilities stored, not with the CNodes user code retypes.
#[derive(Debug)]
struct Table {
    /// The id of the capability that created the CNode: tells a [`CSpace`] handle to a CNode
    /// since deleted from one to a new CNode at the same address.
    created_by: u64,
    /// Base of the CNode object.
    cnode: u64,
    slots: u64,
    entries: Vec<Option<Entry>>,
}

impl Table {
    fn get(&self, index: u32) -> Option<Entry> {
        self.entries.get(index as usize).copied().flatten()
    }

    /// Stores into a slot the caller checked is below `slots` and empty. Returns by how many
    /// entries the table grew (the capacity is kept equal to the length, so that the table
    /// slots counted against the core's limit are the memory held).
    fn put(&mut self, index: u32, entry: Entry) -> usize {
        let index = index as usize;
        let grown = self.growth(index as u32);
        if grown > 0 {
            self.entries.reserve_exact(grown);
            self.entries.resize(index + 1, None);
        }
        self.entries[index] = Some(entry);
        grown
    }

    /// How many entries storing into `index` adds.
    fn growth(&self, index: u32) -> usize {
        (index as usize + 1).saturating_sub(self.entries.len())
    }

    /// Takes a slot's entry; returns it and by how many entries the table shrank.
    fn take(&mut self, index: u32) -> (Option<Entry>, usize) {
        let Some(slot) = self.entries.get_mut(index as usize) else { return (None, 0) };
        let entry = slot.take();
        // Give back the tail, so that a CNode emptied from its end holds no memory.
        let before = self.entries.len();
        while self.entries.last().is_some_and(Option::is_none) {
            self.entries.pop();
        }
        if self.entries.len() < before {
            self.entries.shrink_to_fit();
        }
        (entry, before - self.entries.len())
    }
}

/// A capability space: the handle a CPU driver keeps for a dispatcher, naming its root CNode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CSpace {
    table: u32,
    created_by: u64,
}

/// A slot in a capability space: where an operation finds its source or puts its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotRef {
    /// The capability space.
    pub cspace: CSpace,
    /// The slot's address in it.
    pub addr: CapAddr,
}

impl CSpace {
    /// Slot `addr` of this capability space.
    pub fn slot(self, addr: CapAddr) -> SlotRef {
        SlotRef { cspace: self, addr }
    }
}

/// A slot the kernel holds outside every capability space, for capabilities its own objects
/// keep (a dispatcher's root CNode and root VNode, the boot memory before the monitor runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeldSlot {
    index: u32,
    id: u64,
}

/// What a retype makes: `count` objects of `kind`, `object_size` bytes each, one after the
/// other from `offset` bytes into the source object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retype {
    /// Type of the new objects.
    pub kind: CapType,
    /// Where the first object starts, from the source's base.
    pub offset: u64,
    /// Bytes per object.
    pub object_size: u64,
    /// Number of objects; their capabilities go to consecutive slots from the destination.
    pub count: u64,
}

/// The identity of one capability (one slot's entry; a copy has another): unique on its core
/// and never reused, so state keyed by it cannot be confused with a later capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CapId(pub u64);

/// One capability an operation removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemovedCap {
    /// The capability.
    pub capability: Capability,
    /// Its identity (as [`CoreCapabilities::identify_with_id`] gave it while it lived).
    pub id: CapId,
    /// Whether it was the last capability naming its object: the kernel tears the object down
    /// (unmaps a Frame everywhere it is mapped, stops a Dispatcher, forgets a VNode's
    /// translation table). The CNode tables of last CNode capabilities are emptied by this
    /// crate, and their contents appear in the same list.
    pub last_copy: bool,
}

/// What a delete or revoke removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removal {
    /// Every capability removed, in the order removed.
    pub removed: Vec<RemovedCap>,
    /// Physical memory (never device memory) that no capability on this core names any more:
    /// the kernel may hand it out again (as new RAM capabilities). Disjoint ranges.
    pub unreferenced: Vec<Region>,
}

/// Every capability of one core.
#[derive(Debug)]
pub struct CoreCapabilities {
    /// CNode tables, by index (a slab: `free_tables` lists the empty entries to reuse).
    tables: Vec<Option<Table>>,
    free_tables: Vec<u32>,
    /// Index of the table of each CNode object, by the object's base.
    table_of_cnode: BTreeMap<u64, u32>,
    held: Vec<Option<Entry>>,
    /// Indices of empty held slots, reused first so that `held` stays as long as the most
    /// capabilities the kernel ever held at once.
    held_free: Vec<u32>,
    mdb: Mdb,
    next_id: u64,
    /// Most units of [`usage`](Self::usage) this core may hold.
    limit: usize,
    /// Units below the limit only privileged calls may take ([`set_privileged`](Self::set_privileged)).
    reserved: usize,
    /// Whether the operations from now on are the privileged caller's.
    privileged: bool,
    /// Entries of every CNode table (each as long as its highest slot in use).
    table_slots: usize,
    /// Objects whose capabilities here are copies of another core's: the owning core.
    foreign: BTreeMap<ObjectKey, u32>,
    /// Objects this core owns of which copies were sent to other cores.
    lent: BTreeSet<ObjectKey>,
    /// Objects of kernel-held records of memory given to another core (`disown_held`): no
    /// sweep by that core removes them.
    given_away: BTreeSet<ObjectKey>,
}

/// The limit of [`CoreCapabilities::new`]: large enough for every host test (a CPU driver
/// chooses its own from its heap size with [`CoreCapabilities::with_limit`]).
pub const DEFAULT_CAPABILITY_LIMIT: usize = 1 << 22;

impl Default for CoreCapabilities {
    fn default() -> Self {
        CoreCapabilities::new()
    }
}

impl CoreCapabilities {
    /// No capability at all, and the limit [`DEFAULT_CAPABILITY_LIMIT`] (for tests).
    pub fn new() -> CoreCapabilities {
        CoreCapabilities::with_limit(DEFAULT_CAPABILITY_LIMIT)
    }

    /// No capability at all; at most `limit` units of [`usage`](Self::usage) at any time.
    /// Every operation that would go past it is refused with
    /// [`CapError::OutOfCapabilities`] before it changes anything, so that the memory these
    /// capabilities take (the kernel heap) stays bounded whatever a program asks for.
    pub fn with_limit(limit: usize) -> CoreCapabilities {
        CoreCapabilities {
            tables: Vec::new(),
            free_tables: Vec::new(),
            table_of_cnode: BTreeMap::new(),
            held: Vec::new(),
            held_free: Vec::new(),
            mdb: Mdb::default(),
            next_id: 1,
            limit,
            reserved: 0,
            privileged: false,
            table_slots: 0,
            foreign: BTreeMap::new(),
            lent: BTreeSet::new(),
            given_away: BTreeSet::new(),
        }
    }

    /// What counts against the limit: one unit per live capability, per CNode table (one per
    /// CNode object with a capability) and per entry of the CNode tables (each is as long as
    /// its highest slot in use, so a capability in a CNode slot costs at least two units).
    pub fn usage(&self) -> usize {
        self.mdb.len() + self.table_of_cnode.len() + self.table_slots
    }

    /// The most units of [`usage`](Self::usage) this core may hold.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Keeps the last `units` below the limit for privileged callers: a kernel sets it so that
    /// its programs, filling the core's capabilities, cannot stop the operations of the one
    /// that runs the system's protocols (the monitor, which must still receive what other
    /// cores send). At most the limit.
    pub fn set_reserve(&mut self, units: usize) {
        self.reserved = units.min(self.limit);
    }

    /// Says whether the operations from now on are made for a privileged caller (one that may
    /// use the reserve, see [`set_reserve`](Self::set_reserve)).
    pub fn set_privileged(&mut self, privileged: bool) {
        self.privileged = privileged;
    }

    /// Refuses with [`CapError::OutOfCapabilities`] unless `units` more fit under the limit
    /// (less the reserve, for a caller that is not privileged).
    fn reserve(&self, units: usize) -> Result<(), CapError> {
        let ceiling = if self.privileged { self.limit } else { self.limit - self.reserved };
        match self.usage().checked_add(units) {
            Some(total) if total <= ceiling => Ok(()),
            _ => Err(CapError::OutOfCapabilities),
        }
    }

    /// Units that storing `capability` at `location` adds: the capability, the entries its
    /// CNode table grows by, and a new table for a CNode object that has none yet.
    fn cost(&self, location: Location, capability: &Capability) -> usize {
        let growth = match location {
            Location::Slot { table, index } => self.table(table).map_or(0, |t| t.growth(index)),
            Location::Held(_) => 0,
        };
        1 + growth + self.new_table_cost(capability)
    }

    fn new_table_cost(&self, capability: &Capability) -> usize {
        usize::from(
            capability.kind() == CapType::CNode && !self.table_of_cnode.contains_key(&capability.base()),
        )
    }

    /// Number of capabilities on this core.
    pub fn len(&self) -> usize {
        self.mdb.len()
    }

    /// Whether this core has no capability.
    pub fn is_empty(&self) -> bool {
        self.mdb.len() == 0
    }

    // ----- Creating roots (boot, and the kernel's own objects) -----

    /// Puts a new root capability (no ancestor: memory the kernel hands out at boot, a device,
    /// an IRQ, the Kernel capability) into a kernel-held slot. Refused if its object overlaps
    /// one that some capability already names.
    pub fn create_held_root(&mut self, capability: Capability) -> Result<HeldSlot, CapError> {
        self.check_root(&capability)?;
        self.reserve(1 + self.new_table_cost(&capability))?;
        let index = self.free_held_index()?;
        let id = self.install(Location::Held(index), capability, None);
        Ok(HeldSlot { index, id })
    }

    /// Puts a new root capability into an empty slot of a capability space (as
    /// [`create_held_root`](Self::create_held_root)).
    pub fn create_root(&mut self, capability: Capability, dest: SlotRef) -> Result<(), CapError> {
        let location = self.resolve_empty(dest)?;
        self.check_root(&capability)?;
        self.reserve(self.cost(location, &capability))?;
        self.install(location, capability, None);
        Ok(())
    }

    fn check_root(&self, capability: &Capability) -> Result<(), CapError> {
        if capability.kind() == CapType::Endpoint {
            return Err(CapError::WrongType);
        }
        if self.mdb.overlaps_anything(capability) {
            return Err(CapError::Overlap);
        }
        Ok(())
    }

    // ----- Kernel-held slots -----

    /// Copies a capability of a capability space into a kernel-held slot (a dispatcher being
    /// created keeps its root CNode this way).
    pub fn hold(&mut self, src: SlotRef) -> Result<HeldSlot, CapError> {
        let entry = self.entry_at(src)?;
        self.reserve(1)?;
        let index = self.free_held_index()?;
        let id = self.install(Location::Held(index), entry.capability, Some(&entry.key()));
        Ok(HeldSlot { index, id })
    }

    /// The capability in a kernel-held slot.
    pub fn held(&self, slot: HeldSlot) -> Result<Capability, CapError> {
        self.held_entry(slot).map(|entry| entry.capability)
    }

    /// The capability space whose root is the CNode in a kernel-held slot.
    pub fn cspace_of_held(&self, slot: HeldSlot) -> Result<CSpace, CapError> {
        self.cspace_of(&self.held_entry(slot)?.capability)
    }

    /// Copies the capability in a kernel-held slot into a capability space (the boot memory
    /// going to the monitor).
    pub fn copy_held(&mut self, slot: HeldSlot, dest: SlotRef) -> Result<(), CapError> {
        let entry = self.held_entry(slot)?;
        let location = self.resolve_empty(dest)?;
        self.reserve(self.cost(location, &entry.capability))?;
        self.install(location, entry.capability, Some(&entry.key()));
        Ok(())
    }

    /// Deletes the capability in a kernel-held slot.
    pub fn release(&mut self, slot: HeldSlot) -> Result<Removal, CapError> {
        let entry = self.held_entry(slot)?;
        self.given_away.remove(&ObjectKey::of(&entry.capability));
        self.held[slot.index as usize] = None;
        self.held_free.push(slot.index);
        let mut removal = Removal::default();
        self.remove_detached(entry, &mut removal);
        Ok(removal)
    }

    fn held_entry(&self, slot: HeldSlot) -> Result<Entry, CapError> {
        match self.held.get(slot.index as usize) {
            Some(Some(entry)) if entry.id == slot.id => Ok(*entry),
            _ => Err(CapError::Stale),
        }
    }

    fn free_held_index(&mut self) -> Result<u32, CapError> {
        if let Some(index) = self.held_free.pop() {
            return Ok(index);
        }
        let index = u32::try_from(self.held.len()).map_err(|_| CapError::IndexOutOfRange)?;
        self.held.push(None);
        Ok(index)
    }

    // ----- Capability spaces -----

    /// The capability space whose root is the CNode at `root` (a monitor naming the root CNode
    /// of a program it builds).
    pub fn cspace_at(&self, root: SlotRef) -> Result<CSpace, CapError> {
        self.cspace_of(&self.entry_at(root)?.capability)
    }

    fn cspace_of(&self, capability: &Capability) -> Result<CSpace, CapError> {
        if capability.kind() != CapType::CNode {
            return Err(CapError::WrongType);
        }
        let table = self.table_of_cnode.get(&capability.base()).ok_or(CapError::Stale)?;
        let created_by = self.table(*table).ok_or(CapError::Stale)?.created_by;
        Ok(CSpace { table: *table, created_by })
    }

    /// Where `slot` leads, and how many slots from there on are addressable in the same CNode.
    fn resolve(&self, slot: SlotRef) -> Result<(Location, u64), CapError> {
        let decoded = slot.addr.decode()?;
        let root = match self.table(slot.cspace.table) {
            Some(table) if table.created_by == slot.cspace.created_by => table,
            _ => return Err(CapError::Stale),
        };
        let (cnode, table, index, addressable) = match decoded {
            Decoded::Level1(index) => (slot.cspace.table, root, index, 1 << 16),
            Decoded::Leaf { level1, level2 } => {
                let level2_table = match root.get(level1) {
                    Some(entry) if entry.capability.kind() == CapType::CNode => entry.table,
                    _ if u64::from(level1) >= root.slots => return Err(CapError::IndexOutOfRange),
                    _ => return Err(CapError::NotACNode),
                };
                let table = self.table(level2_table).ok_or(CapError::Stale)?;
                (level2_table, table, level2, 1 << 8)
            }
        };
        let addressable = table.slots.min(addressable);
        if u64::from(index) >= addressable {
            return Err(CapError::IndexOutOfRange);
        }
        Ok((Location::Slot { table: cnode, index }, addressable - u64::from(index)))
    }

    fn resolve_empty(&self, slot: SlotRef) -> Result<Location, CapError> {
        let (location, _) = self.resolve(slot)?;
        match self.entry(location) {
            Some(_) => Err(CapError::SlotOccupied),
            None => Ok(location),
        }
    }

    fn entry(&self, location: Location) -> Option<Entry> {
        match location {
            Location::Slot { table, index } => self.table(table)?.get(index),
            Location::Held(index) => self.held.get(index as usize).copied().flatten(),
        }
    }

    /// Replaces the capability stored at `location` by one naming the same object (its rights
    /// reduced): the derivation database does not order by rights, so nothing else changes.
    fn set_capability(&mut self, location: Location, capability: Capability) {
        let slot = match location {
            Location::Slot { table, index } => self
                .tables
                .get_mut(table as usize)
                .and_then(Option::as_mut)
                .and_then(|t| t.entries.get_mut(index as usize)),
            Location::Held(index) => self.held.get_mut(index as usize),
        };
        if let Some(Some(entry)) = slot {
            debug_assert!(entry.capability.same_object(&capability));
            entry.capability = capability;
        }
    }

    fn entry_at(&self, slot: SlotRef) -> Result<Entry, CapError> {
        let (location, _) = self.resolve(slot)?;
        self.entry(location).ok_or(CapError::EmptySlot)
    }

    /// Stores a capability and records it in the derivation database; returns its id.
    fn install(&mut self, location: Location, capability: Capability, parent: Option<&MdbKey>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut entry = Entry { capability, id, table: u32::MAX };
        if capability.kind() == CapType::CNode {
            entry.table = match self.table_of_cnode.get(&capability.base()) {
                Some(&table) => table,
                None => self.new_table(capability, id),
            };
        }
        match location {
            Location::Slot { table, index } => {
                if let Some(table) = self.tables.get_mut(table as usize).and_then(Option::as_mut) {
                    self.table_slots += table.put(index, entry);
                }
            }
            Location::Held(index) => self.held[index as usize] = Some(entry),
        }
        self.mdb.insert(entry.key(), location, parent);
        id
    }

    fn table(&self, index: u32) -> Option<&Table> {
        self.tables.get(index as usize)?.as_ref()
    }

    fn new_table(&mut self, cnode: Capability, created_by: u64) -> u32 {
        let table =
            Table { created_by, cnode: cnode.base(), slots: cnode.cnode_slots(), entries: Vec::new() };
        let index = match self.free_tables.pop() {
            Some(index) => {
                self.tables[index as usize] = Some(table);
                index
            }
            None => {
                self.tables.push(Some(table));
                (self.tables.len() - 1) as u32
            }
        };
        self.table_of_cnode.insert(cnode.base(), index);
        index
    }

    fn remove_table(&mut self, index: u32) -> Option<Table> {
        let table = self.tables.get_mut(index as usize)?.take()?;
        self.table_of_cnode.remove(&table.cnode);
        self.table_slots -= table.entries.len();
        self.free_tables.push(index);
        Some(table)
    }

    // ----- Operations -----

    /// Type, object and rights of the capability at `slot`.
    pub fn identify(&self, slot: SlotRef) -> Result<Capability, CapError> {
        self.entry_at(slot).map(|entry| entry.capability)
    }

    /// The capability at `slot` and its identity: unique to this one capability (not shared by
    /// its copies), never reused on this core, and reported again in [`RemovedCap::id`] when it
    /// goes, so that the kernel can key state of its own (where a Frame is mapped) by it.
    pub fn identify_with_id(&self, slot: SlotRef) -> Result<(Capability, CapId), CapError> {
        self.entry_at(slot).map(|entry| (entry.capability, CapId(entry.id)))
    }

    /// The capability at `slot`, if it has type `kind` and every right in `needs`: the check in
    /// front of every invocation (map needs a Frame with the rights of the mapping; a monitor's
    /// operations need the Kernel capability).
    pub fn lookup(&self, slot: SlotRef, kind: CapType, needs: Rights) -> Result<Capability, CapError> {
        let capability = self.identify(slot)?;
        if capability.kind() != kind {
            return Err(CapError::WrongType);
        }
        if !capability.rights().contains(needs) {
            return Err(CapError::Denied);
        }
        Ok(capability)
    }

    /// Copies the capability at `src` into the empty slot `dest`, with the same rights.
    pub fn copy(&mut self, src: SlotRef, dest: SlotRef) -> Result<(), CapError> {
        let entry = self.entry_at(src)?;
        self.mint(src, dest, entry.capability.rights())
    }

    /// Copies the capability at `src` into the empty slot `dest` with `rights`, which must be a
    /// subset of the source's: rights never grow.
    pub fn mint(&mut self, src: SlotRef, dest: SlotRef, rights: Rights) -> Result<(), CapError> {
        let entry = self.entry_at(src)?;
        if !entry.capability.rights().contains(rights) {
            return Err(CapError::RightsExceeded);
        }
        let location = self.resolve_empty(dest)?;
        let minted = entry.capability.with_rights(rights);
        self.reserve(self.cost(location, &minted))?;
        self.install(location, minted, Some(&entry.key()));
        Ok(())
    }

    /// Makes an Endpoint to the Dispatcher at `dispatcher`, carrying `badge`, in the empty slot
    /// `dest`. It has the dispatcher capability's rights and is its descendant: revoking the
    /// dispatcher removes it.
    pub fn create_endpoint(
        &mut self,
        dispatcher: SlotRef,
        badge: u64,
        dest: SlotRef,
    ) -> Result<(), CapError> {
        let entry = self.entry_at(dispatcher)?;
        let source = entry.capability;
        if source.kind() != CapType::Dispatcher {
            return Err(CapError::WrongType);
        }
        let location = self.resolve_empty(dest)?;
        let endpoint =
            Capability::derived(CapType::Endpoint, source.base(), source.size(), source.rights(), badge);
        self.reserve(self.cost(location, &endpoint))?;
        self.install(location, endpoint, Some(&entry.key()));
        Ok(())
    }

    /// Retypes part of the memory object at `src` into `request.count` new objects, whose
    /// capabilities go to consecutive empty slots from `dest` (in one CNode). The source needs
    /// the write right; the new capabilities get the source's rights. Returns the range of the
    /// new objects, which the kernel zeroes (and, for VNodes and Dispatchers, initialises).
    ///
    /// Refused when the type pair is not allowed ([`CapType::retypes_into`]), a same-type
    /// retype does not make smaller objects (use copy), sizes or alignment break the new
    /// type's rules, the range leaves the source, or any part of it is retyped already.
    pub fn retype(&mut self, src: SlotRef, request: Retype, dest: SlotRef) -> Result<Region, CapError> {
        let entry = self.entry_at(src)?;
        let source = entry.capability;
        self.check_owned(&source)?;
        let region = Self::check_retype(&source, &request)?;
        let (first, addressable) = self.resolve(dest)?;
        if request.count > addressable {
            return Err(CapError::IndexOutOfRange);
        }
        let Location::Slot { table: cnode, index } = first else { return Err(CapError::InvalidAddress) };
        let dest_table = self.table(cnode).ok_or(CapError::Stale)?;
        let last = index + (request.count - 1) as u32;
        if (index..=last).any(|i| dest_table.get(i).is_some()) {
            return Err(CapError::SlotOccupied);
        }
        let source_key = entry.key();
        if self.mdb.has_descendant_overlapping(&source_key, region) {
            return Err(CapError::AlreadyRetyped);
        }
        // The children, their tables if CNodes (new objects: nothing named the range), and the
        // destination table's growth up to the last slot.
        let count = request.count as usize;
        let tables = if request.kind == CapType::CNode { count } else { 0 };
        self.reserve(count + tables + dest_table.growth(last))?;
        for i in 0..request.count {
            let child = Capability::derived(
                request.kind,
                region.base + i * request.object_size,
                request.object_size,
                source.rights(),
                0,
            );
            self.install(Location::Slot { table: cnode, index: index + i as u32 }, child, Some(&source_key));
        }
        Ok(region)
    }

    /// The checks of [`retype`](Self::retype) that need only the source and the request;
    /// returns the range of the new objects.
    fn check_retype(source: &Capability, request: &Retype) -> Result<Region, CapError> {
        if !source.kind().retypes_into(request.kind) {
            return Err(CapError::InvalidRetype);
        }
        if !source.rights().contains(Rights::WRITE) {
            return Err(CapError::Denied);
        }
        if request.count == 0 {
            return Err(CapError::InvalidArgument);
        }
        let alignment = request.kind.check_object_size(request.object_size)?;
        if request.kind == source.kind() && request.object_size >= source.size() {
            // Same type and size would be a copy that claims to be a child.
            return Err(CapError::InvalidSize);
        }
        let total = request.object_size.checked_mul(request.count).ok_or(CapError::OutOfBounds)?;
        let end = request.offset.checked_add(total).ok_or(CapError::OutOfBounds)?;
        if end > source.size() {
            return Err(CapError::OutOfBounds);
        }
        let region = Region { base: source.base() + request.offset, size: total };
        if !region.base.is_multiple_of(alignment) {
            return Err(CapError::Misaligned);
        }
        Ok(region)
    }

    /// Retypes part of the memory object at `src` into one new object whose capability goes
    /// to a kernel-held slot (the objects a dispatcher `spawn` builds is made of: neither the
    /// program nor the holder of `src` can delete it; [`release`](Self::release) does). The
    /// checks and refusals are [`retype`](Self::retype)'s with `request.count` 1.
    pub fn retype_held(&mut self, src: SlotRef, request: Retype) -> Result<(HeldSlot, Region), CapError> {
        let entry = self.entry_at(src)?;
        let source = entry.capability;
        if request.count != 1 {
            return Err(CapError::InvalidArgument);
        }
        self.check_owned(&source)?;
        let region = Self::check_retype(&source, &request)?;
        let source_key = entry.key();
        if self.mdb.has_descendant_overlapping(&source_key, region) {
            return Err(CapError::AlreadyRetyped);
        }
        let tables = usize::from(request.kind == CapType::CNode);
        self.reserve(1 + tables)?;
        let index = self.free_held_index()?;
        let child = Capability::derived(request.kind, region.base, request.object_size, source.rights(), 0);
        let id = self.install(Location::Held(index), child, Some(&source_key));
        Ok((HeldSlot { index, id }, region))
    }

    /// Removes the capability at `slot`. Its descendants stay (they are the descendants of its
    /// copies, or become roots). When it was the last capability of a CNode, the CNode's
    /// contents are deleted too.
    ///
    /// Refused with [`CapError::Lent`] for the last copy on this core of an object whose
    /// copies were sent to other cores: revoke it by agreement first
    /// ([`revoke_agreed`](Self::revoke_agreed)).
    pub fn delete(&mut self, slot: SlotRef) -> Result<Removal, CapError> {
        let (location, _) = self.resolve(slot)?;
        let entry = self.entry(location).ok_or(CapError::EmptySlot)?;
        if self.is_lent(&entry.capability) && self.mdb.is_last_copy(&entry.key()) {
            return Err(CapError::Lent);
        }
        let entry = self.detach(location).ok_or(CapError::EmptySlot)?;
        let mut removal = Removal::default();
        self.remove_detached(entry, &mut removal);
        Ok(removal)
    }

    /// Removes every descendant and every other copy of the capability at `slot` on this core,
    /// and keeps that capability. Returns what went, so that the kernel can unmap what was
    /// mapped. Refused (`Denied`, nothing removed) when one of them is in a kernel-held slot:
    /// the objects of a dispatcher go only when the kernel releases them.
    ///
    /// Refused with [`CapError::NotOwner`] for a copy of another core's object, and with
    /// [`CapError::Lent`] when copies of it or of a descendant were sent to other cores: those
    /// go by the monitors' agreement ([`revoke_agreed`](Self::revoke_agreed)).
    pub fn revoke(&mut self, slot: SlotRef) -> Result<Removal, CapError> {
        let (location, _) = self.resolve(slot)?;
        let entry = self.entry(location).ok_or(CapError::EmptySlot)?;
        self.check_owned(&entry.capability)?;
        let targets = self.revoke_targets(&entry)?;
        if self.is_lent(&entry.capability) || targets.iter().any(|target| self.key_is_lent(target)) {
            return Err(CapError::Lent);
        }
        Ok(self.remove_all(targets))
    }

    /// The other copies and the descendants of `entry` on this core; refused (`Denied`) when
    /// the kernel holds one of them: a dispatcher's objects go only when the kernel releases
    /// them.
    fn revoke_targets(&self, entry: &Entry) -> Result<Vec<MdbKey>, CapError> {
        let key = entry.key();
        let mut targets: Vec<MdbKey> = self.mdb.copies(&key).collect();
        targets.extend(self.mdb.descendants(&key));
        if targets.iter().any(|target| matches!(self.mdb.location(target), Some(Location::Held(_)))) {
            return Err(CapError::Denied);
        }
        Ok(targets)
    }

    /// Removes the capabilities at `targets` (and what goes with them).
    fn remove_all(&mut self, targets: Vec<MdbKey>) -> Removal {
        let mut removal = Removal::default();
        for target in targets {
            // An earlier removal may have taken this one already (the contents of a CNode whose
            // last capability went).
            let Some(location) = self.mdb.location(&target) else { continue };
            if let Some(entry) = self.detach(location) {
                self.remove_detached(entry, &mut removal);
            }
        }
        removal
    }

    /// Takes the entry out of its slot.
    fn detach(&mut self, location: Location) -> Option<Entry> {
        match location {
            Location::Slot { table, index } => {
                let (entry, shrunk) = self.tables.get_mut(table as usize)?.as_mut()?.take(index);
                self.table_slots -= shrunk;
                entry
            }
            Location::Held(index) => {
                let entry = self.held.get_mut(index as usize)?.take()?;
                self.held_free.push(index);
                Some(entry)
            }
        }
    }

    /// Removes detached entries from the derivation database; the contents of a CNode whose
    /// last capability goes are removed as well (a work list, not recursion: CNodes may nest
    /// deeply and the kernel stack is small).
    fn remove_detached(&mut self, first: Entry, removal: &mut Removal) {
        let mut work = Vec::new();
        let mut next = Some(first);
        while let Some(entry) = next.take().or_else(|| work.pop()) {
            let key = entry.key();
            let unreferenced = self.mdb.remove(&key);
            let capability = entry.capability;
            let last_copy = self.mdb.is_last_copy(&key);
            // Memory of another core's object, or of one lent to other cores, is not this
            // core's to hand out again, whatever capabilities remain here.
            let shared = self.forget_remote_state(&capability, last_copy);
            if capability.kind().space() == Space::Physical
                && capability.kind() != CapType::DeviceFrame
                && !shared
            {
                removal.unreferenced.extend(unreferenced);
            }
            removal.removed.push(RemovedCap { capability, id: CapId(entry.id), last_copy });
            if capability.kind() == CapType::CNode && last_copy {
                if let Some(table) = self.remove_table(entry.table) {
                    work.extend(table.entries.into_iter().flatten());
                }
            }
        }
    }

    // ----- Inspection -----

    /// Every capability on this core (slots of every CNode, then kernel-held slots), for
    /// accounting and tests.
    pub fn capabilities(&self) -> impl Iterator<Item = Capability> + '_ {
        let in_cnodes = self.tables.iter().flatten().flat_map(|table| table.entries.iter().flatten());
        in_cnodes.chain(self.held.iter().flatten()).map(|entry| entry.capability)
    }

    /// Checks the internal indexes against the stored capabilities (for tests and debugging).
    pub fn check_consistency(&self) -> Result<(), &'static str> {
        let mut stored = 0;
        for (cnode, table) in self.tables.iter().enumerate() {
            let Some(table) = table else { continue };
            let cnode = cnode as u32;
            if self.table_of_cnode.get(&table.cnode) != Some(&cnode) {
                return Err("a CNode table is not indexed by its object");
            }
            for (index, entry) in table.entries.iter().enumerate() {
                let Some(entry) = entry else { continue };
                let index = index as u32;
                if self.mdb.location(&entry.key()) != Some(Location::Slot { table: cnode, index }) {
                    return Err("a stored capability is missing from the derivation database");
                }
                if u64::from(index) >= table.slots {
                    return Err("a capability lies beyond its CNode's slots");
                }
                stored += 1;
            }
        }
        for (index, entry) in self.held.iter().enumerate() {
            if let Some(entry) = entry {
                if self.mdb.location(&entry.key()) != Some(Location::Held(index as u32)) {
                    return Err("a held capability is missing from the derivation database");
                }
                stored += 1;
            }
        }
        if stored != self.mdb.len() {
            return Err("the derivation database names capabilities no slot holds");
        }
        let slots: usize = self.tables.iter().flatten().map(|table| table.entries.len()).sum();
        if slots != self.table_slots {
            return Err("the count of CNode table entries is wrong");
        }
        if self.usage() > self.limit {
            return Err("more capabilities than the limit");
        }
        let cnode_objects: BTreeMap<u64, ()> =
            self.capabilities().filter(|c| c.kind() == CapType::CNode).map(|c| (c.base(), ())).collect();
        if !self.table_of_cnode.keys().eq(cnode_objects.keys()) {
            return Err("CNode tables and CNode capabilities differ");
        }
        self.check_remote()?;
        self.mdb.check()
    }
}
