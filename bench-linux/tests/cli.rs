//! The command lines of `linux-report` and `mkinitramfs`: `--help` on standard output with
//! status 0, usage errors with status 2, failures and incomplete runs with status 1, the
//! report's CSV and side-by-side lines for real console logs, and no panic when standard
//! output cannot be written.

use std::path::PathBuf;

use host_cli::testing::{text, Tool};

const REPORT: Tool = Tool::new(env!("CARGO_BIN_EXE_linux-report"));
const MKINITRAMFS: Tool = Tool::new(env!("CARGO_BIN_EXE_mkinitramfs"));

/// A Linux run as `linux-pingpong` prints it under QEMU, kernel messages included.
const LINUX: &str = "\
[    0.127185] psci: failed to boot CPU2 (-22)
linux machine: cpus=2 counter_hz=62500000 kernel=6.12.117+deb13-arm64
linux benchmark: 2 ordered pairs, 300 round trips each, pinned threads
linux 0-1 p50_ns=272 p99_ns=384 urpc_p50_ns=400 urpc_p99_ns=4576
linux 1-0 p50_ns=288 p99_ns=528 urpc_p50_ns=400 urpc_p99_ns=704
linux done: 2 measured, 0 failed
[    3.957735] reboot: Power down
";

/// The multikernel's `scripts/run bench --smp 2` lines for the same pairs.
const MULTIKERNEL: &str = "\
latency machine: counter_hz=62500000 clusters=0,0,0,0,1,1 model=linux,dummy-virt
latency benchmark: 2 ordered pairs, 300 round trips each, at EL0 over URPC
latency 0-1 class=little-little p50_ns=384 p99_ns=656 limit_ns=320
latency 1-0 class=little-little p50_ns=368 p99_ns=544 limit_ns=272
";

/// A fresh folder for one test under cargo's temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-linux-cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn write(dir: &std::path::Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a log");
    path.to_str().expect("UTF-8 path").to_string()
}

#[test]
fn help_goes_to_stdout_with_status_0() {
    for flag in ["--help", "-h"] {
        assert!(REPORT.help(&[flag]).contains("Usage: linux-report [OPTIONS] <LINUX> <OUT>"));
        assert!(MKINITRAMFS.help(&[flag]).contains("Usage: mkinitramfs --init <INIT> <OUT>"));
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in
        [&[][..], &["only-one"], &["a", "b", "c"], &["--nosuch", "a", "b"], &["a", "b", "--multikernel"]]
    {
        let output = REPORT.run(args);
        assert_eq!(output.status.code(), Some(2), "linux-report {args:?}");
        assert!(text(&output.stderr).starts_with("error: "), "{}", text(&output.stderr));
        assert!(output.stdout.is_empty());
    }
    for args in [&[][..], &["out.cpio"], &["--init", "x"]] {
        assert_eq!(MKINITRAMFS.run(args).status.code(), Some(2), "mkinitramfs {args:?}");
    }
}

#[test]
fn both_runs_side_by_side_with_the_csv() {
    let dir = scratch("both");
    let (linux, mk) = (write(&dir, "linux.log", LINUX), write(&dir, "console.log", MULTIKERNEL));
    let out = dir.join("out");
    let output = REPORT.run(&[&linux, out.to_str().unwrap(), "--multikernel", &mk]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains(
            "linux/multikernel 0-1: raw limit 272 vs 320 ns (ratio 1.18), urpc 400 vs 384 ns (ratio 0.96)\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "linux/multikernel 1-0: raw limit 288 vs 272 ns (ratio 0.94), urpc 400 vs 368 ns (ratio 0.92)\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("goal multikernel raw limit / Linux raw p50 <= 1.1: median over pairs 0.94 (range 0.94-1.18), 1 of 2 pairs within: met"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("linux.csv")).expect("linux.csv");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("0,1,little-little,272,384,400,4576,ok,320,384,656,ok,")),
        "{csv}"
    );
}

#[test]
fn an_incomplete_linux_run_is_status_1_naming_what_is_missing() {
    let dir = scratch("cut");
    let cut = LINUX.replace(
        "linux 1-0 p50_ns=288 p99_ns=528 urpc_p50_ns=400 urpc_p99_ns=704\nlinux done: 2 measured, 0 failed\n",
        "",
    );
    let linux = write(&dir, "linux.log", &cut);
    let output = REPORT.run(&[&linux, dir.join("out").to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("linux-report: linux: the program announced 2 ordered pairs; the log has 1"),
        "{stderr}"
    );
    assert!(stderr.contains("the run did not finish"), "{stderr}");
    assert!(dir.join("out/linux.csv").exists(), "the figures that exist are still written");
}

#[test]
fn a_failed_multikernel_pair_fails_the_report_too() {
    let dir = scratch("mk-failed");
    let linux = write(&dir, "linux.log", LINUX);
    let failed = MULTIKERNEL.replace(
        "p50_ns=368 p99_ns=544 limit_ns=272",
        "failed: no-pong (the echoing core answered no ping within 2 s)",
    );
    let mk = write(&dir, "console.log", &failed);
    let output = REPORT.run(&[&linux, dir.join("out").to_str().unwrap(), "--multikernel", &mk]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("multikernel: pair 1-0 failed: no-pong"),
        "{}",
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("; multikernel: no-pong"), "{}", text(&output.stdout));
}

#[test]
fn a_missing_log_is_one_line_and_status_1() {
    let out = scratch("missing");
    let output = REPORT.run(&["/nonexistent/linux.log", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("linux-report: /nonexistent/linux.log: "), "{stderr}");
}

#[test]
fn a_full_disk_or_closed_pipe_on_stdout_is_no_panic() {
    let dir = scratch("output");
    let linux = write(&dir, "linux.log", LINUX);
    let out = dir.join("out");
    let (status, stderr) = REPORT.run_into_full_disk(&[&linux, out.to_str().unwrap()]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let (status, stderr) = REPORT.run_into_closed_pipe(&[&linux, out.to_str().unwrap()]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status, Some(0), "{stderr}");
}

#[test]
fn mkinitramfs_packs_an_elf_as_init_next_to_the_console_node() {
    let dir = scratch("initramfs");
    // Any ELF executable stands in for the guest program: this test's own.
    let program = std::env::current_exe().expect("the test's path");
    let archive = dir.join("initramfs.cpio");
    let output = MKINITRAMFS.run(&["--init", program.to_str().unwrap(), archive.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let bytes = std::fs::read(&archive).expect("the archive");
    let size = std::fs::metadata(&program).expect("size").len() as usize;
    assert!(bytes.starts_with(b"070701") && bytes.len() > size, "{} bytes", bytes.len());
    let has = |name: &[u8]| bytes.windows(name.len()).any(|w| w == name);
    assert!(has(b"dev/console\0") && has(b"dev/null\0") && has(b"init\0") && has(b"TRAILER!!!\0"));
}

#[test]
fn mkinitramfs_refuses_a_program_that_is_not_an_elf_file() {
    let dir = scratch("not-elf");
    let script = write(&dir, "init.sh", "#!/bin/sh\necho hi\n");
    let output = MKINITRAMFS.run(&["--init", &script, dir.join("out.cpio").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("not an ELF executable"), "{}", text(&output.stderr));
    assert!(!dir.join("out.cpio").exists());
    let missing = MKINITRAMFS.run(&["--init", "/nonexistent/init", dir.join("out.cpio").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).starts_with("mkinitramfs: /nonexistent/init: "));
}
