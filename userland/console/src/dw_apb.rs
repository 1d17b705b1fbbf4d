//! The receive side of a Synopsys DesignWare APB UART (`snps,dw-apb-uart`: Rockchip RK3399,
//! RK3588), a 16550 with 32-bit registers 4 bytes apart (`reg-shift = <2>`,
//! `reg-io-width = <4>`) and a few registers of its own (DesignWare DW_apb_uart databook;
//! the 16550 parts as in the PC16550D data sheet):
//! - `IER` bit 0, ERBFI: the received-data interrupt, raised at the FIFO's trigger level or,
//!   below it, after four character times without a byte (the character timeout);
//! - `IIR` bits 3:0: 0x1 nothing pending, 0x4 received data, 0xc character timeout (both
//!   cleared by reading the data), 0x6 receiver line status (cleared by reading `LSR`), 0x7
//!   busy detect (a write to `LCR` while the UART was busy; cleared by reading `USR`), 0x2
//!   transmitter empty (cleared by reading `IIR`), 0x0 modem status (cleared by reading
//!   `MSR`);
//! - `LSR` bit 0, data ready; bits 4:1 the errors of the byte at the head of the FIFO (overrun,
//!   parity, framing, break), cleared by the read;
//! - `USR` bit 0, busy: `LCR` cannot be written while it is set. This driver never writes
//!   `LCR` (the kernel set the line up and transmits through `THR`), so it only reads `USR`
//!   to clear a busy-detect interrupt the kernel's line set-up may have left.

use userland::Error;

use crate::hil::{Layout, ReceiveUart, Registers};

/// Registers by index (`reg-shift` apart).
const RBR: u64 = 0;
const IER: u64 = 1;
const IIR: u64 = 2;
const LSR: u64 = 5;
const MSR: u64 = 6;
const USR: u64 = 31;
/// `IER` bit 0: received-data available (and character timeout).
const IER_ERBFI: u32 = 1 << 0;
/// `IIR` interrupt identities (bits 3:0).
const IIR_ID_MASK: u32 = 0xf;
const IIR_MODEM_STATUS: u32 = 0x0;
const IIR_NONE: u32 = 0x1;
const IIR_THR_EMPTY: u32 = 0x2;
const IIR_RECEIVED_DATA: u32 = 0x4;
const IIR_LINE_STATUS: u32 = 0x6;
const IIR_BUSY_DETECT: u32 = 0x7;
const IIR_CHARACTER_TIMEOUT: u32 = 0xc;
/// `LSR`: data ready, and the head byte's parity, framing and break flags (overrun says a
/// byte was lost before this one, not that this one is bad).
const LSR_DATA_READY: u32 = 1 << 0;
const LSR_BYTE_ERRORS: u32 = (1 << 2) | (1 << 3) | (1 << 4);
/// Identities [`DwApbUart::service`] takes at one wake-up at most (each read clears one; a
/// UART that keeps reporting is left for the next interrupt).
const MAX_CAUSES: u32 = 8;

/// A DesignWare APB UART's receive side.
pub struct DwApbUart<R> {
    registers: R,
    layout: Layout,
}

impl<R: Registers> DwApbUart<R> {
    /// The UART whose registers start at `base` in `registers`' page, `1 << reg_shift` bytes
    /// apart; `None` for a register spacing under 4 bytes (byte-wide registers: the device
    /// page is read 32 bits at a time).
    pub fn new(registers: R, base: u64, reg_shift: u32) -> Option<DwApbUart<R>> {
        (2..=4).contains(&reg_shift).then_some(DwApbUart { registers, layout: Layout { base, reg_shift } })
    }

    fn read(&self, index: u64) -> Result<u32, Error> {
        self.registers.read(self.layout.offset(index))
    }
}

