//! The runtime every EL0 program links: its entry point, the system calls, console output
//! and a panic handler that exits. Programs are plain `no_std` binaries linked at
//! `linker/user.ld`'s address; the CPU driver loads their ELF into a fresh address space.
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub use syscall_abi::{
    cap_addr, describe, undescribe, Call, ChannelKind, Error, Info, CNODE_SLOTS, FAULT_KERNEL_PANIC,
    FAULT_PARK_MASKED, FLAG_BENCH, FLAG_EL0_INSTRUCTIONS_TEST, FLAG_FAULT_TEST, FLAG_SELFTEST,
    SLOT_CHANNEL_RAM, SLOT_CONSOLE_DEVICE, SLOT_CONSOLE_IRQ, SLOT_FIRST_CPU_DRIVER, SLOT_FIRST_FREE,
    SLOT_FIRST_MODULE, SLOT_FIRST_RAM, SLOT_KERNEL, SLOT_MONITOR, SLOT_SELF, SLOT_VNODE, STATUS_EXITED,
    STATUS_FAULTED, STATUS_IMAGE_REVOKED, STATUS_RUNNING, STATUS_STOPPED, USER_MAPPABLE_BASE, VNODE_ENTRIES,
    VNODE_WINDOW_BYTES,
};

use core::sync::atomic::{AtomicU64, Ordering};

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod arch;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use arch::{
    bound_channel_frame, channel_frame, counter, init_heap, pingpong_line, read_kernel_memory, syscall,
    syscall6, HeapSpace,
};
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
use arch::{device_read32, device_write32};
/// Returns once `word` may no longer hold `seen`: EL0's line watch, URPC's AArch64 line watch
/// (`urpc-line-watch`, shared with the CPU driver: `SEVL; WFE` clears the Event Register an
/// exception return set, then `LDXR` and `WFE`; the kernel sets `SCTLR_EL1.nTWE`, so `WFE` does
/// not trap). Off AArch64 (host builds) it is a spin-loop hint, a return its callers handle.
pub use urpc_line_watch::wait_for_store;

/// Bytes of a program's heap unless its `entry!` says otherwise.
pub const DEFAULT_HEAP_BYTES: usize = 1 << 20;

/// The word the program was started with (`x0` at entry; `spawn`'s `arg`, 0 for the monitor).
static ARGUMENT: AtomicU64 = AtomicU64::new(0);

/// Records the word the program was started with (called once by the code `entry!` makes).
pub fn set_argument(arg: u64) {
    ARGUMENT.store(arg, Ordering::Relaxed);
}

/// The word the program was started with: its parent's `arg` to `spawn` (0 for the monitor).
pub fn argument() -> u64 {
    ARGUMENT.load(Ordering::Relaxed)
}

/// Stand-ins on the host, where there is no kernel and no shared memory: programs compile
/// there (for clippy and unit tests of their logic) but do not run.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
mod host {
    /// No counter on the host stand-in.
    pub fn counter() -> u64 {
        0
    }

    /// No kernel to fault into on the host.
    pub fn read_kernel_memory() -> u64 {
        0
    }

    /// A private, empty channel frame in place of a mapped one.
    pub fn channel_frame(_va: u64) -> &'static urpc::ChannelFrame {
        Box::leak(Box::new(urpc::ChannelFrame::new()))
    }

    /// A private, empty channel frame in place of a bound one.
    pub fn bound_channel_frame(_va: u64) -> &'static urpc::ChannelFrame {
        channel_frame(_va)
    }

    /// A private word in place of a mapped ping-pong line.
    pub fn pingpong_line(_va: u64) -> &'static core::sync::atomic::AtomicU64 {
        Box::leak(Box::new(core::sync::atomic::AtomicU64::new(0)))
    }

    /// No device is ever mapped on the host (`vnode_map` fails there): reads see 0.
    pub(crate) fn device_read32(_va: u64) -> u32 {
        0
    }

    /// No device is ever mapped on the host: writes go nowhere.
    pub(crate) fn device_write32(_va: u64, _value: u32) {}
}
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub use host::{bound_channel_frame, channel_frame, counter, pingpong_line, read_kernel_memory};
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
use host::{device_read32, device_write32};

