//! `skb facts [--json] FILE.dtb`: the facts the multikernel would read from a device tree.
//!
//! Prints the facts (a table, or one JSON object with `--json`) and exits 0; what was
//! malformed but only left a fact out goes to standard error, one `skb: warning:` line each
//! (and into the JSON's `warnings`). A core whose design the tree does not name has its build
//! "decided from MIDR at boot". Exit statuses
//! (those of every host tool, see `host-cli`): 1 for a tree that cannot be read or parsed, or
//! standard output that cannot be written (`> /dev/full`), each with one line on standard
//! error; 2 for a usage error; 0 and no message when the reader of standard output went away
//! (`skb facts X.dtb | head -1`). `skb --help` and `skb facts --help` print usage.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skb::Skb;

/// The System Knowledge Base's view of a device tree: the cores, their classes and clusters,
/// the CPU-driver build each runs, PSCI, the interrupt controller, timer, console and memory.
#[derive(Parser)]
#[command(name = "skb", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints the facts the multikernel reads from a device tree blob.
    Facts {
        /// One JSON object instead of the table.
        #[arg(long)]
        json: bool,
        /// The flattened device tree (.dtb) to read.
        file: PathBuf,
    },
}

/// The facts as text, and the warnings.
fn facts(file: &PathBuf, json: bool) -> Result<(String, Vec<String>), String> {
    let name = file.display();
    let bytes = std::fs::read(file).map_err(|e| format!("{name}: {e}"))?;
    let skb = Skb::from_dtb(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let warnings = skb.warnings.iter().map(|w| format!("{name}: {w}")).collect();
    Ok((if json { skb::json::facts(&skb) } else { skb::text::facts(&skb) }, warnings))
}

fn main() -> ExitCode {
    let cli: Cli = match host_cli::parse() {
        Ok(cli) => cli,
        Err(status) => return status,
    };
    let Command::Facts { json, file } = &cli.command;
    match facts(file, *json) {
        Ok((text, warnings)) => match host_cli::write_stdout(&format!("{}\n", text.trim_end())) {
            Ok(()) => {
                for warning in warnings {
                    host_cli::errln!("skb: warning: {warning}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => host_cli::output_error("skb", &e),
        },
        Err(e) => {
            host_cli::errln!("skb: {e}");
            ExitCode::FAILURE
        }
    }
}
