//! Programs spanning several cores (the monitors' part). A program asks its monitor to span to
//! another core; its monitor lends the program's image (one Frame) to that core's monitor,
//! which starts a member joined to it there (its own kernel builds the member's page tables,
//! mapping the same image: one address space, one page-table replica per core, no kernel state
//! shared). A page the program shares with its span is retyped by its monitor from the
//! program's channel RAM and shared in two phases: prepare (lent, capops, to every member's
//! monitor, which keeps it and answers) and commit (once every member core prepared: the
//! program gets it and every member's monitor gives it to its member, to map at the same entry
//! of its own level-3 VNode); when one core cannot prepare, no member ever sees the page and the
//! revoke round takes the kept copies. Unsharing is the capops revoke round over the members'
//! cores: it returns only once every member's mapping is gone and its core's TLB invalidated
//! (the sweep unmaps), then the owner's own copies (the program's included) go, and only then
//! is the memory free for another retype. A member that ends is reported to the program. Once
//! the program ends, its image is revoked on every core it was lent to (members still running
//! end there) before this monitor drops its copy.

use alloc::vec::Vec;

use agreement::route::Strategy;
use capops::{Core, RoundEnd};
use caps::CapAddr;
use local_protocol::{self as local, BindStatus, Outcome};
use monitor::messages::{SpanMemberEnded, SpanReply, SpanRequest, SpanShare, SpanShareCommit, SpanShareDone};
use monitor::stats::ticks_to_ns;
use userland::{cap_type, println, DispatcherStatus, SLOT_FIRST_RAM, SLOT_MONITOR, SLOT_SELF, SLOT_VNODE};

use crate::Monitor;

/// Where a monitor keeps what it holds for each span member it runs (at most two; after boot the
/// core-boot slots are free on every core): the member's RAM, its Dispatcher capability and the
/// Endpoint to it; and the Endpoint to this monitor while it is being given.
const MEMBER_SLOTS: [MemberSlots; 2] = [
    MemberSlots { ram: 37, dispatcher: 38, endpoint: 39 },
    MemberSlots { ram: 40, dispatcher: 41, endpoint: 42 },
];
const MEMBER_GIVE_SLOT: u32 = 43;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemberSlots {
    ram: u32,
    dispatcher: u32,
    endpoint: u32,
}
/// Where a member gets a shared page's Frame capability.
pub const MEMBER_FRAME_SLOT: u32 = userland::SLOT_FIRST_FREE + 30;

/// A span this monitor's program started.
pub(crate) struct Span {
    client: u64,
    /// Cores asked to run a member, not yet answered.
    asked: Vec<u64>,
    /// Cores running a member.
    cores: Vec<u64>,
    /// The shared page: its entry, this monitor's slot of its Frame.
    shared: Option<(u32, CapAddr)>,
    /// Where the program gets the shared page's capability once every member core prepared.
    share_slot: u32,
    /// Member cores that have not yet said they gave the member the page, and whether one
    /// could not.
    sharing: Vec<u64>,
    share_failed: bool,
    /// The unshare in flight: the revoke round, when it started (counter ticks), and whether
    /// the program asked for it (else it undoes a share that failed on some core).
    unsharing: Option<(u32, u64, bool)>,
    /// The protect in flight: the round and when it started.
    protecting: Option<(u32, u64)>,
    /// This monitor's copy of the program's image (its segments as one Frame), lent to every
    /// member core so that its members map the same pages: one address space.
    image: Option<CapAddr>,
    /// The cores the image was lent to.
    image_lent_to: Vec<u64>,
    /// The revoke of the image once the program ended: the round and when it started.
    image_revoke: Option<(u32, u64)>,
}

/// A shared page this monitor keeps for its member until the origin commits the share.
pub(crate) struct PreparedShare {
    origin: u64,
    client: u32,
    entry: u32,
    slot: CapAddr,
    capability: caps::Capability,
}

/// A member this monitor runs for a program on another core.
pub(crate) struct Member {
    origin: u64,
    client: u32,
    dispatcher: u64,
    slots: MemberSlots,
}

/// The route shape a program names: 0 unicast, 1 broadcast, else the SKB's tree.
fn strategy_of(word: u64) -> Strategy {
    match word {
        0 => Strategy::Unicast,
        1 => Strategy::Broadcast,
        _ => Strategy::Tree,
    }
}

