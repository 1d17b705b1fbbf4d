//! The system calls: decoding a call from a dispatcher's registers and running its handler on
//! this core's scheduler and dispatchers. The calls themselves are listed in
//! `userland/abi/README.md`; every argument from EL0 is checked here before use, and every
//! capability through `caps`' lookup (a forged or stale address is an error code, never a
//! fault). Authority to act as a monitor is the Kernel capability at `SLOT_KERNEL` of the
//! caller's capability space, not the order it loaded in. Uses [`crate::scheduler`],
//! [`crate::dispatchers`], [`crate::memory`], [`crate::capabilities`] (zeroing retyped memory),
//! [`crate::mappings`] (`vnode_map`, `vnode_unmap`, unmapping what delete and revoke remove),
//! [`crate::channels`] (wake targets), [`crate::roll_call`] (whether it is over),
//! [`crate::core_boot`] and [`crate::boot_image`] (starting another core),
//! [`crate::interrupts`], [`crate::irqs`] (device interrupts for drivers at EL0), [`crate::lines`]
//! (the same-core line transport), [`crate::power`] and [`crate::console`].

extern crate alloc;

use alloc::string::String;

use caps::{CSpace, CapAddr, CapError, CapType, Owner, Retype, Rights};

use cpu_driver::arch::aarch64::cpu;
use cpu_driver::arch::aarch64::exception::TrapFrame;
use cpu_driver::arch::aarch64::user::{user_range_readable, user_readable};
use cpu_driver::boot_record::BootRecord;
use cpu_driver::frames::Frames;
use cpu_driver::kernel_region::{self, StartRefusal};
use cpu_driver::layout::{PAGE_SIZE, USER_DTB_BASE, USER_FRAMES_BASE, USER_LIMIT, USER_MIN};
use cpu_driver::paging::{page_descriptor, Attributes, PhysRange};
use cpu_driver::shared_region::{SharedLayout, APP_REGION_BYTES, CHANNEL_BYTES};
use cpu_driver::syscall_decode::{self, Access, Described, GiveTarget, MappingRights, Request};
use syscall_abi::{
    ChannelKind, Error, Info, SLOT_KERNEL, STATUS_EXITED, STATUS_FAULTED, STATUS_IMAGE_REVOKED,
    STATUS_RUNNING, STATUS_STOPPED,
};

use crate::console::{self, kprintln};
use crate::dispatchers::{Ending, InstallError, SpawnError, SpawnRequest, INBOX_CAPACITY};
use crate::mappings::{Refusal, TlbScope};
use crate::scheduler::Scheduler;
use crate::{
    boot_image, capabilities, channels, core_boot, hotplug, interrupts, irqs, lines, mappings, memory, power,
    roll_call,
};

/// Longest console write accepted in one call.
const MAX_CONSOLE_WRITE: u64 = 256;
/// Where `map_channel` puts a monitor channel: one 64 KiB slot per peer core.
const MONITOR_CHANNELS_VA: u64 = USER_FRAMES_BASE;
/// Where `map_channel` puts an application region: one 64 KiB slot per peer core.
const APP_CHANNELS_VA: u64 = USER_FRAMES_BASE + 0x1000_0000;

/// Runs the system call in `frame` (number in x8, arguments in x0-x5, result in x0); returns
/// whether the scheduler should switch dispatchers.
pub fn handle(s: &mut Scheduler, frame: &mut TrapFrame) -> bool {
    let registers = [frame.x[0], frame.x[1], frame.x[2], frame.x[3], frame.x[4], frame.x[5]];
    let request = match syscall_decode::decode(frame.x[8], registers) {
        Ok(request) => request,
        Err(error) => {
            frame.x[0] = error.to_return();
            return false;
        }
    };
    // Only the Kernel capability's holder may use the capabilities kept for the protocols.
    let privileged = caller_is_monitor(s);
    s.dispatchers().caps().set_privileged(privileged);
    let result = match request {
        Request::Exit { code } => return exit(s, code),
        Request::Yield => {
            frame.x[0] = 0;
            return true;
        }
        Request::ConsoleWrite { ptr, len } => console_write(ptr, len),
        Request::ConsoleInputLine { ptr, len, cursor, enter } => console_input_line(ptr, len, cursor, enter),
        Request::Info { what, arg } => info(s, what, arg),
        Request::Wait { timeout } => return wait(s, frame, timeout),
        Request::Notify { core } => notify(core),
        Request::MapChannel { peer, kind } => map_channel(s, peer, kind),
        Request::Grant { peer, dispatcher } => grant(s, peer, dispatcher),
        Request::SendLocal { endpoint, words } => send_local(s, endpoint, words),
        Request::RecvLocal => recv_local(s, frame),
        Request::PowerOff { failed } => power_off(s, failed),
        Request::MapDeviceTree => map_device_tree(s),
        Request::MapFrame { va } => map_frame(s, va),
        Request::CapIdentify { addr } => cap_identify(s, frame, addr),
        Request::CapRetype { src, kind, offset, object_size, count, dest } => {
            cap_retype(s, src, Retype { kind, offset, object_size, count }, dest)
        }
        Request::CapCopy { src, dest } => cap_copy(s, src, dest),
        Request::CapMint { src, dest, rights } => cap_mint(s, src, dest, rights),
        Request::CapDelete { addr } => cap_delete(s, addr),
        Request::CapRevoke { addr } => cap_revoke(s, addr),
        Request::CapGive { target, src, dest } => cap_give(s, target, src, dest),
        Request::VnodeMap { vnode, entry, frame: page, rights, pages } => {
            vnode_map(s, vnode, (entry, pages), page, rights)
        }
        Request::VnodeUnmap { vnode, entry, broadcast } => vnode_unmap(s, vnode, entry, broadcast),
        Request::VnodeInstall { vnode, window } => vnode_install(s, vnode, window),
        Request::VnodeProtect { vnode, entry, frame: page, rights } => {
            vnode_protect(s, vnode, entry, page, rights)
        }
        Request::Spawn { module, ram, dest, arg } => spawn(s, module, ram, dest, arg),
        Request::CoreBoot { core, build, region, share } => core_boot(s, core, [build, region, share]),
        Request::CoreOff if caller_is_monitor(s) => hotplug::core_off(s.record()),
        Request::CoreReclaim { core } if caller_is_monitor(s) => hotplug::core_reclaim(s, core),
        Request::CoreOff | Request::CoreReclaim { .. } => Err(Error::Denied),
        Request::DispatcherStatus { dispatcher } => dispatcher_status(s, frame, dispatcher),
        Request::EndpointCreate { dispatcher, badge, dest } => endpoint_create(s, dispatcher, badge, dest),
        Request::ModuleInfo { module } => module_info(s, frame, module),
        Request::CapExport { addr } => cap_export(s, frame, addr),
        Request::CapReceive { dest, described } => cap_receive(s, dest, described),
        Request::CapSweep { described } => cap_sweep(s, described),
        Request::CapRevokeAgreed { addr } => cap_revoke_agreed(s, addr),
        Request::CapOwner { addr } => cap_owner(s, addr),
        Request::CapProtect { described, rights } => cap_protect(s, described, rights),
        Request::SpawnJoined { module, ram, dest, image, arg } => {
            spawn_joined(s, [module, ram, dest, image], arg)
        }
        Request::DispatcherImage { dispatcher, dest } => dispatcher_image(s, dispatcher, dest),
        Request::InjectFault { park } => inject_fault(s, park),
        Request::ConsoleTakeOver { failed } => console_take_over(s, failed),
        Request::IrqClaim { irq } => irq_claim(s, irq),
        Request::IrqAck { irq } => irq_ack(s, irq),
        Request::DispatcherStop { dispatcher } => dispatcher_stop(s, dispatcher),
        Request::LineSend { endpoint } => line_send(s, endpoint, &[lines::line_in_registers(frame)]),
        Request::LineSendLines { endpoint, lines: ptr, count } => {
            lines::lines_from_user(ptr, count).and_then(|lines| line_send(s, endpoint, &lines[..count]))
        }
        Request::LineRecv { which } => match s.current() {
            Some(caller) => lines::receive(s.dispatchers(), caller, frame, which),
            None => Err(Error::InvalidArgument),
        },
    };
    frame.x[0] = match result {
        Ok(value) => value,
        Err(error) => error.to_return(),
    };
    false
}

