//! `latency-report CONSOLE.log OUT_DIR`: the benchmark's console as `latency.csv` (one row per
//! ordered pair, with its status) and `latency-heatmap.svg` (p50, p99, the cache-line limit and
//! p50 over the limit per ordered pair, failed pairs marked), a summary on stderr, and a
//! non-zero exit status when any pair failed or is missing.

use std::process::ExitCode;

/// Writes the report; `Ok(false)` when it is written but the run's figures are incomplete.
fn run() -> Result<bool, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [log, out] = args.as_slice() else {
        return Err("usage: latency-report CONSOLE.log OUT_DIR".into());
    };
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
    match run() {
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
