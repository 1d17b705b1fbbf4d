//! This core's dispatchers (EL0 program instances): what one is (saved registers, FP/SIMD
//! state, address space, capability space, state, same-core inbox and line queue, granted
//! channels), the table of them with the frame pool they are built from and this core's
//! capabilities, and loading one from the boot image. Choosing which one runs is
//! [`crate::scheduler`]'s; changing them on request, [`crate::syscalls`]'. Uses [`crate::memory`], [`crate::capabilities`],
//! [`crate::mappings`] and [`crate::boot_image`].
//!
//! ASIDs are recycled (`cpu_driver::asid`): a dispatcher that ends gives its ASID back
//! ([`Dispatchers::end`]), and one handed out again is invalidated first (`tlbi aside1is`) in
//! [`Dispatchers::spawn`]. Invalidating when the ASID is reused rather than when it is freed is
//! what makes it safe: until the ended dispatcher's tables leave `TTBR0_EL1` (the next switch,
//! or walks off while idle), a speculative walk could cache its entries again after an early
//! invalidation.

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use caps::{CSpace, CapAddr, CapError, CapType, CoreCapabilities, HeldSlot, Region, Retype, Rights, SlotRef};
use cpu_driver::arch::aarch64::exception::TrapFrame;
use cpu_driver::arch::aarch64::fp::FpState;
use cpu_driver::arch::aarch64::{tlb, user};
use cpu_driver::asid::Asids;
use cpu_driver::boot_record::BootRecord;
use cpu_driver::frames::FramePool;
use cpu_driver::layout::{PAGE_SIZE, USER_MAPPABLE_BASE};
use cpu_driver::line_queue::LineQueue;
use cpu_driver::program;
use cpu_driver::run_queue::RunState;
use syscall_abi::SLOT_VNODE;

use crate::boot_image;
use crate::capabilities::{self, SetupError};
use crate::mappings::{Mappings, VNode};
use crate::memory::{self, AddressSpace};

/// Why a VNode could not be installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallError {
    /// It is installed already.
    Installed,
    /// The window is in use (or its level-2 entry could not be written).
    Occupied,
    /// Its memory is not RAM the kernel maps (a kernel bug: a VNode capability's always is),
    /// or the dispatcher does not exist.
    NotRam,
}

/// Most same-core messages queued for one dispatcher.
pub const INBOX_CAPACITY: usize = 32;

/// How a dispatcher ended (what `dispatcher_status` tells its parent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It called `exit` with this code.
    Exited(u64),
    /// The kernel stopped it after a fault: the exception's syndrome and faulting address.
    Faulted {
        /// `ESR_EL1` of the fault.
        esr: u64,
        /// `FAR_EL1` of the fault.
        far: u64,
    },
    /// It had joined a program running on another core, and the image it mapped from there was
    /// revoked (the last capability to it on this core went).
    ImageRevoked,
    /// A holder of its Dispatcher capability stopped it (`dispatcher_stop`).
    Stopped,
}

/// The pages a dispatcher's program image (its segments) lives in, as one Frame object.
#[derive(Clone, Copy, Debug)]
pub struct Image {
    /// The kernel-held Frame capability to it.
    pub held: HeldSlot,
    /// Its physical base.
    pub base: u64,
    /// Its bytes.
    pub size: u64,
    /// Whether it was filled by the program's first dispatcher on another core (this one
    /// joined it) rather than loaded here.
    pub joined: bool,
}