/// Whether the caller may act as this core's monitor: it holds the Kernel capability at
/// `SLOT_KERNEL` of its capability space (only the monitor gets it at boot).
fn caller_is_monitor(s: &mut Scheduler) -> bool {
    let Ok(cspace) = caller_cspace(s) else { return false };
    let slot = cspace.slot(CapAddr::from_raw(SLOT_KERNEL));
    s.dispatchers().caps().lookup(slot, CapType::Kernel, Rights::NONE).is_ok()
}

/// The caller's capability space.
fn caller_cspace(s: &mut Scheduler) -> Result<CSpace, Error> {
    let current = s.current().ok_or(Error::InvalidArgument)?;
    s.dispatchers().get(current).map(|d| d.cspace).ok_or(Error::InvalidArgument)
}

/// The capability system's refusal, as the ABI returns it.
fn refused(e: CapError) -> Error {
    Error::Capability(e.code())
}

/// `cap_identify(addr)`: type in x0, base, size and rights in x1..x3.
fn cap_identify(s: &mut Scheduler, frame: &mut TrapFrame, addr: CapAddr) -> Result<u64, Error> {
    let slot = caller_cspace(s)?.slot(addr);
    let capability = s.dispatchers().caps().identify(slot).map_err(refused)?;
    frame.x[1] = capability.base();
    frame.x[2] = capability.size();
    frame.x[3] = u64::from(capability.rights().bits());
    Ok(capability.kind() as u64)
}

/// `cap_retype(src, kind, offset, object_size, count, dest)` (x0..x5); the new objects are
/// zeroed (all but RAM, which is never mapped and is zeroed when retyped into something that
/// is).
fn cap_retype(s: &mut Scheduler, src: CapAddr, request: Retype, dest: CapAddr) -> Result<u64, Error> {
    let cspace = caller_cspace(s)?;
    let (src, dest) = (cspace.slot(src), cspace.slot(dest));
    let region = s.dispatchers().caps().retype(src, request, dest).map_err(refused)?;
    if request.kind != CapType::Ram && !capabilities::zero(s.record(), region) {
        // Every RAM capability is RAM the kernel maps, so this would be a kernel bug: say so.
        kprintln!("core {}: retyped memory {region:?} is not RAM the kernel maps", s.record().core_index);
    }
    Ok(0)
}

fn cap_copy(s: &mut Scheduler, src: CapAddr, dest: CapAddr) -> Result<u64, Error> {
    let cspace = caller_cspace(s)?;
    let (src, dest) = (cspace.slot(src), cspace.slot(dest));
    s.dispatchers().caps().copy(src, dest).map_err(refused)?;
    Ok(0)
}

fn cap_mint(s: &mut Scheduler, src: CapAddr, dest: CapAddr, rights: Rights) -> Result<u64, Error> {
    let cspace = caller_cspace(s)?;
    let (src, dest) = (cspace.slot(src), cspace.slot(dest));
    s.dispatchers().caps().mint(src, dest, rights).map_err(refused)?;
    Ok(0)
}

/// `cap_delete(addr)`. A mapped Frame capability is unmapped first (its entry cleared, the
/// TLB invalidated) before anything can retype its memory again; memory no capability names
/// any more is free again by the capability system's own record (a later retype of its RAM
/// succeeds).
fn cap_delete(s: &mut Scheduler, addr: CapAddr) -> Result<u64, Error> {
    let slot = caller_cspace(s)?.slot(addr);
    let removal = s.dispatchers().caps().delete(slot).map_err(refused)?;
    s.dispatchers().unmap_removed(&removal);
    Ok(0)
}

/// `cap_revoke(addr)`: as delete, for every copy and descendant (revoking a RAM capability
/// unmaps every Frame retyped from it).
fn cap_revoke(s: &mut Scheduler, addr: CapAddr) -> Result<u64, Error> {
    let slot = caller_cspace(s)?.slot(addr);
    let removal = s.dispatchers().caps().revoke(slot).map_err(refused)?;
    s.dispatchers().unmap_removed(&removal);
    Ok(0)
}

