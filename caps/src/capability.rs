//! Capability types, the objects they name and the size rules of each type.

use crate::error::CapError;
use crate::rights::Rights;

/// The smallest unit of memory a capability names: 4 KiB. Every memory object is a whole
/// number of pages and page aligned, whatever the architecture's own granule.
pub const PAGE_SIZE: u64 = 4096;
/// Memory a CNode spends per slot: 64 bytes, as a Barrelfish capability table entry. A CNode of
/// `size` bytes has `size / SLOT_BYTES` slots.
pub const SLOT_BYTES: u64 = 64;
/// Size of a translation table at every level (512 eight-byte descriptors).
pub const VNODE_SIZE: u64 = PAGE_SIZE;
/// Size of a dispatcher's control block.
pub const DISPATCHER_SIZE: u64 = PAGE_SIZE;

/// The type of a capability.
///
/// The discriminant is also the type's rank in the derivation database: where two capabilities
/// name the same range, the lower rank is the ancestor (RAM before the Frame retyped from all of
/// it, a Dispatcher before its Endpoints).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum CapType {
    /// Untyped physical memory: can be retyped into every other memory type.
    Ram = 0,
    /// Device registers: mapped uncached; never RAM, never retyped into RAM.
    DeviceFrame = 1,
    /// Memory to map into address spaces.
    Frame = 2,
    /// Capability storage: slots of a capability space.
    CNode = 3,
    /// A level-0 translation table.
    VNodeL0 = 4,
    /// A level-1 translation table.
    VNodeL1 = 5,
    /// A level-2 translation table.
    VNodeL2 = 6,
    /// A level-3 translation table.
    VNodeL3 = 7,
    /// A dispatcher's control block.
    Dispatcher = 8,
    /// A way to send to a dispatcher of this core (names the dispatcher's block and a badge).
    Endpoint = 9,
    /// The right to receive one interrupt.
    Irq = 10,
    /// The authority of a monitor over its CPU driver.
    Kernel = 11,
}

impl CapType {
    /// Every type, in rank order.
    pub const ALL: [CapType; 12] = [
        CapType::Ram,
        CapType::DeviceFrame,
        CapType::Frame,
        CapType::CNode,
        CapType::VNodeL0,
        CapType::VNodeL1,
        CapType::VNodeL2,
        CapType::VNodeL3,
        CapType::Dispatcher,
        CapType::Endpoint,
        CapType::Irq,
        CapType::Kernel,
    ];

    /// Decodes a type number passed in a system call.
    pub fn from_raw(raw: u64) -> Option<CapType> {
        CapType::ALL.get(usize::try_from(raw).ok()?).copied()
    }

    /// The translation-table level of a VNode type.
    pub fn vnode_level(self) -> Option<u8> {
        match self {
            CapType::VNodeL0 => Some(0),
            CapType::VNodeL1 => Some(1),
            CapType::VNodeL2 => Some(2),
            CapType::VNodeL3 => Some(3),
            _ => None,
        }
    }

    /// Whether the type names physical memory (its object is a base and a size).
    pub fn is_memory(self) -> bool {
        self.space() == Space::Physical
    }

    pub(crate) fn space(self) -> Space {
        match self {
            CapType::Irq => Space::Irq,
            CapType::Kernel => Space::Kernel,
            _ => Space::Physical,
        }
    }

    /// Whether `self` may be retyped into `into` (Barrelfish's `caps.hl` rules, restricted to
    /// the types this system has).
    pub fn retypes_into(self, into: CapType) -> bool {
        match self {
            CapType::Ram => matches!(
                into,
                CapType::Ram
                    | CapType::Frame
                    | CapType::CNode
                    | CapType::VNodeL0
                    | CapType::VNodeL1
                    | CapType::VNodeL2
                    | CapType::VNodeL3
                    | CapType::Dispatcher
            ),
            CapType::Frame => into == CapType::Frame,
            CapType::DeviceFrame => into == CapType::DeviceFrame,
            _ => false,
        }
    }

