//! The derivation database (Barrelfish's "mdb") of one core.
//!
//! Two ordered indexes over the same capabilities:
//!
//! **The derivation order** (`order`) holds one [`MdbKey`] per capability, sorted by
//! `(space, base, size descending, type rank, badge, id)`. Ranges of live capabilities form a
//! *laminar* family: any two are disjoint or nested, because roots never overlap and retype
//! carves children only out of parts of their parent that have no descendants yet. In this
//! order therefore:
//! - the **copies** of a capability (same type, range and badge; rights may differ) are one
//!   contiguous run, differing only in `id`;
//! - its **descendants** are the run that follows its copies and ends at the first entry whose
//!   base lies at or past its end: every entry starting inside a range is contained in it, and
//!   a contained entry is a descendant when it is strictly smaller or of higher type rank
//!   (entries of the same range and rank, such as another badge of an Endpoint, are siblings
//!   and are stepped over);
//! - its **ancestors** sort before it.
//!
//! **The range tree** (`ranges`, `top`) has one node per distinct range that at least one
//! capability names, with the number of those capabilities, its parent range (the smallest
//! strictly larger range containing it) and its children ranges by base. Children of one node
//! are disjoint (the family is laminar), so "does any descendant overlap `[a, b)`" is one
//! predecessor look-up among the children, "does a new root overlap anything" one among the
//! top-level ranges, and when the last capability of a top-level range goes, the parts of the
//! range not covered by its children are exactly the memory no capability names any more.
//!
//! Every query is a logarithmic look-up plus, where a result is a list (descendants, copies),
//! the length of that list.

use alloc::collections::{btree_map, BTreeMap};
use alloc::vec::Vec;

use crate::capability::{Capability, Region, Space};
use crate::store::Location;

/// Position of a capability in the derivation order (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct MdbKey {
    space: Space,
    base: u64,
    /// `u64::MAX - size`, so that larger ranges (ancestors) sort first.
    size_descending: u64,
    rank: u8,
    badge: u64,
    /// Unique per capability on this core, never reused: tells copies apart.
    id: u64,
}

/// One distinct range of one space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RangeKey {
    space: Space,
    base: u64,
    size: u64,
}

#[derive(Debug)]
struct RangeNode {
    /// Capabilities naming exactly this range.
    capabilities: u64,
    /// The smallest strictly larger range containing this one; `None` at the top.
    parent: Option<RangeKey>,
    /// Maximal strictly smaller ranges inside this one: base -> size.
    children: BTreeMap<u64, u64>,
}

impl MdbKey {
    pub(crate) fn of(capability: &Capability, id: u64) -> MdbKey {
        MdbKey {
            space: capability.kind().space(),
            base: capability.base(),
            size_descending: u64::MAX - capability.size(),
            rank: capability.kind() as u8,
            badge: capability.badge(),
            id,
        }
    }

    fn size(&self) -> u64 {
        u64::MAX - self.size_descending
    }

    fn end(&self) -> u64 {
        self.base + self.size()
    }

    fn range(&self) -> RangeKey {
        RangeKey { space: self.space, base: self.base, size: self.size() }
    }

    fn with_id(self, id: u64) -> MdbKey {
        MdbKey { id, ..self }
    }

    fn same_range(&self, other: &MdbKey) -> bool {
        self.range() == other.range()
    }
}

/// The derivation database.
#[derive(Debug, Default)]
pub(crate) struct Mdb {
    order: BTreeMap<MdbKey, Location>,
    ranges: BTreeMap<RangeKey, RangeNode>,
    /// Top-level ranges: (space, base) -> size. Disjoint within a space.
    top: BTreeMap<(Space, u64), u64>,
}

