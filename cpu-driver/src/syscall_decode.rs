//! System-call dispatch, the portable half: a call's number and argument registers decoded
//! into a typed [`Request`], with every check that needs nothing but the registers (call
//! number, capability-address width, types, rights bits, W^X, table indices, selectors) done
//! here, so the host tests cover them and no register value can make a handler misbehave.
//! The kernel's `syscalls` module runs the request against the caller's capabilities.

use caps::{CapAddr, CapError, CapType, Capability, Rights};
use syscall_abi::{
    Call, ChannelKind, Error, Info, FAULT_KERNEL_PANIC, FAULT_PARK_MASKED, GIVE_BY_DISPATCHER_CAP,
    GIVE_BY_INDEX, LINE_RECV_ANY, LINE_RECV_BADGE, MAX_LINES_PER_SEND,
};

use crate::line_queue::Take;

/// Entries of a level-3 VNode, and windows of the mappable region.
const VNODE_ENTRIES: u64 = 512;

/// How a page may be used, from the rights a mapping asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read only.
    ReadOnly,
    /// Read and write, never execute.
    ReadWrite,
    /// Read and execute, never write.
    Execute,
}

/// The rights a mapping asks for: read is always needed of the Frame, plus these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappingRights {
    /// What the Frame capability must hold.
    pub rights: Rights,
    /// What the page allows.
    pub access: Access,
}

/// Who `cap_give` gives to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveTarget {
    /// The dispatcher a Dispatcher capability names.
    Capability(CapAddr),
    /// A dispatcher index (the Kernel capability's holder only).
    Index(u64),
}

/// A system call, decoded.
#[allow(missing_docs)] // the fields are the calls' arguments, documented on `syscall_abi::Call`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Exit { code: u64 },
    Yield,
    ConsoleWrite { ptr: u64, len: u64 },
    ConsoleInputLine { ptr: u64, len: u64, cursor: u64, enter: bool },
    Info { what: Info, arg: u64 },
    Wait { timeout: u64 },
    Notify { core: u64 },
    MapChannel { peer: u64, kind: ChannelKind },
    Grant { peer: u64, dispatcher: u64 },
    SendLocal { endpoint: CapAddr, words: [u64; 3] },
    RecvLocal,
    PowerOff { failed: bool },
    MapDeviceTree,
    MapFrame { va: u64 },
    CapIdentify { addr: CapAddr },
    CapRetype { src: CapAddr, kind: CapType, offset: u64, object_size: u64, count: u64, dest: CapAddr },
    CapCopy { src: CapAddr, dest: CapAddr },
    CapMint { src: CapAddr, dest: CapAddr, rights: Rights },
    CapDelete { addr: CapAddr },
    CapRevoke { addr: CapAddr },
    CapGive { target: GiveTarget, src: CapAddr, dest: CapAddr },
    VnodeMap { vnode: CapAddr, entry: usize, frame: CapAddr, rights: MappingRights, pages: usize },
    VnodeUnmap { vnode: CapAddr, entry: usize, broadcast: bool },
    VnodeInstall { vnode: CapAddr, window: usize },
    VnodeProtect { vnode: CapAddr, entry: usize, frame: CapAddr, rights: MappingRights },
    Spawn { module: CapAddr, ram: CapAddr, dest: CapAddr, arg: u64 },
    SpawnJoined { module: CapAddr, ram: CapAddr, dest: CapAddr, image: CapAddr, arg: u64 },
    DispatcherImage { dispatcher: CapAddr, dest: CapAddr },
    InjectFault { park: bool },
    ConsoleTakeOver { failed: Option<u64> },
    IrqClaim { irq: CapAddr },
    IrqAck { irq: CapAddr },
    DispatcherStop { dispatcher: CapAddr },
    CoreBoot { core: u64, build: CapAddr, region: CapAddr, share: CapAddr },
    CoreOff,
    CoreReclaim { core: u64 },
    DispatcherStatus { dispatcher: CapAddr },
    EndpointCreate { dispatcher: CapAddr, badge: u64, dest: CapAddr },
    ModuleInfo { module: CapAddr },
    CapExport { addr: CapAddr },
    CapReceive { dest: CapAddr, described: Described },
    CapSweep { described: Described },
    CapRevokeAgreed { addr: CapAddr },
    CapOwner { addr: CapAddr },
    CapProtect { described: Described, rights: Rights },
    LineSend { endpoint: CapAddr },
    LineSendLines { endpoint: CapAddr, lines: u64, count: usize },
    LineRecv { which: Take },
}

