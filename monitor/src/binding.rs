//! On-demand channel binding, the monitor's bookkeeping: which program accepts which service
//! (and where its bound channels go), the binds this monitor started and waits on, and the
//! same-core bindings it made (to close them).

use alloc::vec::Vec;
use local_protocol::Service;

/// Programs of this core that accept services.
#[derive(Debug, Default)]
pub struct Accepting {
    /// (service, dispatcher, slot for the next bound channel's Frame: `None` once a channel
    /// went there, until the program accepts again).
    entries: Vec<(Service, u64, Option<u32>)>,
}

/// Where a channel bound to a service goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acceptor {
    /// To this dispatcher's slot.
    Ready {
        /// The dispatcher.
        dispatcher: u64,
        /// The slot of its capability space.
        slot: u32,
    },
    /// The service is offered, but its program took a binding and has not accepted again.
    Taken,
}

impl Accepting {
    /// Dispatcher `dispatcher` accepts `service`; the next bound channel goes to its `slot`. A
    /// program accepting a service another already accepts takes it over.
    pub fn accept(&mut self, service: Service, dispatcher: u64, slot: u32) {
        self.entries.retain(|&(s, _, _)| s != service);
        self.entries.push((service, dispatcher, Some(slot)));
    }

    /// Where a channel bound to `service` would go; `None` when no program here offers it.
    pub fn lookup(&self, service: Service) -> Option<Acceptor> {
        let &(_, dispatcher, slot) = self.entries.iter().find(|&&(s, _, _)| s == service)?;
        Some(slot.map_or(Acceptor::Taken, |slot| Acceptor::Ready { dispatcher, slot }))
    }

    /// A channel went to `service`'s slot: the next needs another [`Self::accept`].
    pub fn taken(&mut self, service: Service) {
        for entry in self.entries.iter_mut().filter(|(s, _, _)| *s == service) {
            entry.2 = None;
        }
    }

    /// Forgets every service `dispatcher` accepted (it ended).
    pub fn forget_dispatcher(&mut self, dispatcher: u64) {
        self.entries.retain(|&(_, d, _)| d != dispatcher);
    }
}

/// A bind this monitor started for one of its programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingBind {
    /// The asking program's dispatcher index.
    pub client: u64,
    /// Where in its space the channel's Frame goes.
    pub client_slot: u32,
    /// Where the monitor holds the Frame (lent to `core`).
    pub frame_slot: u32,
    /// The core of the service.
    pub core: u64,
}

/// The binds in flight (at most one per program) and the Frames of failed ones, kept to be
/// lent again rather than retyped anew (a Frame once lent stays lent until revoked).
#[derive(Debug, Default)]
pub struct Binds {
    pending: Vec<PendingBind>,
    spare: Vec<(u64, u32)>,
}

impl Binds {
    /// Records a bind; false (nothing recorded) when the program has one in flight already.
    pub fn start(&mut self, bind: PendingBind) -> bool {
        if self.pending.iter().any(|p| p.client == bind.client) {
            return false;
        }
        self.pending.push(bind);
        true
    }

    /// Whether `client` has a bind in flight.
    pub fn in_flight(&self, client: u64) -> bool {
        self.pending.iter().any(|p| p.client == client)
    }

    /// The bind of `client`, now answered.
    pub fn finish(&mut self, client: u64) -> Option<PendingBind> {
        let at = self.pending.iter().position(|p| p.client == client)?;
        Some(self.pending.remove(at))
    }

    /// Keeps the Frame of a failed bind of `client` for its next one.
    pub fn keep_spare(&mut self, client: u64, frame_slot: u32) {
        self.spare.push((client, frame_slot));
    }

    /// A Frame kept for `client`.
    pub fn take_spare(&mut self, client: u64) -> Option<u32> {
        let at = self.spare.iter().position(|&(c, _)| c == client)?;
        Some(self.spare.remove(at).1)
    }
}

/// One program's side of a same-core binding: the program, the slot of its capability space
/// that holds its Endpoint to the other, and the slot of the monitor's where the monitor keeps
/// a copy of that Endpoint (revoking the copy removes the program's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineSide {
    /// The program's dispatcher index.
    pub dispatcher: u64,
    /// Its slot.
    pub slot: u32,
    /// The monitor's copy.
    pub kept: u32,
}

/// The same-core bindings this monitor made (through the kernel's line transport), until one
/// side closes them.
#[derive(Debug, Default)]
pub struct LineBindings {
    bindings: Vec<[LineSide; 2]>,
}

impl LineBindings {
    /// Records a binding between the two sides.
    pub fn add(&mut self, sides: [LineSide; 2]) {
        self.bindings.push(sides);
    }

    /// The binding whose side is `dispatcher`'s at `slot`, now forgotten: the side that asked
    /// first, then the other. `None` when there is none (it was closed already, or the slot
    /// holds another kind of channel).
    pub fn remove(&mut self, dispatcher: u64, slot: u32) -> Option<[LineSide; 2]> {
        let at = self
            .bindings
            .iter()
            .position(|sides| sides.iter().any(|s| s.dispatcher == dispatcher && s.slot == slot))?;
        let [a, b] = self.bindings.remove(at);
        Some(if a.dispatcher == dispatcher && a.slot == slot { [a, b] } else { [b, a] })
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_same_core_binding_is_found_from_either_side_once() {
        let mut bindings = LineBindings::default();
        let client = LineSide { dispatcher: 3, slot: 36, kept: 100 };
        let server = LineSide { dispatcher: 4, slot: 36, kept: 101 };
        bindings.add([client, server]);
        // A program bound to its own export: both sides are dispatcher 5.
        let own = [
            LineSide { dispatcher: 5, slot: 36, kept: 102 },
            LineSide { dispatcher: 5, slot: 37, kept: 103 },
        ];
        bindings.add(own);
        assert_eq!(bindings.remove(3, 37), None, "no side at that slot");
        assert_eq!(bindings.remove(4, 36), Some([server, client]), "the side that asks first");
        assert_eq!(bindings.remove(3, 36), None, "closed already");
        assert_eq!(bindings.remove(5, 37), Some([own[1], own[0]]));
        assert!(bindings.is_empty());
    }

    #[test]
    fn accepting_and_binds() {
        let echo = Service::named("echo").unwrap();
        let mut accepting = Accepting::default();
        assert_eq!(accepting.lookup(echo), None);
        accepting.accept(echo, 3, 44);
        accepting.accept(echo, 4, 45);
        assert_eq!(accepting.lookup(echo), Some(Acceptor::Ready { dispatcher: 4, slot: 45 }));
        accepting.taken(echo);
        assert_eq!(accepting.lookup(echo), Some(Acceptor::Taken), "one binding per accept");
        accepting.accept(echo, 4, 46);
        assert_eq!(accepting.lookup(echo), Some(Acceptor::Ready { dispatcher: 4, slot: 46 }));
        accepting.forget_dispatcher(4);
        assert_eq!(accepting.lookup(echo), None);

        let mut binds = Binds::default();
        let bind = PendingBind { client: 3, client_slot: 44, frame_slot: 30, core: 2 };
        assert!(binds.start(bind));
        assert!(!binds.start(PendingBind { core: 5, ..bind }), "one bind in flight per program");
        assert!(binds.in_flight(3));
        assert_eq!(binds.finish(4), None);
        assert_eq!(binds.finish(3), Some(bind));
        assert!(!binds.in_flight(3));
        binds.keep_spare(3, 30);
        assert_eq!(binds.take_spare(4), None);
        assert_eq!(binds.take_spare(3), Some(30));
        assert_eq!(binds.take_spare(3), None);
    }
}
