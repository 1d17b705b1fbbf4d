//! The receive side of the BCM2835 auxiliary mini-UART, as on the BCM2711 of the Raspberry Pi
//! 4 (BCM2835 ARM Peripherals, section 2.2; the BCM2711 peripherals document repeats it). The
//! AUX block holds the mini-UART and two SPI masters behind one interrupt line (SPI 93 on the
//! Pi 4's GIC-400); its `AUX_IRQ` register says which of the three raises it. The block sits
//! 0x40 before the mini-UART's registers in the same page (the device tree's `brcm,bcm2835-aux`
//! node at 0x7e215000, the `brcm,bcm2835-aux-uart` at 0x7e215040), so the console's one device
//! page reaches both.
//!
//! Which `AUX_MU_IER_REG` bit enables the receive interrupt is not settled by one document:
//! the silicon follows a 16550 (bit 0 receive, bit 1 transmit; Linux's `8250_bcm2835aux`
//! relies on it, and eLinux's datasheet errata add that bits 3:2 must be set for interrupts
//! to be raised), while QEMU's model (`hw/char/bcm2835_aux.c`, `RX_INT` 0x2, `TX_INT` 0x1)
//! takes the datasheet's table literally. [`MiniUart::enable`] finds out: with the transmitter
//! idle it sets bit 1 alone and reads `AUX_MU_IIR_REG`. An interrupt pending with the
//! "transmit holding register empty" identity means bit 1 is the transmit enable (the
//! silicon); nothing pending, or "receiver holds a byte", means it is the receive enable (QEMU).
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
/// Mini-UART registers by index (4 bytes apart): I/O data, interrupt enable, interrupt
/// identify, line status.
const MU_IO: u64 = 0;
const MU_IER: u64 = 1;
const MU_IIR: u64 = 2;
const MU_LSR: u64 = 5;
/// `AUX_MU_LSR_REG`: a byte waits; the transmitter is idle (FIFO empty, nothing shifting).
const LSR_DATA_READY: u32 = 1 << 0;
const LSR_TRANSMITTER_IDLE: u32 = 1 << 6;
/// `AUX_MU_IIR_REG`: bit 0 clear while an interrupt is pending; bits 2:1 its identity.
const IIR_NONE_PENDING: u32 = 1 << 0;
const IIR_ID_SHIFT: u32 = 1;
const IIR_ID_TRANSMIT_EMPTY: u32 = 0b01;
/// `AUX_MU_IER_REG` values: the silicon's receive enable (bit 0, with bits 3:2 the errata
/// require) and QEMU's (bit 1). [`PROBE`] is bit 1 alone.
const IER_RECEIVE_SILICON: u32 = 0b1101;
const IER_RECEIVE_QEMU: u32 = 0b0010;
const PROBE: u32 = 0b0010;
/// How long [`MiniUart::enable`] waits for the kernel's last output to leave (reads of the
/// line status; a 115200-baud byte takes about 87 us, the FIFO holds 8).
const IDLE_TRIES: u32 = 1_000_000;

/// Which `AUX_MU_IER_REG` bit enables the receive interrupt on this mini-UART.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveEnable {
    /// Bit 0 (and bits 3:2): the BCM2835/BCM2711 silicon.
    Silicon,
    /// Bit 1: QEMU's model.
    Qemu,
}

/// A mini-UART's receive side.
pub struct MiniUart<R> {
    registers: R,
    /// The AUX block's offset in the page.
    aux: u64,
    /// The mini-UART's registers.
    layout: Layout,
    /// Found by [`MiniUart::enable`].
    receive_enable: Option<ReceiveEnable>,
}

impl<R: Registers> MiniUart<R> {
    /// The mini-UART whose registers start at `uart_base` in `registers`' page; `None` if the
    /// AUX block's registers would fall before the page (a device tree placing the UART
    /// elsewhere than 0x40 into its page).
    pub fn new(registers: R, uart_base: u64) -> Option<MiniUart<R>> {
        let aux = uart_base.checked_sub(AUX_TO_MINI_UART)?;
        Some(MiniUart {
            registers,
            aux,
            layout: Layout { base: uart_base, reg_shift: 2 },
            receive_enable: None,
        })
    }

