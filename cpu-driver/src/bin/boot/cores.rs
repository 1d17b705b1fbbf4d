//! Every core's region, prepared, and starting the cores: carving the shared region and one
//! region per core from free RAM, copying each core's CPU-driver build into its region with
//! its translation tables and boot record, then PSCI `CPU_ON` or the spin table for the
//! others and the boot core's own entry into its CPU driver. Uses [`crate::console`]; called by
//! [`crate::bring_up`] once the device tree is read.

extern crate alloc;

use alloc::vec::Vec;

use bootimage::{PayloadEntry, PayloadKind, PayloadTable};
use cpu_driver::arch::aarch64::cpu::{self, halt};
use cpu_driver::arch::aarch64::{cache, phys, psci::Conduit};
use cpu_driver::boot_record::{
    BootRecord, ConsoleConfig, GicConfig, StartStatus, BOOT_RECORD_MAGIC, MAX_CORES,
};
use cpu_driver::console_lock::ConsoleLock;
use cpu_driver::layout::{align_up, kernel_region_fits, MIB2, PAGE_SIZE, PHYSMAP_BASE, PHYSMAP_LIMIT};
use cpu_driver::paging::{map_physical, Attributes, MapError, PhysRange, TablePool, MAIR_VALUE};
use cpu_driver::plan::{carve_regions, RegionLayout, ENTRY_MAP_TABLES, TABLES_PER_CORE};
use cpu_driver::shared_region::SharedLayout;

use crate::console::{self, stub_println};

extern "C" {
    fn stub_enter_kernel(entry_pa: u64, record_pa: u64) -> !;
}

/// Seconds the boot core waits for a started core to report.
const REPORT_TIMEOUT_SECONDS: u64 = 5;

/// Facts about this boot that every core's record carries.
pub struct Handoff {
    /// Physical address of the boot image.
    pub image_pa: u64,
    /// Bytes of the boot image file.
    pub image_size: u64,
    /// Offset of the payload table in the image.
    pub payload_table_offset: u64,
    /// Physical address of the device tree blob.
    pub dtb_pa: u64,
    /// Bytes of the device tree blob.
    pub dtb_size: u32,
    /// Exception level the stub was entered at.
    pub entry_el: u64,
    /// The counter at the stub's first instruction.
    pub entry_counter: u64,
    /// `FLAG_*` bits from the kernel command line.
    pub flags: u64,
}

/// What the stub decided for one core.
struct CorePlan {
    mpidr: u64,
    status: StartStatus,
    region_pa: u64,
    record_pa: u64,
    entry_pa: u64,
    record: BootRecord,
}

/// Every core's region, prepared; ready to start.
pub struct Plan<'a> {
    facts: &'a skb::Skb,
    cores: Vec<CorePlan>,
    boot_index: usize,
}