    /// Checks `size` as the size of one object of this type, and returns the alignment its base
    /// needs.
    pub fn check_object_size(self, size: u64) -> Result<u64, CapError> {
        let page_multiple = size >= PAGE_SIZE && size.is_multiple_of(PAGE_SIZE);
        match self {
            CapType::Ram | CapType::Frame | CapType::DeviceFrame if page_multiple => Ok(PAGE_SIZE),
            // A power of two so that slot indices are plain bit fields; aligned to its size as
            // Barrelfish's CNodes are. At most 2^32 slots, so a slot index is a u32.
            CapType::CNode if size.is_power_of_two() && size >= PAGE_SIZE && size / SLOT_BYTES <= 1 << 32 => {
                Ok(size)
            }
            CapType::VNodeL0 | CapType::VNodeL1 | CapType::VNodeL2 | CapType::VNodeL3
                if size == VNODE_SIZE =>
            {
                Ok(VNODE_SIZE)
            }
            CapType::Dispatcher if size == DISPATCHER_SIZE => Ok(DISPATCHER_SIZE),
            _ => Err(CapError::InvalidSize),
        }
    }
}

/// Which numbering a capability's object lives in: physical addresses, interrupt numbers, or the
/// single kernel object. Objects of different spaces never overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Space {
    Physical = 0,
    Irq = 1,
    Kernel = 2,
}

/// A range of physical memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region {
    /// First byte.
    pub base: u64,
    /// Bytes; never 0.
    pub size: u64,
}

impl Region {
    /// One past the last byte (never overflows: capabilities are checked on creation).
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// A capability: a type, the object it names and the rights over it.
///
/// For memory types the object is a physical range (`base`, `size`); an Endpoint names its
/// dispatcher's block plus a `badge` the receiver sees; an IRQ names interrupt number `base`
/// (`size` 1); the Kernel capability names the one kernel object (`base` 0, `size` 1). The fields
/// are private so that every capability in a capability space passed the checks of its
/// constructor or of the operation that derived it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Capability {
    kind: CapType,
    base: u64,
    size: u64,
    rights: Rights,
    badge: u64,
}

impl Capability {
    /// A memory object of `kind` (any type but Endpoint, IRQ and Kernel) with every right, for
    /// the kernel to create at boot: the memory it hands out, the devices, the first CNodes.
    pub fn memory(kind: CapType, base: u64, size: u64) -> Result<Capability, CapError> {
        if !kind.is_memory() || kind == CapType::Endpoint {
            return Err(CapError::WrongType);
        }
        let alignment = kind.check_object_size(size)?;
        if !base.is_multiple_of(alignment) {
            return Err(CapError::Misaligned);
        }
        base.checked_add(size).ok_or(CapError::OutOfBounds)?;
        Ok(Capability { kind, base, size, rights: Rights::ALL, badge: 0 })
    }

    /// Untyped memory: `base` and `size` page aligned.
    pub fn ram(base: u64, size: u64) -> Result<Capability, CapError> {
        Capability::memory(CapType::Ram, base, size)
    }

    /// Device registers: `base` and `size` page aligned.
    pub fn device_frame(base: u64, size: u64) -> Result<Capability, CapError> {
        Capability::memory(CapType::DeviceFrame, base, size)
    }

    /// The right to receive interrupt `number`.
    pub fn irq(number: u32) -> Capability {
        Capability { kind: CapType::Irq, base: u64::from(number), size: 1, rights: Rights::ALL, badge: 0 }
    }

    /// The Kernel capability.
    pub fn kernel() -> Capability {
        Capability { kind: CapType::Kernel, base: 0, size: 1, rights: Rights::ALL, badge: 0 }
    }

    pub(crate) fn derived(kind: CapType, base: u64, size: u64, rights: Rights, badge: u64) -> Capability {
        Capability { kind, base, size, rights, badge }
    }

    /// The same capability with only the rights it has and `rights` also names (rights never
    /// grow): how the kernel makes a root capability with fewer rights than all.
    pub fn reduced(self, rights: Rights) -> Capability {
        Capability { rights: self.rights.intersection(rights), ..self }
    }

    pub(crate) fn with_rights(self, rights: Rights) -> Capability {
        Capability { rights, ..self }
    }

    /// The type.
    pub fn kind(&self) -> CapType {
        self.kind
    }

    /// Physical base (memory types), interrupt number (IRQ), or 0 (Kernel).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Bytes (memory types), or 1.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The physical range of a memory type.
    pub fn region(&self) -> Option<Region> {
        self.kind.is_memory().then_some(Region { base: self.base, size: self.size })
    }

    /// The rights.
    pub fn rights(&self) -> Rights {
        self.rights
    }