/// Stand-in on the host, where there is no kernel to call: every call fails.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub fn syscall(_call: Call, _args: [u64; 4]) -> u64 {
    Error::NoSuchCall.to_return()
}

/// Stand-in on the host, where there is no kernel to call: every call fails.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub fn syscall6(_call: Call, _args: [u64; 6]) -> (u64, [u64; 3]) {
    (Error::NoSuchCall.to_return(), [0; 3])
}

pub mod bind;
pub mod console;
pub mod device;
pub mod events;
pub mod kernel_line;
pub mod stats;
pub mod waitset;

/// What `cap_identify` tells about a capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapInfo {
    /// Type number (`caps::CapType` order: 0 RAM, 2 Frame, 3 CNode, 11 Kernel, ...).
    pub kind: u64,
    /// Base of its object (a physical address for memory).
    pub base: u64,
    /// Size of its object in bytes.
    pub size: u64,
    /// Rights bits: 1 read, 2 write, 4 execute, 8 grant.
    pub rights: u64,
}

/// Capability type numbers the programs here use (`caps::CapType` order).
pub mod cap_type {
    /// Untyped memory.
    pub const RAM: u64 = 0;
    /// Memory to map.
    pub const FRAME: u64 = 2;
    /// A CNode (capability slots).
    pub const CNODE: u64 = 3;
    /// A level-3 translation table (`vnode_map`).
    pub const VNODE_L3: u64 = 7;
    /// A dispatcher's control block (`spawn` gives the parent one for its child).
    pub const DISPATCHER: u64 = 8;
    /// The monitor's authority.
    pub const KERNEL: u64 = 11;
}

/// Type, object and rights of the capability at `addr` of this program's capability space.
pub fn cap_identify(addr: u32) -> Result<CapInfo, Error> {
    let (ret, words) = syscall6(Call::CapIdentify, [u64::from(addr), 0, 0, 0, 0, 0]);
    Error::check(ret).map(|kind| CapInfo { kind, base: words[0], size: words[1], rights: words[2] })
}

/// What a boot-module capability holds (`module_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Bytes of RAM `spawn` needs to build it.
    pub ram_bytes: u64,
    name: [u8; 16],
}

impl ModuleInfo {
    /// The program's name.
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(self.name.len());
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }
}

/// The name of the boot module whose Frame capability is at `module`, and the RAM `spawn`
/// needs for it.
pub fn module_info(module: u32) -> Result<ModuleInfo, Error> {
    let (ret, words) = syscall6(Call::ModuleInfo, [u64::from(module), 0, 0, 0, 0, 0]);
    Error::check(ret)
        .map(|ram_bytes| ModuleInfo { ram_bytes, name: syscall_abi::module_name(&[words[0], words[1]]) })
}

/// Finds the boot module called `name` among the module capabilities from
/// [`SLOT_FIRST_MODULE`] on; returns its slot and what it holds.
pub fn find_module(name: &str) -> Option<(u32, ModuleInfo)> {
    (SLOT_FIRST_MODULE..SLOT_FIRST_CPU_DRIVER)
        .filter_map(|slot| module_info(slot).ok().map(|info| (slot, info)))
        .find(|(_, info)| info.name() == name)
}

/// Retypes `count` objects of type `kind`, `object_size` bytes each, from `offset` into the
/// memory capability at `src`, into consecutive empty slots from `dest`.
pub fn cap_retype(
    src: u32,
    kind: u64,
    offset: u64,
    object_size: u64,
    count: u64,
    dest: u32,
) -> Result<(), Error> {
    let args = [u64::from(src), kind, offset, object_size, count, u64::from(dest)];
    Error::check(syscall6(Call::CapRetype, args).0).map(|_| ())
}

