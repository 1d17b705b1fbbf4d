//! The capability system's check at EL0: one instance on every core (`selftest` on the kernel
//! command line). It registers with its monitor, which gives it with `cap_give` two RAM
//! capabilities of its own (at `SLOT_FIRST_RAM`, for its checks, and `SLOT_FIRST_RAM + 1`, for
//! the children it spawns) and the `selftest` module capability (at `SLOT_FIRST_MODULE`); then
//! it runs each check through the system calls, prints `selftest <core> <name>: ok` or
//! `selftest <core> <name>: FAILED <why>` per check, and reports its counts to its monitor,
//! which forwards them to the boot core's monitor for the summary.
//!
//! The mapping checks (`map-*`, `unmap-then-remap`, `delete-unmaps`, `revoke-unmaps`) map
//! Frames through this program's own level-3 VNode (`SLOT_VNODE`), `vnode-install-own` through
//! one it retypes from its RAM and installs; they touch a page only while `vnode_map` has it
//! mapped. What needs a program to be stopped, or to hold fewer rights, runs in a child: the
//! `child-*` checks spawn this same program (`spawn` with the module capability, out of a RAM
//! piece, the child's role in the start argument), equip it through the Dispatcher capability
//! `spawn` gave, and learn how it ended with `dispatcher_status`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_code)]

extern crate alloc;

mod bind;
mod lines;
mod span;

use alloc::format;
use alloc::string::String;

use local_protocol::{self as local, ToProgram, SERVICE_SELFTEST};
use userland::{
    cap_copy, cap_delete, cap_give, cap_identify, cap_mint, cap_retype, cap_revoke, cap_type,
    dispatcher_status, endpoint_create, info, module_info, println, spawn, vnode_install, vnode_map,
    vnode_map_pages, vnode_protect, vnode_unmap, CapInfo, DispatcherStatus, Error, Info, CNODE_SLOTS,
    SLOT_FIRST_FREE, SLOT_FIRST_MODULE, SLOT_FIRST_RAM, SLOT_KERNEL, SLOT_MONITOR, SLOT_VNODE,
    USER_MAPPABLE_BASE, VNODE_ENTRIES, VNODE_WINDOW_BYTES,
};

/// Allocate/free rounds of the `alloc-free` check: a million on the boot core; a tenth of that
/// on the others, because a million took 34 to 46 s per core under QEMU with six vCPUs on a
/// two-core host (README, "Resource model"), so on every core at once it would take minutes.
const ROUNDS_BOOT_CORE: u64 = 1_000_000;
const ROUNDS: u64 = 100_000;
/// The check's name, with its round count.
const ALLOC_FREE_BOOT_CORE: &str = "alloc-free-1000000";
const ALLOC_FREE: &str = "alloc-free-100000";

/// The RAM capability the monitor gave for the checks.
const RAM: u32 = SLOT_FIRST_RAM;
/// The RAM capability the monitor gave for children: `CHILD_RAM_BYTES` of it become each
/// child, the pages after that the Frames given to children.
const CHILD_RAM_SOURCE: u32 = SLOT_FIRST_RAM + 1;
/// The `selftest` module capability the monitor gave.
const MODULE: u32 = SLOT_FIRST_MODULE;
/// Slots of the child checks: the child's Dispatcher capability, a read-only copy of it, the
/// RAM piece it is built from, Frames for it, RAM pieces `spawn` must refuse.
const CHILD: u32 = SLOT_FIRST_FREE + 12;
const CHILD_READ_ONLY: u32 = SLOT_FIRST_FREE + 13;
const CHILD_RAM: u32 = SLOT_FIRST_FREE + 14;
const SHARED: u32 = SLOT_FIRST_FREE + 15;
const SHARED_READ_ONLY: u32 = SLOT_FIRST_FREE + 16;
const BAD_RAM: u32 = SLOT_FIRST_FREE + 17;
const BAD_MODULE: u32 = SLOT_FIRST_FREE + 18;
/// Bytes a child is spawned from (this program, with its 64 KiB heap, needs about 270 KiB).
const CHILD_RAM_BYTES: u64 = 384 << 10;
/// Where a child finds the capability its parent gives it.
const GIVEN: u32 = SLOT_FIRST_FREE;
/// Parent to child (`send_local`): the capability is in place, go.
const CHILD_GO: u64 = 0x6368_696c_645f_676f;
/// The badge of the parent's Endpoint to its child: the child takes its go only through it.
const PARENT_BADGE: u64 = 0x7061_7265_6e74;
/// Where the parent makes its Endpoint to the child (from the child's Dispatcher capability).
const CHILD_ENDPOINT: u32 = SLOT_FIRST_FREE + 19;
/// Seconds a parent waits for its child to end, and a child for its parent's go.
const CHILD_TIMEOUT_SECONDS: u64 = 10;
/// The child roles (the start argument; 0 is the parent, spawned by the monitor).
const ROLE_FEWER_RIGHTS: u64 = 1;
const ROLE_ACCESS_AFTER_UNMAP: u64 = 2;
const ROLE_WRITE_AFTER_PROTECT: u64 = 3;
/// A word the parent writes for the child to read.
const SHARED_WORD: u64 = 0x0123_4567_89ab_cdef;
/// Exception class of a data abort from EL0 (`ESR_EL1.EC`).
const EC_DATA_ABORT_LOWER: u64 = 0x24;
/// Free slots of this program's own (in the level-2 CNode, from `SLOT_FIRST_FREE`).
const FRAMES: u32 = SLOT_FIRST_FREE; // four frames: 16..19
const SPARE: u32 = SLOT_FIRST_FREE + 4;
const MINTED: u32 = SLOT_FIRST_FREE + 5;
const MINTED_AGAIN: u32 = SLOT_FIRST_FREE + 6;
const COPY: u32 = SLOT_FIRST_FREE + 7;
/// Frames of the mapping checks.
const MAP_A: u32 = SLOT_FIRST_FREE + 8;
const MAP_B: u32 = SLOT_FIRST_FREE + 9;
/// Level-3 VNodes this program retypes from its RAM and installs.
const VN_A: u32 = SLOT_FIRST_FREE + 10;
const VN_B: u32 = SLOT_FIRST_FREE + 11;
/// CNodes (4 KiB, 64 slots each) the `capability-limit-refused` check retypes into root slots
/// 1 and up, from this page of the RAM on: room for 1,536 copies, 3,072 units of the core's
/// limit, three times the CPU driver's `CAPABILITY_LIMIT` (1,024).
const LIMIT_CNODES: u16 = 24;
const LIMIT_CNODES_PAGE: u64 = 16;
/// This program's own level-3 VNode.
const VNODE: u32 = SLOT_VNODE;
/// Words of a page.
const PAGE_WORDS: usize = 512;

const PAGE: u64 = 4096;
const READ: u64 = 1;
const WRITE: u64 = 2;
const EXECUTE: u64 = 4;

/// `caps::CapError` codes the checks expect (`caps/src/error.rs`).
mod code {
    pub const INVALID_ADDRESS: u8 = 1;
    pub const INDEX_OUT_OF_RANGE: u8 = 2;
    pub const NOT_A_CNODE: u8 = 3;
    pub const EMPTY_SLOT: u8 = 4;
    pub const SLOT_OCCUPIED: u8 = 5;
    pub const WRONG_TYPE: u8 = 7;
    pub const DENIED: u8 = 15;
    pub const INVALID_ARGUMENT: u8 = 16;
    pub const ALREADY_RETYPED: u8 = 12;
    pub const OVERLAP: u8 = 13;
    pub const RIGHTS_EXCEEDED: u8 = 14;
    pub const OUT_OF_BOUNDS: u8 = 11;
    pub const OUT_OF_CAPABILITIES: u8 = 17;
}

/// The address of slot `index` of this program's root CNode (a level-1 address).
fn level1(index: u16) -> u32 {
    0x8000_0000 | (u32::from(index) << 8)
}

