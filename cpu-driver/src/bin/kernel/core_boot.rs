//! Starting another core when the boot core's monitor asks (`core_boot`): filling the core's
//! private region, out of memory the monitor gave up, with the build the monitor chose, its
//! translation tables and its boot record (`cpu_driver::kernel_region`, the stub's own
//! procedure), cleaning it to the point of coherency, and releasing the core with PSCI
//! `CPU_ON` or the spin table as the device tree says (the stub copied how into the boot
//! record). It keeps each core's start status, which the roll call reads. A leaf but for
//! [`crate::console`].

extern crate alloc;

use alloc::vec::Vec;

use bootimage::PayloadEntry;
use core::sync::atomic::{AtomicUsize, Ordering};
use cpu_driver::arch::aarch64::psci::{self, Conduit};

use cpu_driver::arch::aarch64::{cache, cpu, tlb};
use cpu_driver::boot_record::{
    BootRecord, StartStatus, ENABLE_PSCI, ENABLE_SPIN_TABLE, FLAG_PHYSMAP_TEST, MAX_CORES,
};
use cpu_driver::kernel_region::{self, MachineMemory, RegionParts, StartRefusal};
use cpu_driver::layout::{align_down, phys_to_virt, MIB2, PAGE_SIZE};
use cpu_driver::paging::{Attributes, MapError, PhysRange, Table, TablePool};
use cpu_driver::plan::{RegionLayout, ENTRY_MAP_TABLES, TABLES_PER_CORE};
use spin::Mutex;

use crate::console::kprintln;

/// Per core, its encoded [`StartStatus`]: the stub's (the boot core) until a monitor starts
/// another one.
static STATUS: Mutex<Option<[i64; MAX_CORES]>> = Mutex::new(None);

/// The start status of core `index`.
pub fn status(record: &BootRecord, index: usize) -> StartStatus {
    let guard = STATUS.lock();
    let table = guard.as_ref().unwrap_or(&record.start_status);
    table.get(index).map_or(StartStatus::Absent, |&raw| StartStatus::from_raw(raw))
}

/// Per core this core started, the region and share it unmapped from its physmap.
static GIVEN: Mutex<[Option<[PhysRange; 2]>; MAX_CORES]> = Mutex::new([None; MAX_CORES]);

/// Core `index` is off and the objects it held were released: its region and share are
/// mapped in this core's physmap again (so that its monitor may give them for the next start,
/// which writes them through the physmap), and it may be started again.
pub fn taken_back(record: &BootRecord, index: usize) {
    let given = GIVEN.lock().get_mut(index).and_then(Option::take);
    for range in given.into_iter().flatten() {
        if let Err(e) = map_into_physmap(record, range) {
            kprintln!(
                "core {}: cannot map {:#x}..{:#x} in its physmap again: {e}",
                record.core_index,
                range.start,
                range.end
            );
        }
    }
    set_status(record, index, StartStatus::Absent);
}

fn set_status(record: &BootRecord, index: usize, status: StartStatus) {
    let mut guard = STATUS.lock();
    let table = guard.get_or_insert(record.start_status);
    if let Some(entry) = table.get_mut(index) {
        *entry = status.to_raw();
    }
}

/// Whether `core` may be started with a region of `region` for `build` (see
/// `cpu_driver::kernel_region::check_start`, host-tested): checked before the caller commits
/// any memory.
pub fn check(
    record: &BootRecord,
    core: u64,
    build: &PayloadEntry,
    region: PhysRange,
    share: PhysRange,
) -> Result<(), StartRefusal> {
    kernel_region::check_start(record, core, status(record, core as usize), build.mem_size, region, share)
}