    /// An Endpoint's badge (0 for every other type).
    pub fn badge(&self) -> u64 {
        self.badge
    }

    /// Slots of a CNode (0 for every other type).
    pub fn cnode_slots(&self) -> u64 {
        if self.kind == CapType::CNode {
            self.size / SLOT_BYTES
        } else {
            0
        }
    }

    /// Whether `other` names the same object as `self` (a copy, whatever its rights).
    pub fn same_object(&self, other: &Capability) -> bool {
        (self.kind, self.base, self.size, self.badge) == (other.kind, other.base, other.size, other.badge)
    }

    /// Whether `other` is derived from `self` (directly or not), by the relation the
    /// derivation database keeps: same space, `other`'s range inside `self`'s, and either
    /// strictly smaller or of higher rank.
    pub fn is_ancestor_of(&self, other: &Capability) -> bool {
        let same_space = self.kind.space() == other.kind.space();
        let inside = other.base >= self.base && other.base + other.size <= self.base + self.size;
        let same_range = (self.base, self.size) == (other.base, other.size);
        same_space && inside && (!same_range || self.kind < other.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_numbers_round_trip() {
        for (number, kind) in CapType::ALL.iter().enumerate() {
            assert_eq!(CapType::from_raw(number as u64), Some(*kind));
            assert_eq!(*kind as usize, number);
        }
        assert_eq!(CapType::from_raw(12), None);
        assert_eq!(CapType::from_raw(u64::MAX), None);
    }

    #[test]
    fn size_rules() {
        assert_eq!(CapType::Frame.check_object_size(3 * PAGE_SIZE), Ok(PAGE_SIZE));
        assert_eq!(CapType::Frame.check_object_size(PAGE_SIZE + 1), Err(CapError::InvalidSize));
        assert_eq!(CapType::Frame.check_object_size(0), Err(CapError::InvalidSize));
        assert_eq!(CapType::CNode.check_object_size(4 * PAGE_SIZE), Ok(4 * PAGE_SIZE));
        assert_eq!(CapType::CNode.check_object_size(3 * PAGE_SIZE), Err(CapError::InvalidSize));
        assert_eq!(CapType::VNodeL2.check_object_size(PAGE_SIZE), Ok(PAGE_SIZE));
        assert_eq!(CapType::VNodeL2.check_object_size(2 * PAGE_SIZE), Err(CapError::InvalidSize));
        assert_eq!(CapType::Dispatcher.check_object_size(PAGE_SIZE), Ok(PAGE_SIZE));
        assert_eq!(CapType::Irq.check_object_size(PAGE_SIZE), Err(CapError::InvalidSize));
    }

    #[test]
    fn constructors_check_their_objects() {
        assert_eq!(
            Capability::ram(0x1000, 0x2000).map(|c| c.region()),
            Ok(Some(Region { base: 0x1000, size: 0x2000 }))
        );
        assert_eq!(Capability::ram(0x1001, 0x2000), Err(CapError::Misaligned));
        assert_eq!(Capability::ram(!0xfff, 0x2000), Err(CapError::OutOfBounds));
        assert_eq!(Capability::memory(CapType::CNode, 0x1000, 0x2000), Err(CapError::Misaligned));
        assert_eq!(Capability::memory(CapType::Irq, 0, 1), Err(CapError::WrongType));
        assert_eq!(Capability::memory(CapType::Endpoint, 0, PAGE_SIZE), Err(CapError::WrongType));
        assert_eq!(Capability::irq(33).region(), None);
        assert_eq!(Capability::kernel().rights(), Rights::ALL);
    }

    #[test]
    fn derivation_relation() {
        let ram = Capability::ram(0, 4 * PAGE_SIZE).unwrap();
        let frame = Capability::derived(CapType::Frame, PAGE_SIZE, PAGE_SIZE, Rights::ALL, 0);
        let whole = Capability::derived(CapType::Frame, 0, 4 * PAGE_SIZE, Rights::ALL, 0);
        assert!(ram.is_ancestor_of(&frame));
        assert!(ram.is_ancestor_of(&whole));
        assert!(!whole.is_ancestor_of(&ram));
        assert!(whole.is_ancestor_of(&frame));
        assert!(!ram.is_ancestor_of(&ram));
        assert!(!ram.is_ancestor_of(&Capability::irq(0)));
    }
}
