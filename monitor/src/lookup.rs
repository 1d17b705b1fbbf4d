//! Finding a service by name on another core: a program binds to a service without naming
//! its core ([`local_protocol::ANY_CORE`]); its monitor asks every other online core's monitor
//! (`NameQuery`), each answers from its own table (`NameAnswer`), and once every core asked has
//! answered (or gone offline, or the time ran out) the query ends with the cores that offer
//! it, of which the monitor binds to the nearest (`skb::Skb::nearest_of`: measured round trip,
//! else cluster). None offers it: no such service. (A service offered on the asking core is
//! bound there before anyone is asked.) This is the monitor's bookkeeping for the queries in
//! flight; there is no table shared between cores.

use alloc::vec::Vec;
use local_protocol::Service;

/// A query in flight for one program's bind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The asking program's dispatcher index.
    pub client: u64,
    /// The service.
    pub service: Service,
    /// Where the program wants the channel's Frame.
    pub slot: u32,
    /// The query's number (answers name it).
    pub query: u32,
    /// Cores asked and not yet answered (bit n = core n).
    waiting: u64,
    /// Cores that answered that they offer it.
    offered: u64,
    /// When the query gives up (ns).
    deadline_ns: u64,
}

/// How a query ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// These cores offer it (bit n = core n, at least one): bind to the nearest.
    Offered(Lookup, u64),
    /// No core offers it (all said no, went offline, or said nothing in time).
    Nowhere(Lookup),
}

/// The queries this monitor asked and waits on: at most one per program.
#[derive(Debug, Default)]
pub struct Lookups {
    pending: Vec<Lookup>,
    next_query: u32,
}

impl Lookups {
    /// Asks cores `asked` (bit n = core n) where `service` is, for `client`; the query's number
    /// to send them, or `None` when the client has a query in flight already. With no core to
    /// ask the query ends at the next [`Self::expire`].
    pub fn start(
        &mut self,
        client: u64,
        service: Service,
        slot: u32,
        asked: u64,
        deadline_ns: u64,
    ) -> Option<u32> {
        if self.asking(client) {
            return None;
        }
        self.next_query = self.next_query.wrapping_add(1);
        let query = self.next_query;
        self.pending.push(Lookup { client, service, slot, query, waiting: asked, offered: 0, deadline_ns });
        Some(query)
    }

    /// Whether `client` has a query in flight.
    pub fn asking(&self, client: u64) -> bool {
        self.pending.iter().any(|l| l.client == client)
    }

    /// Core `from` answered query `query`; how the query ended, if this was the last answer
    /// it waited for. An answer to no query in flight, or from a core not asked (or already
    /// answered), is ignored.
    pub fn answer(&mut self, from: u64, query: u32, offered: bool) -> Option<Found> {
        let bit = 1u64.checked_shl(from as u32)?;
        let at = self.pending.iter().position(|l| l.query == query && l.waiting & bit != 0)?;
        let lookup = &mut self.pending[at];
        lookup.waiting &= !bit;
        if offered {
            lookup.offered |= bit;
        }
        (lookup.waiting == 0).then(|| Self::ended(self.pending.remove(at)))
    }

    /// The queries that end now: every core still to answer is offline (not in `online`), or
    /// the deadline passed. A core that offered and then went offline no longer counts.
    pub fn expire(&mut self, now_ns: u64, online: u64) -> Vec<Found> {
        let mut ended = Vec::new();
        self.pending.retain_mut(|lookup| {
            lookup.waiting &= online;
            lookup.offered &= online;
            if lookup.waiting == 0 || now_ns >= lookup.deadline_ns {
                ended.push(Self::ended(*lookup));
                return false;
            }
            true
        });
        ended
    }

    fn ended(lookup: Lookup) -> Found {
        match lookup.offered {
            0 => Found::Nowhere(lookup),
            cores => Found::Offered(lookup, cores),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> Service {
        Service::named("echo").unwrap()
    }

    #[test]
    fn every_core_that_offers_it_is_reported_once_all_answered() {
        let mut lookups = Lookups::default();
        let query = lookups.start(3, echo(), 40, 0b1110, 1000).unwrap();
        assert_eq!(lookups.start(3, echo(), 41, 0b1110, 1000), None, "one query per program");
        assert_eq!(lookups.answer(1, query, true), None, "cores 2 and 3 have not answered");
        assert_eq!(lookups.answer(1, query, false), None, "core 1 answered already");
        assert_eq!(lookups.answer(5, query, true), None, "core 5 was not asked");
        assert_eq!(lookups.answer(2, query + 1, true), None, "no such query");
        assert_eq!(lookups.answer(2, query, false), None);
        let Some(Found::Offered(lookup, 0b1010)) = lookups.answer(3, query, true) else {
            panic!("cores 1 and 3 offer it")
        };
        assert_eq!((lookup.client, lookup.service, lookup.slot), (3, echo(), 40));
        assert_eq!(lookups.answer(3, query, true), None, "the query is over");
        assert!(!lookups.asking(3));

        // The time runs out with one core silent: those that offered it are reported.
        let query = lookups.start(4, echo(), 40, 0b110, 1000).unwrap();
        assert_eq!(lookups.answer(2, query, true), None);
        assert!(matches!(lookups.expire(1000, u64::MAX)[..], [Found::Offered(_, 0b100)]));
        // Cores 1 and 2 go offline, core 2 having offered it: it is not bound to.
        let query = lookups.start(5, echo(), 40, 0b110, 1000).unwrap();
        assert_eq!(lookups.answer(2, query, true), None);
        assert!(matches!(lookups.expire(10, 0b001)[..], [Found::Nowhere(l)] if l.client == 5));
    }

    #[test]
    fn nowhere_when_every_core_says_no_goes_offline_or_the_time_runs_out() {
        let mut lookups = Lookups::default();
        let query = lookups.start(3, echo(), 40, 0b110, 1000).unwrap();
        assert_eq!(lookups.answer(1, query, false), None);
        assert!(matches!(lookups.answer(2, query, false), Some(Found::Nowhere(l)) if l.client == 3));

        let _ = lookups.start(4, echo(), 40, 0b110, 1000).unwrap();
        let _ = lookups.start(5, echo(), 40, 0b1000, 1000).unwrap();
        assert_eq!(lookups.expire(10, 0b1111), []);
        let ended = lookups.expire(10, 0b1001);
        assert!(matches!(ended[..], [Found::Nowhere(l)] if l.client == 4), "cores 1 and 2 went offline");
        let ended = lookups.expire(1000, 0b1001);
        assert!(matches!(ended[..], [Found::Nowhere(l)] if l.client == 5), "the deadline");

        let _ = lookups.start(6, echo(), 40, 0, 1000).unwrap();
        assert_eq!(lookups.expire(0, u64::MAX).len(), 1, "no core to ask");
        assert_eq!(lookups.answer(64, 1, true), None, "no core 64");
    }
}
