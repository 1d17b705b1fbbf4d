//! How long the SKB takes to read a device tree: `Skb::from_dtb` (check the blob, walk the
//! structure block, build the node list, read every fact) on real board trees, with copying
//! the blob once as the same-run baseline (the least any reader of every byte costs).
//!
//! `cargo run --release -p skb --example parse_time [DTB...]` (default: the committed board
//! trees in skb/tests/data/boards). Prints the median of 15 batches per tree, in microseconds
//! per parse, and the ratio to the copy. A benchmark, not a test: it asserts nothing about time.

use std::hint::black_box;
use std::time::Instant;

const BATCHES: usize = 15;

/// Median time of one call of `work`, in nanoseconds, over `BATCHES` batches sized to take
/// about 20 ms each.
fn median_ns(mut work: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calibration = 0u32;
    while start.elapsed().as_millis() < 20 {
        work();
        calibration += 1;
    }
    let per_batch = calibration.max(1);
    let mut samples: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_batch {
                work();
            }
            start.elapsed().as_nanos() as f64 / f64::from(per_batch)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[BATCHES / 2]
}

fn main() {
    let mut paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/boards");
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path().display().to_string()).collect())
            .unwrap_or_default();
        found.sort();
        paths = found;
    }
    println!(
        "{:<28} {:>9} {:>7} {:>12} {:>10} {:>7}",
        "tree", "bytes", "cores", "from_dtb us", "copy us", "ratio"
    );
    for path in &paths {
        let dtb = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("parse_time: {path}: {e}");
                std::process::exit(1);
            }
        };
        let cpus = match skb::Skb::from_dtb(&dtb) {
            Ok(skb) => skb.cpus.len(),
            Err(e) => {
                eprintln!("parse_time: {path}: {e}");
                std::process::exit(1);
            }
        };
        let parse = median_ns(|| {
            let _ = black_box(skb::Skb::from_dtb(black_box(&dtb)));
        });
        let copy = median_ns(|| {
            black_box(black_box(&dtb).to_vec());
        });
        let name = path.rsplit('/').next().unwrap_or(path);
        println!(
            "{name:<28} {:>9} {:>7} {:>12.1} {:>10.2} {:>6.0}x",
            dtb.len(),
            cpus,
            parse / 1000.0,
            copy / 1000.0,
            parse / copy
        );
    }
}
