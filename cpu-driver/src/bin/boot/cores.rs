//! The boot core's region, prepared, and entering it: carving the shared region and the boot
//! core's region from free RAM, copying the boot core's CPU-driver build into its region with
//! its translation tables and boot record (which lists every core, how it is started, the RAM
//! and the memory left free), then entering that CPU driver. The stub starts no other core:
//! the boot core's monitor does, at run time, through the Kernel capability (`core_boot`).
//! Uses [`crate::console`]; called by [`crate::bring_up`] once the device tree is read.

extern crate alloc;

use alloc::vec::Vec;

use bootimage::{PayloadKind, PayloadTable};
use cpu_driver::arch::aarch64::cpu;
use cpu_driver::arch::aarch64::{cache, phys, psci::Conduit};
use cpu_driver::boot_record::{
    BootRecord, ConsoleConfig, GicConfig, StartStatus, BOOT_RECORD_MAGIC, ENABLE_NONE, ENABLE_PSCI,
    ENABLE_SPIN_TABLE, MAX_CORES,
};
use cpu_driver::kernel_region::{self, MachineMemory, RegionParts};
use cpu_driver::layout::{align_up, MIB2, PAGE_SIZE, PHYSMAP_LIMIT};
use cpu_driver::paging::PhysRange;
use cpu_driver::plan::{carve_regions, free_ranges, RegionLayout, TABLES_PER_CORE};
use cpu_driver::shared_region::SharedLayout;

use crate::console::stub_println;
use crate::refusal::refuse;

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
    /// Cores told to panic (`BootRecord::inject_panic`).
    pub inject_panic: u64,
}

/// The boot core's region, prepared; ready to enter.
pub struct Plan {
    entry_pa: u64,
    record_pa: u64,
}

impl Plan {
    #[allow(clippy::too_many_arguments)]
    /// Carves the shared region and the boot core's region and prepares the latter (stopping
    /// the stub if either does not fit or no build fits the boot core).
    pub fn new(
        facts: &skb::Skb,
        payloads: &PayloadTable,
        image: &[u8],
        memory: MachineMemory<'_>,
        in_use: &[PhysRange],
        console: &ConsoleConfig,
        gic: &GicConfig,
        handoff: &Handoff,
    ) -> Self {
        let ram = memory.ram;
        let own_mpidr = cpu::mpidr();
        let Some(boot_cpu) = facts.cpu_by_mpidr(own_mpidr) else {
            refuse(format_args!("this core (mpidr={own_mpidr:#x}) is not in the device tree's /cpus"))
        };
        let boot_index = boot_cpu.index;
        let core_count = facts.cpus.len().min(MAX_CORES);
        if facts.cpus.len() > MAX_CORES {
            stub_println!(
                "boot stub: warning: {} cores in the device tree, only {MAX_CORES} supported",
                facts.cpus.len()
            );
        }
        if boot_index >= core_count {
            refuse(format_args!("the boot core is core {boot_index}, past the {MAX_CORES} supported"))
        }

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
            refuse(format_args!("no memory for the shared region ({shared_size:#x} bytes)"))
        }
        let shared_pa = shared_pa[0];
        avoid.push(PhysRange { start: shared_pa, end: shared_pa + shared_size });
        // SAFETY: the shared region is carved from free RAM, identity mapped.
        let shared = unsafe { phys::bytes_mut(shared_pa, shared_size as usize) };
        shared.fill(0);
        cache::clean_to_poc(shared_pa as usize, shared_size as usize);

        let conduit = facts.psci.as_ref().map(|p| match p.conduit {
            skb::PsciConduit::Hvc => Conduit::Hvc,
            skb::PsciConduit::Smc => Conduit::Smc,
        });
        if conduit == Some(Conduit::Hvc) && handoff.entry_el == 2 {
            // Nothing runs under this kernel at EL2 to answer an HVC: `el2_to_el1.S` left
            // EL2's vectors passing each one on to the firmware with SMC.
            stub_println!(
                "boot stub: PSCI over hvc, entered at EL2: EL2's vectors pass each call on to the firmware with smc"
            );
        }
        let mut record = BootRecord {
            magic: BOOT_RECORD_MAGIC,
            core_index: boot_index as u64,
            boot_core_index: boot_index as u64,
            core_count: core_count as u64,
            mpidr: boot_cpu.mpidr,
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
            inject_panic: handoff.inject_panic,
            report_timeout_ticks: REPORT_TIMEOUT_SECONDS * cpu::counter_frequency(),
            boot_entry_counter: handoff.entry_counter,
            ..BootRecord::empty()
        };
        // Every core, as the device tree says it is started: the boot core's CPU driver starts
        // them when its monitor asks. A core whose method needs a fact the tree lacks cannot be
        // started; the rest of the machine boots without it, and the roll call names it offline.
        for (index, cpu) in facts.cpus.iter().take(core_count).enumerate() {
            record.core_mpidr[index] = cpu.mpidr;
            let unusable = |why: &str| {
                if index != boot_index {
                    stub_println!("boot stub: warning: core {index} ({}) cannot be started: {why}", cpu.path);
                }
                (ENABLE_NONE, 0)
            };
            (record.core_enable[index], record.core_release[index]) = match (&cpu.enable_method, conduit) {
                (skb::EnableMethod::Psci, Some(_)) => (ENABLE_PSCI, 0),
                (skb::EnableMethod::Psci, None) => {
                    unusable("its enable-method is psci, and the tree gives no usable PSCI")
                }
                (skb::EnableMethod::SpinTable, _) => match cpu.release_addr {
                    Some(release) if release % 8 == 0 && release < PHYSMAP_LIMIT => {
                        (ENABLE_SPIN_TABLE, release)
                    }
                    Some(_) => unusable("its cpu-release-addr is misaligned or beyond the mapped memory"),
                    None => unusable("spin-table without a usable cpu-release-addr"),
                },
                _ => (ENABLE_NONE, 0),
            };
        }
        record.start_status[boot_index] = StartStatus::BootCore.to_raw();
        if record.set_ram(ram.iter().copied()) > 0 {
            stub_println!(
                "boot stub: warning: more RAM ranges than a boot record lists; the rest is not mapped"
            );
        }

