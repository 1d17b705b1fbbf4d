//! The membership with faults injected (`-append faults=...`): the survivors detect a core whose monitor
//! stopped answering, agree to remove it, and the run still ends by itself with a report.

use system_tests::Qemu;

#[test]
fn cores_that_stop_answering_are_removed_by_every_survivor() {
    let timeout = std::time::Duration::from_secs(120);
    let qemu = Qemu { append: Some("faults=hang:3@2500,hang:5@4000".into()), timeout, ..Qemu::big_little() };
    let run = qemu.boot();
    assert!(run.powered_off_cleanly(), "the boot monitor ends the run: {:?}\n{}", run.status, run.console);
    // Core 3 stops first: the initiator and four others (core 5 among them) remove it; then
    // core 5: the initiator and three others.
    for (core, others) in [(3, 4), (5, 3)] {
        assert_eq!(
            run.lines_starting(&format!("monitor {core}: fault injected: hang")).len(),
            1,
            "{}",
            run.console
        );
        let failed = run.lines_starting(&format!("core {core} failed: no message for "));
        assert_eq!(failed.len(), 1, "core {core}: {failed:?}\n{}", run.console);
        assert!(failed[0].contains("monitors in "), "{failed:?}");
        // Every other survivor applied the same removal.
        let removed: Vec<&str> =
            run.lines().filter(|l| l.contains(&format!(": core {core} removed; live ["))).collect();
        assert_eq!(removed.len(), others, "core {core}: {removed:?}");
    }
    assert_eq!(run.lines_starting("membership: ").last(), Some(&"membership: [0, 1, 2, 4]"));
    let faults = run.lines_starting("faults: ");
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert!(faults[0].starts_with("faults: 2 injected, 2 survived, 0 messages lost, 0 hangs"), "{faults:?}");
}

#[test]
fn when_the_boot_core_fails_another_core_ends_the_run_as_failed() {
    // The boot core's monitor stops in the middle of the selftest run: the survivors remove it,
    // the lowest of them ends the run with a failure status, its kernel printing every core's
    // console ring first (the boot core's kernel no longer drains them for anyone).
    let qemu = Qemu {
        append: Some("selftest faults=hang:0@6000 semihosting-exit".into()),
        timeout: std::time::Duration::from_secs(150),
        extra_args: vec!["-semihosting-config".into(), "enable=on,target=native".into()],
        ..Qemu::big_little()
    };
    let run = qemu.boot();
    let status = run.status.unwrap_or_else(|| panic!("QEMU did not end by itself:\n{}", run.console));
    assert_eq!(status.code(), Some(1), "a failed run; console:\n{}", run.console);
    assert_eq!(run.lines_starting("monitor 0: fault injected: hang").len(), 1, "{}", run.console);
    assert_eq!(
        run.lines_starting("monitor 1: the boot core 0 failed"),
        ["monitor 1: the boot core 0 failed; this core ends the run as failed"],
        "{}",
        run.console
    );
    let removed: Vec<&str> = run.lines().filter(|l| l.contains(": core 0 removed; live [")).collect();
    assert!(removed.len() >= 3, "the survivors removed core 0: {removed:?}");
}
