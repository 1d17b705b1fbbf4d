//! Building translation tables (VMSAv8-64, 4 KiB granule, 39-bit VA, levels 1 to 3).
//!
//! Portable: the tables are plain `[u64; 512]` arrays with a known physical address, so the
//! boot stub builds every core's tables on the board and the host tests check the very same
//! descriptors. Descriptor bits follow the Arm ARM (DDI 0487), D8.3 "Translation table
//! descriptor formats".

use crate::layout::{GIB, MIB2, PAGE_SIZE};

/// Entries in a translation table.
pub const ENTRIES: usize = 512;
/// One translation table.
pub type Table = [u64; ENTRIES];

const VALID: u64 = 1 << 0;
/// Bit 1: set for table descriptors and level-3 pages, clear for blocks.
const TABLE_OR_PAGE: u64 = 1 << 1;
const ATTR_INDEX_SHIFT: u64 = 2;
/// `AP[1]`: EL0 may access (with `AP[2]` deciding read-only for both).
const AP_EL0: u64 = 1 << 6;
const AP_READ_ONLY: u64 = 1 << 7;
/// Not global: the entry belongs to the current ASID (every EL0 mapping).
const NOT_GLOBAL: u64 = 1 << 11;
const SH_INNER: u64 = 3 << 8;
const SH_OUTER: u64 = 2 << 8;
const ACCESS_FLAG: u64 = 1 << 10;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;
const ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;

/// `MAIR_EL1` index for device registers (Device-nGnRE).
pub const MAIR_DEVICE: u64 = 0;
/// `MAIR_EL1` index for normal write-back cacheable memory.
pub const MAIR_NORMAL: u64 = 1;
/// `MAIR_EL1` value matching the indices above.
pub const MAIR_VALUE: u64 = 0x04 | (0xff << 8);

/// What a mapping points at and who may do what with it (EL1 kernel and EL0 user mappings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attributes {
    /// Device registers: never cached, never executed.
    Device,
    /// Normal memory, read-write, not executable.
    Data,
    /// Normal memory, read-only, not executable.
    ReadOnly,
    /// Normal memory, read-only, executable by EL1.
    Code,
    /// Normal memory, read-write and executable by EL1: only for the boot stub's identity
    /// map, which runs code and writes data in the same RAM.
    CodeAndData,
    /// EL0 program text: read-only, executable at EL0 only.
    UserCode,
    /// EL0 read-only data.
    UserReadOnly,
    /// EL0 read-write data, never executable.
    UserData,
    /// Device registers a driver at EL0 maps through a device Frame capability: Device-nGnRE
    /// (the type the kernel's physmap gives every non-RAM page), read-write at EL0, never
    /// executable.
    UserDevice,
}

impl Attributes {
    fn bits(self) -> u64 {
        let normal = (MAIR_NORMAL << ATTR_INDEX_SHIFT) | SH_INNER | ACCESS_FLAG;
        match self {
            Attributes::Device => (MAIR_DEVICE << ATTR_INDEX_SHIFT) | SH_OUTER | ACCESS_FLAG | PXN | UXN,
            Attributes::Data => normal | PXN | UXN,
            Attributes::ReadOnly => normal | AP_READ_ONLY | PXN | UXN,
            Attributes::Code => normal | AP_READ_ONLY | UXN,
            Attributes::CodeAndData => normal | UXN,
            Attributes::UserCode => normal | NOT_GLOBAL | AP_EL0 | AP_READ_ONLY | PXN,
            Attributes::UserReadOnly => normal | NOT_GLOBAL | AP_EL0 | AP_READ_ONLY | PXN | UXN,
            Attributes::UserData => normal | NOT_GLOBAL | AP_EL0 | PXN | UXN,
            Attributes::UserDevice => {
                (MAIR_DEVICE << ATTR_INDEX_SHIFT) | SH_OUTER | ACCESS_FLAG | NOT_GLOBAL | AP_EL0 | PXN | UXN
            }
        }
    }
}

