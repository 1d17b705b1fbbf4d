//! The membership with faults injected (`-append faults=...`): the survivors detect a core whose monitor
//! stopped answering (or panicked, or was parked, or faulted at EL0), agree to remove it, keep a core that
//! sent damaged lines or a storm, and the run still ends by itself with a report.

use std::time::Duration;

use system_tests::Qemu;

#[test]
fn cores_that_stop_answering_are_removed_by_every_survivor() {
    let timeout = Duration::from_secs(120);
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
    // The four survivors probed each other, all pairs.
    assert_eq!(run.lines().filter(|l| l.ends_with(" probed 3 peers: 0 lost")).count(), 4, "{}", run.console);
    let faults = run.lines_starting("faults: 2 injected");
    assert_eq!(faults.len(), 1, "{}", run.console);
    assert!(faults[0].starts_with("faults: 2 injected, 2 survived, 0 messages lost, 0 hangs"), "{faults:?}");
}

#[test]
fn when_the_boot_core_fails_in_a_selftest_another_core_ends_the_run_as_failed() {
    // The boot core's monitor stops in the middle of the selftest run: the survivors remove it,
    // the lowest of them takes the console and the run over, and, since the boot core's own
    // checks ended with it, ends the run with a failure status.
    let qemu = Qemu::big_little_semihosted("selftest faults=hang:0@6000", Duration::from_secs(150));
    let run = qemu.boot();
    run.assert_exit(1);
    assert_eq!(run.lines_starting("monitor 0: fault injected: hang").len(), 1, "{}", run.console);
    assert_eq!(
        run.lines_starting("monitor 1: core 0 coordinated the run and failed"),
        ["monitor 1: core 0 coordinated the run and failed; this core takes the run and the console over"],
        "{}",
        run.console
    );
    assert_eq!(
        run.lines_starting("monitor 1: the selftest cannot be finished"),
        ["monitor 1: the selftest cannot be finished without the failed coordinator's part; ending the run as failed"],
        "{}",
        run.console
    );
    let removed: Vec<&str> = run.lines().filter(|l| l.contains(": core 0 removed; live [")).collect();
    assert!(removed.len() >= 3, "the survivors removed core 0: {removed:?}");
}

#[test]
fn when_the_boot_core_s_kernel_panics_the_others_carry_the_run_on_and_print_the_console() {
    // After the roll call the boot core is not special: its kernel panics, the survivors
    // remove it, core 1 takes the console (its kernel drains every ring from then on: core 3's
    // storm line, printed after the boot core died, comes out) and the run (the fault report,
    // then a clean end: QEMU exits 0).
    let qemu = Qemu::big_little_semihosted("faults=panic:0@1000,storm:3@2500", Duration::from_secs(120));
    let run = qemu.boot();
    run.assert_exit(0);
    assert_eq!(
        run.lines_starting("core 0: the boot core panicked; the other cores carry the run on").len(),
        1,
        "{}",
        run.console
    );
    assert_eq!(
        run.lines_starting("core 1: console taken over (its owner failed)").len(),
        1,
        "{}",
        run.console
    );
    assert_eq!(run.lines_starting("monitor 3: fault injected: storm at 2500 ms").len(), 1, "{}", run.console);
    assert_eq!(run.lines_starting("membership: ").last(), Some(&"membership: [1, 2, 3, 4, 5]"));
    for verdict in [
        "fault panic:0@1000: removed by every survivor",
        "fault storm:3@2500: 4 of 4 survivors took its whole storm; still live",
    ] {
        assert_eq!(run.lines_starting(verdict).len(), 1, "{verdict}\n{}", run.console);
    }
    let report = run.lines_starting("faults: 2 injected, ");
    assert_eq!(report.len(), 1, "{}", run.console);
    assert!(report[0].starts_with("faults: 2 injected, 2 survived, 0 messages lost, 0 hangs"), "{report:?}");
}

#[test]
fn every_kind_of_fault_is_survived_and_all_pairs_lose_nothing() {
    // Three cores stop three different ways (their kernel panics; parked with interrupts
    // masked; their monitor faults at EL0); two stay live but misbehave (a damaged line on
    // every ring; a storm of 512 messages to every peer).
    let faults = "faults=panic:1@1000,park:2@1200,el0-fault:3@1400,corrupt:4@1600,storm:5@1800";
    let qemu = Qemu { append: Some(faults.into()), timeout: Duration::from_secs(120), ..Qemu::big_little() };
    let run = qemu.boot();
    assert!(run.powered_off_cleanly(), "the boot monitor ends the run: {:?}\n{}", run.status, run.console);
    assert_eq!(run.lines_starting("core mpidr=0x1: panic: ").len(), 1, "{}", run.console);
    assert_eq!(
        run.lines_starting("core 2: fault injected: parked with interrupts masked").len(),
        1,
        "{}",
        run.console
    );
    for core in 1..=3 {
        assert_eq!(
            run.lines_starting(&format!("core {core} failed: no message for ")).len(),
            1,
            "{}",
            run.console
        );
    }
    // The damaged lines were rejected by name by every survivor but core 4 itself.
    for survivor in [0, 5] {
        let rejected =
            run.lines_starting(&format!("monitor {survivor}: malformed message from core 4 dropped"));
        assert_eq!(rejected.len(), 1, "{}", run.console);
    }
    assert_eq!(run.lines_starting("membership: ").last(), Some(&"membership: [0, 4, 5]"));
    // Every survivor probed every other survivor.
    for survivor in [0, 4, 5] {
        assert_eq!(
            run.lines_starting(&format!("faults: core {survivor} probed 2 peers: 0 lost")).len(),
            1,
            "{}",
            run.console
        );
    }
    for verdict in [
        "fault panic:1@1000: removed by every survivor",
        "fault park:2@1200: removed by every survivor",
        "fault el0-fault:3@1400: removed by every survivor",
        "fault corrupt:4@1600: 2 of 2 survivors rejected its damaged line; still live",
        "fault storm:5@1800: 2 of 2 survivors took its whole storm; still live",
    ] {
        assert_eq!(run.lines_starting(verdict).len(), 1, "{verdict}\n{}", run.console);
    }
    let report = run.lines_starting("faults: 5 injected, ");
    assert_eq!(report.len(), 1, "{}", run.console);
    assert!(report[0].starts_with("faults: 5 injected, 5 survived, 0 messages lost, 0 hangs"), "{report:?}");
}

#[test]
fn when_the_core_that_took_over_fails_too_the_next_takes_the_console_from_it() {
    // Core 0's monitor hangs (its kernel still runs and would drain), core 1 takes the console
    // and the run over, then core 1 is parked with interrupts masked while it holds the console:
    // core 2 takes the console from it and ends the run with every verdict printed.
    let qemu =
        Qemu::big_little_semihosted("faults=hang:0@1000,park:1@2500,storm:3@3000", Duration::from_secs(120));
    let run = qemu.boot();
    run.assert_exit(0);
    for core in [1, 2] {
        assert_eq!(
            run.lines_starting(&format!("core {core}: console taken over (its owner failed)")).len(),
            1,
            "{}",
            run.console
        );
    }
    assert_eq!(run.lines_starting("membership: ").last(), Some(&"membership: [2, 3, 4, 5]"));
    let report = run.lines_starting("faults: 3 injected, ");
    assert_eq!(report.len(), 1, "{}", run.console);
    assert!(report[0].starts_with("faults: 3 injected, 3 survived, 0 messages lost, 0 hangs"), "{report:?}");
}
