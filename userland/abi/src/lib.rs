//! The system-call interface between the CPU driver (EL1) and EL0 programs.
//!
//! A call is `SVC #0` with the call number in `x8`, arguments in `x0`..`x5` (most calls use
//! `x0`..`x3`; only `cap_retype` needs six), and the result in `x0`: a non-negative value on
//! success, or the negated [`Error`] code. Pointers passed in are user virtual addresses; the
//! kernel checks every page of a buffer before it reads it.
//!
//! The capability calls (`cap_*`) name capabilities by capability address (a `u32`, the
//! format of `caps::CapAddr`: bit 31 set for a level-1 address, bits 23..8 the level-1 index,
//! bits 7..0 the level-2 index) in the caller's own capability space, and fail with
//! [`Error::Capability`] carrying the capability system's reason (`caps::CapError::code`).
#![no_std]
#![forbid(unsafe_code)]

/// System-call numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Call {
    /// `exit(code)`: ends the calling dispatcher.
    Exit = 0,
    /// `yield()`: lets the next runnable dispatcher on this core run.
    Yield = 1,
    /// `console_write(ptr, len) -> len`: writes one line (or part of one) to the console.
    ConsoleWrite = 2,
    /// `info(what, arg) -> value`: facts about the caller and its core (see [`Info`]; `arg`
    /// only for [`Info::CoreOnline`]).
    Info = 3,
    /// `wait(timeout_ticks) -> woken`: sleeps until woken (an SGI from another core, a message
    /// from this core) or the timeout (0 = none) passes; returns 1 if woken, 0 on timeout.
    Wait = 4,
    /// `notify(core)`: sends the wake SGI to `core`; every dispatcher waiting there runs again.
    Notify = 5,
    /// `map_channel(peer, kind) -> va`: maps the URPC channel frame(s) shared with core `peer`
    /// (see [`ChannelKind`]) into the caller's address space and returns where.
    MapChannel = 6,
    /// `grant(peer, dispatcher)`: the monitor lets dispatcher `dispatcher` of this core map the
    /// application channel to core `peer`. Needs the Kernel capability at [`SLOT_KERNEL`].
    Grant = 7,
    /// `send_local(endpoint, w0, w1, w2)`: queues a three-word message for the dispatcher of
    /// this core that the Endpoint capability at `endpoint` (write right) names, and wakes it;
    /// the receiver sees the Endpoint's badge, not who sent it. `WouldBlock` when its inbox is
    /// full, `InvalidArgument` when it has ended.
    SendLocal = 8,
    /// `recv_local() -> badge`: takes the oldest queued message: the badge of the Endpoint it
    /// was sent through in `x0`, the words in `x1`..`x3`; `WouldBlock` when there is none.
    RecvLocal = 9,
    /// `power_off(failed)`: a monitor ends the run (the boot core's, or another when the boot
    /// core failed): the console rings are printed, then PSCI `SYSTEM_OFF`, or with `failed` =
    /// 1 (a run that failed) semihosting's `SYS_EXIT` 1 when the boot flags allow it, else PSCI
    /// `SYSTEM_RESET`. Needs the Kernel capability at [`SLOT_KERNEL`]; `Denied` otherwise.
    PowerOff = 10,
    /// `map_device_tree() -> va`: maps the device tree read-only into a monitor's address space
    /// (it builds its own replica of the System Knowledge Base from it). Needs the Kernel
    /// capability at [`SLOT_KERNEL`].
    MapDeviceTree = 11,
    /// `map_frame(va) -> va`: gives the caller a fresh zeroed frame of its core's memory,
    /// mapped read-write at the page-aligned user address `va`; the frame is the caller's.
    MapFrame = 12,
    /// `cap_identify(addr) -> type`: the capability at `addr`: its type number in `x0`
    /// (`caps::CapType` order: 0 RAM, 1 DeviceFrame, 2 Frame, 3 CNode, 4-7 VNode L0-L3,
    /// 8 Dispatcher, 9 Endpoint, 10 IRQ, 11 Kernel), its base in `x1`, size in `x2`, rights
    /// bits in `x3` (1 read, 2 write, 4 execute, 8 grant). Checks the address and that the slot
    /// holds a capability.
    CapIdentify = 13,
    /// `cap_retype(src, kind, offset, object_size, count, dest)`: makes `count` objects of
    /// type `kind`, `object_size` bytes each, from `offset` bytes into the memory capability at
    /// `src`, into consecutive empty slots from `dest`. Checks: `src` holds RAM (or a Frame,
    /// for smaller Frames) with the write right; the type pair, sizes, alignment and bounds;
    /// that no part of the range was retyped already; that the destinations are empty and in
    /// one CNode. The kernel zeroes the new objects (all but RAM).
    CapRetype = 14,
    /// `cap_copy(src, dest)`: copies the capability at `src` into the empty slot `dest`, with
    /// the same rights.
    CapCopy = 15,
    /// `cap_mint(src, dest, rights)`: copies with `rights`, which must be a subset of the
    /// source's (unknown bits: [`Error::InvalidArgument`]; more rights: `RightsExceeded`).
    CapMint = 16,
    /// `cap_delete(addr)`: removes the capability at `addr`; its descendants stay. When it was
    /// the last capability naming its memory, the memory is free again.
    CapDelete = 17,
    /// `cap_revoke(addr)`: removes every copy and every descendant of the capability at `addr`
    /// on this core, and keeps it.
    CapRevoke = 18,
    /// `cap_give(target, src, dest, by)`: copies the capability at `src` in the caller's space,
    /// with the same rights (never more), into the empty slot `dest` of another dispatcher's
    /// space (same core, not ended). Who receives it depends on `by` ([`GIVE_BY_DISPATCHER_CAP`]:
    /// `target` is the address of a Dispatcher capability with the write right in the caller's
    /// space, as `spawn` hands a parent for its child; [`GIVE_BY_INDEX`]: `target` is a
    /// dispatcher index and the caller must hold the Kernel capability at [`SLOT_KERNEL`]).
    CapGive = 19,
    /// `vnode_map(vnode, slot, frame, rights, pages)`: maps the first `pages` pages (x4, at
    /// least 1: `InvalidArgument`; at most the Frame's: `OutOfBounds`) of the Frame capability
    /// at `frame` into entries `slot`.. (all below 512: `IndexOutOfRange`) of the level-3 VNode
    /// capability at `vnode`, the first at its window's address + `slot * 4096` (returned),
    /// with `rights` (read 1, write 2, execute 4; read is needed, write and execute together
    /// are refused), as one mapping: unmapping or protecting any of its entries acts on all of
    /// them. The VNode must be installed in the caller's own address space; the Frame must
    /// hold every right asked for (a mapping is refused, never downgraded) and not be mapped
    /// already (map a copy to map it twice); every entry must be empty. An executable mapping
    /// has its pages' data cleaned to the point of unification and the instruction cache
    /// invalidated first.
    VnodeMap = 20,
    /// `vnode_unmap(vnode, slot, flags)`: clears entry `slot` of the caller's level-3 VNode at
    /// `vnode`, which must be mapped, and invalidates its TLB entries: this core's TLB (every
    /// address space is one core's), or with [`UNMAP_BROADCAST_TLBI`] in `flags` every core's
    /// (`tlbi vale1is`: the shared-memory baseline of the unmap experiment). Other flags are
    /// `InvalidArgument`.
    VnodeUnmap = 21,
    /// `vnode_install(vnode, window)`: installs the level-3 VNode capability at `vnode` (one
    /// the caller retyped from its RAM) as the table of window `window` (1 to 511) of its own
    /// address space, at `USER_MAPPABLE_BASE + window * 2 MiB` (returned); `vnode_map` then
    /// maps into it. Window 0 holds the VNode at [`SLOT_VNODE`]. Refused (`SlotOccupied`) if
    /// the VNode is installed already or the window is in use.
    VnodeInstall = 22,
    /// `spawn(module, ram, dest, arg)`: builds a new dispatcher on this core from the boot
    /// module whose Frame capability (read right) is at `module`, out of the RAM capability
    /// (write right) at `ram`: its capability space, its address space (ELF loaded, stack, its
    /// level-3 VNode at [`SLOT_VNODE`]) and its control block are retyped from the start of
    /// that RAM into kernel-held objects, released when it ends. It starts with `arg` in `x0`.
    /// A Dispatcher capability for it goes into the caller's empty slot `dest`: the parent's
    /// authority over its child ([`Call::CapGive`], [`Call::DispatcherStatus`]). No Kernel
    /// capability is needed, and the child gets none: it holds nothing but its own CNode and
    /// VNode until its parent gives it capabilities. Returns its dispatcher index. A module
    /// capability that names no boot module is `InvalidArgument`; a RAM capability too small
    /// is `Capability(OutOfBounds)`, checked before anything changes.
    Spawn = 23,
    /// `core_boot(core, build, region, share)`: (holder of the Kernel capability at
    /// [`SLOT_KERNEL`], on the boot core) starts core `core` (its index in the device tree's
    /// `/cpus`) running the CPU-driver build whose module Frame capability (read right) is at
    /// `build` ([`SLOT_FIRST_CPU_DRIVER`] + build class). `region` is a RAM capability (write
    /// right) at least [`Info::KernelRegionBytes`] long, starting on a 2 MiB boundary: the new
    /// core's private region (its copy of the build, tables, boot record, heap, frame pool,
    /// stack). `share` is a RAM capability (write right) of memory the new core's monitor gets
    /// as RAM capabilities. The kernel retypes both into objects it holds itself (so neither
    /// can be mapped, retyped or revoked while the core runs), fills the region, cleans it to
    /// the point of coherency and starts the core with PSCI `CPU_ON` or the spin table, as the
    /// device tree says. Returns 0 once the core was started; the core reports in on its own.
    /// Refused: `InvalidArgument` (no such core, the boot core, a Frame naming no CPU-driver
    /// build), `SlotOccupied` (the core was started already), the capability errors of the
    /// checks, and `WouldBlock` when the firmware refused (the reason is printed and the roll
    /// call reports the core offline; the memory stays with the kernel).
    CoreBoot = 24,
    /// `dispatcher_status(dispatcher) -> state`: how the dispatcher whose Dispatcher capability
    /// (read right) is at `dispatcher` stands: [`STATUS_RUNNING`] (runnable or waiting),
    /// [`STATUS_EXITED`] with its exit code in `x1`, or [`STATUS_FAULTED`] (stopped by the
    /// kernel after a fault) with the exception syndrome (`ESR_EL1`) in `x1` and the faulting
    /// address (`FAR_EL1`) in `x2`. (Number 24 is taken by `core_boot`.)
    DispatcherStatus = 25,
    /// `vnode_protect(vnode, entry, frame, rights)`: changes the rights of the live mapping at
    /// entry `entry` of the caller's level-3 VNode capability at `vnode` (checked as for
    /// `vnode_map`) to `rights` (read, write, execute; not write and execute together), on the
    /// authority of the Frame capability at `frame`, which must be the one mapped there
    /// (`EmptySlot` if the entry maps nothing, `InvalidArgument` if another capability is mapped
    /// there) and hold read and every right asked for (`Denied`). The new entry is written and
    /// the page's TLB entries for the caller's ASID are invalidated, so a reduction holds from
    /// the call's return on (a write to a page made read-only faults).
    VnodeProtect = 26,
    /// `endpoint_create(dispatcher, badge, dest)`: makes, in the caller's empty slot `dest`, an
    /// Endpoint capability to the dispatcher whose Dispatcher capability (write right) is at
    /// `dispatcher`, carrying `badge` (what the receiver of a `send_local` through it sees) and
    /// the Dispatcher capability's rights. A descendant of it: revoking the Dispatcher
    /// capability removes every Endpoint made from it.
    EndpointCreate = 27,
    /// `module_info(module) -> bytes`: what the boot-module Frame capability (read right) at
    /// `module` holds: the RAM `spawn` needs to build it in `x0` (bytes, a multiple of the
    /// page size), and its name in `x1`, `x2` (16 bytes, NUL padded; see [`module_name`]). A
    /// Frame naming no program of the boot image is `InvalidArgument`. Lets a program find
    /// modules by name and give each exactly the RAM it needs, whatever order the image holds
    /// them in.
    ModuleInfo = 28,
    /// `cap_export(addr) -> described`: (holder of the Kernel capability) the memory
    /// capability (RAM, Frame, device frame: else `WrongType`) at `addr`, described for a
    /// monitor to send to another core: `x0` = [`describe`]`(kind, rights, owner)` with its
    /// owning core's index, `x1` base, `x2` size. On its owner the object becomes *lent*: its
    /// last copy there can no longer be deleted, nor reached by a local revoke (`Lent`), until
    /// [`Call::CapRevokeAgreed`].
    CapExport = 29,
    /// `cap_receive(dest, described, base, size)`: (holder of the Kernel capability) puts the
    /// capability another core exported into the empty slot `dest`: a foreign copy owned by
    /// the core the description names (or, naming this core, a copy coming home). Refused
    /// with `Overlap` when it overlaps this core's own memory or cuts across a foreign object.
    CapReceive = 30,
    /// `cap_sweep(described, base, size) -> removed`: (holder of the Kernel capability) this
    /// core's part of the owner's revoke: removes (and unmaps) every foreign copy of the
    /// described object owned by the core the description names, and every foreign object of
    /// that owner inside it. Returns how many capabilities went.
    CapSweep = 31,
    /// `cap_revoke_agreed(addr)`: (holder of the Kernel capability, on the owner, after every
    /// other core swept) removes every other copy and descendant here, keeps the capability at
    /// `addr`, and the object is no longer lent.
    CapRevokeAgreed = 32,
    /// `cap_owner(addr) -> core`: the index of the core that owns the object of the
    /// capability at `addr` (this core's own index for everything it did not receive).
    CapOwner = 33,
    /// `cap_protect(described, base, size, rights) -> changed`: (holder of the Kernel
    /// capability) one core's part of a protect by agreement: reduces to `rights` every copy of
    /// the described object here (foreign copies of the owner the description names, or, naming
    /// this core, its own copies), downgrading their mappings (read-only without write, removed
    /// without read; TLB invalidated). Returns how many copies changed.
    CapProtect = 34,
    /// `spawn_joined(module, ram, dest, image, arg) -> index`: as `spawn`, but the child joins
    /// the program already running on another core: it maps the Frame capability at `image`
    /// (read and write rights; exactly the module's image, as `dispatcher_image` gave it
    /// there, else `OutOfBounds`) at the program's segment addresses instead of loading them,
    /// and only its private pages (stack, tables, CNodes, VNode, control block) are retyped
    /// from `ram`. It starts with `arg` in `x0` and 1 in `x1`. It ends when the image is
    /// revoked on this core ([`STATUS_IMAGE_REVOKED`]).
    SpawnJoined = 35,
    /// `dispatcher_image(dispatcher, dest)`: a Frame capability (read and write) to the image
    /// (its segments, one Frame) of the dispatcher the Dispatcher capability (write right) at
    /// `dispatcher` names, copied to `dest`; refused (`InvalidArgument`) for a dispatcher that
    /// joined another core's image or was loaded at boot.
    DispatcherImage = 36,
    /// `core_off()`: (holder of the Kernel capability, not on the boot core) powers the
    /// caller's core off: the kernel disarms its timer, takes its part of the GIC down, cleans
    /// and invalidates the memory its monitor was given to the point of coherency and calls
    /// PSCI `CPU_OFF`, which does not return. The monitor first leaves the membership and
    /// drains its work. Returns only if refused: `Denied` (no Kernel capability),
    /// `InvalidArgument` (the boot core), `WouldBlock` (the firmware offers no `CPU_OFF`: a
    /// core released from a spin table cannot be powered off, or PSCI refused; printed).
    CoreOff = 37,
    /// `core_reclaim(core)`: (holder of the Kernel capability, on the boot core) takes back
    /// what core `core` held once the firmware says it is off (PSCI `AFFINITY_INFO`): the
    /// objects its region and its monitor's share were retyped into are released (the memory
    /// is the caller's RAM again), its kernel and monitor channels are emptied, and it may be
    /// started again with `core_boot` (a fresh region). `WouldBlock` while it is not off yet
    /// (or the firmware will not say); `InvalidArgument` for no such core, the boot core, or a
    /// core that was not started; `Denied` without the Kernel capability or off the boot core.
    CoreReclaim = 38,
    /// `inject_fault(kind)`: (holder of the Kernel capability) makes this core fail on
    /// purpose, for the fault-injection harness: [`FAULT_KERNEL_PANIC`] panics the CPU driver,
    /// [`FAULT_PARK_MASKED`] parks the core for good with every interrupt masked. Returns only
    /// when refused (`Denied`, `InvalidArgument`).
    InjectFault = 48,
    /// `console_take_over(failed)`: (holder of the Kernel capability) makes this core's CPU
    /// driver the console's owner, because the owner failed: it drains every core's console
    /// ring from then on, and the old owner, should it still run, drains no more. `failed`
    /// (`u64::MAX`: none) names the failed core the survivors agreed on, from which the
    /// console is taken if that core had taken it over itself. `WouldBlock` if another core
    /// held the console's emergency path for too long (try again).
    ConsoleTakeOver = 49,
    /// `irq_claim(irq)`: the caller becomes the handler of the shared peripheral interrupt
    /// the IRQ capability at `irq` names: the kernel routes it to this core and enables it.
    /// When it fires, the kernel masks it at the interrupt controller, records it for the
    /// handler and wakes the handler (a `wait` returns); it stays masked until
    /// [`Call::IrqAck`]. Refused: `InvalidArgument` for an interrupt that is not a shared
    /// peripheral one (INTID 32 to 1019) or that the controller does not implement, `Denied` when a dispatcher that has not ended claimed it already (on this core, or
    /// routed to another core by a live claim there is not checked: one capability, one
    /// driver).
    IrqClaim = 39,
    /// `irq_ack(irq) -> fired`: the handler of the interrupt at `irq` is done with it: returns
    /// 1 if it fired since the last `irq_ack` (and clears that), 0 if not, and unmasks it. A
    /// level-sensitive source still asserted fires again at once. `Denied` unless the caller
    /// claimed it.
    IrqAck = 40,
    /// `dispatcher_stop(dispatcher)`: ends the dispatcher the Dispatcher capability (write
    /// right) at `dispatcher` names, as if it had exited: it never runs again, its objects go
    /// back to their RAM and `dispatcher_status` says [`STATUS_STOPPED`]. `InvalidArgument`
    /// for the caller itself (it calls `exit`) and for a dispatcher that ended already.
    DispatcherStop = 41,
    /// `line_send(endpoint, w0, .., w6)`: the same-core line transport (`x0` the Endpoint,
    /// `x1`..`x7` the line): queues one 56-byte URPC line (the seven payload words of a
    /// `urpc::Payload`, header word first) for the dispatcher of this core that the Endpoint
    /// capability at `endpoint` (write right) names, with the Endpoint's badge, and wakes it as
    /// `send_local` does. The kernel does not read the words: the receiver's decoder checks
    /// them. `WouldBlock` when its line queue ([`LINE_QUEUE_LINES`] lines) has no room, or the
    /// lines of this Endpoint's badge in it would pass [`LINES_PER_SENDER`] (the line is not
    /// queued: try again once the receiver drained some), `InvalidArgument` when the
    /// receiver has ended, the capability errors of the lookup otherwise.
    LineSend = 44,
    /// `line_send_lines(endpoint, lines, count)`: as `line_send` for `count` lines (1 to
    /// [`MAX_LINES_PER_SEND`]: `InvalidArgument` otherwise) read from the 8-byte aligned buffer
    /// at user address `lines` (`count` x 56 bytes, every page readable by the caller:
    /// `BadAddress` otherwise), queued one after the other with nothing between them, all or
    /// none: `WouldBlock` unless the queue has room for every one (a several-line message of
    /// the typed layer is never cut).
    LineSendLines = 45,
    /// `line_recv(badge, only_badge) -> queued`: takes the oldest line queued for the caller,
    /// or with `only_badge` = 1 the oldest that came through an Endpoint with `badge` (one
    /// channel's lines, in the order they were sent; `only_badge` 0 takes any, other values
    /// are `InvalidArgument`): the line in `x1`..`x7`, the badge it came through in `x8`, and
    /// in `x0` how many lines are still queued for the caller (of every badge). `WouldBlock`
    /// when there is none.
    LineRecv = 46,
    /// `console_input_line(ptr, len, cursor, enter)`: the line being typed at the console
    /// (printable ASCII, prompt included, at most [`INPUT_LINE_MAX`] bytes) with the cursor
    /// `cursor` bytes into it. The kernel shows it on the console at once (only what changed)
    /// and, while it is shown, takes it off before printing any other line and draws it again
    /// after, so lines other cores print stay whole. `enter` = 1: the line is done; it stays
    /// on the console, followed by a new line, and is forgotten. `Denied` off the core that
    /// owns the console (the boot core), `InvalidArgument` for a line too long, a byte that is
    /// not printable or a cursor past the end, `BadAddress` for memory the caller cannot read.
    ConsoleInputLine = 50,
}

