//! Console output for EL0 programs: whole lines, formatted in a buffer and written with one
//! system call, which the kernel puts into its console log ring as one line, so it never
//! interleaves with other cores' output.

use core::fmt::{self, Write};

use syscall_abi::Call;

const LINE: usize = 200;

struct Line {
    bytes: [u8; LINE],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let take = s.len().min(LINE - 1 - self.len);
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// Prints one line.
pub fn print_line(args: fmt::Arguments<'_>) {
    let mut line = Line { bytes: [0; LINE], len: 0 };
    let _ = line.write_fmt(args);
    crate::syscall(Call::ConsoleWrite, [line.bytes.as_ptr() as u64, line.len as u64, 0, 0]);
}

/// `println!` for EL0 programs.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => { $crate::console::print_line(format_args!($($arg)*)) };
}
