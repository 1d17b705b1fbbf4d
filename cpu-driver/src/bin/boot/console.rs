//! The stub's console: the UART from `/chosen/stdout-path`, once the MMU is on. Before that
//! (and on boards whose console the stub cannot drive) output is dropped. The stub writes to
//! the UART directly: it runs before any CPU driver, and no other core runs until the boot
//! core's CPU driver, the console owner, starts them (`cpu_driver::log_ring`).

use core::fmt::Write;

use cpu_driver::arch::aarch64::uart::Uart;
use cpu_driver::boot_record::ConsoleConfig;
use cpu_driver::linebuf::LineBuffer;
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

/// `println!` for the stub.
macro_rules! stub_println {
    ($($arg:tt)*) => { $crate::console::print_line(format_args!($($arg)*)) };
}
pub(crate) use stub_println;