type Check = Result<(), String>;
/// A named check.
type NamedCheck = (&'static str, fn(&Selftest) -> Check);

/// Fails the check unless `result` is the capability error `expected`.
fn refused<T: core::fmt::Debug>(what: &str, result: Result<T, Error>, expected: &[u8]) -> Check {
    match result {
        Err(Error::Capability(c)) if expected.contains(&c) => Ok(()),
        other => Err(format!("{what}: expected capability error {expected:?}, got {other:?}")),
    }
}

/// Fails the check unless `result` is the error `expected` (one that is not a capability
/// error: `Denied`, `InvalidArgument`).
fn refused_with<T: core::fmt::Debug>(what: &str, result: Result<T, Error>, expected: Error) -> Check {
    match result {
        Err(e) if e == expected => Ok(()),
        other => Err(format!("{what}: expected {expected:?}, got {other:?}")),
    }
}

fn ok<T>(what: &str, result: Result<T, Error>) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e:?}"))
}

fn frame(slot: u32) -> Result<CapInfo, String> {
    let cap = ok("identify", cap_identify(slot))?;
    if cap.kind != cap_type::FRAME {
        return Err(format!("slot {slot} holds type {} instead of a Frame", cap.kind));
    }
    Ok(cap)
}

/// Maps `frame` at `entry` with `rights`, checking the address the kernel says it used.
fn map(entry: u64, frame: u32, rights: u64) -> Result<u64, String> {
    let va = ok("vnode_map", vnode_map(VNODE, entry, frame, rights))?;
    if va != USER_MAPPABLE_BASE + entry * PAGE {
        return Err(format!("vnode_map returned {va:#x} for entry {entry}"));
    }
    Ok(va)
}

/// The words of the page at `va`.
///
/// Only ever called with an address `map` just returned, and the result is used only before
/// that entry is unmapped (and before the Frame capability is deleted or revoked): the page is
/// mapped for this program the whole time.
#[allow(unsafe_code)]
fn words(va: u64) -> &'static mut [u64; PAGE_WORDS] {
    // SAFETY: as above: `va` is a page the kernel mapped read (and, where written, write) for
    // this program at `vnode_map`'s return and keeps mapped until `vnode_unmap`; nothing else
    // in this program refers to it. Reads through a read-only mapping are all these checks do
    // with one.
    unsafe { &mut *(va as *mut [u64; PAGE_WORDS]) }
}

fn pattern(i: usize) -> u64 {
    0x5a5a_0000_0000_0000 | (i as u64).wrapping_mul(0x9e37_79b9)
}

struct Selftest {
    ram: CapInfo,
    /// Rounds of the `alloc-free` check on this core.
    rounds: u64,
}