/// Copies the capability at `src` into the empty slot `dest`.
pub fn cap_copy(src: u32, dest: u32) -> Result<(), Error> {
    Error::check(syscall(Call::CapCopy, [u64::from(src), u64::from(dest), 0, 0])).map(|_| ())
}

/// Copies the capability at `src` into the empty slot `dest` with `rights` (a subset).
pub fn cap_mint(src: u32, dest: u32, rights: u64) -> Result<(), Error> {
    Error::check(syscall(Call::CapMint, [u64::from(src), u64::from(dest), rights, 0])).map(|_| ())
}

/// Deletes the capability at `addr`.
pub fn cap_delete(addr: u32) -> Result<(), Error> {
    Error::check(syscall(Call::CapDelete, [u64::from(addr), 0, 0, 0])).map(|_| ())
}

/// Removes every copy and descendant of the capability at `addr`.
pub fn cap_revoke(addr: u32) -> Result<(), Error> {
    Error::check(syscall(Call::CapRevoke, [u64::from(addr), 0, 0, 0])).map(|_| ())
}

/// A capability as `cap_export` described it for another core (`syscall_abi::describe`'s
/// word: type, rights, owning core; and its object).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Described {
    /// Type, rights and owning core, packed.
    pub word: u64,
    /// Base of its object.
    pub base: u64,
    /// Size of its object.
    pub size: u64,
}

/// (Monitor) describes the memory capability at `addr` for another core; on its owner the
/// object becomes lent.
pub fn cap_export(addr: u32) -> Result<Described, Error> {
    let (ret, words) = syscall6(Call::CapExport, [u64::from(addr), 0, 0, 0, 0, 0]);
    Error::check(ret).map(|word| Described { word, base: words[0], size: words[1] })
}

/// (Monitor) puts another core's described capability into the empty slot `dest`.
pub fn cap_receive(dest: u32, described: Described) -> Result<(), Error> {
    let args = [u64::from(dest), described.word, described.base, described.size];
    Error::check(syscall(Call::CapReceive, args)).map(|_| ())
}

/// (Monitor) removes this core's foreign copies of the described object and of everything
/// inside it; returns how many went.
pub fn cap_sweep(described: Described) -> Result<u64, Error> {
    Error::check(syscall(Call::CapSweep, [described.word, described.base, described.size, 0]))
}

/// (Monitor, owner) revokes the lent capability at `addr` once every other core swept.
pub fn cap_revoke_agreed(addr: u32) -> Result<(), Error> {
    Error::check(syscall(Call::CapRevokeAgreed, [u64::from(addr), 0, 0, 0])).map(|_| ())
}

/// (Monitor) reduces to `rights` this core's copies of the described object (foreign copies of
/// its owner, or this core's own when it is the owner) and their mappings; returns how many
/// changed.
pub fn cap_protect(described: Described, rights: u64) -> Result<u64, Error> {
    Error::check(syscall(Call::CapProtect, [described.word, described.base, described.size, rights]))
}

/// The index of the core owning the object of the capability at `addr`.
pub fn cap_owner(addr: u32) -> Result<u64, Error> {
    Error::check(syscall(Call::CapOwner, [u64::from(addr), 0, 0, 0]))
}

/// Copies the capability at `src` (same rights) into the empty slot `dest` of the capability
/// space of the dispatcher whose Dispatcher capability (write right) is at `dispatcher`, as a
/// parent equips the child it spawned.
pub fn cap_give(dispatcher: u32, src: u32, dest: u32) -> Result<(), Error> {
    let args = [u64::from(dispatcher), u64::from(src), u64::from(dest), syscall_abi::GIVE_BY_DISPATCHER_CAP];
    Error::check(syscall(Call::CapGive, args)).map(|_| ())
}

