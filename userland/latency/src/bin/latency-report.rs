//! `latency-report CONSOLE.log OUT_DIR`: the benchmark's console as `latency.csv` (one row per
//! ordered pair, with its status) and `latency-heatmap.svg` (p50, p99, the cache-line limit and
//! p50 over the limit per ordered pair, failed pairs marked), a summary on stderr, and a
//! non-zero exit status when any pair failed or is missing.
//!
//! Exit statuses are those of every host tool (`host-cli`): 2 for a usage error, 1 for a
//! failure or an incomplete run (one line on standard error); `--help` prints usage on
//! standard output.

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

/// Turns the console log of `scripts/run bench` into latency.csv (a row per ordered pair, with
/// its status) and latency-heatmap.svg (p50, p99, the cache-line limit and p50 over the limit
/// per ordered pair, failed pairs marked). Exits 1 when any pair failed or is missing.
#[derive(Parser)]
#[command(name = "latency-report")]
struct Args {
    /// The benchmark's console log (build/bench/console.log).
    log: String,
    /// The folder to write latency.csv and latency-heatmap.svg into (made if missing).
    out: String,
}

/// Writes the report; `Ok(false)` when it is written but the run's figures are incomplete.
fn run(Args { log, out }: &Args) -> Result<bool, String> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("{log}: {e}"))?;
    let report = latency::Report::from_log(&text);
    if report.pairs.is_empty() {
        return Err(format!("{log}: no `latency <a>-<b> ...` result lines"));
    }
    let made = [format!(
        "report made {} from {log}; {}",
        bench_report::host::utc_now(),
        bench_report::host::describe()
    )];
    std::fs::create_dir_all(out).map_err(|e| format!("{out}: {e}"))?;
    let csv_path = format!("{out}/latency.csv");
    let svg_path = format!("{out}/latency-heatmap.svg");
    std::fs::write(&csv_path, report.csv()).map_err(|e| format!("{csv_path}: {e}"))?;
    std::fs::write(&svg_path, report.svg(&made)).map_err(|e| format!("{svg_path}: {e}"))?;
    for line in report.summary() {
        eprintln!("latency-report: {line}");
    }
    let problems = report.problems();
    for problem in &problems {
        eprintln!("latency-report: {problem}");
    }
    eprintln!(
        "latency-report: {} of {} ordered pairs measured -> {csv_path}, {svg_path}",
        report.measured().count(),
        report.pairs.len()
    );
    Ok(problems.is_empty())
}

fn main() -> ExitCode {
    let args = match host_cli::parse() {
        Ok(args) => args,
        Err(status) => return status,
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("latency-report: the run is incomplete (see above); its figures cover the measured pairs only");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("latency-report: {e}");
            ExitCode::FAILURE
        }
    }
}
