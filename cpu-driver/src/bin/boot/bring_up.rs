//! The stub's work from its first Rust line until it knows the machine: check the image and
//! the DTB with the MMU off, turn on an identity map, start the heap and the console, read the
//! device tree into the SKB, map all RAM, set up the GIC distributor and read the kernel
//! command line; then [`crate::cores`] prepares the boot core's region and enters it. Uses
//! [`crate::console`], [`crate::heap`] and [`crate::cores`]; called only by [`crate::entry`].

extern crate alloc;

use alloc::vec::Vec;

use bootimage::{PayloadTable, TABLE_HEADER_SIZE};
use cpu_driver::arch::aarch64::cpu;
use cpu_driver::arch::aarch64::psci::Conduit;
use cpu_driver::arch::aarch64::{cache, gic, phys};
use cpu_driver::boot_record::{
    GicConfig, FLAG_BENCH, FLAG_CONSOLE_STALL_TEST, FLAG_EL0_INSTRUCTIONS_TEST, FLAG_FAULT_TEST,
    FLAG_KERNEL_STACK_OVERFLOW_TEST, FLAG_PHYSMAP_TEST, FLAG_POWER_OFF_WHEN_DONE, FLAG_SELFTEST,
    FLAG_SEMIHOSTING_EXIT, MAX_CORES,
};
use cpu_driver::kernel_region::MachineMemory;
use cpu_driver::layout::{align_down, align_up, PAGE_SIZE, PHYSMAP_LIMIT};
use cpu_driver::paging::{map_physical, Attributes, MapError, PhysRange, TablePool, MAIR_VALUE};

use crate::console::{self, stub_println};
use crate::cores::{Handoff, Plan};
use crate::heap;
use crate::refusal::{self, refuse};

extern "C" {
    fn stub_enable_mmu(ttbr: u64, tcr: u64, mair: u64);
    fn stub_switch_map(ttbr: u64);
}

const DTB_MAGIC: u32 = 0xd00d_feed;
/// Largest device tree the stub accepts (its `totalsize`, free space included). Loaders pad:
/// QEMU opens a `-dtb` file into a buffer twice its size plus 20,000 bytes and passes that
/// size on, so its own dumped 1 MiB tree arrives as 2,117,152 bytes. The bound only keeps a
/// corrupt header from mapping half the address space as RAM.
const DTB_MAX_SIZE: u32 = 64 << 20;
/// Translation tables for each of the stub's two identity maps.
const STUB_TABLES: usize = 16;

/// A range `[start, start + len)` as a page-aligned [`PhysRange`].
fn page_range(start: u64, len: u64) -> PhysRange {
    PhysRange { start: align_down(start, PAGE_SIZE), end: align_up(start + len, PAGE_SIZE) }
}

