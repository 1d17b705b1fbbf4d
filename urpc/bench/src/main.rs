//! Host benchmark of URPC: for every pair of the chosen cores (threads pinned), the round-trip
//! latency of one cache line bounced with an atomic store and load (the hardware's limit), of
//! URPC, `rtrb` and `crossbeam-channel` with 56-byte messages, and their one-way pipelined
//! throughput. Prints one line per pair and kind and a summary, and writes a CSV and an SVG
//! heatmap of URPC's round trip per pair.
//!
//! The measurements of one pair are interleaved in rounds (every kind once per round), so
//! that noise from other work on the machine spreads over all kinds instead of spoiling one;
//! each figure is the median over its samples.
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

mod heatmap;
mod kinds;
mod stats;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use core_affinity::CoreId;

use kinds::Kind;
use stats::Summary;

/// Measurement rounds per pair; each runs every kind once with 1/ROUNDS of the work.
const ROUNDS: u64 = 20;

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
    let least = ROUNDS * kinds::ROUND_TRIPS_PER_SAMPLE;
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

/// What one pair measured, per kind: round-trip samples (ns), throughput per round (msg/s),
/// and the round trip's ratio to the cache-line limit and to the two-line limit.
struct PairResult {
    client: usize,
    server: usize,
    round_trip: Vec<Summary>,
    throughput: Vec<Option<Summary>>,
    /// Median over the rounds of (this kind's median / the cache line's median) in that round.
    over_cache_line: Vec<f64>,
    /// The same against the two-line limit.
    over_two_lines: Vec<f64>,
}

/// The default work per kind and pair: 1,000,000 round trips (about 4 s a pair) for up to 8
/// pairs, then less, so that 16 cores (120 pairs) still finish in about a minute.
fn default_round_trips(pairs: usize) -> u64 {
    (8_000_000 / pairs.max(1) as u64).clamp(100_000, 1_000_000)
}

fn measure_pair(client: usize, server: usize, round_trips: u64) -> PairResult {
    let (client_core, server_core) = (CoreId { id: client }, CoreId { id: server });
    let round_trips_per_round = round_trips / ROUNDS;
    let messages_per_round = 10 * round_trips_per_round;
    let mut round_trip_samples = vec![Vec::new(); Kind::ALL.len()];
    let mut throughput_samples = vec![Vec::new(); Kind::ALL.len()];
    // Ratios are taken within a round, between measurements a few milliseconds apart, so a
    // change in the machine's load or in where the hypervisor runs our vCPUs cancels out.
    let mut over_cache_line = vec![Vec::new(); Kind::ALL.len()];
    let mut over_two_lines = vec![Vec::new(); Kind::ALL.len()];
    for _ in 0..ROUNDS {
        let mut round_medians = Vec::new();
        for (index, kind) in Kind::ALL.iter().enumerate() {
            let samples = kind.round_trips(client_core, server_core, round_trips_per_round);
            round_medians.push(Summary::of(&samples).median);
            round_trip_samples[index].extend(samples);
            if kind.has_throughput() {
                throughput_samples[index].push(kind.throughput(client_core, server_core, messages_per_round));
            }
        }
        for (index, median) in round_medians.iter().enumerate() {
            over_cache_line[index].push(median / round_medians[kind_index(Kind::CacheLine)]);
            over_two_lines[index].push(median / round_medians[kind_index(Kind::TwoLines)]);
        }
    }
    PairResult {
        client,
        server,
        over_cache_line: over_cache_line.iter().map(|ratios| Summary::of(ratios).median).collect(),
        over_two_lines: over_two_lines.iter().map(|ratios| Summary::of(ratios).median).collect(),
        round_trip: round_trip_samples.iter().map(|samples| Summary::of(samples)).collect(),
        throughput: throughput_samples
            .iter()
            .map(|samples| (!samples.is_empty()).then(|| Summary::of(samples)))
            .collect(),
    }
}

fn kind_index(kind: Kind) -> usize {
    Kind::ALL.iter().position(|&candidate| candidate == kind).unwrap_or_default()
}

