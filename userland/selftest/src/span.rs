//! `span-shared-page-protect-unmap`: a program spanning three cores. This `selftest` asks its
//! monitor to span to the next two online cores (each core's monitor starts this program there
//! in the member role, its own kernel building the member's page tables), to share a page with
//! the span (mapped at the same entry of this program's VNode and of every member's), and sees
//! each member answer through the page (member `i` answers in word `1 + i`; member 0 keeps
//! writing its answer, the others write it once and then only read word 0). Then it protects
//! the page to read-only over the SKB's tree: the call returns once every copy and mapping on
//! every core is read-only (each core's TLB invalidated), and member 0's next write faults at
//! its word while its read of word 0 did not (a permission fault, not a missing mapping). Then
//! it unshares the page: the call returns once it is unmapped on every core, after which this
//! program's entry is empty, its capability gone, and the reading members fault at word 0
//! (the page is gone from their own tables).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use local_protocol::{self as local, Outcome, ToProgram};
use userland::{
    cap_identify, info, println, vnode_map, vnode_unmap, Error, Info, SLOT_VNODE, STATUS_FAULTED,
};

/// The member's argument: this role, with the member's index from bit 8.
pub const ROLE_SPAN_MEMBER: u64 = 4;
/// Members the span gets (fewer when fewer other cores are online).
const MEMBERS: u64 = 2;
/// Route of the protect and the unshare: the SKB's multicast tree.
const TREE: u32 = 2;
/// The shared page's entry in every member's level-3 VNode, and where this program gets its
/// Frame capability.
const ENTRY: u64 = 502;
const FRAME_SLOT: u32 = userland::SLOT_FIRST_FREE + 30;
const STEP_SECONDS: u64 = 90;
const READ_WRITE: u64 = 3;
const ASKED: u64 = 42;
const ANSWERED: u64 = 43;
/// What member `i` on core `c` writes into [`MEMBER_STATICS`]`[i]`: `SEEN ^ c`.
const SEEN: u64 = 0x5ea0_0000_0000;

/// Written by each member on its own core, read by the program here: one address space, so
/// the same memory (the members map this program's image, statics and heap included).
static MEMBER_STATICS: [AtomicU64; MEMBERS as usize] = [const { AtomicU64::new(0) }; MEMBERS as usize];
/// A value each member allocated on the heap (the program's, shared likewise), freed here.
static MEMBER_BOXES: spin::Mutex<[Option<Box<u64>>; MEMBERS as usize]> = spin::Mutex::new([None, None]);

/// The entry of a dispatcher joined on another core (see `userland::entry!`).
pub fn joined(role: u64) -> u64 {
    if role & 0xff != ROLE_SPAN_MEMBER {
        return 9;
    }
    member((role >> 8) as usize)
}

/// Checks that every member's writes to this program's statics and heap are seen here (and
/// frees what they allocated: one heap).
fn members_share_this_address_space(targets: &[u64]) -> Result<(), String> {
    for (index, &target) in targets.iter().enumerate() {
        let wrote = MEMBER_STATICS[index].load(Ordering::Acquire);
        if wrote != SEEN ^ target {
            return Err(format!(
                "core {target}'s member wrote {wrote:#x} to a static; seen here: not the same memory"
            ));
        }
        let boxed = MEMBER_BOXES.lock()[index].take();
        let value = *boxed.ok_or(format!("core {target}'s member left no heap value"))?;
        if value != SEEN + index as u64 {
            return Err(format!("core {target}'s member's heap value reads {value:#x} here"));
        }
    }
    Ok(())
}

/// The page's first words (members read word 0, member `i` answers in word `1 + i`).
fn words(va: u64) -> &'static [AtomicU64; 1 + MEMBERS as usize] {
    #[allow(unsafe_code)]
    // SAFETY: `va` is where `vnode_map` mapped a whole page read-write (the shared Frame,
    // zeroed by its retype); the words are only accessed atomically. When the page is unmapped
    // the next access faults and the kernel stops this program: nothing else is mapped there.
    unsafe {
        &*(va as *const [AtomicU64; 1 + MEMBERS as usize])
    }
}