impl<'a> Plan<'a> {
    #[allow(clippy::too_many_arguments)]
    /// Carves the shared region and every core's region, and prepares each region for its
    /// core (stopping the stub if even the shared region does not fit).
    pub fn new(
        facts: &'a skb::Skb,
        payloads: &PayloadTable,
        image: &[u8],
        ram: &[PhysRange],
        in_use: &[PhysRange],
        console: &ConsoleConfig,
        gic: &GicConfig,
        handoff: &Handoff,
    ) -> Self {
        let own_mpidr = cpu::mpidr();
        let Some(boot_cpu) = facts.cpu_by_mpidr(own_mpidr) else {
            stub_println!(
                "boot stub: fatal: this core (mpidr={own_mpidr:#x}) is not in the device tree's /cpus"
            );
            halt()
        };
        let boot_index = boot_cpu.index;
        let core_count = facts.cpus.len().min(MAX_CORES);
        if facts.cpus.len() > MAX_CORES {
            stub_println!(
                "boot stub: warning: {} cores in the device tree, only {MAX_CORES} supported",
                facts.cpus.len()
            );
        }
        // Every region has the size of the largest build's layout; each core's own layout
        // follows its build, whose entry code finds the boot record right after its image.
        let region_size = payloads
            .entries()
            .filter(|e| e.kind == PayloadKind::CpuDriver)
            .map(|e| RegionLayout::for_kernel(e.mem_size).size)
            .max()
            .unwrap_or(MIB2);

        let mut avoid: Vec<PhysRange> = in_use.to_vec();
        avoid.push(PhysRange { start: 0, end: PAGE_SIZE }); // spin tables live in page 0
        avoid.extend(
            facts.reserved.iter().map(|r| PhysRange { start: r.base, end: r.base.saturating_add(r.size) }),
        );
        let window = [PhysRange { start: 0, end: PHYSMAP_LIMIT }];

        // The shared region first: without it no core could report.
        let shared_size = align_up(SharedLayout::new(core_count as u64).size(), MIB2);
        let mut shared_pa = [0u64; 1];
        if carve_regions(ram, &window, &avoid, shared_size, MIB2, &mut shared_pa).is_err() {
            stub_println!("boot stub: fatal: no memory for the shared region ({shared_size:#x} bytes)");
            halt();
        }
        let shared_pa = shared_pa[0];
        avoid.push(PhysRange { start: shared_pa, end: shared_pa + shared_size });
        // SAFETY: the shared region is carved from free RAM, identity mapped.
        let shared = unsafe { phys::bytes_mut(shared_pa, shared_size as usize) };
        shared.fill(0);
        cache::clean_to_poc(shared_pa as usize, shared_size as usize);
        // SAFETY: zeroed above and never freed; all-zero is a valid ConsoleLock (atomics).
        let console_lock = unsafe { &*(shared_pa as *const ConsoleLock) };
        console::use_lock(console_lock);

        let mut regions = alloc::vec![0u64; core_count];
        let placed = match carve_regions(ram, &window, &avoid, region_size, MIB2, &mut regions) {
            Ok(n) => n,
            Err(e) => {
                stub_println!("boot stub: {e}");
                match e {
                    cpu_driver::plan::PlanError::OutOfMemory { placed, .. } => placed,
                }
            }
        };

        let conduit = facts.psci.as_ref().map(|p| match p.conduit {
            skb::PsciConduit::Hvc => Conduit::Hvc,
            skb::PsciConduit::Smc => Conduit::Smc,
        });
        let mut cores = Vec::with_capacity(core_count);
        for (index, cpu) in facts.cpus.iter().take(core_count).enumerate() {
            let template = BootRecord {
                magic: BOOT_RECORD_MAGIC,
                core_index: index as u64,
                boot_core_index: boot_index as u64,
                core_count: core_count as u64,
                mpidr: cpu.mpidr,
                console: *console,
                gic: *gic,
                shared_pa,
                shared_size,
                image_pa: handoff.image_pa,
                image_size: handoff.image_size,
                payload_table_offset: handoff.payload_table_offset,
                dtb_pa: handoff.dtb_pa,
                dtb_size: u64::from(handoff.dtb_size),
                psci_conduit: conduit.map_or(0, Conduit::to_raw),
                stub_entry_el: handoff.entry_el,
                flags: handoff.flags,
                report_timeout_ticks: REPORT_TIMEOUT_SECONDS * cpu::counter_frequency(),
                boot_entry_counter: handoff.entry_counter,
                ..BootRecord::empty()
            };
            let mut core = CorePlan {
                mpidr: cpu.mpidr,
                status: StartStatus::NoMemory,
                region_pa: 0,
                record_pa: 0,
                entry_pa: 0,
                record: template,
            };
            let build = facts.cpu_driver_build(index).map_or(0, |b| match b {
                skb::CpuDriverBuild::Little => 0,
                skb::CpuDriverBuild::Big => 1,
            });
            let payload = payloads
                .cpu_driver(build)
                .or_else(|| payloads.entries().find(|e| e.kind == PayloadKind::CpuDriver));
            match (payload, regions.get(index).filter(|_| index < placed)) {
                (None, _) => core.status = StartStatus::NoBuild,
                (Some(_), None) => core.status = StartStatus::NoMemory,
                (Some(payload), Some(&region_pa)) => {
                    core.record.build = u64::from(payload.build);
                    let layout = RegionLayout::for_kernel(payload.mem_size);
                    match prepare_region(&layout, payload, image, region_pa, ram, &mut core.record) {
                        Ok(entry_pa) => {
                            core.region_pa = region_pa;
                            core.record_pa = region_pa + layout.boot_record;
                            core.entry_pa = entry_pa;
                            core.status =
                                if index == boot_index { StartStatus::BootCore } else { StartStatus::Absent };
                            stub_println!(
                                "boot stub: core {index} mpidr={:#x} {} -> {} build, region {region_pa:#x}..{:#x}",
                                cpu.mpidr,
                                cpu.compatible.as_deref().unwrap_or("?"),
                                payload.name(),
                                region_pa + layout.size
                            );
                        }
                        Err(e) => stub_println!("boot stub: core {index}: cannot map its region: {e}"),
                    }
                }
            }
            cores.push(core);
        }
        Plan { facts, cores, boot_index }
    }