/// The VNode L3 capability at `addr` of the caller's space, with the write right (changing a
/// table writes it): `WrongType` for another type, `Denied` without the right.
fn vnode_capability(s: &mut Scheduler, addr: CapAddr) -> Result<caps::Capability, Error> {
    let slot = caller_cspace(s)?.slot(addr);
    s.dispatchers().caps().lookup(slot, CapType::VNodeL3, Rights::WRITE).map_err(refused)
}

/// The level-3 VNode the capability at `addr` names, if it is installed in the caller's own
/// address space (`Denied` otherwise: another's, or not installed).
fn caller_vnode(s: &mut Scheduler, addr: CapAddr) -> Result<mappings::VNode, Error> {
    let capability = vnode_capability(s, addr)?;
    let current = s.current().ok_or(Error::InvalidArgument)?;
    match s.dispatchers().installed_vnode(capability.base()) {
        Some(vnode) if vnode.owner == current => Ok(vnode),
        _ => Err(refused(CapError::Denied)),
    }
}

/// `vnode_install(vnode, window)`: installs a VNode L3 the caller retyped from its RAM as the
/// table of window `window` (1 to 511; 0 holds the kernel's) at `USER_MAPPABLE_BASE +
/// window * 2 MiB` of its address space. The VNode must not be installed already and the
/// window must be free (`SlotOccupied`).
fn vnode_install(s: &mut Scheduler, vnode: CapAddr, window: usize) -> Result<u64, Error> {
    let capability = vnode_capability(s, vnode)?;
    let current = s.current().ok_or(Error::InvalidArgument)?;
    match s.dispatchers().install_vnode(current, capability.base(), window) {
        Ok(vnode) => Ok(mappings::VNode::window_va(vnode.window)),
        Err(InstallError::Installed | InstallError::Occupied) => Err(refused(CapError::SlotOccupied)),
        Err(InstallError::NotRam) => Err(Error::InvalidArgument),
    }
}

/// `vnode_map(vnode, entry, frame, rights)`: see `syscall_abi::Call::VnodeMap`. The rights of
/// the mapping must be a subset of the Frame capability's (read always needed; write for a
/// writable mapping, execute for an executable one; write and execute together are refused,
/// W^X); refused rather than downgraded.
fn vnode_map(
    s: &mut Scheduler,
    vnode: CapAddr,
    (entry, pages): (usize, usize),
    frame: CapAddr,
    rights: MappingRights,
) -> Result<u64, Error> {
    let (vnode, capability, id) = mapping_parts(s, vnode, frame, rights, true)?;
    if capability.size() < pages as u64 * PAGE_SIZE {
        return Err(refused(CapError::OutOfBounds));
    }
    // Device registers: Device-nGnRE for EL0, never executable, as the kernel's own physmap
    // maps every non-RAM page, so the two views agree on the memory type (Arm ARM B2.8,
    // mismatched attributes).
    let attributes = match capability.kind() {
        CapType::DeviceFrame if rights.access == Access::Execute => return Err(Error::InvalidArgument),
        CapType::DeviceFrame => Attributes::UserDevice,
        _ => attributes(rights.access),
    };
    let descriptors = descriptors(capability.base(), attributes);
    s.dispatchers().mappings().map(vnode, entry, pages, id, descriptors).map_err(map_refusal)?;
    if rights.access == Access::Execute {
        make_fetchable(s.record(), capability.base(), pages);
    }
    Ok(vnode.va_of(entry))
}

/// What a mapping call names, checked: the caller's own installed VNode at `vnode`, and the
/// Frame capability at `frame` with its id. Only a Frame, never RAM (it may be retyped into
/// CNodes or VNodes under the mapping), CNode, VNode or Dispatcher memory, which only the
/// kernel may write; holding read and every right asked for (`Denied`: refused, never
/// downgraded). With `devices`, a device Frame (registers the kernel handed out as such at
/// boot, never RAM) is accepted too.
fn mapping_parts(
    s: &mut Scheduler,
    vnode: CapAddr,
    frame: CapAddr,
    rights: MappingRights,
    devices: bool,
) -> Result<(mappings::VNode, caps::Capability, caps::CapId), Error> {
    let vnode = caller_vnode(s, vnode)?;
    let frame = caller_cspace(s)?.slot(frame);
    let caps = s.dispatchers().caps();
    let capability = match caps.lookup(frame, CapType::Frame, rights.rights) {
        Err(CapError::WrongType) if devices => caps.lookup(frame, CapType::DeviceFrame, rights.rights),
        other => other,
    }
    .map_err(refused)?;
    let (_, id) = caps.identify_with_id(frame).map_err(refused)?;
    Ok((vnode, capability, id))
}

/// The level-3 descriptor of page `n` of the Frame at physical `base`, mapped with `attributes`.
fn descriptors(base: u64, attributes: Attributes) -> impl Fn(usize) -> u64 {
    move |page| page_descriptor(base + page as u64 * PAGE_SIZE, attributes)
}

/// The `pages` pages at physical `pa` were just mapped executable: what was written into them
/// through a data mapping (this program's own, while it was writable) must be what
/// instruction fetches see once the caller returns to EL0 (it cannot fetch before, and no
/// other core runs its address space). Data and instruction caches are not coherent with each other (Arm ARM D7.5.2): clean
/// the page's data-cache lines to the point of unification, then invalidate the instruction
/// cache (`user::sync_instruction_cache`, through the physmap's view of the page). Dispatchers
/// run only on this core, so this core's caches are the ones that matter.
/// The page is RAM this core owns (`capabilities::ram_va`) or a boot module (the image,
/// which the physmap maps read-only; cleaning by address needs only read access).
fn make_fetchable(record: &BootRecord, pa: u64, pages: usize) {
    let len = pages as u64 * PAGE_SIZE;
    let image = || {
        kernel_region::owns(record, pa, len, Attributes::ReadOnly)
            .then(|| cpu_driver::layout::phys_to_virt(pa))
            .flatten()
    };
    if let Some(va) = capabilities::ram_va(record, pa, len).or_else(image) {
        cpu_driver::arch::aarch64::user::sync_instruction_cache(va, len);
    }
}

/// The page attributes of an EL0 mapping (W^X was checked when the call was decoded).
fn attributes(access: Access) -> Attributes {
    match access {
        Access::ReadOnly => Attributes::UserReadOnly,
        Access::ReadWrite => Attributes::UserData,
        Access::Execute => Attributes::UserCode,
    }
}

