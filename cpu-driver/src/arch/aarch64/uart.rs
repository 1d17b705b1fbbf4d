//! The console UARTs the supported boards use. Each driver only transmits, polled.
//!
//! Every wait on a status register is bounded (`uart_setup::TransmitWait`): a UART the
//! firmware did not enable, or one that stopped, drops bytes (counted, [`Uart::dropped`])
//! instead of hanging the core that prints. The PL011 keeps the firmware's baud rate. The
//! mini-UART and the 16550/DesignWare UART get the line format the device tree's
//! `stdout-path` options give, and the baud rate where the tree also states the UART's input
//! clock (`uart_setup`); otherwise the firmware's settings stay. Only the boot stub programs
//! them ([`Uart::new`]'s `program`), once, before any other core runs.

use core::ptr::NonNull;

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

use crate::boot_record::{ConsoleConfig, ConsoleKind};
use crate::uart_setup::{self, line, TransmitWait};

use super::cpu;

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
        TX_EMPTY OFFSET(5) NUMBITS(1) [],
        /// The transmitter is idle: FIFO empty and the last bit sent.
        TX_IDLE OFFSET(6) NUMBITS(1) []
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
        (0x0c => line_control: ReadWrite<u32>),
        (0x10 => _reserved1),
        (0x14 => line_status: ReadOnly<u32, AuxLineStatus::Register>),
        (0x18 => _reserved2),
        (0x20 => control: ReadWrite<u32>),
        (0x24 => _reserved3),
        (0x28 => baud: ReadWrite<u32>),
        (0x2c => @END),
    }
}

/// 16550 register indices and bits (the register stride, `reg-shift`, and width,
/// `reg-io-width`, vary by SoC, so offsets are computed at run time): line status with its
/// "transmit holding register empty" and "transmitter empty" bits, line control with its
/// divisor latch access bit, and the divisor latch (`DLL`, `DLM`) behind it.
const NS16550_LSR: usize = 5;
const NS16550_LSR_THRE: u32 = 1 << 5;
const NS16550_LSR_TEMT: u32 = 1 << 6;
const NS16550_LCR: usize = 3;
const NS16550_LCR_DLAB: u32 = 1 << 7;
const NS16550_DLL: usize = 0;
const NS16550_DLM: usize = 1;
/// Mini-UART `AUX_MU_CNTL_REG`: receiver and transmitter enabled.
const AUX_CNTL_RX_TX: u32 = 0b11;

/// A transmit-only console UART.
pub struct Uart {
    /// The device.
    port: Port,
    /// The bounded wait for room in its transmitter (this core's copy; its drop count is this
    /// core's).
    wait: spin::Mutex<TransmitWait>,
    /// How long one byte may wait, in counter ticks.
    timeout: u64,
}

/// The device behind a [`Uart`].
enum Port {
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
// volatile register access; whole lines are kept apart by the console owner and the console
// gate (`crate::log_ring`), not here.
unsafe impl Send for Port {}
// SAFETY: as above.
unsafe impl Sync for Port {}

impl Uart {
    /// No console: output is dropped.
    pub const fn none() -> Self {
        Uart { port: Port::None, wait: spin::Mutex::new(TransmitWait::new()), timeout: 0 }
    }

    /// Builds the driver for `config`, with its registers mapped at `base_va`; with `program`,
    /// also sets the line format and baud rate the device tree gives (the boot stub, once).
    ///
    /// # Safety
    /// `base_va` must map the UART's registers as device memory for the rest of the program;
    /// with `program`, no other core may use the UART meanwhile.
    pub unsafe fn new(config: &ConsoleConfig, base_va: u64, program: bool) -> Self {
        // SAFETY: passed on from the caller.
        let port = unsafe { Port::new(config, base_va) };
        let uart = Uart {
            port,
            wait: spin::Mutex::new(TransmitWait::new()),
            timeout: uart_setup::byte_timeout_ticks(cpu::counter_frequency()),
        };
        if program {
            uart.program(config);
        }
        uart
    }

    /// Bytes dropped because the transmitter was not ready in time.
    pub fn dropped(&self) -> u64 {
        self.wait.lock().dropped()
    }

    /// Waits (bounded) until the transmitter is idle, so a format change cuts no byte short.
    fn drain(&self, idle: impl Fn() -> bool) -> bool {
        let start = cpu::counter();
        while cpu::counter().wrapping_sub(start) < self.timeout * 16 {
            if idle() {
                return true;
            }
            core::hint::spin_loop();
        }
        false
    }