impl Selftest {
    /// RAM into four one-page Frames: each is a Frame inside the RAM with the RAM's rights.
    fn retype_frames(&self) -> Check {
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 4, FRAMES))?;
        for i in 0..4 {
            let cap = frame(FRAMES + i)?;
            let expected = CapInfo {
                kind: cap_type::FRAME,
                base: self.ram.base + u64::from(i) * PAGE,
                size: PAGE,
                rights: self.ram.rights,
            };
            if cap != expected {
                return Err(format!("frame {i} is {cap:?}, expected {expected:?}"));
            }
        }
        Ok(())
    }

    /// The same range again, and a range overlapping it, are refused.
    fn double_retype_refused(&self) -> Check {
        let again = cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, SPARE);
        refused("same range", again, &[code::ALREADY_RETYPED, code::OVERLAP])?;
        let overlapping = cap_retype(RAM, cap_type::FRAME, 3 * PAGE, 2 * PAGE, 1, SPARE);
        refused("overlapping range", overlapping, &[code::ALREADY_RETYPED, code::OVERLAP])?;
        refused("slot left empty", cap_identify(SPARE), &[code::EMPTY_SLOT])
    }

    /// Addresses that name nothing are refused with the reason, never a fault.
    fn forged_address_refused(&self) -> Check {
        refused("reserved bits", cap_identify(0x7f00_0010), &[code::INVALID_ADDRESS])?;
        refused("level-1 address with a level-2 index", cap_identify(0x8000_0001), &[code::INVALID_ADDRESS])?;
        refused("root slot without a CNode", cap_identify(userland::cap_addr(7, 0)), &[code::NOT_A_CNODE])?;
        refused(
            "root slot beyond the root",
            cap_identify(userland::cap_addr(0x8000, 0)),
            &[code::INDEX_OUT_OF_RANGE],
        )?;
        refused("index beyond the CNode", cap_identify(CNODE_SLOTS + 10), &[code::INDEX_OUT_OF_RANGE])?;
        refused("empty slot", cap_identify(CNODE_SLOTS - 1), &[code::EMPTY_SLOT])?;
        refused(
            "retype from a forged source",
            cap_retype(u32::MAX, cap_type::FRAME, 0, PAGE, 1, SPARE),
            &[code::INVALID_ADDRESS],
        )?;
        refused("delete of a forged address", cap_delete(0x7fff_ffff), &[code::INVALID_ADDRESS])?;
        refused("copy to a forged address", cap_copy(FRAMES, 0x0100_0000), &[code::INVALID_ADDRESS])
    }

    /// A deleted capability's address is refused by every call afterwards.
    fn stale_after_delete_refused(&self) -> Check {
        let last = FRAMES + 3;
        ok("delete", cap_delete(last))?;
        refused("identify", cap_identify(last), &[code::EMPTY_SLOT])?;
        refused("copy", cap_copy(last, SPARE), &[code::EMPTY_SLOT])?;
        refused("mint", cap_mint(last, SPARE, READ), &[code::EMPTY_SLOT])?;
        refused("delete", cap_delete(last), &[code::EMPTY_SLOT])?;
        refused("revoke", cap_revoke(last), &[code::EMPTY_SLOT])
    }

    /// A read-only copy: allowed, and identify shows the fewer rights.
    fn mint_fewer_rights(&self) -> Check {
        ok("mint", cap_mint(FRAMES, MINTED, READ))?;
        let cap = frame(MINTED)?;
        if cap.rights != READ {
            return Err(format!("minted rights {:#x}, expected {READ:#x}", cap.rights));
        }
        Ok(())
    }

    /// Rights never grow: a write right from a read-only capability is refused.
    fn mint_more_rights_refused(&self) -> Check {
        refused("mint", cap_mint(MINTED, MINTED_AGAIN, READ | WRITE), &[code::RIGHTS_EXCEEDED])?;
        refused("slot left empty", cap_identify(MINTED_AGAIN), &[code::EMPTY_SLOT])
    }

    /// Revoking a Frame removes its copies; revoking the RAM removes every Frame made from it.
    fn revoke_removes_copies(&self) -> Check {
        ok("copy", cap_copy(FRAMES, COPY))?;
        ok("revoke frame", cap_revoke(FRAMES))?;
        frame(FRAMES).map_err(|e| format!("the revoked capability itself must stay: {e}"))?;
        refused("minted copy after revoke", cap_identify(MINTED), &[code::EMPTY_SLOT])?;
        refused("copy after revoke", cap_identify(COPY), &[code::EMPTY_SLOT])?;
        ok("revoke RAM", cap_revoke(RAM))?;
        for slot in FRAMES..FRAMES + 3 {
            refused("frame after revoking its RAM", cap_identify(slot), &[code::EMPTY_SLOT])?;
        }
        let ram = ok("identify RAM", cap_identify(RAM))?;
        if ram != self.ram {
            return Err(format!("the RAM changed: {ram:?}"));
        }
        Ok(())
    }

    /// Memory is free again once its last Frame goes: the whole RAM retypes afterwards.
    fn delete_last_frees(&self) -> Check {
        ok("retype one frame", cap_retype(RAM, cap_type::FRAME, 2 * PAGE, PAGE, 1, FRAMES))?;
        let whole = cap_retype(RAM, cap_type::FRAME, 0, self.ram.size, 1, SPARE);
        refused("whole RAM while a frame lives", whole, &[code::ALREADY_RETYPED])?;
        ok("delete the frame", cap_delete(FRAMES))?;
        ok("whole RAM after the delete", cap_retype(RAM, cap_type::FRAME, 0, self.ram.size, 1, SPARE))?;
        let cap = frame(SPARE)?;
        if (cap.base, cap.size) != (self.ram.base, self.ram.size) {
            return Err(format!("whole-RAM frame is {cap:?}"));
        }
        ok("delete the whole frame", cap_delete(SPARE))
    }

    /// Allocate a frame and free it, many times: nothing runs out.
    fn alloc_free(&self) -> Check {
        for round in 0..self.rounds {
            cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, FRAMES)
                .map_err(|e| format!("round {round}: retype: {e:?}"))?;
            cap_delete(FRAMES).map_err(|e| format!("round {round}: delete: {e:?}"))?;
        }
        Ok(())
    }

    /// A fresh Frame mapped read-write: a pattern written through the mapping reads back.
    fn map_write_read(&self) -> Check {
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, MAP_A))?;
        let page = words(map(0, MAP_A, READ | WRITE)?);
        for (i, word) in page.iter_mut().enumerate() {
            *word = pattern(i);
        }
        let bad = page.iter().enumerate().find(|&(i, &w)| w != pattern(i));
        ok("unmap", vnode_unmap(VNODE, 0))?;
        ok("delete", cap_delete(MAP_A))?;
        match bad {
            Some((i, w)) => Err(format!("word {i} reads {w:#x}, wrote {:#x}", pattern(i))),
            None => Ok(()),
        }
    }

    /// Code written into a Frame through a read-write mapping runs once the Frame is mapped
    /// executable instead (W^X: never both at once): the kernel makes the page's instructions
    /// visible to fetches (data cache cleaned to the point of unification, instruction cache
    /// invalidated) when it maps it executable.
    fn map_executable_runs(&self) -> Check {
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, MAP_A))?;
        let page = words(map(4, MAP_A, READ | WRITE)?);
        // mov x0, #42 ; ret
        page[0] = u64::from(0xd280_0540u32) | (u64::from(0xd65f_03c0u32) << 32);
        ok("unmap the writable mapping", vnode_unmap(VNODE, 4))?;
        let code = map(5, MAP_A, READ | EXECUTE)?;
        let returned = call_code(code);
        ok("unmap", vnode_unmap(VNODE, 5))?;
        ok("delete", cap_delete(MAP_A))?;
        match returned {
            42 => Ok(()),
            other => Err(format!("the code returned {other}, expected 42")),
        }
    }

    /// A four-page Frame maps as one mapping of four entries, each page where it belongs: a
    /// pattern written through one mapping reads back, page by page, through another made
    /// after unmapping the first by one of its middle entries. A mapping needs at least one
    /// page, no more than the Frame has, and room in the table, and every entry empty:
    /// refused, nothing is mapped.
    fn map_multi_page_frame(&self) -> Check {
        const PAGES: u64 = 4;
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGES * PAGE, 1, MAP_A))?;
        refused("no pages", vnode_map_pages(VNODE, 8, MAP_A, READ, 0), &[code::INVALID_ARGUMENT])?;
        refused(
            "more pages than the Frame",
            vnode_map_pages(VNODE, 8, MAP_A, READ, PAGES + 1),
            &[code::OUT_OF_BOUNDS],
        )?;
        refused(
            "past the table",
            vnode_map_pages(VNODE, 510, MAP_A, READ, PAGES),
            &[code::INDEX_OUT_OF_RANGE],
        )?;
        ok("retype a page", cap_retype(RAM, cap_type::FRAME, PAGES * PAGE, PAGE, 1, MAP_B))?;
        map(10, MAP_B, READ)?;
        refused("over a used entry", vnode_map_pages(VNODE, 8, MAP_A, READ, PAGES), &[code::SLOT_OCCUPIED])?;
        ok("unmap the page", vnode_unmap(VNODE, 10))?;
        let first = ok("map four pages", vnode_map_pages(VNODE, 8, MAP_A, READ | WRITE, PAGES))?;
        for page in 0..PAGES {
            words(first + page * PAGE)[0] = pattern(page as usize);
        }
        ok("unmap by a middle entry", vnode_unmap(VNODE, 10))?;
        refused("the rest went with it", vnode_unmap(VNODE, 8), &[code::EMPTY_SLOT])?;
        let again = ok("map again", vnode_map_pages(VNODE, 20, MAP_A, READ, PAGES))?;
        let wrong = (0..PAGES).find(|&page| words(again + page * PAGE)[0] != pattern(page as usize));
        ok("unmap", vnode_unmap(VNODE, 23))?;
        ok("delete the page", cap_delete(MAP_B))?;
        ok("delete", cap_delete(MAP_A))?;
        match wrong {
            Some(page) => Err(format!("page {page} reads {:#x}", words(again)[0])),
            None => Ok(()),
        }
    }

    /// A freshly retyped Frame (the page the last check wrote a pattern into) reads as zeros.
    fn map_zeroed(&self) -> Check {
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, MAP_A))?;
        let page = words(map(1, MAP_A, READ)?);
        let nonzero = page.iter().position(|&w| w != 0);
        ok("unmap", vnode_unmap(VNODE, 1))?;
        ok("delete", cap_delete(MAP_A))?;
        match nonzero {
            Some(i) => Err(format!("word {i} of a fresh frame is not zero")),
            None => Ok(()),
        }
    }

    /// A Frame minted read-only cannot be mapped writable (nor executable): refused, not
    /// downgraded; read-only it maps.
    fn map_needs_write_right(&self) -> Check {
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, MAP_A))?;
        ok("mint read-only", cap_mint(MAP_A, MAP_B, READ))?;
        refused("writable", vnode_map(VNODE, 2, MAP_B, READ | WRITE), &[code::DENIED])?;
        refused("write only", vnode_map(VNODE, 2, MAP_B, WRITE), &[code::DENIED])?;
        refused("executable", vnode_map(VNODE, 2, MAP_B, READ | EXECUTE), &[code::DENIED])?;
        refused("entry left empty", vnode_unmap(VNODE, 2), &[code::EMPTY_SLOT])?;
        map(2, MAP_B, READ)?;
        ok("unmap", vnode_unmap(VNODE, 2))?;
        ok("delete copy", cap_delete(MAP_B))?;
        ok("delete", cap_delete(MAP_A))
    }

    /// Bad VNode and Frame addresses, the wrong types, bad entries and occupied entries are
    /// refused with their reasons.
    fn map_forged_refused(&self) -> Check {
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, MAP_A))?;
        let rw = READ | WRITE;
        refused("forged VNode address", vnode_map(0x7f00_0000, 3, MAP_A, rw), &[code::INVALID_ADDRESS])?;
        refused("empty VNode slot", vnode_map(CNODE_SLOTS - 1, 3, MAP_A, rw), &[code::EMPTY_SLOT])?;
        refused("RAM as the VNode", vnode_map(RAM, 3, MAP_A, rw), &[code::WRONG_TYPE])?;
        refused("Frame as the VNode", vnode_map(MAP_A, 3, MAP_A, rw), &[code::WRONG_TYPE])?;
        refused("forged Frame address", vnode_map(VNODE, 3, u32::MAX, rw), &[code::INVALID_ADDRESS])?;
        refused("empty Frame slot", vnode_map(VNODE, 3, CNODE_SLOTS - 1, rw), &[code::EMPTY_SLOT])?;
        refused("RAM as the Frame", vnode_map(VNODE, 3, RAM, rw), &[code::WRONG_TYPE])?;
        refused("VNode as the Frame", vnode_map(VNODE, 3, VNODE, READ), &[code::WRONG_TYPE])?;
        let past = VNODE_ENTRIES;
        refused("entry out of range", vnode_map(VNODE, past, MAP_A, rw), &[code::INDEX_OUT_OF_RANGE])?;
        refused(
            "entry far out of range",
            vnode_map(VNODE, u64::MAX, MAP_A, rw),
            &[code::INDEX_OUT_OF_RANGE],
        )?;
        refused("write and execute", vnode_map(VNODE, 3, MAP_A, rw | EXECUTE), &[code::INVALID_ARGUMENT])?;
        refused("unknown rights", vnode_map(VNODE, 3, MAP_A, 0x100), &[code::INVALID_ARGUMENT])?;
        map(3, MAP_A, rw)?;
        ok("copy", cap_copy(MAP_A, MAP_B))?;
        refused("occupied entry", vnode_map(VNODE, 3, MAP_B, rw), &[code::SLOT_OCCUPIED])?;
        refused("capability mapped already", vnode_map(VNODE, 4, MAP_A, rw), &[code::SLOT_OCCUPIED])?;
        refused("unmap an empty entry", vnode_unmap(VNODE, 4), &[code::EMPTY_SLOT])?;
        refused("unmap out of range", vnode_unmap(VNODE, past), &[code::INDEX_OUT_OF_RANGE])?;
        refused("unmap through RAM", vnode_unmap(RAM, 3), &[code::WRONG_TYPE])?;
        // A copy maps the same Frame at another entry.
        map(4, MAP_B, READ)?;
        ok("unmap", vnode_unmap(VNODE, 3))?;
        ok("unmap copy", vnode_unmap(VNODE, 4))?;
        ok("delete copy", cap_delete(MAP_B))?;
        ok("delete", cap_delete(MAP_A))
    }

    /// Unmap frees the entry and the capability: the same Frame maps there again, its
    /// contents kept.
    fn unmap_then_remap(&self) -> Check {
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, MAP_A))?;
        words(map(5, MAP_A, READ | WRITE)?)[7] = pattern(7);
        ok("unmap", vnode_unmap(VNODE, 5))?;
        refused("unmap again", vnode_unmap(VNODE, 5), &[code::EMPTY_SLOT])?;
        let again = words(map(5, MAP_A, READ)?)[7];
        ok("unmap", vnode_unmap(VNODE, 5))?;
        ok("delete", cap_delete(MAP_A))?;
        if again != pattern(7) {
            return Err(format!("after remapping the word reads {again:#x}"));
        }
        Ok(())
    }

    /// Deleting a mapped Frame's capability unmaps it: another Frame maps at its entry.
    fn delete_unmaps(&self) -> Check {
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 2, MAP_A))?;
        map(6, MAP_A, READ | WRITE)?;
        ok("delete the mapped frame", cap_delete(MAP_A))?;
        refused("its entry is empty", vnode_unmap(VNODE, 6), &[code::EMPTY_SLOT])?;
        map(6, MAP_B, READ | WRITE)?;
        ok("unmap", vnode_unmap(VNODE, 6))?;
        ok("delete", cap_delete(MAP_B))
    }

    /// Revoking the RAM a mapped Frame came from unmaps it: another Frame maps at its entry.
    fn revoke_unmaps(&self) -> Check {
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, MAP_A))?;
        map(7, MAP_A, READ | WRITE)?;
        ok("revoke RAM", cap_revoke(RAM))?;
        refused("the frame went", cap_identify(MAP_A), &[code::EMPTY_SLOT])?;
        refused("its entry is empty", vnode_unmap(VNODE, 7), &[code::EMPTY_SLOT])?;
        ok("retype", cap_retype(RAM, cap_type::FRAME, PAGE, PAGE, 1, MAP_B))?;
        map(7, MAP_B, READ)?;
        ok("unmap", vnode_unmap(VNODE, 7))?;
        ok("delete", cap_delete(MAP_B))
    }

    /// Copies of one Frame into CNodes of this program's own, until the core's limit on
    /// capabilities refuses one with exactly `OutOfCapabilities` (the kernel heap that holds
    /// them never runs out); the refused copy and a refused retype leave their slots empty;
    /// deleting the CNodes (their contents go with them) makes room, and the RAM retypes again.
    fn capability_limit_refused(&self) -> Check {
        ok("retype frame", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, COPY))?;
        let cnodes =
            cap_retype(RAM, cap_type::CNODE, LIMIT_CNODES_PAGE * PAGE, PAGE, LIMIT_CNODES.into(), level1(1));
        let result = ok("retype CNodes", cnodes).and_then(|_| self.fill_to_the_limit());
        // Tidy whatever happened: the CNodes (and every copy in them), the Frames.
        for index in 1..=LIMIT_CNODES {
            let _ = cap_delete(level1(index));
        }
        for slot in [COPY, SPARE, MINTED] {
            let _ = cap_delete(slot);
        }
        result?;
        ok("retype after deleting", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 4, FRAMES))?;
        for i in 0..4 {
            ok("delete", cap_delete(FRAMES + i))?;
        }
        Ok(())
    }

    /// Copies the Frame at `COPY` into every slot of the limit check's CNodes in turn until one
    /// is refused; checks the refusal.
    fn fill_to_the_limit(&self) -> Check {
        let mut made = 0u32;
        for index in 1..=LIMIT_CNODES {
            for slot in 0..CNODE_SLOTS as u8 {
                let dest = userland::cap_addr(index, slot);
                match cap_copy(COPY, dest) {
                    Ok(_) => made += 1,
                    Err(Error::Capability(code::OUT_OF_CAPABILITIES)) => {
                        refused("refused copy's slot", cap_identify(dest), &[code::EMPTY_SLOT])?;
                        // At most one unit is left (a copy into a fresh slot takes two): a
                        // retype into a slot whose table entry exists may take it, the next
                        // is refused and leaves its slot empty.
                        match cap_retype(RAM, cap_type::FRAME, PAGE, PAGE, 1, SPARE) {
                            Ok(_) | Err(Error::Capability(code::OUT_OF_CAPABILITIES)) => {}
                            other => return Err(format!("retype at the limit: {other:?}")),
                        }
                        let retype = cap_retype(RAM, cap_type::FRAME, 2 * PAGE, PAGE, 1, MINTED);
                        refused("retype at the limit", retype, &[code::OUT_OF_CAPABILITIES])?;
                        refused("refused retype's slot", cap_identify(MINTED), &[code::EMPTY_SLOT])?;
                        println!("capability limit: copy {} refused with OutOfCapabilities", made + 1);
                        return Ok(());
                    }
                    Err(e) => {
                        return Err(format!("copy {}: expected OutOfCapabilities, got {e:?}", made + 1))
                    }
                }
            }
        }
        Err(format!("no refusal after {made} copies: the limit is higher than this check reaches"))
    }

    /// A VNode retyped from the program's own RAM, installed in window 1, maps Frames (a
    /// pattern written through it reads back); bad installs are refused; deleting the VNode's
    /// capability unmaps its entries and frees the window; revoking its RAM does too.
    fn vnode_install_own(&self) -> Check {
        ok("retype VNode", cap_retype(RAM, cap_type::VNODE_L3, 0, PAGE, 1, VN_A))?;
        ok("retype frame", cap_retype(RAM, cap_type::FRAME, PAGE, PAGE, 1, MAP_A))?;
        refused("map into a VNode not installed", vnode_map(VN_A, 0, MAP_A, READ), &[code::DENIED])?;
        refused("window 0 (the kernel's)", vnode_install(VN_A, 0), &[code::INDEX_OUT_OF_RANGE])?;
        refused("window out of range", vnode_install(VN_A, VNODE_ENTRIES), &[code::INDEX_OUT_OF_RANGE])?;
        refused("a Frame as the VNode", vnode_install(MAP_A, 1), &[code::WRONG_TYPE])?;
        refused("RAM as the VNode", vnode_install(RAM, 1), &[code::WRONG_TYPE])?;
        let window = USER_MAPPABLE_BASE + VNODE_WINDOW_BYTES;
        let base = ok("install", vnode_install(VN_A, 1))?;
        if base != window {
            return Err(format!("installed at {base:#x}, expected {window:#x}"));
        }
        refused("installed twice", vnode_install(VN_A, 2), &[code::SLOT_OCCUPIED])?;
        ok("retype a second VNode", cap_retype(RAM, cap_type::VNODE_L3, 2 * PAGE, PAGE, 1, VN_B))?;
        refused("window in use", vnode_install(VN_B, 1), &[code::SLOT_OCCUPIED])?;
        refused("the kernel's VNode again", vnode_install(VNODE, 3), &[code::SLOT_OCCUPIED])?;
        let va = ok("map", vnode_map(VN_A, 9, MAP_A, READ | WRITE))?;
        if va != window + 9 * PAGE {
            return Err(format!("mapped at {va:#x}, expected {:#x}", window + 9 * PAGE));
        }
        words(va)[3] = pattern(3);
        let back = words(va)[3];
        if back != pattern(3) {
            return Err(format!("read back {back:#x}"));
        }
        // Deleting the installed VNode's only capability unmaps the frame (it maps again
        // elsewhere) and frees the window (another VNode installs there).
        ok("delete the installed VNode", cap_delete(VN_A))?;
        let again = words(map(10, MAP_A, READ)?)[3];
        ok("unmap", vnode_unmap(VNODE, 10))?;
        if again != pattern(3) {
            return Err(format!("the frame reads {again:#x} through the kernel's VNode"));
        }
        ok("install in the freed window", vnode_install(VN_B, 1))?;
        ok("map into it", vnode_map(VN_B, 0, MAP_A, READ))?;
        // Revoking the RAM removes the VNode and the frame: the window is free again.
        ok("revoke RAM", cap_revoke(RAM))?;
        ok("retype VNode", cap_retype(RAM, cap_type::VNODE_L3, 0, PAGE, 1, VN_A))?;
        ok("install after the revoke", vnode_install(VN_A, 1))?;
        ok("delete", cap_delete(VN_A))
    }

    /// A live read-write mapping made read-only through `vnode_protect` still reads what was
    /// written; only the Frame capability mapped there may change it, within its rights and
    /// W^X, and an empty entry has nothing to change.
    fn protect_reduces_rights(&self) -> Check {
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, MAP_A))?;
        ok("mint read-only", cap_mint(MAP_A, MAP_B, READ))?;
        let page = words(map(3, MAP_A, READ | WRITE)?);
        for (i, word) in page.iter_mut().enumerate() {
            *word = pattern(i);
        }
        refused("another capability", vnode_protect(VNODE, 3, MAP_B, READ), &[code::INVALID_ARGUMENT])?;
        refused(
            "write and execute",
            vnode_protect(VNODE, 3, MAP_A, READ | WRITE | EXECUTE),
            &[code::INVALID_ARGUMENT],
        )?;
        refused("empty entry", vnode_protect(VNODE, 7, MAP_A, READ), &[code::EMPTY_SLOT])?;
        refused("past the table", vnode_protect(VNODE, 512, MAP_A, READ), &[code::INDEX_OUT_OF_RANGE])?;
        ok("protect read-only", vnode_protect(VNODE, 3, MAP_A, READ))?;
        let bad = page.iter().enumerate().find(|&(i, &w)| w != pattern(i));
        if let Some((i, w)) = bad {
            return Err(format!("word {i} reads {w:#x} after protect, wrote {:#x}", pattern(i)));
        }
        // Back to read-write on the Frame's own right, and written again.
        ok("protect read-write", vnode_protect(VNODE, 3, MAP_A, READ | WRITE))?;
        page[0] = 1;
        ok("unmap", vnode_unmap(VNODE, 3))?;
        ok("delete copy", cap_delete(MAP_B))?;
        ok("delete", cap_delete(MAP_A))
    }

    /// Same-core messages need an Endpoint capability with the write right: an empty slot, a
    /// Frame, a read-only copy of this program's Endpoint to its monitor are refused, as is
    /// making an Endpoint from anything but a Dispatcher capability. (The badge a receiver sees
    /// is checked by every child check: a child takes its go only with its parent's badge.)
    fn send_needs_endpoint(&self) -> Check {
        let words = [0, 0, 0];
        refused("empty slot", userland::send_local(BAD_MODULE, words), &[code::EMPTY_SLOT])?;
        ok("retype", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, MAP_A))?;
        refused("a Frame", userland::send_local(MAP_A, words), &[code::WRONG_TYPE])?;
        ok("mint read-only", cap_mint(SLOT_MONITOR, MAP_B, READ))?;
        refused("read-only Endpoint", userland::send_local(MAP_B, words), &[code::DENIED])?;
        refused("Endpoint from RAM", endpoint_create(RAM, 1, BAD_MODULE), &[code::WRONG_TYPE])?;
        refused(
            "Endpoint from an Endpoint",
            endpoint_create(SLOT_MONITOR, 1, BAD_MODULE),
            &[code::WRONG_TYPE],
        )?;
        refused("Endpoint from nothing", endpoint_create(BAD_RAM, 1, BAD_MODULE), &[code::EMPTY_SLOT])?;
        ok("delete copy", cap_delete(MAP_B))?;
        ok("delete", cap_delete(MAP_A))
    }

    /// What needs the Kernel capability is refused to a program without it.
    fn monitor_calls_refused(&self) -> Check {
        refused("no Kernel capability at its slot", cap_identify(SLOT_KERNEL), &[code::EMPTY_SLOT])?;
        let power = userland::power_off();
        if power != Error::Denied {
            return Err(format!("power_off: expected Denied, got {power:?}"));
        }
        refused_with("cap_give by index", userland::cap_give_by_index(0, RAM, SPARE), Error::Denied)?;
        refused_with("grant", userland::grant(0, 0), Error::Denied)?;
        refused_with("core_boot", userland::core_boot(1, SLOT_FIRST_MODULE, RAM, RAM), Error::Denied)?;
        refused_with("core_reclaim", userland::core_reclaim(1), Error::Denied)?;
        let off = userland::core_off();
        if off != Error::Denied {
            return Err(format!("core_off: expected Denied, got {off:?}"));
        }
        Ok(())
    }

    /// `spawn` needs a boot module's Frame capability with the read right: a forged address,
    /// an empty slot, RAM, a Frame of this program's own RAM and the module capability minted
    /// without rights are refused, and nothing is made (no Dispatcher capability, the RAM piece
    /// retypes whole afterwards).
    fn spawn_forged_module_refused(&self) -> Check {
        ok(
            "retype RAM piece",
            cap_retype(CHILD_RAM_SOURCE, cap_type::RAM, 0, CHILD_RAM_BYTES, 1, CHILD_RAM),
        )?;
        let spawn_from = |module: u32| spawn(module, CHILD_RAM, CHILD, ROLE_FEWER_RIGHTS);
        refused("forged module address", spawn_from(0x7f00_0000), &[code::INVALID_ADDRESS])?;
        refused("empty module slot", spawn_from(CNODE_SLOTS - 1), &[code::EMPTY_SLOT])?;
        refused("RAM as the module", spawn_from(CHILD_RAM_SOURCE), &[code::WRONG_TYPE])?;
        ok("retype own frame", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, BAD_MODULE))?;
        refused_with("a Frame of its own RAM as the module", spawn_from(BAD_MODULE), Error::InvalidArgument)?;
        ok("delete own frame", cap_delete(BAD_MODULE))?;
        ok("mint the module without rights", cap_mint(MODULE, BAD_MODULE, 0))?;
        refused("module without the read right", spawn_from(BAD_MODULE), &[code::DENIED])?;
        ok("delete", cap_delete(BAD_MODULE))?;
        nothing_spawned()
    }

    /// `spawn` needs RAM enough for the program: a piece too small, one partly retyped
    /// already, a Frame in place of RAM, and an occupied slot for the Dispatcher capability are
    /// refused, and nothing is made.
    fn spawn_small_ram_refused(&self) -> Check {
        ok("retype small RAM", cap_retype(CHILD_RAM_SOURCE, cap_type::RAM, 0, 64 << 10, 1, BAD_RAM))?;
        refused("64 KiB of RAM", spawn(MODULE, BAD_RAM, CHILD, ROLE_FEWER_RIGHTS), &[code::OUT_OF_BOUNDS])?;
        ok("delete", cap_delete(BAD_RAM))?;
        ok(
            "retype RAM piece",
            cap_retype(CHILD_RAM_SOURCE, cap_type::RAM, 0, CHILD_RAM_BYTES, 1, CHILD_RAM),
        )?;
        refused(
            "occupied destination",
            spawn(MODULE, CHILD_RAM, RAM, ROLE_FEWER_RIGHTS),
            &[code::SLOT_OCCUPIED],
        )?;
        ok("retype a frame of it", cap_retype(CHILD_RAM, cap_type::FRAME, 0, PAGE, 1, BAD_MODULE))?;
        refused("a Frame as the RAM", spawn(MODULE, BAD_MODULE, CHILD, 0), &[code::WRONG_TYPE])?;
        let partly = spawn(MODULE, CHILD_RAM, CHILD, ROLE_FEWER_RIGHTS);
        refused("RAM partly retyped", partly, &[code::ALREADY_RETYPED, code::OVERLAP])?;
        ok("delete the frame", cap_delete(BAD_MODULE))?;
        nothing_spawned()
    }

    /// `module_info` names this program's own module capability and says how much RAM
    /// `spawn` needs for it: a page less is refused (`OutOfBounds`). It refuses what is not a
    /// module: RAM, an empty slot, a Frame of the program's own RAM.
    fn module_info_names_and_sizes(&self) -> Check {
        let info = ok("module_info", module_info(MODULE))?;
        if info.name() != "selftest" || info.ram_bytes == 0 || info.ram_bytes % PAGE != 0 {
            return Err(format!("module_info says {:?} needs {} bytes", info.name(), info.ram_bytes));
        }
        if info.ram_bytes > CHILD_RAM_BYTES {
            return Err(format!(
                "needs {} bytes, more than the {CHILD_RAM_BYTES} its children get",
                info.ram_bytes
            ));
        }
        refused("RAM", module_info(RAM), &[code::WRONG_TYPE])?;
        refused("empty slot", module_info(BAD_MODULE), &[code::EMPTY_SLOT])?;
        ok("retype a frame", cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, BAD_MODULE))?;
        refused_with("module_info of a Frame of RAM", module_info(BAD_MODULE), Error::InvalidArgument)?;
        ok("delete the frame", cap_delete(BAD_MODULE))?;
        let short = info.ram_bytes - PAGE;
        ok("retype RAM a page short", cap_retype(CHILD_RAM_SOURCE, cap_type::RAM, 0, short, 1, BAD_RAM))?;
        refused("a page short", spawn(MODULE, BAD_RAM, CHILD, ROLE_FEWER_RIGHTS), &[code::OUT_OF_BOUNDS])?;
        ok("delete", cap_delete(BAD_RAM))
    }

    /// `spawn` needs the write right on the RAM: a read-only copy is refused.
    fn spawn_read_only_ram_refused(&self) -> Check {
        ok(
            "retype RAM piece",
            cap_retype(CHILD_RAM_SOURCE, cap_type::RAM, 0, CHILD_RAM_BYTES, 1, CHILD_RAM),
        )?;
        ok("mint read-only", cap_mint(CHILD_RAM, BAD_RAM, READ))?;
        refused("read-only RAM", spawn(MODULE, BAD_RAM, CHILD, ROLE_FEWER_RIGHTS), &[code::DENIED])?;
        ok("delete", cap_delete(BAD_RAM))?;
        nothing_spawned()
    }

    /// Giving to another dispatcher needs a Dispatcher capability that names one: forged,
    /// empty, RAM and a Dispatcher made by hand from RAM (no dispatcher behind it) are
    /// refused, for `cap_give` and `dispatcher_status` alike.
    fn give_needs_dispatcher_capability(&self) -> Check {
        refused("forged", cap_give(0x7f00_0000, RAM, GIVEN), &[code::INVALID_ADDRESS])?;
        refused("empty slot", cap_give(CNODE_SLOTS - 1, RAM, GIVEN), &[code::EMPTY_SLOT])?;
        refused("RAM as the dispatcher", cap_give(RAM, RAM, GIVEN), &[code::WRONG_TYPE])?;
        refused("status through RAM", dispatcher_status(RAM), &[code::WRONG_TYPE])?;
        refused("status of a forged address", dispatcher_status(u32::MAX), &[code::INVALID_ADDRESS])?;
        ok("retype a Dispatcher by hand", cap_retype(RAM, cap_type::DISPATCHER, 0, PAGE, 1, BAD_MODULE))?;
        refused_with(
            "give to a Dispatcher of no dispatcher",
            cap_give(BAD_MODULE, RAM, GIVEN),
            Error::InvalidArgument,
        )?;
        refused_with(
            "status of a Dispatcher of no dispatcher",
            dispatcher_status(BAD_MODULE),
            Error::InvalidArgument,
        )?;
        ok("delete", cap_delete(BAD_MODULE))
    }

    /// The parent gives its child a read-only copy of a Frame it wrote a word into: the child
    /// sees it read-only, maps it readable and reads the word, and is refused a writable
    /// mapping and a mint with the write right (it reports by its exit code). A read-only copy
    /// of the Dispatcher capability tells the status but cannot give. After the child ends its
    /// memory comes back.
    fn child_fewer_rights(&self) -> Check {
        let frame_offset = CHILD_RAM_BYTES;
        ok("retype frame", cap_retype(CHILD_RAM_SOURCE, cap_type::FRAME, frame_offset, PAGE, 1, SHARED))?;
        words(map(8, SHARED, READ | WRITE)?)[0] = SHARED_WORD;
        ok("unmap", vnode_unmap(VNODE, 8))?;
        ok("mint read-only frame", cap_mint(SHARED, SHARED_READ_ONLY, READ))?;
        let index = start_child(ROLE_FEWER_RIGHTS)?;
        ok("mint read-only dispatcher", cap_mint(CHILD, CHILD_READ_ONLY, READ))?;
        let give = cap_give(CHILD_READ_ONLY, SHARED_READ_ONLY, GIVEN);
        refused("give through a read-only Dispatcher capability", give, &[code::DENIED])?;
        let status = ok("status through the read-only copy", dispatcher_status(CHILD_READ_ONLY))?;
        if status != DispatcherStatus::Running {
            return Err(format!("the child is {status:?} before its go"));
        }
        ok("give", cap_give(CHILD, SHARED_READ_ONLY, GIVEN))?;
        let status = go_and_wait(index)?;
        if status != DispatcherStatus::Exited(0) {
            return Err(format!("the child ended {status:?} (exit codes: see the child roles)"));
        }
        refused_with(
            "give to an ended child",
            cap_give(CHILD, SHARED_READ_ONLY, GIVEN + 1),
            Error::InvalidArgument,
        )?;
        let word = words(map(8, SHARED, READ)?)[0];
        ok("unmap", vnode_unmap(VNODE, 8))?;
        if word != SHARED_WORD {
            return Err(format!("the shared word changed to {word:#x}"));
        }
        ok("delete read-only dispatcher", cap_delete(CHILD_READ_ONLY))?;
        memory_came_back()
    }

    /// A child maps a Frame, writes and reads it, unmaps it and touches it again: the kernel
    /// stops it with a data abort at that address, its parent sees it stopped by the fault,
    /// and this core runs on (this program runs the next checks). Its memory comes back.
    fn child_access_after_unmap_faults(&self) -> Check {
        child_faults(ROLE_ACCESS_AFTER_UNMAP, "a data abort", |esr| esr >> 26 == EC_DATA_ABORT_LOWER)
    }

    /// A child maps a Frame read-write, writes it, makes the mapping read-only with
    /// `vnode_protect`, reads it back and writes again: the kernel stops it with a permission
    /// fault on a write at that page, so the reduction held at once.
    fn child_write_after_protect_faults(&self) -> Check {
        // ESR_EL1: a data abort from EL0, WnR (bit 6) set, DFSC a permission fault (0b0011xx,
        // any level).
        let write_permission_fault =
            |esr: u64| esr >> 26 == EC_DATA_ABORT_LOWER && esr & (1 << 6) != 0 && esr & 0x3c == 0b00_1100;
        child_faults(ROLE_WRITE_AFTER_PROTECT, "a write permission fault", write_permission_fault)
    }
}

