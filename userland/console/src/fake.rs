//! A register bank for the drivers' host tests: plain registers (a read gives the last value
//! written or set), every write recorded in order, and a receive FIFO behind a data register
//! whose status register reports it, as a UART's does.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::vec::Vec;

use userland::Error;

use crate::hil::Registers;

/// How the fake's FIFO shows in the registers.
#[derive(Clone, Copy, Debug)]
pub struct Fifo {
    /// Reading it takes the next entry (0 once empty).
    pub data: u64,
    /// Its status register: [`Fifo::ready`] bits while an entry waits, [`Fifo::empty`] bits
    /// when none does, and bits 15:8 of the waiting entry (a 16550's per-byte error flags in
    /// its line status) shifted down by 8 when [`Fifo::errors_in_status`].
    pub status: u64,
    /// Status bits set while the FIFO holds an entry.
    pub ready: u32,
    /// Status bits set while it is empty.
    pub empty: u32,
    /// Whether the waiting entry's bits 15:8 show in the status register.
    pub errors_in_status: bool,
}

/// The fake bank.
pub struct Fake {
    values: RefCell<BTreeMap<u64, u32>>,
    writes: RefCell<Vec<(u64, u32)>>,
    entries: RefCell<VecDeque<u32>>,
    fifo: Fifo,
}

impl Fake {
    /// A bank with `fifo` and nothing received.
    pub fn new(fifo: Fifo) -> Fake {
        Fake {
            values: RefCell::new(BTreeMap::new()),
            writes: RefCell::new(Vec::new()),
            entries: RefCell::new(VecDeque::new()),
            fifo,
        }
    }
    /// Register `offset` reads as `value` (until written).
    pub fn set(&self, offset: u64, value: u32) {
        self.values.borrow_mut().insert(offset, value);
    }
    /// Bytes arrive (with flags in bits 15:8 where the UART keeps them).
    pub fn receive(&self, entries: &[u32]) {
        self.entries.borrow_mut().extend(entries.iter().copied());
    }
    /// Entries not read yet.
    pub fn waiting(&self) -> usize {
        self.entries.borrow().len()
    }
    /// Every write so far, in order.
    pub fn writes(&self) -> Vec<(u64, u32)> {
        self.writes.borrow().clone()
    }
}

impl Registers for Fake {
    fn read(&self, offset: u64) -> Result<u32, Error> {
        if offset == self.fifo.data {
            return Ok(self.entries.borrow_mut().pop_front().unwrap_or(0));
        }
        let value = self.values.borrow().get(&offset).copied().unwrap_or(0);
        if offset == self.fifo.status {
            let base = value & !(self.fifo.ready | self.fifo.empty);
            return Ok(match self.entries.borrow().front() {
                Some(&entry) if self.fifo.errors_in_status => base | self.fifo.ready | ((entry >> 8) & 0xff),
                Some(_) => base | self.fifo.ready,
                None => base | self.fifo.empty,
            });
        }
        Ok(value)
    }
    fn write(&self, offset: u64, value: u32) -> Result<(), Error> {
        if !offset.is_multiple_of(4) || offset >= 4096 {
            return Err(Error::InvalidArgument);
        }
        self.writes.borrow_mut().push((offset, value));
        self.values.borrow_mut().insert(offset, value);
        Ok(())
    }
}
