//! The per-core-pair latency benchmark at EL0 (`-append bench`): every ordered pair measured
//! between two `latency` dispatchers over a URPC channel their monitors handed them, next to
//! the raw cache-line limit on the same pair, with a summary and the SKB's multicast tree;
//! and a pair made to fail (`bench-fail=`), which is reported as failed everywhere.

use system_tests::Qemu;

#[test]
fn the_latency_matrix_covers_all_thirty_ordered_pairs() {
    // 30 pairs of 10,000 round trips each take a few seconds under QEMU on an idle two-core
    // host; the deadline only guards against a hang, so it leaves room for a loaded one.
    let timeout = std::time::Duration::from_secs(300);
    let qemu = Qemu { append: Some("bench".into()), timeout, ..Qemu::big_little() };
    let run = qemu.boot();
    assert!(run.powered_off_cleanly(), "the boot monitor ends the run: {:?}", run.status);
    assert_eq!(
        run.lines_starting("latency benchmark: "),
        ["latency benchmark: 30 ordered pairs, 10000 round trips each, at EL0 over URPC"]
    );
    let class = |core: usize| if core < 4 { "little" } else { "big" };
    for from in 0..6 {
        for to in (0..6).filter(|&to| to != from) {
            let lines = run.lines_starting(&format!("latency {from}-{to} "));
            assert_eq!(lines.len(), 1, "pair {from}-{to}: {lines:?}");
            let fields: Vec<&str> = lines[0].split(' ').collect();
            assert_eq!(fields.len(), 6, "{:?}", lines[0]);
            assert_eq!(fields[2], format!("class={}-{}", class(from), class(to)));
            let value = |i: usize, name: &str| -> u64 {
                fields[i]
                    .strip_prefix(name)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{:?}", lines[0]))
            };
            let (p50, p99, limit) = (value(3, "p50_ns="), value(4, "p99_ns="), value(5, "limit_ns="));
            assert!(p50 > 0 && limit > 0 && p99 >= p50, "{:?}", lines[0]);
        }
    }
    assert_eq!(
        run.lines_starting("latency machine: "),
        ["latency machine: counter_hz=62500000 clusters=0,0,0,0,1,1 model=linux,dummy-virt"]
    );
    let summary = run.lines_starting("latency summary: ");
    assert_eq!(summary.len(), 1);
    assert!(
        summary[0].contains("same-cluster pairs=14 ")
            && summary[0].contains("cross-cluster pairs=16 ")
            && summary[0].ends_with(" failed=0"),
        "{summary:?}"
    );
    let report = latency::Report::from_log(&run.console);
    assert_eq!(report.problems(), Vec::<String>::new(), "latency-report would exit 0");
    let tree = run.lines_starting("multicast tree from 0 (measured): ");
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0].split(' ').filter(|e| e.contains("->")).count(), 5, "a tree over six cores: {tree:?}");
    check_wait_comparison(&run);
    check_same_core(&run);
}

/// The same-core comparison (`bench` only), on every core in turn: two programs of that core,
/// a round trip through the kernel's line transport and one through `send_local`, each with a
/// positive p50 and a p99 no lower, then the ratios, to each other and to the EL0 URPC p50 this
/// boot measured from that core to the first other core (core 0's to core 1). Nothing here
/// depends on how fast anything ran.
fn check_same_core(run: &system_tests::Run) {
    for core in 0..6 {
        let lines = run.lines_starting(&format!("same-core {core} rounds=10000 "));
        assert_eq!(lines.len(), 1, "core {core}:\n{}", run.console);
        let figure = |name: &str| -> u64 {
            let at = lines[0].find(name).unwrap_or_else(|| panic!("{name} in {:?}", lines[0]));
            let value = lines[0][at + name.len()..].split(' ').next().unwrap_or("");
            value.parse().unwrap_or_else(|_| panic!("{name} in {:?}", lines[0]))
        };
        let (line_p50, line_p99) = (figure("line p50_ns="), figure(" p99_ns="));
        let local_p50 = figure("send_local p50_ns=");
        assert!(line_p50 > 0 && line_p99 >= line_p50 && local_p50 > 0, "{:?}", lines[0]);
        let ratios = run.lines_starting(&format!("same-core {core} ratios (p50): line/send_local="));
        assert_eq!(ratios.len(), 1, "{ratios:?}");
        let peer = if core == 0 { 1 } else { 0 };
        let urpc = run
            .lines_starting(&format!("latency {core}-{peer} class="))
            .first()
            .and_then(|l| l.split(' ').nth(3)?.strip_prefix("p50_ns=").map(str::to_owned))
            .unwrap_or_else(|| panic!("no latency {core}-{peer} line"));
        assert!(ratios[0].contains(&format!(" urpc {core}-{peer} p50_ns={urpc} line/urpc=")), "{ratios:?}");
    }
}