fn report_pair(result: &PairResult, csv: &mut String) {
    let pair = format!("{}-{}", result.client, result.server);
    for (index, kind) in Kind::ALL.iter().enumerate() {
        let rtt = &result.round_trip[index];
        println!(
            "{pair:>7} {:<10} rtt  median {:8.1} ns  p10 {:8.1}  p90 {:8.1}  x cacheline {:5.2}  x twolines {:5.2}",
            kind.name(),
            rtt.median,
            rtt.p10,
            rtt.p90,
            result.over_cache_line[index],
            result.over_two_lines[index],
        );
        let _ = writeln!(
            csv,
            "{},{},{},rtt_ns,{:.1},{:.1},{:.1}",
            result.client,
            result.server,
            kind.name(),
            rtt.median,
            rtt.p10,
            rtt.p90
        );
    }
    let urpc_throughput = result.throughput[kind_index(Kind::Urpc)].as_ref().map(|summary| summary.median);
    for (index, kind) in Kind::ALL.iter().enumerate() {
        let Some(throughput) = &result.throughput[index] else { continue };
        println!(
            "{pair:>7} {:<10} tput median {:8.2} Mmsg/s  p10 {:6.2}  p90 {:6.2}  urpc/this {:5.2}",
            kind.name(),
            throughput.median / 1e6,
            throughput.p10 / 1e6,
            throughput.p90 / 1e6,
            urpc_throughput.unwrap_or(f64::NAN) / throughput.median
        );
        let _ = writeln!(
            csv,
            "{},{},{},throughput_msgs_per_s,{:.0},{:.0},{:.0}",
            result.client,
            result.server,
            kind.name(),
            throughput.median,
            throughput.p10,
            throughput.p90
        );
    }
}

fn median_ratio(results: &[PairResult], ratio: impl Fn(&PairResult) -> f64) -> f64 {
    let ratios: Vec<f64> = results.iter().map(ratio).collect();
    Summary::of(&ratios).median
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

    let mut csv = String::from("client_core,server_core,kind,metric,median,p10,p90\n");
    let mut results = Vec::new();
    for (number, &(client, server)) in pairs.iter().enumerate() {
        eprintln!("[urpc-bench] pair {client}-{server} ({}/{})", number + 1, pairs.len());
        let result = measure_pair(client, server, round_trips);
        report_pair(&result, &mut csv);
        results.push(result);
    }

    let urpc = kind_index(Kind::Urpc);
    let rtt = |result: &PairResult, kind: Kind| result.round_trip[kind_index(kind)].median;
    let tput = |result: &PairResult, kind: Kind| {
        result.throughput[kind_index(kind)].as_ref().map_or(f64::NAN, |summary| summary.median)
    };
    println!(
        "urpc rtt / cache-line limit: median {:.2}",
        median_ratio(&results, |result| result.over_cache_line[urpc])
    );
    println!(
        "urpc rtt / two-line limit: median {:.2}",
        median_ratio(&results, |result| result.over_two_lines[urpc])
    );
    println!(
        "urpc rtt / rtrb rtt: median {:.2}; urpc rtt / crossbeam rtt: median {:.2}",
        median_ratio(&results, |result| rtt(result, Kind::Urpc) / rtt(result, Kind::Rtrb)),
        median_ratio(&results, |result| rtt(result, Kind::Urpc) / rtt(result, Kind::Crossbeam)),
    );
    println!(
        "urpc throughput / rtrb: median {:.2}; urpc throughput / crossbeam: median {:.2}",
        median_ratio(&results, |result| tput(result, Kind::Urpc) / tput(result, Kind::Rtrb)),
        median_ratio(&results, |result| tput(result, Kind::Urpc) / tput(result, Kind::Crossbeam)),
    );

    let heatmap_cells: Vec<(usize, usize, f64)> =
        results.iter().map(|result| (result.client, result.server, result.round_trip[urpc].median)).collect();
    let svg = heatmap::svg(&cores, &heatmap_cells, "URPC round trip per core pair (ns, median)");
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