/// One EL0 program instance on this core.
pub struct Dispatcher {
    /// The program's name in the boot image.
    pub name: String,
    /// Its EL0 registers while it does not run.
    pub frame: TrapFrame,
    /// Its FP/SIMD registers while it does not run.
    pub fp: FpState,
    /// Its address space.
    pub space: AddressSpace,
    /// Its capability space: the capabilities its system calls name.
    pub cspace: CSpace,
    /// Where it stands for the scheduler (`cpu_driver::run_queue`: runnable, waiting, ended;
    /// a wake-up kept for its next `wait`; settled).
    pub run: RunState,
    /// Cores whose application channel its monitor granted it.
    pub grants: Vec<u64>,
    /// Same-core messages for it: (sender index, words).
    pub inbox: VecDeque<(u64, [u64; 3])>,
    /// Same-core URPC lines for it (`line_send`; the `lines` module).
    pub lines: LineQueue,
    /// The objects it is built from, retyped by `spawn` out of the RAM capability it was
    /// given and kept in kernel-held slots (root CNode, level-2 CNode, VNode, control block,
    /// the Frame of its tables, segments and stack); released when it ends. Empty for the boot
    /// dispatchers (built from the frame pool).
    pub held: Vec<HeldSlot>,
    /// Physical address of its control block, the object its Dispatcher capabilities name,
    /// while any capability names it (cleared when the last one goes, so a later control block
    /// at the same address never finds this dispatcher); `None` for the boot dispatchers.
    pub control: Option<u64>,
    /// The dispatcher that spawned it, woken when it ends.
    pub parent: Option<usize>,
    /// How it ended, once it has.
    pub ending: Option<Ending>,
    /// Its program image as one Frame: loaded here (a span may lend it to other cores) or
    /// joined from another core's; `None` for the boot dispatchers.
    pub image: Option<Image>,
}

/// What `spawn` builds a dispatcher from, checked by the caller: the boot module's pages, the
/// RAM capability to retype them from, the caller's empty slot for the Dispatcher capability,
/// the caller and the child's first argument.
#[derive(Clone, Copy, Debug)]
pub struct SpawnRequest {
    /// Physical base of the module capability's object.
    pub module_base: u64,
    /// Size of the module capability's object.
    pub module_size: u64,
    /// The RAM capability (type and write right checked).
    pub ram: SlotRef,
    /// Where the caller gets the child's Dispatcher capability (checked empty).
    pub dest: SlotRef,
    /// The calling dispatcher: the child's parent.
    pub parent: usize,
    /// The child's `x0` at entry.
    pub arg: u64,
}

/// Why `spawn` refused.
#[derive(Debug)]
pub enum SpawnError {
    /// The module capability names no boot module's pages.
    NoModule,
    /// The RAM capability was refused (too small: `OutOfBounds`; retyped already, ...);
    /// nothing changed.
    Capability(CapError),
    /// Anything else (a bad program, no ASID, a kernel error), described.
    Other(String),
}

impl Dispatcher {
    /// Something it may wait for happened: if waiting, it runs again and its `wait` returns 1;
    /// otherwise its next `wait` returns at once. An ended dispatcher stays ended.
    pub fn wake(&mut self) {
        if let Some(returns) = self.run.wake() {
            self.frame.x[0] = returns;
        }
    }
}

/// Every dispatcher of this core, by index (the order they were loaded in; index 0 is the
/// monitor), the frames they are made of, and this core's capabilities.
pub struct Dispatchers {
    record: &'static BootRecord,
    list: Vec<Dispatcher>,
    frames: FramePool,
    asids: Asids,
    caps: CoreCapabilities,
    mappings: Mappings,
}

impl Dispatchers {
    /// No dispatchers yet; the frame pool is this core's, from its boot record.
    pub fn new(record: &'static BootRecord) -> Self {
        Dispatchers {
            record,
            list: Vec::new(),
            frames: FramePool::new(record.frames_pa, record.frames_va, record.frames_size),
            asids: Asids::with_bits(cpu_driver::arch::aarch64::cpu::asid_bits()),
            caps: {
                let mut caps = CoreCapabilities::with_limit(capabilities::CAPABILITY_LIMIT);
                caps.set_reserve(capabilities::MONITOR_CAPABILITY_RESERVE);
                caps
            },
            mappings: Mappings::new(),
        }
    }

    /// Loads the program `name` from the boot image and makes it runnable (the monitor, at
    /// boot).
    pub fn spawn(&mut self, name: &str) -> Result<usize, String> {
        let elf = boot_image::program(self.record, name)
            .ok_or_else(|| alloc::format!("no program {name} in the boot image"))?;
        self.spawn_elf(name, elf)
    }

