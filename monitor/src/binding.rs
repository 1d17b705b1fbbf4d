//! On-demand channel binding, the monitor's bookkeeping: which program accepts which service
//! (and where its bound channels go), and the binds this monitor started and waits on.

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

#[cfg(test)]
mod tests {
    use super::*;

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