/// Why a mapping could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The table pool has no table left.
    OutOfTables,
    /// Address or size not page aligned.
    Misaligned,
    /// The range is already mapped differently.
    Overlap,
    /// The range lies outside the part of the address space it must be mapped in.
    OutsideWindow,
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            MapError::OutOfTables => "translation table pool exhausted",
            MapError::Misaligned => "mapping not page aligned",
            MapError::Overlap => "mapping overlaps an existing one",
            MapError::OutsideWindow => "mapping outside its window of the address space",
        })
    }
}

/// A set of translation tables at a known physical address; table 0 is the level-1 root.
pub struct TablePool<'a> {
    tables: &'a mut [Table],
    base_pa: u64,
    used: usize,
}

impl<'a> TablePool<'a> {
    /// Takes `tables` (zeroed here), which the MMU will see at physical address `base_pa`.
    pub fn new(tables: &'a mut [Table], base_pa: u64) -> Result<Self, MapError> {
        if tables.is_empty() {
            return Err(MapError::OutOfTables);
        }
        if !base_pa.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned);
        }
        for table in tables.iter_mut() {
            table.fill(0);
        }
        Ok(TablePool { tables, base_pa, used: 1 })
    }

    /// Takes back tables an earlier pool built (`used` of them in use), keeping their contents.
    pub fn resume(tables: &'a mut [Table], base_pa: u64, used: usize) -> Result<Self, MapError> {
        if used == 0 || used > tables.len() || !base_pa.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::OutOfTables);
        }
        Ok(TablePool { tables, base_pa, used })
    }

    /// Physical address of the level-1 root, the value for `TTBR0_EL1`/`TTBR1_EL1`.
    pub fn root_pa(&self) -> u64 {
        self.base_pa
    }

    /// How many tables are in use.
    pub fn tables_used(&self) -> usize {
        self.used
    }

    /// The index of the pool's table at `pa`; `None` for a table outside the pool (a VNode
    /// installed with [`TablePool::install_table`]), which the pool never writes.
    fn table_index(&self, pa: u64) -> Option<usize> {
        let index = (pa.checked_sub(self.base_pa)? / PAGE_SIZE) as usize;
        (index < self.used).then_some(index)
    }

    /// Maps `[va, va + size)` to `[pa, pa + size)`, using 1 GiB and 2 MiB blocks wherever
    /// alignment allows and 4 KiB pages elsewhere.
    pub fn map(&mut self, va: u64, pa: u64, size: u64, attributes: Attributes) -> Result<(), MapError> {
        if !va.is_multiple_of(PAGE_SIZE) || !pa.is_multiple_of(PAGE_SIZE) || !size.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned);
        }
        let mut offset = 0;
        while offset < size {
            let (v, p, left) = (va + offset, pa + offset, size - offset);
            let step = [GIB, MIB2]
                .into_iter()
                .find(|&block| v % block == 0 && p % block == 0 && left >= block)
                .unwrap_or(PAGE_SIZE);
            self.map_one(v, p, step, attributes)?;
            offset += step;
        }
        Ok(())
    }

    fn map_one(&mut self, va: u64, pa: u64, size: u64, attributes: Attributes) -> Result<(), MapError> {
        let target_level = match size {
            GIB => 1,
            MIB2 => 2,
            _ => 3,
        };
        let mut table = 0;
        for level in 1..=3u32 {
            let shift = 39 - 9 * level;
            let index = ((va >> shift) & (ENTRIES as u64 - 1)) as usize;
            let entry = self.tables[table][index];
            if level == target_level {
                let kind = if level == 3 { TABLE_OR_PAGE } else { 0 };
                let descriptor = (pa & ADDRESS_MASK) | attributes.bits() | kind | VALID;
                if entry != 0 && entry != descriptor {
                    return Err(MapError::Overlap);
                }
                self.tables[table][index] = descriptor;
                return Ok(());
            }
            table = if entry == 0 {
                let next = self.used;
                if next >= self.tables.len() {
                    return Err(MapError::OutOfTables);
                }
                self.used += 1;
                let next_pa = self.base_pa + next as u64 * PAGE_SIZE;
                self.tables[table][index] = next_pa | TABLE_OR_PAGE | VALID;
                next
            } else if entry & TABLE_OR_PAGE != 0 {
                self.table_index(entry & ADDRESS_MASK).ok_or(MapError::Overlap)?
            } else {
                return Err(MapError::Overlap);
            };
        }
        Err(MapError::Misaligned)
    }

    /// Points the level-2 entry for the 2 MiB window at `va` at the level-3 table at physical
    /// `table_pa` (a table outside this pool: a VNode the kernel hands to user code), creating
    /// the level-2 table if needed. The window must be unused.
    pub fn install_table(&mut self, va: u64, table_pa: u64) -> Result<(), MapError> {
        if !va.is_multiple_of(MIB2) || !table_pa.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned);
        }
        let l1_index = ((va >> 30) & (ENTRIES as u64 - 1)) as usize;
        let entry = self.tables[0][l1_index];
        let l2 = if entry == 0 {
            let next = self.used;
            if next >= self.tables.len() {
                return Err(MapError::OutOfTables);
            }
            self.used += 1;
            self.tables[0][l1_index] = (self.base_pa + next as u64 * PAGE_SIZE) | TABLE_OR_PAGE | VALID;
            next
        } else if entry & TABLE_OR_PAGE != 0 {
            self.table_index(entry & ADDRESS_MASK).ok_or(MapError::Overlap)?
        } else {
            return Err(MapError::Overlap);
        };
        let l2_index = ((va >> 21) & (ENTRIES as u64 - 1)) as usize;
        if self.tables[l2][l2_index] != 0 {
            return Err(MapError::Overlap);
        }
        self.tables[l2][l2_index] = (table_pa & ADDRESS_MASK) | TABLE_OR_PAGE | VALID;
        Ok(())
    }

    /// Clears the level-2 entry for the 2 MiB window at `va` if it points at the level-3 table
    /// at `table_pa` (installed with [`TablePool::install_table`]); the caller invalidates the
    /// TLB. Returns whether it did.
    pub fn uninstall_table(&mut self, va: u64, table_pa: u64) -> bool {
        let l1 = self.tables[0][((va >> 30) & (ENTRIES as u64 - 1)) as usize];
        if l1 & VALID == 0 || l1 & TABLE_OR_PAGE == 0 {
            return false;
        }
        let Some(l2) = self.table_index(l1 & ADDRESS_MASK) else { return false };
        let entry = &mut self.tables[l2][((va >> 21) & (ENTRIES as u64 - 1)) as usize];
        if *entry == (table_pa & ADDRESS_MASK) | TABLE_OR_PAGE | VALID {
            *entry = 0;
            return true;
        }
        false
    }

    /// Removes every mapping in `[va, va + size)` (page aligned) of tables this pool built,
    /// leaving the rest as it was. A block that reaches beyond the range is split first into
    /// the next level's entries (a table from the pool, same attributes): the block's entry
    /// is cleared, `break_entry(block_va)` runs (the caller completes the clear and
    /// invalidates the TLB for that address: break-before-make, Arm ARM D8.16.1, since the
    /// tables may be live), then the new table takes its place. The caller invalidates the
    /// TLB for the whole range afterwards. A window holding a table from outside the pool
    /// (`install_table`) is refused.
    pub fn unmap(&mut self, va: u64, size: u64, mut break_entry: impl FnMut(u64)) -> Result<(), MapError> {
        if !va.is_multiple_of(PAGE_SIZE) || !size.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned);
        }
        let end = va.checked_add(size).ok_or(MapError::OutsideWindow)?;
        let mut cursor = va;
        while cursor < end {
            cursor = self.unmap_at(cursor, end, &mut break_entry)?;
        }
        Ok(())
    }

    /// Clears the entry that maps `va` if it lies inside `[va, end)`, splitting a larger block
    /// first; returns the address after what was handled.
    fn unmap_at(&mut self, va: u64, end: u64, break_entry: &mut impl FnMut(u64)) -> Result<u64, MapError> {
        let mut table = 0;
        for level in 1..=3u32 {
            let shift = 39 - 9 * level;
            let span = 1u64 << shift;
            let index = ((va >> shift) & (ENTRIES as u64 - 1)) as usize;
            let entry = self.tables[table][index];
            let entry_start = va & !(span - 1);
            let entry_end = entry_start + span;
            if entry & VALID == 0 {
                return Ok(entry_end.min(end));
            }
            if level < 3 && entry & TABLE_OR_PAGE != 0 {
                table = self.table_index(entry & ADDRESS_MASK).ok_or(MapError::Overlap)?;
                continue;
            }
            if entry_start >= va && entry_end <= end {
                self.tables[table][index] = 0;
                return Ok(entry_end);
            }
            // A block reaching beyond the range: split it into the next level's entries.
            let next = self.used;
            if next >= self.tables.len() {
                return Err(MapError::OutOfTables);
            }
            self.used += 1;
            let child_span = span >> 9;
            let kind = if level == 2 { TABLE_OR_PAGE } else { 0 };
            let attributes = entry & !ADDRESS_MASK;
            let output = entry & ADDRESS_MASK;
            for (i, child) in self.tables[next].iter_mut().enumerate() {
                *child = (output + i as u64 * child_span) | attributes | kind;
            }
            self.tables[table][index] = 0;
            break_entry(entry_start);
            self.tables[table][index] = (self.base_pa + next as u64 * PAGE_SIZE) | TABLE_OR_PAGE | VALID;
            table = next;
        }
        Err(MapError::Misaligned)
    }

    /// Looks up the descriptor that maps `va` (for tests and diagnostics): its level and value.
    pub fn lookup(&self, va: u64) -> Option<(u32, u64)> {
        let mut table = 0;
        for level in 1..=3u32 {
            let shift = 39 - 9 * level;
            let entry = self.tables[table][((va >> shift) & 511) as usize];
            if entry & VALID == 0 {
                return None;
            }
            if level == 3 || entry & TABLE_OR_PAGE == 0 {
                return Some((level, entry));
            }
            table = self.table_index(entry & ADDRESS_MASK)?;
        }
        None
    }
}