    /// Builds a dispatcher for the ELF file `elf` from this core's frame pool: capability
    /// space, ASID, address space with the program and its stack, VNode; makes it runnable and
    /// returns its index.
    fn spawn_elf(&mut self, name: &str, elf: &[u8]) -> Result<usize, String> {
        let cspace = capabilities::new_cspace(&mut self.caps, &mut self.frames)
            .map_err(|e| alloc::format!("{name}: {e}"))?;
        let loaded = load_with_new_asid(&mut self.asids, &mut self.frames, memory::Segments::FromPool, elf)
            .map_err(|e| alloc::format!("{name}: {e}"))?;
        let mut space = loaded.space;
        let owner = self.list.len();
        let vnode = capabilities::install_vnode(&mut self.caps, cspace, &mut self.frames, &mut space, owner)
            .map_err(|e| alloc::format!("{name}: {e}"))?;
        // A fresh page: never installed before.
        let _ = self.mappings.record_installed(vnode);
        let start = Start { entry: loaded.entry, stack_top: loaded.stack_top, arg: 0, joined: false };
        Ok(self.push(
            name,
            start,
            space,
            cspace,
            Origin { held: Vec::new(), control: None, parent: None, image: None },
        ))
    }

    /// Adds a runnable dispatcher that starts as `start` says; returns its index.
    fn push(
        &mut self,
        name: &str,
        start: Start,
        space: AddressSpace,
        cspace: CSpace,
        origin: Origin,
    ) -> usize {
        let mut frame =
            TrapFrame { elr: start.entry, spsr: 0, sp_el0: start.stack_top, ..TrapFrame::default() };
        frame.x[0] = start.arg;
        frame.x[1] = u64::from(start.joined);
        self.list.push(Dispatcher {
            name: name.into(),
            frame,
            fp: FpState::new(),
            space,
            cspace,
            run: RunState::new(),
            grants: Vec::new(),
            inbox: VecDeque::new(),
            lines: LineQueue::new(),
            held: origin.held,
            control: origin.control,
            parent: origin.parent,
            ending: None,
            image: origin.image,
        });
        self.list.len() - 1
    }

    /// Spawns the boot module whose pages `request` names out of its RAM capability (see
    /// [`Self::spawn_from_ram`]); returns the new dispatcher's index.
    /// The name of the boot module whose pages are `[base, base + size)` and the bytes of RAM
    /// `spawn` needs to build it ([`program::pages_needed`] pages); `None` if no module's.
    pub fn module_info(&self, base: u64, size: u64) -> Option<(String, u64)> {
        let (name, elf) = boot_image::program_at(self.record, base, size)?;
        let plan = program::plan(elf).ok()?;
        Some((name, program::pages_needed(&plan) * PAGE_SIZE))
    }

    pub fn spawn_module(&mut self, request: SpawnRequest) -> Result<usize, SpawnError> {
        let (name, elf) = boot_image::program_at(self.record, request.module_base, request.module_size)
            .ok_or(SpawnError::NoModule)?;
        self.spawn_from_ram(&name, elf, request, None)
    }

    /// Spawns a dispatcher that joins the boot module `request` names, already running on
    /// another core: it maps the image Frame capability at `image` (read and write rights,
    /// exactly [`program::segment_pages`] pages of that module, else `OutOfBounds`) instead of
    /// loading the segments, and only its private pages ([`program::PRIVATE_PAGES`]) are retyped
    /// from the RAM. A kernel-held copy of the image capability lives as long as the dispatcher;
    /// when the image is revoked (that copy goes) the dispatcher ends
    /// ([`Ending::ImageRevoked`]).
    pub fn spawn_joined(&mut self, request: SpawnRequest, image: SlotRef) -> Result<usize, SpawnError> {
        let (name, elf) = boot_image::program_at(self.record, request.module_base, request.module_size)
            .ok_or(SpawnError::NoModule)?;
        let plan = program::plan(elf).map_err(|e| SpawnError::Other(alloc::format!("{name}: {e}")))?;
        let capability = self
            .caps
            .lookup(image, CapType::Frame, Rights::READ | Rights::WRITE)
            .map_err(SpawnError::Capability)?;
        if capability.size() != program::segment_pages(&plan) * PAGE_SIZE {
            return Err(SpawnError::Capability(CapError::OutOfBounds));
        }
        self.spawn_from_ram(&name, elf, request, Some(image))
    }

    /// A Frame capability to the image of the dispatcher at `index` (loaded here, not joined),
    /// copied to `dest`: what its monitor lends to the cores a span joins it on.
    pub fn copy_image(&mut self, index: usize, dest: SlotRef) -> Result<(), CapError> {
        let image = self.list.get(index).and_then(|d| d.image).ok_or(CapError::InvalidArgument)?;
        if image.joined {
            return Err(CapError::InvalidArgument);
        }
        self.caps.copy_held(image.held, dest)
    }

