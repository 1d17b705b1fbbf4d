//! The stub's console: the UART the device tree names (`skb`'s console: `stdout-path`, else
//! `/aliases/serial0`, else the first UART), or, for a boot refused before the tree could be
//! read, the build's fallback (`crate::refusal`). A UART of a family the stub cannot drive
//! drops the output. The stub writes to the UART directly: it runs before any CPU driver, and
//! no other core runs until the boot core's CPU driver, the console owner, starts them
//! (`cpu_driver::log_ring`).
use core::fmt::Write;

use cpu_driver::arch::aarch64::uart::Uart;
use cpu_driver::boot_record::{ConsoleConfig, ConsoleKind};
use cpu_driver::gicv2_spi::Trigger;
use cpu_driver::linebuf::LineBuffer;
use cpu_driver::uart_setup::line;
use spin::Once;

static CONSOLE: Once<Uart> = Once::new();

/// Starts the console. The stub's identity map must map `config.base_pa` as device memory.
pub fn init(config: &ConsoleConfig) {
    // SAFETY: the stub's identity map covers every physical address, with non-RAM as device
    // memory, and the UART stays mapped while the stub runs; no other core runs yet, so the
    // stub alone programs the line format and baud rate the device tree gives.
    CONSOLE.call_once(|| unsafe { Uart::new(config, config.base_pa, true) });
}

/// Whether a console was started (a later [`init`] changes nothing).
pub fn started() -> bool {
    CONSOLE.is_completed()
}

/// Prints one line.
pub fn print_line(args: core::fmt::Arguments<'_>) {
    if let Some(uart) = CONSOLE.get() {
        let mut line = LineBuffer::new();
        let _ = line.write_fmt(args);
        uart.write_bytes(line.finish());
    }
}

/// The boot record's description of `console` (no console: output dropped).
pub fn config_of(console: Option<&skb::Console>) -> ConsoleConfig {
    let Some(console) = console else { return ConsoleConfig::default() };
    let kind = match console.kind {
        skb::UartKind::Pl011 => ConsoleKind::Pl011,
        skb::UartKind::Bcm2835Aux => ConsoleKind::Bcm2835Aux,
        skb::UartKind::Ns16550 => ConsoleKind::Ns16550,
        _ => ConsoleKind::None,
    };
    ConsoleConfig {
        kind: kind as u64,
        base_pa: console.base,
        reg_shift: u64::from(console.reg_shift),
        reg_io_width: u64::from(console.reg_io_width),
        baud: u64::from(console.baud.unwrap_or(0)),
        clock_hz: u64::from(console.clock_hz.unwrap_or(0)),
        line: console.line.map_or(0, |format| {
            let parity = match format.parity {
                skb::Parity::None => line::PARITY_NONE,
                skb::Parity::Odd => line::PARITY_ODD,
                skb::Parity::Even => line::PARITY_EVEN,
            };
            line::encode(format.data_bits, parity)
        }),
        intid: u64::from(console.intid.unwrap_or(0)),
        irq_trigger: Trigger::to_record(console.irq_trigger.map(|trigger| match trigger {
            skb::IrqTrigger::Level => Trigger::Level,
            skb::IrqTrigger::Edge => Trigger::Edge,
        })),
    }
}

/// `println!` for the stub.
macro_rules! stub_println {
    ($($arg:tt)*) => { $crate::console::print_line(format_args!($($arg)*)) };
}
pub(crate) use stub_println;
