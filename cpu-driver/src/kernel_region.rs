//! Filling one core's private region before the core starts: its copy of a CPU-driver build,
//! its translation tables and its boot record.
//!
//! Two callers, one procedure: the boot stub fills the boot core's region (through its identity
//! map), and the boot core's CPU driver fills every other core's when its monitor boots that
//! core (through the physmap, from RAM the monitor gave up for it). Both hand in the region as
//! plain slices, so the host tests check the very tables and record a core starts from; the
//! caller writes the record into its page and cleans the region to the point of coherency.

use bootimage::PayloadEntry;

use crate::boot_record::{BootRecord, ENABLE_SPIN_TABLE, MAX_RANGES};
use crate::layout::{align_down, align_up, kernel_region_fits, PAGE_SIZE, PHYSMAP_BASE, PHYSMAP_LIMIT};
use crate::paging::{map_physical, Attributes, MapError, PhysRange, Table, TablePool, MAIR_VALUE};
use crate::plan::{RegionLayout, ENTRY_MAP_TABLES, TABLES_PER_CORE};

/// The parts of a region the procedure writes, as the caller reaches them.
pub struct RegionParts<'a> {
    /// Bytes `[0, layout.boot_record)` of the region: where the build is copied (zeroed first).
    pub image: &'a mut [u8],
    /// The region's `TABLES_PER_CORE` translation-table pages, at `layout.tables` (zeroed by
    /// the caller).
    pub tables: &'a mut [Table],
    /// Physical address of the region's first byte (2 MiB aligned).
    pub region_pa: u64,
}

/// Why a core cannot be started as asked (`core_boot`); nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartRefusal {
    /// No core has that index, or it is the caller's own.
    NoSuchCore,
    /// The core was started already (or is the boot core).
    AlreadyStarted,
    /// The region is too small or not on a 2 MiB boundary, or the region or the share is
    /// empty or beyond the physmap.
    BadMemory,
}

/// Whether core `core` may be started on `record`'s machine (whose own core is
/// `record.core_index`; `status` is the core's start status so far) in `region` for a build
/// occupying `mem_size` bytes, giving its monitor `share`: checked before any memory is taken.
pub fn check_start(
    record: &BootRecord,
    core: u64,
    status: crate::boot_record::StartStatus,
    mem_size: u64,
    region: PhysRange,
    share: PhysRange,
) -> Result<(), StartRefusal> {
    if core >= record.core_count || core == record.core_index {
        return Err(StartRefusal::NoSuchCore);
    }
    if status != crate::boot_record::StartStatus::Absent {
        return Err(StartRefusal::AlreadyStarted);
    }
    let needed = RegionLayout::for_kernel(mem_size).size;
    let reachable = |r: PhysRange| r.start < r.end && r.end <= PHYSMAP_LIMIT;
    let fits =
        region.start.is_multiple_of(crate::layout::MIB2) && region.end.saturating_sub(region.start) >= needed;
    if !fits || !reachable(region) || !reachable(share) {
        return Err(StartRefusal::BadMemory);
    }
    Ok(())
}

/// The machine's memory, as every core's physmap tells RAM from devices.
#[derive(Clone, Copy, Debug)]
pub struct MachineMemory<'a> {
    /// RAM: never mapped as a device; mapped (normal) only where the core owns or uses it
    /// ([`owned_memory`]).
    pub ram: &'a [PhysRange],
    /// Reserved memory marked `no-map`: not mapped at all.
    pub no_map: &'a [PhysRange],
}

