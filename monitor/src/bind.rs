//! Channels bound on demand between programs (the monitor's part; the bookkeeping is
//! `monitor::binding` and `monitor::lookup`), the transport chosen by where the service is.
//!
//! **On this core** (a [`local::Bind`] naming this core, or naming none, [`ANY_CORE`], for a
//! service a program here accepts): the kernel's line transport. The monitor makes an Endpoint
//! to each program from the Dispatcher capability it holds for it (it spawned both) and gives
//! it to the other, at the slot each named, badged [`local::bound_line_badge`] of the
//! receiver's own slot, then says [`local::BindIncoming`] to the server and [`local::Bound`]
//! (this core) to the client. No memory is needed. It keeps a copy of each Endpoint: when one
//! side closes the binding ([`local::Unbind`]) it revokes both, and both sides hear
//! [`local::Unbound`].
//!
//! **On another core**: a bind naming no core first asks every other online monitor
//! ([`NameQuery`]), each answering from its own table ([`NameAnswer`]), and binds to the
//! nearest core that offers it (`skb::Skb::nearest_of`). The monitor retypes the
//! channel's Frame from the RAM it gave that program for channels (the program's own memory),
//! lends it to the other core's monitor through the capability protocol and sends a
//! `BindRequest`; that monitor gives the Frame to the program accepting the service
//! (`cap_give` by index, its Kernel capability; one binding per [`local::Accept`]) and tells
//! it [`local::BindIncoming`], then answers; on success this monitor gives its program the
//! Frame and says [`local::Bound`]. The monitors' own channels stay the bootstrap.

use caps::{CapAddr, Capability};
use local_protocol::{self as local, BindStatus, Outcome, Service, ANY_CORE};
use monitor::binding::{Acceptor, LineSide, PendingBind};
use monitor::lookup::Found;
use monitor::messages::{BindReply, BindRequest, NameAnswer, NameQuery};
use userland::{cap_type, println};

use crate::kernel_caps::{self, is_protocol_slot};
use crate::Monitor;
use capops::Core;

/// Bytes of a channel's Frame (one `urpc::ChannelFrame`).
const CHANNEL_BYTES: u64 = 4096;
/// Capabilities that arrived and wait for a `BindRequest` naming them; older ones are dropped
/// (their slots deleted) past this many.
pub(crate) const ARRIVALS_KEPT: usize = 8;
/// How long a bind by name waits for the other monitors' answers (ns): each answers from its
/// table at once, so only a core that stopped answering makes it wait this long.
const LOOKUP_TIMEOUT_NS: u64 = 2_000_000_000;

impl Monitor {
    /// A program accepts bindings to a service.
    pub(crate) fn on_accept(&mut self, sender: u64, accept: local::Accept) {
        self.accepting.accept(accept.service, sender, accept.slot);
    }

    /// A program binds to a service: on the core it names, or, naming none, here if a program
    /// of this core offers it, else on the nearest other core whose monitor says one offers it.
    pub(crate) fn on_bind(&mut self, sender: u64, bind: local::Bind) {
        if self.binds.in_flight(sender) || self.lookups.asking(sender) {
            self.tell_bound(sender, bind.core, Err(BindStatus::Busy), bind.slot);
            return;
        }
        let here = self.core as u32;
        let acceptor = self.accepting.lookup(bind.service);
        let ready_here = matches!(acceptor, Some(Acceptor::Ready { .. }));
        if bind.core == here || (bind.core == ANY_CORE && ready_here) {
            let result = self.bind_here(sender, bind.slot, bind.service, acceptor);
            self.tell_bound(sender, here, result, bind.slot);
            return;
        }
        if bind.core != ANY_CORE {
            if let Err(status) = self.start_bind(sender, u64::from(bind.core), bind.slot, bind.service) {
                self.tell_bound(sender, bind.core, Err(status), bind.slot);
            }
            return;
        }
        let asked = self.peers();
        let deadline = self.now_ns() + LOOKUP_TIMEOUT_NS;
        let Some(query) = self.lookups.start(sender, bind.service, bind.slot, asked, deadline) else {
            return;
        };
        for peer in (0..64).filter(|&p| asked & (1 << p) != 0) {
            self.send(peer, &NameQuery { query, service: bind.service });
        }
        // With no other core online the query ends at once (`lookup_poll`).
        self.lookup_poll();
    }