/// Lines the kernel queues for one dispatcher (`line_send`): the same-core line transport's
/// bound. Past it a send is refused with `WouldBlock`, never dropped.
pub const LINE_QUEUE_LINES: usize = 32;
/// Most lines one `line_send_lines` takes: a typed message's longest (`urpc::interface::MAX_LINES`).
pub const MAX_LINES_PER_SEND: usize = 8;
/// Most lines of one badge (one sender's Endpoint) a dispatcher's line queue holds: the last
/// [`MAX_LINES_PER_SEND`] lines are kept for the others, so one peer that floods a receiver
/// never keeps another peer from sending it a message (of up to [`MAX_LINES_PER_SEND`] lines).
pub const LINES_PER_SENDER: usize = LINE_QUEUE_LINES - MAX_LINES_PER_SEND;
/// Words of one line of the same-core transport: a `urpc::Payload` (56 bytes).
pub const LINE_WORDS: usize = 7;
/// `line_recv`'s `only_badge`: take the oldest line whatever its badge.
pub const LINE_RECV_ANY: u64 = 0;
/// `line_recv`'s `only_badge`: take the oldest line of the given badge.
pub const LINE_RECV_BADGE: u64 = 1;

/// Bytes of the longest line [`Call::ConsoleInputLine`] takes.
pub const INPUT_LINE_MAX: u64 = 200;