/// Whether a page descriptor forbids writes (`AP[2]` set).
pub fn is_read_only(descriptor: u64) -> bool {
    descriptor & AP_READ_ONLY != 0
}

/// The level-3 (page) descriptor mapping the 4 KiB page at `pa` with `attributes`: what
/// `vnode_map` writes into a VNode's entry.
pub fn page_descriptor(pa: u64, attributes: Attributes) -> u64 {
    (pa & ADDRESS_MASK) | attributes.bits() | TABLE_OR_PAGE | VALID
}

/// The physical address a valid descriptor points at.
pub fn descriptor_address(descriptor: u64) -> u64 {
    descriptor & ADDRESS_MASK
}

/// A physical address range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// Maps physical `[0, limit)` at `va_base`: RAM with `ram_attributes`, everything else as
/// device memory, except the `holes` (rounded outwards to pages), which get no mapping at all:
/// `no-map` reserved memory (secure firmware) that not even a speculative access may reach.
///
/// `ram` and `holes` may be unsorted and overlapping; RAM edges are rounded inwards to pages.
pub fn map_physical(
    pool: &mut TablePool<'_>,
    va_base: u64,
    limit: u64,
    ram: &[PhysRange],
    holes: &[PhysRange],
    ram_attributes: Attributes,
) -> Result<(), MapError> {
    let holes = holes.iter().map(|h| PhysRange {
        start: crate::layout::align_down(h.start, PAGE_SIZE),
        end: crate::layout::align_up(h.end.min(limit), PAGE_SIZE),
    });
    let mut cursor = 0;
    while cursor < limit {
        let next_hole = holes.clone().filter(|h| h.end > cursor && h.start < h.end).min_by_key(|h| h.start);
        match next_hole {
            Some(hole) if hole.start <= cursor => cursor = hole.end,
            Some(hole) => {
                map_between(pool, va_base, cursor, hole.start, ram, ram_attributes)?;
                cursor = hole.end;
            }
            None => {
                map_between(pool, va_base, cursor, limit, ram, ram_attributes)?;
                cursor = limit;
            }
        }
    }
    Ok(())
}

