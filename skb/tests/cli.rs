//! The `skb` command line as a user meets it: `--help` on standard output with status 0, usage
//! errors with status 2, a bad tree with one line and status 1, and output that never panics
//! (a full disk is one line and status 1, a closed pipe a quiet status 0).

use host_cli::testing::{text, Tool};

const TREE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/qemu-virt-gicv3.dtb");

const SKB: Tool = Tool::new(env!("CARGO_BIN_EXE_skb"));

fn run(args: &[&str]) -> std::process::Output {
    SKB.run(args)
}

#[test]
fn help_goes_to_stdout_with_status_0() {
    for args in [&["--help"][..], &["-h"], &["facts", "--help"], &["facts", "-h"], &["help", "facts"]] {
        assert!(SKB.help(args).contains("Usage: skb"), "skb {args:?}");
    }
    assert!(SKB.help(&["--help"]).contains("facts"));
    assert!(SKB.help(&["facts", "--help"]).contains("--json"));
}

#[test]
fn usage_errors_exit_2_with_a_message_on_stderr() {
    for args in [&[][..], &["nosuch"], &["facts"], &["facts", "--jsn", TREE], &["facts", TREE, "extra"]] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "skb {args:?}");
        assert!(output.stdout.is_empty(), "skb {args:?} printed {}", text(&output.stdout));
        assert!(text(&output.stderr).contains("Usage: skb"), "skb {args:?}: {}", text(&output.stderr));
    }
}

#[test]
fn facts_print_a_table_or_json() {
    let table = run(&["facts", TREE]);
    assert_eq!(table.status.code(), Some(0));
    assert!(text(&table.stdout).contains("interrupt controller: GICv3"));
    for args in [["facts", "--json", TREE], ["facts", TREE, "--json"]] {
        let json = run(&args);
        assert_eq!(json.status.code(), Some(0));
        assert!(text(&json.stdout).starts_with('{'), "{}", text(&json.stdout));
    }
}

#[test]
fn a_missing_or_bad_tree_is_one_line_and_status_1() {
    let missing = run(&["facts", "/nonexistent/x.dtb"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(text(&missing.stderr).lines().count(), 1, "{}", text(&missing.stderr));
    assert!(text(&missing.stderr).starts_with("skb: /nonexistent/x.dtb: "));
    let not_a_tree = run(&["facts", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")]);
    assert_eq!(not_a_tree.status.code(), Some(1));
    assert_eq!(text(&not_a_tree.stderr).lines().count(), 1, "{}", text(&not_a_tree.stderr));
}

#[test]
fn a_full_disk_is_one_line_and_status_1() {
    for args in [&["facts", TREE][..], &["facts", "--json", TREE], &["--help"]] {
        let (status, stderr) = SKB.run_into_full_disk(args);
        assert_eq!(status, Some(1), "skb {args:?} > /dev/full: {stderr}");
        assert_eq!(stderr, "skb: cannot write standard output: No space left on device (os error 28)\n");
    }
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_0() {
    for args in [&["facts", TREE][..], &["facts", "--json", TREE], &["--help"]] {
        let (status, stderr) = SKB.run_into_closed_pipe(args);
        assert_eq!(status, Some(0), "skb {args:?} | (closed): {stderr}");
        assert_eq!(stderr, "", "skb {args:?} | (closed)");
    }
}

#[test]
fn warnings_go_to_stderr_and_the_facts_still_print_with_status_0() {
    let tree = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/synthetic/psci-without-method.dtb");
    for args in [&["facts", tree][..], &["facts", "--json", tree]] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(0), "skb {args:?}");
        let stderr = text(&output.stderr);
        assert_eq!(stderr.lines().count(), 3, "{stderr}");
        assert!(stderr
            .lines()
            .all(|l| l.starts_with("skb: warning: ") && l.contains("psci-without-method.dtb: ")));
        assert!(stderr.contains("/psci: property method is missing; no PSCI"), "{stderr}");
    }
    let table = text(&run(&["facts", tree]).stdout);
    assert!(table.contains("psci: none"), "{table}");
    let unknown = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/synthetic/tegra186-denver-a57.dtb");
    let table = text(&run(&["facts", unknown]).stdout);
    let denver = table.lines().find(|l| l.starts_with("0 ")).unwrap_or_default();
    assert!(
        denver.contains("nvidia,tegra186-denver") && denver.ends_with(" decided from MIDR at boot"),
        "{table}"
    );
}