    /// Binds program `client` to the program of this core that accepts `service` (`acceptor`,
    /// as this monitor's table has it): an Endpoint to each, given to the other, each badged
    /// with the receiver's own slot. The client's first: if the server's is then refused, the
    /// client's is revoked, the client hears `Refused`, and the server, given nothing, is told
    /// nothing.
    fn bind_here(
        &mut self,
        client: u64,
        client_slot: u32,
        service: Service,
        acceptor: Option<Acceptor>,
    ) -> Result<(), BindStatus> {
        let (server, server_slot) = match acceptor {
            None => return Err(BindStatus::NoService),
            Some(Acceptor::Taken) => return Err(BindStatus::Refused),
            Some(Acceptor::Ready { dispatcher, slot }) => (dispatcher, slot),
        };
        let (Some(client_cap), Some(server_cap)) =
            (self.dispatcher_slot(client), self.dispatcher_slot(server))
        else {
            // Only the programs this monitor started can be given Endpoints to each other.
            return Err(BindStatus::Refused);
        };
        // Each Endpoint is made in a slot of the monitor's own and a copy given: the monitor
        // keeps its copy, whose revoke removes the program's when the binding closes.
        let give = |to: u32, badge: u64, receiver: u64, slot: u32| {
            let kept = kernel_caps::empty_binding_slot().ok_or(BindStatus::NoMemory)?;
            let given = userland::endpoint_create(to, badge, kept)
                .and_then(|()| userland::cap_give_by_index(receiver, kept, slot));
            if given.is_err() {
                let _ = userland::cap_delete(kept);
            }
            given.map(|()| kept).map_err(|_| BindStatus::Refused)
        };
        let client_kept = give(server_cap, local::bound_line_badge(server_slot), client, client_slot)?;
        let server_kept = match give(client_cap, local::bound_line_badge(client_slot), server, server_slot) {
            Ok(kept) => kept,
            Err(status) => {
                let _ = userland::cap_revoke(client_kept);
                let _ = userland::cap_delete(client_kept);
                return Err(status);
            }
        };
        self.line_bindings.add([
            LineSide { dispatcher: client, slot: client_slot, kept: client_kept },
            LineSide { dispatcher: server, slot: server_slot, kept: server_kept },
        ]);
        self.accepting.taken(service);
        let _ = self.tell_program(server, &local::BindIncoming { core: self.core as u32, slot: server_slot });
        Ok(())
    }

    /// A program closes the same-core binding at its `slot`: both Endpoints are revoked (the
    /// kernel removes the programs' copies with the monitor's), so neither side sends another
    /// line, and both hear [`local::Unbound`]. A slot with no such binding (closed already by
    /// the other side) is ignored.
    pub(crate) fn on_unbind(&mut self, sender: u64, unbind: local::Unbind) {
        let Some(sides) = self.line_bindings.remove(sender, unbind.slot) else { return };
        for side in sides {
            let _ = userland::cap_revoke(side.kept);
            let _ = userland::cap_delete(side.kept);
        }
        for side in sides {
            let _ = self.tell_program(side.dispatcher, &local::Unbound { slot: side.slot });
        }
    }

    /// A program asks for boot module `start.program` to be started on this core.
    pub(crate) fn on_start(&mut self, sender: u64, start: local::Start) {
        let name = start.program.name();
        let result = if userland::find_module(name).is_none() {
            Err(BindStatus::NoService)
        } else {
            self.start_program(name, start.argument).map_err(|why| {
                println!("monitor {}: cannot start {name} for dispatcher {sender}: {why}", self.core);
                BindStatus::Refused
            })
        };
        let started = local::Started {
            program: start.program,
            dispatcher: result.map_or(0, |dispatcher| dispatcher as u32),
            outcome: Outcome(result.map(|_| ())),
        };
        let _ = self.tell_program(sender, &started);
    }

