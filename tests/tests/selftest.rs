//! The capability system's check at EL0 (`-append selftest`): every core's `selftest` program,
//! equipped with RAM by its monitor, prints each check once with `ok`; the boot core's monitor
//! sums every core's report and powers off cleanly only when nothing failed.

use system_tests::Qemu;

/// The checks every core runs, in order (userland/selftest/src/main.rs).
const CHECKS: [&str; 37] = [
    "retype-frames",
    "double-retype-refused",
    "forged-address-refused",
    "stale-after-delete-refused",
    "mint-fewer-rights",
    "mint-more-rights-refused",
    "revoke-removes-copies",
    "delete-last-frees",
    "alloc-free-100000",
    "capability-limit-refused",
    "monitor-calls-refused",
    "send-needs-endpoint",
    "map-write-read",
    "map-zeroed",
    "map-executable-runs",
    "map-multi-page-frame",
    "map-needs-write-right",
    "map-forged-refused",
    "unmap-then-remap",
    "delete-unmaps",
    "revoke-unmaps",
    "vnode-install-own",
    "protect-reduces-rights",
    "spawn-forged-module-refused",
    "spawn-small-ram-refused",
    "module-info-names-and-sizes",
    "spawn-read-only-ram-refused",
    "give-needs-dispatcher-capability",
    "child-fewer-rights",
    "child-access-after-unmap-faults",
    "child-write-after-protect-faults",
    "lines-need-endpoint",
    "lines-typed-exchange",
    "bind-by-name-echo",
    "bind-errors",
    "bind-same-core",
    "span-shared-page-protect-unmap",
];

/// The boot core's monitor's checks of `core_boot` (monitor/src/main.rs), around the first
/// core it starts.
const CORE_BOOT_CHECKS: [&str; 9] = [
    "core-boot-own-core-refused",
    "core-boot-no-such-core-refused",
    "core-boot-program-as-build-refused",
    "core-boot-empty-build-refused",
    "core-boot-misaligned-region-refused",
    "core-boot-small-region-refused",
    "core-boot-read-only-region-refused",
    "core-boot-memory-not-revocable",
    "core-boot-twice-refused",
];

#[test]
fn every_check_passes_on_every_core() {
    // As scripts/run selftest: a failed run ends with semihosting's SYS_EXIT 1.
    let qemu = Qemu::big_little_semihosted("selftest", Qemu::big_little().timeout);
    let run = qemu.boot();
    let failed: Vec<&str> =
        run.lines().filter(|l| l.starts_with("selftest ") && l.contains("FAILED")).collect();
    assert!(failed.is_empty(), "failed checks: {failed:#?}\n{}", run.console);
    for check in CORE_BOOT_CHECKS {
        assert_eq!(run.lines_starting(&format!("selftest 0 {check}:")), [format!("selftest 0 {check}: ok")]);
    }
    for core in 0..6 {
        for check in CHECKS {
            // A million allocate/free rounds on the boot core, a tenth of that on the others.
            let check = if core == 0 && check == "alloc-free-100000" { "alloc-free-1000000" } else { check };
            assert_eq!(
                run.lines_starting(&format!("selftest {core} {check}:")),
                [format!("selftest {core} {check}: ok")],
                "core {core}, check {check}:\n{}",
                run.console
            );
        }
        let on_this_core = CHECKS.len() + if core == 0 { CORE_BOOT_CHECKS.len() } else { 0 };
        assert_eq!(run.lines_starting(&format!("selftest {core} ")).len(), on_this_core, "core {core}");
        // What the monitor holds at boot, found by cap_identify at EL0.
        let memory = run.lines_starting(&format!("monitor {core} memory: "));
        assert_eq!(memory.len(), 1, "{memory:?}");
        assert!(
            memory[0].ends_with(" RAM capabilities") && memory[0].contains(" MiB free in "),
            "{memory:?}"
        );
        // The monitor built `selftest` out of a RAM capability it retyped for it.
        // Exactly the RAM `module_info` says it needs (segments, 64 KiB heap, stack, tables,
        // CNodes, VNode, control block): a few hundred KiB.
        let spawned = run.lines_starting(&format!("monitor {core} spawned selftest from "));
        assert_eq!(spawned.len(), 1, "core {core}:\n{}", run.console);
        let kib: u64 = spawned[0]
            .strip_suffix(" KiB of RAM")
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{:?}", spawned[0]));
        assert!((64..1024).contains(&kib), "{:?}", spawned[0]);
    }
    // The monitors start their selftests only once the roll call is over, so the busy programs
    // do not keep the CPU drivers from serving the boot-time URPC figures.
    let failed_figures: Vec<&str> = run.lines().filter(|l| l.contains("measurement failed")).collect();
    assert!(failed_figures.is_empty(), "{failed_figures:?}");
    // Capabilities across cores (the boot core's monitor lends RAM to the five others, they
    // race to retype it through the owner, the owner revokes it over each route).
    let mut capops_checks = 0;
    for strategy in ["unicast", "broadcast", "tree"] {
        for step in ["lend", "racing-retypes", "only-the-owner", "lent-kept", "revoke", "nothing-left"] {
            let lines = run.lines_starting(&format!("capops {strategy}-{step}: "));
            assert_eq!(lines.len(), 1, "{strategy}-{step}:\n{}", run.console);
            assert!(lines[0].contains(": ok ("), "{lines:?}");
            capops_checks += 1;
        }
    }
    assert_eq!(
        run.lines_starting("capops unicast-racing-retypes: "),
        ["capops unicast-racing-retypes: ok (1 of 5 cores got pages 0-3 retyped)"]
    );
    assert!(run.lines_starting("capops tree-revoke: ")[0].contains("Some(Done) over 6 cores"));
    assert_eq!(
        run.lines_starting("capops delete-after-revoke: "),
        ["capops delete-after-revoke: ok (Ok(()))"]
    );
    capops_checks += 1;
    // Then every core at once: random transfers, retypes through owners, revokes, maps and
    // deletes; no request left open, no mapping outliving its capability, and all that every
    // core holds afterwards nested with one owner.
    for (check, says) in [
        ("random-operations", "60 operations on each of 6 of 6 cores at once, 0 problems"),
        ("random-invariants", "nested, one owner each"),
    ] {
        let lines = run.lines_starting(&format!("capops {check}: "));
        assert_eq!(lines.len(), 1, "{check}:\n{}", run.console);
        assert!(lines[0].contains(": ok (") && lines[0].contains(says), "{lines:?}");
        capops_checks += 1;
    }
    let total = CHECKS.len() * 6 + CORE_BOOT_CHECKS.len() + capops_checks;
    assert_eq!(run.lines_starting("selftest: "), [format!("selftest: {total} passed, 0 failed")]);
    assert!(run.powered_off_cleanly(), "QEMU must exit 0 after a clean power-off: {:?}", run.status);
    run.assert_all_up_in_time(6);
}
