//! This core's console: the board UART through the physmap, one whole line at a time under
//! the cross-core console lock, so lines from different cores never interleave.

use core::fmt::Write;

use cpu_driver::arch::aarch64::uart::Uart;
use cpu_driver::boot_record::ConsoleConfig;
use cpu_driver::console_lock::ConsoleLock;
use cpu_driver::layout::phys_to_virt;
use cpu_driver::linebuf::LineBuffer;
use spin::Once;

struct Console {
    uart: Uart,
    lock: &'static ConsoleLock,
}

static CONSOLE: Once<Console> = Once::new();

/// Starts the console.
pub fn init(config: &ConsoleConfig, lock: &'static ConsoleLock) {
    let uart = match phys_to_virt(config.base_pa) {
        // SAFETY: the physmap maps every non-RAM address as device memory, for good.
        // (Not programmed again: the stub set the UART up before any CPU driver ran.)
        Some(va) => unsafe { Uart::new(config, va, false) },
        None => Uart::none(),
    };
    CONSOLE.call_once(|| Console { uart, lock });
}

/// Prints one line.
pub fn print_line(args: core::fmt::Arguments<'_>) {
    if let Some(console) = CONSOLE.get() {
        let mut line = LineBuffer::new();
        let _ = line.write_fmt(args);
        let bytes = line.finish();
        console.lock.with(core::hint::spin_loop, || console.uart.write_bytes(bytes));
    }
}

/// `println!` for the CPU driver.
macro_rules! kprintln {
    ($($arg:tt)*) => { $crate::console::print_line(format_args!($($arg)*)) };
}
pub(crate) use kprintln;
