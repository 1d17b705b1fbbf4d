//! This core's CPU driver as the capability protocol (`capops`) reaches it: the calls of the
//! Kernel capability's holder, and the slots of the monitor's capability space the protocol
//! fills.

use caps::{CapAddr, CapError, CapType, Capability, Owner, Retype, Rights};
use userland::{Described, Error};

/// Root slot of the CNode whose slots the protocol fills (copies that arrive, objects retyped
/// for other cores, channel frames): a CNode of its own, retyped by [`make_monitor_cnodes`] at
/// start-up, so that the protocol never competes with boot and spawning for the first CNode's 64
/// slots (with nine, arrivals were refused for lack of a slot while a core was busy).
const PROTOCOL_CNODE: u16 = 1;
/// Slots of that CNode (one 4 KiB CNode).
const PROTOCOL_SLOT_COUNT: u8 = userland::CNODE_SLOTS as u8;

/// The addresses of the protocol's slots.
pub fn protocol_slots() -> impl Iterator<Item = u32> + Clone {
    (0..PROTOCOL_SLOT_COUNT).map(|index| userland::cap_addr(PROTOCOL_CNODE, index))
}

/// Whether `raw` is one of the protocol's slots.
pub fn is_protocol_slot(raw: u32) -> bool {
    protocol_slots().any(|slot| slot == raw)
}

/// Root slot of the CNode where the monitor keeps what it holds for each program it spawned
/// (slot `i` for the `i`th boot module it spawns: the program's channel RAM).
const PROGRAM_CNODE: u16 = 2;

/// Where the monitor keeps its copy of the channel RAM of the `index`th program it spawns.
pub fn program_channel_ram_slot(index: u32) -> u32 {
    userland::cap_addr(PROGRAM_CNODE, index as u8)
}

/// Root slot of the CNode where the monitor keeps its copy of each Endpoint it gave for a
/// same-core binding (revoking the copy removes the program's when the binding closes): 64
/// slots, 32 bindings open at once.
const BINDING_CNODE: u16 = 3;

/// An empty slot of the bindings' CNode, if one is left.
pub fn empty_binding_slot() -> Option<u32> {
    let empty = Error::Capability(CapError::EmptySlot.code());
    (0..userland::CNODE_SLOTS as u8)
        .map(|index| userland::cap_addr(BINDING_CNODE, index))
        .find(|&slot| userland::cap_identify(slot) == Err(empty))
}

/// Retypes the protocol's CNode, the programs' CNode and the bindings' CNode from this
/// monitor's free RAM; `None` when there is not enough.
pub fn make_monitor_cnodes() -> Option<()> {
    let bytes = u64::from(PROTOCOL_SLOT_COUNT) * caps::SLOT_BYTES;
    for root in [PROTOCOL_CNODE, PROGRAM_CNODE, BINDING_CNODE] {
        crate::span::retype_free(userland::cap_type::CNODE, bytes, CapAddr::level1(root).raw())?;
    }
    Some(())
}

/// Bytes of physical address space a sweep of everything a core owns covers (the
/// architecture's largest physical address, 52 bits).
const PHYSICAL_SPACE: u64 = 1 << 52;

/// Removes every copy this core holds of objects core `owner` owns, wherever they lie (and
/// unmaps them): once `owner` went off, its memory is handed back and used again, so nothing
/// here may keep reaching it. Returns how many went.
pub fn sweep_everything_of(owner: u64) -> Result<u64, CapError> {
    let everything = Capability::ram(0, PHYSICAL_SPACE)?;
    userland::cap_sweep(described(&everything, owner)).map_err(cap_error)
}

/// The Kernel capability's calls, on core `core`.
pub struct KernelCaps {
    /// This core's index.
    pub core: u64,
}

/// What the capability system said, from the error a call returned.
fn cap_error(error: Error) -> CapError {
    match error {
        Error::Capability(code) => CapError::from_code(code.into()).unwrap_or(CapError::InvalidArgument),
        Error::Denied => CapError::Denied,
        _ => CapError::InvalidArgument,
    }
}

