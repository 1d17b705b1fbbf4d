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
//! usage: `urpc-bench [--iters N] [--cores LIST] [--out DIR]` (see `--help`).

mod kinds;
mod report;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use core_affinity::CoreId;

use kinds::Kind;
use report::PairResult;
use stats::Summary;

const USAGE: &str = "\
usage: urpc-bench [--iters N] [--cores LIST] [--out DIR]
  --iters N     round trips per kind and pair; throughput streams 10 N messages (default:
                1000000 for up to 8 pairs, fewer beyond so that a run stays near a minute,
                at least 100000)
  --cores LIST  cores to pair up, e.g. 0-3,6 (default: every core this process may run on)
  --out DIR     where results.csv and urpc-rtt-heatmap.svg go (default target/bench/urpc)
Progress goes to stderr, results to stdout.";

/// Measurement rounds per pair; each runs every kind once with 1/ROUNDS of the work.
const ROUNDS: u64 = 20;

struct Options {
    /// Round trips per kind and pair; `None`: scaled to the number of pairs.
    round_trips: Option<u64>,
    cores: Vec<usize>,
    out: PathBuf,
}

fn parse_core_list(text: &str) -> Result<Vec<usize>, String> {
    let mut cores = Vec::new();
    for part in text.split(',').filter(|part| !part.is_empty()) {
        let bad = || format!("bad core list entry `{part}`");
        match part.split_once('-') {
            Some((first, last)) => {
                let first: usize = first.parse().map_err(|_| bad())?;
                let last: usize = last.parse().map_err(|_| bad())?;
                cores.extend(first..=last);
            }
            None => cores.push(part.parse().map_err(|_| bad())?),
        }
    }
    cores.sort_unstable();
    cores.dedup();
    Ok(cores)
}

fn parse_options() -> Result<Options, String> {
    let mut options =
        Options { round_trips: None, cores: Vec::new(), out: PathBuf::from("target/bench/urpc") };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--iters" => {
                let text = value()?;
                let round_trips: u64 = text.parse().map_err(|_| format!("bad --iters `{text}`"))?;
                options.round_trips = Some(round_trips);
                if round_trips < ROUNDS * kinds::ROUND_TRIPS_PER_SAMPLE {
                    return Err(format!(
                        "--iters must be at least {}",
                        ROUNDS * kinds::ROUND_TRIPS_PER_SAMPLE
                    ));
                }
            }
            "--cores" => options.cores = parse_core_list(&value()?)?,
            "--out" => options.out = PathBuf::from(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
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
    let mut limit_per_round = Vec::new();
    for _ in 0..ROUNDS {
        for (index, kind) in Kind::ALL.iter().enumerate() {
            let samples = kind.round_trips(client_core, server_core, round_trips_per_round);
            if *kind == Kind::CacheLine {
                limit_per_round.push(Summary::of(&samples).median);
            }
            round_trip_samples[index].extend(samples);
            if kind.has_throughput() {
                throughput_samples[index].push(kind.throughput(client_core, server_core, messages_per_round));
            }
        }
    }
    PairResult {
        client,
        server,
        round_trip: round_trip_samples.iter().map(|samples| Summary::of(samples)).collect(),
        throughput: throughput_samples
            .iter()
            .map(|samples| (!samples.is_empty()).then(|| Summary::of(samples)))
            .collect(),
        limit_per_round,
    }
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("urpc-bench: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if message.is_empty() { 0 } else { 2 });
        }
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
        println!("{}", report::drift_line(&result));
        csv.push_str(&report::csv_rows(&result));
        results.push(result);
    }
    let summary = report::summary_lines(&results);
    for line in &summary {
        println!("{line}");
    }

    let topology: Vec<_> = cores.iter().map(|&core| bench_report::host::topology(core)).collect();
    let (groups, group_name) = report::groups(&topology);
    let notes = vec![
        bench_report::host::describe(),
        format!(
            "{} pairs of cores {cores:?}, started {started}; per kind and pair {round_trips} round trips in {ROUNDS} interleaved rounds, one sample = the mean of {} round trips",
            pairs.len(),
            kinds::ROUND_TRIPS_PER_SAMPLE
        ),
        "each pair measured once (client = lower core) and drawn on both sides; x limit = urpc median / cacheline median of the pair".to_string(),
        summary.last().cloned().unwrap_or_default(),
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
