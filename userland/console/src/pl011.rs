//! The receive side of an Arm PrimeCell UART PL011 (Technical Reference Manual, DDI 0183):
//! the data register, the flag register's "receive FIFO empty", and the receive and receive
//! timeout interrupts' mask, status and clear bits. The kernel programs the line and
//! transmits; this driver never writes the data or line-control registers.

use userland::Error;

use crate::hil::{ReceiveUart, Registers};

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
/// Interrupt mask set/clear (3.3.10), masked interrupt status (3.3.12) and interrupt clear
/// (3.3.13).
const UARTIMSC: u64 = 0x38;
const UARTMIS: u64 = 0x40;
const UARTICR: u64 = 0x44;
/// Receive and receive-timeout interrupts (the timeout one reports bytes below the FIFO's
/// trigger level).
const RX_INTERRUPTS: u32 = (1 << 4) | (1 << 6);
/// Error flags of a received byte (framing, parity, break, overrun).
const DR_ERRORS: u32 = 0xf00;

/// A PL011's receive side.
pub struct Pl011<R> {
    registers: R,
    /// Offset of its registers in the page (0 where, as usual, it has a 4 KiB block of its
    /// own).
    base: u64,
}

impl<R: Registers> Pl011<R> {
    /// The receiver of the UART whose registers start at `base` in `registers`' page.
    pub fn new(registers: R, base: u64) -> Pl011<R> {
        Pl011 { registers, base }
    }

    fn read(&self, offset: u64) -> Result<u32, Error> {
        self.registers.read(self.base + offset)
    }

    fn write(&self, offset: u64, value: u32) -> Result<(), Error> {
        self.registers.write(self.base + offset, value)
    }
}

impl<R: Registers> ReceiveUart for Pl011<R> {
    fn name(&self) -> &'static str {
        "PL011"
    }

    fn enable(&mut self) -> Result<(), Error> {
        let control = self.read(UARTCR)?;
        if control & (CR_UARTEN | CR_RXE) != CR_UARTEN | CR_RXE {
            self.write(UARTCR, control | CR_UARTEN | CR_RXE)?;
        }
        let mask = self.read(UARTIMSC)?;
        self.write(UARTIMSC, mask | RX_INTERRUPTS)
    }

    fn service(&mut self) -> Result<bool, Error> {
        let raised = self.read(UARTMIS)? & RX_INTERRUPTS != 0;
        // Cleared before the FIFO is emptied: a byte arriving after the last read raises the
        // interrupt again.
        self.write(UARTICR, RX_INTERRUPTS)?;
        Ok(raised)
    }

    fn read_byte(&mut self) -> Result<Option<u8>, Error> {
        loop {
            if self.read(UARTFR)? & FR_RXFE != 0 {
                return Ok(None);
            }
            let data = self.read(UARTDR)?;
            if data & DR_ERRORS == 0 {
                return Ok(Some(data as u8));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Fake, Fifo};

    fn fake() -> Fake {
        Fake::new(Fifo { data: UARTDR, status: UARTFR, ready: 0, empty: FR_RXFE, errors_in_status: false })
    }

    #[test]
    fn enable_turns_on_the_receiver_and_only_the_receive_interrupts() {
        let bank = fake();
        bank.set(UARTCR, CR_UARTEN | (1 << 8)); // transmit on, receive off (as firmware may leave it)
        bank.set(UARTIMSC, 1 << 5); // the transmit interrupt someone else wants
        Pl011::new(&bank, 0).enable().unwrap();
        assert_eq!(bank.read(UARTCR), Ok(CR_UARTEN | (1 << 8) | CR_RXE));
        assert_eq!(bank.read(UARTIMSC), Ok((1 << 5) | RX_INTERRUPTS));
    }

    #[test]
    fn service_says_whose_interrupt_and_clears_before_the_fifo_is_read() {
        let bank = fake();
        let mut uart = Pl011::new(&bank, 0);
        bank.set(UARTMIS, 1 << 6);
        assert_eq!(uart.service(), Ok(true));
        assert_eq!(bank.writes(), [(UARTICR, RX_INTERRUPTS)]);
        bank.set(UARTMIS, 1 << 5); // only the transmit interrupt: not the receiver's
        assert_eq!(uart.service(), Ok(false));
    }

    #[test]
    fn bytes_come_in_order_and_errored_ones_are_dropped() {
        let bank = fake();
        let mut uart = Pl011::new(&bank, 0);
        bank.receive(&[b'h' as u32, 0x400 | b'?' as u32, b'i' as u32]);
        assert_eq!(uart.read_byte(), Ok(Some(b'h')));
        assert_eq!(uart.read_byte(), Ok(Some(b'i')), "the framing error's byte dropped");
        assert_eq!(uart.read_byte(), Ok(None));
        assert!(bank.writes().is_empty(), "reading writes nothing");
    }
}