/// `vnode_protect(vnode, entry, frame, rights)`: see `syscall_abi::Call::VnodeProtect`. The
/// Frame capability named must be the one mapped at the entry and hold every right asked for.
fn vnode_protect(
    s: &mut Scheduler,
    vnode: CapAddr,
    entry: usize,
    frame: CapAddr,
    rights: MappingRights,
) -> Result<u64, Error> {
    let (vnode, capability, id) = mapping_parts(s, vnode, frame, rights, false)?;
    let descriptors = descriptors(capability.base(), attributes(rights.access));
    let pages = s.dispatchers().mappings().protect(vnode, entry, id, descriptors).map_err(map_refusal)?;
    if rights.access == Access::Execute {
        make_fetchable(s.record(), capability.base(), pages);
    }
    Ok(0)
}

/// `vnode_unmap(vnode, entry)`: the entry must map something.
fn vnode_unmap(s: &mut Scheduler, vnode: CapAddr, entry: usize, broadcast: bool) -> Result<u64, Error> {
    let vnode = caller_vnode(s, vnode)?;
    let mappings = s.dispatchers().mappings();
    let scope = if broadcast { TlbScope::InnerShareable } else { TlbScope::ThisCore };
    mappings.unmap(vnode, entry, scope).map_err(map_refusal)?;
    Ok(0)
}

/// A map or unmap refusal as the capability error the ABI documents.
fn map_refusal(r: Refusal) -> Error {
    refused(match r {
        Refusal::OutOfRange => CapError::IndexOutOfRange,
        Refusal::Occupied | Refusal::AlreadyMapped | Refusal::AlreadyInstalled => CapError::SlotOccupied,
        Refusal::Empty => CapError::EmptySlot,
        Refusal::NotThisFrame => CapError::InvalidArgument,
    })
}

/// The dispatcher the Dispatcher capability at `addr` of the caller's space names, if it has
/// every right in `needs` (`WrongType`, `Denied` otherwise). A Dispatcher capability that names
/// no dispatcher (one retyped from RAM by hand, not by `spawn`) is `InvalidArgument`.
fn dispatcher_by_capability(s: &mut Scheduler, addr: CapAddr, needs: Rights) -> Result<usize, Error> {
    let slot = caller_cspace(s)?.slot(addr);
    let capability = s.dispatchers().caps().lookup(slot, CapType::Dispatcher, needs).map_err(refused)?;
    s.dispatchers().with_control(capability.base()).ok_or(Error::InvalidArgument)
}

/// `cap_give(target, src, dest, by)`: copies one of the caller's capabilities (same rights)
/// into another dispatcher's space on this core. The receiver is named by a Dispatcher
/// capability with the write right (`by` = `GIVE_BY_DISPATCHER_CAP`: what `spawn` gives a
/// parent) or, for the holder of the Kernel capability only (`Denied` otherwise), by index
/// (`GIVE_BY_INDEX`). An ended receiver is `InvalidArgument`.
fn cap_give(s: &mut Scheduler, target: GiveTarget, src: CapAddr, dest: CapAddr) -> Result<u64, Error> {
    let index = match target {
        GiveTarget::Capability(addr) => dispatcher_by_capability(s, addr, Rights::WRITE)?,
        GiveTarget::Index(index) => {
            if !caller_is_monitor(s) {
                return Err(Error::Denied);
            }
            usize::try_from(index).map_err(|_| Error::InvalidArgument)?
        }
    };
    let src = caller_cspace(s)?.slot(src);
    let target = match s.dispatchers().get(index) {
        Some(d) if !d.run.ended() => d.cspace,
        _ => return Err(Error::InvalidArgument),
    };
    let dest = target.slot(dest);
    s.dispatchers().caps().copy(src, dest).map_err(refused)?;
    Ok(0)
}

/// `spawn(module, ram, dest, arg)`: builds a dispatcher on this core from the boot module the
/// Frame capability at `module` names (read right; exactly a module's pages, else
/// `InvalidArgument`), out of the RAM capability at `ram` (write right): the pages the program
/// needs (`program::pages_needed`) are retyped from the start of that RAM into objects in
/// kernel-held slots (see `Dispatchers::spawn_module`), released when the dispatcher ends. The
/// caller's slot `dest` must be empty (`SlotOccupied`): it gets the child's Dispatcher
/// capability. Every check is made before anything changes (a RAM capability too small is
/// `OutOfBounds`). No Kernel capability is needed. The child starts with `arg` in `x0`.
/// Returns its index.
fn spawn(s: &mut Scheduler, module: CapAddr, ram: CapAddr, dest: CapAddr, arg: u64) -> Result<u64, Error> {
    let request = spawn_request(s, module, ram, dest, arg)?;
    let spawned = s.dispatchers().spawn_module(request);
    spawn_answer(s, spawned)
}

/// `spawn_joined(module, ram, dest, image, arg)`: as [`spawn`], but the child maps the image
/// Frame capability at `image` (read and write rights, exactly the module's image) that the
/// program's first dispatcher was loaded into on another core, and only its private pages are
/// retyped from `ram` (see `Dispatchers::spawn_joined`). The child gets 1 in `x1`.
fn spawn_joined(s: &mut Scheduler, [module, ram, dest, image]: [CapAddr; 4], arg: u64) -> Result<u64, Error> {
    let request = spawn_request(s, module, ram, dest, arg)?;
    let image = caller_cspace(s)?.slot(image);
    let spawned = s.dispatchers().spawn_joined(request, image);
    spawn_answer(s, spawned)
}

/// `dispatcher_image(dispatcher, dest)`: a copy of the image Frame capability of the dispatcher
/// the Dispatcher capability (write right) at `dispatcher` names, at the caller's `dest`.
fn dispatcher_image(s: &mut Scheduler, dispatcher: CapAddr, dest: CapAddr) -> Result<u64, Error> {
    let index = dispatcher_by_capability(s, dispatcher, Rights::WRITE)?;
    let dest = caller_cspace(s)?.slot(dest);
    s.dispatchers().copy_image(index, dest).map(|()| 0).map_err(refused)
}