    /// Another core's monitor asks whether a program here offers a service.
    pub(crate) fn on_name_query(&mut self, from: u64, query: NameQuery) {
        let offered = self.accepting.lookup(query.service).is_some();
        self.send(from, &NameAnswer { query: query.query, offered });
    }

    /// An answer to a query of this monitor.
    pub(crate) fn on_name_answer(&mut self, from: u64, answer: NameAnswer) {
        if let Some(found) = self.lookups.answer(from, answer.query, answer.offered) {
            self.lookup_found(found);
        }
    }

    /// Ends the queries whose cores all went offline or whose time ran out (a hook of the main
    /// loop's `pump`).
    pub(crate) fn lookup_poll(&mut self) {
        let now = self.now_ns();
        for found in self.lookups.expire(now, self.peers()) {
            self.lookup_found(found);
        }
    }

    fn lookup_found(&mut self, found: Found) {
        match found {
            Found::Offered(lookup, cores) => {
                let offering = || (0..64usize).filter(|&c| cores & (1u64 << c) != 0);
                // The SKB judges by measured round trip, else cluster; without it (or where it
                // counts none of them online) the lowest-numbered core.
                let nearest =
                    self.skb.as_ref().and_then(|skb| skb.nearest_of(self.core as usize, offering()));
                let core = nearest.or_else(|| offering().next()).unwrap_or_default() as u64;
                if let Err(status) = self.start_bind(lookup.client, core, lookup.slot, lookup.service) {
                    self.tell_bound(lookup.client, core as u32, Err(status), lookup.slot);
                }
            }
            Found::Nowhere(lookup) => {
                // Offered here, but its program has a binding and has not accepted another yet.
                let status = match self.accepting.lookup(lookup.service) {
                    Some(Acceptor::Taken) => BindStatus::Refused,
                    _ => BindStatus::NoService,
                };
                self.tell_bound(lookup.client, ANY_CORE, Err(status), lookup.slot);
            }
        }
    }

    fn tell_bound(&self, client: u64, core: u32, result: Result<(), BindStatus>, slot: u32) {
        let _ = self.tell_program(client, &local::Bound { core, slot, outcome: Outcome(result) });
    }

    fn start_bind(
        &mut self,
        client: u64,
        core: u64,
        client_slot: u32,
        service: Service,
    ) -> Result<(), BindStatus> {
        if core == self.core || self.peers() & 1u64.checked_shl(core as u32).unwrap_or(0) == 0 {
            return Err(BindStatus::NoCore);
        }
        if self.binds.in_flight(client) {
            return Err(BindStatus::Busy);
        }
        let frame = match self.binds.take_spare(client) {
            Some(frame) => CapAddr::from_raw(frame),
            None => self.retype_channel_frame(client)?,
        };
        let mut kernel = self.kernel_caps();
        let base = kernel.identify(frame).map_err(|_| BindStatus::Refused)?.base();
        let now = self.now_ns();
        if self.capops.send(&mut kernel, core as usize, frame, now).is_err() {
            self.binds.keep_spare(client, frame.raw());
            return Err(BindStatus::Refused);
        }
        self.after_capops();
        self.send(core, &BindRequest { service, client: client as u32, frame_base: base });
        self.binds.start(PendingBind { client, client_slot, frame_slot: frame.raw(), core });
        Ok(())
    }