/// [`Call::InjectFault`]: the CPU driver panics (its panic path runs for real).
pub const FAULT_KERNEL_PANIC: u64 = 0;
/// [`Call::InjectFault`]: the core stops with interrupts masked, answering nothing.
pub const FAULT_PARK_MASKED: u64 = 1;

/// Packs a capability's type, rights and owning core into one word, as `cap_export` returns
/// it and `cap_receive` and `cap_sweep` take it: bits 0-7 type, 8-15 rights, 16-47 core.
pub const fn describe(kind: u64, rights: u64, owner: u64) -> u64 {
    (kind & 0xff) | (rights & 0xff) << 8 | (owner & 0xffff_ffff) << 16
}

/// The type, rights and owning core of a word [`describe`] packed; `None` when bits above 47
/// are set.
pub const fn undescribe(word: u64) -> Option<(u64, u64, u64)> {
    if word >> 48 != 0 {
        return None;
    }
    Some((word & 0xff, (word >> 8) & 0xff, (word >> 16) & 0xffff_ffff))
}

/// The name `module_info` returned in `x1`, `x2`, as text (up to the first NUL).
pub fn module_name(words: &[u64; 2]) -> [u8; 16] {
    let mut name = [0u8; 16];
    name[..8].copy_from_slice(&words[0].to_le_bytes());
    name[8..].copy_from_slice(&words[1].to_le_bytes());
    name
}

