//! `span-shared-page-protect-unmap`: a program spanning two cores. This `selftest` asks its
//! monitor to span to the next online core (that core's monitor starts this program there in
//! the member role, its own kernel building the member's page tables), to share a page with the
//! span (mapped at the same entry of this program's VNode and of the member's), and sees the
//! member answer through the page (the member keeps reading word 0 and writing word 1). Then it
//! protects the page to read-only: the call returns once every copy and mapping on both cores
//! is read-only (each core's TLB invalidated), and the member's next write faults at word 1
//! while its read of word 0 did not (a permission fault, not a missing mapping). Then it
//! unshares the page: the call returns once it is unmapped on both cores, after which this
//! program's entry is empty and its capability gone.

use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicU64, Ordering};

use monitor::local::{self, pack, unpack, BindStatus};
use userland::{
    cap_identify, info, println, vnode_map, vnode_unmap, Error, Info, SLOT_VNODE, STATUS_FAULTED,
};

/// The member's argument.
pub const ROLE_SPAN_MEMBER: u64 = 4;
/// The shared page's entry in every member's level-3 VNode, and where this program gets its
/// Frame capability.
const ENTRY: u64 = 502;
const FRAME_SLOT: u32 = userland::SLOT_FIRST_FREE + 30;
const STEP_SECONDS: u64 = 30;
const READ_WRITE: u64 = 3;
const ASKED: u64 = 42;
const ANSWERED: u64 = 43;

/// The page's first two words (the member reads word 0 and answers in word 1).
fn words(va: u64) -> &'static [AtomicU64; 2] {
    #[allow(unsafe_code)]
    // SAFETY: `va` is where `vnode_map` mapped a whole page read-write (the shared Frame,
    // zeroed by its retype); the words are only accessed atomically. When the page is unmapped
    // the next access faults and the kernel stops this program: nothing else is mapped there.
    unsafe {
        &*(va as *const [AtomicU64; 2])
    }
}

/// Waits for the monitor's `[what, ...]`; `None` after `seconds`.
fn from_monitor(what: u64, seconds: u64) -> Option<[u64; 3]> {
    let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
    let deadline = userland::counter() + seconds * frequency;
    loop {
        match userland::recv_local() {
            Ok((0, words)) if words[0] == what => return Some(words),
            Ok(_) => {}
            Err(_) => {
                let now = userland::counter();
                if now >= deadline {
                    return None;
                }
                userland::wait((deadline - now).min(frequency / 1000));
            }
        }
    }
}

fn status(what: &str, code: u32) -> Result<(), String> {
    match code {
        0 => Ok(()),
        code => Err(format!("{what}: {:?}", BindStatus::from_code(code))),
    }
}

/// The check (see the module documentation).
pub fn span_shared_page_protect_unmap() -> Result<(), String> {
    let core = info(Info::CoreIndex).map_err(|e| format!("core index: {e:?}"))?;
    let count = info(Info::CoreCount).unwrap_or(1);
    let Some(target) = (1..count)
        .map(|step| (core + step) % count)
        .find(|&c| userland::info_of(Info::CoreOnline, c) == Ok(1))
    else {
        return Ok(());
    };
    let ask =
        |words: [u64; 3]| userland::send_to_monitor(words).map_err(|e| format!("ask the monitor: {e:?}"));
    ask([local::SPAN, pack(target as u32, ROLE_SPAN_MEMBER as u32), 0])?;
    let spanned = from_monitor(local::SPANNED, STEP_SECONDS).ok_or("no answer to SPAN")?;
    status("span", unpack(spanned[1]).1)?;

    ask([local::SPAN_SHARE, pack(ENTRY as u32, FRAME_SLOT), 0])?;
    let shared = from_monitor(local::SPAN_SHARED, STEP_SECONDS).ok_or("no answer to SPAN_SHARE")?;
    status("share", unpack(shared[1]).1)?;
    let va = vnode_map(SLOT_VNODE, ENTRY, FRAME_SLOT, READ_WRITE).map_err(|e| format!("map: {e:?}"))?;
    let page = words(va);
    page[0].store(ASKED, Ordering::Release);
    let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
    let deadline = userland::counter() + STEP_SECONDS * frequency;
    while page[1].load(Ordering::Acquire) != ANSWERED {
        if userland::counter() > deadline {
            return Err(format!("core {target}'s member never answered through the page"));
        }
        userland::wait(frequency / 10_000);
    }

    ask([local::SPAN_PROTECT, ENTRY, 0])?;
    let protected = from_monitor(local::SPAN_PROTECTED, STEP_SECONDS).ok_or("no answer to SPAN_PROTECT")?;
    status("protect", unpack(protected[1]).1)?;
    if page[0].load(Ordering::Acquire) != ASKED {
        return Err("the page no longer reads back after the protect".into());
    }
    let ended = from_monitor(local::SPAN_MEMBER_ENDED, STEP_SECONDS).ok_or("the member never stopped")?;
    let (_, member_status) = unpack(ended[1]);
    let word1 = va + 8;
    if u64::from(member_status) != STATUS_FAULTED || ended[2] != word1 {
        return Err(format!(
            "the member ended with status {member_status}, address {:#x}; expected a fault writing {word1:#x}",
            ended[2]
        ));
    }

    ask([local::SPAN_UNSHARE, ENTRY, 0])?;
    let unshared = from_monitor(local::SPAN_UNSHARED, STEP_SECONDS).ok_or("no answer to SPAN_UNSHARE")?;
    status("unshare", unpack(unshared[1]).1)?;
    let empty = Err(Error::Capability(4));
    let own = vnode_unmap(SLOT_VNODE, ENTRY);
    if own != empty {
        return Err(format!("this core's entry after the unshare: {own:?}, expected EmptySlot"));
    }
    let capability = cap_identify(FRAME_SLOT).map(|_| ());
    if capability != empty {
        return Err(format!("the page's capability after the unshare: {capability:?}"));
    }
    println!(
        "span {core}: page at {va:#x} shared with core {target}; read-only on both cores in {} us (core {target}'s member faulted writing it), unmapped on both in {} us",
        protected[2] / 1000,
        unshared[2] / 1000
    );
    Ok(())
}

/// The member's part: map the shared page where the monitor says, then keep reading word 0 and,
/// once it was asked, writing the answer to word 1 (the write after the protect faults, which
/// is what the spanning program checks).
pub fn member() -> u64 {
    let Some(share) = from_monitor(local::SPAN_SHARE, 2 * STEP_SECONDS) else { return 1 };
    let (entry, slot) = unpack(share[1]);
    let Ok(va) = vnode_map(SLOT_VNODE, u64::from(entry), slot, READ_WRITE) else { return 2 };
    let page = words(va);
    let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
    let deadline = userland::counter() + 4 * STEP_SECONDS * frequency;
    let mut asked = false;
    while userland::counter() < deadline {
        asked |= page[0].load(Ordering::Acquire) == ASKED;
        if asked {
            page[1].store(ANSWERED, Ordering::Release);
        }
        userland::wait(frequency / 10_000);
    }
    3
}
