//! The device tree as plain data: the `fdt` crate walks the structure block (in its
//! non-panicking mode) and this module copies what it yields into a node list, after checking
//! the header itself so that no offset or size in it is trusted. Everything else in the crate
//! reads this list, with bounds-checked accessors.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use fdt::nodes::AsNode;

use crate::error::Error;

/// Deepest nesting accepted (real trees stay under 10).
const MAX_DEPTH: usize = 32;
/// Most nodes accepted.
const MAX_NODES: usize = 20_000;
/// Largest `#address-cells`/`#size-cells` accepted.
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
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn be64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

/// Checks the header so that every block lies inside the buffer.
fn check_header(dtb: &[u8]) -> Result<(), Error> {
    let field = |at| be32(dtb, at).ok_or(Error::Truncated { needed: 40, given: dtb.len() });
    let magic = field(0)?;
    if magic != 0xd00d_feed {
        return Err(Error::BadMagic(magic));
    }
    let total = field(4)? as usize;
    if total > dtb.len() {
        return Err(Error::Truncated { needed: total, given: dtb.len() });
    }
    let (structs, strings, rsvmap) = (field(8)? as usize, field(12)? as usize, field(16)? as usize);
    let version = field(20)?;
    let strings_size = field(32)? as usize;
    let structs_size = field(36)? as usize;
    if version < 16 {
        return Err(Error::BadHeader("version older than 16"));
    }
    let within = |offset: usize, size: usize| offset.checked_add(size).is_some_and(|end| end <= total);
    if !within(structs, structs_size) || !within(strings, strings_size) || !within(rsvmap, 16) {
        return Err(Error::BadHeader("a block lies outside the blob"));
    }
    if structs % 4 != 0 || !structs_size.is_multiple_of(4) || rsvmap % 8 != 0 {
        return Err(Error::BadHeader("misaligned block"));
    }
    Ok(())
}

fn structure(e: fdt::FdtError) -> Error {
    Error::Structure(e.to_string())
}

impl Tree {
    /// Reads a flattened device tree.
    pub fn parse(dtb: &[u8]) -> Result<Tree, Error> {
        check_header(dtb)?;
        let total = be32(dtb, 4).unwrap_or(0) as usize;
        let dtb = &dtb[..total.min(dtb.len())];
        let memreserve = read_memreserve(dtb)?;
        let fdt = fdt::Fdt::new_unaligned_fallible(dtb).map_err(structure)?;
        let root = fdt.root().map_err(structure)?;
        let mut tree = Tree { nodes: Vec::new(), memreserve };
        tree.add(root.as_node(), None, 0)?;
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
        self.nodes.iter().position(|n| {
            self.prop_u32_of(n, "phandle").or_else(|| self.prop_u32_of(n, "linux,phandle")) == Some(handle)
        })
    }

    /// A property's raw value.
    pub fn prop(&self, node: usize, name: &str) -> Option<&[u8]> {
        self.nodes.get(node)?.properties.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    fn prop_u32_of(&self, node: &Node, name: &str) -> Option<u32> {
        let value = node.properties.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())?;
        (value.len() == 4).then(|| be32(value, 0)).flatten()
    }

    /// A one-cell property.
    pub fn prop_u32(&self, node: usize, name: &str) -> Option<u32> {
        self.nodes.get(node).and_then(|n| self.prop_u32_of(n, name))
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

fn read_memreserve(dtb: &[u8]) -> Result<Vec<(u64, u64)>, Error> {
    let offset = be32(dtb, 16).unwrap_or(0) as usize;
    let mut entries = Vec::new();
    for i in 0..4096 {
        let at = offset + i * 16;
        let (Some(address), Some(size)) = (be64(dtb, at), be64(dtb, at + 8)) else {
            return Err(Error::BadHeader("memory reservation block runs past the end"));
        };
        if address == 0 && size == 0 {
            return Ok(entries);
        }
        entries.push((address, size));
    }
    Err(Error::TooLarge("more than 4096 memory reservations"))
}
