//! Frames mapped through VNode capabilities on this core: which entry of which level-3 VNode
//! each mapped Frame capability occupies, writing and clearing those entries with the barriers
//! and TLB maintenance the Arm ARM asks for (`cpu_driver::arch::aarch64::tlb`), and unmapping
//! what a delete or revoke removed. Mapping state follows capabilities: a record is keyed by
//! the capability's identity (`caps::CapId`, one per capability, never reused), so deleting or
//! revoking a mapped Frame capability (or the RAM it came from, whose revoke removes it) clears
//! its entry before the memory can be retyped into something else. A leaf: it uses only the
//! library and `caps`.
//!
//! The model: level-3 VNodes installed in 2 MiB windows of a dispatcher's address space, window
//! `w` at `layout::USER_MAPPABLE_BASE + w * 2 MiB` (`w` < 512, all in one level-2 table).
//! Window 0 holds the VNode the kernel gives every dispatcher (a pool page, capability at
//! `SLOT_VNODE`); a program installs VNodes it retyped from its own RAM in windows 1 to 511
//! (`vnode_install`), as Barrelfish's pmap builds its tables. Entry `n` of the VNode in window
//! `w` maps the page at `USER_MAPPABLE_BASE + w * 2 MiB + n * PAGE_SIZE`. A capability maps
//! one page (the first of its Frame); a second mapping of the same Frame needs a copy of the
//! capability. This module also records which VNode is installed where, so that the last
//! capability of an installed VNode going uninstalls it (its memory could otherwise be
//! retyped into a Frame and mapped: a page table the program could write).

extern crate alloc;

use alloc::collections::BTreeMap;

use caps::{CapId, Removal};
use cpu_driver::arch::aarch64::tlb;
use cpu_driver::layout::{MIB2, PAGE_SIZE, USER_MAPPABLE_BASE};
use cpu_driver::paging::{Table, ENTRIES};

/// Which TLBs an unmap invalidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlbScope {
    /// This core's: every address space is one core's alone (`tlb` module documentation).
    ThisCore,
    /// Every core's of the Inner Shareable domain: the shared-memory baseline of the unmap
    /// experiment, as if several cores walked this table.
    InnerShareable,
}

/// One dispatcher's level-3 VNode: where its table is and whose address space walks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VNode {
    /// Physical address of the table (the VNode capability's base).
    pub pa: u64,
    /// The kernel's view of it (the frame pool's mapping).
    pub kernel_va: u64,
    /// The ASID of the address space it is installed in.
    pub asid: u16,
    /// The dispatcher whose address space it is installed in.
    pub owner: usize,
    /// The window it is installed in (0 to 511).
    pub window: usize,
}

impl VNode {
    fn table(&self) -> *mut Table {
        self.kernel_va as *mut Table
    }

    fn read(&self, entry: usize) -> u64 {
        // SAFETY: `kernel_va` is the kernel's read-write view of a 4 KiB table from the frame
        // pool, used only as this VNode's table (the MMU also reads it: volatile, so every
        // access really happens); `entry` < 512 is checked by every caller.
        unsafe { core::ptr::read_volatile(&raw const (*self.table())[entry]) }
    }

    fn write(&self, entry: usize, descriptor: u64) {
        // SAFETY: as in `read`; a single aligned 64-bit store, so a walk sees either the old or
        // the new descriptor, never a mix (single-copy atomicity of aligned doublewords, Arm
        // ARM B2.2.1).
        unsafe { core::ptr::write_volatile(&raw mut (*self.table())[entry], descriptor) }
    }

    /// The user address of window `window`.
    pub fn window_va(window: usize) -> u64 {
        USER_MAPPABLE_BASE + window as u64 * MIB2
    }

    /// The user address entry `entry` maps.
    pub fn va_of(&self, entry: usize) -> u64 {
        Self::window_va(self.window) + entry as u64 * PAGE_SIZE
    }
}

/// Why a map or unmap was refused (the system call turns these into capability errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The entry index is not below 512.
    OutOfRange,
    /// The entry maps something already.
    Occupied,
    /// The entry maps nothing.
    Empty,
    /// This Frame capability is mapped already (map a copy to map it twice).
    AlreadyMapped,
    /// This VNode is installed already.
    AlreadyInstalled,
    /// The entry maps another capability than the one named.
    NotThisFrame,
}

/// One mapping: `pages` consecutive entries from `entry` of `vnode`, the Frame's first pages.
#[derive(Clone, Copy, Debug)]
struct Mapping {
    vnode: VNode,
    entry: usize,
    pages: usize,
}

