//! `linux-report LINUX_CONSOLE OUT_DIR [--multikernel CONSOLE]`: the Linux run's console (and
//! the multikernel's `scripts/run bench` console of the same invocation) side by side:
//! `OUT_DIR/linux.csv`, one line per ordered pair and the goals on standard output, problems
//! on standard error, and a non-zero exit status when either run is incomplete (a failed or
//! missing pair, a line that does not parse, an implausible figure). A goal missed is reported,
//! never a failure.
//!
//! Exit statuses are those of every host tool (`host-cli`): 2 for a usage error, 1 for a
//! failure or an incomplete run; `--help` prints usage on standard output. Every line goes out
//! through host-cli's `outln!`/`errln!`, which never panic (a closed pipe ends the tool
//! quietly, a full disk is one line and status 1).

use std::process::ExitCode;

use bench_linux::compare::Comparison;
use bench_linux::linux::LinuxRun;
use clap::Parser;

/// Puts the Linux ping-pong run beside the multikernel's latency benchmark, pair by pair:
/// writes OUT_DIR/linux.csv and prints the comparison and the goals. Exits 1 when either run
/// is incomplete.
#[derive(Parser)]
#[command(name = "linux-report")]
struct Args {
    /// The Linux run's console log (build/bench/linux-console.log).
    linux: String,
    /// The folder to write linux.csv into (made if missing).
    out: String,
    /// The multikernel's console log from `scripts/run bench` (build/bench/console.log);
    /// without it the report covers Linux alone.
    #[arg(long)]
    multikernel: Option<String>,
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

/// Writes the report; `Ok(false)` when it is written but a run is incomplete.
fn run(args: &Args) -> Result<bool, String> {
    let linux = LinuxRun::from_log(&read(&args.linux)?);
    let multikernel_log = args.multikernel.as_deref().map(read).transpose()?;
    let multikernel = match (&args.multikernel, &multikernel_log) {
        (Some(path), Some(log)) => Some((path, latency::Report::from_log(log))),
        _ => None,
    };
    let comparison = Comparison::new(&linux, multikernel.as_ref().map(|(_, report)| report))
        .with_kernel_lines(multikernel_log.as_deref().unwrap_or(""));
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out))?;
    let csv_path = format!("{}/linux.csv", args.out);
    std::fs::write(&csv_path, comparison.csv()).map_err(|e| format!("{csv_path}: {e}"))?;

    host_cli::outln!("{} ({})", linux.describe(), args.linux);
    if let Some((path, report)) = &multikernel {
        let rounds = report.run.rounds.map_or_else(|| "?".into(), |r| r.to_string());
        host_cli::outln!("multikernel: EL0 latency benchmark, {rounds} round trips per pair ({path})");
        host_cli::outln!("per pair: Linux vs multikernel, ratio = multikernel / Linux (below 1: the multikernel is faster)");
    }
    for line in comparison.lines() {
        host_cli::outln!("{line}");
    }
    for line in comparison.summary().into_iter().chain(comparison.kernel_summary()) {
        host_cli::outln!("{line}");
    }
    let mut problems: Vec<String> = linux.problems().into_iter().map(|p| format!("linux: {p}")).collect();
    if let Some((_, report)) = &multikernel {
        problems.extend(report.problems().into_iter().map(|p| format!("multikernel: {p}")));
    }
    for problem in &problems {
        host_cli::errln!("linux-report: {problem}");
    }
    host_cli::errln!("linux-report: {} pairs -> {csv_path}", comparison.rows.len());
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
            host_cli::errln!(
                "linux-report: a run is incomplete (see above); the figures cover the pairs measured"
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            host_cli::errln!("linux-report: {e}");
            ExitCode::FAILURE
        }
    }
}
