//! Problems found in a device tree. An [`Error`] refuses the whole tree: the blob cannot be
//! read, or a fact nothing can do without (the cores, the memory map) is malformed. A
//! [`Warning`] leaves one optional fact out (PSCI, the interrupt controller, the console, a
//! core's capacity or cache facts) or one core unusable, and says which; the boot refuses only
//! what needs the missing fact. Nothing in the crate panics on input.

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
    /// The structure block is malformed (what the walk found).
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
    /// A property that the node's other facts call for is absent.
    MissingProperty {
        /// The node's path.
        node: String,
        /// The property.
        property: &'static str,
    },
    /// A node's registers are not in the CPU's physical address space (a parent bus has no
    /// `ranges`, or none covers them).
    NotMemoryMapped {
        /// The node's path.
        node: String,
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
    /// `/chosen/stdout-path` names no node, or one with no registers.
    UnusableStdoutPath(String),
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
            Error::MissingProperty { node, property } => write!(f, "{node}: property {property} is missing"),
            Error::NotMemoryMapped { node } => {
                write!(f, "{node}: reg is not memory mapped (no bus ranges reach it)")
            }
            Error::AbsurdCells { node, cells } => write!(f, "{node}: absurd cell count {cells}"),
            Error::PhandleCycle(what) => write!(f, "phandle references loop ({what})"),
            Error::NoCpus => write!(f, "no usable core in /cpus"),
            Error::UnusableStdoutPath(path) => {
                write!(f, "/chosen/stdout-path {path:?} names no UART with registers in the tree")
            }
            Error::DuplicateCpu { node, mpidr } => {
                write!(f, "{node}: mpidr {mpidr:#x} is another core's already")
            }
        }
    }
}

impl core::error::Error for Error {}

/// A problem that left one fact out rather than refusing the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// What is wrong in the tree.
    pub problem: Error,
    /// What the SKB did about it (which fact is absent, which core cannot be started).
    pub consequence: &'static str,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.problem, self.consequence)
    }
}

/// The warnings of one reading of a tree, each recorded once (a cache shared by every core
/// of a cluster would otherwise repeat its problem per core).
#[derive(Clone, Debug, Default)]
pub struct Warnings(alloc::vec::Vec<Warning>);

impl Warnings {
    /// Records `problem` with its consequence, unless recorded already.
    pub fn add(&mut self, problem: Error, consequence: &'static str) {
        let warning = Warning { problem, consequence };
        if !self.0.contains(&warning) {
            self.0.push(warning);
        }
    }

    /// The fact `result` holds, or, if reading it failed, nothing and a warning.
    pub fn optional<T>(&mut self, result: Result<Option<T>, Error>, consequence: &'static str) -> Option<T> {
        result.unwrap_or_else(|problem| {
            self.add(problem, consequence);
            None
        })
    }

    /// The warnings, in the order found.
    pub fn into_vec(self) -> alloc::vec::Vec<Warning> {
        self.0
    }
}