/// (Holder of the Kernel capability) copies the capability at `src` into the empty slot `dest`
/// of dispatcher `index`'s capability space on this core.
pub fn cap_give_by_index(index: u64, src: u32, dest: u32) -> Result<(), Error> {
    let args = [index, u64::from(src), u64::from(dest), syscall_abi::GIVE_BY_INDEX];
    Error::check(syscall(Call::CapGive, args)).map(|_| ())
}

/// How a dispatcher stands, as `dispatcher_status` tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DispatcherStatus {
    /// It may still run.
    Running,
    /// It exited with this code.
    Exited(u64),
    /// The kernel stopped it after a fault: `ESR_EL1` and `FAR_EL1`.
    Faulted {
        /// The exception syndrome.
        esr: u64,
        /// The faulting address.
        far: u64,
    },
    /// It had joined a program on another core and that image was revoked.
    ImageRevoked,
    /// A holder of its Dispatcher capability stopped it ([`dispatcher_stop`]).
    Stopped,
}

/// How the dispatcher whose Dispatcher capability (read right) is at `dispatcher` stands.
pub fn dispatcher_status(dispatcher: u32) -> Result<DispatcherStatus, Error> {
    let (ret, words) = syscall6(Call::DispatcherStatus, [u64::from(dispatcher), 0, 0, 0, 0, 0]);
    match Error::check(ret)? {
        STATUS_RUNNING => Ok(DispatcherStatus::Running),
        STATUS_EXITED => Ok(DispatcherStatus::Exited(words[0])),
        STATUS_FAULTED => Ok(DispatcherStatus::Faulted { esr: words[0], far: words[1] }),
        STATUS_IMAGE_REVOKED => Ok(DispatcherStatus::ImageRevoked),
        STATUS_STOPPED => Ok(DispatcherStatus::Stopped),
        _ => Err(Error::InvalidArgument),
    }
}

/// Maps the (first page of the) Frame capability at `frame` into entry `entry` of the level-3
/// VNode capability at `vnode` (this program's own, at [`SLOT_VNODE`]) with `rights` (read 1,
/// write 2, execute 4); returns the page's address, `USER_MAPPABLE_BASE + entry * 4096`.
pub fn vnode_map(vnode: u32, entry: u64, frame: u32, rights: u64) -> Result<u64, Error> {
    vnode_map_pages(vnode, entry, frame, rights, 1)
}

/// Maps the first `pages` pages of the Frame capability at `frame` into `pages` consecutive
/// entries from `entry` of the level-3 VNode capability at `vnode`, as one mapping (unmapped,
/// protected and removed as a whole); returns the first page's address.
pub fn vnode_map_pages(vnode: u32, entry: u64, frame: u32, rights: u64, pages: u64) -> Result<u64, Error> {
    let (ret, _) = syscall6(Call::VnodeMap, [u64::from(vnode), entry, u64::from(frame), rights, pages, 0]);
    Error::check(ret)
}

/// Changes the rights of the page mapped at entry `entry` of the level-3 VNode capability at
/// `vnode` to `rights`, on the authority of the Frame capability at `frame` mapped there.
pub fn vnode_protect(vnode: u32, entry: u64, frame: u32, rights: u64) -> Result<(), Error> {
    Error::check(syscall(Call::VnodeProtect, [u64::from(vnode), entry, u64::from(frame), rights])).map(|_| ())
}

/// Installs the level-3 VNode capability at `vnode` (retyped from this program's RAM) in
/// window `window` (1 to 511) of this program's address space; returns the window's address.
pub fn vnode_install(vnode: u32, window: u64) -> Result<u64, Error> {
    Error::check(syscall(Call::VnodeInstall, [u64::from(vnode), window, 0, 0]))
}

