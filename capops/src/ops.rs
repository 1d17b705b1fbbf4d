//! One core's part in every capability operation that crosses cores (see the crate
//! documentation for the protocol).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use agreement::commit::{Outcome, TwoPhase};
use agreement::node::{Action, Kind, Msg, Node, Phase};
use agreement::route::Route;
use agreement::CoreId;
use caps::{CapAddr, CapError, Capability, Owner, Retype, Rights};

/// How long a request waits for its answer by default, in the unit of the `now` the caller
/// passes (nanoseconds in the monitor): 2 s, generous for six emulated cores on two host cores.
pub const DEFAULT_TIMEOUT: u64 = 2_000_000_000;

/// Round numbers carry their initiator in the bits above this many.
const ROUND_INITIATOR_SHIFT: u32 = 20;
/// Exported objects remembered before stale entries are looked for.
const EXPORTED_BEFORE_PRUNING: usize = 32;
/// Cores a revoke round can name (the subtree of a message is a 64-bit set).
const MAX_CORES: CoreId = 64;

/// What this core needs from its CPU driver (the calls of the Kernel capability's holder) and
/// from its monitor (free slots in the monitor's capability space).
pub trait Core {
    /// The capability at `slot`.
    fn identify(&self, slot: CapAddr) -> Result<Capability, CapError>;
    /// Who owns the object of the capability at `slot`.
    fn owner(&self, slot: CapAddr) -> Result<Owner, CapError>;
    /// The capability at `slot` and its owner, to send; on the owner the object becomes lent.
    fn export(&mut self, slot: CapAddr) -> Result<(Capability, Owner), CapError>;
    /// A copy of another core's capability into the empty slot `dest`.
    fn receive(&mut self, capability: Capability, owner: Owner, dest: CapAddr) -> Result<(), CapError>;
    /// Retypes the capability at `src` (this core owns it) into one new object at `dest`.
    fn retype(&mut self, src: CapAddr, retype: Retype, dest: CapAddr) -> Result<(), CapError>;
    /// Removes the foreign copies of `object` owned by `owner` and of everything inside it.
    fn sweep(&mut self, object: Capability, owner: CoreId) -> Result<(), CapError>;
    /// The owner's revoke after every other core swept.
    fn revoke_agreed(&mut self, slot: CapAddr) -> Result<(), CapError>;
    /// Reduces to `rights` the foreign copies of `object` owned by `owner` (and their
    /// mappings).
    fn protect(&mut self, object: Capability, owner: CoreId, rights: Rights) -> Result<(), CapError>;
    /// The owner's protect after every other core's: its own copies of the object at `slot`
    /// (and their mappings).
    fn protect_own(&mut self, slot: CapAddr, rights: Rights) -> Result<(), CapError>;
    /// An empty slot of the monitor's capability space, now the protocol's to fill.
    fn take_slot(&mut self) -> Option<CapAddr>;
    /// Gives back a slot from [`take_slot`](Self::take_slot) that stayed empty.
    fn return_slot(&mut self, slot: CapAddr);
}

/// Why an operation across cores did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A CPU driver refused (on this core or on the other).
    Capability(CapError),
    /// The object, or one it lies inside, is being revoked.
    Revoking,
    /// A core still had a copy of the object in flight when asked to revoke it: nothing was
    /// removed anywhere; try again.
    Busy,
    /// The monitor has no free slot for what arrived.
    NoSlot,
    /// No answer in time.
    Unanswered,
}

impl Refusal {
    /// The refusal's number in a message: a capability error's own code (1 to 63), the others
    /// from 100.
    pub fn code(self) -> u8 {
        match self {
            Refusal::Capability(error) => error.code(),
            Refusal::Revoking => 100,
            Refusal::Busy => 101,
            Refusal::NoSlot => 102,
            Refusal::Unanswered => 103,
        }
    }

    /// The refusal with number `code`.
    pub fn from_code(code: u8) -> Option<Refusal> {
        Some(match code {
            100 => Refusal::Revoking,
            101 => Refusal::Busy,
            102 => Refusal::NoSlot,
            103 => Refusal::Unanswered,
            _ => Refusal::Capability(CapError::from_code(u64::from(code))?),
        })
    }
}

