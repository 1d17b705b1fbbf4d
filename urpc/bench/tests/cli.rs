//! The `urpc-bench` command line: `--help` on standard output with status 0, usage errors with
//! status 2 before anything is measured, and results that never panic on a full disk (one
//! line, status 1) or a closed pipe (quiet, status 0). The runs here measure one pair with the
//! least work `--iters` allows; they check behaviour, never speed.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bench(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_urpc-bench"));
    command.args(args).stdin(Stdio::null());
    command
}

fn run(args: &[&str]) -> Output {
    bench(args).output().expect("running urpc-bench")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn out_dir(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("urpc-bench-cli-{name}"));
    dir.to_str().expect("a UTF-8 temporary folder").to_owned()
}

#[test]
fn help_goes_to_stdout_with_status_0() {
    for flag in ["--help", "-h"] {
        let output = run(&[flag]);
        assert_eq!(output.status.code(), Some(0), "{flag}: {}", text(&output.stderr));
        let stdout = text(&output.stdout);
        for option in ["Usage: urpc-bench", "--iters <N>", "--cores <LIST>", "--out <DIR>"] {
            assert!(stdout.contains(option), "{flag} lacks {option}: {stdout}");
        }
        assert!(output.stderr.is_empty(), "{flag}: {}", text(&output.stderr));
    }
}

#[test]
fn usage_errors_exit_2_before_measuring() {
    let cases: [(&[&str], &str); 8] = [
        (&["--nosuch"], "--nosuch"),
        (&["--iters"], "--iters"),
        (&["--iters", "abc"], "not a whole number"),
        (&["--iters", "99999999999999999999999"], "too large"),
        (&["--iters", "5"], "at least 2000"),
        (&["--cores", "0-x"], "bad core list entry"),
        (&["--cores", "3-1"], "runs backwards"),
        (&["extra"], "extra"),
    ];
    for (args, message) in cases {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "urpc-bench {args:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(message), "urpc-bench {args:?}: {stderr}");
        assert!(!stderr.contains("[urpc-bench]"), "urpc-bench {args:?} started measuring: {stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn a_core_that_is_not_available_is_status_2() {
    let output = run(&["--cores", "0,100000", "--iters", "2000"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("core 100000 is not available"), "{}", text(&output.stderr));
}

/// Runs one pair (the first two cores this process may use) with standard output going to
/// `stdout`; `None` where the machine lets this process run on fewer than two cores.
fn measure_into(name: &str, stdout: impl Into<Stdio>) -> Option<(Option<i32>, String)> {
    let output = bench(&["--iters", "2000", "--out", &out_dir(name)])
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("running urpc-bench");
    let stderr = text(&output.stderr);
    if stderr.contains("need at least two cores") {
        eprintln!("skipped: fewer than two cores available");
        return None;
    }
    Some((output.status.code(), stderr))
}

#[test]
fn a_full_disk_is_one_line_and_status_1() {
    let full = File::options().write(true).open("/dev/full").expect("/dev/full");
    let Some((status, stderr)) = measure_into("full", full) else { return };
    assert_eq!(status, Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|line| !line.starts_with("[urpc-bench]")).collect();
    assert_eq!(errors, ["urpc-bench: cannot write standard output: No space left on device (os error 28)"]);
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_0() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let Some((status, stderr)) = measure_into("closed", writer) else { return };
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stderr.lines().all(|line| line.starts_with("[urpc-bench]")), "{stderr}");
}