impl Mdb {
    /// Number of capabilities.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn location(&self, key: &MdbKey) -> Option<Location> {
        self.order.get(key).copied()
    }

    /// Whether a new root capability for `[base, base + size)` of `space` would overlap a range
    /// some capability already names.
    pub(crate) fn overlaps_anything(&self, capability: &Capability) -> bool {
        let space = capability.kind().space();
        let end = capability.base() + capability.size();
        self.top
            .range((space, 0)..(space, end))
            .next_back()
            .is_some_and(|(&(_, base), &size)| base + size > capability.base())
    }

    /// Whether a descendant of the capability at `key` overlaps `region`, which lies inside it.
    pub(crate) fn has_descendant_overlapping(&self, key: &MdbKey, region: Region) -> bool {
        // Descendants of the very same range (a Frame retyped from all of a RAM) cover all of
        // it; they sort right after the entries of the same range and lower or equal rank.
        let higher_rank = MdbKey { rank: key.rank + 1, badge: 0, id: 0, ..*key };
        if self.order.range(higher_rank..).next().is_some_and(|(next, _)| next.same_range(key)) {
            return true;
        }
        let Some(node) = self.ranges.get(&key.range()) else { return false };
        node.children
            .range(..region.end())
            .next_back()
            .is_some_and(|(&base, &size)| base + size > region.base)
    }

    /// Adds a capability. `parent` is the range of the capability it derives from, `None` for a
    /// root; the caller has checked that a new range does not overlap its parent's other
    /// descendants (or, for a root, anything).
    pub(crate) fn insert(&mut self, key: MdbKey, location: Location, parent: Option<&MdbKey>) {
        self.order.insert(key, location);
        let range = key.range();
        let parent = parent.map(MdbKey::range);
        match self.ranges.entry(range) {
            btree_map::Entry::Occupied(mut node) => {
                node.get_mut().capabilities += 1;
                return;
            }
            // A capability of the same range as its parent (a Frame from all of a RAM) shares
            // the parent's node, found above; so a new node always has a strictly larger parent.
            btree_map::Entry::Vacant(vacant) => {
                vacant.insert(RangeNode { capabilities: 1, parent, children: BTreeMap::new() });
            }
        }
        match parent.and_then(|parent| self.ranges.get_mut(&parent)) {
            Some(parent_node) => {
                parent_node.children.insert(range.base, range.size);
            }
            None => {
                self.top.insert((range.space, range.base), range.size);
            }
        }
    }

    /// Removes a capability. Returns the parts of its range that no capability names any more:
    /// empty unless it was the last one of a top-level range.
    pub(crate) fn remove(&mut self, key: &MdbKey) -> Vec<Region> {
        let mut unreferenced = Vec::new();
        if self.order.remove(key).is_none() {
            return unreferenced;
        }
        let range = key.range();
        let btree_map::Entry::Occupied(mut occupied) = self.ranges.entry(range) else { return unreferenced };
        occupied.get_mut().capabilities -= 1;
        if occupied.get().capabilities > 0 {
            return unreferenced;
        }
        let node = occupied.remove();
        // The children move up to this range's parent (or to the top), keeping the tree's
        // shape: they were disjoint inside this range, so they are disjoint among its siblings.
        for (&base, &size) in &node.children {
            if let Some(child) = self.ranges.get_mut(&RangeKey { space: range.space, base, size }) {
                child.parent = node.parent;
            }
        }
        match node.parent.and_then(|parent| self.ranges.get_mut(&parent)) {
            Some(parent_node) => {
                parent_node.children.remove(&range.base);
                parent_node.children.extend(node.children);
            }
            None => {
                self.top.remove(&(range.space, range.base));
                let mut cursor = range.base;
                for (&base, &size) in &node.children {
                    if base > cursor {
                        unreferenced.push(Region { base: cursor, size: base - cursor });
                    }
                    cursor = base + size;
                    self.top.insert((range.space, base), size);
                }
                if cursor < range.base + range.size {
                    unreferenced.push(Region { base: cursor, size: range.base + range.size - cursor });
                }
            }
        }
        unreferenced
    }

    /// The other copies of the capability at `key`.
    pub(crate) fn copies(&self, key: &MdbKey) -> impl Iterator<Item = MdbKey> + '_ {
        let this = *key;
        self.order.range(key.with_id(0)..=key.with_id(u64::MAX)).map(|(k, _)| *k).filter(move |k| *k != this)
    }

    /// Whether the capability at `key` is the only one naming its object.
    pub(crate) fn is_last_copy(&self, key: &MdbKey) -> bool {
        self.copies(key).next().is_none()
    }

    /// Every descendant of the capability at `key`, in derivation order.
    pub(crate) fn descendants(&self, key: &MdbKey) -> Vec<MdbKey> {
        let after_copies = key.with_id(u64::MAX);
        self.order
            .range(after_copies..)
            .map(|(k, _)| *k)
            .filter(|k| *k != after_copies)
            .take_while(|k| k.space == key.space && k.base < key.end())
            .filter(|k| !(k.same_range(key) && k.rank == key.rank))
            .collect()
    }

    /// One capability naming exactly the object of `capability` (any of its copies).
    pub(crate) fn any_copy(&self, capability: &Capability) -> Option<MdbKey> {
        let key = MdbKey::of(capability, 0);
        self.order.range(key..=key.with_id(u64::MAX)).next().map(|(k, _)| *k)
    }

    /// The smallest range some capability names that contains all of `[base, base + size)`
    /// of `space`, and one capability of that range (the one of lowest rank: the ancestor of
    /// the others there). `None` when no range contains it.
    pub(crate) fn innermost_containing(&self, space: Space, base: u64, size: u64) -> Option<MdbKey> {
        let end = base.checked_add(size)?;
        let (&(_, top_base), &top_size) = self.top.range((space, 0)..=(space, base)).next_back()?;
        if top_base + top_size < end {
            return None;
        }
        let mut range = RangeKey { space, base: top_base, size: top_size };
        loop {
            let node = self.ranges.get(&range)?;
            match node.children.range(..=base).next_back() {
                Some((&child_base, &child_size)) if child_base + child_size >= end => {
                    range = RangeKey { space, base: child_base, size: child_size };
                }
                _ => break,
            }
        }
        let first = MdbKey {
            space,
            base: range.base,
            size_descending: u64::MAX - range.size,
            rank: 0,
            badge: 0,
            id: 0,
        };
        self.order.range(first..).next().map(|(k, _)| *k).filter(|k| k.range() == range)
    }

    /// Whether a child range of the range of `key` overlaps `[base, base + size)` without
    /// being that very range.
    pub(crate) fn child_overlaps(&self, key: &MdbKey, base: u64, size: u64) -> bool {
        let Some(node) = self.ranges.get(&key.range()) else { return false };
        node.children
            .range(..base + size)
            .next_back()
            .is_some_and(|(&child_base, &child_size)| child_base + child_size > base)
    }

    /// Every capability of `space` whose range starts inside `[base, base + size)`, in
    /// derivation order.
    pub(crate) fn starting_inside(&self, space: Space, base: u64, size: u64) -> Vec<MdbKey> {
        let first = MdbKey { space, base, size_descending: 0, rank: 0, badge: 0, id: 0 };
        self.order
            .range(first..)
            .map(|(k, _)| *k)
            .take_while(|k| k.space == space && k.base < base + size)
            .collect()
    }

    /// Checks the two indexes against each other (for tests and debugging): every range node
    /// counts exactly the capabilities of its range, lies inside its parent, and is listed as
    /// a child of its parent or at the top.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let mut counts: BTreeMap<RangeKey, u64> = BTreeMap::new();
        for key in self.order.keys() {
            *counts.entry(key.range()).or_default() += 1;
        }
        if counts.len() != self.ranges.len() {
            return Err("range nodes and capability ranges differ");
        }
        for (range, node) in &self.ranges {
            if counts.get(range) != Some(&node.capabilities) {
                return Err("a range node miscounts its capabilities");
            }
            let listed = match node.parent {
                Some(parent) => {
                    let inside = parent.base <= range.base
                        && range.base + range.size <= parent.base + parent.size
                        && parent.size > range.size;
                    if !inside {
                        return Err("a range lies outside its parent");
                    }
                    self.ranges.get(&parent).and_then(|p| p.children.get(&range.base))
                }
                None => self.top.get(&(range.space, range.base)),
            };
            if listed != Some(&range.size) {
                return Err("a range is missing from its parent's children");
            }
            let mut previous_end = range.base;
            for (&base, &size) in &node.children {
                if base < previous_end {
                    return Err("children of a range overlap");
                }
                previous_end = base + size;
            }
        }
        Ok(())
    }
}
