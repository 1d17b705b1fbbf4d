//! Boot planning: where each core's private region goes and what it holds.
//!
//! The boot stub runs this on the board (the boot core's region, the shared region, what is
//! left free), and the boot core's CPU driver uses the layout when its monitor boots another
//! core; it is plain logic so the host tests cover it.

use crate::layout::{align_down, align_up, MIB2, PAGE_SIZE};
use crate::paging::PhysRange;

/// Translation tables reserved in each core's region: the entry identity map's first.
pub const TABLES_PER_CORE: usize = 32;
/// Of those, the tables of the entry identity map (level 1 and level 2: the region is mapped
/// with 2 MiB blocks).
pub const ENTRY_MAP_TABLES: usize = 2;
/// Bytes of each core's kernel heap.
pub const HEAP_SIZE: u64 = 1 << 20;
/// Bytes of each core's kernel stack.
pub const STACK_SIZE: u64 = 64 << 10;
/// Bytes of each core's pool of frames for its dispatchers (their code, data, stacks and
/// translation tables).
pub const FRAME_POOL_SIZE: u64 = 4 << 20;

/// Where things sit inside one core's region (offsets from its start; all page aligned).
///
/// ```text
/// 0                 CPU driver (text, rodata, data, bss), as linked
/// boot_record       the BootRecord the stub wrote for this core
/// tables            this core's translation tables (level-1 root first)
/// heap              the kernel heap
/// frames            frames for this core's dispatchers
/// guard             one unmapped page, so a stack overflow faults
/// stack .. size     the kernel stack (grows down from `size`)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionLayout {
    /// Bytes of the CPU driver image in memory.
    pub kernel_size: u64,
    /// Offset of the boot record page.
    pub boot_record: u64,
    /// Offset of the first translation table.
    pub tables: u64,
    /// Offset of the heap.
    pub heap: u64,
    /// Offset of the dispatcher frame pool ([`FRAME_POOL_SIZE`] bytes).
    pub frames: u64,
    /// Offset of the guard page.
    pub guard: u64,
    /// Offset of the lowest stack byte.
    pub stack: u64,
    /// Bytes of the whole region (a multiple of 2 MiB).
    pub size: u64,
}

impl RegionLayout {
    /// The layout for a CPU driver that occupies `kernel_size` bytes once loaded.
    pub const fn for_kernel(kernel_size: u64) -> Self {
        let boot_record = align_up(kernel_size, PAGE_SIZE);
        let tables = boot_record + PAGE_SIZE;
        let heap = tables + TABLES_PER_CORE as u64 * PAGE_SIZE;
        let frames = heap + HEAP_SIZE;
        let guard = frames + FRAME_POOL_SIZE;
        let stack = guard + PAGE_SIZE;
        // The stack runs to the end of the region, so the slack of the 2 MiB rounding goes to it.
        let size = align_up(stack + STACK_SIZE, MIB2);
        RegionLayout { kernel_size, boot_record, tables, heap, frames, guard, stack, size }
    }
}

/// Why no plan could be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// Not enough free RAM for every core's region.
    OutOfMemory {
        /// Bytes asked for.
        wanted: u64,
        /// Regions placed before memory ran out.
        placed: usize,
    },
}

impl core::fmt::Display for PlanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PlanError::OutOfMemory { wanted, placed } => {
                write!(f, "no free RAM for a region of {wanted:#x} bytes after placing {placed}")
            }
        }
    }
}

/// Carves `count` regions of `size` bytes, aligned to `align`, from the top of the usable RAM.
///
/// Usable RAM is `ram` intersected with `window` (what the caller can reach) minus `avoid`
/// (firmware, the DTB, the boot image, reservations). Regions never overlap each other.
/// Writes the start of each region into `out` and returns how many were placed.
pub fn carve_regions(
    ram: &[PhysRange],
    window: &[PhysRange],
    avoid: &[PhysRange],
    size: u64,
    align: u64,
    out: &mut [u64],
) -> Result<usize, PlanError> {
    let mut placed = 0;
    // The highest candidate end that has not been tried yet.
    let mut ceiling = u64::MAX;
    while placed < out.len() {
        let found = usable_ranges(ram, window)
            .filter_map(|r| {
                let top = r.end.min(ceiling);
                let start = align_down(top.checked_sub(size)?, align);
                (start >= r.start && start + size <= top).then_some(start)
            })
            .max();
        let Some(start) = found else {
            return Err(PlanError::OutOfMemory { wanted: size, placed });
        };
        let overlaps = |a: &PhysRange| a.start < start + size && start < a.end;
        let placed_ranges = out[..placed].iter().map(|&s| PhysRange { start: s, end: s + size });
        let clash = avoid.iter().copied().chain(placed_ranges).filter(overlaps).map(|a| a.start).min();
        match clash {
            Some(blocker_start) => ceiling = blocker_start,
            None => {
                out[placed] = start;
                placed += 1;
                ceiling = start;
            }
        }
    }
    Ok(placed)
}