/// Spawns a dispatcher on this core from the boot-module capability at `module`, built out of
/// the RAM capability at `ram`, started with `arg` in `x0` ([`argument`]); its Dispatcher
/// capability goes into the empty slot `dest`. Returns its dispatcher index.
pub fn spawn(module: u32, ram: u32, dest: u32, arg: u64) -> Result<u64, Error> {
    Error::check(syscall(Call::Spawn, [u64::from(module), u64::from(ram), u64::from(dest), arg]))
}

/// Spawns a dispatcher that joins the program already running on another core whose image
/// Frame capability is at `image` (see `Call::SpawnJoined`); returns its index.
pub fn spawn_joined(module: u32, ram: u32, dest: u32, image: u32, arg: u64) -> Result<u64, Error> {
    let args = [u64::from(module), u64::from(ram), u64::from(dest), u64::from(image), arg, 0];
    Error::check(syscall6(Call::SpawnJoined, args).0)
}

/// Copies a Frame capability to the image of the dispatcher whose Dispatcher capability is at
/// `dispatcher` into `dest` (see `Call::DispatcherImage`).
pub fn dispatcher_image(dispatcher: u32, dest: u32) -> Result<(), Error> {
    Error::check(syscall(Call::DispatcherImage, [u64::from(dispatcher), u64::from(dest), 0, 0])).map(|_| ())
}

/// (Holder of the Kernel capability, on the boot core) starts core `core` with the CPU-driver
/// build whose capability is at `build`, in the private region the RAM capability at `region`
/// names, giving its monitor the RAM capability at `share` (see `Call::CoreBoot`).
pub fn core_boot(core: u64, build: u32, region: u32, share: u32) -> Result<(), Error> {
    let args = [core, u64::from(build), u64::from(region), u64::from(share)];
    Error::check(syscall(Call::CoreBoot, args)).map(|_| ())
}

/// (Holder of the Kernel capability, not on the boot core) powers this core off (see
/// `Call::CoreOff`); returns only if refused.
pub fn core_off() -> Error {
    Error::check(syscall(Call::CoreOff, [0; 4])).err().unwrap_or(Error::NoSuchCall)
}

/// (Holder of the Kernel capability, on the boot core) takes back what core `core` held once
/// it is off, so that it may be started again (see `Call::CoreReclaim`); `WouldBlock` while it
/// is not off yet.
pub fn core_reclaim(core: u64) -> Result<(), Error> {
    Error::check(syscall(Call::CoreReclaim, [core, 0, 0, 0])).map(|_| ())
}

/// Clears entry `entry` of the level-3 VNode capability at `vnode` (this core's TLB
/// invalidated).
pub fn vnode_unmap(vnode: u32, entry: u64) -> Result<(), Error> {
    Error::check(syscall(Call::VnodeUnmap, [u64::from(vnode), entry, 0, 0])).map(|_| ())
}

/// As [`vnode_unmap`], invalidating every core's TLB (`tlbi vale1is`), as a kernel sharing one
/// page table across cores must: the unmap experiment's baseline.
pub fn vnode_unmap_broadcast(vnode: u32, entry: u64) -> Result<(), Error> {
    let args = [u64::from(vnode), entry, syscall_abi::UNMAP_BROADCAST_TLBI, 0];
    Error::check(syscall(Call::VnodeUnmap, args)).map(|_| ())
}

/// Ends this program.
pub fn exit(code: u64) -> ! {
    syscall(Call::Exit, [code, 0, 0, 0]);
    // The kernel never returns from exit; if it did, stay out of the way.
    loop {
        syscall(Call::Yield, [0; 4]);
    }
}

/// Lets another dispatcher on this core run.
pub fn yield_now() {
    syscall(Call::Yield, [0; 4]);
}

/// Asks the kernel for a fact.
pub fn info(what: Info) -> Result<u64, Error> {
    info_of(what, 0)
}

/// Asks the kernel for a fact about `arg` (a core, for [`Info::CoreOnline`]).
pub fn info_of(what: Info, arg: u64) -> Result<u64, Error> {
    Error::check(syscall(Call::Info, [what as u64, arg, 0, 0]))
}

