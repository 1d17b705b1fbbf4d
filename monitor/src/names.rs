//! The name service of one monitor: which dispatcher on this core offers which service.
//! Lookups are local: another core's monitor is asked by message to act (`BenchEcho`,
//! `BenchMeasure`) and looks the service up in its own table; there is no cross-core lookup
//! message yet.

use alloc::vec::Vec;

/// Registered services of this core.
#[derive(Clone, Debug, Default)]
pub struct NameTable {
    entries: Vec<(u64, u64)>,
}

impl NameTable {
    /// Records that `dispatcher` offers `service` (a later registration replaces it).
    pub fn register(&mut self, service: u64, dispatcher: u64) {
        self.entries.retain(|&(s, _)| s != service);
        self.entries.push((service, dispatcher));
    }

    /// Forgets every service `dispatcher` offered (it ended).
    pub fn forget_dispatcher(&mut self, dispatcher: u64) {
        self.entries.retain(|&(_, d)| d != dispatcher);
    }

    /// The dispatcher offering `service`.
    pub fn lookup(&self, service: u64) -> Option<u64> {
        self.entries.iter().find(|&&(s, _)| s == service).map(|&(_, d)| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_and_look_up() {
        let mut names = NameTable::default();
        assert_eq!(names.lookup(1), None);
        names.register(1, 3);
        names.register(2, 4);
        names.register(1, 5);
        assert_eq!(names.lookup(1), Some(5));
        assert_eq!(names.lookup(2), Some(4));
        names.forget_dispatcher(5);
        assert_eq!(names.lookup(1), None);
        assert_eq!(names.lookup(2), Some(4));
    }
}