/// The most round trips the command line allows, on two cores: each pair measured, not a
/// program ended by its heap (every sample used to be kept, 8 MB for a million, in a 1 MiB
/// heap: the measuring program panicked and every later pair failed) nor a coordinator that
/// gave up after a fixed 30 s.
#[test]
fn a_million_round_trips_a_pair_are_measured() {
    let timeout = std::time::Duration::from_secs(400);
    let qemu =
        Qemu { smp: 2, append: Some("bench bench-rounds=1000000".into()), timeout, ..Qemu::big_little() };
    let run = qemu.boot();
    assert!(run.powered_off_cleanly(), "the boot monitor ends the run: {:?}", run.status);
    assert_eq!(
        run.lines_starting("latency benchmark: "),
        ["latency benchmark: 2 ordered pairs, 1000000 round trips each, at EL0 over URPC"]
    );
    for pair in ["0-1", "1-0"] {
        let lines = run.lines_starting(&format!("latency {pair} "));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains(" p50_ns=") && !lines[0].contains("failed"), "{lines:?}");
    }
    assert!(!run.console.contains("panic"), "{}", run.console);
    let summary = run.lines_starting("latency summary: ");
    assert!(summary.len() == 1 && summary[0].ends_with(" failed=0"), "{summary:?}");
}

/// The wait comparisons (`bench` only), the kernel's (`urpc-wait`) and EL0's through the
/// runtime's waitset (`urpc-wait-el0`): for the pairs 0-1 and 0-5, a line per mode with a
/// positive round trip and the SGIs per 10,000 messages, then the ratios. Every message raises
/// one SGI in the first mode, so exactly 10,000; the asleep flag can only leave some out.
/// Nothing here depends on how fast anything ran.
fn check_wait_comparison(run: &system_tests::Run) {
    for prefix in ["urpc-wait", "urpc-wait-el0"] {
        for pair in ["0-1", "0-5"] {
            let mut sgis = Vec::new();
            for mode in ["sgi-every-message", "asleep-flag", "wfe-then-asleep"] {
                let lines = run.lines_starting(&format!("{prefix} {pair} mode={mode} "));
                assert_eq!(lines.len(), 1, "{prefix} {pair} {mode}: {lines:?}");
                let fields: Vec<&str> = lines[0].split(' ').collect();
                assert_eq!(fields.len(), 5, "{:?}", lines[0]);
                let value = |i: usize, name: &str| -> u64 {
                    fields[i]
                        .strip_prefix(name)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or_else(|| panic!("{:?}", lines[0]))
                };
                assert!(value(3, "rtt_ns=") > 0, "{:?}", lines[0]);
                sgis.push(value(4, "sgis_per_10k_messages="));
            }
            assert_eq!(sgis[0], 10_000, "{prefix} {pair}: every message raises an SGI in the first mode");
            assert!(
                sgis[1] <= 10_000 && sgis[2] <= 10_000,
                "{prefix} {pair}: the asleep flag adds no SGI: {sgis:?}"
            );
            let ratios = run.lines_starting(&format!("{prefix} {pair} over sgi-every-message: "));
            assert_eq!(ratios.len(), 1, "{prefix} {pair}: {ratios:?}");
            assert!(
                ratios[0].contains(" asleep-flag: rtt ") && ratios[0].contains(" wfe-then-asleep: rtt "),
                "{ratios:?}"
            );
        }
    }
}