/// Spawns a child in `role`, gives it a fresh Frame at `GIVEN`, lets it go and checks that the
/// kernel stopped it with a fault `expected` (`what`) at the page it mapped there; then that
/// its memory came back.
fn child_faults(role: u64, what: &str, expected: impl Fn(u64) -> bool) -> Check {
    let frame_offset = CHILD_RAM_BYTES + PAGE;
    ok("retype frame", cap_retype(CHILD_RAM_SOURCE, cap_type::FRAME, frame_offset, PAGE, 1, SHARED))?;
    let index = start_child(role)?;
    ok("give", cap_give(CHILD, SHARED, GIVEN))?;
    match go_and_wait(index)? {
        DispatcherStatus::Faulted { esr, far } if expected(esr) && far == USER_MAPPABLE_BASE => {}
        DispatcherStatus::Faulted { esr, far } => {
            return Err(format!(
                "stopped by esr={esr:#x} far={far:#x}, expected {what} at {USER_MAPPABLE_BASE:#x}"
            ))
        }
        other => return Err(format!("the child ended {other:?}, expected stopped by a fault")),
    }
    memory_came_back()
}

/// After a refused `spawn`: no Dispatcher capability was made, and the RAM piece at
/// `CHILD_RAM` retypes whole (no object of a half-built child is left in it).
fn nothing_spawned() -> Check {
    refused("no Dispatcher capability", cap_identify(CHILD), &[code::EMPTY_SLOT])?;
    memory_came_back()
}

