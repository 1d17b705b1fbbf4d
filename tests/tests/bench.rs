//! The per-core-pair latency benchmark at EL0 (`-append bench`): every ordered pair measured
//! between two `latency` dispatchers over a URPC channel their monitors handed them, next to
//! the raw cache-line limit on the same pair, with a summary and the SKB's multicast tree.

use system_tests::Qemu;

#[test]
fn the_latency_matrix_covers_all_thirty_ordered_pairs() {
    let qemu = Qemu { append: Some("bench".into()), ..Qemu::big_little() };
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
    let summary = run.lines_starting("latency summary: ");
    assert_eq!(summary.len(), 1);
    assert!(
        summary[0].contains("same-cluster pairs=14 ") && summary[0].contains("cross-cluster pairs=16 "),
        "{summary:?}"
    );
    let tree = run.lines_starting("multicast tree from 0 (measured): ");
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0].split(' ').filter(|e| e.contains("->")).count(), 5, "a tree over six cores: {tree:?}");
}
