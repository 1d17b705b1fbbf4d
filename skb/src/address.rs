//! `reg` entries and their translation to CPU physical addresses through the `ranges` of
//! every parent bus (Devicetree Specification 2.3.8). The Raspberry Pi 4's peripherals, at bus
//! addresses 0x7e..., are how the CPU sees them at 0xfe... only after this.

use alloc::vec::Vec;

use crate::error::Error;
use crate::tree::{read_cells, Tree};

/// Deepest bus nesting followed when translating: every ancestor of the deepest node the
/// blob check lets through (the walk follows parent links, so it cannot loop; the bound only
/// makes that plain).
const MAX_BUS_DEPTH: usize = crate::blob::MAX_DEPTH + 1;

/// The `reg` entries of `node` as (bus address, size), in the parent's cell sizes.
pub fn reg_entries(tree: &Tree, node: usize) -> Result<Vec<(u64, u64)>, Error> {
    let Some(value) = tree.prop(node, "reg") else { return Ok(Vec::new()) };
    let parent = tree.nodes[node].parent.unwrap_or(0);
    let (address_cells, size_cells) = tree.cells_for_children(parent)?;
    let per_entry = (address_cells + size_cells) as usize;
    if per_entry == 0 || value.len() % (per_entry * 4) != 0 {
        return Err(Error::BadProperty { node: tree.path(node), property: "reg" });
    }
    let entries = value.len() / (per_entry * 4);
    (0..entries)
        .map(|i| {
            let at = i * per_entry;
            let address = read_cells(value, at, address_cells);
            let size = read_cells(value, at + address_cells as usize, size_cells);
            address.zip(size).ok_or(Error::BadProperty { node: tree.path(node), property: "reg" })
        })
        .collect()
}

/// Translates a bus address seen by `node`'s parent bus to a CPU physical address. `None` if
/// some parent bus has no `ranges` (its children are not memory mapped) or no range covers it.
pub fn translate(tree: &Tree, node: usize, address: u64) -> Result<Option<u64>, Error> {
    let mut address = address;
    let mut bus = tree.nodes[node].parent;
    for _ in 0..MAX_BUS_DEPTH {
        let Some(current) = bus else { return Ok(Some(address)) };
        let Some(parent) = tree.nodes[current].parent else { return Ok(Some(address)) }; // the root
        let Some(ranges) = tree.prop(current, "ranges") else { return Ok(None) };
        if ranges.is_empty() {
            bus = Some(parent);
            continue; // identity mapping
        }
        let (child_cells, size_cells) = tree.cells_for_children(current)?;
        let (parent_cells, _) = tree.cells_for_children(parent)?;
        let per_entry = (child_cells + parent_cells + size_cells) as usize;
        if per_entry == 0 || ranges.len() % (per_entry * 4) != 0 {
            return Err(Error::BadProperty { node: tree.path(current), property: "ranges" });
        }
        let mut translated = None;
        for i in 0..ranges.len() / (per_entry * 4) {
            let at = i * per_entry;
            let bad = || Error::BadProperty { node: tree.path(current), property: "ranges" };
            let child = read_cells(ranges, at, child_cells).ok_or_else(bad)?;
            let parent_address =
                read_cells(ranges, at + child_cells as usize, parent_cells).ok_or_else(bad)?;
            let size =
                read_cells(ranges, at + (child_cells + parent_cells) as usize, size_cells).ok_or_else(bad)?;
            if address >= child && address - child < size {
                translated = parent_address.checked_add(address - child);
                break;
            }
        }
        let Some(next) = translated else { return Ok(None) };
        address = next;
        bus = Some(parent);
    }
    Err(Error::TooLarge("bus nesting deeper than the tree allows"))
}

/// The CPU physical address and size of `node`'s `reg` entry `index`, translated.
pub fn mmio(tree: &Tree, node: usize, index: usize) -> Result<Option<(u64, u64)>, Error> {
    let Some(&(address, size)) = reg_entries(tree, node)?.get(index) else { return Ok(None) };
    Ok(translate(tree, node, address)?.map(|cpu| (cpu, size)))
}