/// The RAM piece at `CHILD_RAM` (its child ended, its Dispatcher capability deleted here)
/// retypes whole: every object the kernel made of it went back.
fn memory_came_back() -> Check {
    let _ = cap_delete(CHILD);
    let ram = ok("identify RAM piece", cap_identify(CHILD_RAM))?;
    ok("retype the whole piece", cap_retype(CHILD_RAM, cap_type::FRAME, 0, ram.size, 1, BAD_MODULE))?;
    ok("delete the whole frame", cap_delete(BAD_MODULE))?;
    ok("delete the RAM piece", cap_delete(CHILD_RAM))
}

/// Spawns this program in child `role` out of a `CHILD_RAM_BYTES` piece of `CHILD_RAM_SOURCE`
/// at `CHILD_RAM`; its Dispatcher capability at `CHILD`. Returns its index.
fn start_child(role: u64) -> Result<u64, String> {
    ok("retype RAM piece", cap_retype(CHILD_RAM_SOURCE, cap_type::RAM, 0, CHILD_RAM_BYTES, 1, CHILD_RAM))?;
    let index = ok("spawn", spawn(MODULE, CHILD_RAM, CHILD, role))?;
    let cap = ok("identify the Dispatcher capability", cap_identify(CHILD))?;
    if cap.kind != cap_type::DISPATCHER {
        return Err(format!("spawn put type {} at the Dispatcher slot", cap.kind));
    }
    Ok(index)
}