/// Maps the channel of `kind` shared with core `peer`; returns its address.
pub fn map_channel(peer: u64, kind: ChannelKind) -> Result<u64, Error> {
    Error::check(syscall(Call::MapChannel, [peer, kind as u64, 0, 0]))
}

/// Gives this program a fresh zeroed frame of its core's memory at the page-aligned `va`.
pub fn map_frame(va: u64) -> Result<u64, Error> {
    Error::check(syscall(Call::MapFrame, [va, 0, 0, 0]))
}

/// (Monitor only) lets dispatcher `dispatcher` of this core map the application channel to
/// core `peer`.
pub fn grant(peer: u64, dispatcher: u64) -> Result<(), Error> {
    Error::check(syscall(Call::Grant, [peer, dispatcher, 0, 0])).map(|_| ())
}

/// Queues three words for the dispatcher the Endpoint capability at `endpoint` names and
/// wakes it.
pub fn send_local(endpoint: u32, words: [u64; 3]) -> Result<(), Error> {
    Error::check(syscall(Call::SendLocal, [u64::from(endpoint), words[0], words[1], words[2]])).map(|_| ())
}

/// Sends three words to this program's monitor through its Endpoint at [`SLOT_MONITOR`]. The
/// monitor gives that Endpoint right after `spawn`, so a program that runs first waits for it
/// (yielding, at most about a thousand times).
pub fn send_to_monitor(words: [u64; 3]) -> Result<(), Error> {
    let mut result = send_local(SLOT_MONITOR, words);
    for _ in 0..1000 {
        match result {
            Err(Error::Capability(EMPTY_SLOT)) => {
                yield_now();
                result = send_local(SLOT_MONITOR, words);
            }
            _ => break,
        }
    }
    result
}

/// `caps::CapError::EmptySlot`'s code.
const EMPTY_SLOT: u8 = 4;

/// Makes an Endpoint to the dispatcher whose Dispatcher capability is at `dispatcher`, with
/// `badge`, in the empty slot `dest`.
pub fn endpoint_create(dispatcher: u32, badge: u64, dest: u32) -> Result<(), Error> {
    Error::check(syscall(Call::EndpointCreate, [u64::from(dispatcher), badge, u64::from(dest), 0]))
        .map(|_| ())
}

/// Takes the oldest same-core message: (the badge of the Endpoint it came through, words).
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn recv_local() -> Result<(u64, [u64; 3]), Error> {
    let (ret, words) = arch::syscall_with_words(Call::RecvLocal);
    Error::check(ret).map(|sender| (sender, words))
}

/// Host stand-in: there is never a message.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub fn recv_local() -> Result<(u64, [u64; 3]), Error> {
    Err(Error::WouldBlock)
}

/// (Boot core's monitor, holding the Kernel capability) ends the run; returns only if the
/// machine cannot power off or the caller may not.
pub fn power_off() -> Error {
    Error::check(syscall(Call::PowerOff, [0; 4])).err().unwrap_or(Error::NoSuchCall)
}

/// As [`power_off`], but says the run failed: the kernel ends it with semihosting's `SYS_EXIT`
/// status 1 where the boot allows (QEMU exits 1), else resets the machine (PSCI
/// `SYSTEM_RESET`; QEMU with `-no-reboot` exits 0).
pub fn power_off_failed() -> Error {
    Error::check(syscall(Call::PowerOff, [1, 0, 0, 0])).err().unwrap_or(Error::NoSuchCall)
}

/// (Holder of the Kernel capability; the fault harness) makes this core fail on purpose:
/// [`FAULT_KERNEL_PANIC`] or [`FAULT_PARK_MASKED`]. Returns only the refusal.
pub fn inject_fault(kind: u64) -> Error {
    Error::check(syscall(Call::InjectFault, [kind, 0, 0, 0])).err().unwrap_or(Error::NoSuchCall)
}