impl From<CapError> for Refusal {
    fn from(error: CapError) -> Refusal {
        Refusal::Capability(error)
    }
}

/// What a round does to an object on every core that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Remove every copy and descendant but the owner's one capability.
    Revoke,
    /// Reduce every copy's rights (and mapping) to these.
    Protect(Rights),
}

impl Operation {
    fn protect_rights(self) -> Option<Rights> {
        match self {
            Operation::Revoke => None,
            Operation::Protect(rights) => Some(rights),
        }
    }
}

/// A message between two cores' monitors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// A copy of `capability`, whose object core `owner` owns. `answers` is the sender's
    /// answer to the receiver's retype ask of that number (0: none).
    Transfer {
        /// The sender's number for it.
        request: u32,
        /// The capability.
        capability: Capability,
        /// The owning core.
        owner: CoreId,
        /// The retype ask this answers, or 0.
        answers: u32,
    },
    /// The receiver's answer to a transfer.
    Received {
        /// The transfer's number.
        request: u32,
        /// Made (and where is the receiver's business), or why not.
        result: Result<(), Refusal>,
    },
    /// Retype `object`, which the receiver owns, into one new object and transfer it back.
    RetypeAsk {
        /// The asker's number for it.
        request: u32,
        /// The object (as the asker's copy describes it).
        object: Capability,
        /// The retype (count 1).
        retype: Retype,
    },
    /// The owner did not retype.
    RetypeRefused {
        /// The ask's number.
        request: u32,
        /// Why.
        refusal: Refusal,
    },
    /// A phase of a revoke round: a request (down the route, naming the object and the cores
    /// the receiver forwards to) or an answer (up).
    Round {
        /// The round's message.
        msg: Msg,
        /// The object being revoked.
        object: Capability,
        /// The cores below the receiver on the route, one bit each.
        subtree: u64,
        /// A protect to these rights; `None` for a revoke.
        protect: Option<Rights>,
    },
}

/// How a revoke or protect round ended (at the object's owner).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoundEnd {
    /// Every core swept and the owner revoked: no copy or descendant remains anywhere.
    Done,
    /// A core had a copy in flight: nothing removed anywhere. Try again.
    Busy,
    /// Cores did not answer in time. `swept` false: in prepare, nothing was removed anywhere;
    /// true: in commit, the cores that answered swept, the object stays lent and the revoke
    /// may be repeated.
    Failed {
        /// Whether the sweep had started.
        swept: bool,
        /// The cores that did not answer, with everything routed through them.
        missing: Vec<CoreId>,
    },
}

/// What happened, for the monitor to act on or report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A transfer from here was answered (or not in time).
    Sent {
        /// Its number.
        request: u32,
        /// The receiving core.
        to: CoreId,
        /// The receiver's answer.
        result: Result<(), Refusal>,
    },
    /// A capability arrived from `from` and is at `slot`.
    Arrived {
        /// The sending core.
        from: CoreId,
        /// Where it is now.
        slot: CapAddr,
        /// What it is.
        capability: Capability,
    },
    /// A retype asked of the owner ended: the new capability is at the slot.
    Retyped {
        /// The ask's number.
        request: u32,
        /// Where the new capability is, or why there is none.
        result: Result<CapAddr, Refusal>,
    },
    /// A protect this core started ended.
    Protected {
        /// The round's number.
        round: u32,
        /// How.
        outcome: RoundEnd,
    },
    /// A revoke this core started ended.
    Revoked {
        /// The round's number.
        round: u32,
        /// How.
        outcome: RoundEnd,
    },
}

/// What [`CapOps::retype`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetypeStart {
    /// This core owns the object: the new capability is at this slot already.
    Done(CapAddr),
    /// The owner was asked; an [`Event::Retyped`] with this number follows.
    Asked(u32),
}