/// The checks `spawn` and `spawn_joined` share, made before anything changes.
fn spawn_request(
    s: &mut Scheduler,
    module: CapAddr,
    ram: CapAddr,
    dest: CapAddr,
    arg: u64,
) -> Result<SpawnRequest, Error> {
    let cspace = caller_cspace(s)?;
    let parent = s.current().ok_or(Error::InvalidArgument)?;
    let (module, ram, dest) = (cspace.slot(module), cspace.slot(ram), cspace.slot(dest));
    let module = s.dispatchers().caps().lookup(module, CapType::Frame, Rights::READ).map_err(refused)?;
    s.dispatchers().caps().lookup(ram, CapType::Ram, Rights::WRITE).map_err(refused)?;
    match s.dispatchers().caps().identify(dest) {
        Err(CapError::EmptySlot) => {}
        Ok(_) => return Err(refused(CapError::SlotOccupied)),
        Err(e) => return Err(refused(e)),
    }
    Ok(SpawnRequest { module_base: module.base(), module_size: module.size(), ram, dest, parent, arg })
}

/// What a spawn returns: the child's index, or why not.
fn spawn_answer(s: &mut Scheduler, spawned: Result<usize, SpawnError>) -> Result<u64, Error> {
    let core = s.record().core_index;
    match spawned {
        Ok(index) => Ok(index as u64),
        Err(SpawnError::NoModule) => Err(Error::InvalidArgument), // a Frame, but no boot module's
        Err(SpawnError::Capability(e)) => Err(refused(e)),
        Err(SpawnError::Other(e)) => {
            kprintln!("core {core}: spawn refused: {e}");
            Err(Error::WouldBlock)
        }
    }
}

/// `core_boot(core, build, region, share)`: the boot core's Kernel-capability holder starts
/// another core. Checks, in order and before anything changes: the Kernel capability and the
/// boot core; `build` a Frame with READ naming a CPU-driver build of the boot image; `region`
/// and `share` RAM with WRITE; the core exists, is not the caller's and was not started; the
/// region starts on 2 MiB and holds the build's region layout. Then both RAM capabilities are
/// retyped whole into Frames in kernel-held slots (kept for good: the memory of a running core
/// can be neither mapped, retyped nor revoked), and `core_boot::start` fills the region and
/// releases the core. If the core could not be started the held Frames are released again and
/// the memory is the caller's once more.
fn core_boot(s: &mut Scheduler, core: u64, [build, region, share]: [CapAddr; 3]) -> Result<u64, Error> {
    if !caller_is_monitor(s) || !s.record().is_boot_core() {
        return Err(Error::Denied);
    }
    let cspace = caller_cspace(s)?;
    let (build, region, share) = (cspace.slot(build), cspace.slot(region), cspace.slot(share));
    let build = s.dispatchers().caps().lookup(build, CapType::Frame, Rights::READ).map_err(refused)?;
    let region_cap = s.dispatchers().caps().lookup(region, CapType::Ram, Rights::WRITE).map_err(refused)?;
    let share_cap = s.dispatchers().caps().lookup(share, CapType::Ram, Rights::WRITE).map_err(refused)?;
    let record = s.record();
    let (payload, bytes) = boot_image::cpu_driver_at(record, build.base()).ok_or(Error::InvalidArgument)?;
    let range = |c: &caps::Capability| PhysRange { start: c.base(), end: c.base() + c.size() };
    let share_range = range(&share_cap);
    match core_boot::check(record, core, &payload, range(&region_cap), share_range) {
        Ok(()) => {}
        Err(StartRefusal::NoSuchCore) => return Err(Error::InvalidArgument),
        Err(StartRefusal::AlreadyStarted) => return Err(refused(CapError::SlotOccupied)),
        Err(StartRefusal::BadMemory) => return Err(refused(CapError::Misaligned)),
    }
    let mut held = alloc::vec::Vec::new();
    for (slot, cap) in [(region, &region_cap), (share, &share_cap)] {
        let whole = Retype { kind: CapType::Frame, offset: 0, object_size: cap.size(), count: 1 };
        match s.dispatchers().caps().retype_held(slot, whole) {
            Ok((held_slot, _)) => held.push(held_slot),
            Err(e) => {
                s.dispatchers().release_held(&held);
                return Err(refused(e));
            }
        }
    }
    match core_boot::start(record, core, &payload, bytes, region_cap.base(), share_range) {
        cpu_driver::boot_record::StartStatus::Started => {
            // The memory is the started core's now: what this core holds of it is that core's
            // object, so copies of that core's capabilities inside it may be received here.
            for &slot in &held {
                let _ = s.dispatchers().caps().disown_held(slot, core as u32);
            }
            hotplug::started(core, held);
            Ok(0)
        }
        _ => {
            s.dispatchers().release_held(&held);
            Err(Error::WouldBlock)
        }
    }
}

/// `dispatcher_status(dispatcher)`: how the dispatcher the Dispatcher capability (read right)
/// at `dispatcher` names stands: running, exited (code in x1) or stopped by a fault (ESR in x1,
/// FAR in x2).
fn dispatcher_status(s: &mut Scheduler, frame: &mut TrapFrame, dispatcher: CapAddr) -> Result<u64, Error> {
    let index = dispatcher_by_capability(s, dispatcher, Rights::READ)?;
    let ending = s.dispatchers().get(index).ok_or(Error::InvalidArgument)?.ending;
    let (status, x1, x2) = match ending {
        None => (STATUS_RUNNING, 0, 0),
        Some(Ending::Exited(code)) => (STATUS_EXITED, code, 0),
        Some(Ending::Faulted { esr, far }) => (STATUS_FAULTED, esr, far),
        Some(Ending::ImageRevoked) => (STATUS_IMAGE_REVOKED, 0, 0),
        Some(Ending::Stopped) => (STATUS_STOPPED, 0, 0),
    };
    frame.x[1] = x1;
    frame.x[2] = x2;
    Ok(status)
}

/// The caller's capability space, if it holds the Kernel capability: the calls that act for
/// other cores (capabilities across cores) are the monitor's alone.
fn monitor_cspace(s: &mut Scheduler) -> Result<CSpace, Error> {
    if !caller_is_monitor(s) {
        return Err(Error::Denied);
    }
    caller_cspace(s)
}

/// This core's view of an owning core's index.
fn owner_here(s: &mut Scheduler, owner: u32) -> Owner {
    if u64::from(owner) == s.record().core_index {
        Owner::Here
    } else {
        Owner::Core(owner)
    }
}

