//! This core's memory for dispatchers: views of frames from its pool through the kernel window,
//! a dispatcher's address space (its own translation tables and ASID), and loading an EL0
//! program into a fresh one (segments copied into pool frames, a stack). The frame pool itself
//! is `cpu_driver::frames::FramePool`, owned by the dispatcher table. A leaf: it uses only the
//! library.
//!
//! The pool hands out each frame once, so a view made here is the only one.

use cpu_driver::arch::aarch64::tlb;
use cpu_driver::arch::aarch64::user::{invalidate_local_instruction_cache, sync_instruction_cache};
use cpu_driver::frames::{FramePool, Frames};
use cpu_driver::layout::{align_up, PAGE_SIZE, USER_STACK_SIZE, USER_STACK_TOP};
use cpu_driver::paging::{Attributes, MapError, Table, TablePool};
use cpu_driver::program::{self, ProgramError};

/// The frames as bytes.
///
/// # Safety
/// `frames` must come from this core's frame pool (mapped read-write in the kernel window) and
/// no other view of them may be live.
pub unsafe fn bytes_of(frames: &Frames) -> &'static mut [u8] {
    // SAFETY: guaranteed by the caller; the pool maps its frames for good.
    unsafe { core::slice::from_raw_parts_mut(frames.va as *mut u8, frames.len() as usize) }
}

/// The frames as translation tables.
///
/// # Safety
/// As [`bytes_of`].
pub unsafe fn tables_of(frames: &Frames) -> &'static mut [Table] {
    // SAFETY: guaranteed by the caller; a table is 4 KiB of u64, valid for any contents.
    unsafe { core::slice::from_raw_parts_mut(frames.va as *mut Table, frames.count as usize) }
}

/// Translation tables per address space (level 1, and level 2 and 3 tables for the program,
/// its stack and mapped frames).
const TABLES_PER_SPACE: u64 = program::TABLE_PAGES_PER_SPACE;

/// A dispatcher's address space.
pub struct AddressSpace {
    /// Its translation tables.
    pub tables: Frames,
    /// How many of them are in use.
    pub tables_used: usize,
    /// Its address space identifier.
    pub asid: u16,
}

impl AddressSpace {
    /// Maps `frames` at user address `va` with `attributes`.
    pub fn map(&mut self, va: u64, frames: &Frames, attributes: Attributes) -> Result<(), MapError> {
        // SAFETY: the tables were taken from this core's pool for this address space alone.
        let tables = unsafe { tables_of(&self.tables) };
        let mut pool = TablePool::resume(tables, self.tables.pa, self.tables_used)?;
        pool.map(va, frames.pa, frames.len(), attributes)?;
        self.tables_used = pool.tables_used();
        // The address space may be live (`map_channel`, `map_frame`, `map_device_tree` map into
        // the caller's own): the new entries must reach memory before a walk can look for them
        // (Arm ARM D8.2.6). They were invalid before, so no TLB holds them.
        tlb::publish_new_entry();
        Ok(())
    }

    /// Installs the level-3 table at physical `table_pa` for the 2 MiB window at `va`.
    pub fn install_table(&mut self, va: u64, table_pa: u64) -> Result<(), MapError> {
        // SAFETY: as in `map`.
        let tables = unsafe { tables_of(&self.tables) };
        let mut pool = TablePool::resume(tables, self.tables.pa, self.tables_used)?;
        pool.install_table(va, table_pa)?;
        self.tables_used = pool.tables_used();
        tlb::publish_new_entry(); // as in `map`
        Ok(())
    }

    /// Clears the level-2 entry of the window at `va` if it holds the table at `table_pa`;
    /// the caller invalidates the TLB.
    pub fn uninstall_table(&mut self, va: u64, table_pa: u64) -> bool {
        // SAFETY: as in `map`.
        let tables = unsafe { tables_of(&self.tables) };
        match TablePool::resume(tables, self.tables.pa, self.tables_used) {
            Ok(mut pool) => pool.uninstall_table(va, table_pa),
            Err(_) => false,
        }
    }
}

/// A loaded program, ready to run.
pub struct Loaded {
    /// Its address space.
    pub space: AddressSpace,
    /// Where it starts.
    pub entry: u64,
    /// Its initial stack pointer.
    pub stack_top: u64,
}

