//! `latency-report CONSOLE.log OUT_DIR`: the benchmark's result lines as `latency.csv` and
//! `latency-p50.svg` (a heatmap of p50 per ordered core pair, classes on the axes).

use std::process::ExitCode;

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [log, out] = args.as_slice() else {
        return Err("usage: latency-report CONSOLE.log OUT_DIR".into());
    };
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
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latency-report: {e}");
            ExitCode::FAILURE
        }
    }
}