/// The monitor's messages to this program, with those that came while it waited for another
/// kept in order (a member may end before the answer to the protect that stopped it arrives).
#[derive(Default)]
struct Inbox {
    kept: Vec<ToProgram>,
}

impl Inbox {
    /// The monitor's next message that `pick` takes, as it takes it; `None` after `seconds`.
    fn wait_for<T>(&mut self, pick: fn(&ToProgram) -> Option<T>, seconds: u64) -> Option<T> {
        if let Some((at, picked)) = self.kept.iter().enumerate().find_map(|(at, m)| Some((at, pick(m)?))) {
            self.kept.remove(at);
            return Some(picked);
        }
        let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
        let deadline = userland::counter() + seconds * frequency;
        loop {
            match userland::recv_local() {
                Ok((0, words)) => match local::decode::<ToProgram>(words) {
                    Ok(message) => match pick(&message) {
                        Some(picked) => return Some(picked),
                        None => self.kept.push(message),
                    },
                    Err(e) => println!("selftest: the monitor sent no message ({e}): {words:x?}"),
                },
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
}

fn status(what: &str, outcome: Outcome) -> Result<(), String> {
    outcome.0.map_err(|status| format!("{what}: {status:?} ({})", status.describe()))
}

/// Waits until the members on `cores` ended, each stopped by a fault at `address(core)`.
fn expect_ended(inbox: &mut Inbox, cores: &[u64], address: impl Fn(u64) -> u64) -> Result<(), String> {
    let mut waiting: Vec<u64> = cores.to_vec();
    while !waiting.is_empty() {
        let pick = |m: &ToProgram| match m {
            ToProgram::SpanMemberEnded(ended) => Some(*ended),
            _ => None,
        };
        let ended = inbox.wait_for(pick, STEP_SECONDS).ok_or("a member never stopped")?;
        let (core, member_status) = (u64::from(ended.core), ended.status);
        let at =
            waiting.iter().position(|&c| c == core).ok_or(format!("core {core}'s member ended too early"))?;
        waiting.remove(at);
        let expected = address(core);
        if u64::from(member_status) != STATUS_FAULTED || ended.far != expected {
            return Err(format!(
                "core {core}'s member ended with status {member_status}, address {:#x}; expected a fault at {expected:#x}",
                ended.far
            ));
        }
    }
    Ok(())
}

/// The check (see the module documentation).
pub fn span_shared_page_protect_unmap() -> Result<(), String> {
    let core = info(Info::CoreIndex).map_err(|e| format!("core index: {e:?}"))?;
    let count = info(Info::CoreCount).unwrap_or(1);
    let targets: Vec<u64> = (1..count)
        .map(|step| (core + step) % count)
        .filter(|&c| userland::info_of(Info::CoreOnline, c) == Ok(1))
        .take(MEMBERS as usize)
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    fn ask<M: urpc::interface::Variant>(message: &M) -> Result<(), String> {
        userland::send_to_monitor(local::words(message)).map_err(|e| format!("ask the monitor: {e:?}"))
    }
    let mut inbox = Inbox::default();
    for (index, &target) in targets.iter().enumerate() {
        let role = ROLE_SPAN_MEMBER | (index as u64) << 8;
        ask(&local::Span { core: target as u32, role: role as u32 })?;
        let pick = |m: &ToProgram| match m {
            ToProgram::Spanned(spanned) => Some(spanned.outcome),
            _ => None,
        };
        let spanned = inbox.wait_for(pick, STEP_SECONDS).ok_or("no answer to Span")?;
        status(&format!("span to core {target}"), spanned)?;
    }

    ask(&local::SpanShare { entry: ENTRY as u32, slot: FRAME_SLOT })?;
    let pick = |m: &ToProgram| match m {
        ToProgram::SpanShared(shared) => Some(shared.outcome),
        _ => None,
    };
    let shared = inbox.wait_for(pick, STEP_SECONDS).ok_or("no answer to SpanShare")?;
    status("share", shared)?;
    let va = vnode_map(SLOT_VNODE, ENTRY, FRAME_SLOT, READ_WRITE).map_err(|e| format!("map: {e:?}"))?;
    let page = words(va);
    page[0].store(ASKED, Ordering::Release);
    let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
    let deadline = userland::counter() + STEP_SECONDS * frequency;
    for (index, target) in targets.iter().enumerate() {
        while page[1 + index].load(Ordering::Acquire) != ANSWERED {
            if userland::counter() > deadline {
                return Err(format!("core {target}'s member never answered through the page"));
            }
            userland::wait(frequency / 10_000);
        }
    }
    members_share_this_address_space(&targets)?;

    ask(&local::SpanProtect { entry: ENTRY as u32, strategy: TREE })?;
    let pick = |m: &ToProgram| match m {
        ToProgram::SpanProtected(protected) => Some(*protected),
        _ => None,
    };
    let protected = inbox.wait_for(pick, STEP_SECONDS).ok_or("no answer to SpanProtect")?;
    status("protect", protected.outcome)?;
    if page[0].load(Ordering::Acquire) != ASKED {
        return Err("the page no longer reads back after the protect".into());
    }
    // The writing member stops at its write; the reading ones read on.
    expect_ended(&mut inbox, &targets[..1], |_| va + 8)?;

    ask(&local::SpanUnshare { entry: ENTRY as u32, strategy: TREE })?;
    let pick = |m: &ToProgram| match m {
        ToProgram::SpanUnshared(unshared) => Some(*unshared),
        _ => None,
    };
    let unshared = inbox.wait_for(pick, STEP_SECONDS).ok_or("no answer to SpanUnshare")?;
    status("unshare", unshared.outcome)?;
    let empty = Err(Error::Capability(4));
    let own = vnode_unmap(SLOT_VNODE, ENTRY);
    if own != empty {
        return Err(format!("this core's entry after the unshare: {own:?}, expected EmptySlot"));
    }
    let capability = cap_identify(FRAME_SLOT).map(|_| ());
    if capability != empty {
        return Err(format!("the page's capability after the unshare: {capability:?}"));
    }
    // The reading members stop at their next read: the page is gone from their tables too.
    expect_ended(&mut inbox, &targets[1..], |_| va)?;
    println!(
        "span {core}: one address space on cores {targets:?} (their writes to statics and heap seen here); page at {va:#x} shared; read-only on all {} cores in {} us (a write faulted), unmapped on all in {} us (a read faulted)",
        targets.len() + 1,
        protected.elapsed_ns / 1000,
        unshared.elapsed_ns / 1000
    );
    Ok(())
}

/// The member's part: map the shared page where the monitor says, then keep reading word 0 and,
/// once it was asked, writing the answer to word 1 (the write after the protect faults, which
/// is what the spanning program checks).
pub fn member(index: usize) -> u64 {
    let mut inbox = Inbox::default();
    let pick = |m: &ToProgram| match m {
        ToProgram::SpanShare(share) => Some(*share),
        _ => None,
    };
    let Some(share) = inbox.wait_for(pick, 2 * STEP_SECONDS) else { return 1 };
    let Ok(va) = vnode_map(SLOT_VNODE, u64::from(share.entry), share.slot, READ_WRITE) else { return 2 };
    let page = words(va);
    let index = index.min(MEMBERS as usize - 1);
    // Before the answer through the page, so that the program sees these once it sees that.
    let core = info(Info::CoreIndex).unwrap_or(u64::MAX);
    MEMBER_BOXES.lock()[index] = Some(Box::new(SEEN + index as u64));
    MEMBER_STATICS[index].store(SEEN ^ core, Ordering::Release);
    let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
    let deadline = userland::counter() + 4 * STEP_SECONDS * frequency;
    let word = &page[1 + index];
    let mut answered = false;
    while userland::counter() < deadline {
        // Member 0 writes its answer again and again (its write after the protect faults);
        // the others answer once and then only read (their read after the unshare faults).
        if page[0].load(Ordering::Acquire) == ASKED && (index == 0 || !answered) {
            word.store(ANSWERED, Ordering::Release);
            answered = true;
        }
        userland::wait(frequency / 10_000);
    }
    3
}