impl<R: Registers> ReceiveUart for DwApbUart<R> {
    fn name(&self) -> &'static str {
        "DesignWare APB UART"
    }

    fn enable(&mut self) -> Result<(), Error> {
        let enabled = self.read(IER)?;
        self.registers.write(self.layout.offset(IER), enabled | IER_ERBFI)
    }

    fn service(&mut self) -> Result<bool, Error> {
        let mut raised = false;
        for _ in 0..MAX_CAUSES {
            // Each identity's own clearing read; the data ones are cleared by emptying the
            // FIFO, which the receive loop does next.
            match self.read(IIR)? & IIR_ID_MASK {
                IIR_NONE => break,
                IIR_RECEIVED_DATA | IIR_CHARACTER_TIMEOUT => return Ok(true),
                IIR_LINE_STATUS => drop(self.read(LSR)?),
                IIR_BUSY_DETECT => drop(self.read(USR)?),
                IIR_MODEM_STATUS => drop(self.read(MSR)?),
                IIR_THR_EMPTY => {} // reading IIR cleared it
                _ => break,         // reserved identities: nothing known to clear
            }
            raised = true;
        }
        Ok(raised)
    }

    fn read_byte(&mut self) -> Result<Option<u8>, Error> {
        loop {
            let status = self.read(LSR)?;
            if status & LSR_DATA_READY == 0 {
                return Ok(None);
            }
            let byte = self.read(RBR)? as u8;
            if status & LSR_BYTE_ERRORS == 0 {
                return Ok(Some(byte));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Fake, Fifo};

    /// RK3399's UART2 layout: 4 bytes apart from the start of its page.
    const RBR_AT: u64 = 0x00;
    const IER_AT: u64 = 0x04;
    const IIR_AT: u64 = 0x08;
    const LSR_AT: u64 = 0x14;
    const MSR_AT: u64 = 0x18;
    const USR_AT: u64 = 0x7c;

    fn fake() -> Fake {
        Fake::new(Fifo { data: RBR_AT, status: LSR_AT, ready: 1, empty: 0, errors_in_status: true })
    }

    #[test]
    fn enable_sets_erbfi_and_keeps_the_other_enables() {
        let bank = fake();
        bank.set(IER_AT, 1 << 1);
        DwApbUart::new(&bank, 0, 2).unwrap().enable().unwrap();
        assert_eq!(bank.writes(), [(IER_AT, (1 << 1) | 1)]);
    }

    #[test]
    fn received_data_and_character_timeout_are_the_receiver_s() {
        for identity in [0xc4, 0xcc] {
            let bank = fake();
            bank.set(IIR_AT, identity);
            assert_eq!(DwApbUart::new(&bank, 0, 2).unwrap().service(), Ok(true), "IIR {identity:#x}");
        }
        let bank = fake();
        bank.set(IIR_AT, 0xc1);
        assert_eq!(DwApbUart::new(&bank, 0, 2).unwrap().service(), Ok(false), "nothing pending");
    }

    /// A bank whose IIR reports `identity` until the register `clears` is read.
    struct Cause<'a> {
        bank: &'a Fake,
        identity: u32,
        clears: u64,
        cleared: core::cell::Cell<bool>,
    }

    impl Registers for Cause<'_> {
        fn read(&self, offset: u64) -> Result<u32, Error> {
            if offset == IIR_AT {
                return Ok(if self.cleared.get() { 0xc1 } else { 0xc0 | self.identity });
            }
            if offset == self.clears {
                self.cleared.set(true);
            }
            self.bank.read(offset)
        }
        fn write(&self, offset: u64, value: u32) -> Result<(), Error> {
            self.bank.write(offset, value)
        }
    }

    #[test]
    fn line_status_busy_detect_and_modem_status_are_cleared_by_their_own_reads() {
        for (identity, clears) in
            [(IIR_LINE_STATUS, LSR_AT), (IIR_BUSY_DETECT, USR_AT), (IIR_MODEM_STATUS, MSR_AT)]
        {
            let bank = fake();
            let cause = Cause { bank: &bank, identity, clears, cleared: core::cell::Cell::new(false) };
            assert_eq!(DwApbUart::new(&cause, 0, 2).unwrap().service(), Ok(true));
            assert!(cause.cleared.get(), "identity {identity:#x} cleared by reading {clears:#x}");
            assert!(bank.writes().is_empty(), "clearing is by reads only (no LCR write)");
        }
    }

    #[test]
    fn a_cause_that_never_clears_ends_the_service_bounded() {
        let bank = fake();
        bank.set(IIR_AT, 0xc0 | IIR_LINE_STATUS); // stuck: reading LSR does not clear it here
        assert_eq!(DwApbUart::new(&bank, 0, 2).unwrap().service(), Ok(true));
    }

    #[test]
    fn bytes_with_parity_framing_or_break_errors_are_dropped_overrun_is_not() {
        let bank = fake();
        let mut uart = DwApbUart::new(&bank, 0, 2).unwrap();
        // Bits 15:8 of an entry: the LSR error flags while it heads the FIFO.
        bank.receive(&[
            u32::from(b'a'),
            (1 << 11) | u32::from(b'?'), // framing error (LSR bit 3)
            (1 << 9) | u32::from(b'b'),  // overrun before it (LSR bit 1): the byte is good
        ]);
        assert_eq!(uart.read_byte(), Ok(Some(b'a')));
        assert_eq!(uart.read_byte(), Ok(Some(b'b')));
        assert_eq!(uart.read_byte(), Ok(None));
        assert_eq!(bank.waiting(), 0, "the errored byte was read off the FIFO, not left");
    }

    #[test]
    fn registers_follow_the_device_tree_spacing() {
        let bank = fake();
        bank.set(0x100 + 0x10, 1 << 7); // IER at index 1 with reg-shift 4
        DwApbUart::new(&bank, 0x100, 4).unwrap().enable().unwrap();
        assert_eq!(bank.writes(), [(0x110, (1 << 7) | 1)]);
        assert!(DwApbUart::new(&bank, 0, 0).is_none(), "byte-wide registers refused");
    }
}
