//! The device tree as plain data: after [`crate::blob`] has checked the blob, the `fdt` crate
//! walks the structure block (in its non-panicking mode) and this module copies what it yields
//! into a node list with a phandle index. Everything else in the crate reads this list, with
//! bounds-checked accessors.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use fdt::nodes::AsNode;

use crate::blob::{self, be32, MAX_DEPTH, MAX_NODES};
use crate::error::Error;

/// Largest `#address-cells`/`#size-cells` accepted (PCI uses 3; nothing uses more than 4).
pub const MAX_CELLS: u32 = 4;

/// One node.
#[derive(Clone, Debug)]
pub struct Node {
    /// Full path, `/` for the root.
    pub path: String,
    /// The last path component (with unit address).
    pub name: String,
    /// Index of the parent node.
    pub parent: Option<usize>,
    /// Indices of the children, in tree order.
    pub children: Vec<usize>,
    /// Properties, in tree order.
    pub properties: Vec<(String, Vec<u8>)>,
}

/// The whole tree.
#[derive(Clone, Debug)]
pub struct Tree {
    /// Nodes in depth-first order; index 0 is the root.
    pub nodes: Vec<Node>,
    /// `/memreserve/` entries: (address, size).
    pub memreserve: Vec<(u64, u64)>,
    /// `phandle` (or `linux,phandle`) value to node; the first node wins a duplicate.
    phandles: BTreeMap<u32, usize>,
}

fn structure(e: fdt::FdtError) -> Error {
    Error::Structure(e.to_string())
}

impl Tree {
    /// Reads a flattened device tree.
    pub fn parse(dtb: &[u8]) -> Result<Tree, Error> {
        let layout = blob::check_header(dtb)?;
        let dtb = dtb.get(..layout.total).ok_or(Error::BadHeader("totalsize"))?;
        let memreserve = blob::memory_reservations(dtb, &layout)?;
        let shape = blob::check_structure(dtb, &layout)?;
        let fdt = fdt::Fdt::new_unaligned_fallible(dtb).map_err(structure)?;
        let root = fdt.root().map_err(structure)?;
        let mut tree = Tree { nodes: Vec::new(), memreserve, phandles: BTreeMap::new() };
        tree.add(root.as_node(), None, 0)?;
        if tree.nodes.len() != shape.nodes {
            // Both walks read the same checked block; a difference means one of them is wrong.
            return Err(Error::Structure("node count differs between the two walks".into()));
        }
        for index in 0..tree.nodes.len() {
            let handle = tree.prop_u32(index, "phandle").or_else(|| tree.prop_u32(index, "linux,phandle"));
            if let Some(handle) = handle {
                tree.phandles.entry(handle).or_insert(index);
            }
        }
        Ok(tree)
    }

    fn add<'a, P>(
        &mut self,
        node: fdt::nodes::Node<'a, P>,
        parent: Option<usize>,
        depth: usize,
    ) -> Result<(), Error>
    where
        P: fdt::parsing::ParserWithMode<'a>,
    {
        if depth > MAX_DEPTH {
            return Err(Error::TooLarge("nesting deeper than 32"));
        }
        if self.nodes.len() >= MAX_NODES {
            return Err(Error::TooLarge("more than 20000 nodes"));
        }
        let node = node.fallible();
        let name = node.name().map_err(structure)?;
        let name = match name.unit_address {
            Some(unit) => alloc::format!("{}@{unit}", name.name),
            None if parent.is_none() => String::new(),
            None => name.name.to_string(),
        };
        let path = match parent {
            None => "/".to_string(),
            Some(p) if self.nodes[p].path == "/" => alloc::format!("/{name}"),
            Some(p) => alloc::format!("{}/{name}", self.nodes[p].path),
        };
        let mut properties = Vec::new();
        for property in node.properties().map_err(structure)?.iter() {
            let property = property.map_err(structure)?;
            properties.push((property.name.to_string(), property.value.to_vec()));
        }
        let index = self.nodes.len();
        self.nodes.push(Node { path, name, parent, children: Vec::new(), properties });
        if let Some(p) = parent {
            self.nodes[p].children.push(index);
        }
        for child in node.children().map_err(structure)?.iter() {
            let child = child.map_err(structure)?;
            self.add(child, Some(index), depth + 1)?;
        }
        Ok(())
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
        self.nodes.get(node)?.properties.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
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