impl Monitor {
    /// [`local::Span`] from `sender`: one more member, on `core`. Members join
    /// before the span shares a page.
    pub(crate) fn on_span(&mut self, sender: u64, core: u32, role: u32) {
        let result = (|| {
            let core = u64::from(core);
            if core == self.core || self.peers() & (1 << core) == 0 {
                return Err(BindStatus::NoCore);
            }
            let module = self.child_modules.iter().find(|&&(d, _)| d == sender).map(|&(_, m)| m);
            let module = module.ok_or(BindStatus::Refused)?;
            if !self.spans.iter().any(|s| s.client == sender) {
                self.spans.push(Span {
                    client: sender,
                    asked: Vec::new(),
                    cores: Vec::new(),
                    shared: None,
                    share_slot: 0,
                    sharing: Vec::new(),
                    share_failed: false,
                    unsharing: None,
                    protecting: None,
                    image: None,
                    image_lent_to: Vec::new(),
                    image_revoke: None,
                });
            }
            let span = self.spans.iter_mut().find(|s| s.client == sender).ok_or(BindStatus::Refused)?;
            if span.shared.is_some() || span.asked.contains(&core) || span.cores.contains(&core) {
                return Err(BindStatus::Refused);
            }
            let image = match span.image {
                Some(image) => image,
                None => {
                    let image = self.program_image(sender).ok_or(BindStatus::NoMemory)?;
                    self.spans.iter_mut().find(|s| s.client == sender).ok_or(BindStatus::Refused)?.image =
                        Some(image);
                    image
                }
            };
            // The image goes first, by the capability protocol; the request names it.
            let mut kernel = self.kernel_caps();
            let image_base = kernel.identify(image).map_err(|_| BindStatus::Refused)?.base();
            let now = self.now_ns();
            self.capops.send(&mut kernel, core as usize, image, now).map_err(|_| BindStatus::Refused)?;
            self.after_capops();
            if let Some(span) = self.spans.iter_mut().find(|s| s.client == sender) {
                span.asked.push(core);
                if !span.image_lent_to.contains(&core) {
                    span.image_lent_to.push(core);
                }
            }
            self.send(core, &SpanRequest { client: sender as u32, module, role, image_base });
            Ok(())
        })();
        if let Err(status) = result {
            let _ = self.tell_program(sender, &local::Spanned { core, outcome: Outcome(Err(status)) });
        }
    }

    /// A `SpanRequest` from core `from`: start the member.
    pub(crate) fn on_span_request(&mut self, from: u64, request: SpanRequest) {
        let result = self.start_member(from, request);
        self.send(from, &SpanReply { client: request.client, status: BindStatus::code(result) });
    }

    fn start_member(&mut self, origin: u64, request: SpanRequest) -> Result<(), BindStatus> {
        let free = MEMBER_SLOTS.iter().find(|slots| !self.members.iter().any(|m| m.slots == **slots));
        let slots = *free.ok_or(BindStatus::Refused)?;
        let name = request.module.to_le_bytes();
        let name = core::str::from_utf8(&name).map_err(|_| BindStatus::Refused)?.trim_end_matches('\0');
        let (module, info) = userland::find_module(name).ok_or(BindStatus::NoService)?;
        // The program's image, lent by the origin just before: the member maps it and needs
        // RAM only for what is its own (stack, tables, capability space, control block).
        let image = self.take_arrival(origin, request.image_base).ok_or(BindStatus::Refused)?;
        let image_bytes = userland::cap_identify(image.raw()).map_or(0, |c| c.size);
        let private = info.ram_bytes.saturating_sub(image_bytes);
        if self.retype_free_ram(private, slots.ram).is_none() {
            let _ = userland::cap_delete(image.raw());
            return Err(BindStatus::NoMemory);
        }
        let role = u64::from(request.role);
        let spawned = userland::spawn_joined(module, slots.ram, slots.dispatcher, image.raw(), role);
        // The kernel keeps its own copy for the member (until the image is revoked).
        let _ = userland::cap_delete(image.raw());
        let Ok(dispatcher) = spawned else {
            let _ = userland::cap_delete(slots.ram);
            return Err(BindStatus::Refused);
        };
        let to_me = userland::endpoint_create(SLOT_SELF, dispatcher, MEMBER_GIVE_SLOT)
            .and_then(|()| userland::cap_give(slots.dispatcher, MEMBER_GIVE_SLOT, SLOT_MONITOR));
        let _ = userland::cap_delete(MEMBER_GIVE_SLOT);
        to_me
            .and_then(|()| userland::endpoint_create(slots.dispatcher, 0, slots.endpoint))
            .map_err(|_| BindStatus::Refused)?;
        self.children.push((dispatcher, slots.endpoint));
        self.members.push(Member { origin, client: request.client, dispatcher, slots });
        println!("monitor {}: started {name} as a member of core {origin}'s span", self.core);
        Ok(())
    }

