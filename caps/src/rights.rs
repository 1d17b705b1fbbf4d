//! What the holder of a capability may do with its object.

use core::fmt;
use core::ops::{BitAnd, BitOr};

/// A set of rights: read, write, execute and grant.
///
/// Hand-written rather than taken from the `bitflags` crate: four bits need no dependency, and
/// [`Rights::from_bits`] must refuse unknown bits (a system call passes them in a register).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    /// No right at all.
    pub const NONE: Rights = Rights(0);
    /// Read the object (map a frame readable, look up through a CNode).
    pub const READ: Rights = Rights(1 << 0);
    /// Write the object; retype needs it, because retype hands the memory out anew.
    pub const WRITE: Rights = Rights(1 << 1);
    /// Execute from the object (map a frame executable).
    pub const EXECUTE: Rights = Rights(1 << 2);
    /// Pass capabilities through the object (an endpoint).
    pub const GRANT: Rights = Rights(1 << 3);
    /// Every right; what a newly created root capability carries.
    pub const ALL: Rights = Rights(0b1111);

    /// The bits, as a system call returns them.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Rights from bits, or `None` if a bit names no right.
    pub const fn from_bits(bits: u64) -> Option<Rights> {
        if bits & !(Rights::ALL.0 as u64) != 0 {
            None
        } else {
            Some(Rights(bits as u8))
        }
    }

    /// Whether every right of `other` is in `self`.
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// The rights in both.
    pub const fn intersection(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }

    /// The rights in either.
    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }
}

impl BitOr for Rights {
    type Output = Rights;
    fn bitor(self, other: Rights) -> Rights {
        self.union(other)
    }
}

impl BitAnd for Rights {
    type Output = Rights;
    fn bitand(self, other: Rights) -> Rights {
        self.intersection(other)
    }
}

/// `rwxg` with `-` for a missing right, as `ls` shows permissions.
impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letters =
            [(Rights::READ, 'r'), (Rights::WRITE, 'w'), (Rights::EXECUTE, 'x'), (Rights::GRANT, 'g')];
        for (right, letter) in letters {
            let shown = if self.contains(right) { letter } else { '-' };
            fmt::Write::write_char(f, shown)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn unknown_bits_are_refused() {
        assert_eq!(Rights::from_bits(0b1111), Some(Rights::ALL));
        assert_eq!(Rights::from_bits(0), Some(Rights::NONE));
        assert_eq!(Rights::from_bits(0b1_0000), None);
        assert_eq!(Rights::from_bits(u64::MAX), None);
    }

    #[test]
    fn set_operations() {
        let rw = Rights::READ | Rights::WRITE;
        assert!(rw.contains(Rights::READ));
        assert!(!rw.contains(Rights::EXECUTE));
        assert!(rw.contains(Rights::NONE));
        assert_eq!(rw & (Rights::WRITE | Rights::GRANT), Rights::WRITE);
        assert_eq!(format!("{rw:?}"), "rw--");
        assert_eq!(format!("{:?}", Rights::ALL), "rwxg");
    }
}