/// The RAM a core's physmap maps, with how: what the core owns or uses and nothing else.
/// Its monitor's memory (`monitor_ram`) and the shared region read-write; the boot image
/// (the EL0 programs and CPU-driver builds are read from it) and the device tree read-only;
/// on the boot core, which starts the others, each page holding a spin-table release word,
/// read-write. Not its own region (reached through the kernel window only, so its text has no
/// writable alias), no other core's region or share, nothing else. `record` must hold the
/// fields this reads (shared region, image, DTB, monitor memory, cores' enable methods).
pub fn owned_memory(record: &BootRecord) -> impl Iterator<Item = (PhysRange, Attributes)> + '_ {
    let releases = (0..(record.core_count as usize).min(record.core_enable.len()))
        .filter(|&core| {
            record.is_boot_core()
                && core as u64 != record.core_index
                && record.core_enable[core] == ENABLE_SPIN_TABLE
        })
        .map(|core| (pages(record.core_release[core], 8), Attributes::Data));
    [
        (pages(record.shared_pa, record.shared_size), Attributes::Data),
        (pages(record.image_pa, record.image_size), Attributes::ReadOnly),
        (pages(record.dtb_pa, record.dtb_size), Attributes::ReadOnly),
    ]
    .into_iter()
    .chain(record.monitor_ranges().map(|r| {
        (
            PhysRange { start: align_up(r.start, PAGE_SIZE), end: align_down(r.end, PAGE_SIZE) },
            Attributes::Data,
        )
    }))
    .chain(releases)
    .filter(|(r, _)| r.start < r.end)
}

/// The whole pages holding `[start, start + len)`.
fn pages(start: u64, len: u64) -> PhysRange {
    PhysRange { start: align_down(start, PAGE_SIZE), end: align_up(start.saturating_add(len), PAGE_SIZE) }
}

/// Whether `[pa, pa + len)` lies in what [`owned_memory`] maps, with `attributes`.
pub fn owns(record: &BootRecord, pa: u64, len: u64, attributes: Attributes) -> bool {
    let Some(end) = pa.checked_add(len) else { return false };
    owned_memory(record).any(|(r, a)| a == attributes && r.start <= pa && end <= r.end)
}

/// Builds a core's physmap: every physical address that is not RAM (nor `no-map`) as device
/// memory, and of RAM only [`owned_memory`].
fn map_physmap(
    pool: &mut TablePool<'_>,
    memory: MachineMemory<'_>,
    record: &BootRecord,
) -> Result<(), MapError> {
    let mut holes = [PhysRange { start: 0, end: 0 }; 2 * MAX_RANGES];
    let count = memory.ram.len() + memory.no_map.len();
    if count > holes.len() {
        return Err(MapError::OutOfTables);
    }
    for (hole, range) in holes.iter_mut().zip(memory.ram.iter().chain(memory.no_map)) {
        *hole = *range;
    }
    map_physical(pool, PHYSMAP_BASE, PHYSMAP_LIMIT, memory.ram, &holes[..count], Attributes::Data)?;
    for (range, attributes) in owned_memory(record) {
        let in_ram = memory.ram.iter().any(|r| r.start <= range.start && range.end <= r.end);
        let in_hole = memory.no_map.iter().any(|h| h.start < range.end && range.start < h.end);
        if !in_ram || in_hole || range.end > PHYSMAP_LIMIT {
            // Not RAM (already device memory, or not to be touched): a spin-table word in
            // firmware memory, for one; `core_boot` checks with `owns` before writing it.
            continue;
        }
        // Ranges that share pages with the same attributes (two release words in one page)
        // map the same descriptors again; anything else is a conflict (`Overlap`).
        pool.map(PHYSMAP_BASE + range.start, range.start, range.end - range.start, attributes)?;
    }
    Ok(())
}

