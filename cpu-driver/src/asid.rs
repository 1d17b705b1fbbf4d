//! Address space identifiers: which ASIDs are in use on this core, so that a dispatcher that
//! ends gives its ASID back for the next one. A core has 16-bit ASIDs when
//! `ID_AA64MMFR0_EL1.ASIDBits` says so (its kernel then sets `TCR_EL1.AS`), else 8-bit ones:
//! [`Asids::with_bits`].
//!
//! Portable bookkeeping only. The TLB maintenance that makes a returned ASID safe to hand out
//! again (`tlbi aside1is` for it, so no entry cached for the old address space can hit in the
//! new one) is the kernel's, through `arch::aarch64::tlb`, when [`Asids::allocate`] says the
//! ASID was used before. ASID 0 is never handed out: TTBR0 holds it while no dispatcher runs.

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Largest ASID with 8-bit ASIDs.
pub const MAX_ASID: u16 = 255;
/// Largest ASID with 16-bit ASIDs.
pub const MAX_ASID_16: u16 = u16::MAX;

/// An ASID handed out, and whether it was used before (so its TLB entries must be invalidated
/// before the new address space runs with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allocated {
    /// The ASID.
    pub asid: u16,
    /// It belonged to an address space before: invalidate its TLB entries first.
    pub recycled: bool,
}

/// Every ASID is in use (there are this many).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted(pub u16);

impl core::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "out of address space identifiers (all {} in use)", self.0)
    }
}

/// Why an ASID could not be given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// Not an ASID this allocator hands out (0 or above its largest).
    OutOfRange,
    /// Not in use (given back twice, or never handed out).
    NotInUse,
}

/// The ASIDs of one core: never-used ones first, in order, then freed ones, oldest first.
#[derive(Debug)]
pub struct Asids {
    max: u16,
    next_fresh: u32,
    free: VecDeque<u16>,
    /// One bit per ASID.
    in_use: Vec<u64>,
}

impl Default for Asids {
    fn default() -> Self {
        Asids::new()
    }
}

impl Asids {
    /// Every 8-bit ASID from 1 to [`MAX_ASID`] free.
    pub fn new() -> Asids {
        Asids::with_bits(8)
    }

    /// Every ASID of a core with `bits`-bit ASIDs (16, else 8) free, from 1 on.
    pub fn with_bits(bits: u32) -> Asids {
        let max = if bits == 16 { MAX_ASID_16 } else { MAX_ASID };
        Asids { max, next_fresh: 1, free: VecDeque::new(), in_use: alloc::vec![0; usize::from(max) / 64 + 1] }
    }

    /// The largest ASID handed out.
    pub fn max(&self) -> u16 {
        self.max
    }

    fn bit(asid: u16) -> (usize, u64) {
        (usize::from(asid) / 64, 1 << (asid % 64))
    }

    /// Hands out an ASID: a never-used one while there are any (no TLB maintenance needed),
    /// else the one freed longest ago.
    pub fn allocate(&mut self) -> Result<Allocated, Exhausted> {
        let allocated = if self.next_fresh <= u32::from(self.max) {
            let asid = self.next_fresh as u16;
            self.next_fresh += 1;
            Allocated { asid, recycled: false }
        } else if let Some(asid) = self.free.pop_front() {
            Allocated { asid, recycled: true }
        } else {
            return Err(Exhausted(self.max));
        };
        let (word, bit) = Self::bit(allocated.asid);
        self.in_use[word] |= bit;
        Ok(allocated)
    }

    /// Gives `asid` back (its address space will never run again).
    pub fn free(&mut self, asid: u16) -> Result<(), FreeError> {
        if asid == 0 || asid > self.max {
            return Err(FreeError::OutOfRange);
        }
        let (word, bit) = Self::bit(asid);
        if self.in_use[word] & bit == 0 {
            return Err(FreeError::NotInUse);
        }
        self.in_use[word] &= !bit;
        self.free.push_back(asid);
        Ok(())
    }

    /// How many are in use.
    pub fn in_use(&self) -> usize {
        self.in_use.iter().map(|w| w.count_ones() as usize).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ones_first_then_freed_ones_marked_recycled() {
        let mut asids = Asids::new();
        let a = asids.allocate().unwrap();
        let b = asids.allocate().unwrap();
        assert_eq!(a, Allocated { asid: 1, recycled: false });
        assert_eq!(b, Allocated { asid: 2, recycled: false });
        asids.free(1).unwrap();
        // Fresh ones are preferred while they last: no TLB maintenance for them.
        assert_eq!(asids.allocate().unwrap(), Allocated { asid: 3, recycled: false });
        assert_eq!(asids.in_use(), 2);
    }

    #[test]
    fn exhaustion_is_an_error_and_freeing_recovers() {
        let mut asids = Asids::new();
        for expected in 1..=MAX_ASID {
            assert_eq!(asids.allocate().unwrap().asid, expected);
        }
        assert_eq!(asids.allocate(), Err(Exhausted(MAX_ASID)));
        assert_eq!(asids.allocate(), Err(Exhausted(MAX_ASID)), "still an error, never a panic");
        asids.free(7).unwrap();
        asids.free(3).unwrap();
        assert_eq!(asids.allocate().unwrap(), Allocated { asid: 7, recycled: true });
        assert_eq!(asids.allocate().unwrap(), Allocated { asid: 3, recycled: true });
        assert_eq!(asids.allocate(), Err(Exhausted(MAX_ASID)));
        assert_eq!(asids.in_use(), MAX_ASID as usize);
    }

    #[test]
    fn a_core_with_16_bit_asids_has_65535() {
        let mut asids = Asids::with_bits(16);
        assert_eq!(asids.max(), MAX_ASID_16);
        for expected in 1..=MAX_ASID_16 {
            assert_eq!(asids.allocate().unwrap().asid, expected);
        }
        assert_eq!(asids.allocate(), Err(Exhausted(MAX_ASID_16)));
        asids.free(MAX_ASID_16).unwrap();
        asids.free(300).unwrap();
        assert_eq!(asids.allocate().unwrap(), Allocated { asid: MAX_ASID_16, recycled: true });
        assert_eq!(asids.allocate().unwrap(), Allocated { asid: 300, recycled: true });
        assert_eq!(Asids::with_bits(8).max(), MAX_ASID, "anything but 16 bits is 8");
        assert_eq!(Asids::with_bits(8).free(256), Err(FreeError::OutOfRange));
    }

    #[test]
    fn bad_frees_are_refused() {
        let mut asids = Asids::new();
        assert_eq!(asids.free(0), Err(FreeError::OutOfRange));
        assert_eq!(asids.free(MAX_ASID + 1), Err(FreeError::OutOfRange));
        assert_eq!(asids.free(5), Err(FreeError::NotInUse));
        let a = asids.allocate().unwrap().asid;
        asids.free(a).unwrap();
        assert_eq!(asids.free(a), Err(FreeError::NotInUse));
    }

    #[test]
    fn a_million_rounds_of_allocate_and_free_never_run_out() {
        let mut asids = Asids::new();
        let held: Vec<u16> = (0..200).map(|_| asids.allocate().unwrap().asid).collect();
        for _ in 0..1_000_000 {
            let a = asids.allocate().unwrap();
            assert!(!held.contains(&a.asid));
            asids.free(a.asid).unwrap();
        }
        assert_eq!(asids.in_use(), 200);
    }
}