    /// Builds a dispatcher for the ELF file `elf` out of the RAM capability `request.ram`: the
    /// first [`program::pages_needed`] pages of it are retyped into a root CNode, a level-2
    /// CNode, a level-3 VNode, a control block (one page each) and one Frame (translation
    /// tables, segments, stack), each in a kernel-held slot; the CNode and VNode are copied
    /// into the new capability space as the boot dispatchers' are, the control block into the
    /// caller's `request.dest` as the child's Dispatcher capability. A RAM capability too
    /// small, part of it retyped already, or no room for capabilities is refused with a
    /// capability error before anything changes (the retypes made so far are undone).
    fn spawn_from_ram(
        &mut self,
        name: &str,
        elf: &[u8],
        request: SpawnRequest,
        joined: Option<SlotRef>,
    ) -> Result<usize, SpawnError> {
        let other = |e: &dyn core::fmt::Display| SpawnError::Other(alloc::format!("{name}: {e}"));
        let plan = program::plan(elf).map_err(|e| other(&e))?;
        let image_pages = program::segment_pages(&plan);
        let private = program::PRIVATE_PAGES;
        let pages = if joined.is_some() { private } else { private + image_pages };
        let ram = request.ram;
        let source = self.caps.lookup(ram, CapType::Ram, Rights::WRITE).map_err(SpawnError::Capability)?;
        if source.size() < pages * PAGE_SIZE || image_pages == 0 {
            return Err(SpawnError::Capability(CapError::OutOfBounds));
        }
        let objects = program::KERNEL_OBJECT_PAGES;
        let pieces = [
            (CapType::CNode, 0, PAGE_SIZE),
            (CapType::CNode, PAGE_SIZE, PAGE_SIZE),
            (CapType::VNodeL3, 2 * PAGE_SIZE, PAGE_SIZE),
            (CapType::Dispatcher, 3 * PAGE_SIZE, PAGE_SIZE),
            // Its translation tables and stack.
            (CapType::Frame, objects * PAGE_SIZE, (private - objects) * PAGE_SIZE),
            // Its image, unless it maps another core's.
            (CapType::Frame, private * PAGE_SIZE, image_pages * PAGE_SIZE),
        ];
        let mut held = Vec::new();
        let retyped = if joined.is_some() { &pieces[..5] } else { &pieces[..] };
        for &(kind, offset, object_size) in retyped {
            match self.caps.retype_held(ram, Retype { kind, offset, object_size, count: 1 }) {
                Ok((slot, _)) => held.push(slot),
                Err(e) => {
                    self.release_held(&held);
                    return Err(SpawnError::Capability(e));
                }
            }
        }
        if let Some(image) = joined {
            match self.caps.hold(image) {
                Ok(slot) => held.push(slot),
                Err(e) => {
                    self.release_held(&held);
                    return Err(SpawnError::Capability(e));
                }
            }
        }
        if let Err(e) = self.caps.copy_held(held[3], request.dest) {
            self.release_held(&held);
            return Err(SpawnError::Capability(e));
        }
        let built = self.build_from(
            name,
            elf,
            Region { base: source.base(), size: pages * PAGE_SIZE },
            &held,
            request,
            joined.is_some(),
        );
        if built.is_err() {
            if let Ok(removal) = self.caps.delete(request.dest) {
                self.unmap_removed(&removal);
            }
            self.release_held(&held);
        }
        built.map_err(|e| other(&e))
    }