fn owner_index(s: &mut Scheduler, owner: Owner) -> u64 {
    match owner {
        Owner::Here => s.record().core_index,
        Owner::Core(core) => u64::from(core),
    }
}

/// `cap_export(addr)`: the description in x0 (`describe(kind, rights, owner)`), base and size
/// in x1, x2.
fn cap_export(s: &mut Scheduler, frame: &mut TrapFrame, addr: CapAddr) -> Result<u64, Error> {
    let slot = monitor_cspace(s)?.slot(addr);
    let (capability, owner) = s.dispatchers().caps().export(slot).map_err(refused)?;
    let owner = owner_index(s, owner);
    frame.x[1] = capability.base();
    frame.x[2] = capability.size();
    Ok(syscall_abi::describe(capability.kind() as u64, u64::from(capability.rights().bits()), owner))
}

/// `cap_receive(dest, described, base, size)`.
fn cap_receive(s: &mut Scheduler, dest: CapAddr, described: Described) -> Result<u64, Error> {
    let slot = monitor_cspace(s)?.slot(dest);
    let owner = owner_here(s, described.owner);
    s.dispatchers().caps().receive(described.capability, owner, slot).map_err(refused)?;
    Ok(0)
}

/// `cap_sweep(described, base, size)`: what goes is unmapped first, as for a revoke.
fn cap_sweep(s: &mut Scheduler, described: Described) -> Result<u64, Error> {
    monitor_cspace(s)?;
    let removal = s.dispatchers().caps().sweep(described.capability, described.owner);
    s.dispatchers().unmap_removed(&removal);
    Ok(removal.removed.len() as u64)
}

/// `cap_revoke_agreed(addr)`: as `cap_revoke`, for a lent object once every core swept.
fn cap_revoke_agreed(s: &mut Scheduler, addr: CapAddr) -> Result<u64, Error> {
    let slot = monitor_cspace(s)?.slot(addr);
    let removal = s.dispatchers().caps().revoke_agreed(slot).map_err(refused)?;
    s.dispatchers().unmap_removed(&removal);
    Ok(0)
}

/// `cap_protect(described, base, size, rights)`: reduce the copies' rights, then their
/// mappings (a copy without write loses a writable mapping's write permission, one without
/// read its mapping).
fn cap_protect(s: &mut Scheduler, described: Described, rights: Rights) -> Result<u64, Error> {
    monitor_cspace(s)?;
    let owner = match owner_here(s, described.owner) {
        Owner::Here => None,
        Owner::Core(core) => Some(core),
    };
    let changed = s.dispatchers().caps().reduce_copies(described.capability, owner, rights);
    for (id, capability) in &changed {
        let readable = capability.rights().contains(Rights::READ);
        let read_only = descriptors(capability.base(), attributes(Access::ReadOnly));
        s.dispatchers().mappings().reduce(*id, readable, read_only);
    }
    Ok(changed.len() as u64)
}

/// `cap_owner(addr)`: the owning core's index.
fn cap_owner(s: &mut Scheduler, addr: CapAddr) -> Result<u64, Error> {
    let slot = caller_cspace(s)?.slot(addr);
    let owner = s.dispatchers().caps().owner(slot).map_err(refused)?;
    Ok(owner_index(s, owner))
}

/// `module_info(module)`: the RAM `spawn` needs for the boot module the Frame capability (read
/// right) at `module` names, and its name in x1, x2.
fn module_info(s: &mut Scheduler, frame: &mut TrapFrame, module: CapAddr) -> Result<u64, Error> {
    let slot = caller_cspace(s)?.slot(module);
    let module = s.dispatchers().caps().lookup(slot, CapType::Frame, Rights::READ).map_err(refused)?;
    let (name, bytes) =
        s.dispatchers().module_info(module.base(), module.size()).ok_or(Error::InvalidArgument)?;
    let mut padded = [0u8; 16];
    let len = name.len().min(16);
    padded[..len].copy_from_slice(&name.as_bytes()[..len]);
    frame.x[1] = u64::from_le_bytes(padded[..8].try_into().unwrap_or_default());
    frame.x[2] = u64::from_le_bytes(padded[8..].try_into().unwrap_or_default());
    Ok(bytes)
}

fn exit(s: &mut Scheduler, code: u64) -> bool {
    let core = s.record().core_index;
    if let Some(current) = s.current() {
        s.dispatchers().end(current, Ending::Exited(code));
    }
    if let Some(d) = s.current_mut() {
        if code != 0 {
            let name = d.name.clone();
            kprintln!("core {core}: dispatcher {name} exited with code {code}");
        }
    }
    s.end_run_if_monitor_ended();
    s.settle_current();
    true
}

/// `dispatcher_stop(dispatcher)`: see `syscall_abi::Call::DispatcherStop`. Its parent, if
/// waiting, is woken as for any ending.
fn dispatcher_stop(s: &mut Scheduler, dispatcher: CapAddr) -> Result<u64, Error> {
    let index = dispatcher_by_capability(s, dispatcher, Rights::WRITE)?;
    let ended = s.dispatchers().get(index).is_none_or(|d| d.run.ended());
    if Some(index) == s.current() || ended {
        return Err(Error::InvalidArgument);
    }
    s.dispatchers().end(index, Ending::Stopped);
    Ok(0)
}

/// `irq_claim(irq)`: see `syscall_abi::Call::IrqClaim`.
fn irq_claim(s: &mut Scheduler, irq: CapAddr) -> Result<u64, Error> {
    let (current, intid) = caller_irq(s, irq)?;
    irqs::claim(s.dispatchers(), current, intid)?;
    Ok(0)
}

/// `irq_ack(irq) -> fired`: see `syscall_abi::Call::IrqAck`.
fn irq_ack(s: &mut Scheduler, irq: CapAddr) -> Result<u64, Error> {
    let (current, intid) = caller_irq(s, irq)?;
    irqs::acknowledge(current, intid)
}

/// The caller's index and the INTID of the IRQ capability at `irq` in its space.
fn caller_irq(s: &mut Scheduler, irq: CapAddr) -> Result<(usize, u32), Error> {
    let current = s.current().ok_or(Error::InvalidArgument)?;
    let slot = caller_cspace(s)?.slot(irq);
    let capability = s.dispatchers().caps().lookup(slot, CapType::Irq, Rights::NONE).map_err(refused)?;
    let intid = u32::try_from(capability.base()).map_err(|_| Error::InvalidArgument)?;
    Ok((current, intid))
}