impl Mapping {
    fn entries(&self) -> core::ops::Range<usize> {
        self.entry..self.entry + self.pages
    }
}

/// Above this many pages a mapping's TLB entries go by invalidating its whole address space
/// (`tlbi aside1is`) rather than page by page.
const PAGE_BY_PAGE_LIMIT: usize = 16;

/// Every mapping made through a VNode capability on this core.
#[derive(Default)]
pub struct Mappings {
    by_cap: BTreeMap<CapId, Mapping>,
    by_entry: BTreeMap<(u64, usize), CapId>,
    /// Installed VNodes by physical address.
    installed: BTreeMap<u64, VNode>,
}

impl Mappings {
    /// No mappings.
    pub fn new() -> Mappings {
        Mappings::default()
    }

    /// Maps the Frame capability `frame` into `pages` consecutive entries from `entry` of
    /// `vnode`, which must all be empty: entry `entry + i` gets `descriptor(i)` (a valid
    /// level-3 page descriptor for the Frame's page `i`). Records it as one mapping.
    pub fn map(
        &mut self,
        vnode: VNode,
        entry: usize,
        pages: usize,
        frame: CapId,
        descriptor: impl Fn(usize) -> u64,
    ) -> Result<(), Refusal> {
        let mapping = Mapping { vnode, entry, pages };
        if pages == 0 || entry.checked_add(pages).is_none_or(|end| end > ENTRIES) {
            return Err(Refusal::OutOfRange);
        }
        if self.by_cap.contains_key(&frame) {
            return Err(Refusal::AlreadyMapped);
        }
        if mapping.entries().any(|e| vnode.read(e) != 0) {
            return Err(Refusal::Occupied);
        }
        for (i, e) in mapping.entries().enumerate() {
            vnode.write(e, descriptor(i));
        }
        // The entries were invalid, so no TLB holds them (invalid entries are never cached):
        // only the stores must be complete before the program's next access walks the table.
        tlb::publish_new_entry();
        self.by_cap.insert(frame, mapping);
        for e in mapping.entries() {
            self.by_entry.insert((vnode.pa, e), frame);
        }
        Ok(())
    }

    /// Clears the whole mapping `entry` of `vnode` belongs to (an entry mapped some other way
    /// alone), which must map something, and invalidates its TLB entries.
    pub fn unmap(&mut self, vnode: VNode, entry: usize, scope: TlbScope) -> Result<(), Refusal> {
        if entry >= ENTRIES {
            return Err(Refusal::OutOfRange);
        }
        if vnode.read(entry) == 0 {
            return Err(Refusal::Empty);
        }
        match self.by_entry.get(&(vnode.pa, entry)).copied() {
            Some(frame) => self.forget_in(frame, scope),
            None => Self::clear(Mapping { vnode, entry, pages: 1 }, scope),
        }
        Ok(())
    }

    /// Removes the mapping of `frame` from the record and the table.
    fn forget(&mut self, frame: CapId) {
        self.forget_in(frame, TlbScope::ThisCore);
    }

    fn forget_in(&mut self, frame: CapId, scope: TlbScope) {
        if let Some(mapping) = self.by_cap.remove(&frame) {
            for e in mapping.entries() {
                self.by_entry.remove(&(mapping.vnode.pa, e));
            }
            Self::clear(mapping, scope);
        }
    }

    /// Rewrites the live mapping `entry` of `vnode` belongs to, which must be of `frame`, with
    /// `descriptor(i)` for its page `i` (the same pages, other permissions), then invalidates
    /// its pages' TLB entries for the VNode's address space. Only access permissions change,
    /// never the output address, memory type or size, so the entries may be rewritten in
    /// place without break-before-make (Arm ARM D8.16.1); the invalidation makes a reduction
    /// hold on every core from the return on (`dsb ishst; tlbi vale1is; dsb ish; isb`).
    /// Returns the mapping's pages.
    pub fn protect(
        &mut self,
        vnode: VNode,
        entry: usize,
        frame: CapId,
        descriptor: impl Fn(usize) -> u64,
    ) -> Result<usize, Refusal> {
        if entry >= ENTRIES {
            return Err(Refusal::OutOfRange);
        }
        match self.by_entry.get(&(vnode.pa, entry)) {
            None => return Err(Refusal::Empty),
            Some(mapped) if *mapped != frame => return Err(Refusal::NotThisFrame),
            Some(_) => {}
        }
        let Some(mapping) = self.by_cap.get(&frame).copied() else { return Err(Refusal::Empty) };
        for (i, e) in mapping.entries().enumerate() {
            let new = descriptor(i);
            debug_assert_eq!(
                cpu_driver::paging::descriptor_address(vnode.read(e)),
                cpu_driver::paging::descriptor_address(new)
            );
            vnode.write(e, new);
        }
        Self::invalidate(mapping, TlbScope::ThisCore);
        Ok(mapping.pages)
    }