/// Copies `build` (whose file bytes are `bytes`) into the region, builds the core's tables
/// (an identity map of the region for the entry, the physmap: devices and the RAM
/// [`owned_memory`] names, without the `no_map` holes; and the build's own window) and fills
/// the region-dependent fields of `record`. Returns the physical entry point.
pub fn prepare(
    layout: &RegionLayout,
    build: &PayloadEntry,
    bytes: &[u8],
    parts: RegionParts<'_>,
    memory: MachineMemory<'_>,
    tcr: u64,
    record: &mut BootRecord,
) -> Result<u64, MapError> {
    let RegionParts { image, tables, region_pa } = parts;
    if bytes.len() as u64 > layout.boot_record || image.len() as u64 != layout.boot_record {
        return Err(MapError::OutsideWindow);
    }
    if tables.len() != TABLES_PER_CORE || !region_pa.is_multiple_of(crate::layout::MIB2) {
        return Err(MapError::Misaligned);
    }
    image.fill(0);
    image[..bytes.len()].copy_from_slice(bytes);

    let entry_tables_pa = region_pa + layout.tables;
    let (entry_tables, kernel_tables) = tables.split_at_mut(ENTRY_MAP_TABLES);
    let mut entry_pool = TablePool::new(entry_tables, entry_tables_pa)?;
    entry_pool.map(region_pa, region_pa, layout.size, Attributes::Code)?;

    let tables_pa = entry_tables_pa + ENTRY_MAP_TABLES as u64 * PAGE_SIZE;
    let mut pool = TablePool::new(kernel_tables, tables_pa)?;
    map_physmap(&mut pool, memory, record)?;
    // Each build is mapped where it was linked (`load_va`, the build's own base in the kernel
    // window), so the little and big builds sit at different addresses and a debugger can
    // hold both builds' symbols at once.
    let base = build.load_va;
    if !kernel_region_fits(base, layout.size) {
        return Err(MapError::OutsideWindow);
    }
    let text = build.text_end_va.checked_sub(base).ok_or(MapError::OutsideWindow)?;
    let rodata = build.rodata_end_va.checked_sub(base).ok_or(MapError::OutsideWindow)?;
    let kernel_end = align_up(build.mem_size, PAGE_SIZE);
    if text > rodata || rodata > kernel_end || kernel_end > layout.boot_record {
        return Err(MapError::OutsideWindow);
    }
    pool.map(base, region_pa, text, Attributes::Code)?;
    pool.map(base + text, region_pa + text, rodata - text, Attributes::ReadOnly)?;
    pool.map(base + rodata, region_pa + rodata, kernel_end - rodata, Attributes::Data)?;
    pool.map(
        base + layout.boot_record,
        region_pa + layout.boot_record,
        layout.guard - layout.boot_record,
        Attributes::Data,
    )?;
    pool.map(base + layout.stack, region_pa + layout.stack, layout.size - layout.stack, Attributes::Data)?;

    record.build = u64::from(build.build);
    record.ttbr = pool.root_pa();
    record.ttbr0_entry = entry_pool.root_pa();
    record.tcr = tcr;
    record.mair = MAIR_VALUE;
    record.stack_top_va = base + layout.size;
    record.record_va = base + layout.boot_record;
    record.region_pa = region_pa;
    record.region_size = layout.size;
    record.heap_va = base + layout.heap;
    record.heap_size = layout.frames - layout.heap;
    record.frames_pa = region_pa + layout.frames;
    record.frames_va = base + layout.frames;
    record.frames_size = layout.guard - layout.frames;
    record.kernel_tables_used = pool.tables_used() as u64;
    let entry_offset =
        build.entry_va.checked_sub(base).filter(|&o| o < text).ok_or(MapError::OutsideWindow)?;
    Ok(region_pa + entry_offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::MIB2;
    use bootimage::PayloadKind;

    const BASE: u64 = 0xffff_ffff_c000_0000;

    fn build() -> PayloadEntry {
        PayloadEntry {
            kind: PayloadKind::CpuDriver,
            build: 1,
            file_offset: 0x1000,
            file_size: 0x5000,
            load_va: BASE,
            mem_size: 0x9000,
            entry_va: BASE + 0x40,
            text_end_va: BASE + 0x3000,
            rodata_end_va: BASE + 0x4000,
            name: *b"cortex-a72\0\0\0\0\0\0",
        }
    }

    fn prepare_at(region_pa: u64, build: &PayloadEntry) -> (Result<u64, MapError>, Vec<u8>, BootRecord) {
        let layout = RegionLayout::for_kernel(build.mem_size);
        let mut image = vec![0xaa; layout.boot_record as usize];
        let mut tables = vec![[0u64; 512]; TABLES_PER_CORE];
        let mut record = BootRecord::empty();
        let bytes = vec![0x5a; build.file_size as usize];
        let ram = [PhysRange { start: 0x4000_0000, end: 0x8000_0000 }];
        let parts = RegionParts { image: &mut image, tables: &mut tables, region_pa };
        let memory = MachineMemory { ram: &ram, no_map: &[] };
        let entry = prepare(&layout, build, &bytes, parts, memory, 0x1234, &mut record);
        (entry, image, record)
    }

    #[test]
    fn the_build_is_copied_its_bss_zeroed_and_the_record_filled() {
        let (entry, image, record) = prepare_at(0x7a00_0000, &build());
        assert_eq!(entry, Ok(0x7a00_0040));
        assert!(image[..0x5000].iter().all(|&b| b == 0x5a));
        assert!(image[0x5000..].iter().all(|&b| b == 0), "bss and padding start zeroed");
        let layout = RegionLayout::for_kernel(0x9000);
        assert_eq!(record.build, 1);
        assert_eq!((record.region_pa, record.region_size), (0x7a00_0000, layout.size));
        assert_eq!(record.record_va, BASE + layout.boot_record);
        assert_eq!(record.stack_top_va, BASE + layout.size);
        assert_eq!(record.frames_pa, 0x7a00_0000 + layout.frames);
        assert_eq!(record.tcr, 0x1234);
        assert_eq!(record.ttbr, 0x7a00_0000 + layout.tables + ENTRY_MAP_TABLES as u64 * PAGE_SIZE);
        assert_eq!(record.ttbr0_entry, 0x7a00_0000 + layout.tables);
    }

    /// The physmap maps what the core owns or uses and nothing else: checked through the very
    /// tables `prepare` builds, for a boot core (which also reaches a spin-table release word)
    /// and another core.
    #[test]
    fn the_physmap_maps_only_what_the_core_owns_or_uses() {
        use crate::boot_record::ENABLE_PSCI;
        let region_pa = 0x7a00_0000;
        let layout = RegionLayout::for_kernel(build().mem_size);
        let other_region = 0x7000_0000;
        for boot_core in [true, false] {
            let mut record = BootRecord::empty();
            (record.core_count, record.core_index, record.boot_core_index) =
                (3, 0, if boot_core { 0 } else { 1 });
            (record.shared_pa, record.shared_size) = (0x6000_0000, 0x20_0000);
            (record.image_pa, record.image_size) = (0x4020_0000, 0xd_4000);
            (record.dtb_pa, record.dtb_size) = (0x4800_0000, 0x9000);
            record.set_monitor_ram([
                PhysRange { start: 0x4400_0000, end: 0x4500_0000 },
                PhysRange { start: 0x5000_1000, end: 0x5800_0000 },
            ]);
            record.core_enable[1] = ENABLE_PSCI;
            record.core_enable[2] = ENABLE_SPIN_TABLE;
            record.core_release[2] = 0x4400_0000 - 0x1000 + 0xd8; // in firmware's RAM page
            let mut image = vec![0; layout.boot_record as usize];
            let mut tables = vec![[0u64; 512]; TABLES_PER_CORE];
            let ram = [PhysRange { start: 0x4000_0000, end: 0x8000_0000 }];
            let no_map = [PhysRange { start: 0x4000_0000, end: 0x4010_0000 }];
            let parts = RegionParts { image: &mut image, tables: &mut tables, region_pa };
            let memory = MachineMemory { ram: &ram, no_map: &no_map };
            let bytes = vec![0x5a; build().file_size as usize];
            prepare(&layout, &build(), &bytes, parts, memory, 0, &mut record).unwrap();
            let tables_pa = region_pa + layout.tables + ENTRY_MAP_TABLES as u64 * PAGE_SIZE;
            let used = record.kernel_tables_used as usize;
            let pool = TablePool::resume(&mut tables[ENTRY_MAP_TABLES..], tables_pa, used).unwrap();
            let writable =
                |pa: u64| pool.lookup(PHYSMAP_BASE + pa).map(|(_, d)| d & (1 << 7) == 0 && (d >> 2) & 7 == 1);
            let device = |pa: u64| pool.lookup(PHYSMAP_BASE + pa).map(|(_, d)| (d >> 2) & 7 == 0);
            assert_eq!(writable(0x6000_0000), Some(true), "the shared region");
            assert_eq!(writable(0x601f_f000), Some(true));
            assert_eq!(writable(0x4020_0000), Some(false), "the boot image, read-only");
            assert_eq!(writable(0x402d_3000), Some(false));
            assert_eq!(writable(0x402d_4000), None, "past the image: the stub's scratch");
            assert_eq!(writable(0x4800_8000), Some(false), "the device tree, read-only");
            assert_eq!(writable(0x4400_0000), Some(true), "its monitor's memory");
            assert_eq!(writable(0x57ff_f000), Some(true));
            assert_eq!(writable(0x5000_0000), None, "the page before it");
            assert_eq!(writable(0x5800_0000), None, "the page after it");
            assert_eq!(writable(region_pa), None, "its own region: no alias of its text");
            assert_eq!(writable(region_pa + layout.frames), None);
            assert_eq!(writable(other_region), None, "another core's region");
            assert_eq!(writable(0x4000_0000), None, "no-map");
            assert_eq!(writable(0x43ff_f000).is_some(), boot_core, "the release word: the boot core only");
            assert_eq!(device(0x0900_0000), Some(true), "a UART");
            assert_eq!(device(0x8000_0000), Some(true), "past RAM");
            assert!(owns(&record, 0x43ff_f0d8, 8, Attributes::Data) == boot_core);
            assert!(!owns(&record, other_region, 8, Attributes::Data));
        }
    }

    #[test]
    fn a_core_starts_only_once_in_a_region_that_fits() {
        use crate::boot_record::StartStatus;
        let mut record = BootRecord::empty();
        (record.core_count, record.core_index) = (6, 0);
        let size = RegionLayout::for_kernel(0x9000).size;
        let region = PhysRange { start: 0x7a00_0000, end: 0x7a00_0000 + size };
        let share = PhysRange { start: 0x6000_0000, end: 0x6100_0000 };
        let check = |core, status, region, share| check_start(&record, core, status, 0x9000, region, share);
        assert_eq!(check(3, StartStatus::Absent, region, share), Ok(()));
        assert_eq!(check(0, StartStatus::Absent, region, share), Err(StartRefusal::NoSuchCore), "its own");
        assert_eq!(check(6, StartStatus::Absent, region, share), Err(StartRefusal::NoSuchCore));
        assert_eq!(check(3, StartStatus::Started, region, share), Err(StartRefusal::AlreadyStarted));
        assert_eq!(check(3, StartStatus::PsciError(-2), region, share), Err(StartRefusal::AlreadyStarted));
        let shifted = PhysRange { start: region.start + 4096, end: region.end + 4096 };
        assert_eq!(
            check(3, StartStatus::Absent, shifted, share),
            Err(StartRefusal::BadMemory),
            "not on 2 MiB"
        );
        let short = PhysRange { start: region.start, end: region.end - 4096 };
        assert_eq!(check(3, StartStatus::Absent, short, share), Err(StartRefusal::BadMemory), "too small");
        let empty = PhysRange { start: 0x6000_0000, end: 0x6000_0000 };
        assert_eq!(check(3, StartStatus::Absent, region, empty), Err(StartRefusal::BadMemory));
        let far = PhysRange { start: PHYSMAP_LIMIT, end: PHYSMAP_LIMIT + size };
        assert_eq!(
            check(3, StartStatus::Absent, far, share),
            Err(StartRefusal::BadMemory),
            "beyond the physmap"
        );
    }

    #[test]
    fn a_region_that_is_not_2_mib_aligned_or_a_build_outside_its_window_is_refused() {
        assert_eq!(prepare_at(0x7a00_0000 + MIB2 / 2, &build()).0, Err(MapError::Misaligned));
        let mut bad = build();
        bad.entry_va = BASE + 0x3000; // past the text
        assert!(prepare_at(0x7a00_0000, &bad).0.is_err());
        let mut bad = build();
        bad.text_end_va = BASE - 1;
        assert!(prepare_at(0x7a00_0000, &bad).0.is_err());
    }
}
