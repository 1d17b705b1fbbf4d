//! The `latency-report` tool end to end: a console log with a failed pair gives a CSV with a
//! `failed` row, a figure with the failure marked, and a non-zero exit status; a complete log
//! exits 0; a board's serial capture of it (CR LF, timestamps) gives the same report.

use std::path::PathBuf;
use std::process::Command;

const FAILED_RUN: &str = "\
latency machine: counter_hz=62500000 clusters=0,0,1 model=test
latency benchmark: 6 ordered pairs, 100 round trips each, at EL0 over URPC
latency 0-1 class=little-little p50_ns=1600 p99_ns=2400 limit_ns=1200
latency 0-2 class=little-big p50_ns=1700 p99_ns=2500 limit_ns=1250
latency 1-0 class=little-little p50_ns=1650 p99_ns=2450 limit_ns=1220
latency 1-2 class=little-big failed: no-pong (the echoing core answered no ping within 2 s)
latency 2-0 class=big-little p50_ns=1680 p99_ns=2480 limit_ns=1230
latency 2-1 class=big-little p50_ns=1690 p99_ns=2490 limit_ns=1240
";

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn report(dir: &PathBuf, log: &str) -> (std::process::ExitStatus, String) {
    let console = dir.join("console.log");
    std::fs::write(&console, log).expect("console log");
    let output = Command::new(env!("CARGO_BIN_EXE_latency-report"))
        .arg(&console)
        .arg(dir)
        .output()
        .expect("latency-report runs");
    (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_failed_pair_fails_the_report_but_the_files_are_written() {
    let dir = scratch("failed-run");
    let (status, stderr) = report(&dir, FAILED_RUN);
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("pair 1-2 failed: no-pong"), "{stderr}");
    assert!(stderr.contains("failed: 1 pairs, left out above: 1-2"), "{stderr}");
    let csv = std::fs::read_to_string(dir.join("latency.csv")).expect("CSV written");
    assert!(csv.lines().any(|line| line == "1,2,little,big,failed,,,,,no-pong"), "{csv}");
    assert_eq!(csv.lines().filter(|line| line.contains(",ok,")).count(), 5);
    let svg = std::fs::read_to_string(dir.join("latency-heatmap.svg")).expect("SVG written");
    assert!(svg.contains("1-2: failed, no-pong") && svg.contains("failed: no measurement"));
}

#[test]
fn a_complete_run_exits_zero() {
    let dir = scratch("complete-run");
    let complete = FAILED_RUN.replace(
        "latency 1-2 class=little-big failed: no-pong (the echoing core answered no ping within 2 s)",
        "latency 1-2 class=little-big p50_ns=1700 p99_ns=2500 limit_ns=1250",
    );
    let (status, stderr) = report(&dir, &complete);
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("6 of 6 ordered pairs measured"), "{stderr}");
}

/// What a terminal program or `ts` puts before line `i` of a capture.
type Stamp = fn(usize) -> String;

/// The complete run as a terminal program records a board's serial line: U-Boot's lines
/// first, CR LF line ends, and a timestamp before every line in the form `stamp` gives.
fn serial_capture(stamp: Stamp) -> String {
    let complete = complete_run();
    let lines = ["U-Boot 2025.01 (Jan 01 2025 - 00:00:00 +0000)", "Starting kernel ...", ""]
        .into_iter()
        .chain(complete.lines());
    lines.enumerate().map(|(i, line)| format!("{}{line}\r\n", stamp(i))).collect()
}

fn complete_run() -> String {
    FAILED_RUN.replace(
        "latency 1-2 class=little-big failed: no-pong (the echoing core answered no ping within 2 s)",
        "latency 1-2 class=little-big p50_ns=1700 p99_ns=2500 limit_ns=1250",
    )
}

#[test]
fn a_board_serial_capture_gives_the_same_report_as_the_plain_log() {
    let plain = scratch("capture-plain");
    let (status, stderr) = report(&plain, &complete_run());
    assert!(status.success(), "{stderr}");
    let expected_csv = std::fs::read_to_string(plain.join("latency.csv")).expect("CSV written");
    let captures: [(&str, Stamp); 5] = [
        ("crlf", |_| String::new()),
        ("ts", |i| format!("Nov 27 14:39:{:02} ", 40 + i)),
        ("ts-incremental", |i| format!("00:00:00.{:06} ", 120 * i)),
        ("tio", |i| format!("\x1b[1m[14:39:{:02}.{:03}]\x1b[0m ", 40 + i, 7 * i)),
        ("minicom", |i| format!("[2026-11-27 14:39:{:02}] ", 40 + i)),
    ];
    for (name, stamp) in captures {
        let dir = scratch(&format!("capture-{name}"));
        let (status, stderr) = report(&dir, &serial_capture(stamp));
        assert!(status.success(), "{name}: {stderr}");
        assert!(stderr.contains("6 of 6 ordered pairs measured"), "{name}: {stderr}");
        let csv = std::fs::read_to_string(dir.join("latency.csv")).expect("CSV written");
        assert_eq!(csv, expected_csv, "{name}: the capture must read as the plain log does");
        let svg = std::fs::read_to_string(dir.join("latency-heatmap.svg")).expect("SVG written");
        assert!(
            !svg.contains("no `latency machine:` line"),
            "{name}: the machine line (model=test) must be read too"
        );
    }
}