/// Why a program could not be loaded.
#[derive(Clone, Copy, Debug)]
pub enum LoadError {
    /// The ELF file was refused.
    Program(ProgramError),
    /// The core's frame pool is exhausted.
    OutOfFrames,
    /// Building the translation tables failed.
    Map(MapError),
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::Program(e) => write!(f, "bad program: {e}"),
            LoadError::OutOfFrames => write!(f, "out of frames"),
            LoadError::Map(e) => write!(f, "{e}"),
        }
    }
}

impl From<MapError> for LoadError {
    fn from(e: MapError) -> Self {
        LoadError::Map(e)
    }
}

/// Where a program's segments come from.
pub enum Segments<'a> {
    /// Fresh frames from the address space's own pool (taken after its tables), filled from
    /// the ELF file.
    FromPool,
    /// Fresh frames from a pool of their own, filled from the ELF file: the program's image as
    /// one Frame, which a span can lend to the dispatchers that join it on other cores.
    Image(&'a mut FramePool),
    /// The image of the same program, filled already by its first dispatcher on another core,
    /// at this physical address (a Frame of [`program::segment_pages`] pages, segment after
    /// segment as [`Segments::Image`] lays them out): mapped, neither zeroed nor copied.
    Joined {
        /// Physical address of the image's first page.
        pa: u64,
    },
}

/// Loads `elf` into a new address space with identifier `asid`: translation tables and stack
/// from `pool`, segments as `segments` says.
pub fn load(
    pool: &mut FramePool,
    segments: Segments<'_>,
    elf: &[u8],
    asid: u16,
) -> Result<Loaded, LoadError> {
    let plan = program::plan(elf).map_err(LoadError::Program)?;
    let tables = pool.take(TABLES_PER_SPACE).ok_or(LoadError::OutOfFrames)?;
    // SAFETY: fresh frames from this core's pool.
    let pool_tables = unsafe { tables_of(&tables) };
    let tables_used = TablePool::new(pool_tables, tables.pa)?.tables_used();
    let mut space = AddressSpace { tables, tables_used, asid };

    let mut image = segments;
    let mut joined_offset = 0;
    for segment in &plan.segments {
        let pages = align_up(segment.mem_size, PAGE_SIZE) / PAGE_SIZE;
        let frames = match &mut image {
            Segments::Joined { pa } => {
                let frames = Frames { pa: *pa + joined_offset, va: 0, count: pages };
                joined_offset += pages * PAGE_SIZE;
                space.map(segment.vaddr, &frames, segment.attributes)?;
                continue;
            }
            Segments::FromPool => pool.take(pages),
            Segments::Image(image) => image.take(pages),
        };
        let frames = frames.ok_or(LoadError::OutOfFrames)?;
        // SAFETY: fresh frames from this core's pool, not yet mapped anywhere else.
        let bytes = unsafe { bytes_of(&frames) };
        bytes.fill(0);
        let file = elf.get(segment.file_range.clone()).ok_or(LoadError::Program(ProgramError::OutOfRange))?;
        bytes[..file.len()].copy_from_slice(file);
        if segment.attributes == Attributes::UserCode {
            sync_instruction_cache(frames.va, frames.len());
        }
        space.map(segment.vaddr, &frames, segment.attributes)?;
    }
    if matches!(image, Segments::Joined { .. }) {
        // The first dispatcher cleaned the code to the point of unification by address, which
        // reaches every core of the Inner Shareable domain, but invalidated only its own core's
        // instruction cache (`ic iallu`); this core may hold lines of that memory from an
        // earlier program.
        invalidate_local_instruction_cache();
    }
    let stack = pool.take(USER_STACK_SIZE / PAGE_SIZE).ok_or(LoadError::OutOfFrames)?;
    // SAFETY: fresh frames from this core's pool.
    unsafe { bytes_of(&stack) }.fill(0);
    space.map(USER_STACK_TOP - USER_STACK_SIZE, &stack, Attributes::UserData)?;
    Ok(Loaded { space, entry: plan.entry, stack_top: USER_STACK_TOP })
}
