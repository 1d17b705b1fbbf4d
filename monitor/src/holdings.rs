//! The global invariant of capabilities across cores, checked over what every core reports
//! holding (`scripts/run selftest`'s random exercise): capabilities to overlapping memory are
//! nested (one range inside the other: no two retypes of the same memory both succeeded), and
//! all of them have the same owning core.

use alloc::format;
use alloc::string::String;

/// One capability a core holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holding {
    /// The holding core.
    pub core: u32,
    /// Its type number.
    pub kind: u32,
    /// First byte of its memory.
    pub base: u64,
    /// Bytes.
    pub size: u64,
    /// The owning core.
    pub owner: u32,
}

impl Holding {
    fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    fn contains(&self, other: &Holding) -> bool {
        self.base <= other.base && other.end() <= self.end()
    }
}

/// Checks every pair; the first violation, said in words.
pub fn check(holdings: &[Holding]) -> Result<(), String> {
    for (i, a) in holdings.iter().enumerate() {
        for b in &holdings[i + 1..] {
            if a.base >= b.end() || b.base >= a.end() {
                continue;
            }
            if !a.contains(b) && !b.contains(a) {
                return Err(format!(
                    "core {} holds {:#x}+{:#x} cutting across core {}'s {:#x}+{:#x}",
                    a.core, a.base, a.size, b.core, b.base, b.size
                ));
            }
            if a.owner != b.owner {
                return Err(format!(
                    "{:#x}+{:#x} owned by core {} (held on {}) overlaps {:#x}+{:#x} owned by core {} (held on {})",
                    a.base, a.size, a.owner, a.core, b.base, b.size, b.owner, b.core
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(core: u32, base: u64, size: u64, owner: u32) -> Holding {
        Holding { core, kind: 2, base, size, owner }
    }

    #[test]
    fn nested_memory_of_one_owner_passes_and_anything_else_is_named() {
        let good = [
            at(0, 0x1000, 0x4000, 0),
            at(1, 0x1000, 0x4000, 0),
            at(2, 0x2000, 0x1000, 0),
            at(3, 0x9000, 0x1000, 3),
        ];
        assert_eq!(check(&good), Ok(()));
        let across = [at(0, 0x1000, 0x2000, 0), at(1, 0x2000, 0x2000, 0)];
        assert!(check(&across).unwrap_err().contains("cutting across"));
        let two_owners = [at(0, 0x1000, 0x4000, 0), at(1, 0x2000, 0x1000, 1)];
        assert!(check(&two_owners).unwrap_err().contains("owned by core 0"));
    }
}