/// `cap_give`'s `by` (`x3`): `target` is a Dispatcher capability's address.
pub const GIVE_BY_DISPATCHER_CAP: u64 = 0;
/// `cap_give`'s `by` (`x3`): `target` is a dispatcher index; needs the Kernel capability.
pub const GIVE_BY_INDEX: u64 = 1;

/// `vnode_unmap`'s flag: invalidate with the broadcast (Inner Shareable) TLB operation.
pub const UNMAP_BROADCAST_TLBI: u64 = 1;

/// `dispatcher_status`: the dispatcher may still run (runnable or waiting).
pub const STATUS_RUNNING: u64 = 0;
/// `dispatcher_status`: it exited; its code is in `x1`.
pub const STATUS_EXITED: u64 = 1;
/// `dispatcher_status`: the kernel stopped it after a fault; `ESR_EL1` in `x1`, `FAR_EL1` in
/// `x2`.
pub const STATUS_FAULTED: u64 = 2;
/// `dispatcher_status`: it had joined a program on another core and the image it mapped from
/// there was revoked.
pub const STATUS_IMAGE_REVOKED: u64 = 3;

/// `dispatcher_status`: another dispatcher holding its Dispatcher capability stopped it
/// ([`Call::DispatcherStop`]).
pub const STATUS_STOPPED: u64 = 4;