    /// The rest of [`Self::spawn_from_ram`], once the objects at `held` are retyped from the
    /// RAM `region` (the image too unless `joined`).
    fn build_from(
        &mut self,
        name: &str,
        elf: &[u8],
        region: Region,
        held: &[HeldSlot],
        request: SpawnRequest,
        joined: bool,
    ) -> Result<usize, String> {
        if !capabilities::zero(self.record, region) {
            return Err("its RAM is not memory the kernel maps".into());
        }
        let cspace = self.caps.cspace_of_held(held[0]).map_err(|e| alloc::format!("{e:?}"))?;
        self.caps.copy_held(held[1], cspace.slot(CapAddr::level1(0))).map_err(|e| alloc::format!("{e:?}"))?;
        self.caps
            .copy_held(held[2], cspace.slot(CapAddr::from_raw(SLOT_VNODE)))
            .map_err(|e| alloc::format!("{e:?}"))?;
        let objects = program::KERNEL_OBJECT_PAGES;
        let base = region.base;
        let vnode_pa = base + 2 * PAGE_SIZE;
        let control_pa = base + 3 * PAGE_SIZE;
        let frames_pa = base + objects * PAGE_SIZE;
        let frames_size = (program::PRIVATE_PAGES - objects) * PAGE_SIZE;
        let vnode_va = capabilities::ram_va(self.record, vnode_pa, PAGE_SIZE).ok_or("VNode not in RAM")?;
        let frames_va =
            capabilities::ram_va(self.record, frames_pa, frames_size).ok_or("frames not in RAM")?;
        let mut pool = FramePool::new(frames_pa, frames_va, frames_size);
        let image_slot = *held.get(5).ok_or("no image")?;
        let image_cap = self.caps.held(image_slot).map_err(|e| alloc::format!("{e:?}"))?;
        let image = Image { held: image_slot, base: image_cap.base(), size: image_cap.size(), joined };
        let loaded = if joined {
            load_with_new_asid(&mut self.asids, &mut pool, memory::Segments::Joined { pa: image.base }, elf)?
        } else {
            let image_va =
                capabilities::ram_va(self.record, image.base, image.size).ok_or("image not in RAM")?;
            let mut image_pool = FramePool::new(image.base, image_va, image.size);
            load_with_new_asid(&mut self.asids, &mut pool, memory::Segments::Image(&mut image_pool), elf)?
        };
        let asid = loaded.space.asid;
        let mut space = loaded.space;
        if let Err(e) = space.install_table(USER_MAPPABLE_BASE, vnode_pa) {
            let _ = self.asids.free(asid);
            return Err(alloc::format!("installing its VNode: {e}"));
        }
        let owner = self.list.len();
        // A fresh page: never installed before.
        let _ = self.mappings.record_installed(VNode {
            pa: vnode_pa,
            kernel_va: vnode_va,
            asid,
            owner,
            window: 0,
        });
        let start = Start { entry: loaded.entry, stack_top: loaded.stack_top, arg: request.arg, joined };
        let origin = Origin {
            held: held.to_vec(),
            control: Some(control_pa),
            parent: Some(request.parent),
            image: Some(image),
        };
        Ok(self.push(name, start, space, cspace, origin))
    }

    /// The dispatcher whose control block is at `control` (a Dispatcher capability's base),
    /// if one is: ended ones included, until the last capability to it goes.
    pub fn with_control(&self, control: u64) -> Option<usize> {
        self.list.iter().position(|d| d.control == Some(control))
    }

    /// Releases the kernel-held slots `held` (the root CNode first: its contents go with it)
    /// and unmaps what went with them: what a dispatcher was built from when it ends or its
    /// building fails, and what `core_boot` held for a core that could not be started.
    pub fn release_held(&mut self, held: &[HeldSlot]) {
        for &slot in held {
            if let Ok(removal) = self.caps.release(slot) {
                self.unmap_removed(&removal);
            }
        }
    }

    /// How many were loaded (ended ones included: indices never change).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The dispatcher at `index`.
    pub fn get(&self, index: usize) -> Option<&Dispatcher> {
        self.list.get(index)
    }