        // This core is running: where the tree does not name its design, its MIDR decides.
        let midr = cpu::midr();
        let decided_by_midr = facts.build_choice(boot_index) == Some(skb::BuildChoice::FromMidrAtBoot);
        if decided_by_midr {
            stub_println!(
                "boot stub: the device tree does not name core {boot_index}'s design ({}); its MIDR {midr:#x} says {}",
                boot_cpu.compatible.as_deref().unwrap_or("no compatible"),
                skb::micro_arch_from_midr(midr).map_or("a design the SKB does not know: the portable build", |a| a.name())
            );
        }
        let build = facts.cpu_driver_build_running(boot_index, midr).map_or(0, |b| match b {
            skb::CpuDriverBuild::Little => 0,
            skb::CpuDriverBuild::Big => 1,
        });
        let Some(payload) = payloads
            .cpu_driver(build)
            .or_else(|| payloads.entries().find(|e| e.kind == PayloadKind::CpuDriver))
        else {
            refuse(format_args!("the image holds no CPU-driver build"))
        };
        let layout = RegionLayout::for_kernel(payload.mem_size);
        let mut region_pa = [0u64; 1];
        if carve_regions(ram, &window, &avoid, layout.size, MIB2, &mut region_pa).is_err() {
            refuse(format_args!("no memory for the boot core's region ({:#x} bytes)", layout.size))
        }
        let region_pa = region_pa[0];
        avoid.push(PhysRange { start: region_pa, end: region_pa + layout.size });
        // What nothing above uses is the boot core's monitor's, as RAM capabilities: it gives
        // every other core its region and share out of it.
        let mut free = Vec::new();
        free_ranges(ram, &window, &avoid, |range| free.push(range));
        if record.set_monitor_ram(free.iter().copied()) > 0 {
            stub_println!(
                "boot stub: warning: free memory in more ranges than a boot record lists; some stays unused"
            );
        }

        let Some(bytes) = payloads.payload_bytes(image, payload) else {
            refuse(format_args!("the {} build lies outside the image", payload.name()))
        };
        // SAFETY: the region was carved from free RAM for the boot core alone and is identity
        // mapped; nothing else refers to it.
        let region = unsafe { phys::bytes_mut(region_pa, layout.size as usize) };
        region.fill(0);
        // SAFETY: as above; the table pages lie in the region, zeroed, and the image part below
        // them is not borrowed while they are.
        let tables = unsafe { phys::tables_mut(region_pa + layout.tables, TABLES_PER_CORE) };
        // SAFETY: the region's first bytes up to its record page, disjoint from the tables.
        let image_part = unsafe { phys::bytes_mut(region_pa, layout.boot_record as usize) };
        let parts = RegionParts { image: image_part, tables, region_pa };
        let entry_pa = match kernel_region::prepare(
            &layout,
            payload,
            bytes,
            parts,
            memory,
            cpu::translation_control(),
            &mut record,
        ) {
            Ok(entry_pa) => entry_pa,
            Err(e) => refuse(format_args!("cannot map the boot core's region: {e}")),
        };
        let record_pa = region_pa + layout.boot_record;
        // SAFETY: the record page of the boot core's region, zeroed above and aligned.
        unsafe { phys::write(record_pa, record) };
        cache::clean_to_poc(region_pa as usize, layout.size as usize);
        stub_println!(
            "boot stub: core {boot_index} mpidr={:#x} {} -> {} build, region {region_pa:#x}..{:#x}",
            boot_cpu.mpidr,
            boot_cpu.compatible.as_deref().unwrap_or("?"),
            payload.name(),
            region_pa + layout.size
        );
        let free_mib = free.iter().map(|r| r.end - r.start).sum::<u64>() >> 20;
        stub_println!(
            "boot stub: {} other cores for the boot core's monitor to start; {free_mib} MiB of RAM free for it",
            core_count - 1
        );
        Plan { entry_pa, record_pa }
    }

    /// Enters the boot core's CPU driver.
    pub fn enter(self) -> ! {
        // SAFETY: the region holds a complete CPU driver, its tables and record, all cleaned to
        // the point of coherency; the stub has nothing left to do.
        unsafe { stub_enter_kernel(self.entry_pa, self.record_pa) }
    }
}