/// (Holder of the Kernel capability) makes this core's kernel the console's owner because the
/// owner failed; `failed` is that core (see `Call::ConsoleTakeOver`).
pub fn console_take_over(failed: u64) -> Result<(), Error> {
    Error::check(syscall(Call::ConsoleTakeOver, [failed, 0, 0, 0])).map(|_| ())
}

/// (Monitor only) maps the device tree read-only; returns the bytes.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn device_tree() -> Result<&'static [u8], Error> {
    let va = Error::check(syscall(Call::MapDeviceTree, [0; 4]))?;
    Ok(arch::device_tree_at(va))
}

/// Host stand-in: no device tree.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub fn device_tree() -> Result<&'static [u8], Error> {
    Err(Error::NoSuchCall)
}

/// What a program without a `joined` entry (see [`entry!`]) exits with when it is joined.
pub const EXIT_CANNOT_JOIN: u64 = 0xdead_0001;

/// The `joined` entry of a program that declares none.
pub fn cannot_join(_arg: u64) -> u64 {
    EXIT_CANNOT_JOIN
}

/// Sleeps until woken or `timeout_ticks` pass (0: no timeout). True if woken.
pub fn wait(timeout_ticks: u64) -> bool {
    Error::check(syscall(Call::Wait, [timeout_ticks, 0, 0, 0])) == Ok(1)
}

/// The kernel and line watch a [`waitset::Waitset`] of an EL0 program uses: the counter,
/// [`wait`] to sleep, and [`wait_for_store`] (an exclusive load and `WFE`, which
/// `SCTLR_EL1.nTWE` lets EL0 run) to watch a line.
#[derive(Clone, Copy, Debug, Default)]
pub struct ElZero;

impl waitset::Kernel for ElZero {
    fn now(&self) -> u64 {
        counter()
    }

    fn sleep_until(&self, deadline: Option<u64>) -> bool {
        match deadline {
            None => wait(0),
            Some(deadline) => {
                let now = counter();
                // `wait(0)` would mean no limit: a deadline already passed sleeps not at all.
                now < deadline && wait(deadline - now)
            }
        }
    }
}

impl urpc::WatchLine for ElZero {
    fn wait_for_store(&self, word: &AtomicU64, seen: u64) {
        wait_for_store(word, seen);
    }
}

/// A waitset of an EL0 program (see [`waitset`]).
pub type Waitset = waitset::Waitset<ElZero, ElZero>;

/// Shows `text` as the line being typed at the console, the cursor `cursor` bytes in; with
/// `enter` the line is done (it stays, a new line follows). See `Call::ConsoleInputLine`:
/// `Denied` off the core that owns the console.
pub fn console_input_line(text: &str, cursor: usize, enter: bool) -> Result<(), Error> {
    let args = [text.as_ptr() as u64, text.len() as u64, cursor as u64, u64::from(enter)];
    Error::check(syscall(Call::ConsoleInputLine, args)).map(|_| ())
}

/// Read and write, as `vnode_map` takes rights.
const READ_WRITE: u64 = 3;

impl bind::MonitorLink for ElZero {
    fn tell_monitor(&mut self, words: [u64; 3]) -> Result<(), Error> {
        send_to_monitor(words)
    }

    fn recv_local(&mut self) -> Option<(u64, [u64; 3])> {
        recv_local().ok()
    }

    fn map_channel_frame(&mut self, slot: u32, entry: u64) -> Result<&'static urpc::ChannelFrame, Error> {
        vnode_map(SLOT_VNODE, entry, slot, READ_WRITE).map(bound_channel_frame)
    }

    fn wake(core: u32) {
        // A core that went offline meanwhile has nobody to wake: nothing to do about it here.
        let _ = notify(u64::from(core));
    }

    fn core(&self) -> u32 {
        info(Info::CoreIndex).map_or(u32::MAX, |core| core as u32)
    }

    fn clear_slot(&mut self, slot: u32) {
        // An empty slot is the usual case: nothing to delete.
        let _ = cap_delete(slot);
    }

    fn line_calls(&self) -> &'static dyn kernel_line::LineCalls {
        &ElZero
    }
}