    /// A copy of the image of this core's program `dispatcher` (one this monitor spawned), in a
    /// protocol slot.
    fn program_image(&mut self, dispatcher: u64) -> Option<CapAddr> {
        let authority = self.spawned_dispatcher_slot(dispatcher)?;
        let slot = self.kernel_caps().take_slot()?;
        userland::dispatcher_image(authority, slot.raw()).ok().map(|()| slot)
    }

    /// RAM of `bytes` from the end of one of this monitor's RAM capabilities (not the first,
    /// whose end the spawned programs take) that no retype took yet, at `dest`.
    pub(crate) fn retype_free_ram(&mut self, bytes: u64, dest: u32) -> Option<()> {
        retype_free(cap_type::RAM, bytes, dest)
    }
    /// The answer to our `SpanRequest`.
    pub(crate) fn on_span_reply(&mut self, from: u64, reply: SpanReply) {
        let client = u64::from(reply.client);
        if let Some(span) = self.spans.iter_mut().find(|s| s.client == client) {
            span.asked.retain(|&c| c != from);
            if reply.status == 0 {
                span.cores.push(from);
            }
        }
        let _ = self.tell_program(
            client,
            &local::Spanned { core: from as u32, outcome: Outcome::from_code(reply.status) },
        );
    }

    /// [`local::SpanShare`] from `sender`.
    pub(crate) fn on_span_share(&mut self, sender: u64, entry: u32, client_slot: u32) {
        if let Err(status) = self.share_page(sender, entry, client_slot) {
            let _ = self.tell_program(sender, &local::SpanShared { entry, outcome: Outcome(Err(status)) });
        }
    }

    fn share_page(&mut self, client: u64, entry: u32, client_slot: u32) -> Result<(), BindStatus> {
        let at =
            self.spans.iter().position(|s| s.client == client && s.shared.is_none() && !s.cores.is_empty());
        let at = at.ok_or(BindStatus::Refused)?;
        let frame = self.retype_channel_frame(client)?;
        let mut kernel = self.kernel_caps();
        let base = kernel.identify(frame).map_err(|_| BindStatus::Refused)?.base();
        let now = self.now_ns();
        let cores = self.spans[at].cores.clone();
        self.spans[at].shared = Some((entry, frame));
        self.spans[at].share_slot = client_slot;
        self.spans[at].share_failed = false;
        for &core in &cores {
            // A core that cannot be lent the page counts as a failed share (undone below).
            if self.capops.send(&mut kernel, core as usize, frame, now).is_ok() {
                // The Transfer first, then the SpanShare that names it (same channel, in order).
                self.after_capops();
                self.send(core, &SpanShare { client: client as u32, entry, frame_base: base });
                self.spans[at].sharing.push(core);
            } else {
                self.spans[at].share_failed = true;
            }
        }
        self.after_capops();
        if self.spans[at].sharing.is_empty() {
            self.share_answered(at);
        }
        Ok(())
    }

    /// Every member core answered the prepare: when all prepared, commit (the program and every
    /// member get the page); when one could not, no member got it, and the revoke round takes
    /// the copies the others kept: all or nothing, and nothing half applied is ever visible.
    fn share_answered(&mut self, at: usize) {
        let span = &self.spans[at];
        let (client, entry) = (span.client, span.shared.map_or(0, |(e, _)| e));
        if !span.share_failed {
            let frame = span.shared.map_or(0, |(_, f)| f.raw());
            let given = userland::cap_give_by_index(client, frame, span.share_slot);
            if given.is_ok() {
                for core in span.cores.clone() {
                    self.send(core, &SpanShareCommit { client: client as u32, entry });
                }
                let _ = self.tell_program(client, &local::SpanShared { entry, outcome: Outcome::DONE });
                return;
            }
        }
        let _ = self
            .tell_program(client, &local::SpanShared { entry, outcome: Outcome(Err(BindStatus::Refused)) });
        self.start_unshare(at, Strategy::Broadcast, false);
    }