/// The whole bring-up; never returns (it ends in this core's CPU driver). `entry_counter` is
/// the counter at the stub's entry, handed on to every core's record. Never inlined: it is
/// where a debugger first stops in the stub (`tests/tests/gdb.rs` breaks at its first
/// instruction), so it must stay a frame of its own whatever the optimiser does with its caller.
#[inline(never)]
pub fn run(dtb_pa: u64, entry_el: u64, image_base: u64, stub_end: u64, entry_counter: u64) -> ! {
    refusal::entered_at(entry_el);
    // MMU off: only the image and the DTB header are touched until the early map is on. Until
    // the device tree is read, a refusal prints on the build's fallback console (with the MMU
    // off every data access is Device-nGnRnE, as a UART needs).
    // SAFETY: the packer put the table header at __stub_end, inside the loaded image.
    let total_size: u64 = unsafe { phys::read(stub_end + 16) };
    if total_size < stub_end - image_base + TABLE_HEADER_SIZE as u64 || total_size > 1 << 30 {
        refuse(format_args!("the boot image is corrupt: its payload table says {total_size} bytes"));
    }
    // SAFETY: the loader placed `total_size` bytes of image at image_base; nothing writes them.
    let image = unsafe { phys::bytes(image_base, total_size as usize) };
    let payloads = match PayloadTable::parse(image, (stub_end - image_base) as usize) {
        Ok(payloads) => payloads,
        Err(e) => refuse(format_args!("the boot image's payload table is corrupt: {e:?}")),
    };
    let dtb_size = match dtb_size(dtb_pa) {
        Ok(size) => size,
        Err(why) => refuse(format_args!("no usable device tree at {dtb_pa:#x}: {why}")),
    };

    let scratch = align_up(image_base + total_size, PAGE_SIZE);
    let scratch_end = scratch + payloads.scratch_size;
    let early_tables = scratch;
    let full_tables = scratch + STUB_TABLES as u64 * PAGE_SIZE;
    let heap_start = full_tables + STUB_TABLES as u64 * PAGE_SIZE;
    let image_range = page_range(image_base, scratch_end - image_base);
    let dtb_range = page_range(dtb_pa, u64::from(dtb_size));

    // Early identity map: only the image (with its scratch) and the DTB are known to be RAM.
    let early_ram = [image_range, dtb_range];
    let early_root = match build_identity_map(early_tables, &early_ram, &[]) {
        Ok(root) => root,
        Err(e) => refuse(format_args!("cannot build the early identity map: {e}")),
    };
    // SAFETY: the image, scratch and DTB were written with the caches off (relocation, tables)
    // or by a loader that cleaned them; memory holds the truth, stale lines must go.
    unsafe {
        cache::invalidate_to_poc(image_range.start as usize, (image_range.end - image_range.start) as usize);
        cache::invalidate_to_poc(dtb_range.start as usize, (dtb_range.end - dtb_range.start) as usize);
    }
    // SAFETY: the tables identity-map the code, stack and data the stub uses, as normal memory.
    unsafe { stub_enable_mmu(early_root, cpu::translation_control(), MAIR_VALUE) };
    // SAFETY: the heap range lies in the scratch area, mapped normal and used by nothing else.
    unsafe { heap::init(heap_start, scratch_end - heap_start) };

    // SAFETY: the DTB is mapped and nothing writes it.
    let dtb = unsafe { phys::bytes(dtb_pa, dtb_size as usize) };
    refusal::tree_readable(dtb);
    let facts = match skb::Skb::from_dtb(dtb) {
        Ok(facts) => facts,
        Err(e) => refuse(format_args!("the device tree at {dtb_pa:#x} is refused: {e}")),
    };
    refusal::conduit_known(facts.psci.as_ref().map(|psci| match psci.conduit {
        skb::PsciConduit::Hvc => Conduit::Hvc,
        skb::PsciConduit::Smc => Conduit::Smc,
    }));
    let console_config = console::config_of(facts.console.as_ref());
    console::init(&console_config);
    stub_println!(
        "boot stub: entered at EL{entry_el} on mpidr={:#x}, image at {image_base:#x} ({} KiB), dtb at {dtb_pa:#x} ({dtb_size} bytes)",
        cpu::mpidr(),
        total_size / 1024
    );
    for warning in &facts.warnings {
        stub_println!("boot stub: warning: device tree: {warning}");
    }
    // What the loader put in /chosen/bootargs (cmdline.txt, extlinux `append`, QEMU -append):
    // on a board the one place to see that the arguments arrived.
    if let Some(args) = facts.bootargs.as_deref().filter(|args| !args.trim().is_empty()) {
        stub_println!("boot stub: command line: {args}");
    }

    // Full identity map from the device tree's memory, so regions can go anywhere in RAM.
    let mut ram: Vec<PhysRange> = facts
        .memory
        .iter()
        .map(|m| PhysRange { start: m.base, end: m.base.saturating_add(m.size) })
        .filter(|r| r.start < r.end)
        .collect();
    if ram.is_empty() {
        stub_println!("boot stub: warning: the device tree lists no memory; using only the image's own GiB");
        let gib = align_down(image_base, 1 << 30);
        ram.push(PhysRange { start: gib, end: gib + (1 << 30) });
    }
    ram.extend_from_slice(&early_ram);
    // Reserved memory marked `no-map` (secure firmware) is never mapped, by the stub or by any
    // core: not even a speculative access may reach it.
    let no_map: Vec<PhysRange> = facts
        .no_map
        .iter()
        .map(|r| PhysRange { start: r.base, end: r.base.saturating_add(r.size) })
        .collect();
    for hole in &no_map {
        stub_println!("boot stub: reserved {:#x}..{:#x} is no-map: never mapped", hole.start, hole.end);
    }
    match build_identity_map(full_tables, &ram, &no_map) {
        // SAFETY: the new map gives every address the stub uses the same normal attributes;
        // the early map's entries are dropped with the MMU off before the new ones are used
        // (break-before-make for blocks whose size changes), and the TCR and MAIR stay.
        Ok(root) => unsafe { stub_switch_map(root) },
        Err(e) => stub_println!("boot stub: warning: full memory map failed ({e}); staying on the early map"),
    }

    let gic = gic_config(&facts);
    // SAFETY: the identity map covers the GIC as device memory; no other core runs yet.
    if let Err(e) = unsafe { gic::init_distributor(&gic, Some) } {
        stub_println!(
            "boot stub: warning: interrupt controller: {e}; cores will wait on the timer's event stream"
        );
    }
    let mut flags = FLAG_POWER_OFF_WHEN_DONE;
    let has_arg =
        |arg: &str| facts.bootargs.as_deref().is_some_and(|args| args.split_whitespace().any(|a| a == arg));
    if has_arg("fault-test") {
        flags |= FLAG_FAULT_TEST;
    }
    if has_arg("bench") {
        flags |= FLAG_BENCH;
    }
    if has_arg("selftest") {
        flags |= FLAG_SELFTEST;
    }
    if has_arg("el0-instructions-test") {
        flags |= FLAG_FAULT_TEST | FLAG_EL0_INSTRUCTIONS_TEST;
    }
    if has_arg("kernel-stack-overflow-test") {
        flags |= FLAG_KERNEL_STACK_OVERFLOW_TEST;
    }
    if has_arg("physmap-test") {
        flags |= FLAG_PHYSMAP_TEST;
    }
    if has_arg("console-stall-test") {
        flags |= FLAG_CONSOLE_STALL_TEST;
    }
    if has_arg("semihosting-exit") {
        flags |= FLAG_SEMIHOSTING_EXIT;
    }
    let handoff = Handoff {
        image_pa: image_base,
        image_size: total_size,
        payload_table_offset: stub_end - image_base,
        dtb_pa,
        dtb_size,
        entry_el,
        entry_counter,
        flags,
        inject_panic: cpu_driver::inject::panicking_cores(facts.bootargs.as_deref().unwrap_or("")),
    };
    let plan = Plan::new(
        &facts,
        &payloads,
        image,
        MachineMemory { ram: &ram, no_map: &no_map },
        &[image_range, dtb_range],
        &console_config,
        &gic,
        &handoff,
    );
    plan.enter()
}

