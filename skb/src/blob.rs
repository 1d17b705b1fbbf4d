//! The raw flattened device tree, checked before anything else reads it.
//!
//! Every byte of the blob is checked before any fact is read from it: this module checks the
//! header (every block inside the blob, none inside the header, none over another), reads the
//! memory reservation block, and walks the structure block once, token by token (names
//! terminated and UTF-8, property values and name offsets in range, properties before
//! children, nodes balanced, nesting and node count bounded, `FDT_END` last), handing each
//! checked node and property to a [`StructureVisitor`] ([`crate::tree`] builds its node list
//! from them). The walk is the only one: nothing reads the structure block again.
//! `FDT_NOP` tokens, which QEMU leaves where it removed nodes or properties, are allowed
//! anywhere a token may stand.

use alloc::vec::Vec;

use crate::error::Error;

/// Deepest nesting accepted (real trees stay under 10).
pub const MAX_DEPTH: usize = 32;
/// Most nodes accepted (the largest real trees hold a few thousand).
pub const MAX_NODES: usize = 20_000;
/// Most `/memreserve/` entries accepted.
const MAX_RESERVATIONS: usize = 4096;
/// Size of a version-17 header.
const HEADER_SIZE: usize = 40;
const MAGIC: u32 = 0xd00d_feed;

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

/// Where the blocks lie, from a header that has been checked against the blob's length.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// `totalsize`: the blob is `dtb[..total]`.
    pub total: usize,
    structs: usize,
    structs_size: usize,
    strings: usize,
    strings_size: usize,
    reservations: usize,
}

/// A big-endian `u32` at byte `at`, if it lies inside `bytes`.
pub fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn be64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

/// Checks the header so that every block lies inside the blob.
pub fn check_header(dtb: &[u8]) -> Result<Layout, Error> {
    let field = |at| be32(dtb, at).ok_or(Error::Truncated { needed: HEADER_SIZE, given: dtb.len() });
    let magic = field(0)?;
    if magic != MAGIC {
        return Err(Error::BadMagic(magic));
    }
    let total = field(4)? as usize;
    if total > dtb.len() {
        return Err(Error::Truncated { needed: total, given: dtb.len() });
    }
    if total < HEADER_SIZE {
        return Err(Error::BadHeader("totalsize smaller than the header"));
    }
    // Version 17 added the structure block's size, which the walk below relies on; every
    // tool since 2008 (dtc, U-Boot, QEMU, Linux) writes 17.
    if field(20)? < 17 {
        return Err(Error::BadHeader("version older than 17"));
    }
    let layout = Layout {
        total,
        structs: field(8)? as usize,
        strings: field(12)? as usize,
        reservations: field(16)? as usize,
        strings_size: field(32)? as usize,
        structs_size: field(36)? as usize,
    };
    let inside = |offset: usize, size: usize| offset.checked_add(size).is_some_and(|end| end <= total);
    if !inside(layout.structs, layout.structs_size) {
        return Err(Error::BadHeader("structure block lies outside the blob"));
    }
    if !inside(layout.strings, layout.strings_size) {
        return Err(Error::BadHeader("strings block lies outside the blob"));
    }
    if !inside(layout.reservations, 16) {
        return Err(Error::BadHeader("memory reservation block lies outside the blob"));
    }
    // As libfdt's header check: no block may start inside the header (a reservation block at
    // offset 16 reads the header's own fields as reservations).
    if layout.structs < HEADER_SIZE {
        return Err(Error::BadHeader("structure block starts inside the header"));
    }
    if layout.strings < HEADER_SIZE {
        return Err(Error::BadHeader("strings block starts inside the header"));
    }
    if layout.reservations < HEADER_SIZE {
        return Err(Error::BadHeader("memory reservation block starts inside the header"));
    }
    if overlap((layout.structs, layout.structs_size), (layout.strings, layout.strings_size)) {
        return Err(Error::BadHeader("structure and strings blocks overlap"));
    }
    if !layout.structs.is_multiple_of(4)
        || !layout.structs_size.is_multiple_of(4)
        || !layout.reservations.is_multiple_of(8)
    {
        return Err(Error::BadHeader("misaligned block"));
    }
    Ok(layout)
}

/// The `/memreserve/` entries: (address, size) pairs up to the terminating (0, 0).
pub fn memory_reservations(dtb: &[u8], layout: &Layout) -> Result<Vec<(u64, u64)>, Error> {
    let blob = dtb.get(..layout.total).unwrap_or_default();
    let mut entries = Vec::new();
    for i in 0..MAX_RESERVATIONS {
        let at = i.checked_mul(16).and_then(|o| o.checked_add(layout.reservations));
        let entry = at.and_then(|at| Some((be64(blob, at)?, be64(blob, at.checked_add(8)?)?)));
        match entry {
            None => return Err(Error::BadHeader("memory reservation block runs past the end")),
            Some((0, 0)) => {
                // The block's extent is known only now: up to and including its terminator.
                let block = (layout.reservations, (entries.len() + 1) * 16);
                if overlap(block, (layout.structs, layout.structs_size)) {
                    return Err(Error::BadHeader("memory reservation block overlaps the structure block"));
                }
                if overlap(block, (layout.strings, layout.strings_size)) {
                    return Err(Error::BadHeader("memory reservation block overlaps the strings block"));
                }
                return Ok(entries);
            }
            Some(entry) => entries.push(entry),
        }
    }
    Err(Error::TooLarge("more than 4096 memory reservations"))
}

