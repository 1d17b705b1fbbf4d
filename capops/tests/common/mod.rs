//! What the capability protocol's tests share: a simulated core (its own
//! `caps::CoreCapabilities`, the monitor's slots) and a small random generator.
#![allow(dead_code)]

use agreement::CoreId;
use capops::Core;
use caps::{
    CSpace, CapAddr, CapError, CapType, Capability, CoreCapabilities, Owner, Retype, Rights, PAGE_SIZE,
};

pub const SLOTS: u8 = 255;
pub const RAM_PAGES: u64 = 64;

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One simulated core: its capabilities and the monitor's capability space.
pub struct SimCore {
    pub caps: CoreCapabilities,
    pub cspace: CSpace,
}

pub fn slot(index: u8) -> CapAddr {
    CapAddr::leaf(0, index)
}

impl SimCore {
    /// A core whose monitor holds `RAM_PAGES` pages of its own RAM in slot 0.
    pub fn new(index: usize) -> SimCore {
        let mut caps = CoreCapabilities::new();
        let cnode_base = 0x1000_0000 + index as u64 * 0x10_0000;
        let root = caps
            .create_held_root(Capability::memory(CapType::CNode, cnode_base, PAGE_SIZE).unwrap())
            .unwrap();
        let cspace = caps.cspace_of_held(root).unwrap();
        let level2 = Capability::memory(CapType::CNode, cnode_base + 0x4_0000, 4 * PAGE_SIZE).unwrap();
        caps.create_root(level2, cspace.slot(CapAddr::level1(0))).unwrap();
        let ram = Capability::ram(ram_base(index), RAM_PAGES * PAGE_SIZE).unwrap();
        caps.create_root(ram, cspace.slot(slot(0))).unwrap();
        SimCore { caps, cspace }
    }

    pub fn occupied(&self) -> Vec<(CapAddr, Capability)> {
        (0..SLOTS)
            .filter_map(|i| self.caps.identify(self.cspace.slot(slot(i))).ok().map(|c| (slot(i), c)))
            .filter(|(_, c)| c.kind().is_memory())
            .collect()
    }
}

pub fn ram_base(index: usize) -> u64 {
    0x4000_0000 + index as u64 * 0x100_0000
}

impl Core for SimCore {
    fn identify(&self, slot: CapAddr) -> Result<Capability, CapError> {
        self.caps.identify(self.cspace.slot(slot))
    }
    fn owner(&self, slot: CapAddr) -> Result<Owner, CapError> {
        self.caps.owner(self.cspace.slot(slot))
    }
    fn export(&mut self, slot: CapAddr) -> Result<(Capability, Owner), CapError> {
        self.caps.export(self.cspace.slot(slot))
    }
    fn receive(&mut self, capability: Capability, owner: Owner, dest: CapAddr) -> Result<(), CapError> {
        self.caps.receive(capability, owner, self.cspace.slot(dest))
    }
    fn retype(&mut self, src: CapAddr, retype: Retype, dest: CapAddr) -> Result<(), CapError> {
        self.caps.retype(self.cspace.slot(src), retype, self.cspace.slot(dest)).map(|_| ())
    }
    fn sweep(&mut self, object: Capability, owner: CoreId) -> Result<(), CapError> {
        self.caps.sweep(object, owner as u32);
        Ok(())
    }
    fn revoke_agreed(&mut self, slot: CapAddr) -> Result<(), CapError> {
        self.caps.revoke_agreed(self.cspace.slot(slot)).map(|_| ())
    }
    fn protect(&mut self, object: Capability, owner: CoreId, rights: Rights) -> Result<(), CapError> {
        self.caps.reduce_copies(object, Some(owner as u32), rights);
        Ok(())
    }
    fn protect_own(&mut self, slot: CapAddr, rights: Rights) -> Result<(), CapError> {
        let object = self.caps.identify(self.cspace.slot(slot))?;
        self.caps.reduce_copies(object, None, rights);
        Ok(())
    }
    fn take_slot(&mut self) -> Option<CapAddr> {
        (1..SLOTS).map(slot).find(|&s| self.caps.identify(self.cspace.slot(s)) == Err(CapError::EmptySlot))
    }
    fn return_slot(&mut self, _slot: CapAddr) {}
}

/// A one- to four-page Frame somewhere inside `capability`, as a random retype asks.
pub fn random_frame(rng: &mut Rng, capability: &Capability) -> Retype {
    let pages = capability.size() / PAGE_SIZE;
    let size = 1 + rng.below(pages.min(4));
    let offset = rng.below(pages - size + 1);
    Retype { kind: CapType::Frame, offset: offset * PAGE_SIZE, object_size: size * PAGE_SIZE, count: 1 }
}

/// A random core other than `me` of `n`.
pub fn random_peer(rng: &mut Rng, me: usize, n: usize) -> usize {
    (me + 1 + rng.below(n as u64 - 1) as usize) % n
}