/// Validates the DTB header and returns its size, or why it is not a device tree.
fn dtb_size(dtb_pa: u64) -> Result<u32, DtbHeaderError> {
    if dtb_pa == 0 || !dtb_pa.is_multiple_of(8) {
        return Err(DtbHeaderError::Misplaced);
    }
    // SAFETY: the boot protocol puts a DTB at x0; its first 8 bytes are readable if it exists
    // at all, and a wrong magic stops here.
    let header: [u8; 8] = unsafe { phys::read(dtb_pa) };
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if magic != DTB_MAGIC {
        return Err(DtbHeaderError::Magic(magic));
    }
    if !(40..=DTB_MAX_SIZE).contains(&size) {
        return Err(DtbHeaderError::Size(size));
    }
    Ok(size)
}

/// Why `x0` does not point at a device tree the stub can take.
enum DtbHeaderError {
    /// Null or not 8-byte aligned (the boot protocol's rule).
    Misplaced,
    /// The first word is not the device tree magic.
    Magic(u32),
    /// `totalsize` is below the header's own size or above [`DTB_MAX_SIZE`].
    Size(u32),
}

impl core::fmt::Display for DtbHeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DtbHeaderError::Misplaced => write!(f, "the address is null or not 8-byte aligned"),
            DtbHeaderError::Magic(magic) => write!(f, "magic {magic:#010x}, expected 0xd00dfeed"),
            DtbHeaderError::Size(size) => {
                write!(f, "totalsize {size} bytes, outside 40 to {DTB_MAX_SIZE} bytes")
            }
        }
    }
}

/// Builds an identity map of `[0, PHYSMAP_LIMIT)` but the `no_map` holes in the tables at
/// `tables_pa`.
fn build_identity_map(tables_pa: u64, ram: &[PhysRange], no_map: &[PhysRange]) -> Result<u64, MapError> {
    // SAFETY: the tables lie in the stub's scratch area, used by nothing else.
    let tables = unsafe { phys::tables_mut(tables_pa, STUB_TABLES) };
    let mut pool = TablePool::new(tables, tables_pa)?;
    map_physical(&mut pool, 0, PHYSMAP_LIMIT, ram, no_map, Attributes::CodeAndData)?;
    Ok(pool.root_pa())
}

fn gic_config(facts: &skb::Skb) -> GicConfig {
    let core_count = facts.cpus.len().min(MAX_CORES) as u64;
    let mut config = match facts.interrupt_controller {
        Some(skb::InterruptController::GicV2 { distributor, cpu_interface }) => GicConfig {
            version: 2,
            distributor_pa: distributor,
            cpu_pa: cpu_interface,
            core_count,
            boot_core_target: 0,
        },
        Some(skb::InterruptController::GicV3 { distributor, redistributor }) => GicConfig {
            version: 3,
            distributor_pa: distributor,
            cpu_pa: redistributor,
            core_count,
            boot_core_target: 0,
        },
        _ => GicConfig::default(),
    };
    // SAFETY: the identity map covers the distributor as device memory.
    config.boot_core_target = unsafe { gic::own_target(&config, cpu::mpidr(), Some) };
    config
}
