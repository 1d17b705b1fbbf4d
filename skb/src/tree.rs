//! The device tree as plain data: the node list [`crate::blob`]'s one checked walk of the
//! structure block builds, with a phandle index. Names and property values borrow the blob.
//! Everything else in the crate reads this list, with bounds-checked accessors.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::blob::{self, be32, StructureVisitor};
use crate::error::Error;

/// Largest `#address-cells`/`#size-cells` accepted (PCI uses 3; nothing uses more than 4).
pub const MAX_CELLS: u32 = 4;

/// One node.
#[derive(Clone, Debug)]
pub struct Node<'dtb> {
    /// Full path, `/` for the root.
    pub path: String,
    /// The last path component (with unit address; empty for the root).
    pub name: &'dtb str,
    /// Index of the parent node.
    pub parent: Option<usize>,
    /// Indices of the children, in tree order.
    pub children: Vec<usize>,
    /// Properties, in tree order.
    pub properties: Vec<(&'dtb str, &'dtb [u8])>,
}

/// The whole tree.
#[derive(Clone, Debug)]
pub struct Tree<'dtb> {
    /// Nodes in depth-first order; index 0 is the root.
    pub nodes: Vec<Node<'dtb>>,
    /// `/memreserve/` entries: (address, size).
    pub memreserve: Vec<(u64, u64)>,
    /// `phandle` (or `linux,phandle`) value to node; the first node wins a duplicate.
    phandles: BTreeMap<u32, usize>,
}

/// Builds the node list from the walk's tokens: the open nodes are a stack of indices.
struct Builder<'dtb> {
    nodes: Vec<Node<'dtb>>,
    open: Vec<usize>,
}

impl<'dtb> StructureVisitor<'dtb> for Builder<'dtb> {
    fn begin_node(&mut self, name: &'dtb str) {
        let parent = self.open.last().copied();
        let path = match parent {
            None => "/".to_string(),
            Some(p) if self.nodes[p].path == "/" => alloc::format!("/{name}"),
            Some(p) => alloc::format!("{}/{name}", self.nodes[p].path),
        };
        let index = self.nodes.len();
        self.nodes.push(Node { path, name, parent, children: Vec::new(), properties: Vec::new() });
        if let Some(p) = parent {
            self.nodes[p].children.push(index);
        }
        self.open.push(index);
    }

    fn property(&mut self, name: &'dtb str, value: &'dtb [u8]) {
        // The walk hands properties only inside a node; a stray one would have no owner.
        if let Some(&node) = self.open.last() {
            self.nodes[node].properties.push((name, value));
        }
    }

    fn end_node(&mut self) {
        self.open.pop();
    }
}

impl<'dtb> Tree<'dtb> {
    /// Reads a flattened device tree: checks the header and the reservation block, then walks
    /// the structure block once, checking it and building the node list.
    pub fn parse(dtb: &'dtb [u8]) -> Result<Tree<'dtb>, Error> {
        let layout = blob::check_header(dtb)?;
        let dtb = dtb.get(..layout.total).ok_or(Error::BadHeader("totalsize"))?;
        let memreserve = blob::memory_reservations(dtb, &layout)?;
        let mut builder = Builder { nodes: Vec::new(), open: Vec::new() };
        blob::walk_structure(dtb, &layout, &mut builder)?;
        let mut tree = Tree { nodes: builder.nodes, memreserve, phandles: BTreeMap::new() };
        for index in 0..tree.nodes.len() {
            let handle = tree.prop_u32(index, "phandle").or_else(|| tree.prop_u32(index, "linux,phandle"));
            if let Some(handle) = handle {
                tree.phandles.entry(handle).or_insert(index);
            }
        }
        Ok(tree)
    }

    /// The node at `path` (exact).
    pub fn find(&self, path: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.path == path)
    }

    /// The node whose `phandle` (or `linux,phandle`) is `handle`.
    pub fn by_phandle(&self, handle: u32) -> Option<usize> {
        self.phandles.get(&handle).copied()
    }

    /// A property's raw value.
    pub fn prop(&self, node: usize, name: &str) -> Option<&[u8]> {
        self.nodes.get(node)?.properties.iter().find(|(n, _)| *n == name).map(|&(_, value)| value)
    }

    /// A one-cell property (`None` when absent or not exactly one cell long).
    pub fn prop_u32(&self, node: usize, name: &str) -> Option<u32> {
        self.prop(node, name).filter(|value| value.len() == 4).and_then(|value| be32(value, 0))
    }

    /// The strings of a string-list property (empty strings dropped, invalid UTF-8 skipped).
    pub fn strings(&self, node: usize, name: &str) -> Vec<String> {
        self.prop(node, name)
            .map(|value| {
                value
                    .split(|&b| b == 0)
                    .filter(|s| !s.is_empty())
                    .filter_map(|s| core::str::from_utf8(s).ok())
                    .map(ToString::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first string of a string property.
    pub fn string(&self, node: usize, name: &str) -> Option<String> {
        self.strings(node, name).into_iter().next()
    }

    /// Whether `compatible` lists exactly `value` (entry by entry, never a substring).
    pub fn is_compatible(&self, node: usize, value: &str) -> bool {
        self.strings(node, "compatible").iter().any(|c| c == value)
    }

    /// Whether the node is enabled (`status` absent, "okay" or "ok").
    pub fn is_enabled(&self, node: usize) -> bool {
        match self.string(node, "status").as_deref() {
            None | Some("okay") | Some("ok") => true,
            Some(_) => false,
        }
    }

    /// `#address-cells` and `#size-cells` that apply to the children of `node` (defaults 2
    /// and 1, as the specification says).
    pub fn cells_for_children(&self, node: usize) -> Result<(u32, u32), Error> {
        let address = self.prop_u32(node, "#address-cells").unwrap_or(2);
        let size = self.prop_u32(node, "#size-cells").unwrap_or(1);
        for cells in [address, size] {
            if cells > MAX_CELLS {
                return Err(Error::AbsurdCells { node: self.nodes[node].path.clone(), cells });
            }
        }
        Ok((address, size))
    }

    /// The path of a node, for messages.
    pub fn path(&self, node: usize) -> String {
        self.nodes.get(node).map(|n| n.path.clone()).unwrap_or_default()
    }
}

/// Reads `cells` big-endian cells at cell index `at` as one number (at most 64 bits kept).
pub fn read_cells(value: &[u8], at: usize, cells: u32) -> Option<u64> {
    let mut result: u64 = 0;
    for i in 0..cells as usize {
        let cell = be32(value, (at + i).checked_mul(4)?)?;
        result = (result << 32) | u64::from(cell);
    }
    Some(result)
}