    /// A `SpanShare` from core `from` (prepare): the Frame arrived just before; keep it until
    /// the commit.
    pub(crate) fn on_span_share_request(&mut self, from: u64, share: SpanShare) {
        let result = (|| {
            if !self.members.iter().any(|m| m.origin == from && m.client == share.client) {
                return Err(BindStatus::NoService);
            }
            let slot = self.take_arrival(from, share.frame_base).ok_or(BindStatus::Refused)?;
            let capability = self.kernel_caps().identify(slot).map_err(|_| BindStatus::Refused)?;
            // Kept copies that a revoke round took (an aborted share) are forgotten here.
            let kernel = self.kernel_caps();
            self.prepared_shares.retain(|p| {
                (p.origin, p.client) != (from, share.client)
                    && kernel.identify(p.slot).is_ok_and(|held| held.same_object(&p.capability))
            });
            let (client, entry) = (share.client, share.entry);
            self.prepared_shares.push(PreparedShare { origin: from, client, entry, slot, capability });
            Ok(())
        })();
        let done =
            SpanShareDone { client: share.client, entry: share.entry, status: BindStatus::code(result) };
        self.send(from, &done);
    }

    /// A `SpanShareCommit` from core `from`: give the kept page to the member and tell it.
    pub(crate) fn on_span_share_commit(&mut self, from: u64, commit: SpanShareCommit) {
        let key = (from, commit.client, commit.entry);
        let Some(at) = self.prepared_shares.iter().position(|p| (p.origin, p.client, p.entry) == key) else {
            return;
        };
        let prepared = self.prepared_shares.remove(at);
        let member = self.members.iter().find(|m| m.origin == from && m.client == commit.client);
        let still_held = self
            .kernel_caps()
            .identify(prepared.slot)
            .is_ok_and(|held| held.same_object(&prepared.capability));
        if let (Some(member), true) = (member, still_held) {
            let dispatcher = member.dispatcher;
            if userland::cap_give_by_index(dispatcher, prepared.slot.raw(), MEMBER_FRAME_SLOT).is_ok() {
                let _ = self.tell_program(
                    dispatcher,
                    &local::SpanShare { entry: commit.entry, slot: MEMBER_FRAME_SLOT },
                );
            }
        }
        if still_held {
            let _ = userland::cap_delete(prepared.slot.raw());
        }
    }

    /// A member core's answer to our `SpanShare`.
    pub(crate) fn on_span_share_done(&mut self, from: u64, done: SpanShareDone) {
        let Some(at) = self.spans.iter().position(|s| s.client == u64::from(done.client)) else { return };
        let span = &mut self.spans[at];
        if !span.sharing.contains(&from) {
            return;
        }
        span.sharing.retain(|&c| c != from);
        span.share_failed |= done.status != 0;
        if span.sharing.is_empty() {
            self.share_answered(at);
        }
    }

    fn route_over_span(&self, at: usize, strategy: Strategy) -> agreement::route::Route {
        let cores: Vec<usize> = self.spans[at].cores.iter().map(|&c| c as usize).collect();
        self.route_over(strategy, &cores)
    }

    /// The span of `client` whose page at `entry` every member has taken (protect and unshare
    /// act on it).
    fn settled_share(&self, client: u64, entry: u32) -> Option<usize> {
        self.spans.iter().position(|s| {
            s.client == client && s.sharing.is_empty() && s.shared.is_some_and(|(e, _)| e == entry)
        })
    }

    /// [`local::SpanUnshare`] from `sender`: the revoke round over the span's cores.
    pub(crate) fn on_span_unshare(&mut self, sender: u64, entry: u32, strategy: u64) {
        match self.settled_share(sender, entry) {
            Some(at) => self.start_unshare(at, strategy_of(strategy), true),
            None => {
                let _ = self.tell_program(sender, &unshare_refused(entry));
            }
        }
    }

    fn start_unshare(&mut self, at: usize, strategy: Strategy, asked: bool) {
        let Some((entry, frame)) = self.spans[at].shared else { return };
        let route = self.route_over_span(at, strategy);
        let now = self.now_ns();
        let mut kernel = self.kernel_caps();
        match self.capops.revoke(&mut kernel, frame, route, now) {
            Ok(round) => self.spans[at].unsharing = Some((round, userland::counter(), asked)),
            Err(_) if asked => {
                let _ = self.tell_program(self.spans[at].client, &unshare_refused(entry));
            }
            Err(_) => {}
        }
        self.after_capops();
    }