struct Sending {
    to: CoreId,
    capability: Capability,
    deadline: u64,
    /// Reported unanswered already. The entry stays until the answer comes: the copy may
    /// still arrive, so revokes of it are refused (a no vote) until then.
    reported: bool,
}

struct Asking {
    deadline: u64,
}

/// A revoke round as this core sees it.
struct RoundState {
    route: Route,
    object: Capability,
    op: Operation,
    /// The owner (the round's initiator).
    owner: CoreId,
    /// On the owner: the slot whose capability the revoke keeps, the two-phase state and the
    /// deadline.
    initiator: Option<(CapAddr, TwoPhase, u64)>,
    /// Elsewhere: when to stop waiting for the owner's commit or abort.
    expires: u64,
}

/// This core's part in every capability operation across cores.
pub struct CapOps {
    me: CoreId,
    timeout: u64,
    next_number: u32,
    sending: BTreeMap<u32, Sending>,
    asking: BTreeMap<u32, Asking>,
    /// Objects being revoked here (marked in prepare), by round.
    marked: BTreeMap<u32, Capability>,
    /// Where this core keeps the objects it owns and exported, to find them for retype asks.
    exported: Vec<(Capability, CapAddr)>,
    node: Node,
    rounds: BTreeMap<u32, RoundState>,
    out: Vec<(CoreId, Message)>,
    events: Vec<Event>,
}

/// Whether an operation on `candidate` touches the object `object` stands for: the object
/// itself or anything inside it.
fn covers(object: &Capability, candidate: &Capability) -> bool {
    object.same_object(candidate) || object.is_ancestor_of(candidate)
}

fn owner_index(owner: Owner, me: CoreId) -> CoreId {
    match owner {
        Owner::Here => me,
        Owner::Core(core) => core as CoreId,
    }
}

impl CapOps {
    /// Core `me`'s part, nothing in flight, requests waiting [`DEFAULT_TIMEOUT`].
    pub fn new(me: CoreId) -> CapOps {
        CapOps::with_timeout(me, DEFAULT_TIMEOUT)
    }

