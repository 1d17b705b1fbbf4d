//! Capability addresses: how a system call names a slot of its caller's capability space.
//! The format is documented on [`CapAddr`].

use crate::error::CapError;

const LEVEL1_FLAG: u32 = 1 << 31;
const RESERVED_MASK: u32 = 0x7f00_0000;
const LEVEL1_SHIFT: u32 = 8;
const LEVEL2_MASK: u32 = 0xff;

/// A capability address: one `u32` naming a slot of a two-level capability space. The root
/// CNode's slots hold (mostly) CNode capabilities; each of those CNodes' slots holds any
/// capability.
///
/// ```text
/// bit  31     level: 0 = two-level (leaf) address, 1 = level-1 address
/// bits 30..24 reserved, must be 0
/// bits 23..8  level-1 index: a slot of the root CNode
/// bits  7..0  level-2 index: a slot of the CNode in that level-1 slot (0 in a level-1 address)
/// ```
///
/// A leaf address therefore reaches at most 65,536 CNodes of at most 256 slots each (a CNode of
/// 16 KiB; a 4 KiB CNode has 64 slots and refuses higher indices). A level-1 address names a slot
/// of the root CNode itself, which is how an L2 CNode capability is installed, copied or deleted.
/// Any `u32` is accepted by [`CapAddr::from_raw`]; whether it names a slot is checked when it
/// is used, with an error for every way it can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CapAddr(u32);

/// A decoded, well-formed address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A slot of the root CNode.
    Level1(u32),
    /// Slot `level2` of the CNode in root slot `level1`.
    Leaf { level1: u32, level2: u32 },
}

impl CapAddr {
    /// Slot `level2` of the CNode in slot `level1` of the root CNode.
    pub const fn leaf(level1: u16, level2: u8) -> CapAddr {
        CapAddr(((level1 as u32) << LEVEL1_SHIFT) | level2 as u32)
    }

    /// Slot `level1` of the root CNode itself.
    pub const fn level1(level1: u16) -> CapAddr {
        CapAddr(LEVEL1_FLAG | ((level1 as u32) << LEVEL1_SHIFT))
    }

    /// An address as a system call passes it (not yet checked).
    pub const fn from_raw(raw: u32) -> CapAddr {
        CapAddr(raw)
    }

    /// The raw value.
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// The address `offset` slots further in the same CNode (for the destinations of a retype
    /// of several objects), or `None` past the index field.
    pub fn offset(self, offset: u32) -> Option<CapAddr> {
        match self.decode().ok()? {
            Decoded::Level1(index) => Some(CapAddr::level1(u16::try_from(index.checked_add(offset)?).ok()?)),
            Decoded::Leaf { level1, level2 } => {
                Some(CapAddr::leaf(level1 as u16, u8::try_from(level2.checked_add(offset)?).ok()?))
            }
        }
    }

    pub(crate) fn decode(self) -> Result<Decoded, CapError> {
        if self.0 & RESERVED_MASK != 0 {
            return Err(CapError::InvalidAddress);
        }
        let level1 = (self.0 & !LEVEL1_FLAG) >> LEVEL1_SHIFT;
        let level2 = self.0 & LEVEL2_MASK;
        if self.0 & LEVEL1_FLAG == 0 {
            Ok(Decoded::Leaf { level1, level2 })
        } else if level2 == 0 {
            Ok(Decoded::Level1(level1))
        } else {
            Err(CapError::InvalidAddress)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes() {
        assert_eq!(CapAddr::leaf(3, 7).raw(), 0x307);
        assert_eq!(CapAddr::leaf(3, 7).decode(), Ok(Decoded::Leaf { level1: 3, level2: 7 }));
        assert_eq!(CapAddr::leaf(u16::MAX, 255).decode(), Ok(Decoded::Leaf { level1: 0xffff, level2: 255 }));
        assert_eq!(CapAddr::level1(5).raw(), 0x8000_0500);
        assert_eq!(CapAddr::level1(5).decode(), Ok(Decoded::Level1(5)));
    }

    #[test]
    fn malformed_addresses_are_refused() {
        assert_eq!(CapAddr::from_raw(0x0100_0000).decode(), Err(CapError::InvalidAddress));
        assert_eq!(CapAddr::from_raw(0x8000_0501).decode(), Err(CapError::InvalidAddress));
        assert_eq!(CapAddr::from_raw(u32::MAX).decode(), Err(CapError::InvalidAddress));
    }

    #[test]
    fn offsets_stay_in_their_cnode() {
        assert_eq!(CapAddr::leaf(1, 250).offset(5), Some(CapAddr::leaf(1, 255)));
        assert_eq!(CapAddr::leaf(1, 250).offset(6), None);
        assert_eq!(CapAddr::level1(10).offset(2), Some(CapAddr::level1(12)));
        assert_eq!(CapAddr::from_raw(u32::MAX).offset(0), None);
        assert_eq!(CapAddr::leaf(1, 1).offset(u32::MAX), None);
    }
}