    /// Once a spanning program ended here, its image is revoked on every core it was lent to:
    /// members still running end there (their kernels drop the image with the sweep), and only
    /// then does this monitor drop its copy, the last one, so the memory is never reused while
    /// a core maps it.
    pub(crate) fn watch_spans(&mut self) {
        for at in 0..self.spans.len() {
            let span = &self.spans[at];
            let (Some(image), None) = (span.image, span.image_revoke) else { continue };
            let Some(authority) = self.spawned_dispatcher_slot(span.client) else { continue };
            if userland::dispatcher_status(authority) == Ok(DispatcherStatus::Running) {
                continue;
            }
            let cores: Vec<usize> = span.image_lent_to.iter().map(|&c| c as usize).collect();
            let route = self.route_over(Strategy::Tree, &cores);
            let now = self.now_ns();
            let mut kernel = self.kernel_caps();
            match self.capops.revoke(&mut kernel, image, route, now) {
                Ok(round) => self.spans[at].image_revoke = Some((round, userland::counter())),
                // Not lent after all (no member ever took it): the copy can simply go.
                Err(_) => {
                    if userland::cap_delete(image.raw()).is_ok() {
                        self.spans[at].image = None;
                    }
                }
            }
            self.after_capops();
        }
        self.spans.retain(|s| {
            s.image.is_some() || !s.asked.is_empty() || !s.cores.is_empty() || s.shared.is_some()
        });
    }

    /// A revoke round ended: if it revoked an ended program's image, that image is gone
    /// everywhere and this monitor's copy goes.
    fn image_revoked(&mut self, round: u32, outcome: &RoundEnd) -> bool {
        let Some(at) = self.spans.iter().position(|s| s.image_revoke.is_some_and(|(r, _)| r == round)) else {
            return false;
        };
        let (_, started) = self.spans[at].image_revoke.take().unwrap_or_default();
        let elapsed_us = ticks_to_ns(userland::counter() - started, self.frequency) / 1000;
        let span = &mut self.spans[at];
        match outcome {
            RoundEnd::Done => {
                let _ = span.image.take().map(|image| userland::cap_delete(image.raw()));
                println!(
                    "monitor {}: program {} ended; its image revoked on cores {:?} in {elapsed_us} us",
                    self.core, span.client, span.image_lent_to
                );
            }
            // Tried again on the next pass.
            other => println!("monitor {}: revoking program {}'s image: {other:?}", self.core, span.client),
        }
        true
    }

    /// A revoke round ended: if it was an unshare, the page is gone everywhere.
    pub(crate) fn span_revoked(&mut self, round: u32, outcome: &RoundEnd) {
        if self.image_revoked(round, outcome) {
            return;
        }
        let Some(span) = self.spans.iter_mut().find(|s| s.unsharing.is_some_and(|(r, _, _)| r == round))
        else {
            return;
        };
        let (_, started, asked) = span.unsharing.take().unwrap_or_default();
        let elapsed = ticks_to_ns(userland::counter() - started, self.frequency);
        let (entry, frame) = span.shared.take().unwrap_or((0, CapAddr::from_raw(0)));
        let status = match outcome {
            RoundEnd::Done => {
                // No longer lent, and the program's copy went with the revoke: free the page.
                let _ = userland::cap_delete(frame.raw());
                Outcome::DONE
            }
            _ => {
                span.shared = Some((entry, frame));
                Outcome(Err(BindStatus::Refused))
            }
        };
        let client = span.client;
        if asked {
            let _ = self
                .tell_program(client, &local::SpanUnshared { entry, outcome: status, elapsed_ns: elapsed });
        }
    }

