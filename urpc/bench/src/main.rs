//! Host benchmark of URPC: for every pair of the chosen cores (threads pinned), the round-trip
//! latency of one cache line bounced with an atomic store and load (the hardware's limit), of
//! URPC, `rtrb` and `crossbeam-channel` with 56-byte messages, and their one-way pipelined
//! throughput. Prints one line per pair and kind and a summary, and writes a CSV and an SVG
//! figure with a heatmap per kind.
//!
//! The measurements of one pair are interleaved in rounds (every kind once per round), so
//! that noise from other work on the machine spreads over all kinds instead of spoiling one;
//! each figure is the median over its samples, and every ratio is a ratio of those medians
//! (see `report`). The cache line's median is also kept per round, to notice when the limit
//! itself changed during the run.
//!
//! usage: `urpc-bench [--iters N] [--cores LIST] [--out DIR]` (see `--help`). Exit statuses
//! are those of every host tool (`host-cli`): 2 for a usage error, 1 for a failure; a closed
//! standard output ends the run quietly.

// `println!` and `eprintln!` here and in the modules below are host-cli's, which never panic:
// a closed pipe ends the program quietly (status 0), a full disk with one line and status 1,
// and a failed write to standard error is ignored. The std macros panic on any failed write.
macro_rules! println {
    ($($arg:tt)*) => { host_cli::outln!($($arg)*) };
}
macro_rules! eprintln {
    ($($arg:tt)*) => { host_cli::errln!($($arg)*) };
}

mod kinds;
mod report;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use core_affinity::CoreId;

use kinds::Kind;
use report::{PairResult, RoundRecord};
use stats::Summary;

/// The fewest and the most round-trip rounds per pair: many short rounds, so that a round the
/// hypervisor disturbed can be dropped without losing much.
const MIN_ROUNDS: u64 = 20;
const MAX_ROUNDS: u64 = 500;
/// Round trips each kind aims for in one round (20 samples), which sets the number of rounds.
const ROUND_TRIPS_PER_ROUND: u64 = 20 * kinds::ROUND_TRIPS_PER_SAMPLE;
/// Round trips of one measurement of the limit (the bracket before and after each kind).
const LIMIT_ROUND_TRIPS: u64 = 10 * kinds::ROUND_TRIPS_PER_SAMPLE;
/// Throughput rounds per pair (every queue once per round).
const THROUGHPUT_ROUNDS: u64 = 10;

/// URPC round trip and throughput per pair of host cores (threads pinned), against one cache
/// line bounced between the cores (the hardware's limit), rtrb and crossbeam-channel. Writes
/// results.csv and urpc-rtt-heatmap.svg.
#[derive(Parser)]
#[command(name = "urpc-bench", after_help = "Progress goes to stderr, results to stdout.")]
struct Cli {
    /// Round trips per kind and pair; throughput streams 10 N messages [default: 1000000 for
    /// up to 8 pairs, fewer beyond so that a run stays near a minute, at least 100000]
    #[arg(long, value_name = "N", value_parser = parse_iters)]
    iters: Option<u64>,
    /// Cores to pair up, e.g. 0-3,6 [default: every core this process may run on]
    #[arg(long, value_name = "LIST", value_parser = parse_core_list)]
    cores: Option<CoreList>,
    /// Where results.csv and urpc-rtt-heatmap.svg go
    #[arg(long, value_name = "DIR", default_value = "target/bench/urpc")]
    out: PathBuf,
}

/// The cores of `--cores`, sorted, each once.
#[derive(Clone)]
struct CoreList(Vec<usize>);

struct Options {
    /// Round trips per kind and pair; `None`: scaled to the number of pairs.
    round_trips: Option<u64>,
    cores: Vec<usize>,
    out: PathBuf,
}

fn parse_core_list(text: &str) -> Result<CoreList, String> {
    let mut cores = Vec::new();
    for part in text.split(',').filter(|part| !part.is_empty()) {
        let bad = || format!("bad core list entry `{part}` (expected N or N-M, e.g. 0-3,6)");
        match part.split_once('-') {
            Some((first, last)) => {
                let first: usize = first.parse().map_err(|_| bad())?;
                let last: usize = last.parse().map_err(|_| bad())?;
                if first > last {
                    return Err(format!("core range `{part}` runs backwards"));
                }
                cores.extend(first..=last);
            }
            None => cores.push(part.parse().map_err(|_| bad())?),
        }
    }
    cores.sort_unstable();
    cores.dedup();
    Ok(CoreList(cores))
}

fn parse_iters(text: &str) -> Result<u64, String> {
    let round_trips: u64 = text.parse().map_err(|error: std::num::ParseIntError| match error.kind() {
        std::num::IntErrorKind::PosOverflow => "too large".to_owned(),
        _ => format!("`{text}` is not a whole number"),
    })?;
    let least = MIN_ROUNDS * kinds::ROUND_TRIPS_PER_SAMPLE;
    if round_trips < least {
        return Err(format!("must be at least {least}"));
    }
    Ok(round_trips)
}

/// The command line; `Err` holds the exit status after `--help` (0) or a usage error (2).
fn parse_options() -> Result<Options, ExitCode> {
    let cli: Cli = host_cli::parse()?;
    Ok(Options {
        round_trips: cli.iters,
        cores: cli.cores.map(|CoreList(cores)| cores).unwrap_or_default(),
        out: cli.out,
    })
}