/// Fills core `core`'s region at `region_pa` (already checked with [`check`] and now owned by
/// the kernel) from `build` (whose bytes are `bytes`), hands its monitor `share`, and starts
/// the core. Returns how that went; the roll call reads the same status.
pub fn start(
    record: &BootRecord,
    core: u64,
    build: &PayloadEntry,
    bytes: &[u8],
    region_pa: u64,
    share: PhysRange,
) -> StartStatus {
    let index = core as usize;
    let layout = RegionLayout::for_kernel(build.mem_size);
    let status = prepare(record, index, (build, bytes), &layout, region_pa, share)
        .map_or(StartStatus::NoMemory, |entry_pa| release(record, index, entry_pa));
    set_status(record, index, status);
    match status {
        StartStatus::Started => kprintln!(
            "core {}: started core {core} mpidr={:#x} with the {} build, region {region_pa:#x}..{:#x}, {} KiB for its monitor",
            record.core_index,
            record.core_mpidr[index],
            build.name(),
            region_pa + layout.size,
            (share.end - share.start) >> 10
        ),
        other => kprintln!("core {}: could not start core {core}: {other:?}", record.core_index),
    }
    if status == StartStatus::Started {
        // The core owns its region and share from now on: gone from this core's physmap.
        let given = [PhysRange { start: region_pa, end: region_pa + layout.size }, share];
        if let Some(entry) = GIVEN.lock().get_mut(index) {
            *entry = Some(given);
        }
        for range in given {
            if let Err(e) = unmap_from_physmap(record, range) {
                kprintln!(
                    "core {}: cannot unmap {:#x}..{:#x} from its physmap: {e}",
                    record.core_index,
                    range.start,
                    range.end
                );
            }
        }
        let still_readable =
            [region_pa, region_pa + layout.size - PAGE_SIZE, share.start, share.end - PAGE_SIZE]
                .into_iter()
                .filter_map(phys_to_virt)
                .find(|&va| tlb::kernel_readable(va));
        match still_readable {
            Some(va) => kprintln!(
                "core {}: core {core}'s memory is still mapped at {va:#x} in this core's physmap",
                record.core_index
            ),
            None if record.flags & FLAG_PHYSMAP_TEST != 0 => kprintln!(
                "core {}: physmap: core {core}'s region and its monitor's share are unmapped here (AT S1E1R)",
                record.core_index
            ),
            None => {}
        }
    }
    status
}

/// Writes the region; returns the core's physical entry point.
fn prepare(
    record: &BootRecord,
    index: usize,
    (build, bytes): (&PayloadEntry, &[u8]),
    layout: &RegionLayout,
    region_pa: u64,
    share: PhysRange,
) -> Option<u64> {
    // The region and the share are this core's monitor's RAM until now, which its physmap
    // maps and can unmap once the core runs (not the frame pool, which the kernel window maps
    // for good).
    let region = PhysRange { start: region_pa, end: region_pa + layout.size };
    for (what, range) in [("region", region), ("share", share)] {
        if !kernel_region::owns(record, range.start, range.end - range.start, Attributes::Data) {
            kprintln!(
                "core {}: core {index}'s {what} {:#x}..{:#x} is not its monitor's memory",
                record.core_index,
                range.start,
                range.end
            );
            return None;
        }
    }
    let region_va = phys_to_virt(region_pa)?;
    let mut core_record = BootRecord {
        core_index: index as u64,
        mpidr: record.core_mpidr[index],
        start_status: [0; MAX_CORES],
        ..*record
    };
    core_record.set_monitor_ram([share]);
    let ram: Vec<PhysRange> = record.ram_ranges().collect();
    let no_map: Vec<PhysRange> = record.no_map_ranges().collect();
    // SAFETY: [region_pa, + layout.size) is RAM (checked by `check`) that the caller's
    // capability system now holds for this core alone: no capability can map, retype or revoke
    // it, and no other view of it is live. The physmap maps it read-write; the image part and
    // the table pages are disjoint.
    let (image, tables) = unsafe {
        core::ptr::write_bytes(region_va as *mut u8, 0, layout.size as usize);
        (
            core::slice::from_raw_parts_mut(region_va as *mut u8, layout.boot_record as usize),
            core::slice::from_raw_parts_mut((region_va + layout.tables) as *mut Table, TABLES_PER_CORE),
        )
    };
    let parts = RegionParts { image, tables, region_pa };
    let entry_pa = match kernel_region::prepare(
        layout,
        build,
        bytes,
        parts,
        MachineMemory { ram: &ram, no_map: &no_map },
        cpu::translation_control(),
        &mut core_record,
    ) {
        Ok(entry_pa) => entry_pa,
        Err(e) => {
            kprintln!("core {}: cannot map core {index}'s region: {e}", record.core_index);
            return None;
        }
    };
    // SAFETY: the record page of that region (page aligned, inside it, zeroed above).
    unsafe { core::ptr::write((region_va + layout.boot_record) as *mut BootRecord, core_record) };
    // The new core starts with its MMU and caches off: what this core wrote through its
    // caches must be in memory first (DC CVAC to the point of coherency, then DSB SY).
    cache::clean_to_poc(region_va as usize, layout.size as usize);
    Some(entry_pa)
}

/// This core's count of kernel tables in use (0: the record's `kernel_tables_used`, as the
/// region was prepared); a split while unmapping takes more.
static KERNEL_TABLES_USED: AtomicUsize = AtomicUsize::new(0);