/// Tells the child to go, through an Endpoint made from its Dispatcher capability at `CHILD`
/// with `PARENT_BADGE`, and waits (bounded) until it ends; returns how. (`_index` is the
/// child's dispatcher index: sending needs the Endpoint, not the index.)
fn go_and_wait(_index: u64) -> Result<DispatcherStatus, String> {
    ok("endpoint to the child", endpoint_create(CHILD, PARENT_BADGE, CHILD_ENDPOINT))?;
    let sent = userland::send_local(CHILD_ENDPOINT, [CHILD_GO, 0, 0]);
    let _ = cap_delete(CHILD_ENDPOINT);
    ok("go", sent)?;
    wait_for_child(CHILD_TIMEOUT_SECONDS)
}

/// Waits until the child whose Dispatcher capability is at `CHILD` ends, at most `seconds`;
/// returns how it ended.
fn wait_for_child(seconds: u64) -> Result<DispatcherStatus, String> {
    wait_until_ended(CHILD, seconds)
}

/// Waits until the dispatcher whose Dispatcher capability is at `slot` ends, at most
/// `seconds` (its end wakes this program, its parent); returns how it ended.
fn wait_until_ended(slot: u32, seconds: u64) -> Result<DispatcherStatus, String> {
    let deadline = deadline(seconds);
    loop {
        let status = ok("status", dispatcher_status(slot))?;
        if status != DispatcherStatus::Running {
            return Ok(status);
        }
        let now = userland::counter();
        if now >= deadline {
            return Err(format!("the child (slot {slot}) still runs after {seconds} s"));
        }
        userland::wait(deadline - now);
    }
}

