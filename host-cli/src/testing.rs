//! Running a host tool as a user does, for the tools' command-line tests (feature `testing`):
//! with its standard output on a terminal-less pipe, on a full disk (`/dev/full`) or on a pipe
//! whose reader is already gone.

use std::fs::File;
use std::process::{Command, Output, Stdio};

/// A built host tool, named by the path cargo gives tests (`env!("CARGO_BIN_EXE_<name>")`).
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    /// The path of the executable.
    pub path: &'static str,
}

impl Tool {
    /// The tool at `path`.
    pub const fn new(path: &'static str) -> Self {
        Self { path }
    }

    /// A command running the tool with `args` and nothing on standard input.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.path);
        command.args(args).stdin(Stdio::null());
        command
    }

    /// Runs the tool to its end, collecting both outputs.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap_or_else(|e| panic!("running {}: {e}", self.path))
    }

    /// Runs the tool for its help (`args` ending in `--help` or `-h`), asserts the contract of
    /// every host tool (status 0, usage on standard output, nothing on standard error) and
    /// returns what it printed.
    pub fn help(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(0), "{} {args:?}: {stderr}", self.path);
        assert!(stdout.contains("Usage: "), "{} {args:?} printed {stdout:?}", self.path);
        assert!(stderr.is_empty(), "{} {args:?} wrote to stderr: {stderr}", self.path);
        stdout
    }

    /// Runs the tool with standard output going to `stdout`; returns its status and what it
    /// wrote to standard error.
    pub fn run_into(&self, args: &[&str], stdout: impl Into<Stdio>) -> (Option<i32>, String) {
        let output = self
            .command(args)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.path));
        (output.status.code(), text(&output.stderr))
    }

    /// [`Tool::run_into`] with standard output on a full disk.
    pub fn run_into_full_disk(&self, args: &[&str]) -> (Option<i32>, String) {
        let full = File::options().write(true).open("/dev/full").expect("/dev/full");
        self.run_into(args, full)
    }

    /// [`Tool::run_into`] with standard output on a pipe whose reading end is closed before
    /// the tool starts, so its first write fails with `EPIPE`.
    pub fn run_into_closed_pipe(&self, args: &[&str]) -> (Option<i32>, String) {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        self.run_into(args, writer)
    }
}

/// Bytes a tool wrote, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