/// Maps physical `[start, limit)` at `va_base + start`: RAM with `ram_attributes`, the rest
/// as device memory.
fn map_between(
    pool: &mut TablePool<'_>,
    va_base: u64,
    start: u64,
    limit: u64,
    ram: &[PhysRange],
    ram_attributes: Attributes,
) -> Result<(), MapError> {
    let mut cursor = start;
    while cursor < limit {
        let next_ram = ram
            .iter()
            .map(|r| PhysRange {
                start: crate::layout::align_up(r.start, PAGE_SIZE),
                end: crate::layout::align_down(r.end.min(limit), PAGE_SIZE),
            })
            .filter(|r| r.end > cursor && r.start < r.end)
            .min_by_key(|r| r.start.max(cursor));
        match next_ram {
            Some(r) if r.start <= cursor => {
                let end = ram_run_end(ram, cursor, limit);
                pool.map(va_base + cursor, cursor, end - cursor, ram_attributes)?;
                cursor = end;
            }
            Some(r) => {
                pool.map(va_base + cursor, cursor, r.start - cursor, Attributes::Device)?;
                cursor = r.start;
            }
            None => {
                pool.map(va_base + cursor, cursor, limit - cursor, Attributes::Device)?;
                cursor = limit;
            }
        }
    }
    Ok(())
}