/// The counter value `seconds` from now.
fn deadline(seconds: u64) -> u64 {
    userland::counter() + seconds * info(Info::CounterFrequency).unwrap_or(1)
}

/// A child's exit code for each step of its role that went wrong (0: all as expected).
mod exit {
    pub const NO_GO: u64 = 2;
    pub const NOT_READ_ONLY: u64 = 10;
    pub const MAPPED_WRITABLE: u64 = 11;
    pub const MINTED_WRITE: u64 = 12;
    pub const NOT_READABLE: u64 = 13;
    pub const WRONG_WORD: u64 = 14;
    pub const HOLDS_KERNEL_OR_RAM: u64 = 15;
    pub const GAVE_BY_INDEX: u64 = 16;
    pub const NOT_MAPPED: u64 = 20;
    pub const READ_BACK_WRONG: u64 = 21;
    pub const NOT_UNMAPPED: u64 = 22;
    pub const NO_FAULT: u64 = 23;
    pub const NOT_PROTECTED: u64 = 24;
    pub const UNKNOWN_ROLE: u64 = 99;
}

/// Calls the function whose code starts at `va`.
#[allow(unsafe_code)]
fn call_code(va: u64) -> u64 {
    // SAFETY: `va` is a page this program just mapped executable, holding `mov x0, #42; ret`
    // (written through a writable mapping of the same Frame before): a complete function of
    // the C calling convention that touches nothing but x0.
    let function: extern "C" fn() -> u64 = unsafe { core::mem::transmute(va as usize) };
    function()
}

/// Reads the word at `va` after its page was unmapped: the kernel stops this program there.
#[allow(unsafe_code)]
fn touch_unmapped(va: u64) -> u64 {
    // SAFETY: `va` is page-aligned and was this program's own mapping until `vnode_unmap`; the
    // read traps to the kernel, which stops this program. Were the page still mapped, it is
    // the program's own Frame, and a volatile read of it is harmless.
    unsafe { core::ptr::read_volatile(va as *const u64) }
}

/// The child's side of `child-fewer-rights`: the Frame at `GIVEN` must be read-only and map
/// only readable.
fn role_fewer_rights() -> u64 {
    match cap_identify(GIVEN) {
        Ok(cap) if cap.kind == cap_type::FRAME && cap.rights == READ => {}
        _ => return exit::NOT_READ_ONLY,
    }
    if vnode_map(VNODE, 0, GIVEN, READ | WRITE) != Err(Error::Capability(code::DENIED)) {
        return exit::MAPPED_WRITABLE;
    }
    if cap_mint(GIVEN, GIVEN + 1, READ | WRITE) != Err(Error::Capability(code::RIGHTS_EXCEEDED)) {
        return exit::MINTED_WRITE;
    }
    let empty = |slot| cap_identify(slot) == Err(Error::Capability(code::EMPTY_SLOT));
    if !empty(SLOT_KERNEL) || !empty(RAM) || !empty(MODULE) {
        return exit::HOLDS_KERNEL_OR_RAM;
    }
    if userland::cap_give_by_index(0, GIVEN, GIVEN + 1) != Err(Error::Denied) {
        return exit::GAVE_BY_INDEX;
    }
    let Ok(va) = vnode_map(VNODE, 0, GIVEN, READ) else { return exit::NOT_READABLE };
    let word = words(va)[0];
    let _ = vnode_unmap(VNODE, 0);
    if word != SHARED_WORD {
        return exit::WRONG_WORD;
    }
    0
}

/// The child's side of `child-access-after-unmap-faults`: map the Frame at `GIVEN`, write and
/// read it, unmap it, touch it again (which must not return).
fn role_access_after_unmap() -> u64 {
    let Ok(va) = vnode_map(VNODE, 0, GIVEN, READ | WRITE) else { return exit::NOT_MAPPED };
    words(va)[5] = pattern(5);
    if words(va)[5] != pattern(5) {
        return exit::READ_BACK_WRONG;
    }
    if vnode_unmap(VNODE, 0).is_err() {
        return exit::NOT_UNMAPPED;
    }
    let _ = touch_unmapped(va);
    exit::NO_FAULT
}