/// Where the caller's level-3 VNode (at [`SLOT_VNODE`]) maps: entry `n` is the page at
/// `USER_MAPPABLE_BASE + n * 4096`, a 2 MiB window of every dispatcher's address space
/// (`cpu_driver::layout::USER_MAPPABLE_BASE`).
pub const USER_MAPPABLE_BASE: u64 = 0x30_0000_0000;
/// Entries of a level-3 VNode: pages of its 2 MiB window; also the number of windows from
/// [`USER_MAPPABLE_BASE`] (window `w` at `USER_MAPPABLE_BASE + w * VNODE_WINDOW_BYTES`).
pub const VNODE_ENTRIES: u64 = 512;
/// Bytes of the window one level-3 VNode maps.
pub const VNODE_WINDOW_BYTES: u64 = 2 << 20;

/// Slot of the Kernel capability in a monitor's capability space (slot 0 of the CNode in
/// root slot 0). `power_off`, `grant`, `map_device_tree`, monitor channels and `cap_give` by
/// index look for it there: authority comes from holding it, not from loading first.
pub const SLOT_KERNEL: u32 = 0;
/// Slot of the first RAM capability the kernel (for a monitor) or the monitor (for a program
/// it equips) puts into a capability space; further ones follow in consecutive slots.
pub const SLOT_FIRST_RAM: u32 = 1;
/// Slot of the RAM capability a monitor gives each program it spawns for channels bound on
/// demand (`BIND`): the monitor retypes each channel's Frame from its own copy of it, so the
/// channel is made of the program's memory.
pub const SLOT_CHANNEL_RAM: u32 = SLOT_FIRST_RAM + 2;
/// Slot of the capability to the caller's own level-3 VNode, which the kernel installs in
/// every dispatcher's address space at [`USER_MAPPABLE_BASE`] (`vnode_map`, `vnode_unmap`).
/// A monitor's RAM capabilities stop before it.
pub const SLOT_VNODE: u32 = 15;
/// Slots in the level-2 CNode of every capability space (a 4 KiB CNode): leaf addresses
/// 0 to 63 are usable; slots from [`SLOT_FIRST_FREE`] on are the program's own.
pub const CNODE_SLOTS: u32 = 64;
/// The first slot the kernel and monitor never fill.
pub const SLOT_FIRST_FREE: u32 = 16;
/// Slot of the first boot-module capability in a monitor's capability space: the kernel puts
/// one per EL0 program of the boot image but the monitor (in the image's order) from
/// `SLOT_FIRST_MODULE` on, before [`SLOT_FIRST_CPU_DRIVER`] (eight at most), each a Frame capability with the read right
/// only over the ELF file's pages in the boot image (the image is not the core's RAM: it is
/// never retyped, only read by `spawn`). `module_info` names each.
pub const SLOT_FIRST_MODULE: u32 = 48;
/// Slot of the console UART's IRQ capability in the boot core's monitor's capability space
/// (when the device tree names the UART's interrupt), for the console driver it spawns.
pub const SLOT_CONSOLE_IRQ: u32 = 44;
/// Slot of the device Frame capability over the console UART's register page in the boot
/// core's monitor's capability space, next to [`SLOT_CONSOLE_IRQ`].
pub const SLOT_CONSOLE_DEVICE: u32 = 45;
/// Slot of a monitor's own Dispatcher capability (the kernel puts it there at boot): what it
/// makes Endpoints to itself from, one per program it spawns, each with that program's
/// dispatcher index as its badge.
pub const SLOT_SELF: u32 = 46;
/// Slot of a spawned program's Endpoint to its monitor (the monitor gives it right after
/// `spawn`; its badge is the program's dispatcher index, so the monitor knows who sent).
pub const SLOT_MONITOR: u32 = 47;
/// Slot of the first CPU-driver build's capability in a monitor's capability space: the build
/// of class `c` (0 little, 1 big), if the boot image has it, is at `SLOT_FIRST_CPU_DRIVER + c`,
/// a read-only Frame over its bytes in the boot image, which `core_boot` takes.
pub const SLOT_FIRST_CPU_DRIVER: u32 = 56;