    /// The dispatcher at `index`, to change.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut Dispatcher> {
        self.list.get_mut(index)
    }

    /// Gives the monitor (dispatcher 0) a read-only Frame capability per boot module
    /// (every EL0 program of the image but the monitor, from `SLOT_FIRST_MODULE` on, in the
    /// image's order; the CPU-driver builds from
    /// `SLOT_FIRST_CPU_DRIVER` on), the Kernel capability and its memory as RAM capabilities (see [`capabilities::endow_monitor`]); once every boot dispatcher is
    /// loaded. Returns how many RAM capabilities it got.
    pub fn endow_monitor(&mut self) -> Result<u32, SetupError> {
        let monitor = self.list.first().ok_or(SetupError::OutOfFrames)?.cspace;
        let slots = syscall_abi::SLOT_FIRST_MODULE..syscall_abi::SLOT_FIRST_CPU_DRIVER;
        for (slot, (_, base, size)) in slots.zip(boot_image::programs(self.record, "monitor")) {
            capabilities::give_module(&mut self.caps, monitor, slot, base, size)?;
        }
        for class in 0..2u32 {
            if let Some((base, size)) = boot_image::cpu_driver_pages(self.record, class) {
                let slot = syscall_abi::SLOT_FIRST_CPU_DRIVER + class;
                capabilities::give_module(&mut self.caps, monitor, slot, base, size)?;
            }
        }
        let control = capabilities::give_self(&mut self.caps, monitor, &mut self.frames)?;
        if let Some(d) = self.list.first_mut() {
            d.control = Some(control);
        }
        capabilities::endow_monitor(&mut self.caps, monitor, &mut self.frames, self.record)
    }

    /// This core's capabilities, for the capability system calls.
    pub fn caps(&mut self) -> &mut CoreCapabilities {
        &mut self.caps
    }

    /// This core's mappings through VNode capabilities.
    pub fn mappings(&mut self) -> &mut Mappings {
        &mut self.mappings
    }

    /// The dispatcher at `index` ends (exited or stopped, as `ending` says): it never runs
    /// again; what was mapped through its VNode is unmapped (so its Frame capabilities may be
    /// mapped elsewhere), its ASID is given back, the objects it was built from go back to
    /// their RAM, and its parent, if any, is woken.
    pub fn end(&mut self, index: usize, ending: Ending) {
        let Some(d) = self.list.get_mut(index) else { return };
        if !d.run.end() {
            return;
        }
        d.ending = Some(ending);
        let asid = d.space.asid;
        let tables_pa = d.space.tables.pa;
        let parent = d.parent;
        let held = core::mem::take(&mut d.held);
        for vnode in self.mappings.installed_in(index) {
            let vnode = self.mappings.forget_installed(vnode.pa);
            self.uninstall(vnode);
        }
        // Its tables are about to become free memory while `TTBR0_EL1` may still point at
        // them (a dispatcher ending from its own system call or fault): no walk may read them
        // again. `EPD0` stops new walks until the scheduler installs the next address space
        // (it always switches after an end), and invalidating the ASID drops what the TLB and
        // its walk caches hold for it. (A recycled ASID is invalidated again when reused.) A
        // dispatcher ended by another's call (its image revoked) is not installed: the caller's
        // address space stays.
        if user::installed_tables() == tables_pa {
            user::detach_address_space();
        }
        tlb::invalidate_asid(asid);
        // Cannot fail: the ASID was handed out for this dispatcher and is freed once, here.
        let _ = self.asids.free(asid);
        // Its objects go back to the RAM they were retyped from.
        self.release_held(&held);
        if let Some(parent) = parent.and_then(|p| self.list.get_mut(p)) {
            parent.wake();
        }
    }

    /// Unmaps what a delete or revoke removed (see [`Mappings::unmap_removed`]) and uninstalls
    /// every installed VNode whose last capability went.
    pub fn unmap_removed(&mut self, removal: &caps::Removal) {
        for vnode in self.mappings.unmap_removed(removal) {
            self.uninstall(Some(vnode));
        }
        // A dispatcher that joined a program on another core maps that core's image through a
        // held copy of its capability; a revoke reaching this core removes that copy too, and
        // the image may be reused there as soon as the revoke is acknowledged: the dispatcher
        // ends now (its address space goes with it).
        // (Only a sweep removes a running dispatcher's held copy; `end` releases it otherwise.)
        let revoked: Vec<usize> = self
            .list
            .iter()
            .enumerate()
            .filter(|(_, d)| d.ending.is_none())
            .filter(|(_, d)| d.image.is_some_and(|image| image.joined && self.caps.held(image.held).is_err()))
            .map(|(index, _)| index)
            .collect();
        for index in revoked {
            self.end(index, Ending::ImageRevoked);
        }
        // A control block no capability names any more: its dispatcher (ended, since its own
        // held capability is only released when it ends) can no longer be found by it.
        for removed in removal.removed.iter().filter(|r| r.last_copy) {
            if removed.capability.kind() == CapType::Dispatcher {
                let base = removed.capability.base();
                self.list.iter_mut().filter(|d| d.control == Some(base)).for_each(|d| d.control = None);
            }
        }
    }

    /// Clears the level-2 entry of a VNode that was installed (its entries are unmapped
    /// already) and invalidates its address space's TLB entries: a table entry changed, so
    /// every page walked through it goes (`tlbi aside1is`; per-page `vae1is` would need 512).
    fn uninstall(&mut self, vnode: Option<VNode>) {
        let Some(vnode) = vnode else { return };
        if let Some(d) = self.list.get_mut(vnode.owner) {
            d.space.uninstall_table(VNode::window_va(vnode.window), vnode.pa);
            tlb::invalidate_asid(vnode.asid);
        }
    }

    /// Installs the level-3 VNode at `pa` (a VNode capability's object, zeroed when it was
    /// retyped) in window `window` (1 to 511) of dispatcher `owner`'s address space.
    pub fn install_vnode(&mut self, owner: usize, pa: u64, window: usize) -> Result<VNode, InstallError> {
        if self.mappings.installed(pa).is_some() {
            return Err(InstallError::Installed);
        }
        let kernel_va = capabilities::ram_va(self.record, pa, cpu_driver::layout::PAGE_SIZE)
            .ok_or(InstallError::NotRam)?;
        let d = self.list.get_mut(owner).ok_or(InstallError::NotRam)?;
        let vnode = VNode { pa, kernel_va, asid: d.space.asid, owner, window };
        // The table's zeroes (written by retype) must reach memory before a walk can reach the
        // table through the new level-2 entry, even speculatively (Arm ARM D8.2.6): a DSB
        // before the entry is written, and one after so the program's next access sees it.
        tlb::publish_new_entry();
        d.space.install_table(VNode::window_va(window), pa).map_err(|_| InstallError::Occupied)?;
        tlb::publish_new_entry();
        let _ = self.mappings.record_installed(vnode);
        Ok(vnode)
    }

    /// The installed VNode at `pa`, if any.
    pub fn installed_vnode(&self, pa: u64) -> Option<VNode> {
        self.mappings.installed(pa)
    }

    /// The frame pool, for frames mapped on request.
    pub fn frames(&mut self) -> &mut FramePool {
        &mut self.frames
    }

    /// The wake SGI arrived: every dispatcher is woken (see [`Dispatcher::wake`]).
    pub fn wake_all(&mut self) {
        self.list.iter_mut().for_each(Dispatcher::wake);
    }

    /// Every waiting dispatcher whose deadline is before `now` runs again; its `wait` returns 0.
    pub fn expire_deadlines(&mut self, now: u64) {
        for d in &mut self.list {
            if let Some(returns) = d.run.expire(now) {
                d.frame.x[0] = returns;
            }
        }
    }

    /// The earliest deadline of a waiting dispatcher.
    pub fn earliest_deadline(&self) -> Option<u64> {
        self.list.iter().filter_map(|d| d.run.deadline()).min()
    }

    /// How many may run.
    pub fn runnable(&self) -> usize {
        self.list.iter().filter(|d| d.run.runnable()).count()
    }

    /// Whether every dispatcher has settled (waited once or ended).
    pub fn all_settled(&self) -> bool {
        self.list.iter().all(|d| d.run.settled)
    }
}