/// A capability another core described (`cap_export`): what it is and which core owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Described {
    /// The capability (a memory type, its object checked as `Capability::memory` checks it).
    pub capability: Capability,
    /// The owning core's index.
    pub owner: u32,
}

/// Decodes `syscall_abi::describe`'s word and the base and size: any type, rights, range or
/// core number is checked here, so the kernel sees only capabilities that could exist.
fn described(word: u64, base: u64, size: u64) -> Result<Described, Error> {
    let (kind, rights, owner) = syscall_abi::undescribe(word).ok_or(Error::InvalidArgument)?;
    let kind = CapType::from_raw(kind).ok_or(Error::InvalidArgument)?;
    let rights = Rights::from_bits(rights).ok_or(Error::InvalidArgument)?;
    let capability = Capability::memory(kind, base, size).map_err(refused)?.reduced(rights);
    Ok(Described { capability, owner: owner as u32 })
}

fn refused(e: CapError) -> Error {
    Error::Capability(e.code())
}

/// A capability address from a register: any `u32` (the capability system checks the rest on
/// use); wider values are malformed addresses.
pub fn cap_addr(raw: u64) -> Result<CapAddr, Error> {
    u32::try_from(raw).map(CapAddr::from_raw).map_err(|_| refused(CapError::InvalidAddress))
}

/// A level-3 VNode entry: 0 to 511, else `IndexOutOfRange`.
pub fn vnode_entry(raw: u64) -> Result<usize, Error> {
    (raw < VNODE_ENTRIES).then_some(raw as usize).ok_or(refused(CapError::IndexOutOfRange))
}

/// A window of the mappable region a program may install a VNode in: 1 to 511 (0 holds the
/// kernel's), else `IndexOutOfRange`.
pub fn vnode_window(raw: u64) -> Result<usize, Error> {
    (1..VNODE_ENTRIES).contains(&raw).then_some(raw as usize).ok_or(refused(CapError::IndexOutOfRange))
}

/// The pages of a mapping from `entry` on: at least one (`InvalidArgument`), all in the
/// table (`IndexOutOfRange` past entry 511).
pub fn mapping_pages(entry: usize, raw: u64) -> Result<usize, Error> {
    if raw == 0 {
        return Err(refused(CapError::InvalidArgument));
    }
    let end = (entry as u64).checked_add(raw).filter(|&end| end <= VNODE_ENTRIES);
    end.map(|_| raw as usize).ok_or(refused(CapError::IndexOutOfRange))
}

/// The rights of a mapping: only read, write and execute (grant or unknown bits are
/// `InvalidArgument`), never write and execute together (W^X, `InvalidArgument`).
pub fn mapping_rights(raw: u64) -> Result<MappingRights, Error> {
    let rights = Rights::from_bits(raw).ok_or(refused(CapError::InvalidArgument))?;
    let (write, execute) = (rights.contains(Rights::WRITE), rights.contains(Rights::EXECUTE));
    if (write && execute) || rights.contains(Rights::GRANT) {
        return Err(refused(CapError::InvalidArgument));
    }
    let access = if write {
        Access::ReadWrite
    } else if execute {
        Access::Execute
    } else {
        Access::ReadOnly
    };
    Ok(MappingRights { rights: rights.union(Rights::READ), access })
}

/// The line count of a `line_send_lines`: 1 to `MAX_LINES_PER_SEND`, else `InvalidArgument`.
pub fn line_count(raw: u64) -> Result<usize, Error> {
    (1..=MAX_LINES_PER_SEND as u64).contains(&raw).then_some(raw as usize).ok_or(Error::InvalidArgument)
}

/// The buffer of a `line_send_lines`: 8-byte aligned (the kernel reads it by words), else
/// `BadAddress`; whether the caller may read it is the handler's check.
pub fn line_buffer(raw: u64) -> Result<u64, Error> {
    raw.is_multiple_of(8).then_some(raw).ok_or(Error::BadAddress)
}