/// The capability address of slot `level2` of the CNode in root slot `level1`.
pub const fn cap_addr(level1: u16, level2: u8) -> u32 {
    ((level1 as u32) << 8) | level2 as u32
}

impl Call {
    /// Decodes a call number.
    pub fn from_raw(raw: u64) -> Option<Call> {
        Some(match raw {
            0 => Call::Exit,
            1 => Call::Yield,
            2 => Call::ConsoleWrite,
            3 => Call::Info,
            4 => Call::Wait,
            5 => Call::Notify,
            6 => Call::MapChannel,
            7 => Call::Grant,
            8 => Call::SendLocal,
            9 => Call::RecvLocal,
            10 => Call::PowerOff,
            11 => Call::MapDeviceTree,
            12 => Call::MapFrame,
            13 => Call::CapIdentify,
            14 => Call::CapRetype,
            15 => Call::CapCopy,
            16 => Call::CapMint,
            17 => Call::CapDelete,
            18 => Call::CapRevoke,
            19 => Call::CapGive,
            20 => Call::VnodeMap,
            21 => Call::VnodeUnmap,
            22 => Call::VnodeInstall,
            23 => Call::Spawn,
            24 => Call::CoreBoot,
            25 => Call::DispatcherStatus,
            26 => Call::VnodeProtect,
            27 => Call::EndpointCreate,
            28 => Call::ModuleInfo,
            29 => Call::CapExport,
            30 => Call::CapReceive,
            31 => Call::CapSweep,
            32 => Call::CapRevokeAgreed,
            33 => Call::CapOwner,
            34 => Call::CapProtect,
            35 => Call::SpawnJoined,
            36 => Call::DispatcherImage,
            37 => Call::CoreOff,
            38 => Call::CoreReclaim,
            48 => Call::InjectFault,
            49 => Call::ConsoleTakeOver,
            39 => Call::IrqClaim,
            40 => Call::IrqAck,
            41 => Call::DispatcherStop,
            44 => Call::LineSend,
            45 => Call::LineSendLines,
            46 => Call::LineRecv,
            50 => Call::ConsoleInputLine,
            _ => return None,
        })
    }
}