/// What the structure-block walk hands on, token by token, once each token has passed its
/// checks. Names and values borrow the blob: nothing is copied.
pub trait StructureVisitor<'dtb> {
    /// `FDT_BEGIN_NODE`: a node named `name` (with its unit address; empty for the root)
    /// opens inside the node opened last.
    fn begin_node(&mut self, name: &'dtb str);
    /// `FDT_PROP`: a property of the node opened last, before any of its children.
    fn property(&mut self, name: &'dtb str, value: &'dtb [u8]);
    /// `FDT_END_NODE`: the node opened last closes.
    fn end_node(&mut self);
}

/// Walks the structure block once, checking every token (see the module documentation) and
/// handing each one that passes to `visitor`. On an error the visitor has seen a prefix of a
/// tree that must be thrown away.
pub fn walk_structure<'dtb>(
    dtb: &'dtb [u8],
    layout: &Layout,
    visitor: &mut impl StructureVisitor<'dtb>,
) -> Result<(), Error> {
    let bad = |what: &'static str| Error::Structure(what.into());
    let block = layout
        .structs
        .checked_add(layout.structs_size)
        .and_then(|end| dtb.get(layout.structs..end))
        .ok_or_else(|| bad("structure block outside the blob"))?;
    let strings = layout
        .strings
        .checked_add(layout.strings_size)
        .and_then(|end| dtb.get(layout.strings..end))
        .ok_or_else(|| bad("strings block outside the blob"))?;
    let mut at = 0usize;
    let mut depth = 0usize;
    let mut nodes = 0usize;
    let mut root_closed = false;
    // Properties must precede a node's children, as the specification orders them.
    let mut children_started = false;
    loop {
        let token = be32(block, at).ok_or_else(|| bad("structure block ends without FDT_END"))?;
        at += 4;
        match token {
            FDT_NOP => {}
            FDT_BEGIN_NODE => {
                if root_closed {
                    return Err(bad("a second root node"));
                }
                depth += 1;
                nodes += 1;
                if depth > MAX_DEPTH {
                    return Err(Error::TooLarge("nesting deeper than 32"));
                }
                if nodes > MAX_NODES {
                    return Err(Error::TooLarge("more than 20000 nodes"));
                }
                let name = c_string(block.get(at..).unwrap_or_default())
                    .ok_or_else(|| bad("unterminated node name"))?;
                let name = core::str::from_utf8(name).map_err(|_| bad("node name is not UTF-8"))?;
                at = align4(at + name.len() + 1);
                children_started = false;
                visitor.begin_node(name);
            }
            FDT_END_NODE => {
                depth = depth.checked_sub(1).ok_or_else(|| bad("FDT_END_NODE without a node"))?;
                root_closed = depth == 0;
                children_started = true;
                visitor.end_node();
            }
            FDT_PROP => {
                if depth == 0 {
                    return Err(bad("property outside any node"));
                }
                if children_started {
                    return Err(bad("property after a child node"));
                }
                let length = be32(block, at).ok_or_else(|| bad("truncated property"))? as usize;
                let name_offset = be32(block, at + 4).ok_or_else(|| bad("truncated property"))? as usize;
                at += 8;
                let end = at.checked_add(length).filter(|&end| end <= block.len());
                let end = end.ok_or_else(|| bad("property value runs past the structure block"))?;
                let name = strings
                    .get(name_offset..)
                    .ok_or_else(|| bad("property name outside the strings block"))?;
                let name = c_string(name).ok_or_else(|| bad("unterminated property name"))?;
                let name = core::str::from_utf8(name).map_err(|_| bad("property name is not UTF-8"))?;
                visitor.property(name, &block[at..end]);
                at = align4(end);
            }
            FDT_END => {
                if !root_closed || depth != 0 {
                    return Err(bad("FDT_END inside a node"));
                }
                if at != block.len() {
                    return Err(bad("data after FDT_END in the structure block"));
                }
                return Ok(());
            }
            _ => return Err(bad("unknown token")),
        }
    }
}

/// The bytes before the first NUL, if there is one.
fn c_string(bytes: &[u8]) -> Option<&[u8]> {
    bytes.iter().position(|&b| b == 0).map(|length| &bytes[..length])
}

/// Whether two blocks, each (offset, size), share a byte (an empty block shares none).
fn overlap((a, a_size): (usize, usize), (b, b_size): (usize, usize)) -> bool {
    a_size > 0 && b_size > 0 && a < b.saturating_add(b_size) && b < a.saturating_add(a_size)
}

fn align4(offset: usize) -> usize {
    offset.saturating_add(3) & !3
}
