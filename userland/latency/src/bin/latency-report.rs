//! `latency-report CONSOLE.log OUT_DIR`: the benchmark's result lines as `latency.csv` and
//! `latency-p50.svg` (a heatmap of p50 per ordered core pair, classes on the axes).
//!
//! Exit statuses are those of every host tool (`host-cli`): 2 for a usage error, 1 for a
//! failure (one line on standard error); `--help` prints usage on standard output.

use std::process::ExitCode;

use clap::Parser;

// `println!` and `eprintln!` in this file are host-cli's, which never panic: a closed pipe
// ends the program quietly (status 0), a full disk with one line and status 1, and a failed
// write to standard error is ignored. The std macros panic on any failed write.
#[allow(unused_macros, reason = "in place so that no line ever printed here can panic")]
macro_rules! println {
    ($($arg:tt)*) => { host_cli::outln!($($arg)*) };
}
macro_rules! eprintln {
    ($($arg:tt)*) => { host_cli::errln!($($arg)*) };
}

/// Turns the console log of `scripts/run bench` into latency.csv and latency-p50.svg (a
/// heatmap of the p50 round trip per ordered core pair, each core's class on the axes).
#[derive(Parser)]
#[command(name = "latency-report")]
struct Args {
    /// The benchmark's console log (build/bench/console.log).
    log: String,
    /// The folder to write latency.csv and latency-p50.svg into (made if missing).
    out: String,
}

fn run(Args { log, out }: &Args) -> Result<(), String> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("{log}: {e}"))?;
    let results = latency::parse_log(&text);
    if results.is_empty() {
        return Err(format!("{log}: no `latency <a>-<b> ...` result lines"));
    }
    let (expected, missing) = latency::coverage(&results);
    std::fs::create_dir_all(out).map_err(|e| format!("{out}: {e}"))?;
    let csv_path = format!("{out}/latency.csv");
    let svg_path = format!("{out}/latency-p50.svg");
    std::fs::write(&csv_path, latency::csv(&results)).map_err(|e| format!("{csv_path}: {e}"))?;
    let title = format!("URPC round trip p50 (ns) between EL0 dispatchers, {} ordered pairs", results.len());
    std::fs::write(&svg_path, latency::heatmap_svg(&results, &title))
        .map_err(|e| format!("{svg_path}: {e}"))?;
    eprintln!(
        "latency-report: {} of {expected} ordered pairs ({missing} missing) -> {csv_path}, {svg_path}",
        results.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match host_cli::parse() {
        Ok(args) => args,
        Err(status) => return status,
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latency-report: {e}");
            ExitCode::FAILURE
        }
    }
}
