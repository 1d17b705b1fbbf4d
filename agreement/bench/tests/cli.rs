//! The `agreement-bench` command line: `--help` on standard output with status 0, usage
//! errors with status 2 before anything runs, and a short run over 2 to 4 cores (threads share
//! host cores where the host has fewer) that checks every core committed every round and
//! prints a line per core count and strategy, a CSV and a plot. Behaviour only, never speed.

use std::path::PathBuf;

use host_cli::testing::{text, Tool};

const BENCH: Tool = Tool::new(env!("CARGO_BIN_EXE_agreement-bench"));

fn out_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("agreement-bench-cli-{name}"))
}

#[test]
fn help_goes_to_stdout_with_status_0() {
    for flag in ["--help", "-h"] {
        let stdout = BENCH.help(&[flag]);
        for option in
            ["Usage: agreement-bench", "--cores <N>", "--rounds <R>", "--cluster-size <N>", "--out <DIR>"]
        {
            assert!(stdout.contains(option), "{flag} lacks {option}: {stdout}");
        }
    }
}

#[test]
fn usage_errors_exit_2_before_measuring() {
    let cases: [(&[&str], &str); 9] = [
        (&["--nosuch"], "--nosuch"),
        (&["--cores"], "--cores"),
        (&["--cores", "1"], "at least 2"),
        (&["--cores", "257"], "at most 256"),
        (&["--cores", "-3"], "-3"),
        (&["--rounds", "9"], "at least 10"),
        (&["--rounds", "99999999999999999999999"], "too large"),
        (&["--cluster-size", "0"], "at least 1"),
        (&["extra"], "extra"),
    ];
    for (args, message) in cases {
        let output = BENCH.run(args);
        assert_eq!(output.status.code(), Some(2), "agreement-bench {args:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(message), "agreement-bench {args:?}: {stderr}");
        assert!(!stderr.contains("[agreement-bench]"), "agreement-bench {args:?} started: {stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn a_short_run_checks_every_round_and_reports_every_strategy_and_core_count() {
    let out = out_dir("smoke");
    let _ = std::fs::remove_dir_all(&out);
    let output =
        BENCH.run(&["--cores", "4", "--rounds", "20", "--cluster-size", "2", "--out", out.to_str().unwrap()]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    for cores in 2..=4 {
        let checked = format!("checked cores={cores}: 22 rounds each of unicast, broadcast and tree prepared and committed on every core");
        assert!(stdout.contains(&checked), "{stdout}");
        for strategy in ["unicast", "broadcast", "tree", "lock"] {
            let prefix = format!("agreement cores={cores} strategy={strategy} p50_ns=");
            let line = stdout
                .lines()
                .find(|line| line.starts_with(&prefix))
                .unwrap_or_else(|| panic!("{prefix}: {stdout}"));
            assert!(line.contains(" p99_ns=") && line.contains(" p50/unicast="), "{line}");
        }
    }
    // Clusters of two: core 0 serves core 1, core 2 represents cores 2 and 3.
    assert!(
        stdout.contains("multicast tree cores=4 (clusters of 2 (--cluster-size)): 0->2 0->1 2->3"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("agreement.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 4, "{csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("2,unicast,20,"), "{csv}");
    let svg = std::fs::read_to_string(out.join("agreement.svg")).unwrap();
    assert_eq!(svg.matches(r#"class="series""#).count(), 4);
}

#[test]
fn a_folder_that_cannot_be_written_is_status_1() {
    let blocker = out_dir("blocked");
    std::fs::write(&blocker, "a file, not a folder").unwrap();
    let output =
        BENCH.run(&["--cores", "2", "--rounds", "10", "--out", blocker.join("sub").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("agreement-bench: cannot write to"), "{}", text(&output.stderr));
}