/// Calls `out` with every page-aligned piece of `ram` (intersected with `window`) that no range
/// of `avoid` touches, in the order of `ram`: the free memory left once the boot's own regions
/// are carved.
pub fn free_ranges(
    ram: &[PhysRange],
    window: &[PhysRange],
    avoid: &[PhysRange],
    mut out: impl FnMut(PhysRange),
) {
    for usable in usable_ranges(ram, window) {
        let mut cursor = usable.start;
        while cursor < usable.end {
            let blocker = avoid
                .iter()
                .filter(|a| a.start < usable.end && cursor < a.end && a.start < a.end)
                .min_by_key(|a| a.start);
            let piece_end = blocker.map_or(usable.end, |b| b.start.max(cursor));
            let piece =
                PhysRange { start: align_up(cursor, PAGE_SIZE), end: align_down(piece_end, PAGE_SIZE) };
            if piece.start < piece.end {
                out(piece);
            }
            match blocker {
                Some(b) => cursor = b.end.max(cursor),
                None => break,
            }
        }
    }
}

fn usable_ranges<'a>(ram: &'a [PhysRange], window: &'a [PhysRange]) -> impl Iterator<Item = PhysRange> + 'a {
    ram.iter().flat_map(move |r| {
        window.iter().filter_map(move |w| {
            let range = PhysRange { start: r.start.max(w.start), end: r.end.min(w.end) };
            (range.start < range.end).then_some(range)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: fn(u64, u64) -> PhysRange = |start, end| PhysRange { start, end };

    #[test]
    fn layout_is_page_aligned_and_fits() {
        let layout = RegionLayout::for_kernel(300_000);
        assert_eq!(layout.size % MIB2, 0);
        for offset in
            [layout.boot_record, layout.tables, layout.heap, layout.frames, layout.guard, layout.stack]
        {
            assert_eq!(offset % PAGE_SIZE, 0);
        }
        assert!(layout.boot_record >= 300_000);
        assert!(layout.heap + HEAP_SIZE <= layout.frames);
        assert!(layout.frames + FRAME_POOL_SIZE <= layout.guard);
        assert_eq!(layout.guard + PAGE_SIZE, layout.stack);
        assert!(layout.size - layout.stack >= STACK_SIZE);
    }

    #[test]
    fn free_ranges_are_what_nothing_avoids_page_aligned() {
        let ram = [R(0x4000_0000, 0x8000_0000), R(0x1_0000_0000, 0x1_0010_0000)];
        let window = [R(0, 0x1_0008_0000)];
        let avoid = [R(0x7fe0_0000, 0x7fe1_0000), R(0x3000_0000, 0x4000_0800), R(0x4020_0000, 0x4080_0000)];
        let mut free = Vec::new();
        free_ranges(&ram, &window, &avoid, |r| free.push(r));
        assert_eq!(
            free,
            [
                R(0x4000_1000, 0x4020_0000),
                R(0x4080_0000, 0x7fe0_0000),
                R(0x7fe1_0000, 0x8000_0000),
                R(0x1_0000_0000, 0x1_0008_0000)
            ]
        );
        // Overlapping and nested avoid ranges, and a range avoided whole.
        let avoid = [R(0x4000_0000, 0x4100_0000), R(0x4080_0000, 0x4200_0000), R(0x4100_0000, 0x4110_0000)];
        let mut free = Vec::new();
        free_ranges(&ram[..1], &ram[..1], &avoid, |r| free.push(r));
        assert_eq!(free, [R(0x4200_0000, 0x8000_0000)]);
        let mut free = Vec::new();
        free_ranges(&ram[..1], &ram[..1], &[R(0, u64::MAX)], |r| free.push(r));
        assert!(free.is_empty());
    }

    #[test]
    fn regions_come_from_the_top_and_skip_what_is_reserved() {
        // QEMU virt, 1 GiB: DTB at 0x4800_0000, image at 0x4020_0000.
        let ram = [R(0x4000_0000, 0x8000_0000)];
        let avoid = [R(0x7fe0_0000, 0x7fe1_0000), R(0x4020_0000, 0x4080_0000)];
        let mut out = [0u64; 3];
        let placed = carve_regions(&ram, &ram, &avoid, 2 << 20, 2 << 20, &mut out).unwrap();
        assert_eq!(placed, 3);
        assert_eq!(out, [0x7fc0_0000, 0x7fa0_0000, 0x7f80_0000]);
    }

    #[test]
    fn window_limits_the_search_and_exhaustion_is_an_error() {
        let ram = [R(0, 0x4000_0000)];
        let window = [R(0x100_0000, 0x160_0000)];
        let mut out = [0u64; 4];
        let err = carve_regions(&ram, &window, &[], 2 << 20, 2 << 20, &mut out).unwrap_err();
        assert_eq!(err, PlanError::OutOfMemory { wanted: 2 << 20, placed: 3 });
        assert_eq!(&out[..3], &[0x140_0000, 0x120_0000, 0x100_0000]);
    }

    #[test]
    fn several_ram_banks() {
        let ram = [R(0x8000_0000, 0x8040_0000), R(0x4000_0000, 0x4040_0000)];
        let mut out = [0u64; 4];
        assert_eq!(carve_regions(&ram, &ram, &[], 2 << 20, 2 << 20, &mut out), Ok(4));
        assert_eq!(out, [0x8020_0000, 0x8000_0000, 0x4020_0000, 0x4000_0000]);
    }
}