    /// A one-page Frame from the channel RAM this monitor gave `client`, in a protocol slot.
    pub(crate) fn retype_channel_frame(&mut self, client: u64) -> Result<CapAddr, BindStatus> {
        let ram = self.channel_ram.iter().find(|&&(d, _)| d == client).map(|&(_, slot)| slot);
        let ram = ram.ok_or(BindStatus::NoMemory)?;
        let size = userland::cap_identify(ram).map_err(|_| BindStatus::NoMemory)?.size;
        let frame = self.kernel_caps().take_slot().ok_or(BindStatus::NoMemory)?;
        (0..size / CHANNEL_BYTES)
            .find(|page| {
                userland::cap_retype(
                    ram,
                    cap_type::FRAME,
                    page * CHANNEL_BYTES,
                    CHANNEL_BYTES,
                    1,
                    frame.raw(),
                )
                .is_ok()
            })
            .map(|_| frame)
            .ok_or(BindStatus::NoMemory)
    }

    /// A `BindRequest` from core `from`: the Frame it names arrived just before.
    pub(crate) fn on_bind_request(&mut self, from: u64, request: BindRequest) {
        let status = BindStatus::code(self.give_to_service(from, request));
        self.send(from, &BindReply { client: request.client, status });
    }

    fn give_to_service(&mut self, from: u64, request: BindRequest) -> Result<(), BindStatus> {
        let slot = self.take_arrival(from, request.frame_base).ok_or(BindStatus::Refused)?;
        let result = match self.accepting.lookup(request.service) {
            None => Err(BindStatus::NoService),
            // Its program has taken a binding and not accepted another (yet).
            Some(Acceptor::Taken) => Err(BindStatus::Refused),
            Some(Acceptor::Ready { dispatcher, slot: dest }) => {
                userland::cap_give_by_index(dispatcher, slot.raw(), dest)
                    .map_err(|_| BindStatus::Refused)
                    .map(|()| (dispatcher, dest))
            }
        };
        // This monitor's foreign copy is not needed either way (the program holds its own).
        let _ = userland::cap_delete(slot.raw());
        let (dispatcher, dest) = result?;
        self.accepting.taken(request.service);
        let _ = self.tell_program(dispatcher, &local::BindIncoming { core: from as u32, slot: dest });
        Ok(())
    }

    /// The answer to a bind this monitor started.
    pub(crate) fn on_bind_reply(&mut self, from: u64, reply: BindReply) {
        let Some(bind) = self.binds.finish(u64::from(reply.client)) else { return };
        if bind.core != from {
            println!(
                "monitor {}: bind answer from core {from} for core {}'s bind ignored",
                self.core, bind.core
            );
            return;
        }
        let status = Outcome::from_code(reply.status).0.and_then(|()| {
            userland::cap_give_by_index(bind.client, bind.frame_slot, bind.client_slot)
                .map_err(|_| BindStatus::Refused)
        });
        if status.is_err() {
            self.binds.keep_spare(bind.client, bind.frame_slot);
        }
        self.tell_bound(bind.client, from as u32, status, bind.client_slot);
    }

    /// The slot of the capability that arrived from core `from` with base `base` (for the
    /// `BindRequest` or `SpanShare` naming it), if it is still there: no longer kept.
    pub(crate) fn take_arrival(&mut self, from: u64, base: u64) -> Option<CapAddr> {
        let at = self.arrived.iter().position(|&(f, _, c)| f == from && c.base() == base)?;
        let (_, slot, capability) = self.arrived.remove(at);
        self.kernel_caps().identify(slot).is_ok_and(|held| held.same_object(&capability)).then_some(slot)
    }

    /// Keeps a capability that arrived for a later `BindRequest`.
    pub(crate) fn remember_arrival(&mut self, from: u64, slot: CapAddr, capability: Capability) {
        if !is_protocol_slot(slot.raw()) {
            return;
        }
        // A slot whose capability went (swept, or taken by the exercise) may hold another one
        // by now: only delete what is still the capability that arrived.
        let kernel = self.kernel_caps();
        self.arrived.retain(|(_, slot, capability)| {
            kernel.identify(*slot).is_ok_and(|held| held.same_object(capability))
        });
        if self.arrived.len() == ARRIVALS_KEPT {
            let (_, old, _) = self.arrived.remove(0);
            let _ = userland::cap_delete(old.raw());
        }
        self.arrived.push((from, slot, capability));
    }
}