    /// What [`MiniUart::enable`] found.
    pub fn receive_enable(&self) -> Option<ReceiveEnable> {
        self.receive_enable
    }

    fn read(&self, index: u64) -> Result<u32, Error> {
        self.registers.read(self.layout.offset(index))
    }

    /// Which IER bit enables receive interrupts (see the module comment).
    fn probe(&mut self) -> Result<ReceiveEnable, Error> {
        for _ in 0..IDLE_TRIES {
            if self.read(MU_LSR)? & LSR_TRANSMITTER_IDLE != 0 {
                break;
            }
        }
        self.registers.write(self.layout.offset(MU_IER), PROBE)?;
        let identify = self.read(MU_IIR)?;
        let pending = identify & IIR_NONE_PENDING == 0;
        let transmit_empty = (identify >> IIR_ID_SHIFT) & 0b11 == IIR_ID_TRANSMIT_EMPTY;
        Ok(if pending && transmit_empty { ReceiveEnable::Silicon } else { ReceiveEnable::Qemu })
    }
}

impl<R: Registers> ReceiveUart for MiniUart<R> {
    fn name(&self) -> &'static str {
        "BCM2835 mini-UART"
    }

    fn enable(&mut self) -> Result<(), Error> {
        let found = self.probe()?;
        let value = match found {
            ReceiveEnable::Silicon => IER_RECEIVE_SILICON,
            ReceiveEnable::Qemu => IER_RECEIVE_QEMU,
        };
        self.registers.write(self.layout.offset(MU_IER), value)?;
        self.receive_enable = Some(found);
        Ok(())
    }

    fn found(&self) -> Option<&'static str> {
        self.receive_enable.map(|found| match found {
            ReceiveEnable::Silicon => "receive interrupt enabled by IER bit 0 (the silicon's)",
            ReceiveEnable::Qemu => "receive interrupt enabled by IER bit 1 (QEMU's model)",
        })
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
    const IIR: u64 = 0x48;
    const LSR: u64 = 0x54;

    fn fake() -> Fake {
        let bank = Fake::new(Fifo { data: IO, status: LSR, ready: 1, empty: 0, errors_in_status: false });
        bank.set(LSR, 0x60); // transmitter idle and empty
        bank
    }

    #[test]
    fn on_the_silicon_bit_1_raises_a_transmit_interrupt_so_receive_is_bit_0() {
        let bank = fake();
        // What the silicon's IIR reads with IER = 0b10 and the transmit FIFO empty: pending
        // (bit 0 clear), "transmit holding register empty" (bits 2:1 = 01), FIFOs on (7:6).
        bank.set(IIR, 0xc2);
        let mut uart = MiniUart::new(&bank, 0x40).unwrap();
        uart.enable().unwrap();
        assert_eq!(uart.receive_enable(), Some(ReceiveEnable::Silicon));
        assert_eq!(bank.writes(), [(IER, 0b0010), (IER, 0b1101)], "probe, then receive enable");
    }

    #[test]
    fn under_qemu_bit_1_is_the_receive_enable() {
        // QEMU's IIR with nothing pending: 0xc0 | 0x2 | 0x1 (bit 0 set: none pending).
        let bank = fake();
        bank.set(IIR, 0xc3);
        let mut uart = MiniUart::new(&bank, 0x40).unwrap();
        uart.enable().unwrap();
        assert_eq!(uart.receive_enable(), Some(ReceiveEnable::Qemu));
        assert_eq!(bank.read(IER), Ok(0b0010));
        // A byte already waiting: QEMU reports the receive identity (0xc4), still bit 1.
        let bank = fake();
        bank.set(IIR, 0xc4);
        bank.receive(&[u32::from(b'x')]);
        let mut uart = MiniUart::new(&bank, 0x40).unwrap();
        uart.enable().unwrap();
        assert_eq!(uart.receive_enable(), Some(ReceiveEnable::Qemu));
        assert_eq!(bank.waiting(), 1, "probing reads no byte");
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