fn described(capability: &Capability, owner: u64) -> Described {
    Described {
        word: userland::describe(capability.kind() as u64, u64::from(capability.rights().bits()), owner),
        base: capability.base(),
        size: capability.size(),
    }
}

impl KernelCaps {
    fn owner(&self, index: u64) -> Owner {
        if index == self.core {
            Owner::Here
        } else {
            Owner::Core(index as u32)
        }
    }

    fn index(&self, owner: Owner) -> u64 {
        match owner {
            Owner::Here => self.core,
            Owner::Core(core) => u64::from(core),
        }
    }
}

impl capops::Core for KernelCaps {
    fn identify(&self, slot: CapAddr) -> Result<Capability, CapError> {
        let info = userland::cap_identify(slot.raw()).map_err(cap_error)?;
        let kind = CapType::from_raw(info.kind).ok_or(CapError::WrongType)?;
        let rights = Rights::from_bits(info.rights).ok_or(CapError::InvalidArgument)?;
        Ok(Capability::memory(kind, info.base, info.size)?.reduced(rights))
    }

    fn owner(&self, slot: CapAddr) -> Result<Owner, CapError> {
        userland::cap_owner(slot.raw()).map(|index| KernelCaps::owner(self, index)).map_err(cap_error)
    }

    fn export(&mut self, slot: CapAddr) -> Result<(Capability, Owner), CapError> {
        let exported = userland::cap_export(slot.raw()).map_err(cap_error)?;
        let (kind, rights, owner) = syscall_word(exported.word)?;
        let capability = Capability::memory(kind, exported.base, exported.size)?.reduced(rights);
        Ok((capability, KernelCaps::owner(self, owner)))
    }

    fn receive(&mut self, capability: Capability, owner: Owner, dest: CapAddr) -> Result<(), CapError> {
        userland::cap_receive(dest.raw(), described(&capability, self.index(owner))).map_err(cap_error)
    }

    fn retype(&mut self, src: CapAddr, retype: Retype, dest: CapAddr) -> Result<(), CapError> {
        let kind = retype.kind as u64;
        userland::cap_retype(src.raw(), kind, retype.offset, retype.object_size, 1, dest.raw())
            .map_err(cap_error)
    }

    fn sweep(&mut self, object: Capability, owner: usize) -> Result<(), CapError> {
        userland::cap_sweep(described(&object, owner as u64)).map(|_| ()).map_err(cap_error)
    }

    fn revoke_agreed(&mut self, slot: CapAddr) -> Result<(), CapError> {
        userland::cap_revoke_agreed(slot.raw()).map_err(cap_error)
    }

    fn protect(&mut self, object: Capability, owner: usize, rights: Rights) -> Result<(), CapError> {
        userland::cap_protect(described(&object, owner as u64), u64::from(rights.bits()))
            .map(|_| ())
            .map_err(cap_error)
    }

    fn protect_own(&mut self, slot: CapAddr, rights: Rights) -> Result<(), CapError> {
        let object = self.identify(slot)?;
        userland::cap_protect(described(&object, self.core), u64::from(rights.bits()))
            .map(|_| ())
            .map_err(cap_error)
    }

    fn take_slot(&mut self) -> Option<CapAddr> {
        let empty = Error::Capability(CapError::EmptySlot.code());
        protocol_slots().map(CapAddr::from_raw).find(|slot| userland::cap_identify(slot.raw()) == Err(empty))
    }

    fn return_slot(&mut self, _slot: CapAddr) {
        // Free slots are found by looking: nothing to give back.
    }
}

/// The type, rights and owner `cap_export` packed.
fn syscall_word(word: u64) -> Result<(CapType, Rights, u64), CapError> {
    let (kind, rights, owner) = userland::undescribe(word).ok_or(CapError::InvalidArgument)?;
    let kind = CapType::from_raw(kind).ok_or(CapError::InvalidArgument)?;
    let rights = Rights::from_bits(rights).ok_or(CapError::InvalidArgument)?;
    Ok((kind, rights, owner))
}
