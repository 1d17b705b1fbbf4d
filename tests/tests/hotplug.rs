//! CPU hotplug (`-append hotplug`): the boot core's monitor takes every other core off (its
//! monitor leaves the membership by agreement, its kernel calls PSCI `CPU_OFF`, the boot core's
//! kernel takes its memory and channels back once the firmware says it is off) and on again
//! (`CPU_ON` with a fresh region in the memory it handed back, a fresh SKB replica, new
//! channels, a join round with the next incarnation), measuring a pair of the other cores
//! while it is off; every channel of a live core is probed after each cycle. Bad requests are
//! refused with their reasons first.
//!
//! The run has a deadline that only keeps a hang from stalling the suite; nothing is judged by
//! how long it took.

use std::time::Duration;

use system_tests::Qemu;

#[test]
fn every_other_core_goes_off_and_rejoins_with_nothing_lost() {
    let qemu = Qemu::big_little_semihosted("bench hotplug bench-rounds=200", Duration::from_secs(240));
    let run = qemu.boot();
    assert!(run.powered_off_cleanly(), "the run ends by itself: {:?}\n{}", run.status, run.console);
    let refusals = run.lines_starting("hotplug refusal ");
    assert_eq!(refusals.len(), 8, "{refusals:?}\n{}", run.console);
    assert!(refusals.iter().all(|l| l.ends_with(": ok")), "{refusals:?}");
    assert_eq!(
        run.lines_starting("hotplug: cycling cores "),
        ["hotplug: cycling cores [1, 2, 3, 4, 5] (the live cores but this one)"],
        "{}",
        run.console
    );
    for core in 1..=5 {
        let once = |prefix: String| {
            let lines = run.lines_starting(&prefix);
            assert_eq!(lines.len(), 1, "one line starting {prefix:?}: {lines:?}\n{}", run.console);
        };
        // Every voter answered the leave's commit (it did not end by the round's timeout).
        once(format!("monitor {core}: left the membership (every other core agreed); powering off"));
        once(format!("core {core}: powering off (PSCI CPU_OFF)"));
        once(format!("core {core} off ("));
        once(format!("monitor 0: started core {core} again in the memory it handed back"));
        once(format!("core {core} rejoined as incarnation 1 in "));
        once(format!("monitor {core}: rejoined as incarnation 1; live [0, 1, 2, 3, 4, 5]"));
        // Its kernel came up twice: at boot and once started again.
        assert_eq!(run.lines_starting(&format!("core {core} up mpidr=")).len(), 2, "{}", run.console);
        // The others' view while it was off: every live core but it.
        let without: Vec<String> = (0..6).filter(|&c| c != core).map(|c| c.to_string()).collect();
        let off_view = format!("membership: [{}]", without.join(", "));
        assert!(run.lines().any(|l| l == off_view), "no {off_view:?}\n{}", run.console);
        let cycle = run.lines_starting(&format!("hotplug core {core}: off in "));
        assert_eq!(cycle.len(), 1, "{cycle:?}");
        assert!(cycle[0].ends_with(&format!("probes lost: 0 from core 0, 0 from core {core}")), "{cycle:?}");
        let latency = run.lines_starting(&format!("hotplug core {core} off: latency "));
        assert!(latency.len() == 1 && latency[0].contains("p50_ns="), "{latency:?}\n{}", run.console);
    }
    assert_eq!(run.lines_starting("membership: ").last(), Some(&"membership: [0, 1, 2, 3, 4, 5]"));
    assert!(run.lines_starting("hotplug cycle (off + on + rejoined): min ").len() == 1, "{}", run.console);
    assert_eq!(run.lines_starting("hotplug: ").last(), Some(&"hotplug: 5 cycles, 0 lost"), "{}", run.console);
    assert!(run.lines_starting("hotplug: ").iter().all(|l| !l.contains("failed")), "{}", run.console);
}
