//! Why an operation was refused.

/// Why an operation was refused. Every operation checks everything before it changes anything,
/// so a refused operation leaves the core's capabilities as they were.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapError {
    /// The capability address is malformed (reserved bits set, or a level-1 address with a
    /// level-2 index).
    InvalidAddress,
    /// An index is beyond the slots of the CNode it selects.
    IndexOutOfRange,
    /// The level-1 slot of a two-level address is empty or holds no CNode.
    NotACNode,
    /// The addressed slot is empty.
    EmptySlot,
    /// The destination slot already holds a capability.
    SlotOccupied,
    /// The capability space (its root CNode) or kernel-held slot no longer exists.
    Stale,
    /// The operation does not apply to this type of capability.
    WrongType,
    /// The source type cannot be retyped into the requested type.
    InvalidRetype,
    /// The object size breaks the rules of its type.
    InvalidSize,
    /// An object's base is not aligned as its type requires.
    Misaligned,
    /// The requested range lies (partly) outside the source object, or overflows.
    OutOfBounds,
    /// Part of the requested range has been retyped already (the source has descendants there).
    AlreadyRetyped,
    /// A new root capability overlaps an object that already has a capability.
    Overlap,
    /// Mint asked for a right the source does not have.
    RightsExceeded,
    /// The capability lacks a right the operation needs.
    Denied,
    /// An argument is out of range (a count of 0).
    InvalidArgument,
}
