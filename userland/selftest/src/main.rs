//! The capability system's check at EL0: one instance on every core (`selftest` on the kernel
//! command line). It registers with its monitor, which gives it a RAM capability of its own (at
//! `SLOT_FIRST_RAM`) with `cap_give`; then it runs each check through the system calls, prints
//! `selftest <core> <name>: ok` or `selftest <core> <name>: FAILED <why>` per check, and reports
//! its counts to its monitor, which forwards them to the boot core's monitor for the summary.
//!
//! Not checked here because it is not built yet: mapping frames through VNode capabilities
//! (and access faults after unmap or revoke), spawning a child with fewer rights.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use monitor::local::{self, SERVICE_SELFTEST};
use userland::{
    cap_copy, cap_delete, cap_identify, cap_mint, cap_retype, cap_revoke, cap_type, info, println, CapInfo,
    Error, Info, CNODE_SLOTS, SLOT_FIRST_FREE, SLOT_FIRST_RAM, SLOT_KERNEL,
};

/// Allocate/free rounds of the `alloc-free` check: a tenth of a million, because a million took
/// 34 to 46 s per core under QEMU with six vCPUs on a two-core host (README, "Resource model").
const ROUNDS: u64 = 100_000;
/// The check's name, with its round count.
const ALLOC_FREE: &str = "alloc-free-100000";

/// The RAM capability the monitor gave.
const RAM: u32 = SLOT_FIRST_RAM;
/// Free slots of this program's own (in the level-2 CNode, from `SLOT_FIRST_FREE`).
const FRAMES: u32 = SLOT_FIRST_FREE; // four frames: 16..19
const SPARE: u32 = SLOT_FIRST_FREE + 4;
const MINTED: u32 = SLOT_FIRST_FREE + 5;
const MINTED_AGAIN: u32 = SLOT_FIRST_FREE + 6;
const COPY: u32 = SLOT_FIRST_FREE + 7;

const PAGE: u64 = 4096;
const READ: u64 = 1;
const WRITE: u64 = 2;

/// `caps::CapError` codes the checks expect (`caps/src/error.rs`).
mod code {
    pub const INVALID_ADDRESS: u8 = 1;
    pub const INDEX_OUT_OF_RANGE: u8 = 2;
    pub const NOT_A_CNODE: u8 = 3;
    pub const EMPTY_SLOT: u8 = 4;
    pub const ALREADY_RETYPED: u8 = 12;
    pub const OVERLAP: u8 = 13;
    pub const RIGHTS_EXCEEDED: u8 = 14;
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

struct Selftest {
    ram: CapInfo,
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
        for round in 0..ROUNDS {
            cap_retype(RAM, cap_type::FRAME, 0, PAGE, 1, FRAMES)
                .map_err(|e| format!("round {round}: retype: {e:?}"))?;
            cap_delete(FRAMES).map_err(|e| format!("round {round}: delete: {e:?}"))?;
        }
        Ok(())
    }

    /// What needs the Kernel capability is refused to a program without it.
    fn monitor_calls_refused(&self) -> Check {
        refused("no Kernel capability at its slot", cap_identify(SLOT_KERNEL), &[code::EMPTY_SLOT])?;
        let power = userland::power_off();
        if power != Error::Denied {
            return Err(format!("power_off: expected Denied, got {power:?}"));
        }
        let give = userland::cap_give(0, RAM, SPARE);
        if give != Err(Error::Denied) {
            return Err(format!("cap_give: expected Denied, got {give:?}"));
        }
        let grant = userland::grant(0, 0);
        if grant != Err(Error::Denied) {
            return Err(format!("grant: expected Denied, got {grant:?}"));
        }
        Ok(())
    }
}

/// Waits for the monitor's go-ahead (it put the RAM capability in place).
fn wait_for_ram() {
    loop {
        match userland::recv_local() {
            Ok((0, [local::SELFTEST_GO, _, _])) => return,
            Ok(_) => {}
            Err(_) => {
                userland::wait(0);
            }
        }
    }
}

fn run() -> u64 {
    let core = info(Info::CoreIndex).unwrap_or(u64::MAX);
    let me = info(Info::DispatcherIndex).unwrap_or(0);
    let _ = userland::send_local(0, [local::REGISTER, SERVICE_SELFTEST, me]);
    wait_for_ram();
    let ram = match cap_identify(RAM) {
        Ok(ram) if ram.kind == cap_type::RAM && ram.size >= 4 * PAGE => ram,
        other => {
            println!("selftest {core} equipped: FAILED no RAM capability from the monitor: {other:?}");
            let _ = userland::send_local(0, [local::SELFTEST_DONE, 0, 1]);
            return 1;
        }
    };
    let test = Selftest { ram };
    let checks: [NamedCheck; 10] = [
        ("retype-frames", Selftest::retype_frames),
        ("double-retype-refused", Selftest::double_retype_refused),
        ("forged-address-refused", Selftest::forged_address_refused),
        ("stale-after-delete-refused", Selftest::stale_after_delete_refused),
        ("mint-fewer-rights", Selftest::mint_fewer_rights),
        ("mint-more-rights-refused", Selftest::mint_more_rights_refused),
        ("revoke-removes-copies", Selftest::revoke_removes_copies),
        ("delete-last-frees", Selftest::delete_last_frees),
        (ALLOC_FREE, Selftest::alloc_free),
        ("monitor-calls-refused", Selftest::monitor_calls_refused),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in checks {
        match check(&test) {
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
    let _ = userland::send_local(0, [local::SELFTEST_DONE, passed, failed]);
    u64::from(failed != 0)
}

userland::entry!(run);
