//! The console UARTs the supported boards use. Each driver only transmits, polled, and leaves
//! the baud rate and line settings as the firmware or bootloader programmed them.

use core::ptr::NonNull;

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

use crate::boot_record::{ConsoleConfig, ConsoleKind};

register_bitfields! [u32,
    /// PL011 flag register (Arm PrimeCell UART PL011 TRM, DDI 0183, 3.3.3).
    Pl011Flags [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) []
    ],
    /// PL011 control register (DDI 0183, 3.3.8).
    Pl011Control [
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) []
    ],
    /// Mini-UART line status (BCM2711 ARM Peripherals, 2.2.2, AUX_MU_LSR_REG).
    AuxLineStatus [
        /// The transmit FIFO can take at least one byte.
        TX_EMPTY OFFSET(5) NUMBITS(1) []
    ]
];

register_structs! {
    /// PL011 registers used here (DDI 0183, 3.2).
    pub Pl011Registers {
        (0x00 => data: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => flags: ReadOnly<u32, Pl011Flags::Register>),
        (0x1c => _reserved1),
        (0x30 => control: ReadWrite<u32, Pl011Control::Register>),
        (0x34 => @END),
    },
    /// BCM2835/BCM2711 mini-UART registers from AUX_MU_IO_REG, the address the device tree
    /// gives for `brcm,bcm2835-aux-uart` (BCM2711 ARM Peripherals, 2.2.2).
    pub AuxRegisters {
        (0x00 => io: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x14 => line_status: ReadOnly<u32, AuxLineStatus::Register>),
        (0x18 => @END),
    }
}

/// 16550 line status register index and its "transmit holding register empty" bit. The
/// register stride (`reg-shift`) and width (`reg-io-width`) vary by SoC, so this driver
/// computes offsets at run time instead of using a fixed register struct.
const NS16550_LSR: usize = 5;
const NS16550_LSR_THRE: u32 = 1 << 5;

/// A transmit-only console UART.
pub enum Uart {
    /// No console: output is dropped.
    None,
    /// Arm PL011.
    Pl011(&'static Pl011Registers),
    /// BCM2835 mini-UART.
    Aux(&'static AuxRegisters),
    /// 16550 / DesignWare APB UART.
    Ns16550 {
        /// Mapped register base.
        base: NonNull<u8>,
        /// Register stride shift.
        shift: u32,
        /// 4 for 32-bit access, else 8-bit access.
        width: u64,
    },
}

// SAFETY: the UART registers are device memory owned by the console; every access is a single
// volatile register access, and callers serialise whole lines with the console lock.
unsafe impl Send for Uart {}
// SAFETY: as above.
unsafe impl Sync for Uart {}

impl Uart {
    /// Builds the driver for `config`, with its registers mapped at `base_va`.
    ///
    /// # Safety
    /// `base_va` must map the UART's registers as device memory for the rest of the program.
    pub unsafe fn new(config: &ConsoleConfig, base_va: u64) -> Self {
        match ConsoleKind::from_raw(config.kind) {
            ConsoleKind::Pl011 => {
                // SAFETY: the caller guarantees the registers are mapped at base_va.
                let regs = unsafe { &*(base_va as *const Pl011Registers) };
                // Firmware normally leaves the console UART enabled; QEMU without firmware
                // does not. Enabling it keeps the baud rate the firmware chose.
                if !regs.control.is_set(Pl011Control::UARTEN) || !regs.control.is_set(Pl011Control::TXE) {
                    regs.control.modify(Pl011Control::UARTEN::SET + Pl011Control::TXE::SET);
                }
                Uart::Pl011(regs)
            }
            // SAFETY: as above.
            ConsoleKind::Bcm2835Aux => Uart::Aux(unsafe { &*(base_va as *const AuxRegisters) }),
            ConsoleKind::Ns16550 => match NonNull::new(base_va as *mut u8) {
                Some(base) => {
                    Uart::Ns16550 { base, shift: config.reg_shift.min(4) as u32, width: config.reg_io_width }
                }
                None => Uart::None,
            },
            ConsoleKind::None => Uart::None,
        }
    }

    fn write_byte(&self, byte: u8) {
        match self {
            Uart::None => {}
            Uart::Pl011(regs) => {
                while regs.flags.is_set(Pl011Flags::TXFF) {
                    core::hint::spin_loop();
                }
                regs.data.set(u32::from(byte));
            }
            Uart::Aux(regs) => {
                while !regs.line_status.is_set(AuxLineStatus::TX_EMPTY) {
                    core::hint::spin_loop();
                }
                regs.io.set(u32::from(byte));
            }
            Uart::Ns16550 { base, shift, width } => {
                while self.ns16550_read(*base, *shift, *width, NS16550_LSR) & NS16550_LSR_THRE == 0 {
                    core::hint::spin_loop();
                }
                self.ns16550_write(*base, *shift, *width, 0, u32::from(byte));
            }
        }
    }

    fn ns16550_read(&self, base: NonNull<u8>, shift: u32, width: u64, index: usize) -> u32 {
        let addr = base.as_ptr().wrapping_add(index << shift);
        if width == 4 {
            // SAFETY: `new`'s caller guarantees the register block is mapped; the address is
            // a register of it, aligned for the configured access width.
            unsafe { core::ptr::read_volatile(addr as *const u32) }
        } else {
            // SAFETY: as above.
            u32::from(unsafe { core::ptr::read_volatile(addr) })
        }
    }

    fn ns16550_write(&self, base: NonNull<u8>, shift: u32, width: u64, index: usize, value: u32) {
        let addr = base.as_ptr().wrapping_add(index << shift);
        if width == 4 {
            // SAFETY: as in `ns16550_read`.
            unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
        } else {
            // SAFETY: as in `ns16550_read`.
            unsafe { core::ptr::write_volatile(addr, value as u8) }
        }
    }

    /// Sends `bytes`, turning `\n` into `\r\n` for terminals.
    pub fn write_bytes(&self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
    }
}