/// What `info` can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Info {
    /// This core's index.
    CoreIndex = 0,
    /// Number of cores in the device tree.
    CoreCount = 1,
    /// The exception level the caller runs at (always 0).
    ExceptionLevel = 2,
    /// Generic timer ticks per second.
    CounterFrequency = 3,
    /// The CPU-driver build class of this core (0 little, 1 big).
    Build = 4,
    /// The boot core's index.
    BootCore = 5,
    /// 1 once the boot core's roll call is over (cores up or declared offline), else 0.
    RollCallDone = 6,
    /// Whether core `x1` is online (1) or not (0), as far as this core knows.
    CoreOnline = 7,
    /// This caller's dispatcher index on its core (the monitor is 0).
    DispatcherIndex = 8,
    /// Boot flags: bit 0 power off when done, bit 1 fault test, bit 2 benchmark run, bit 3
    /// capability self-test, bit 4 a failed run exits through semihosting, bit 5 the kernel
    /// stack overflow test, bit 6 the EL0 instruction test (`faulter`).
    Flags = 9,
    /// Bytes of the private region a core needs to run the CPU-driver build of class `x1`
    /// (0 little, 1 big): what `core_boot`'s `region` must hold at least.
    KernelRegionBytes = 10,
}

/// Which channel `map_channel` maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum ChannelKind {
    /// The channel between the two cores' monitors (monitors only).
    Monitor = 0,
    /// The application channel between the two cores, plus a page holding the pair's
    /// ping-pong cache line (only for a dispatcher its monitor granted it to).
    Application = 1,
}

impl ChannelKind {
    /// Decodes a kind.
    pub fn from_raw(raw: u64) -> Option<ChannelKind> {
        match raw {
            0 => Some(ChannelKind::Monitor),
            1 => Some(ChannelKind::Application),
            _ => None,
        }
    }
}

/// Boot flag bit: the page-fault test (`fault-test` on the kernel command line).
pub const FLAG_FAULT_TEST: u64 = 1 << 1;
/// Boot flag bit: the benchmark run (`bench` on the kernel command line).
pub const FLAG_BENCH: u64 = 1 << 2;
/// Boot flag bit: the capability self-test (`selftest` on the kernel command line).
pub const FLAG_SELFTEST: u64 = 1 << 3;
/// Boot flag bit: the EL0 instruction test (`el0-instructions-test` on the kernel command
/// line, which also sets [`FLAG_FAULT_TEST`] so the `faulter` runs on core 1, in this role).
pub const FLAG_EL0_INSTRUCTIONS_TEST: u64 = 1 << 6;