    /// Sets the line format and baud rate `config` gives, where this UART can take them.
    fn program(&self, config: &ConsoleConfig) {
        let format = line::decode(config.line);
        match &self.port {
            Port::Aux(regs) => {
                let baud = uart_setup::aux_baud_register(config.clock_hz, config.baud);
                if format.is_none() && baud.is_none() {
                    return;
                }
                self.drain(|| regs.line_status.is_set(AuxLineStatus::TX_IDLE));
                // BCM2711 ARM Peripherals 2.2.2: transmitter and receiver off while the
                // divisor and format change, then on again. The mini-UART has no parity.
                regs.control.set(0);
                if let Some((data_bits, _)) = format {
                    regs.line_control.set(u32::from(uart_setup::aux_line_control(data_bits)));
                }
                if let Some(baud) = baud {
                    regs.baud.set(u32::from(baud));
                }
                regs.control.set(AUX_CNTL_RX_TX);
            }
            Port::Ns16550 { base, shift, width } => {
                let divisor = uart_setup::ns16550_divisor(config.clock_hz, config.baud);
                if format.is_none() && divisor.is_none() {
                    return;
                }
                let (base, shift, width) = (*base, *shift, *width);
                let read = |index| self.ns16550_read(base, shift, width, index);
                self.drain(|| read(NS16550_LSR) & NS16550_LSR_TEMT != 0);
                let lcr = match format {
                    Some((data_bits, parity)) => {
                        u32::from(uart_setup::ns16550_line_control(data_bits, parity))
                    }
                    None => read(NS16550_LCR) & !NS16550_LCR_DLAB,
                };
                // A DesignWare UART ignores a line-control write while busy: write until it
                // reads back, a bounded number of times.
                let write_lcr = |value: u32| {
                    for _ in 0..16 {
                        self.ns16550_write(base, shift, width, NS16550_LCR, value);
                        if read(NS16550_LCR) & 0xff == value {
                            return true;
                        }
                    }
                    false
                };
                if let Some(divisor) = divisor {
                    if write_lcr(lcr | NS16550_LCR_DLAB) {
                        self.ns16550_write(base, shift, width, NS16550_DLL, u32::from(divisor & 0xff));
                        self.ns16550_write(base, shift, width, NS16550_DLM, u32::from(divisor >> 8));
                    }
                }
                write_lcr(lcr);
            }
            Port::Pl011(_) | Port::None => {}
        }
    }

    /// Whether the transmitter takes a byte now.
    fn ready(&self) -> bool {
        match &self.port {
            Port::None => true,
            Port::Pl011(regs) => !regs.flags.is_set(Pl011Flags::TXFF),
            Port::Aux(regs) => regs.line_status.is_set(AuxLineStatus::TX_EMPTY),
            Port::Ns16550 { base, shift, width } => {
                self.ns16550_read(*base, *shift, *width, NS16550_LSR) & NS16550_LSR_THRE != 0
            }
        }
    }

    fn write_byte(&self, byte: u8) {
        if matches!(self.port, Port::None) {
            return;
        }
        if !self.wait.lock().wait(|| self.ready(), cpu::counter, self.timeout) {
            return; // dropped, and counted
        }
        match &self.port {
            Port::None => {}
            Port::Pl011(regs) => regs.data.set(u32::from(byte)),
            Port::Aux(regs) => regs.io.set(u32::from(byte)),
            Port::Ns16550 { base, shift, width } => {
                self.ns16550_write(*base, *shift, *width, 0, u32::from(byte))
            }
        }
    }
}

impl Port {
    /// The device for `config` at `base_va`.
    ///
    /// # Safety
    /// As [`Uart::new`].
    unsafe fn new(config: &ConsoleConfig, base_va: u64) -> Self {
        match ConsoleKind::from_raw(config.kind) {
            ConsoleKind::Pl011 => {
                // SAFETY: the caller guarantees the registers are mapped at base_va.
                let regs = unsafe { &*(base_va as *const Pl011Registers) };
                // Firmware normally leaves the console UART enabled; QEMU without firmware
                // does not. Enabling it keeps the baud rate the firmware chose.
                if !regs.control.is_set(Pl011Control::UARTEN) || !regs.control.is_set(Pl011Control::TXE) {
                    regs.control.modify(Pl011Control::UARTEN::SET + Pl011Control::TXE::SET);
                }
                Port::Pl011(regs)
            }
            // SAFETY: as above.
            ConsoleKind::Bcm2835Aux => Port::Aux(unsafe { &*(base_va as *const AuxRegisters) }),
            ConsoleKind::Ns16550 => match NonNull::new(base_va as *mut u8) {
                Some(base) => {
                    Port::Ns16550 { base, shift: config.reg_shift.min(4) as u32, width: config.reg_io_width }
                }
                None => Port::None,
            },
            ConsoleKind::None => Port::None,
        }
    }
}

impl Uart {
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
