//! The `urpc-bench` command line: `--help` on standard output with status 0, usage errors with
//! status 2 before anything is measured, and results that never panic on a full disk (one
//! line, status 1) or a closed pipe (quiet, status 0). The runs here measure one pair with the
//! least work `--iters` allows; they check behaviour, never speed.

use std::path::PathBuf;

use host_cli::testing::{text, Tool};

const BENCH: Tool = Tool::new(env!("CARGO_BIN_EXE_urpc-bench"));

fn run(args: &[&str]) -> std::process::Output {
    BENCH.run(args)
}

fn out_dir(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("urpc-bench-cli-{name}"));
    dir.to_str().expect("a UTF-8 temporary folder").to_owned()
}

#[test]
fn help_goes_to_stdout_with_status_0() {
    for flag in ["--help", "-h"] {
        let stdout = BENCH.help(&[flag]);
        for option in ["Usage: urpc-bench", "--iters <N>", "--cores <LIST>", "--out <DIR>"] {
            assert!(stdout.contains(option), "{flag} lacks {option}: {stdout}");
        }
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

/// A run of one pair (the first two cores this process may use) as `(status, stderr)`; `None`
/// where the machine lets this process run on fewer than two cores.
fn measured(run: (Option<i32>, String)) -> Option<(Option<i32>, String)> {
    if run.1.contains("need at least two cores") {
        eprintln!("skipped: fewer than two cores available");
        return None;
    }
    Some(run)
}

/// The arguments of a run of one pair with the least work, writing into its own folder.
fn one_pair(out: &str) -> [&str; 4] {
    ["--iters", "2000", "--out", out]
}

#[test]
fn a_full_disk_is_one_line_and_status_1() {
    let out = out_dir("full");
    let Some((status, stderr)) = measured(BENCH.run_into_full_disk(&one_pair(&out))) else { return };
    assert_eq!(status, Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|line| !line.starts_with("[urpc-bench]")).collect();
    assert_eq!(errors, ["urpc-bench: cannot write standard output: No space left on device (os error 28)"]);
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_0() {
    let out = out_dir("closed");
    let Some((status, stderr)) = measured(BENCH.run_into_closed_pipe(&one_pair(&out))) else { return };
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stderr.lines().all(|line| line.starts_with("[urpc-bench]")), "{stderr}");
}

#[test]
fn a_run_prints_every_kind_and_the_ring_floor_summary() {
    let out = out_dir("summary");
    let output = run(&one_pair(&out));
    let Some((status, stderr)) = measured((output.status.code(), text(&output.stderr))) else { return };
    assert_eq!(status, Some(0), "{stderr}");
    let stdout = text(&output.stdout);
    for kind in
        ["cacheline", "twolines", "twolines-64", "ring-floor", "ring-floor-64", "urpc", "rtrb", "crossbeam"]
    {
        assert!(
            stdout.lines().any(|line| line.split_whitespace().nth(1) == Some(kind)),
            "no {kind} line: {stdout}"
        );
    }
    let summary =
        stdout.lines().find(|line| line.starts_with("urpc rtt / ring-floor: ")).expect("the summary line");
    // `urpc rtt / ring-floor: p50 <x> (p10 <a>, p90 <b>)`, and the same figures on urpc's line.
    let figures = summary.trim_start_matches("urpc rtt / ring-floor: ");
    let words: Vec<&str> = figures.split_whitespace().take(6).collect();
    assert_eq!((words[0], words[2], words[4]), ("p50", "(p10", "p90"), "{summary}");
    let urpc_line = stdout.lines().find(|line| line.split_whitespace().nth(1) == Some("urpc")).unwrap();
    let same = figures.split(" (per kept round").next().unwrap();
    assert!(urpc_line.ends_with(&format!("/ring-floor {same}")), "{urpc_line} vs {summary}");
}
