//! Carving pieces out of the monitor's RAM capabilities: the private region and memory share
//! of every core the boot core's monitor starts. Pieces come from the top of the capability
//! with the most room left, each aligned as asked, and never overlap (the capability system
//! would refuse a retype that did); what was taken is counted, so the monitor can say what it
//! still holds.

use alloc::vec::Vec;

/// A RAM capability the monitor may carve from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamCap {
    /// Its slot in the monitor's capability space.
    pub slot: u32,
    /// Physical base.
    pub base: u64,
    /// Bytes.
    pub size: u64,
}

/// Where a piece lies: retype `bytes` at `offset` of the capability in `slot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The RAM capability's slot.
    pub slot: u32,
    /// Offset into it.
    pub offset: u64,
    /// Physical base of the piece (`base + offset`).
    pub base: u64,
    /// Bytes of the piece.
    pub bytes: u64,
}

/// The RAM capabilities and, for each, how much of it from the bottom is still untouched.
#[derive(Debug, Default)]
pub struct Carver {
    caps: Vec<(RamCap, u64)>,
    taken: u64,
}

impl Carver {
    /// A carver over `caps`, all untouched.
    pub fn new(caps: impl IntoIterator<Item = RamCap>) -> Self {
        Carver { caps: caps.into_iter().map(|c| (c, c.size)).collect(), taken: 0 }
    }

    /// A piece of `bytes` whose physical base is a multiple of `align` (a power of two), from
    /// the top of the untouched part of the capability with the most of it that fits; `None`
    /// if none can hold it.
    pub fn take(&mut self, bytes: u64, align: u64) -> Option<Piece> {
        if bytes == 0 || !align.is_power_of_two() {
            return None;
        }
        let (cap, untouched) = self
            .caps
            .iter_mut()
            .filter(|(cap, untouched)| Self::fit(cap, *untouched, bytes, align).is_some())
            .max_by_key(|(_, untouched)| *untouched)?;
        let offset = Self::fit(cap, *untouched, bytes, align)?;
        *untouched = offset;
        self.taken += bytes;
        Some(Piece { slot: cap.slot, offset, base: cap.base + offset, bytes })
    }

    /// The offset a piece would get in `cap`, whose first `untouched` bytes are free.
    fn fit(cap: &RamCap, untouched: u64, bytes: u64, align: u64) -> Option<u64> {
        let top = cap.base.checked_add(untouched)?;
        let base = top.checked_sub(bytes)? & !(align - 1);
        (base >= cap.base).then(|| base - cap.base)
    }

    /// Bytes handed out so far.
    pub fn taken(&self) -> u64 {
        self.taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn pieces_come_from_the_top_aligned_and_never_overlap() {
        let mut carver = Carver::new([RamCap { slot: 2, base: 0x4080_1000, size: 100 * MIB }]);
        let region = carver.take(6 * MIB, 2 * MIB).unwrap();
        assert_eq!(region.base % (2 * MIB), 0);
        assert!(region.base + region.bytes <= 0x4080_1000 + 100 * MIB);
        assert_eq!(region.offset, region.base - 0x4080_1000);
        let share = carver.take(16 * MIB, 4096).unwrap();
        assert!(share.base + share.bytes <= region.base, "{share:?} below {region:?}");
        let next = carver.take(6 * MIB, 2 * MIB).unwrap();
        assert!(next.base + next.bytes <= share.base);
        assert_eq!(next.base % (2 * MIB), 0);
        assert_eq!(carver.taken(), 28 * MIB);
    }

    #[test]
    fn the_roomiest_capability_is_used_and_a_piece_too_big_is_refused() {
        let small = RamCap { slot: 1, base: 0x1000_0000, size: 8 * MIB };
        let large = RamCap { slot: 3, base: 0x2000_0000, size: 64 * MIB };
        let mut carver = Carver::new([small, large]);
        assert_eq!(carver.take(6 * MIB, 2 * MIB).unwrap().slot, 3);
        assert_eq!(carver.take(200 * MIB, 4096), None);
        assert_eq!(carver.take(0, 4096), None);
        assert_eq!(carver.take(4096, 3), None);
        // 8 MiB pieces fill the large one first, then the small one takes the last.
        let mut slots = Vec::new();
        while let Some(piece) = carver.take(8 * MIB, 4096) {
            slots.push(piece.slot);
        }
        assert_eq!(
            slots,
            [3, 3, 3, 3, 3, 3, 3, 1],
            "7 more from the large one (58 MiB left), then the small"
        );
        assert_eq!(carver.take(4096, 4096).map(|p| p.slot), Some(3), "the 2 MiB left in the large one");
    }
}
