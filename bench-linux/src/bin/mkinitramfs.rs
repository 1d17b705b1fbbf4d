//! `mkinitramfs --init PROGRAM OUT.cpio`: an initial RAM file system for `scripts/bench linux`
//! whose `/init` is PROGRAM, with `/dev/console` and `/dev/null` (the kernel opens the console
//! for init's standard streams) and empty `/proc`, `/sys` and `/tmp`. Written without root.
//!
//! Exit statuses are those of every host tool (`host-cli`): 2 for a usage error, 1 for a
//! failure (one line on standard error).

use std::process::ExitCode;

use bench_linux::newc::Archive;
use clap::Parser;

/// Writes a newc cpio archive whose /init is PROGRAM, with /dev/console and /dev/null.
#[derive(Parser)]
#[command(name = "mkinitramfs")]
struct Args {
    /// The program to run as /init (a static executable for the guest).
    #[arg(long)]
    init: String,
    /// Where to write the archive.
    out: String,
}

fn build(init: &[u8]) -> Result<Vec<u8>, bench_linux::newc::NewcError> {
    let mut archive = Archive::new();
    for dir in ["dev", "proc", "sys", "tmp"] {
        archive.directory(dir, 0o755)?;
    }
    archive.char_device("dev/console", 0o600, 5, 1)?;
    archive.char_device("dev/null", 0o666, 1, 3)?;
    archive.file("init", 0o755, init)?;
    Ok(archive.finish())
}

fn run(Args { init, out }: &Args) -> Result<(), String> {
    let program = std::fs::read(init).map_err(|e| format!("{init}: {e}"))?;
    if !program.starts_with(b"\x7fELF") {
        return Err(format!("{init}: not an ELF executable"));
    }
    let archive = build(&program).map_err(|e| e.to_string())?;
    std::fs::write(out, archive).map_err(|e| format!("{out}: {e}"))
}

fn main() -> ExitCode {
    let args = match host_cli::parse() {
        Ok(args) => args,
        Err(status) => return status,
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            host_cli::errln!("mkinitramfs: {e}");
            ExitCode::FAILURE
        }
    }
}