    /// As [`new`](Self::new), waiting `timeout` for each answer.
    pub fn with_timeout(me: CoreId, timeout: u64) -> CapOps {
        CapOps {
            me,
            timeout,
            next_number: 1,
            sending: BTreeMap::new(),
            asking: BTreeMap::new(),
            marked: BTreeMap::new(),
            exported: Vec::new(),
            node: Node::new(me),
            rounds: BTreeMap::new(),
            out: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The messages to send, in order, each with its receiving core.
    pub fn take_messages(&mut self) -> Vec<(CoreId, Message)> {
        core::mem::take(&mut self.out)
    }

    /// What happened since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.events)
    }

    /// Whether anything here still waits: an answer to what this core started, or the end of
    /// a round it takes part in (the caller keeps calling [`poll`](Self::poll) until not).
    pub fn busy(&self) -> bool {
        self.sending.values().any(|s| !s.reported) || !self.asking.is_empty() || !self.rounds.is_empty()
    }

    fn number(&mut self) -> u32 {
        let number = self.next_number;
        self.next_number = self.next_number % ((1 << ROUND_INITIATOR_SHIFT) - 1) + 1;
        number
    }

    fn being_revoked(&self, capability: &Capability) -> bool {
        self.marked.values().any(|object| covers(object, capability))
    }

    /// Sends a copy of the capability at `slot` to core `to`; an [`Event::Sent`] with the
    /// returned number follows.
    pub fn send(
        &mut self,
        core: &mut impl Core,
        to: CoreId,
        slot: CapAddr,
        now: u64,
    ) -> Result<u32, Refusal> {
        self.transfer(core, to, slot, 0, now)
    }

    fn transfer(
        &mut self,
        core: &mut impl Core,
        to: CoreId,
        slot: CapAddr,
        answers: u32,
        now: u64,
    ) -> Result<u32, Refusal> {
        if self.being_revoked(&core.identify(slot)?) {
            return Err(Refusal::Revoking);
        }
        let (capability, owner) = core.export(slot)?;
        if owner == Owner::Here
            && !self.exported.iter().any(|(c, s)| c.same_object(&capability) && *s == slot)
        {
            // Forget the slots that no longer hold what was exported from them (deleted,
            // revoked, reused), so the list stays as long as what is really lent from here.
            if self.exported.len() >= EXPORTED_BEFORE_PRUNING {
                self.exported.retain(|(c, s)| core.identify(*s).is_ok_and(|held| held.same_object(c)));
            }
            self.exported.push((capability, slot));
        }
        let request = self.number();
        self.sending.insert(
            request,
            Sending { to, capability, deadline: now.saturating_add(self.timeout), reported: false },
        );
        let owner = owner_index(owner, self.me);
        self.out.push((to, Message::Transfer { request, capability, owner, answers }));
        Ok(request)
    }

    /// Retypes the capability at `slot` into one new object (`retype.count` must be 1): here
    /// when this core owns it, else by asking the owner.
    pub fn retype(
        &mut self,
        core: &mut impl Core,
        slot: CapAddr,
        retype: Retype,
        now: u64,
    ) -> Result<RetypeStart, Refusal> {
        if retype.count != 1 {
            return Err(Refusal::Capability(CapError::InvalidArgument));
        }
        let object = core.identify(slot)?;
        if self.being_revoked(&object) {
            return Err(Refusal::Revoking);
        }
        match core.owner(slot)? {
            Owner::Here => self.retype_here(core, slot, retype).map(RetypeStart::Done),
            Owner::Core(owner) => {
                let request = self.number();
                self.asking.insert(request, Asking { deadline: now.saturating_add(self.timeout) });
                self.out.push((owner as CoreId, Message::RetypeAsk { request, object, retype }));
                Ok(RetypeStart::Asked(request))
            }
        }
    }

    fn retype_here(
        &mut self,
        core: &mut impl Core,
        slot: CapAddr,
        retype: Retype,
    ) -> Result<CapAddr, Refusal> {
        let dest = core.take_slot().ok_or(Refusal::NoSlot)?;
        match core.retype(slot, retype, dest) {
            Ok(()) => Ok(dest),
            Err(error) => {
                core.return_slot(dest);
                Err(error.into())
            }
        }
    }

    /// Revokes the capability at `slot` (this core must own it) on every core of `route`,
    /// whose root is this core: every copy and descendant anywhere goes but this one. Returns
    /// the round's number; an [`Event::Revoked`] follows.
    pub fn revoke(
        &mut self,
        core: &mut impl Core,
        slot: CapAddr,
        route: Route,
        now: u64,
    ) -> Result<u32, Refusal> {
        self.start_round(core, slot, route, now, Operation::Revoke)
    }

    /// Reduces the rights of every copy of the capability at `slot` (this core must own it),
    /// on every core of `route` and here, to `rights`, with their mappings: the same two-phase
    /// round as a revoke (no copy may move while it runs), committing a protect instead of a
    /// sweep. Returns the round's number; an [`Event::Protected`] follows.
    pub fn protect(
        &mut self,
        core: &mut impl Core,
        slot: CapAddr,
        rights: Rights,
        route: Route,
        now: u64,
    ) -> Result<u32, Refusal> {
        self.start_round(core, slot, route, now, Operation::Protect(rights))
    }

    fn start_round(
        &mut self,
        core: &mut impl Core,
        slot: CapAddr,
        route: Route,
        now: u64,
        op: Operation,
    ) -> Result<u32, Refusal> {
        if route.root() != self.me || route.cores().any(|c| c >= MAX_CORES) {
            return Err(Refusal::Capability(CapError::InvalidArgument));
        }
        let object = core.identify(slot)?;
        if core.owner(slot)? != Owner::Here {
            return Err(Refusal::Capability(CapError::NotOwner));
        }
        // One round at a time over any memory: a revoke of something around an object being
        // revoked would remove the capability that revoke keeps.
        if self.marked.values().any(|marked| covers(marked, &object) || covers(&object, marked)) {
            return Err(Refusal::Revoking);
        }
        let round = ((self.me as u32) << ROUND_INITIATOR_SHIFT) | self.number();
        let mut actions = Vec::new();
        let mut apply = |_: u32, phase: Phase| {
            let target = (object, op, self.me);
            self::apply(self.me, &mut self.marked, &self.sending, core, round, target, phase)
        };
        let two_phase = TwoPhase::start(&mut self.node, &route, round, &mut apply, &mut actions);
        let deadline = now.saturating_add(self.timeout);
        let initiator = Some((slot, two_phase, deadline));
        let state = RoundState { route, object, op, owner: self.me, initiator, expires: deadline };
        self.rounds.insert(round, state);
        self.carry_out(core, round, actions);
        Ok(round)
    }

    /// A message from core `from`.
    pub fn receive(&mut self, core: &mut impl Core, from: CoreId, message: Message, now: u64) {
        match message {
            Message::Transfer { request, capability, owner, answers } => {
                let result = self.take_copy(core, from, capability, owner);
                if answers != 0 && self.asking.remove(&answers).is_some() {
                    self.events.push(Event::Retyped { request: answers, result });
                }
                self.out.push((from, Message::Received { request, result: result.map(|_| ()) }));
            }
            Message::Received { request, result } => {
                if let Some(sending) = self.sending.remove(&request) {
                    if !sending.reported {
                        self.events.push(Event::Sent { request, to: sending.to, result });
                    }
                }
            }
            Message::RetypeAsk { request, object, retype } => {
                if let Err(refusal) = self.answer_retype(core, from, object, retype, request, now) {
                    self.out.push((from, Message::RetypeRefused { request, refusal }));
                }
            }
            Message::RetypeRefused { request, refusal } => {
                if self.asking.remove(&request).is_some() {
                    self.events.push(Event::Retyped { request, result: Err(refusal) });
                }
            }
            Message::Round { msg, object, subtree, protect } => {
                let op = protect.map_or(Operation::Revoke, Operation::Protect);
                self.round_message(core, from, msg, (object, op), subtree, now)
            }
        }
    }

    fn take_copy(
        &mut self,
        core: &mut impl Core,
        from: CoreId,
        capability: Capability,
        owner: CoreId,
    ) -> Result<CapAddr, Refusal> {
        // Cannot happen while senders count their transfers in flight (a sender votes no
        // until answered); kept so that a copy never lands between a core's mark and sweep.
        if self.being_revoked(&capability) {
            return Err(Refusal::Revoking);
        }
        let slot = core.take_slot().ok_or(Refusal::NoSlot)?;
        let owner = if owner == self.me { Owner::Here } else { Owner::Core(owner as u32) };
        if let Err(error) = core.receive(capability, owner, slot) {
            core.return_slot(slot);
            return Err(error.into());
        }
        self.events.push(Event::Arrived { from, slot, capability });
        Ok(slot)
    }

    fn answer_retype(
        &mut self,
        core: &mut impl Core,
        from: CoreId,
        object: Capability,
        retype: Retype,
        request: u32,
        now: u64,
    ) -> Result<(), Refusal> {
        if retype.count != 1 {
            return Err(Refusal::Capability(CapError::InvalidArgument));
        }
        if self.being_revoked(&object) {
            return Err(Refusal::Revoking);
        }
        let slot = self
            .exported
            .iter()
            .map(|&(_, slot)| slot)
            .find(|&slot| core.identify(slot).is_ok_and(|held| held.same_object(&object)))
            .ok_or(Refusal::Capability(CapError::Stale))?;
        let child = self.retype_here(core, slot, retype)?;
        self.transfer(core, from, child, request, now).map(|_| ())
    }

    fn round_message(
        &mut self,
        core: &mut impl Core,
        from: CoreId,
        msg: Msg,
        (object, op): (Capability, Operation),
        subtree: u64,
        now: u64,
    ) {
        let round = msg.round;
        if msg.kind == Kind::Request && !self.rounds.contains_key(&round) {
            if msg.phase != Phase::Prepare {
                // Commit or abort of a round never prepared here (its prepare went to a core
                // that gave it up): nothing to undo; answer so that the parent does not wait.
                let answer = Msg { kind: Kind::Answer { yes: true }, ..msg };
                let protect = op.protect_rights();
                self.out.push((from, Message::Round { msg: answer, object, subtree: 0, protect }));
                return;
            }
            // The route as this core needs it: its parent, and the cores below it, which it
            // asks directly (the SKB's trees are two hops deep, so that is their shape).
            let mut edges = alloc::vec![(from, self.me)];
            edges.extend((0..MAX_CORES).filter(|c| subtree & (1 << c) != 0).map(|c| (self.me, c)));
            let owner = (round >> ROUND_INITIATOR_SHIFT) as CoreId;
            let route = Route::tree(from, &edges);
            // Past twice the owner's deadline the owner has given up: the round cannot commit
            // any more, and this core forgets it (see `poll`).
            let expires = now.saturating_add(self.timeout.saturating_mul(2));
            self.rounds.insert(round, RoundState { route, object, op, owner, initiator: None, expires });
        }
        let Some(state) = self.rounds.get(&round) else { return };
        let (route, target) = (state.route.clone(), (state.object, state.op, state.owner));
        let mut actions = Vec::new();
        let me = self.me;
        let mut apply = |_: u32, phase: Phase| {
            self::apply(me, &mut self.marked, &self.sending, core, round, target, phase)
        };
        self.node.receive(&route, from, msg, &mut apply, &mut actions);
        self.carry_out(core, round, actions);
    }

    /// Sends what a step of the round produced and moves the initiator's two-phase state on.
    fn carry_out(&mut self, core: &mut impl Core, round: u32, mut actions: Vec<Action>) {
        let Some(state) = self.rounds.get_mut(&round) else { return };
        let (route, target) = (state.route.clone(), (state.object, state.op, state.owner));
        let (object, protect) = (state.object, state.op.protect_rights());
        if let Some((_, two_phase, _)) = state.initiator.as_mut() {
            let me = self.me;
            let mut apply = |_: u32, phase: Phase| {
                self::apply(me, &mut self.marked, &self.sending, core, round, target, phase)
            };
            two_phase.drain_completions(&mut self.node, &route, &mut apply, &mut actions);
        }
        for action in actions {
            if let Action::Send { to, msg } = action {
                let subtree = match msg.kind {
                    Kind::Request => {
                        route.subtree(to).iter().filter(|&&c| c != to).fold(0u64, |set, &c| set | 1 << c)
                    }
                    Kind::Answer { .. } => 0,
                };
                self.out.push((to, Message::Round { msg, object, subtree, protect }));
                // A participant is done with the round once it answered its commit or abort.
                if matches!(msg.kind, Kind::Answer { .. }) && msg.phase != Phase::Prepare {
                    self.rounds.remove(&round);
                }
            }
        }
        self.finish_if_ended(core, round);
    }

    fn finish_if_ended(&mut self, core: &mut impl Core, round: u32) {
        let Some(RoundState { initiator: Some((slot, two_phase, _)), object, op, .. }) =
            self.rounds.get(&round)
        else {
            return;
        };
        let Some(outcome) = two_phase.outcome().cloned() else { return };
        let (slot, object, op) = (*slot, *object, *op);
        self.rounds.remove(&round);
        self.marked.remove(&round);
        let still_there = core.identify(slot).is_ok_and(|held| held.same_object(&object));
        let mut own_part = || match op {
            Operation::Revoke => core.revoke_agreed(slot),
            Operation::Protect(rights) => core.protect_own(slot, rights),
        };
        let outcome = match outcome {
            Outcome::Committed if still_there && own_part().is_ok() => RoundEnd::Done,
            // The owner's own copy went meanwhile: the other cores applied it all the same.
            Outcome::Committed => RoundEnd::Failed { swept: true, missing: Vec::new() },
            Outcome::Aborted => RoundEnd::Busy,
            Outcome::Failed { phase, missing } => {
                RoundEnd::Failed { swept: phase != Phase::Prepare, missing }
            }
        };
        self.events.push(match op {
            Operation::Revoke => Event::Revoked { round, outcome },
            Operation::Protect(_) => Event::Protected { round, outcome },
        });
    }

    /// The monitors agreed that `core` failed: what waits for it is given up at the next
    /// [`poll`](Self::poll) instead of at its deadline (a transfer to it is reported
    /// unanswered; a round this core started over a route through it fails, naming who did not
    /// answer; a round it started here is unmarked, as when its owner gives up).
    pub fn core_removed(&mut self, core: CoreId, now: u64) {
        for sending in self.sending.values_mut().filter(|s| s.to == core) {
            sending.deadline = sending.deadline.min(now);
        }
        for state in self.rounds.values_mut() {
            match state.initiator.as_mut() {
                Some((_, _, deadline)) if state.route.cores().any(|c| c == core) => {
                    *deadline = (*deadline).min(now)
                }
                None if state.owner == core => state.expires = state.expires.min(now),
                _ => {}
            }
        }
    }

    /// Gives up on what waited past its deadline: transfers and asks are reported
    /// [`Refusal::Unanswered`], revoke rounds fail naming the cores that did not answer.
    pub fn poll(&mut self, core: &mut impl Core, now: u64) {
        for (&request, sending) in self.sending.iter_mut().filter(|(_, s)| !s.reported && s.deadline <= now) {
            sending.reported = true;
            self.events.push(Event::Sent { request, to: sending.to, result: Err(Refusal::Unanswered) });
        }
        let late: Vec<u32> = self.asking.iter().filter(|(_, a)| a.deadline <= now).map(|(&r, _)| r).collect();
        for request in late {
            self.asking.remove(&request);
            self.events.push(Event::Retyped { request, result: Err(Refusal::Unanswered) });
        }
        let late: Vec<u32> = self
            .rounds
            .iter()
            .filter(|(_, state)| state.initiator.as_ref().is_some_and(|(_, _, deadline)| *deadline <= now))
            .map(|(&round, _)| round)
            .collect();
        // A round this core took part in whose owner gave up before telling it to commit or
        // abort: unmark, as an abort would. Safe either way: an owner that gave up keeps the
        // object lent and reports the revoke failed, and sweeping is for a repeated revoke.
        let expired: Vec<u32> = self
            .rounds
            .iter()
            .filter(|(_, state)| state.initiator.is_none() && state.expires <= now)
            .map(|(&round, _)| round)
            .collect();
        for round in expired {
            self.rounds.remove(&round);
            self.marked.remove(&round);
        }
        for round in late {
            let Some(state) = self.rounds.get_mut(&round) else { continue };
            let (route, target) = (state.route.clone(), (state.object, state.op, state.owner));
            let Some((_, two_phase, _)) = state.initiator.as_mut() else { continue };
            let mut actions = Vec::new();
            let me = self.me;
            let mut apply = |_: u32, phase: Phase| {
                self::apply(me, &mut self.marked, &self.sending, core, round, target, phase)
            };
            two_phase.give_up(&mut self.node, &route, &mut apply, &mut actions);
            self.carry_out(core, round, actions);
        }
    }
}

/// Applies `phase` of round `round`, which does `op` to `object` (owned by `owner`), on core
/// `me`; returns the vote.
fn apply(
    me: CoreId,
    marked: &mut BTreeMap<u32, Capability>,
    sending: &BTreeMap<u32, Sending>,
    core: &mut impl Core,
    round: u32,
    (object, op, owner): (Capability, Operation, CoreId),
    phase: Phase,
) -> bool {
    match phase {
        Phase::Prepare => {
            marked.insert(round, object);
            !sending.values().any(|s| covers(&object, &s.capability))
        }
        Phase::Commit => {
            if me == owner {
                return true; // the owner does its own part once every core answered
            }
            let applied = match op {
                Operation::Revoke => core.sweep(object, owner),
                Operation::Protect(rights) => core.protect(object, owner, rights),
            };
            marked.remove(&round);
            applied.is_ok()
        }
        Phase::Abort => {
            if me != owner {
                marked.remove(&round);
            }
            true
        }
    }
}
