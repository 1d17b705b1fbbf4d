//! Why a device tree was refused. Every problem found in the input is one of these values;
//! nothing in the crate panics on input.

use alloc::string::String;
use core::fmt;

/// A problem with the device tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Shorter than its header, or than the size the header claims.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The first word is not 0xd00dfeed.
    BadMagic(u32),
    /// A header field is out of range or inconsistent.
    BadHeader(&'static str),
    /// The structure block is malformed (the `fdt` crate's words).
    Structure(String),
    /// Nesting deeper than any real tree, or more nodes than the limit.
    TooLarge(&'static str),
    /// A node the facts cannot do without is missing.
    MissingNode(&'static str),
    /// A property has a value of the wrong shape.
    BadProperty {
        /// The node's path.
        node: String,
        /// The property.
        property: &'static str,
    },
    /// `#address-cells` or `#size-cells` beyond what any bus uses.
    AbsurdCells {
        /// The node's path.
        node: String,
        /// The value found.
        cells: u32,
    },
    /// A chain of phandle references loops.
    PhandleCycle(&'static str),
    /// No usable core in `/cpus`.
    NoCpus,
    /// Two cores of `/cpus` claim the same affinity (MPIDR).
    DuplicateCpu {
        /// The later core's path.
        node: String,
        /// The affinity both claim.
        mpidr: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { needed, given } => {
                write!(f, "device tree truncated: {given} bytes given, header needs {needed}")
            }
            Error::BadMagic(magic) => {
                write!(f, "not a device tree: magic {magic:#010x}, expected 0xd00dfeed")
            }
            Error::BadHeader(what) => write!(f, "bad device tree header: {what}"),
            Error::Structure(what) => write!(f, "malformed device tree structure: {what}"),
            Error::TooLarge(what) => write!(f, "device tree too large: {what}"),
            Error::MissingNode(path) => write!(f, "device tree has no {path} node"),
            Error::BadProperty { node, property } => write!(f, "{node}: property {property} is malformed"),
            Error::AbsurdCells { node, cells } => write!(f, "{node}: absurd cell count {cells}"),
            Error::PhandleCycle(what) => write!(f, "phandle references loop ({what})"),
            Error::NoCpus => write!(f, "no usable core in /cpus"),
            Error::DuplicateCpu { node, mpidr } => {
                write!(f, "{node}: mpidr {mpidr:#x} is another core's already")
            }
        }
    }
}

impl core::error::Error for Error {}