/// Which line a `line_recv` takes: `only_badge` 0 any, 1 the oldest of `badge`.
pub fn line_take(badge: u64, only_badge: u64) -> Result<Take, Error> {
    match only_badge {
        LINE_RECV_ANY => Ok(Take::Any),
        LINE_RECV_BADGE => Ok(Take::Badge(badge)),
        _ => Err(Error::InvalidArgument),
    }
}

/// Decodes call `number` with arguments `x` (`x0`..`x5`).
pub fn decode(number: u64, x: [u64; 6]) -> Result<Request, Error> {
    let call = Call::from_raw(number).ok_or(Error::NoSuchCall)?;
    let a = cap_addr;
    Ok(match call {
        Call::Exit => Request::Exit { code: x[0] },
        Call::Yield => Request::Yield,
        Call::ConsoleWrite => Request::ConsoleWrite { ptr: x[0], len: x[1] },
        Call::ConsoleInputLine => Request::ConsoleInputLine {
            ptr: x[0],
            len: x[1],
            cursor: x[2],
            enter: match x[3] {
                0 => false,
                1 => true,
                _ => return Err(Error::InvalidArgument),
            },
        },
        Call::Info => Request::Info { what: Info::from_raw(x[0]).ok_or(Error::NoSuchCall)?, arg: x[1] },
        Call::Wait => Request::Wait { timeout: x[0] },
        Call::Notify => Request::Notify { core: x[0] },
        Call::MapChannel => Request::MapChannel {
            peer: x[0],
            kind: ChannelKind::from_raw(x[1]).ok_or(Error::InvalidArgument)?,
        },
        Call::Grant => Request::Grant { peer: x[0], dispatcher: x[1] },
        Call::SendLocal => Request::SendLocal { endpoint: a(x[0])?, words: [x[1], x[2], x[3]] },
        Call::RecvLocal => Request::RecvLocal,
        Call::PowerOff => Request::PowerOff {
            failed: match x[0] {
                0 => false,
                1 => true,
                _ => return Err(Error::InvalidArgument),
            },
        },
        Call::MapDeviceTree => Request::MapDeviceTree,
        Call::MapFrame => Request::MapFrame { va: x[0] },
        Call::CapIdentify => Request::CapIdentify { addr: a(x[0])? },
        Call::CapRetype => Request::CapRetype {
            src: a(x[0])?,
            kind: CapType::from_raw(x[1]).ok_or(Error::InvalidArgument)?,
            offset: x[2],
            object_size: x[3],
            count: x[4],
            dest: a(x[5])?,
        },
        Call::CapCopy => Request::CapCopy { src: a(x[0])?, dest: a(x[1])? },
        Call::CapMint => Request::CapMint {
            src: a(x[0])?,
            dest: a(x[1])?,
            rights: Rights::from_bits(x[2]).ok_or(Error::InvalidArgument)?,
        },
        Call::CapDelete => Request::CapDelete { addr: a(x[0])? },
        Call::CapRevoke => Request::CapRevoke { addr: a(x[0])? },
        Call::CapGive => Request::CapGive {
            target: match x[3] {
                GIVE_BY_DISPATCHER_CAP => GiveTarget::Capability(a(x[0])?),
                GIVE_BY_INDEX => GiveTarget::Index(x[0]),
                _ => return Err(Error::InvalidArgument),
            },
            src: a(x[1])?,
            dest: a(x[2])?,
        },
        Call::VnodeMap => {
            let entry = vnode_entry(x[1])?;
            Request::VnodeMap {
                vnode: a(x[0])?,
                entry,
                frame: a(x[2])?,
                rights: mapping_rights(x[3])?,
                pages: mapping_pages(entry, x[4])?,
            }
        }
        Call::VnodeUnmap => Request::VnodeUnmap {
            vnode: a(x[0])?,
            entry: vnode_entry(x[1])?,
            broadcast: match x[2] {
                0 => false,
                syscall_abi::UNMAP_BROADCAST_TLBI => true,
                _ => return Err(Error::InvalidArgument),
            },
        },
        Call::VnodeInstall => Request::VnodeInstall { vnode: a(x[0])?, window: vnode_window(x[1])? },
        Call::VnodeProtect => Request::VnodeProtect {
            vnode: a(x[0])?,
            entry: vnode_entry(x[1])?,
            frame: a(x[2])?,
            rights: mapping_rights(x[3])?,
        },
        Call::Spawn => Request::Spawn { module: a(x[0])?, ram: a(x[1])?, dest: a(x[2])?, arg: x[3] },
        Call::SpawnJoined => Request::SpawnJoined {
            module: a(x[0])?,
            ram: a(x[1])?,
            dest: a(x[2])?,
            image: a(x[3])?,
            arg: x[4],
        },
        Call::DispatcherImage => Request::DispatcherImage { dispatcher: a(x[0])?, dest: a(x[1])? },
        Call::ConsoleTakeOver => Request::ConsoleTakeOver { failed: (x[0] != u64::MAX).then_some(x[0]) },
        Call::InjectFault => Request::InjectFault {
            park: match x[0] {
                FAULT_KERNEL_PANIC => false,
                FAULT_PARK_MASKED => true,
                _ => return Err(Error::InvalidArgument),
            },
        },
        Call::IrqClaim => Request::IrqClaim { irq: a(x[0])? },
        Call::IrqAck => Request::IrqAck { irq: a(x[0])? },
        Call::DispatcherStop => Request::DispatcherStop { dispatcher: a(x[0])? },
        Call::CoreBoot => {
            Request::CoreBoot { core: x[0], build: a(x[1])?, region: a(x[2])?, share: a(x[3])? }
        }
        Call::DispatcherStatus => Request::DispatcherStatus { dispatcher: a(x[0])? },
        Call::CoreOff => Request::CoreOff,
        Call::CoreReclaim => Request::CoreReclaim { core: x[0] },
        Call::EndpointCreate => Request::EndpointCreate { dispatcher: a(x[0])?, badge: x[1], dest: a(x[2])? },
        Call::ModuleInfo => Request::ModuleInfo { module: a(x[0])? },
        Call::CapExport => Request::CapExport { addr: a(x[0])? },
        Call::CapReceive => Request::CapReceive { dest: a(x[0])?, described: described(x[1], x[2], x[3])? },
        Call::CapSweep => Request::CapSweep { described: described(x[0], x[1], x[2])? },
        Call::CapRevokeAgreed => Request::CapRevokeAgreed { addr: a(x[0])? },
        Call::CapOwner => Request::CapOwner { addr: a(x[0])? },
        Call::CapProtect => Request::CapProtect {
            described: described(x[0], x[1], x[2])?,
            rights: Rights::from_bits(x[3]).ok_or(Error::InvalidArgument)?,
        },
        Call::LineSend => Request::LineSend { endpoint: a(x[0])? },
        Call::LineSendLines => {
            Request::LineSendLines { endpoint: a(x[0])?, lines: line_buffer(x[1])?, count: line_count(x[2])? }
        }
        Call::LineRecv => Request::LineRecv { which: line_take(x[0], x[1])? },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: fn(CapError) -> Error = |e| Error::Capability(e.code());

    #[test]
    fn every_call_number_decodes_and_unknown_ones_are_no_such_call() {
        for number in 0..64u64 {
            let decoded = decode(number, [0, 1, 2, 1, 1, 3]);
            match Call::from_raw(number) {
                Some(_) => assert!(
                    decoded.is_ok()
                        || matches!(
                            decoded,
                            Err(Error::InvalidArgument | Error::BadAddress | Error::Capability(_))
                        ),
                    "call {number}: {decoded:?}"
                ),
                None => assert_eq!(decoded, Err(Error::NoSuchCall), "call {number}"),
            }
        }
        assert_eq!(decode(u64::MAX, [0; 6]), Err(Error::NoSuchCall));
    }

    #[test]
    fn unmap_takes_the_broadcast_flag_and_refuses_others() {
        let unmap = Call::VnodeUnmap as u64;
        let vnode = CapAddr::from_raw(15);
        assert_eq!(
            decode(unmap, [15, 3, 0, 0, 0, 0]),
            Ok(Request::VnodeUnmap { vnode, entry: 3, broadcast: false })
        );
        let broadcast = syscall_abi::UNMAP_BROADCAST_TLBI;
        assert_eq!(
            decode(unmap, [15, 3, broadcast, 0, 0, 0]),
            Ok(Request::VnodeUnmap { vnode, entry: 3, broadcast: true })
        );
        assert_eq!(decode(unmap, [15, 3, 2, 0, 0, 0]), Err(Error::InvalidArgument));
    }

    #[test]
    fn spawn_joined_and_dispatcher_image_decode_their_addresses() {
        let joined = Call::SpawnJoined as u64;
        let a = CapAddr::from_raw;
        assert_eq!(
            decode(joined, [48, 37, 38, 30, 7, 0]),
            Ok(Request::SpawnJoined { module: a(48), ram: a(37), dest: a(38), image: a(30), arg: 7 })
        );
        assert_eq!(decode(joined, [48, 37, 38, 1 << 33, 7, 0]), Err(CAP(CapError::InvalidAddress)));
        let image = Call::DispatcherImage as u64;
        assert_eq!(
            decode(image, [20, 30, 0, 0, 0, 0]),
            Ok(Request::DispatcherImage { dispatcher: a(20), dest: a(30) })
        );
    }

    #[test]
    fn irq_and_stop_calls_decode_their_addresses() {
        let a = CapAddr::from_raw;
        assert_eq!(decode(Call::IrqClaim as u64, [16, 0, 0, 0, 0, 0]), Ok(Request::IrqClaim { irq: a(16) }));
        assert_eq!(decode(Call::IrqAck as u64, [16, 0, 0, 0, 0, 0]), Ok(Request::IrqAck { irq: a(16) }));
        assert_eq!(
            decode(Call::DispatcherStop as u64, [21, 0, 0, 0, 0, 0]),
            Ok(Request::DispatcherStop { dispatcher: a(21) })
        );
        assert_eq!(
            decode(Call::IrqClaim as u64, [1 << 33, 0, 0, 0, 0, 0]),
            Err(CAP(CapError::InvalidAddress))
        );
        assert_eq!(decode(42, [0; 6]), Err(Error::NoSuchCall), "42 names no call");
    }

    #[test]
    fn the_input_line_call_takes_enter_as_0_or_1_only() {
        let call = Call::ConsoleInputLine as u64;
        assert_eq!(call, 50);
        assert_eq!(
            decode(call, [0x1000, 6, 4, 0, 0, 0]),
            Ok(Request::ConsoleInputLine { ptr: 0x1000, len: 6, cursor: 4, enter: false })
        );
        assert_eq!(
            decode(call, [0x1000, 6, 6, 1, 0, 0]),
            Ok(Request::ConsoleInputLine { ptr: 0x1000, len: 6, cursor: 6, enter: true })
        );
        assert_eq!(decode(call, [0x1000, 6, 6, 2, 0, 0]), Err(Error::InvalidArgument));
    }

    #[test]
    fn capability_addresses_wider_than_32_bits_are_malformed() {
        let copy = Call::CapCopy as u64;
        assert_eq!(
            decode(copy, [5, 6, 0, 0, 0, 0]),
            Ok(Request::CapCopy { src: CapAddr::from_raw(5), dest: CapAddr::from_raw(6) })
        );
        assert_eq!(decode(copy, [1 << 32, 6, 0, 0, 0, 0]), Err(CAP(CapError::InvalidAddress)));
        assert_eq!(decode(copy, [5, u64::MAX, 0, 0, 0, 0]), Err(CAP(CapError::InvalidAddress)));
        let retype = Call::CapRetype as u64;
        assert_eq!(decode(retype, [1, 2, 0, 4096, 1, 1 << 40]), Err(CAP(CapError::InvalidAddress)));
        assert_eq!(decode(retype, [1, 99, 0, 4096, 1, 20]), Err(Error::InvalidArgument), "no such type");
    }

    #[test]
    fn described_capabilities_are_checked_before_the_kernel_sees_them() {
        let receive = Call::CapReceive as u64;
        let frame = syscall_abi::describe(CapType::Frame as u64, 0b11, 3);
        let want = Capability::memory(CapType::Frame, 0x4000_0000, 0x2000)
            .unwrap()
            .reduced(Rights::from_bits(0b11).unwrap());
        assert_eq!(
            decode(receive, [20, frame, 0x4000_0000, 0x2000, 0, 0]),
            Ok(Request::CapReceive {
                dest: CapAddr::from_raw(20),
                described: Described { capability: want, owner: 3 }
            })
        );
        // Misaligned, zero-sized, unknown type, unknown rights bits, a word with high bits.
        assert_eq!(decode(receive, [20, frame, 0x4000_0800, 0x2000, 0, 0]), Err(CAP(CapError::Misaligned)));
        assert_eq!(decode(receive, [20, frame, 0x4000_0000, 0, 0, 0]), Err(CAP(CapError::InvalidSize)));
        let sweep = Call::CapSweep as u64;
        assert_eq!(
            decode(sweep, [syscall_abi::describe(99, 1, 0), 0, 4096, 0, 0, 0]),
            Err(Error::InvalidArgument)
        );
        assert_eq!(
            decode(sweep, [syscall_abi::describe(2, 0x80, 0), 0, 4096, 0, 0, 0]),
            Err(Error::InvalidArgument)
        );
        assert_eq!(decode(sweep, [1 << 50, 0, 4096, 0, 0, 0]), Err(Error::InvalidArgument));
        // Types that are not memory cannot be described at all.
        assert_eq!(
            decode(sweep, [syscall_abi::describe(CapType::Kernel as u64, 1, 0), 0, 1, 0, 0, 0]),
            Err(CAP(CapError::WrongType))
        );
    }

    #[test]
    fn mappings_keep_w_xor_x_and_ask_read_always() {
        assert_eq!(
            mapping_rights(1).unwrap(),
            MappingRights { rights: Rights::READ, access: Access::ReadOnly }
        );
        assert_eq!(mapping_rights(0).unwrap().rights, Rights::READ, "read is always needed");
        assert_eq!(mapping_rights(3).unwrap().access, Access::ReadWrite);
        assert_eq!(mapping_rights(2).unwrap().rights, Rights::READ.union(Rights::WRITE));
        assert_eq!(mapping_rights(5).unwrap().access, Access::Execute);
        for bad in [6, 7, 8, 9, 16, u64::MAX] {
            assert_eq!(mapping_rights(bad), Err(CAP(CapError::InvalidArgument)), "rights {bad:#b}");
        }
    }

    #[test]
    fn a_mapping_has_pages_and_stays_in_its_table() {
        assert_eq!(mapping_pages(0, 1), Ok(1));
        assert_eq!(mapping_pages(0, 512), Ok(512));
        assert_eq!(mapping_pages(511, 1), Ok(1));
        assert_eq!(mapping_pages(511, 2), Err(CAP(CapError::IndexOutOfRange)));
        assert_eq!(mapping_pages(8, u64::MAX), Err(CAP(CapError::IndexOutOfRange)));
        assert_eq!(mapping_pages(8, 0), Err(CAP(CapError::InvalidArgument)));
        let map = decode(Call::VnodeMap as u64, [15, 500, 20, 3, 12, 0]).unwrap();
        assert_eq!(
            map,
            Request::VnodeMap {
                vnode: CapAddr::from_raw(15),
                entry: 500,
                frame: CapAddr::from_raw(20),
                rights: MappingRights {
                    rights: Rights::READ.union(Rights::WRITE),
                    access: Access::ReadWrite
                },
                pages: 12
            }
        );
        assert_eq!(
            decode(Call::VnodeMap as u64, [15, 500, 20, 3, 13, 0]),
            Err(CAP(CapError::IndexOutOfRange))
        );
    }

    #[test]
    fn table_indices_and_windows_are_checked() {
        assert_eq!(vnode_entry(0), Ok(0));
        assert_eq!(vnode_entry(511), Ok(511));
        assert_eq!(vnode_entry(512), Err(CAP(CapError::IndexOutOfRange)));
        assert_eq!(vnode_entry(u64::MAX), Err(CAP(CapError::IndexOutOfRange)));
        assert_eq!(vnode_window(0), Err(CAP(CapError::IndexOutOfRange)), "window 0 is the kernel's");
        assert_eq!(vnode_window(1), Ok(1));
        assert_eq!(vnode_window(512), Err(CAP(CapError::IndexOutOfRange)));
    }

    #[test]
    fn selectors_and_flags_outside_their_sets_are_refused() {
        assert_eq!(decode(Call::Info as u64, [999, 0, 0, 0, 0, 0]), Err(Error::NoSuchCall));
        assert_eq!(decode(Call::MapChannel as u64, [1, 7, 0, 0, 0, 0]), Err(Error::InvalidArgument));
        assert_eq!(decode(Call::PowerOff as u64, [2, 0, 0, 0, 0, 0]), Err(Error::InvalidArgument));
        let inject = Call::InjectFault as u64;
        assert_eq!(
            decode(inject, [FAULT_PARK_MASKED, 0, 0, 0, 0, 0]),
            Ok(Request::InjectFault { park: true })
        );
        assert_eq!(
            decode(inject, [FAULT_KERNEL_PANIC, 0, 0, 0, 0, 0]),
            Ok(Request::InjectFault { park: false })
        );
        assert_eq!(decode(inject, [2, 0, 0, 0, 0, 0]), Err(Error::InvalidArgument));
        assert_eq!(decode(Call::PowerOff as u64, [1, 0, 0, 0, 0, 0]), Ok(Request::PowerOff { failed: true }));
        assert_eq!(decode(Call::CapMint as u64, [1, 2, 1 << 9, 0, 0, 0]), Err(Error::InvalidArgument));
        assert_eq!(decode(Call::CapGive as u64, [1, 2, 3, 7, 0, 0]), Err(Error::InvalidArgument));
        assert_eq!(
            decode(Call::CapGive as u64, [1 << 40, 2, 3, GIVE_BY_INDEX, 0, 0]),
            Ok(Request::CapGive {
                target: GiveTarget::Index(1 << 40),
                src: CapAddr::from_raw(2),
                dest: CapAddr::from_raw(3)
            }),
            "an index is not an address: the handler checks it"
        );
    }

    /// Any register values: a request or an error, never a panic (a cheap xorshift sweep over
    /// every call with values near the edges and random ones).
    #[test]
    fn no_register_values_make_decoding_panic() {
        let edges = [0, 1, 2, 3, 4, 7, 8, 15, 16, 511, 512, 4096, u32::MAX as u64, 1 << 32, u64::MAX];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state.is_multiple_of(3) {
                edges[(state >> 8) as usize % edges.len()]
            } else {
                state
            }
        };
        for number in 0..50u64 {
            for _ in 0..2000 {
                let x = [next(), next(), next(), next(), next(), next()];
                let _ = decode(number, x);
            }
        }
    }

    #[test]
    fn line_calls_check_count_buffer_and_selector() {
        let a = CapAddr::from_raw;
        let send = Call::LineSend as u64;
        assert_eq!(decode(send, [20, 1, 2, 3, 4, 5]), Ok(Request::LineSend { endpoint: a(20) }));
        assert_eq!(decode(send, [1 << 32, 0, 0, 0, 0, 0]), Err(CAP(CapError::InvalidAddress)));
        let lines = Call::LineSendLines as u64;
        assert_eq!(
            decode(lines, [20, 0x1000, 8, 0, 0, 0]),
            Ok(Request::LineSendLines { endpoint: a(20), lines: 0x1000, count: 8 })
        );
        assert_eq!(decode(lines, [20, 0x1000, 0, 0, 0, 0]), Err(Error::InvalidArgument));
        assert_eq!(decode(lines, [20, 0x1000, 9, 0, 0, 0]), Err(Error::InvalidArgument));
        assert_eq!(decode(lines, [20, 0x1004, 1, 0, 0, 0]), Err(Error::BadAddress));
        let recv = Call::LineRecv as u64;
        assert_eq!(decode(recv, [5, 0, 0, 0, 0, 0]), Ok(Request::LineRecv { which: Take::Any }));
        assert_eq!(decode(recv, [5, 1, 0, 0, 0, 0]), Ok(Request::LineRecv { which: Take::Badge(5) }));
        assert_eq!(decode(recv, [5, 2, 0, 0, 0, 0]), Err(Error::InvalidArgument));
    }
}