/// Where a new dispatcher starts: its entry point, its stack and its first argument (`x0`).
struct Start {
    entry: u64,
    stack_top: u64,
    arg: u64,
    /// Whether it joins a program running on another core (`x1` at entry: the program's
    /// runtime must not initialise what the first dispatcher already did).
    joined: bool,
}

/// What a new dispatcher is built from and by whom: the kernel-held objects retyped for it,
/// its control block and its parent (none of them for a boot dispatcher).
struct Origin {
    held: Vec<HeldSlot>,
    control: Option<u64>,
    parent: Option<usize>,
    image: Option<Image>,
}

/// Loads `elf` into a new address space from `pool`, under an ASID from `asids`; a recycled
/// ASID is invalidated first (no TTBR0 holds it now: the caller runs in its own address space,
/// or none runs yet), and given back if loading fails.
fn load_with_new_asid(
    asids: &mut Asids,
    pool: &mut FramePool,
    segments: memory::Segments<'_>,
    elf: &[u8],
) -> Result<memory::Loaded, String> {
    let allocated = asids.allocate().map_err(|e| alloc::format!("{e}"))?;
    if allocated.recycled {
        tlb::invalidate_asid(allocated.asid);
    }
    memory::load(pool, segments, elf, allocated.asid).map_err(|e| {
        let _ = asids.free(allocated.asid);
        alloc::format!("{e}")
    })
}