/// Removes `range` (page aligned) from this core's physmap, splitting blocks with
/// break-before-make, and invalidates this core's TLB.
fn unmap_from_physmap(record: &BootRecord, range: PhysRange) -> Result<(), MapError> {
    let va = phys_to_virt(range.start).ok_or(MapError::OutsideWindow)?;
    edit_physmap(record, |pool| pool.unmap(va, range.end - range.start, tlb::break_kernel_entry))
}

/// Maps `range` (page aligned, unmapped by [`unmap_from_physmap`]) in this core's physmap
/// again, as normal memory. Its entries were invalid: no break-before-make is needed, and
/// the TLB holds no entry for them (the unmap invalidated it).
fn map_into_physmap(record: &BootRecord, range: PhysRange) -> Result<(), MapError> {
    let va = phys_to_virt(range.start).ok_or(MapError::OutsideWindow)?;
    edit_physmap(record, |pool| {
        // Window by 2 MiB window: a block where the unmap cleared a whole block's entry; page
        // by page where it left a level-3 table (a block it split), which a block may not
        // replace (`Overlap`, refused before anything is written).
        let mut pa = range.start;
        while pa < range.end {
            let end = (align_down(pa, MIB2) + MIB2).min(range.end);
            let (v, size) = (va + (pa - range.start), end - pa);
            match pool.map(v, pa, size, Attributes::Data) {
                Err(MapError::Overlap) => {
                    for page in (0..size).step_by(PAGE_SIZE as usize) {
                        pool.map(v + page, pa + page, PAGE_SIZE, Attributes::Data)?;
                    }
                }
                other => other?,
            }
            pa = end;
        }
        Ok(())
    })
}

/// Runs `edit` on this core's kernel tables (the physmap's part), then invalidates its TLB
/// (which also orders the table writes before any later access through them).
fn edit_physmap(
    record: &BootRecord,
    edit: impl FnOnce(&mut TablePool<'_>) -> Result<(), MapError>,
) -> Result<(), MapError> {
    // The TTBR1 tables follow the entry map's in the region's table pages, which follow the
    // boot record's page (`plan::RegionLayout`); the kernel window maps them read-write.
    let tables_va = record.record_va + PAGE_SIZE * (1 + ENTRY_MAP_TABLES as u64);
    let count = TABLES_PER_CORE - ENTRY_MAP_TABLES;
    // SAFETY: those pages are this core's kernel tables, mapped for good in its kernel window
    // and written by nothing else (each core has its own); `TablePool` writes only entries of
    // the physmap range given and tables past the used count, and breaks live entries
    // through `tlb::break_kernel_entry` before replacing them.
    let tables = unsafe { core::slice::from_raw_parts_mut(tables_va as *mut Table, count) };
    let used = match KERNEL_TABLES_USED.load(Ordering::Relaxed) {
        0 => record.kernel_tables_used as usize,
        used => used,
    };
    let mut pool = TablePool::resume(tables, record.ttbr, used)?;
    let result = edit(&mut pool);
    KERNEL_TABLES_USED.store(pool.tables_used(), Ordering::Relaxed);
    tlb::invalidate_kernel_all();
    result
}

/// Releases core `index` at `entry_pa` as the boot record says.
fn release(record: &BootRecord, index: usize, entry_pa: u64) -> StartStatus {
    match record.core_enable[index] {
        ENABLE_PSCI => match Conduit::from_raw(record.psci_conduit) {
            Some(conduit) => match conduit.cpu_on(record.core_mpidr[index], entry_pa, 0) {
                Ok(()) => StartStatus::Started,
                Err(e) => StartStatus::PsciError(psci::error_code(e)),
            },
            None => StartStatus::NoEnableMethod,
        },
        ENABLE_SPIN_TABLE => {
            let release = record.core_release[index];
            // The boot core's physmap maps each release word's page (`owned_memory`) unless
            // it is not RAM or lies in `no-map` memory.
            let mapped = kernel_region::owns(record, release, 8, Attributes::Data);
            let Some(va) = phys_to_virt(release).filter(|_| mapped && release.is_multiple_of(8)) else {
                return StartStatus::NoEnableMethod;
            };
            // SAFETY: the device tree names this aligned word as the core's release address
            // (the stub checked it lies below the physmap's limit); it lies in memory the
            // firmware reserved (page 0 or a /memreserve/), which no capability names.
            unsafe { core::ptr::write_volatile(va as *mut u64, entry_pa) };
            // The spinning core reads it with its caches off: clean it to memory, then wake it.
            cache::clean_to_poc(va as usize, 8);
            cpu::send_event();
            StartStatus::Started
        }
        _ => StartStatus::NoEnableMethod,
    }
}
