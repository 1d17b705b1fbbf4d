//! The name service of one monitor: which dispatcher on this core offers which service.
//! Lookups here are local; another core's monitor is asked by message (`NameQuery`, see
//! [`crate::lookup`]) and answers from its own table: there is no table shared between cores.

use alloc::vec::Vec;
use local_protocol::Service;

/// Registered services of this core.
#[derive(Clone, Debug, Default)]
pub struct NameTable {
    entries: Vec<(Service, u64)>,
}

impl NameTable {
    /// Records that `dispatcher` offers `service` (a later registration replaces it).
    pub fn register(&mut self, service: Service, dispatcher: u64) {
        self.entries.retain(|&(s, _)| s != service);
        self.entries.push((service, dispatcher));
    }

    /// Forgets every service `dispatcher` offered (it ended).
    pub fn forget_dispatcher(&mut self, dispatcher: u64) {
        self.entries.retain(|&(_, d)| d != dispatcher);
    }

    /// The dispatcher offering `service`.
    pub fn lookup(&self, service: Service) -> Option<u64> {
        self.entries.iter().find(|&&(s, _)| s == service).map(|&(_, d)| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_and_look_up() {
        let [one, two] = ["one", "two"].map(|name| Service::named(name).unwrap());
        let mut names = NameTable::default();
        assert_eq!(names.lookup(one), None);
        names.register(one, 3);
        names.register(two, 4);
        names.register(one, 5);
        assert_eq!(names.lookup(one), Some(5));
        assert_eq!(names.lookup(two), Some(4));
        names.forget_dispatcher(5);
        assert_eq!(names.lookup(one), None);
        assert_eq!(names.lookup(two), Some(4));
    }
}
