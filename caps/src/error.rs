//! Why an operation was refused.

/// Why an operation was refused. Every operation checks everything before it changes anything,
/// so a refused operation leaves the core's capabilities as they were.
///
/// Each has a stable number ([`CapError::code`]), so that a system call can return the exact
/// reason and a test at EL0 can tell a forged address from a missing right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CapError {
    /// The capability address is malformed (reserved bits set, or a level-1 address with a
    /// level-2 index).
    InvalidAddress = 1,
    /// An index is beyond the slots of the CNode it selects.
    IndexOutOfRange = 2,
    /// The level-1 slot of a two-level address is empty or holds no CNode.
    NotACNode = 3,
    /// The addressed slot is empty.
    EmptySlot = 4,
    /// The destination slot already holds a capability.
    SlotOccupied = 5,
    /// The capability space (its root CNode) or kernel-held slot no longer exists.
    Stale = 6,
    /// The operation does not apply to this type of capability.
    WrongType = 7,
    /// The source type cannot be retyped into the requested type.
    InvalidRetype = 8,
    /// The object size breaks the rules of its type.
    InvalidSize = 9,
    /// An object's base is not aligned as its type requires.
    Misaligned = 10,
    /// The requested range lies (partly) outside the source object, or overflows.
    OutOfBounds = 11,
    /// Part of the requested range has been retyped already (the source has descendants there).
    AlreadyRetyped = 12,
    /// A new root capability overlaps an object that already has a capability.
    Overlap = 13,
    /// Mint asked for a right the source does not have.
    RightsExceeded = 14,
    /// The capability lacks a right the operation needs.
    Denied = 15,
    /// An argument is out of range (a count of 0).
    InvalidArgument = 16,
    /// The operation would take this core past its limit on capabilities (live capabilities
    /// plus CNode table slots and tables, [`CoreCapabilities::with_limit`](crate::CoreCapabilities::with_limit)):
    /// the kernel heap that holds them is bounded. Delete capabilities to make room.
    OutOfCapabilities = 17,
    /// The capability is a copy of an object another core owns: only the owning core retypes or
    /// revokes it (ask the owner through the monitors).
    NotOwner = 18,
    /// Copies of the object (or of objects inside it) may be held by other cores: removing the
    /// last copy here or revoking it needs the monitors' agreement with those cores.
    Lent = 19,
}

impl CapError {
    /// Every error, in code order.
    pub const ALL: [CapError; 19] = [
        CapError::InvalidAddress,
        CapError::IndexOutOfRange,
        CapError::NotACNode,
        CapError::EmptySlot,
        CapError::SlotOccupied,
        CapError::Stale,
        CapError::WrongType,
        CapError::InvalidRetype,
        CapError::InvalidSize,
        CapError::Misaligned,
        CapError::OutOfBounds,
        CapError::AlreadyRetyped,
        CapError::Overlap,
        CapError::RightsExceeded,
        CapError::Denied,
        CapError::InvalidArgument,
        CapError::OutOfCapabilities,
        CapError::NotOwner,
        CapError::Lent,
    ];

    /// The error's number (1 and up; 0 is never an error).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The error with number `code`.
    pub fn from_code(code: u64) -> Option<CapError> {
        let index = usize::try_from(code).ok()?.checked_sub(1)?;
        CapError::ALL.get(index).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (index, error) in CapError::ALL.iter().enumerate() {
            assert_eq!(usize::from(error.code()), index + 1);
            assert_eq!(CapError::from_code(u64::from(error.code())), Some(*error));
        }
        assert_eq!(CapError::from_code(0), None);
        assert_eq!(CapError::from_code(CapError::ALL.len() as u64 + 1), None);
        assert_eq!(CapError::from_code(u64::MAX), None);
    }
}
