//! Address space identifiers: which of the 8-bit ASIDs (`TCR_EL1.AS` = 0) are in use on this
//! core, so that a dispatcher that ends gives its ASID back for the next one.
//!
//! Portable bookkeeping only. The TLB maintenance that makes a returned ASID safe to hand out
//! again (`tlbi aside1is` for it, so no entry cached for the old address space can hit in the
//! new one) is the kernel's, through `arch::aarch64::tlb`, when [`Asids::allocate`] says the
//! ASID was used before. ASID 0 is never handed out: TTBR0 holds it while no dispatcher runs.

extern crate alloc;

use alloc::vec::Vec;

/// Largest ASID with 8-bit ASIDs.
pub const MAX_ASID: u16 = 255;

/// An ASID handed out, and whether it was used before (so its TLB entries must be invalidated
/// before the new address space runs with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allocated {
    /// The ASID.
    pub asid: u16,
    /// It belonged to an address space before: invalidate its TLB entries first.
    pub recycled: bool,
}

/// Every ASID is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted;

impl core::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "out of address space identifiers (all {MAX_ASID} in use)")
    }
}

/// Why an ASID could not be given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// Not an ASID this allocator hands out (0 or above [`MAX_ASID`]).
    OutOfRange,
    /// Not in use (given back twice, or never handed out).
    NotInUse,
}

/// The ASIDs of one core: never-used ones first, in order, then freed ones, oldest first.
#[derive(Debug)]
pub struct Asids {
    next_fresh: u16,
    free: Vec<u16>,
    in_use: [bool; MAX_ASID as usize + 1],
}

impl Default for Asids {
    fn default() -> Self {
        Asids::new()
    }
}

impl Asids {
    /// Every ASID from 1 to [`MAX_ASID`] free.
    pub const fn new() -> Asids {
        Asids { next_fresh: 1, free: Vec::new(), in_use: [false; MAX_ASID as usize + 1] }
    }

    /// Hands out an ASID: a never-used one while there are any (no TLB maintenance needed),
    /// else the one freed longest ago.
    pub fn allocate(&mut self) -> Result<Allocated, Exhausted> {
        let allocated = if self.next_fresh <= MAX_ASID {
            let asid = self.next_fresh;
            self.next_fresh += 1;
            Allocated { asid, recycled: false }
        } else if !self.free.is_empty() {
            Allocated { asid: self.free.remove(0), recycled: true }
        } else {
            return Err(Exhausted);
        };
        self.in_use[usize::from(allocated.asid)] = true;
        Ok(allocated)
    }

    /// Gives `asid` back (its address space will never run again).
    pub fn free(&mut self, asid: u16) -> Result<(), FreeError> {
        if asid == 0 || asid > MAX_ASID {
            return Err(FreeError::OutOfRange);
        }
        let used = &mut self.in_use[usize::from(asid)];
        if !*used {
            return Err(FreeError::NotInUse);
        }
        *used = false;
        self.free.push(asid);
        Ok(())
    }

    /// How many are in use.
    pub fn in_use(&self) -> usize {
        self.in_use.iter().filter(|&&u| u).count()
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
        assert_eq!(asids.allocate(), Err(Exhausted));
        assert_eq!(asids.allocate(), Err(Exhausted), "still an error, never a panic");
        asids.free(7).unwrap();
        asids.free(3).unwrap();
        assert_eq!(asids.allocate().unwrap(), Allocated { asid: 7, recycled: true });
        assert_eq!(asids.allocate().unwrap(), Allocated { asid: 3, recycled: true });
        assert_eq!(asids.allocate(), Err(Exhausted));
        assert_eq!(asids.in_use(), MAX_ASID as usize);
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