/// The event loop of an EL0 program (see [`events`]): its waitset, bindings by name and
/// same-core messages.
pub type EventLoop = events::EventLoop<ElZero, ElZero, ElZero>;

/// An event loop waiting as `policy` says, its bound channels in [`bind::BindSpace::DEFAULT`].
pub fn event_loop(policy: urpc::WaitPolicy) -> EventLoop {
    EventLoop::new(ElZero, ElZero, policy, ElZero, bind::BindSpace::DEFAULT)
}

/// Becomes the handler of the interrupt the IRQ capability at `irq` names (see
/// `Call::IrqClaim`): it is routed to this core, and each time it fires this program's `wait`
/// returns and the interrupt stays masked until [`irq_ack`].
pub fn irq_claim(irq: u32) -> Result<(), Error> {
    Error::check(syscall(Call::IrqClaim, [u64::from(irq), 0, 0, 0])).map(|_| ())
}

/// Done serving the interrupt at `irq`: true if it fired since the last acknowledgement; it is
/// unmasked again.
pub fn irq_ack(irq: u32) -> Result<bool, Error> {
    Error::check(syscall(Call::IrqAck, [u64::from(irq), 0, 0, 0])).map(|fired| fired == 1)
}

/// Ends the dispatcher whose Dispatcher capability (write right) is at `dispatcher` (see
/// `Call::DispatcherStop`).
pub fn dispatcher_stop(dispatcher: u32) -> Result<(), Error> {
    Error::check(syscall(Call::DispatcherStop, [u64::from(dispatcher), 0, 0, 0])).map(|_| ())
}

/// Sends the wake SGI to `core`: every dispatcher waiting there (its monitor among them) runs
/// again.
pub fn notify(core: u64) -> Result<(), Error> {
    Error::check(syscall(Call::Notify, [core, 0, 0, 0])).map(|_| ())
}

/// Declares the program's entry function (`fn() -> u64`): the runtime records the word the
/// program was started with ([`argument`]), gives the allocator a heap in the program's bss
/// ([`DEFAULT_HEAP_BYTES`], or `heap = BYTES`), calls it and exits with its result.
///
/// A dispatcher that joins the program on another core (`spawn_joined`: the same image, so
/// the same statics and heap, already initialised) calls `joined = PATH` instead
/// (`fn(u64) -> u64`, given the word it was started with, which [`argument`] does not hold
/// for it: that static is the first dispatcher's); without one it exits at once with
/// [`EXIT_CANNOT_JOIN`].
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        $crate::entry!($main, heap = $crate::DEFAULT_HEAP_BYTES);
    };
    ($main:path, heap = $bytes:expr) => {
        $crate::entry!($main, heap = $bytes, joined = $crate::cannot_join);
    };
    ($main:path, heap = $bytes:expr, joined = $joined:path) => {
        #[cfg(all(target_arch = "aarch64", target_os = "none"))]
        #[no_mangle]
        extern "C" fn __user_main(arg: u64, joined: u64) -> ! {
            static HEAP_SPACE: $crate::HeapSpace<{ $bytes }> = $crate::HeapSpace::new();
            if joined != 0 {
                // A dispatcher joining the program on another core: the image, its statics and
                // its heap are the first dispatcher's, initialised already.
                let joined: fn(u64) -> u64 = $joined;
                $crate::exit(joined(arg))
            }
            $crate::set_argument(arg);
            $crate::init_heap(&HEAP_SPACE);
            let code: u64 = $main();
            $crate::exit(code)
        }
        #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
        fn main() {
            let _ = $main;
            let _: fn(u64) -> u64 = $joined;
            eprintln!("this program runs at EL0 on the multikernel only");
        }
    };
}