    /// [`local::SpanProtect`] from `sender`: the protect round over the span's
    /// cores, to read-only.
    pub(crate) fn on_span_protect(&mut self, sender: u64, entry: u32, strategy: u64) {
        let refused =
            local::SpanProtected { entry, outcome: Outcome(Err(BindStatus::Refused)), elapsed_ns: 0 };
        let Some(at) = self.settled_share(sender, entry) else {
            let _ = self.tell_program(sender, &refused);
            return;
        };
        let frame = self.spans[at].shared.map_or(CapAddr::from_raw(0), |(_, f)| f);
        let route = self.route_over_span(at, strategy_of(strategy));
        let now = self.now_ns();
        let mut kernel = self.kernel_caps();
        match self.capops.protect(&mut kernel, frame, caps::Rights::READ, route, now) {
            Ok(round) => self.spans[at].protecting = Some((round, userland::counter())),
            Err(refusal) => {
                println!(
                    "monitor {}: cannot protect dispatcher {sender}'s shared page: {refusal:?}",
                    self.core
                );
                let _ = self.tell_program(sender, &refused);
            }
        }
        self.after_capops();
    }

    /// A protect round ended: tell the program.
    pub(crate) fn span_protected(&mut self, round: u32, outcome: &RoundEnd) {
        let Some(span) = self.spans.iter_mut().find(|s| s.protecting.is_some_and(|(r, _)| r == round)) else {
            return;
        };
        let (_, started) = span.protecting.take().unwrap_or_default();
        let elapsed = ticks_to_ns(userland::counter() - started, self.frequency);
        let entry = span.shared.map_or(0, |(e, _)| e);
        let status =
            if *outcome == RoundEnd::Done { Outcome::DONE } else { Outcome(Err(BindStatus::Refused)) };
        let client = span.client;
        if status != Outcome::DONE {
            println!(
                "monitor {}: the protect of dispatcher {client}'s shared page ended {outcome:?}",
                self.core
            );
        }
        let _ =
            self.tell_program(client, &local::SpanProtected { entry, outcome: status, elapsed_ns: elapsed });
    }

    /// Checks whether a member this monitor runs ended; tells its program's monitor.
    pub(crate) fn watch_members(&mut self) {
        let mut at = 0;
        while at < self.members.len() {
            let slots = self.members[at].slots;
            let (code, far) = match userland::dispatcher_status(slots.dispatcher) {
                Ok(DispatcherStatus::Running) => {
                    at += 1;
                    continue;
                }
                Ok(DispatcherStatus::Exited(_)) => (userland::STATUS_EXITED, 0),
                Ok(DispatcherStatus::Faulted { far, .. }) => (userland::STATUS_FAULTED, far),
                Ok(DispatcherStatus::ImageRevoked) => (userland::STATUS_IMAGE_REVOKED, 0),
                Ok(DispatcherStatus::Stopped) => (userland::STATUS_STOPPED, 0),
                Err(_) => (0, 0),
            };
            let member = self.members.remove(at);
            self.children.retain(|&(d, _)| d != member.dispatcher);
            for slot in [slots.endpoint, slots.dispatcher, slots.ram] {
                let _ = userland::cap_delete(slot);
            }
            let ended = SpanMemberEnded { client: member.client, status: code as u32, far };
            self.send(member.origin, &ended);
        }
    }

    /// A member of our program's span ended.
    pub(crate) fn on_span_member_ended(&mut self, from: u64, ended: SpanMemberEnded) {
        let client = u64::from(ended.client);
        let ended = local::SpanMemberEnded { core: from as u32, status: ended.status, far: ended.far };
        let _ = self.tell_program(client, &ended);
        if let Some(span) = self.spans.iter_mut().find(|s| s.client == client) {
            span.cores.retain(|&c| c != from);
        }
    }
}

/// An object of `kind` and `bytes` (rounded up to pages) from the end of one of this monitor's
/// RAM capabilities (not the first, whose end the spawned programs take) that no retype took
/// yet, at `dest`.
pub(crate) fn retype_free(kind: u64, bytes: u64, dest: u32) -> Option<()> {
    const PAGE: u64 = 4096;
    let bytes = bytes.div_ceil(PAGE) * PAGE;
    for slot in SLOT_FIRST_RAM + 1..SLOT_VNODE {
        let Ok(ram) = userland::cap_identify(slot) else { continue };
        if ram.kind != cap_type::RAM || ram.size < bytes {
            continue;
        }
        for k in 1..=(ram.size / bytes).min(64) {
            if userland::cap_retype(slot, kind, ram.size - k * bytes, bytes, 1, dest).is_ok() {
                return Some(());
            }
        }
    }
    None
}

/// The answer to an unshare that cannot happen.
fn unshare_refused(entry: u32) -> local::SpanUnshared {
    local::SpanUnshared { entry, outcome: Outcome(Err(BindStatus::Refused)), elapsed_ns: 0 }
}
