//! The interface between the console's receive loop and a UART driver, and between a driver
//! and its registers.

use userland::device::DevicePage;
use userland::Error;

/// 32-bit registers by byte offset in one page: the mapped device page, or a test's fake.
pub trait Registers {
    /// Reads the register at `offset`.
    fn read(&self, offset: u64) -> Result<u32, Error>;
    /// Writes the register at `offset`.
    fn write(&self, offset: u64, value: u32) -> Result<(), Error>;
}

impl Registers for DevicePage {
    fn read(&self, offset: u64) -> Result<u32, Error> {
        DevicePage::read(self, offset)
    }
    fn write(&self, offset: u64, value: u32) -> Result<(), Error> {
        DevicePage::write(self, offset, value)
    }
}

/// The receive side of a UART, as the receive loop drives it: [`enable`](ReceiveUart::enable)
/// once, then on each interrupt [`service`](ReceiveUart::service) and
/// [`read_byte`](ReceiveUart::read_byte) until it has none.
pub trait ReceiveUart {
    /// The UART family, for the driver's first line.
    fn name(&self) -> &'static str;
    /// Turns on the receive interrupts (and the receiver, where the firmware may leave it off).
    fn enable(&mut self) -> Result<(), Error>;
    /// After the interrupt fired, before the FIFO is emptied: whether this UART raised it
    /// (the line may be shared), having cleared every cause reading the data does not clear.
    /// A byte arriving after this raises the interrupt again, so none is left without one.
    fn service(&mut self) -> Result<bool, Error>;
    /// The next received byte, if any; bytes received with an error are dropped.
    fn read_byte(&mut self) -> Result<Option<u8>, Error>;
}

/// Where a UART's registers are in its page, and how they are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Offset of the first register in the page.
    pub base: u64,
    /// Register `n` is at `base + (n << reg_shift)`.
    pub reg_shift: u32,
}

impl Layout {
    /// The offset of register `index`.
    pub fn offset(&self, index: u64) -> u64 {
        self.base + (index << self.reg_shift)
    }
}

impl<R: Registers + ?Sized> Registers for &R {
    fn read(&self, offset: u64) -> Result<u32, Error> {
        (**self).read(offset)
    }
    fn write(&self, offset: u64, value: u32) -> Result<(), Error> {
        (**self).write(offset, value)
    }
}
