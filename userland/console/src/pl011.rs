//! The receive side of an Arm PrimeCell UART PL011 (Technical Reference Manual, DDI 0183):
//! the data register, the flag register's "receive FIFO empty", and the receive and receive
//! timeout interrupts' mask and clear bits. The kernel programs the line and transmits; this
//! driver never writes the data or line-control registers.

use userland::device::DevicePage;
use userland::Error;

/// Data register (DDI 0183, 3.3.1): bits 7:0 the byte, 11:8 its error flags.
const UARTDR: u64 = 0x00;
/// Flag register (3.3.3).
const UARTFR: u64 = 0x18;
/// Receive FIFO empty.
const FR_RXFE: u32 = 1 << 4;
/// Control register (3.3.8): the UART and its receiver must be enabled.
const UARTCR: u64 = 0x30;
const CR_UARTEN: u32 = 1 << 0;
const CR_RXE: u32 = 1 << 9;
/// Interrupt mask set/clear (3.3.10) and interrupt clear (3.3.13).
const UARTIMSC: u64 = 0x38;
const UARTICR: u64 = 0x44;
/// Receive and receive-timeout interrupts (the timeout one reports bytes below the FIFO's
/// trigger level).
const RX_INTERRUPTS: u32 = (1 << 4) | (1 << 6);
/// Error flags of a received byte (framing, parity, break, overrun).
const DR_ERRORS: u32 = 0xf00;

/// A PL011's receive side, through its mapped registers.
pub struct Receiver {
    registers: DevicePage,
}

impl Receiver {
    /// The receiver of the UART whose registers `registers` maps.
    pub fn new(registers: DevicePage) -> Receiver {
        Receiver { registers }
    }

    /// Enables the receive interrupts (and the receiver, if the firmware left it off).
    pub fn enable(&self) -> Result<(), Error> {
        let control = self.registers.read(UARTCR)?;
        if control & (CR_UARTEN | CR_RXE) != CR_UARTEN | CR_RXE {
            self.registers.write(UARTCR, control | CR_UARTEN | CR_RXE)?;
        }
        let mask = self.registers.read(UARTIMSC)?;
        self.registers.write(UARTIMSC, mask | RX_INTERRUPTS)
    }

    /// Clears the receive interrupts (they rise again while bytes are left).
    pub fn clear_interrupt(&self) -> Result<(), Error> {
        self.registers.write(UARTICR, RX_INTERRUPTS)
    }

    /// The next received byte, if any; bytes received with an error are skipped.
    pub fn read_byte(&self) -> Result<Option<u8>, Error> {
        loop {
            if self.registers.read(UARTFR)? & FR_RXFE != 0 {
                return Ok(None);
            }
            let data = self.registers.read(UARTDR)?;
            if data & DR_ERRORS == 0 {
                return Ok(Some(data as u8));
            }
        }
    }
}