    /// Starts every other core, then enters this core's CPU driver.
    pub fn start_all(mut self) -> ! {
        let conduit = Conduit::from_raw(self.cores.first().map_or(0, |c| c.record.psci_conduit));
        for (index, core) in self.cores.iter_mut().enumerate() {
            if index == self.boot_index || core.entry_pa == 0 {
                continue;
            }
            let cpu = &self.facts.cpus[index];
            core.status = match (&cpu.enable_method, conduit) {
                (skb::EnableMethod::Psci, Some(conduit)) => {
                    match conduit.cpu_on(core.mpidr, core.entry_pa, 0) {
                        Ok(()) => StartStatus::Started,
                        Err(e) => StartStatus::PsciError(cpu_driver::arch::aarch64::psci::error_code(e)),
                    }
                }
                (skb::EnableMethod::SpinTable, _) => match cpu.release_addr {
                    Some(release) if release % 8 == 0 && release < PHYSMAP_LIMIT => {
                        // SAFETY: the device tree names this word as the core's release address;
                        // it lies in reserved RAM the stub never allocates (page 0 or /memreserve/).
                        unsafe { phys::write(release, core.entry_pa) };
                        cache::clean_to_poc(release as usize, 8);
                        cpu::send_event();
                        StartStatus::Started
                    }
                    _ => StartStatus::NoEnableMethod,
                },
                _ => StartStatus::NoEnableMethod,
            };
        }
        let statuses: Vec<i64> = self.cores.iter().map(|c| c.status.to_raw()).collect();
        let Some(boot) = self.cores.get_mut(self.boot_index) else { halt() };
        if boot.entry_pa == 0 {
            stub_println!("boot stub: fatal: no CPU driver could be set up for the boot core");
            halt();
        }
        boot.record.start_status[..statuses.len()].copy_from_slice(&statuses);
        let record_pa = boot.record_pa;
        // SAFETY: the record page of the boot core's region, prepared above and not in use.
        unsafe { phys::write(record_pa, boot.record) };
        cache::clean_to_poc(record_pa as usize, core::mem::size_of::<BootRecord>());
        // SAFETY: the region holds a complete CPU driver, its tables and record, all cleaned to
        // the point of coherency; the stub has nothing left to do.
        unsafe { stub_enter_kernel(boot.entry_pa, record_pa) }
    }
}

/// Fills one core's region: its copy of the CPU driver, translation tables and boot record.
/// Returns the physical entry point.
fn prepare_region(
    layout: &RegionLayout,
    payload: &PayloadEntry,
    image: &[u8],
    region_pa: u64,
    ram: &[PhysRange],
    record: &mut BootRecord,
) -> Result<u64, MapError> {
    // SAFETY: the region was carved from free RAM for this core alone and is identity mapped.
    let region = unsafe { phys::bytes_mut(region_pa, layout.size as usize) };
    region.fill(0);
    let bytes = image
        .get(payload.file_offset as usize..(payload.file_offset + payload.file_size) as usize)
        .ok_or(MapError::Misaligned)?;
    region[..bytes.len()].copy_from_slice(bytes);

    let entry_tables_pa = region_pa + layout.tables;
    // SAFETY: the table pages are part of this core's region, zeroed above.
    let entry_tables = unsafe { phys::tables_mut(entry_tables_pa, ENTRY_MAP_TABLES) };
    let mut entry_pool = TablePool::new(entry_tables, entry_tables_pa)?;
    entry_pool.map(region_pa, region_pa, layout.size, Attributes::Code)?;

    let tables_pa = entry_tables_pa + ENTRY_MAP_TABLES as u64 * PAGE_SIZE;
    // SAFETY: as above; these pages follow the entry map's.
    let tables = unsafe { phys::tables_mut(tables_pa, TABLES_PER_CORE - ENTRY_MAP_TABLES) };
    let mut pool = TablePool::new(tables, tables_pa)?;
    map_physical(&mut pool, PHYSMAP_BASE, PHYSMAP_LIMIT, ram, Attributes::Data)?;
    // Each build is mapped where it was linked (`payload.load_va`, the build's own base in the
    // kernel window), so the little and big builds sit at different addresses and a debugger
    // can hold both builds' symbols at once.
    let base = payload.load_va;
    if !kernel_region_fits(base, layout.size) {
        return Err(MapError::OutsideWindow);
    }
    let text = payload.text_end_va - base;
    let rodata = payload.rodata_end_va - base;
    let kernel_end = align_up(payload.mem_size, PAGE_SIZE);
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

    record.ttbr = pool.root_pa();
    record.ttbr0_entry = entry_pool.root_pa();
    record.tcr = cpu::translation_control();
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
    // SAFETY: the record page of this region, zeroed above and aligned.
    unsafe { phys::write(region_pa + layout.boot_record, *record) };
    cache::clean_to_poc(region_pa as usize, layout.size as usize);
    Ok(region_pa + (payload.entry_va - base))
}