impl Info {
    /// Decodes an `info` selector.
    pub fn from_raw(raw: u64) -> Option<Info> {
        Some(match raw {
            0 => Info::CoreIndex,
            1 => Info::CoreCount,
            2 => Info::ExceptionLevel,
            3 => Info::CounterFrequency,
            4 => Info::Build,
            5 => Info::BootCore,
            6 => Info::RollCallDone,
            7 => Info::CoreOnline,
            8 => Info::DispatcherIndex,
            9 => Info::Flags,
            10 => Info::KernelRegionBytes,
            _ => return None,
        })
    }
}

/// Why a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Unknown call or selector.
    NoSuchCall,
    /// A pointer argument names memory the caller does not own.
    BadAddress,
    /// An argument is out of range.
    InvalidArgument,
    /// Nothing to take now, or no room now: try again later.
    WouldBlock,
    /// The caller may not do this.
    Denied,
    /// A capability call was refused: the capability system's reason, `caps::CapError::code`
    /// (1 and up: 1 InvalidAddress, 2 IndexOutOfRange, 3 NotACNode, 4 EmptySlot,
    /// 5 SlotOccupied, 6 Stale, 7 WrongType, 8 InvalidRetype, 9 InvalidSize, 10 Misaligned,
    /// 11 OutOfBounds, 12 AlreadyRetyped, 13 Overlap, 14 RightsExceeded, 15 Denied,
    /// 16 InvalidArgument, 17 OutOfCapabilities: the core holds as many capabilities as its
    /// kernel heap allows; delete some; 18 NotOwner: another core owns the object, only it
    /// retypes or revokes; 19 Lent: copies were sent to other cores, revoke by agreement). Returned as `-(CAP_ERROR_BASE + code)`.
    Capability(u8),
}

/// Capability errors are returned as `-(CAP_ERROR_BASE + code)`, apart from the others.
pub const CAP_ERROR_BASE: i64 = 16;
/// Highest capability error code the ABI carries.
const CAP_ERROR_MAX: i64 = 63;

impl Error {
    /// The error's number (positive; `x0` holds it negated).
    pub fn number(self) -> i64 {
        match self {
            Error::NoSuchCall => 1,
            Error::BadAddress => 2,
            Error::InvalidArgument => 3,
            Error::WouldBlock => 4,
            Error::Denied => 5,
            Error::Capability(code) => CAP_ERROR_BASE + i64::from(code),
        }
    }

    /// The value returned in `x0`.
    pub fn to_return(self) -> u64 {
        (-self.number()) as u64
    }

    /// Decodes a returned `x0`: `Ok(value)` or the error.
    pub fn check(ret: u64) -> Result<u64, Error> {
        match ret as i64 {
            r if r >= 0 => Ok(ret),
            -1 => Err(Error::NoSuchCall),
            -2 => Err(Error::BadAddress),
            -4 => Err(Error::WouldBlock),
            -5 => Err(Error::Denied),
            r if (-CAP_ERROR_MAX..-CAP_ERROR_BASE).contains(&r) => {
                Err(Error::Capability((-r - CAP_ERROR_BASE) as u8))
            }
            _ => Err(Error::InvalidArgument),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for raw in (0..42).chain(44..47).chain(48..50) {
            let call = Call::from_raw(raw).unwrap();
            assert_eq!(call as u64, raw);
        }
        for call in [Call::Exit, Call::Yield, Call::ConsoleWrite, Call::Info, Call::Wait, Call::Notify] {
            assert_eq!(Call::from_raw(call as u64), Some(call));
        }
        assert_eq!(Call::from_raw(99), None);
        for raw in 0..11 {
            assert_eq!(Info::from_raw(raw).map(|i| i as u64), Some(raw));
        }
        for error in [
            Error::NoSuchCall,
            Error::BadAddress,
            Error::InvalidArgument,
            Error::WouldBlock,
            Error::Denied,
            Error::Capability(1),
            Error::Capability(14),
            Error::Capability(16),
            Error::Capability(17),
        ] {
            assert_eq!(Error::check(error.to_return()), Err(error));
        }
        assert_eq!(Error::check(5), Ok(5));
        assert_eq!(undescribe(describe(2, 0b1011, 5)), Some((2, 0b1011, 5)));
        assert_eq!(undescribe(describe(11, 0xff, 0xffff_ffff)), Some((11, 0xff, 0xffff_ffff)));
        assert_eq!(undescribe(1 << 48), None);
        assert_eq!(cap_addr(0, 5), 5);
        assert_eq!(cap_addr(3, 7), 0x307);
    }
}
