//! `agreement-bench`: the agreement protocols on host threads (see the library's docs), for
//! every core count k from 2 to `--cores`: one line per k and strategy, a CSV and a plot.
//!
//! usage: `agreement-bench [--cores N] [--rounds R] [--cluster-size N] [--out DIR]` (see
//! `--help`). Exit statuses are those of every host tool (`host-cli`): 2 for a usage error,
//! 1 for a failure (a round that did not commit everywhere is one); a closed standard output
//! ends the run quietly.

// host-cli's printing macros never panic on a closed pipe or a full disk (see urpc-bench).
macro_rules! println {
    ($($arg:tt)*) => { host_cli::outln!($($arg)*) };
}
macro_rules! eprintln {
    ($($arg:tt)*) => { host_cli::errln!($($arg)*) };
}

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use agreement_bench::report;
use agreement_bench::rounds::{measure, Plan};
use agreement_bench::topology::Placement;

/// The most cores (threads) one run takes.
const MAX_CORES: usize = 256;
/// The most timed rounds per core count and strategy (round numbers stay within 32 bits).
const MAX_ROUNDS: u64 = 10_000_000;
/// The fewest timed rounds per core count and strategy (a p99 needs some).
const MIN_ROUNDS: u64 = 10;
/// How long one round may take before the run fails (an oversubscribed host included).
const ROUND_DEADLINE: Duration = Duration::from_secs(10);

/// One two-phase agreement round (prepare, commit) from core 0 to k - 1 others on host
/// threads over URPC rings, one pinned thread per core, by unicast, broadcast and the SKB's
/// multicast tree, against a lock and an acknowledged generation in shared memory; for every k
/// from 2 to N. Writes agreement.csv and agreement.svg.
#[derive(Parser)]
#[command(name = "agreement-bench", after_help = "Progress goes to stderr, results to stdout.")]
struct Cli {
    /// The most cores taking part, at least 2; more than this process may run on makes
    /// threads share host cores (reported as oversubscribed) [default: every core this
    /// process may run on]
    #[arg(long, value_name = "N", value_parser = parse_cores)]
    cores: Option<usize>,
    /// Timed rounds per core count and strategy, at least 10, after a tenth as many untimed
    #[arg(long, value_name = "R", default_value_t = 2000, value_parser = parse_rounds)]
    rounds: u64,
    /// Cluster the cores this many at a time for the multicast tree, instead of by the
    /// host's topology from /sys
    #[arg(long, value_name = "N", value_parser = parse_cluster_size)]
    cluster_size: Option<usize>,
    /// Where agreement.csv and agreement.svg go
    #[arg(long, value_name = "DIR", default_value = "target/bench/agreement")]
    out: PathBuf,
}

fn parse_count(text: &str, least: u64, most: u64) -> Result<u64, String> {
    let value: u64 = text.parse().map_err(|error: std::num::ParseIntError| match error.kind() {
        std::num::IntErrorKind::PosOverflow => "too large".to_owned(),
        _ => format!("`{text}` is not a whole number"),
    })?;
    if value < least {
        return Err(format!("must be at least {least}"));
    }
    if value > most {
        return Err(format!("must be at most {most}"));
    }
    Ok(value)
}

fn parse_cores(text: &str) -> Result<usize, String> {
    parse_count(text, 2, MAX_CORES as u64).map(|cores| cores as usize)
}

fn parse_rounds(text: &str) -> Result<u64, String> {
    parse_count(text, MIN_ROUNDS, MAX_ROUNDS)
}

fn parse_cluster_size(text: &str) -> Result<usize, String> {
    parse_count(text, 1, MAX_CORES as u64).map(|size| size as usize)
}

fn main() -> ExitCode {
    let cli: Cli = match host_cli::parse() {
        Ok(cli) => cli,
        Err(status) => return status,
    };
    let available: Vec<usize> =
        core_affinity::get_core_ids().unwrap_or_default().into_iter().map(|core| core.id).collect();
    if available.is_empty() {
        eprintln!("agreement-bench: cannot tell which cores this process may run on");
        return ExitCode::FAILURE;
    }
    let most = cli.cores.unwrap_or(available.len()).max(2);
    let placement = Placement::new(most, &available, cli.cluster_size);
    let warm_up = (cli.rounds / 10).max(1);
    let shared_note = if placement.oversubscribed() {
        format!(
            "; {most} cores on {} host cores: threads share host cores from k={} on (oversubscribed: those figures measure the scheduler too)",
            available.len(),
            available.len() + 1
        )
    } else {
        String::new()
    };
    eprintln!(
        "[agreement-bench] k = 2..{most} cores on host cores {:?}, {} timed rounds (after {warm_up} untimed) per k and strategy; tree clusters: {}{shared_note}",
        placement.host_cores, cli.rounds, placement.clusters_from
    );

    let started = bench_report::host::utc_now();
    let mut csv = String::from(report::CSV_HEADER);
    let mut all_rows = Vec::new();
    for cores in 2..=most {
        let placement_k =
            Placement { host_cores: placement.host_cores[..cores].to_vec(), ..placement.clone() };
        let routes = match placement.routes(cores) {
            Ok(routes) => routes,
            Err(error) => {
                eprintln!("agreement-bench: cores={cores}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let edges: Vec<String> = routes[2]
            .cores()
            .flat_map(|parent| {
                routes[2].children(parent).iter().map(move |child| format!("{parent}->{child}"))
            })
            .collect();
        eprintln!("[agreement-bench] cores={cores} ({}/{}): measuring", cores - 1, most - 1);
        let clock = Instant::now();
        let plan = Plan { cores, rounds: cli.rounds, warm_up, deadline: ROUND_DEADLINE };
        let measurement = match measure(&plan, &placement_k, &routes).and_then(|m| m.check().map(|()| m)) {
            Ok(measurement) => measurement,
            Err(error) => {
                eprintln!("agreement-bench: cores={cores}: {error}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!("[agreement-bench] cores={cores} done in {:.1} s", clock.elapsed().as_secs_f64());
        println!("multicast tree cores={cores} ({}): {}", placement.clusters_from, edges.join(" "));
        println!("{}", measurement.checked_line());
        for row in report::rows(&measurement, placement_k.oversubscribed()) {
            println!("{}", report::line(&row));
            csv.push_str(&report::csv_line(&row));
            all_rows.push(row);
        }
    }

    let notes = vec![
        bench_report::host::describe(),
        format!(
            "started {started}; {} timed rounds per k and strategy (after {warm_up} untimed), strategies interleaved round by round; host cores {:?}",
            cli.rounds, placement.host_cores
        ),
        format!("tree: the SKB's multicast tree over {}{shared_note}", placement.clusters_from),
    ];
    let svg = report::plot(&all_rows, notes).svg();
    let written = std::fs::create_dir_all(&cli.out)
        .and_then(|()| std::fs::write(cli.out.join("agreement.csv"), &csv))
        .and_then(|()| std::fs::write(cli.out.join("agreement.svg"), svg));
    match written {
        Ok(()) => {
            eprintln!("[agreement-bench] wrote agreement.csv and agreement.svg to {}", cli.out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("agreement-bench: cannot write to {}: {error}", cli.out.display());
            ExitCode::FAILURE
        }
    }
}