fn console_write(ptr: u64, len: u64) -> Result<u64, Error> {
    let mut buffer = [0u8; MAX_CONSOLE_WRITE as usize];
    let bytes = copy_in(ptr, len, &mut buffer)?;
    let text = String::from_utf8_lossy(bytes);
    kprintln!("{}", text.trim_end_matches('\n'));
    Ok(len)
}

const _: () = assert!(
    syscall_abi::INPUT_LINE_MAX as usize == cpu_driver::input_line::CAPACITY,
    "the call's limit is the console's"
);

/// `console_input_line(ptr, len, cursor, enter)`: see `syscall_abi::Call::ConsoleInputLine`.
fn console_input_line(ptr: u64, len: u64, cursor: u64, enter: bool) -> Result<u64, Error> {
    if len > syscall_abi::INPUT_LINE_MAX || cursor > len {
        return Err(Error::InvalidArgument);
    }
    let mut buffer = [0u8; syscall_abi::INPUT_LINE_MAX as usize];
    let text = copy_in(ptr, len, &mut buffer)?;
    match console::input_line(text, cursor as usize, enter) {
        Ok(()) => Ok(0),
        Err(console::InputRefusal::NotOwner) => Err(Error::Denied),
        Err(console::InputRefusal::Line(_)) => Err(Error::InvalidArgument),
    }
}

/// Copies `len` bytes the caller holds at `ptr` (readable at EL0) into `buffer`; `len` over
/// the buffer's size is `InvalidArgument`, memory the caller cannot read `BadAddress`.
fn copy_in(ptr: u64, len: u64, buffer: &mut [u8]) -> Result<&[u8], Error> {
    if len > buffer.len() as u64 {
        return Err(Error::InvalidArgument);
    }
    let end = ptr.checked_add(len).ok_or(Error::BadAddress)?;
    if ptr < USER_MIN || end > USER_LIMIT || !user_range_readable(ptr, end) {
        return Err(Error::BadAddress);
    }
    // SAFETY: every page of [ptr, end) is mapped readable for EL0 in the installed address
    // space (checked above with the MMU itself), and EL1 may read what EL0 may read; `len`
    // fits the buffer (checked above).
    unsafe { core::ptr::copy_nonoverlapping(ptr as *const u8, buffer.as_mut_ptr(), len as usize) };
    Ok(&buffer[..len as usize])
}

fn info(s: &Scheduler, what: Info, arg: u64) -> Result<u64, Error> {
    let record = s.record();
    Ok(match what {
        Info::CoreIndex => record.core_index,
        Info::CoreCount => record.core_count,
        Info::ExceptionLevel => 0,
        Info::CounterFrequency => cpu::counter_frequency(),
        Info::Build => record.build,
        Info::BootCore => record.boot_core_index,
        Info::RollCallDone => u64::from(roll_call::is_done()),
        Info::CoreOnline => u64::from(channels::wake_target(arg).is_some()),
        Info::DispatcherIndex => s.current().map_or(0, |c| c as u64),
        Info::Flags => record.flags,
        Info::KernelRegionBytes => {
            let class = u32::try_from(arg).map_err(|_| Error::InvalidArgument)?;
            boot_image::region_bytes(record, class).ok_or(Error::InvalidArgument)?
        }
    })
}

fn wait(s: &mut Scheduler, frame: &mut TrapFrame, timeout: u64) -> bool {
    let deadline = (timeout != 0).then(|| cpu::counter().saturating_add(timeout));
    s.settle_current();
    let Some(d) = s.current_mut() else { return false };
    match d.run.wait(deadline) {
        Some(returns) => {
            frame.x[0] = returns; // a wake-up was pending: go on
            false
        }
        None => {
            frame.x[0] = 0;
            true
        }
    }
}

/// Sends the wake SGI to `core`: every dispatcher waiting there, its monitor among them, runs
/// again.
fn notify(core: u64) -> Result<u64, Error> {
    let target = channels::wake_target(core).ok_or(Error::InvalidArgument)?;
    interrupts::wake(target);
    Ok(0)
}

fn map_channel(s: &mut Scheduler, peer: u64, kind: ChannelKind) -> Result<u64, Error> {
    let record = s.record();
    let core = record.core_index;
    let layout = SharedLayout::new(record.core_count);
    let (offset, bytes, va) = match kind {
        ChannelKind::Monitor => {
            if !caller_is_monitor(s) {
                return Err(Error::Denied);
            }
            let (offset, _) = layout.monitor_channel(core, peer).ok_or(Error::InvalidArgument)?;
            (offset, CHANNEL_BYTES, MONITOR_CHANNELS_VA + peer * 0x1_0000)
        }
        ChannelKind::Application => {
            let granted = s.current_mut().is_some_and(|d| d.grants.contains(&peer));
            if !granted {
                return Err(Error::Denied);
            }
            let (offset, _) = layout.app_region(core, peer).ok_or(Error::InvalidArgument)?;
            (offset, APP_REGION_BYTES, APP_CHANNELS_VA + peer * 0x1_0000)
        }
    };
    let frames = Frames { pa: record.shared_pa + offset, va: 0, count: bytes / PAGE_SIZE };
    let dispatcher = s.current_mut().ok_or(Error::InvalidArgument)?;
    // Mapping the same frames again at the same place is allowed and changes nothing.
    dispatcher.space.map(va, &frames, Attributes::UserData).map_err(|_| Error::InvalidArgument)?;
    Ok(va)
}

fn map_frame(s: &mut Scheduler, va: u64) -> Result<u64, Error> {
    if !va.is_multiple_of(PAGE_SIZE) || !(USER_MIN..USER_FRAMES_BASE).contains(&va) {
        return Err(Error::BadAddress);
    }
    if user_readable(va) {
        return Err(Error::InvalidArgument); // something is mapped there already
    }
    let frames = s.dispatchers().frames().take(1).ok_or(Error::WouldBlock)?;
    // SAFETY: a fresh frame from this core's pool, mapped nowhere else yet.
    unsafe { memory::bytes_of(&frames) }.fill(0);
    let dispatcher = s.current_mut().ok_or(Error::InvalidArgument)?;
    dispatcher.space.map(va, &frames, Attributes::UserData).map_err(|_| Error::InvalidArgument)?;
    Ok(va)
}

