//! This core's capabilities as the CPU driver uses them: the capability space every dispatcher
//! gets, what the monitor holds at boot (the Kernel capability and the core's free memory as
//! RAM capabilities), and zeroing memory that a retype hands out. The rules themselves (types,
//! rights, retype, the derivation database) are the portable `caps` crate's; this module only
//! places them on this core's memory. Uses [`crate::memory`] (the address space a VNode is
//! installed in), [`crate::mappings`] (the VNode it describes) and [`crate::interrupts`] (the
//! console interrupt's trigger, set when its IRQ capability is made).
//!
//! Sizes: the kernel heap is 1 MiB (`cpu_driver::plan::HEAP_SIZE`) and `caps` keeps everything
//! there (capabilities, the derivation database, CNode tables growing with the slots used, not
//! with the CNodes' sizes). A capability space is a 4 KiB root CNode (64 level-1 slots) whose
//! slot 0 holds a 4 KiB level-2 CNode (64 slots, `syscall_abi::CNODE_SLOTS`), but a program
//! with RAM can retype more CNodes into its root and copy capabilities into them, so the
//! capabilities of a core are bounded by [`CAPABILITY_LIMIT`]: past it, every operation that
//! would make one is refused with `CapError::OutOfCapabilities` instead of the heap running
//! out (which would stop the core).

use caps::{CSpace, CapAddr, CapError, CapType, Capability, CoreCapabilities, Region, Rights};
use cpu_driver::boot_record::BootRecord;
use cpu_driver::frames::FramePool;
use cpu_driver::gicv2_spi::Trigger;
use cpu_driver::layout::{phys_to_virt, PAGE_SIZE, PHYSMAP_LIMIT, USER_MAPPABLE_BASE};
use cpu_driver::paging::MapError;
use syscall_abi::{CNODE_SLOTS, SLOT_FIRST_RAM, SLOT_KERNEL, SLOT_SELF, SLOT_VNODE};

use crate::console::kprintln;
use crate::interrupts;
use crate::mappings::VNode;
use crate::memory::{self, AddressSpace};

/// Bytes of a root CNode: 64 level-1 slots.
const ROOT_CNODE_BYTES: u64 = PAGE_SIZE;
/// Bytes of the level-2 CNode in root slot 0.
const LEVEL2_CNODE_BYTES: u64 = CNODE_SLOTS as u64 * caps::SLOT_BYTES;
/// Frames the pool keeps for `map_frame` (the old path, outside the capability system) once
/// the rest of it went to the monitor as RAM capabilities. The dispatchers the monitor spawns
/// are built from the RAM capability it passes to `spawn`, not from the pool.
const MAP_FRAME_RESERVE_PAGES: u64 = 16;
/// Largest RAM capability made at boot: the free pool is split into pieces of at most this,
/// so that a monitor can hand a whole one to a program; large enough for a spawned program
/// (`selftest` needs about 1.2 MiB, its 1 MiB heap among it) to be retyped out of one.
const RAM_PIECE_BYTES: u64 = 4 << 20;

/// Heap bytes one unit of `CoreCapabilities::usage` (a capability, a CNode table, a CNode
/// table entry) may take, worst case, held plus the transient peak of revoking everything at
/// once. Measured on the host with a counting allocator (`caps/tests/heap_per_capability.rs`,
/// 64-bit like this target): distinct one-page Frames cost the most, 166 bytes per unit held
/// (332 per Frame in a fresh slot: its slot entry, its derivation-database entry, its range-tree
/// node, B-tree nodes' slack included), and revoking them all peaks at 59 bytes per unit more
/// (the lists of what went); 225 in all, rounded up to 256. That test fails above 256.
pub const BYTES_PER_CAPABILITY_UNIT: u64 = 256;

/// Units of capabilities this core may hold: a quarter of the heap at the worst case above
/// (1024 units, 256 KiB), leaving three quarters (768 KiB) for everything else the kernel
/// allocates (dispatchers, mappings, messages; the capabilities made at boot count against the
/// limit) and for the first-fit heap's fragmentation and per-block rounding. A program filling
/// CNodes of its own with copies (two units each: the capability and its table entry) reaches
/// its part of it (the limit less [`MONITOR_CAPABILITY_RESERVE`]) after about 380 on every
/// core of the selftest run (`capability-limit-refused`).
pub const CAPABILITY_LIMIT: usize = (cpu_driver::plan::HEAP_SIZE / 4 / BYTES_PER_CAPABILITY_UNIT) as usize;

/// Units of [`CAPABILITY_LIMIT`] only the holder of the Kernel capability (the monitor) may
/// take: a program that fills the core's capabilities must not stop the capability protocol
/// (a transfer from another core arriving then was refused, and a channel bind with it). The
/// protocol's slots hold a few dozen capabilities at the most busy (each costs a unit and at
/// most its table entries), a span member's spawn six more.
pub const MONITOR_CAPABILITY_RESERVE: usize = 96;

/// Why a dispatcher could not get its capability space or the monitor its endowment.
#[derive(Clone, Copy, Debug)]
pub enum SetupError {
    /// The frame pool is exhausted.
    OutOfFrames,
    /// The capability system refused.
    Capability(CapError),
    /// Installing the VNode in the address space failed.
    Map(MapError),
}