/// The end of the run of RAM (possibly several touching ranges) that contains `at`.
fn ram_run_end(ram: &[PhysRange], at: u64, limit: u64) -> u64 {
    let mut end = at;
    loop {
        let extended = ram
            .iter()
            .filter(|r| crate::layout::align_up(r.start, PAGE_SIZE) <= end && r.end > end)
            .map(|r| crate::layout::align_down(r.end.min(limit), PAGE_SIZE))
            .max();
        match extended {
            Some(e) if e > end => end = e,
            _ => return end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{KERNEL_BASE, PHYSMAP_BASE, PHYSMAP_LIMIT};

    fn pool(tables: &mut [Table]) -> TablePool<'_> {
        TablePool::new(tables, 0x4000_0000).unwrap()
    }

    #[test]
    fn large_aligned_ranges_use_blocks() {
        let mut tables = vec![[0u64; 512]; 4];
        let mut pool = pool(&mut tables);
        pool.map(0x4000_0000, 0x4000_0000, GIB, Attributes::Data).unwrap();
        assert_eq!(pool.tables_used(), 1);
        let (level, desc) = pool.lookup(0x4000_1234).unwrap();
        assert_eq!(level, 1);
        assert_eq!(desc & ADDRESS_MASK, 0x4000_0000);
        assert_eq!(desc & 3, 1, "a block descriptor");
    }

    #[test]
    fn kernel_window_gets_pages_with_permissions() {
        let mut tables = vec![[0u64; 512]; 4];
        let mut pool = pool(&mut tables);
        pool.map(KERNEL_BASE, 0x7fe0_0000, PAGE_SIZE, Attributes::Code).unwrap();
        pool.map(KERNEL_BASE + PAGE_SIZE, 0x7fe0_1000, PAGE_SIZE, Attributes::Data).unwrap();
        let (level, code) = pool.lookup(KERNEL_BASE).unwrap();
        assert_eq!(level, 3);
        assert_eq!(code & ADDRESS_MASK, 0x7fe0_0000);
        assert_eq!(code & (PXN | UXN), UXN, "EL1 may execute code");
        assert_ne!(code & AP_READ_ONLY, 0);
        assert!(is_read_only(code) && !is_read_only(page_descriptor(0x4000_0000, Attributes::UserData)));
        let (_, data) = pool.lookup(KERNEL_BASE + PAGE_SIZE).unwrap();
        assert_eq!(data & (PXN | AP_READ_ONLY), PXN, "data is writable, never executable");
        assert!(pool.lookup(KERNEL_BASE + 2 * PAGE_SIZE).is_none());
    }

    #[test]
    fn user_mappings_are_el0_accessible_not_global_and_never_el1_executable() {
        let mut tables = vec![[0u64; 512]; 4];
        let mut pool = pool(&mut tables);
        pool.map(0x40_0000, 0x7000_0000, PAGE_SIZE, Attributes::UserCode).unwrap();
        pool.map(0x40_1000, 0x7000_1000, PAGE_SIZE, Attributes::UserData).unwrap();
        let (_, code) = pool.lookup(0x40_0000).unwrap();
        assert_eq!(
            code & (AP_EL0 | AP_READ_ONLY | NOT_GLOBAL | PXN | UXN),
            AP_EL0 | AP_READ_ONLY | NOT_GLOBAL | PXN
        );
        let (_, data) = pool.lookup(0x40_1000).unwrap();
        assert_eq!(data & (AP_EL0 | AP_READ_ONLY | PXN | UXN), AP_EL0 | PXN | UXN);
    }

    #[test]
    fn installed_tables_are_walked_and_page_descriptors_are_user_pages() {
        let mut tables = [[0u64; ENTRIES]; 3];
        let mut pool = pool(&mut tables);
        let va = 0x30_0000_0000;
        let l3_pa = 0x9000_0000;
        pool.install_table(va, l3_pa).unwrap();
        assert_eq!(pool.tables_used(), 2);
        assert_eq!(pool.lookup(va), None, "the level-3 table is not in the pool: not walked here");
        assert_eq!(pool.install_table(va, l3_pa), Err(MapError::Overlap));
        assert_eq!(pool.install_table(va + 4096, l3_pa), Err(MapError::Misaligned));
        // A page mapped by the pool's own walk in the same window would now overlap.
        assert_eq!(pool.map(va, 0x8000_0000, 4096, Attributes::UserData), Err(MapError::Overlap));
        // Uninstalling needs the same table; then the window is free again.
        assert!(!pool.uninstall_table(va, l3_pa + 4096));
        assert!(!pool.uninstall_table(va + (2 << 20), l3_pa));
        assert!(pool.uninstall_table(va, l3_pa));
        assert!(!pool.uninstall_table(va, l3_pa));
        pool.install_table(va, l3_pa + 4096).unwrap();
        assert_eq!(pool.tables_used(), 2, "the level-2 table is reused");
        let d = page_descriptor(0x8000_1000, Attributes::UserData);
        assert_eq!(descriptor_address(d), 0x8000_1000);
        assert_eq!(d & 3, 3, "valid page");
        assert_ne!(d & AP_EL0, 0);
        assert_ne!(d & NOT_GLOBAL, 0);
        assert_ne!(d & PXN, 0);
        assert_ne!(d & UXN, 0);
        let code = page_descriptor(0x8000_1000, Attributes::UserCode);
        assert_eq!(code & UXN, 0);
        assert_ne!(code & AP_READ_ONLY, 0);
    }

    #[test]
    fn remapping_differently_is_refused_and_exhaustion_reported() {
        let mut tables = vec![[0u64; 512]; 3];
        let mut pool = pool(&mut tables);
        pool.map(0, 0, PAGE_SIZE, Attributes::Data).unwrap();
        assert_eq!(pool.map(0, 0x1000, PAGE_SIZE, Attributes::Data), Err(MapError::Overlap));
        assert_eq!(pool.map(GIB, GIB, PAGE_SIZE, Attributes::Data), Err(MapError::OutOfTables));
        assert_eq!(pool.map(1, 0, PAGE_SIZE, Attributes::Data), Err(MapError::Misaligned));
    }

    #[test]
    fn physmap_marks_ram_normal_and_the_rest_device() {
        let mut tables = vec![[0u64; 512]; 8];
        let mut pool = pool(&mut tables);
        // Raspberry Pi 4 shape: RAM below the peripherals in the same GiB.
        let ram =
            [PhysRange { start: 0, end: 0x3b40_0000 }, PhysRange { start: 0x4000_0000, end: 0xfc00_0000 }];
        map_physical(&mut pool, PHYSMAP_BASE, PHYSMAP_LIMIT, &ram, &[], Attributes::Data).unwrap();
        let attr = |pa: u64| pool.lookup(PHYSMAP_BASE + pa).map(|(_, d)| (d >> 2) & 7);
        assert_eq!(attr(0x8_0000), Some(MAIR_NORMAL));
        assert_eq!(attr(0x3b3f_f000), Some(MAIR_NORMAL));
        assert_eq!(attr(0x3b40_0000), Some(MAIR_DEVICE));
        assert_eq!(attr(0xfbff_f000), Some(MAIR_NORMAL));
        assert_eq!(attr(0xfe20_1000), Some(MAIR_DEVICE));
        assert_eq!(attr(400 * GIB), Some(MAIR_DEVICE));
        assert!(pool.lookup(KERNEL_BASE).is_none());
    }

    #[test]
    fn unmapping_splits_blocks_with_break_before_make_and_keeps_the_rest() {
        let mut tables = vec![[0u64; 512]; 4];
        let mut pool = pool(&mut tables);
        pool.map(PHYSMAP_BASE + GIB, GIB, GIB, Attributes::Data).unwrap();
        let mut broken = Vec::new();
        // 6 MiB from 2 MiB + 4 KiB on: the GiB block splits into 2 MiB blocks, the first and
        // last of the range's 2 MiB blocks split into pages.
        let (start, size) = (GIB + MIB2 + PAGE_SIZE, 3 * MIB2);
        pool.unmap(PHYSMAP_BASE + start, size, |va| broken.push(va)).unwrap();
        assert_eq!(
            broken,
            [PHYSMAP_BASE + GIB, PHYSMAP_BASE + GIB + MIB2, PHYSMAP_BASE + GIB + 4 * MIB2],
            "each split block's entry is broken first"
        );
        assert_eq!(pool.tables_used(), 4);
        let at = |pa: u64| pool.lookup(PHYSMAP_BASE + pa);
        for pa in [start, start + MIB2, start + size - PAGE_SIZE] {
            assert_eq!(at(pa), None, "{pa:#x} unmapped");
        }
        let (level, kept) = at(start - PAGE_SIZE).unwrap();
        assert_eq!((level, kept & ADDRESS_MASK), (3, start - PAGE_SIZE));
        assert_eq!(kept & !ADDRESS_MASK, Attributes::Data.bits() | TABLE_OR_PAGE | VALID, "same attributes");
        assert_eq!(at(start + size).map(|(l, d)| (l, d & ADDRESS_MASK)), Some((3, start + size)));
        assert_eq!(at(GIB).map(|(l, d)| (l, d & ADDRESS_MASK)), Some((2, GIB)));
        assert_eq!(at(2 * GIB - PAGE_SIZE).map(|(l, d)| (l, d & ADDRESS_MASK)), Some((2, 2 * GIB - MIB2)));
        // Unmapping what is not mapped is harmless; running out of tables is an error.
        pool.unmap(PHYSMAP_BASE + start, size, |_| panic!("nothing to split")).unwrap();
        assert_eq!(
            pool.unmap(PHYSMAP_BASE + GIB + 100 * MIB2, PAGE_SIZE, |_| {}),
            Err(MapError::OutOfTables)
        );
        assert_eq!(pool.unmap(PHYSMAP_BASE + 1, PAGE_SIZE, |_| {}), Err(MapError::Misaligned));
    }

    #[test]
    fn raspberry_pi_5_shape_ram_from_zero_tf_a_hole_and_devices_above_64_gib() {
        let mut tables = vec![[0u64; 512]; 8];
        let mut pool = pool(&mut tables);
        // What the Pi 5's firmware writes into /memory on an 8 GB board (RAM from 0, the
        // VideoCore's share cut out below 1 GiB), and its tree's no-map TF-A region at 0.
        let ram = [
            PhysRange { start: 0, end: 0x3fc0_0000 },
            PhysRange { start: 0x4000_0000, end: 0x1_0000_0000 },
            PhysRange { start: 0x1_0000_0000, end: 0x2_0000_0000 },
        ];
        let tf_a = [PhysRange { start: 0, end: 0x8_0000 }];
        map_physical(&mut pool, PHYSMAP_BASE, PHYSMAP_LIMIT, &ram, &tf_a, Attributes::Data).unwrap();
        let attr = |pa: u64| pool.lookup(PHYSMAP_BASE + pa).map(|(_, d)| (d >> 2) & 7);
        assert_eq!(attr(0), None, "TF-A's 512 KiB: never mapped");
        assert_eq!(attr(0x7_f000), None);
        assert_eq!(attr(0x8_0000), Some(MAIR_NORMAL), "the kernel may be loaded right after it");
        assert_eq!(attr(0x3fbf_f000), Some(MAIR_NORMAL));
        assert_eq!(attr(0x3fc0_0000), Some(MAIR_DEVICE), "the VideoCore's share is not RAM here");
        assert_eq!(attr(0x1_ffff_f000), Some(MAIR_NORMAL), "RAM above 4 GiB");
        assert_eq!(attr(0x10_7d00_1000), Some(MAIR_DEVICE), "the debug UART's PL011");
        assert_eq!(attr(0x10_7fff_9000), Some(MAIR_DEVICE), "the GIC-400 distributor");
        assert_eq!(attr(0x10_7fff_a000), Some(MAIR_DEVICE), "the GIC-400 CPU interface");
    }

    #[test]
    fn no_map_holes_get_no_mapping_at_all() {
        let mut tables = vec![[0u64; 512]; 8];
        let mut pool = pool(&mut tables);
        let ram = [PhysRange { start: 0x4000_0000, end: 0x8000_0000 }];
        // Secure firmware at the start of RAM (2 MiB) and a page-sized one that does not start
        // on a page: rounded outwards to whole pages.
        let holes = [
            PhysRange { start: 0x4000_0000, end: 0x4020_0000 },
            PhysRange { start: 0x7f00_0800, end: 0x7f00_1000 },
        ];
        map_physical(&mut pool, PHYSMAP_BASE, PHYSMAP_LIMIT, &ram, &holes, Attributes::Data).unwrap();
        let attr = |pa: u64| pool.lookup(PHYSMAP_BASE + pa).map(|(_, d)| (d >> 2) & 7);
        assert_eq!(attr(0x4000_0000), None, "no-map: unmapped, not device");
        assert_eq!(attr(0x401f_f000), None);
        assert_eq!(attr(0x4020_0000), Some(MAIR_NORMAL));
        assert_eq!(attr(0x7eff_f000), Some(MAIR_NORMAL));
        assert_eq!(attr(0x7f00_0000), None, "the page holding the hole");
        assert_eq!(attr(0x7f00_1000), Some(MAIR_NORMAL));
        assert_eq!(attr(0x3fff_f000), Some(MAIR_DEVICE));
        assert_eq!(attr(0x8000_0000), Some(MAIR_DEVICE));
    }
}