fn map_device_tree(s: &mut Scheduler) -> Result<u64, Error> {
    if !caller_is_monitor(s) {
        return Err(Error::Denied);
    }
    let record = s.record();
    let start = record.dtb_pa & !(PAGE_SIZE - 1);
    let end = (record.dtb_pa + record.dtb_size).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let frames = Frames { pa: start, va: 0, count: (end - start) / PAGE_SIZE };
    let dispatcher = s.current_mut().ok_or(Error::InvalidArgument)?;
    dispatcher
        .space
        .map(USER_DTB_BASE, &frames, Attributes::UserReadOnly)
        .map_err(|_| Error::InvalidArgument)?;
    Ok(USER_DTB_BASE + (record.dtb_pa - start))
}

fn grant(s: &mut Scheduler, peer: u64, dispatcher: u64) -> Result<u64, Error> {
    if !caller_is_monitor(s) {
        return Err(Error::Denied);
    }
    let record = s.record();
    if peer >= record.core_count || peer == record.core_index {
        return Err(Error::InvalidArgument);
    }
    let target = s.dispatchers().get_mut(dispatcher as usize).ok_or(Error::InvalidArgument)?;
    if !target.grants.contains(&peer) {
        target.grants.push(peer);
    }
    Ok(0)
}

/// `send_local(endpoint, w0, w1, w2)`: queues three words for the dispatcher the Endpoint
/// capability (write right) at `endpoint` names, with the Endpoint's badge, and wakes it.
/// Authority to send is the Endpoint, never the target's index.
fn send_local(s: &mut Scheduler, endpoint: CapAddr, words: [u64; 3]) -> Result<u64, Error> {
    let (index, badge) = endpoint_target(s, endpoint)?;
    match s.dispatchers().get_mut(index) {
        Some(target) if !target.run.ended() => {
            if target.inbox.len() >= INBOX_CAPACITY {
                return Err(Error::WouldBlock);
            }
            target.inbox.push_back((badge, words));
            target.wake();
            Ok(0)
        }
        _ => Err(Error::InvalidArgument),
    }
}

/// `line_send` and `line_send_lines`: `lines` for the dispatcher the Endpoint capability
/// (write right) at `endpoint` names, all or none (see [`lines::send`]).
fn line_send(
    s: &mut Scheduler,
    endpoint: CapAddr,
    lines: &[[u64; syscall_abi::LINE_WORDS]],
) -> Result<u64, Error> {
    let (index, badge) = endpoint_target(s, endpoint)?;
    lines::send(s.dispatchers(), index, badge, lines)
}

/// The dispatcher of this core the Endpoint capability at `endpoint` of the caller's space
/// names, and its badge: an Endpoint (`WrongType`) with the write right (`Denied`) whose
/// dispatcher still has a control block (`InvalidArgument`).
fn endpoint_target(s: &mut Scheduler, endpoint: CapAddr) -> Result<(usize, u64), Error> {
    let slot = caller_cspace(s)?.slot(endpoint);
    let endpoint = s.dispatchers().caps().lookup(slot, CapType::Endpoint, Rights::WRITE).map_err(refused)?;
    let index = s.dispatchers().with_control(endpoint.base()).ok_or(Error::InvalidArgument)?;
    Ok((index, endpoint.badge()))
}

/// `endpoint_create(dispatcher, badge, dest)`: an Endpoint with `badge` to the dispatcher the
/// Dispatcher capability (write right) at `dispatcher` names, into the caller's empty `dest`.
fn endpoint_create(s: &mut Scheduler, dispatcher: CapAddr, badge: u64, dest: CapAddr) -> Result<u64, Error> {
    let cspace = caller_cspace(s)?;
    let (dispatcher, dest) = (cspace.slot(dispatcher), cspace.slot(dest));
    s.dispatchers().caps().lookup(dispatcher, CapType::Dispatcher, Rights::WRITE).map_err(refused)?;
    s.dispatchers().caps().create_endpoint(dispatcher, badge, dest).map_err(refused)?;
    Ok(0)
}

fn recv_local(s: &mut Scheduler, frame: &mut TrapFrame) -> Result<u64, Error> {
    let dispatcher = s.current_mut().ok_or(Error::InvalidArgument)?;
    let (badge, words) = dispatcher.inbox.pop_front().ok_or(Error::WouldBlock)?;
    frame.x[1..4].copy_from_slice(&words);
    Ok(badge)
}

/// `power_off(failed)`: needs the Kernel capability, on any core.
/// The fault harness's kernel faults (`faults=panic:..`, `faults=park:..`), on the authority
/// of the Kernel capability: the panic takes the real panic path (message, then the core
/// halts; on the boot core the run ends as failed), the park stops the core with every
/// interrupt masked and says so first (it could not afterwards).
fn inject_fault(s: &mut Scheduler, park: bool) -> Result<u64, Error> {
    if !caller_is_monitor(s) {
        return Err(Error::Denied);
    }
    let core = s.record().core_index;
    if park {
        crate::console::kprintln_emergency!("core {core}: fault injected: parked with interrupts masked");
        cpu::park_masked()
    }
    panic!("fault injected on core {core} by its monitor");
}

/// The console's owner failed: this core's monitor, on the Kernel capability, makes this
/// core's kernel drain the console from now on (taking it from `failed`, a core that had taken
/// it over and failed in turn, if that core holds it).
fn console_take_over(s: &mut Scheduler, failed: Option<u64>) -> Result<u64, Error> {
    if !caller_is_monitor(s) {
        return Err(Error::Denied);
    }
    if !crate::console::take_over(failed) {
        return Err(Error::WouldBlock);
    }
    kprintln!("core {}: console taken over (its owner failed)", s.record().core_index);
    Ok(0)
}

fn power_off(s: &mut Scheduler, failed: bool) -> Result<u64, Error> {
    // The Kernel capability is the authority, on any core: when the boot core fails, another
    // core's monitor ends the run (its kernel prints what the console rings hold first).
    if !caller_is_monitor(s) {
        return Err(Error::Denied);
    }
    if failed {
        power::reset(s.record());
    } else {
        power::off(s.record());
    }
    Err(Error::NoSuchCall) // no PSCI on this machine (e.g. a Raspberry Pi without TF-A)
}