impl From<CapError> for SetupError {
    fn from(e: CapError) -> Self {
        SetupError::Capability(e)
    }
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SetupError::OutOfFrames => write!(f, "out of frames for a capability space"),
            SetupError::Capability(e) => write!(f, "capability system refused: {e:?}"),
            SetupError::Map(e) => write!(f, "installing its VNode: {e}"),
        }
    }
}

/// Makes a new, empty two-level capability space from two frames of the pool: the root CNode
/// (kept in a kernel-held slot, so user code can neither delete nor see it) and the level-2
/// CNode in its slot 0.
pub fn new_cspace(caps: &mut CoreCapabilities, pool: &mut FramePool) -> Result<CSpace, SetupError> {
    let pages = (ROOT_CNODE_BYTES + LEVEL2_CNODE_BYTES) / PAGE_SIZE;
    let frames = pool.take(pages).ok_or(SetupError::OutOfFrames)?;
    let root = Capability::memory(CapType::CNode, frames.pa, ROOT_CNODE_BYTES)?;
    let held = caps.create_held_root(root)?;
    let cspace = caps.cspace_of_held(held)?;
    let level2 = Capability::memory(CapType::CNode, frames.pa + ROOT_CNODE_BYTES, LEVEL2_CNODE_BYTES)?;
    caps.create_root(level2, cspace.slot(CapAddr::level1(0)))?;
    Ok(cspace)
}

/// Gives the monitor's capability space the Kernel capability (at `SLOT_KERNEL`) and its
/// memory as RAM capabilities from `SLOT_FIRST_RAM` on: first the frame pool's free pages but a
/// small reserve for `map_frame` (pieces of at most 4 MiB), then every range the boot record
/// lists for the monitor (on the boot core the RAM nobody uses, on another core the share its
/// booting monitor gave it), one capability each. Called once every boot dispatcher is loaded,
/// so nothing else takes from that memory. Returns the number of RAM capabilities made; ranges
/// past the last RAM slot are reported and stay unused.
pub fn endow_monitor(
    caps: &mut CoreCapabilities,
    monitor: CSpace,
    pool: &mut FramePool,
    record: &BootRecord,
) -> Result<u32, SetupError> {
    caps.create_root(Capability::kernel(), monitor.slot(CapAddr::from_raw(SLOT_KERNEL)))?;
    if record.is_boot_core() {
        give_console_device(caps, monitor, record)?;
    }
    let mut made = 0;
    let mut give = |base: u64, size: u64| -> Result<bool, SetupError> {
        if SLOT_FIRST_RAM + made >= SLOT_VNODE {
            return Ok(false);
        }
        let slot = monitor.slot(CapAddr::from_raw(SLOT_FIRST_RAM + made));
        caps.create_root(Capability::ram(base, size)?, slot)?;
        made += 1;
        Ok(true)
    };
    let pages = (pool.free_bytes() / PAGE_SIZE).saturating_sub(MAP_FRAME_RESERVE_PAGES);
    if pages > 0 {
        let frames = pool.take(pages).ok_or(SetupError::OutOfFrames)?;
        let mut base = frames.pa;
        let end = frames.pa + frames.len();
        while base < end {
            let size = (end - base).min(RAM_PIECE_BYTES);
            if !give(base, size)? {
                break;
            }
            base += size;
        }
    }
    for range in record.monitor_ranges() {
        if !give(range.start, range.end - range.start)? {
            kprintln!(
                "core {}: monitor memory {:#x}..{:#x} left unused: no RAM slot free",
                record.core_index,
                range.start,
                range.end
            );
        }
    }
    Ok(made)
}

/// Gives the monitor a Dispatcher capability to itself at `SLOT_SELF`: a zeroed pool page as
/// its control block, the object held by the kernel (so the monitor can delete its copy but
/// the block lives as long as the core) and copied into its space. The monitor makes the
/// Endpoints its programs send to it through from it. Returns the control block's address.
pub fn give_self(
    caps: &mut CoreCapabilities,
    monitor: CSpace,
    pool: &mut FramePool,
) -> Result<u64, SetupError> {
    let frames = pool.take(1).ok_or(SetupError::OutOfFrames)?;
    // SAFETY: a fresh frame from this core's pool, mapped nowhere else yet.
    unsafe { memory::bytes_of(&frames) }.fill(0);
    let held = caps.create_held_root(Capability::memory(CapType::Dispatcher, frames.pa, PAGE_SIZE)?)?;
    caps.copy_held(held, monitor.slot(CapAddr::from_raw(SLOT_SELF)))?;
    Ok(frames.pa)
}

