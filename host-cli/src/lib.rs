//! What the project's host command-line tools (`skb`, `latency-report`, `urpc-bench`) do the
//! same way: parse their arguments with clap, write their output without ever panicking, and
//! end with the same exit statuses.
//!
//! Principles:
//!
//! - **Help is output, errors are diagnostics.** `--help` / `-h` print usage on standard
//!   output and exit 0; a usage error prints one message and a hint on standard error and
//!   exits 2 ([`parse`]).
//! - **No panic on output.** `println!` panics when a write fails (a closed pipe, a full
//!   disk). The tools write through a locked `stdout` with `write!` instead ([`outln!`],
//!   [`write_stdout`]) and turn a failed write into an exit status ([`output_error`]);
//!   diagnostics go through [`errln!`], which ignores a failed write to standard error
//!   (there is nowhere left to report it).
//! - **One table of exit statuses** for every tool:
//!   - `0`: success, and also when the reader of standard output went away
//!     (`skb facts X.dtb | head -1`): the tool stops quietly, as ripgrep does, so a pipeline
//!     under `set -o pipefail` is not failed by a reader that had what it wanted;
//!   - `1`: the work failed, or standard output could not be written for any other reason
//!     (`> /dev/full` prints the one line `TOOL: cannot write standard output: ...`);
//!   - `2`: a usage error.
#![forbid(unsafe_code)]

#[cfg(feature = "testing")]
pub mod testing;

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

/// The exit status of a usage error (clap's own choice, kept by every tool).
pub const USAGE_ERROR: u8 = 2;

/// Parses the process's command line into `P`. On `--help`, `-h` or `--version` the text goes
/// to standard output and the result is `Err(0)`; on a usage error the message goes to
/// standard error and the result is `Err(2)`. The caller returns the `Err` value from `main`.
pub fn parse<P: clap::Parser>() -> Result<P, ExitCode> {
    parse_from(std::env::args_os())
}

/// [`parse`] over the given arguments (the first is the program name).
pub fn parse_from<P, I, T>(args: I) -> Result<P, ExitCode>
where
    P: clap::Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    P::try_parse_from(args).map_err(|error| {
        // 0 for help and version (printed on stdout), 2 for usage errors (printed on stderr).
        let status = u8::try_from(error.exit_code()).unwrap_or(USAGE_ERROR);
        match error.print().and_then(|()| io::stdout().lock().flush()) {
            Err(write_error) if status == 0 => output_error(P::command().get_name(), &write_error),
            _ => ExitCode::from(status),
        }
    })
}

/// Writes `text` to standard output (locked, then flushed) and returns whether that worked.
pub fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes one formatted line to `out` and flushes it.
pub fn write_line(out: &mut impl Write, args: fmt::Arguments<'_>) -> io::Result<()> {
    out.write_fmt(args)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// The exit status, and the one line for standard error if any, after writing standard
/// output failed with `error`: quietly 0 for a closed pipe, else 1 with a message.
pub fn output_failure(tool: &str, error: &io::Error) -> (u8, Option<String>) {
    if error.kind() == io::ErrorKind::BrokenPipe {
        (0, None)
    } else {
        (1, Some(format!("{tool}: cannot write standard output: {error}")))
    }
}

/// [`output_failure`] as the status for `main` to return, the message already printed.
pub fn output_error(tool: &str, error: &io::Error) -> ExitCode {
    let (status, message) = output_failure(tool, error);
    if let Some(message) = message {
        eprint_line(format_args!("{message}"));
    }
    ExitCode::from(status)
}

/// Ends the process as [`output_failure`] says (for output written deep inside a tool).
pub fn exit_after_output_error(tool: &str, error: &io::Error) -> ! {
    let (status, message) = output_failure(tool, error);
    if let Some(message) = message {
        eprint_line(format_args!("{message}"));
    }
    std::process::exit(status.into())
}

/// Writes one line to standard output; if that fails, ends the process as
/// [`exit_after_output_error`] does. What [`outln!`] calls.
pub fn print_line(tool: &str, args: fmt::Arguments<'_>) {
    if let Err(error) = write_line(&mut io::stdout().lock(), args) {
        exit_after_output_error(tool, &error);
    }
}

/// Writes one line to standard error, ignoring a failure. What [`errln!`] calls.
pub fn eprint_line(args: fmt::Arguments<'_>) {
    let _ = write_line(&mut io::stderr().lock(), args);
}

/// `println!` for the project's tools: one line on standard output; a closed pipe ends the
/// program quietly with status 0, any other write error with one line on standard error and
/// status 1. Use it in binaries only (it names the tool by `CARGO_BIN_NAME`).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::print_line(env!("CARGO_BIN_NAME"), format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::print_line(env!("CARGO_BIN_NAME"), format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics: a failed write to standard error is ignored.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::eprint_line(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose every write fails with one error.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_a_quiet_success() {
        let error = write_line(&mut Failing(io::ErrorKind::BrokenPipe), format_args!("x")).unwrap_err();
        assert_eq!(output_failure("tool", &error), (0, None));
    }

    #[test]
    fn a_full_disk_is_one_line_and_status_1() {
        let error = io::Error::from_raw_os_error(28); // ENOSPC on Linux
        let (status, message) = output_failure("tool", &error);
        assert_eq!(status, 1);
        let message = message.unwrap();
        assert!(message.starts_with("tool: cannot write standard output: "), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn lines_end_in_a_newline() {
        let mut out = Vec::new();
        write_line(&mut out, format_args!("a {}", 1)).unwrap();
        assert_eq!(out, b"a 1\n");
    }

    #[derive(clap::Parser, Debug)]
    #[command(name = "example")]
    struct Example {
        #[arg(long)]
        count: u32,
    }

    #[test]
    fn parse_reads_arguments() {
        let parsed: Example = parse_from(["example", "--count", "3"]).unwrap();
        assert_eq!(parsed.count, 3);
    }

    #[test]
    fn clap_says_2_for_usage_errors_and_0_for_help() {
        use clap::Parser;
        let status = |args: &[&str]| Example::try_parse_from(args).unwrap_err().exit_code();
        assert_eq!(status(&["example", "--count", "x"]), i32::from(USAGE_ERROR));
        assert_eq!(status(&["example", "--nosuch"]), i32::from(USAGE_ERROR));
        assert_eq!(status(&["example", "--help"]), 0);
        assert_eq!(status(&["example", "-h"]), 0);
    }
}