#[test]
fn a_pair_whose_echo_side_does_not_answer_is_reported_failed_everywhere() {
    // Core 3's monitor says it is ready for core 2 but nobody answers, so core 2's latency
    // program runs into its real timeout.
    let qemu = Qemu { append: Some("bench bench-rounds=1000 bench-fail=2-3".into()), ..Qemu::big_little() };
    let run = qemu.boot();
    assert!(run.powered_off_cleanly(), "the run still ends cleanly: {:?}", run.status);
    assert_eq!(
        run.lines_starting("monitor 3: not echoing"),
        ["monitor 3: not echoing for core 2 (bench-fail=2-3)"]
    );
    assert_eq!(
        run.lines_starting("latency 2-3 "),
        ["latency 2-3 class=little-little failed: no-pong (the echoing core answered no ping within 2 s)"]
    );
    // Every other pair is measured, the reverse one too (over the same channel).
    assert_eq!(run.lines().filter(|l| l.starts_with("latency ") && l.contains(" p50_ns=")).count(), 29);
    assert_eq!(run.lines_starting("latency 3-2 class=little-little p50_ns=").len(), 1);
    assert!(!run.console.contains("_ns=0 "), "no zero figure anywhere");
    let summary = run.lines_starting("latency summary: ");
    assert_eq!(summary.len(), 1);
    assert!(
        summary[0].contains("same-cluster pairs=13 ")
            && summary[0].contains("cross-cluster pairs=16 ")
            && summary[0].ends_with(" failed=1 (2-3)"),
        "the failed pair is left out of the medians: {summary:?}"
    );
    // 3-2 was measured, so the SKB still has a figure for every pair of cores.
    assert_eq!(run.lines_starting("multicast tree from 0 (measured): ").len(), 1);

    // What latency-report makes of it: a failed row, and a non-zero exit status.
    let report = latency::Report::from_log(&run.console);
    let csv = report.csv();
    assert!(csv.lines().any(|line| line == "2,3,little,little,failed,,,,,no-pong"), "{csv}");
    assert_eq!(csv.lines().filter(|line| line.contains(",ok,")).count(), 29);
    let problems = report.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("pair 2-3 failed: no-pong"), "{problems:?}");
    assert!(report.svg(&[]).contains("2-3: failed, no-pong"));
}

#[test]
fn the_unmap_experiment_measures_every_core_count_and_strategy() {
    // `scripts/run bench unmap` with two rounds: for k = 2..6 one page mapped on k cores is
    // unmapped everywhere by the revoke round over each route, and by one broadcast TLB
    // invalidation; every round must end `Done` (a failed round is counted on its line).
    let timeout = std::time::Duration::from_secs(300);
    let qemu = Qemu { append: Some("bench-unmap bench-rounds=2".into()), timeout, ..Qemu::big_little() };
    let run = qemu.boot();
    assert!(run.powered_off_cleanly(), "the boot monitor ends the run: {:?}", run.status);
    let (rows, skipped) = bench_report::unmap::parse(&run.console);
    assert_eq!(skipped, 0, "every strategy completed its rounds:\n{}", run.console);
    for cores in 2..=6 {
        for strategy in bench_report::unmap::STRATEGIES {
            let row = rows.iter().find(|r| r.cores == cores && r.strategy == strategy);
            let row = row.unwrap_or_else(|| panic!("no line for k={cores} {strategy}:\n{}", run.console));
            assert_eq!((row.rounds, row.failed), (2, 0), "{row:?}");
        }
    }
    assert!(run.lines().all(|l| !l.contains("cannot map the lent page")), "{}", run.console);
}