/// Gives the boot core's monitor what a console driver at EL0 needs: the IRQ capability for
/// the console UART's interrupt at `SLOT_CONSOLE_IRQ` and a device Frame capability over the
/// page of its registers at `SLOT_CONSOLE_DEVICE`, when the device tree named both. The kernel
/// goes on transmitting through the same registers (its console); the driver takes the
/// receive side.
fn give_console_device(
    caps: &mut CoreCapabilities,
    monitor: CSpace,
    record: &BootRecord,
) -> Result<(), SetupError> {
    let console = &record.console;
    let intid = u32::try_from(console.intid).unwrap_or(0);
    if intid == 0 || console.kind == 0 || console.base_pa == 0 {
        return Ok(());
    }
    // The trigger the device tree gives, set while the interrupt is masked and before any other
    // core runs (`interrupts::configure_spi`); none given: the controller's setting stays.
    if let Some(trigger) = Trigger::from_record(console.irq_trigger) {
        if let Err(e) = interrupts::configure_spi(intid, trigger) {
            kprintln!("core 0: console interrupt {intid} cannot be configured ({e:?}): no IRQ capability");
            return Ok(());
        }
    }
    let page = console.base_pa & !(PAGE_SIZE - 1);
    caps.create_root(Capability::irq(intid), monitor.slot(CapAddr::from_raw(syscall_abi::SLOT_CONSOLE_IRQ)))?;
    caps.create_root(
        Capability::device_frame(page, PAGE_SIZE)?,
        monitor.slot(CapAddr::from_raw(syscall_abi::SLOT_CONSOLE_DEVICE)),
    )?;
    Ok(())
}

/// Puts a boot module's capability into the monitor's space at `slot`: a Frame over the ELF file's pages `[base, base + size)` in the boot image, with the
/// read right only. A Frame rather than a DeviceFrame because the bytes are ordinary memory
/// (an ELF file, as a multiboot module is in Barrelfish); a root (it derives from no RAM: the
/// image is not this core's RAM, so no retype can ever name it); read-only because the image is
/// shared by every core and `spawn` reads the program from it.
/// `slot` is `SLOT_FIRST_MODULE + index` for an EL0 program, `SLOT_FIRST_CPU_DRIVER + class`
/// for a CPU-driver build (which `core_boot` takes).
pub fn give_module(
    caps: &mut CoreCapabilities,
    monitor: CSpace,
    slot: u32,
    base: u64,
    size: u64,
) -> Result<(), SetupError> {
    let capability = Capability::memory(CapType::Frame, base, size)?.reduced(Rights::READ);
    caps.create_root(capability, monitor.slot(CapAddr::from_raw(slot)))?;
    Ok(())
}

/// Gives a dispatcher its level-3 VNode: a zeroed page of the frame pool, installed as the
/// level-3 table of the 2 MiB window at `USER_MAPPABLE_BASE` of `space`, its capability (a
/// root: it derives from no RAM a program holds) at `SLOT_VNODE` of `cspace`.
pub fn install_vnode(
    caps: &mut CoreCapabilities,
    cspace: CSpace,
    pool: &mut FramePool,
    space: &mut AddressSpace,
    owner: usize,
) -> Result<VNode, SetupError> {
    let frames = pool.take(1).ok_or(SetupError::OutOfFrames)?;
    // SAFETY: a fresh frame from this core's pool, mapped nowhere else yet.
    unsafe { memory::bytes_of(&frames) }.fill(0);
    let capability = Capability::memory(CapType::VNodeL3, frames.pa, PAGE_SIZE)?;
    caps.create_root(capability, cspace.slot(CapAddr::from_raw(SLOT_VNODE)))?;
    space.install_table(USER_MAPPABLE_BASE, frames.pa).map_err(SetupError::Map)?;
    Ok(VNode { pa: frames.pa, kernel_va: frames.va, asid: space.asid, owner, window: 0 })
}

/// The kernel's address for `[base, base + size)` if it is RAM this core owns: in its frame
/// pool, through the kernel window's view of the pool; in its monitor's memory (the boot
/// record's `monitor_ram`: every RAM capability lies in the pool or in it), through the
/// physmap, which maps no other RAM (`kernel_region::owned_memory`). Both views are normal
/// write-back memory, so they never disagree about attributes.
pub fn ram_va(record: &BootRecord, base: u64, size: u64) -> Option<u64> {
    let end = base.checked_add(size)?;
    if let Some(offset) = base.checked_sub(record.frames_pa) {
        if end <= record.frames_pa + record.frames_size {
            return Some(record.frames_va + offset);
        }
    }
    let in_ram = record.monitor_ranges().any(|r| r.start <= base && end <= r.end);
    if in_ram {
        phys_to_virt(base).filter(|_| end <= PHYSMAP_LIMIT)
    } else {
        None
    }
}

/// Zeroes memory a retype just made, through [`ram_va`]. Returns false, touching nothing, for
/// memory that is not RAM.
pub fn zero(record: &BootRecord, region: Region) -> bool {
    let Some(va) = ram_va(record, region.base, region.size) else { return false };
    // SAFETY: the range is RAM the kernel maps read-write for good (`ram_va`); only the capabilities a retype just made name it, and new
    // capabilities are not mapped (a mapping is made by `vnode_map` on an existing Frame
    // capability and removed before its capability goes), so no other view of these bytes is
    // live.
    let bytes = unsafe { core::slice::from_raw_parts_mut(va as *mut u8, region.size as usize) };
    bytes.fill(0);
    true
}