/// The default work per kind and pair: 1,000,000 round trips (about 4 s a pair) for up to 8
/// pairs, then less, so that 16 cores (120 pairs) still finish in about a minute.
fn default_round_trips(pairs: usize) -> u64 {
    (8_000_000 / pairs.max(1) as u64).clamp(100_000, 1_000_000)
}

/// Rounds for `round_trips` per kind: one per [`ROUND_TRIPS_PER_ROUND`], within the bounds.
fn rounds_for(round_trips: u64) -> u64 {
    (round_trips / ROUND_TRIPS_PER_ROUND).clamp(MIN_ROUNDS, MAX_ROUNDS)
}

/// Measures one pair: `rounds_for(round_trips)` rounds, each running every kind once with the
/// one-line limit measured before the first kind and after each (the kinds' order rotates from
/// round to round); then the throughput rounds.
fn measure_pair(client: usize, server: usize, round_trips: u64) -> PairResult {
    let (client_core, server_core) = (CoreId { id: client }, CoreId { id: server });
    let rounds = rounds_for(round_trips);
    let round_trips_per_round = round_trips / rounds;
    let measured: Vec<Kind> = Kind::ALL.iter().copied().filter(|&kind| kind != Kind::CacheLine).collect();
    let limit = || Kind::CacheLine.round_trips(client_core, server_core, LIMIT_ROUND_TRIPS);
    let mut result = PairResult::new(client, server);
    for round in 0..rounds {
        let mut record = RoundRecord::new();
        record.limit(&limit());
        for offset in 0..measured.len() {
            let kind = measured[(round as usize + offset) % measured.len()];
            let samples = kind.round_trips(client_core, server_core, round_trips_per_round);
            record.kind(kind, &samples, &limit());
        }
        result.add_round(record);
    }
    let messages_per_round = 10 * round_trips / THROUGHPUT_ROUNDS;
    let mut throughput_samples = vec![Vec::new(); Kind::ALL.len()];
    for _ in 0..THROUGHPUT_ROUNDS {
        for (index, kind) in Kind::ALL.iter().enumerate() {
            if kind.has_throughput() {
                throughput_samples[index].push(kind.throughput(client_core, server_core, messages_per_round));
            }
        }
    }
    result.throughput = throughput_samples
        .iter()
        .map(|samples| (!samples.is_empty()).then(|| Summary::of(samples)))
        .collect();
    result
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(status) => return status,
    };
    let available: Vec<usize> =
        core_affinity::get_core_ids().unwrap_or_default().into_iter().map(|core| core.id).collect();
    let cores = if options.cores.is_empty() { available.clone() } else { options.cores.clone() };
    if let Some(missing) = cores.iter().find(|core| !available.contains(core)) {
        eprintln!("urpc-bench: core {missing} is not available to this process ({available:?})");
        return ExitCode::from(2);
    }
    if cores.len() < 2 {
        eprintln!("urpc-bench: need at least two cores, have {cores:?}");
        return ExitCode::from(2);
    }
    let pairs: Vec<(usize, usize)> = cores
        .iter()
        .enumerate()
        .flat_map(|(index, &first)| cores[index + 1..].iter().map(move |&second| (first, second)))
        .collect();
    let round_trips = options.round_trips.unwrap_or_else(|| default_round_trips(pairs.len()));
    eprintln!(
        "[urpc-bench] {} pairs of cores {cores:?}, {round_trips} round trips and {} messages per kind and pair",
        pairs.len(),
        10 * round_trips
    );

    let started = bench_report::host::utc_now();
    println!("{}", report::legend());
    let mut csv = String::from(report::CSV_HEADER);
    let mut results = Vec::new();
    for (number, &(client, server)) in pairs.iter().enumerate() {
        eprintln!("[urpc-bench] pair {client}-{server} ({}/{})", number + 1, pairs.len());
        let result = measure_pair(client, server, round_trips);
        for kind in Kind::ALL {
            println!("{}", report::rtt_line(&result, kind));
        }
        for line in Kind::ALL.iter().filter_map(|&kind| report::throughput_line(&result, kind)) {
            println!("{line}");
        }
        println!("{}", report::rounds_line(&result));
        csv.push_str(&report::csv_rows(&result));
        results.push(result);
    }
    let summary = report::summary_lines(&results);
    for line in &summary {
        println!("{line}");
    }

    let topology: Vec<_> = cores.iter().map(|&core| bench_report::host::topology(core)).collect();
    let (groups, group_name) = bench_report::host::groups(&topology);
    let notes = vec![
        bench_report::host::describe(),
        format!(
            "{} pairs of cores {cores:?}, started {started}; per kind and pair {round_trips} round trips in {} interleaved rounds, one sample = the mean of {} round trips",
            pairs.len(),
            rounds_for(round_trips),
            kinds::ROUND_TRIPS_PER_SAMPLE
        ),
        "each pair measured once (client = lower core) and drawn on both sides; ratios: p50 over the kept rounds of the per-round ratio".to_string(),
        summary.first().cloned().unwrap_or_default(),
    ];
    let svg = report::figure(&cores, (&groups, group_name), &results, notes).svg();
    let written = std::fs::create_dir_all(&options.out)
        .and_then(|()| std::fs::write(options.out.join("results.csv"), &csv))
        .and_then(|()| std::fs::write(options.out.join("urpc-rtt-heatmap.svg"), svg));
    match written {
        Ok(()) => {
            eprintln!("[urpc-bench] wrote results.csv and urpc-rtt-heatmap.svg to {}", options.out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("urpc-bench: cannot write to {}: {error}", options.out.display());
            ExitCode::FAILURE
        }
    }
}
