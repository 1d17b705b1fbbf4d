//! The `latency-report` command line: `--help` on standard output with status 0, usage errors
//! with status 2, failures as one line with status 1, and no panic when standard output or
//! standard error cannot be written.

use std::fs::File;
use std::path::PathBuf;

use host_cli::testing::{text, Tool};

const REPORT: Tool = Tool::new(env!("CARGO_BIN_EXE_latency-report"));

fn run(args: &[&str]) -> std::process::Output {
    REPORT.run(args)
}

/// A fresh folder for one test under cargo's temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("latency-cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

#[test]
fn help_goes_to_stdout_with_status_0() {
    for flag in ["--help", "-h"] {
        let stdout = REPORT.help(&[flag]);
        assert!(stdout.contains("Usage: latency-report <LOG> <OUT>"), "{flag}: {stdout}");
    }
}

#[test]
fn usage_errors_exit_2_with_a_message_on_stderr() {
    for args in [&[][..], &["only-one"], &["a", "b", "c"], &["--nosuch", "a", "b"]] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "latency-report {args:?}");
        assert!(output.stdout.is_empty());
        assert!(text(&output.stderr).contains("Usage: latency-report"), "{}", text(&output.stderr));
    }
}

#[test]
fn a_missing_log_is_one_line_and_status_1() {
    let out = scratch("missing");
    let output = run(&["/nonexistent/console.log", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("latency-report: /nonexistent/console.log: "), "{stderr}");
}

#[test]
fn a_log_without_results_is_one_line_and_status_1() {
    let dir = scratch("empty");
    let log = dir.join("console.log");
    std::fs::write(&log, "all 6 cores up in 187924 us\n").unwrap();
    let output = run(&[log.to_str().unwrap(), dir.join("out").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stderr).lines().count(), 1, "{}", text(&output.stderr));
}

#[test]
fn a_full_standard_error_or_output_does_not_panic() {
    // Nothing to report on a full stderr: the status alone tells the failure.
    let out = scratch("stderr-full");
    let full = File::options().write(true).open("/dev/full").expect("/dev/full");
    let status = REPORT
        .command(&["/nonexistent/console.log", out.to_str().unwrap()])
        .stderr(full)
        .status()
        .expect("running latency-report");
    assert_eq!(status.code(), Some(1));

    let (status, stderr) = REPORT.run_into_full_disk(&["--help"]);
    assert_eq!(status, Some(1));
    assert_eq!(
        stderr,
        "latency-report: cannot write standard output: No space left on device (os error 28)\n"
    );
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_0() {
    let (status, stderr) = REPORT.run_into_closed_pipe(&["--help"]);
    assert_eq!(status, Some(0));
    assert_eq!(stderr, "");
}