    /// After the rights of the capability `frame` were reduced (a protect by agreement): its
    /// mapping, if any, is removed when `readable` is false, or else rewritten with
    /// `descriptor(i)` (read-only) where it allowed writes, then its TLB entries invalidated as
    /// in [`protect`](Self::protect). Returns whether a mapping changed.
    pub fn reduce(&mut self, frame: CapId, readable: bool, descriptor: impl Fn(usize) -> u64) -> bool {
        let Some(mapping) = self.by_cap.get(&frame).copied() else { return false };
        if !readable {
            self.forget(frame);
            return true;
        }
        if mapping.entries().all(|e| cpu_driver::paging::is_read_only(mapping.vnode.read(e))) {
            return false;
        }
        for (i, e) in mapping.entries().enumerate() {
            mapping.vnode.write(e, descriptor(i));
        }
        Self::invalidate(mapping, TlbScope::ThisCore);
        true
    }

    /// Break: the entries go invalid, then every TLB entry for them.
    fn clear(mapping: Mapping, scope: TlbScope) {
        for e in mapping.entries() {
            mapping.vnode.write(e, 0);
        }
        Self::invalidate(mapping, scope);
    }

    /// Every TLB entry of the mapping's pages in its address space: page by page
    /// (`tlb::invalidate_page`), or the whole ASID past [`PAGE_BY_PAGE_LIMIT`] pages; this
    /// core's TLB alone unless `scope` asks for the broadcast.
    fn invalidate(mapping: Mapping, scope: TlbScope) {
        if scope == TlbScope::InnerShareable {
            for e in mapping.entries() {
                tlb::invalidate_page_inner_shareable(mapping.vnode.asid, mapping.vnode.va_of(e));
            }
        } else if mapping.pages > PAGE_BY_PAGE_LIMIT {
            tlb::invalidate_asid(mapping.vnode.asid);
        } else {
            for e in mapping.entries() {
                tlb::invalidate_page(mapping.vnode.asid, mapping.vnode.va_of(e));
            }
        }
    }

    /// Records `vnode` as installed (the caller wrote the level-2 entry).
    pub fn record_installed(&mut self, vnode: VNode) -> Result<(), Refusal> {
        if self.installed.contains_key(&vnode.pa) {
            return Err(Refusal::AlreadyInstalled);
        }
        self.installed.insert(vnode.pa, vnode);
        Ok(())
    }

    /// The installed VNode whose table is at `pa`.
    pub fn installed(&self, pa: u64) -> Option<VNode> {
        self.installed.get(&pa).copied()
    }

    /// Every VNode installed in dispatcher `owner`'s address space.
    pub fn installed_in(&self, owner: usize) -> alloc::vec::Vec<VNode> {
        self.installed.values().filter(|v| v.owner == owner).copied().collect()
    }

    /// Unmaps every entry of an installed VNode and forgets it was installed; returns it, for
    /// the caller to clear its level-2 entry and invalidate the ASID.
    pub fn forget_installed(&mut self, pa: u64) -> Option<VNode> {
        self.unmap_table(pa);
        self.installed.remove(&pa)
    }

    /// Unmaps whatever the capabilities `removal` lists had mapped: each removed Frame
    /// capability's entry; every entry of a VNode whose last capability went. Returns the
    /// installed VNodes whose last capability went: the caller uninstalls them.
    pub fn unmap_removed(&mut self, removal: &Removal) -> alloc::vec::Vec<VNode> {
        let mut uninstall = alloc::vec::Vec::new();
        for removed in &removal.removed {
            self.forget(removed.id);
            if removed.last_copy && removed.capability.kind() == caps::CapType::VNodeL3 {
                uninstall.extend(self.forget_installed(removed.capability.base()));
            }
        }
        uninstall
    }

    /// Unmaps every mapping made through a capability into the VNode at `pa` (its table is
    /// going away or its address space ended). Returns how many.
    pub fn unmap_table(&mut self, pa: u64) -> usize {
        let mut frames: alloc::vec::Vec<CapId> =
            self.by_entry.range((pa, 0)..(pa, ENTRIES)).map(|(_, v)| *v).collect();
        frames.dedup();
        for frame in &frames {
            self.forget(*frame);
        }
        frames.len()
    }
}
