//! The receive side of the BCM2835 auxiliary mini-UART, as on the BCM2711 of the Raspberry Pi
//! 4 (BCM2835 ARM Peripherals, section 2.2; the BCM2711 peripherals document repeats it). The
//! AUX block holds the mini-UART and two SPI masters behind one interrupt line (SPI 93 on the
//! Pi 4's GIC-400); its `AUX_IRQ` register says which of the three raises it. The block sits
//! 0x40 before the mini-UART's registers in the same page (the device tree's `brcm,bcm2835-aux`
//! node at 0x7e215000, the `brcm,bcm2835-aux-uart` at 0x7e215040), so the console's one device
//! page reaches both.
//!
//! `AUX_MU_IER_REG` bit 0 enables the receive interrupt, as a 16550's ERBFI: Linux's
//! `8250_bcm2835aux` drives the silicon as a 16550, and QEMU's model (`hw/char/bcm2835_aux.c`,
//! 10.0: `RX_INT` 0x1; older releases had bits 0 and 1 the other way round) agrees. eLinux's
//! BCM2835 datasheet errata add that on the silicon bits 3:2 must be set too for the interrupt
//! to be raised; QEMU keeps only bits 1:0. Bit 1, the transmit interrupt, stays clear.
//! The kernel transmits through `AUX_MU_IO_REG`; this driver only reads it.

use userland::Error;

use crate::hil::{Layout, ReceiveUart, Registers};

/// Offset of the mini-UART's registers after the AUX block's (`AUX_MU_IO_REG` 0x7e215040,
/// `AUX_IRQ` 0x7e215000).
pub const AUX_TO_MINI_UART: u64 = 0x40;
/// `AUX_IRQ`, relative to the AUX block: bit 0 the mini-UART's interrupt is pending (bits 1
/// and 2: the SPI masters').
const AUX_IRQ: u64 = 0x00;
const AUX_IRQ_MINI_UART: u32 = 1 << 0;
/// Mini-UART registers by index (4 bytes apart): I/O data, interrupt enable, line status.
const MU_IO: u64 = 0;
const MU_IER: u64 = 1;
const MU_LSR: u64 = 5;
/// `AUX_MU_LSR_REG` bit 0: a byte waits.
const LSR_DATA_READY: u32 = 1 << 0;
/// `AUX_MU_IER_REG`: bit 0 the receive interrupt, bits 3:2 as the errata require; bit 1, the
/// transmit interrupt, stays clear (the kernel transmits by polling).
const IER_RECEIVE: u32 = 0b1101;

/// A mini-UART's receive side.
pub struct MiniUart<R> {
    registers: R,
    /// The AUX block's offset in the page.
    aux: u64,
    /// The mini-UART's registers.
    layout: Layout,
}

impl<R: Registers> MiniUart<R> {
    /// The mini-UART whose registers start at `uart_base` in `registers`' page; `None` if the
    /// AUX block's registers would fall before the page (a device tree placing the UART
    /// elsewhere than 0x40 into its page).
    pub fn new(registers: R, uart_base: u64) -> Option<MiniUart<R>> {
        let aux = uart_base.checked_sub(AUX_TO_MINI_UART)?;
        Some(MiniUart { registers, aux, layout: Layout { base: uart_base, reg_shift: 2 } })
    }

    fn read(&self, index: u64) -> Result<u32, Error> {
        self.registers.read(self.layout.offset(index))
    }
}

impl<R: Registers> ReceiveUart for MiniUart<R> {
    fn name(&self) -> &'static str {
        "BCM2835 mini-UART"
    }

    fn enable(&mut self) -> Result<(), Error> {
        self.registers.write(self.layout.offset(MU_IER), IER_RECEIVE)
    }

    fn service(&mut self) -> Result<bool, Error> {
        // The receive interrupt is level: it stays raised while the FIFO holds a byte and
        // falls when it is emptied, so there is nothing to clear (writing IIR bit 1 would
        // clear the FIFO, losing input).
        Ok(self.registers.read(self.aux + AUX_IRQ)? & AUX_IRQ_MINI_UART != 0)
    }

    fn read_byte(&mut self) -> Result<Option<u8>, Error> {
        if self.read(MU_LSR)? & LSR_DATA_READY == 0 {
            return Ok(None);
        }
        Ok(Some(self.read(MU_IO)? as u8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Fake, Fifo};

    /// The Pi's layout: the AUX block at 0x000 of the page, the mini-UART at 0x040.
    const IO: u64 = 0x40;
    const IER: u64 = 0x44;
    const LSR: u64 = 0x54;

    fn fake() -> Fake {
        let bank = Fake::new(Fifo { data: IO, status: LSR, ready: 1, empty: 0, errors_in_status: false });
        bank.set(LSR, 0x60); // transmitter idle and empty, as it reads between the kernel's lines
        bank
    }

    #[test]
    fn enable_sets_the_receive_interrupt_and_leaves_transmit_off() {
        let bank = fake();
        MiniUart::new(&bank, 0x40).unwrap().enable().unwrap();
        assert_eq!(bank.writes(), [(IER, 0b1101)]);
    }

    #[test]
    fn aux_irq_says_whether_the_shared_line_is_the_mini_uart_s() {
        let bank = fake();
        let mut uart = MiniUart::new(&bank, 0x40).unwrap();
        bank.set(0x00, 0b001);
        assert_eq!(uart.service(), Ok(true));
        bank.set(0x00, 0b110); // the SPI masters', not the UART's
        assert_eq!(uart.service(), Ok(false));
        assert!(bank.writes().is_empty(), "servicing writes nothing (IIR writes clear FIFOs)");
    }

    #[test]
    fn bytes_come_while_the_line_status_says_data_ready() {
        let bank = fake();
        let mut uart = MiniUart::new(&bank, 0x40).unwrap();
        bank.receive(&[u32::from(b'o'), u32::from(b'k')]);
        assert_eq!(uart.read_byte(), Ok(Some(b'o')));
        assert_eq!(uart.read_byte(), Ok(Some(b'k')));
        assert_eq!(uart.read_byte(), Ok(None));
    }

    #[test]
    fn a_uart_without_room_for_the_aux_block_in_its_page_is_refused() {
        let bank = fake();
        assert!(MiniUart::new(&bank, 0x20).is_none());
        assert!(MiniUart::new(&bank, 0x40).is_some());
    }
}