/// The child's side of `child-write-after-protect-faults`: map the Frame at `GIVEN`
/// read-write, write it, make it read-only, read it, write again (which must not return).
fn role_write_after_protect() -> u64 {
    let Ok(va) = vnode_map(VNODE, 0, GIVEN, READ | WRITE) else { return exit::NOT_MAPPED };
    words(va)[0] = pattern(0);
    if vnode_protect(VNODE, 0, GIVEN, READ).is_err() {
        return exit::NOT_PROTECTED;
    }
    if words(va)[0] != pattern(0) {
        return exit::READ_BACK_WRONG;
    }
    write_read_only(va);
    exit::NO_FAULT
}

/// Writes the word at `va`, whose page was just made read-only: the kernel stops this program.
#[allow(unsafe_code)]
fn write_read_only(va: u64) {
    // SAFETY: `va` is this program's own page, mapped read-only by `vnode_protect`; the write
    // traps to the kernel, which stops this program. Were the page still writable, it is the
    // program's own Frame, and a volatile write to it is harmless.
    unsafe { core::ptr::write_volatile(va as *mut u64, 0) }
}

/// A child: waits (bounded) for its parent's go, then plays `role`; the exit code says how it
/// went.
fn child(role: u64) -> u64 {
    let deadline = deadline(CHILD_TIMEOUT_SECONDS);
    loop {
        match userland::recv_local() {
            Ok((PARENT_BADGE, [CHILD_GO, _, _])) => break,
            Ok(_) => {}
            Err(_) => {
                let now = userland::counter();
                if now >= deadline {
                    return exit::NO_GO;
                }
                userland::wait(deadline - now);
            }
        }
    }
    match role {
        ROLE_FEWER_RIGHTS => role_fewer_rights(),
        ROLE_ACCESS_AFTER_UNMAP => role_access_after_unmap(),
        ROLE_WRITE_AFTER_PROTECT => role_write_after_protect(),
        lines::ROLE_LINE_SERVER => lines::server(),
        lines::ROLE_LINE_CLIENT => lines::client(),
        _ => exit::UNKNOWN_ROLE,
    }
}

/// After each check: what a failed mapping check may have left behind (mapped entries, its
/// frames) goes, and a child a failed check left running is waited for (it gives up waiting
/// for its go after `CHILD_TIMEOUT_SECONDS`), so that the memory it was built from comes back
/// and one failure does not fail the checks after it. Errors are expected (nothing left) and
/// ignored.
fn tidy() {
    if dispatcher_status(CHILD) == Ok(DispatcherStatus::Running) {
        let _ = wait_for_child(CHILD_TIMEOUT_SECONDS + 2);
    }
    for entry in 0..8 {
        let _ = vnode_unmap(VNODE, entry);
    }
    let _ = cap_delete(MAP_B);
    let _ = cap_delete(MAP_A);
    let _ = cap_delete(VN_B);
    let _ = cap_delete(VN_A);
    for slot in [SHARED, SHARED_READ_ONLY, BAD_RAM, BAD_MODULE, CHILD_READ_ONLY, CHILD, CHILD_RAM] {
        let _ = cap_delete(slot);
    }
    lines::tidy();
}

/// Waits for the monitor's go-ahead (it put the RAM capability in place).
fn wait_for_ram() {
    loop {
        match userland::recv_local() {
            Ok((0, words))
                if local::decode::<ToProgram>(words) == Ok(ToProgram::SelftestGo(local::SelftestGo {})) =>
            {
                return
            }
            Ok(_) => {}
            Err(_) => {
                userland::wait(0);
            }
        }
    }
}

fn run() -> u64 {
    let role = userland::argument();
    if role == bind::ROLE_SAME_CORE_PEER {
        // Started by the monitor for `bind-same-core`, not by this program: no parent's go.
        return bind::same_core_peer();
    }
    if role != 0 {
        return child(role);
    }
    let core = info(Info::CoreIndex).unwrap_or(u64::MAX);
    let _ = userland::send_to_monitor(local::words(&local::Register { service: SERVICE_SELFTEST }));
    wait_for_ram();
    let ram = match cap_identify(RAM) {
        Ok(ram) if ram.kind == cap_type::RAM && ram.size >= 4 * PAGE => ram,
        other => {
            println!("selftest {core} equipped: FAILED no RAM capability from the monitor: {other:?}");
            let _ = userland::send_to_monitor(local::words(&local::SelftestDone { passed: 0, failed: 1 }));
            return 1;
        }
    };
    let on_boot_core = info(Info::BootCore).is_ok_and(|boot| boot == core);
    let (rounds, alloc_free) =
        if on_boot_core { (ROUNDS_BOOT_CORE, ALLOC_FREE_BOOT_CORE) } else { (ROUNDS, ALLOC_FREE) };
    let test = Selftest { ram, rounds };
    let checks: [NamedCheck; 37] = [
        ("retype-frames", Selftest::retype_frames),
        ("double-retype-refused", Selftest::double_retype_refused),
        ("forged-address-refused", Selftest::forged_address_refused),
        ("stale-after-delete-refused", Selftest::stale_after_delete_refused),
        ("mint-fewer-rights", Selftest::mint_fewer_rights),
        ("mint-more-rights-refused", Selftest::mint_more_rights_refused),
        ("revoke-removes-copies", Selftest::revoke_removes_copies),
        ("delete-last-frees", Selftest::delete_last_frees),
        (alloc_free, Selftest::alloc_free),
        ("capability-limit-refused", Selftest::capability_limit_refused),
        ("monitor-calls-refused", Selftest::monitor_calls_refused),
        ("send-needs-endpoint", Selftest::send_needs_endpoint),
        ("map-write-read", Selftest::map_write_read),
        ("map-zeroed", Selftest::map_zeroed),
        ("map-executable-runs", Selftest::map_executable_runs),
        ("map-multi-page-frame", Selftest::map_multi_page_frame),
        ("map-needs-write-right", Selftest::map_needs_write_right),
        ("map-forged-refused", Selftest::map_forged_refused),
        ("unmap-then-remap", Selftest::unmap_then_remap),
        ("delete-unmaps", Selftest::delete_unmaps),
        ("revoke-unmaps", Selftest::revoke_unmaps),
        ("vnode-install-own", Selftest::vnode_install_own),
        ("protect-reduces-rights", Selftest::protect_reduces_rights),
        ("spawn-forged-module-refused", Selftest::spawn_forged_module_refused),
        ("spawn-small-ram-refused", Selftest::spawn_small_ram_refused),
        ("module-info-names-and-sizes", Selftest::module_info_names_and_sizes),
        ("spawn-read-only-ram-refused", Selftest::spawn_read_only_ram_refused),
        ("give-needs-dispatcher-capability", Selftest::give_needs_dispatcher_capability),
        ("child-fewer-rights", Selftest::child_fewer_rights),
        ("child-access-after-unmap-faults", Selftest::child_access_after_unmap_faults),
        ("child-write-after-protect-faults", Selftest::child_write_after_protect_faults),
        ("lines-need-endpoint", |_| lines::lines_need_endpoint()),
        ("lines-typed-exchange", |_| lines::lines_typed_exchange()),
        ("bind-by-name-echo", |_| bind::bind_by_name_echo()),
        ("bind-errors", |_| bind::bind_errors()),
        ("bind-same-core", |_| bind::bind_same_core()),
        ("span-shared-page-protect-unmap", |_| span::span_shared_page_protect_unmap()),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in checks {
        let result = check(&test);
        tidy();
        match result {
            Ok(()) => {
                passed += 1;
                println!("selftest {core} {name}: ok");
            }
            Err(why) => {
                failed += 1;
                println!("selftest {core} {name}: FAILED {why}");
            }
        }
    }
    let _ = userland::send_to_monitor(local::words(&local::SelftestDone { passed, failed }));
    u64::from(failed != 0)
}

// A 64 KiB heap (for the checks' messages): small enough that a child of this program fits
// in `CHILD_RAM_BYTES`.
userland::entry!(run, heap = 64 << 10, joined = span::joined);
