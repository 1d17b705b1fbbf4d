//! The latency benchmark's decisions, kept apart from the hardware so they are tested on the
//! host: why a pair can fail, the kernel command line options, the console lines the
//! coordinator prints, and the summary over the measured pairs.
//!
//! A pair either has a measurement or a [`Failure`]; no figure stands in for a failure. The
//! messages that carry results refuse zero figures ([`crate::messages::BenchResult`]), so a
//! zero can never travel as if it were a measurement.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::stats::median;

/// Timed round trips per ordered pair (after the warm-up) unless the command line says
/// `bench-rounds=N`.
pub const DEFAULT_ROUNDS: u64 = 10_000;
/// The most `bench-rounds=` may ask for (the samples of one pair must fit the heap).
pub const MAX_ROUNDS: u64 = 1_000_000;
pub use local_protocol::bench::{
    result_timeout_seconds, Failure, SameCore, PATIENCE_SECONDS, READY_TIMEOUT_SECONDS,
    RESULT_SECONDS_PER_MILLION_ROUNDS, RESULT_TIMEOUT_SECONDS,
};

/// The core a failure shows to be silent, if any: the coordinator (`coordinator`) heard
/// nothing from a monitor it asked. `EchoNotReady`: the echoing side never said it was ready;
/// `NoResult`: the measuring side never reported (had only its peer died, its `latency`
/// program would have given up after [`PATIENCE_SECONDS`] and said so). Every other failure
/// came as an answer, so its cores are alive. The coordinator never takes itself for dead.
pub fn silent_core(from: u32, to: u32, failure: Failure, coordinator: u32) -> Option<u32> {
    let silent = match failure {
        Failure::EchoNotReady => to,
        Failure::NoResult => from,
        _ => return None,
    };
    (silent != coordinator).then_some(silent)
}

/// What the benchmark takes from the kernel command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `bench-rounds=N`: timed round trips per pair, clamped to `1..=MAX_ROUNDS`.
    pub rounds: u64,
    /// `bench-fail=A-B[,C-D...]`: ordered pairs (measuring, echoing) whose echoing side is
    /// told not to answer, so that the failure path runs for real (for tests).
    pub fail: Vec<(u32, u32)>,
    /// `bench-unmap`: run the unmap benchmark (`bench-rounds` rounds per core count and
    /// strategy, at most 1,000).
    pub unmap: bool,
    /// `inject=monitor-exit@core<N>` (among other faults, comma-separated): the cores whose
    /// monitor exits on purpose right after its `up` line, bit N for core N, so that the path
    /// of a monitor that ends runs for real (for tests).
    pub inject_exit: u64,
    /// `inject=monitor-exit-in-bench@core<N>`: the cores whose monitor exits on purpose when
    /// first asked to take part in the benchmark, so that a core dying mid-benchmark is seen
    /// for real (for tests).
    pub inject_exit_in_bench: u64,
}

impl Options {
    /// Reads the options from a kernel command line; words it does not know are ignored.
    pub fn from_bootargs(bootargs: &str) -> Self {
        let mut options = Options {
            rounds: DEFAULT_ROUNDS,
            fail: Vec::new(),
            unmap: false,
            inject_exit: 0,
            inject_exit_in_bench: 0,
        };
        for word in bootargs.split_whitespace() {
            if let Some(rounds) = word.strip_prefix("bench-rounds=").and_then(|n| n.parse::<u64>().ok()) {
                options.rounds = rounds.clamp(1, MAX_ROUNDS);
            } else if let Some(faults) = word.strip_prefix("inject=") {
                options.inject_exit |= injected_cores(faults, "monitor-exit@core");
                options.inject_exit_in_bench |= injected_cores(faults, "monitor-exit-in-bench@core");
            } else if word == "bench-unmap" {
                options.unmap = true;
            } else if let Some(pairs) = word.strip_prefix("bench-fail=") {
                options.fail.extend(pairs.split(',').filter_map(|pair| {
                    let (from, to) = pair.split_once('-')?;
                    Some((from.parse().ok()?, to.parse().ok()?))
                }));
            }
        }
        options
    }

    /// Whether the echoing side of `from`-`to` must stay silent.
    pub fn fails(&self, from: u32, to: u32) -> bool {
        self.fail.contains(&(from, to))
    }
}

/// The cores `faults` (the value of one `inject=` word) names for the fault `prefix` (up to the
/// core number), as a mask.
fn injected_cores(faults: &str, prefix: &str) -> u64 {
    let cores = faults.split(',').filter_map(|f| f.strip_prefix(prefix)?.parse::<u32>().ok());
    cores.filter(|&c| c < 64).fold(0, |mask, c| mask | 1 << c)
}

/// A measured pair's console line.
pub fn result_line(from: u32, to: u32, classes: &str, p50_ns: u32, p99_ns: u32, limit_ns: u32) -> String {
    format!("latency {from}-{to} class={classes} p50_ns={p50_ns} p99_ns={p99_ns} limit_ns={limit_ns}")
}

/// A failed pair's console line: `failed:`, the failure's name, what happened.
pub fn failure_line(from: u32, to: u32, classes: &str, failure: Failure) -> String {
    format!("latency {from}-{to} class={classes} failed: {failure}")
}

/// The same-core comparison's console lines: both round trips on `core`, then their ratios to
/// each other and, when this boot measured it (`urpc`: the pair and its EL0 URPC p50), to the
/// cross-core URPC round trip.
pub fn same_core_lines(
    core: u32,
    rounds: u64,
    figures: SameCore,
    urpc: Option<(u32, u32, u32)>,
) -> [String; 2] {
    let ratio = |a: u32, b: u32| {
        if b == 0 {
            String::from("none")
        } else {
            format!("{:.2}", f64::from(a) / f64::from(b))
        }
    };
    let (line, local) = (figures.line, figures.send_local);
    let first = format!(
        "same-core {core} rounds={rounds} line p50_ns={} p99_ns={} send_local p50_ns={} p99_ns={}",
        line.0, line.1, local.0, local.1
    );
    let cross = match urpc {
        Some((a, b, p50)) => format!(
            " urpc {a}-{b} p50_ns={p50} line/urpc={} send_local/urpc={}",
            ratio(line.0, p50),
            ratio(local.0, p50)
        ),
        None => String::from(" urpc none measured"),
    };
    [first, format!("same-core {core} ratios (p50): line/send_local={}{cross}", ratio(line.0, local.0))]
}

/// The machine the benchmark ran on, for the report: the counter's frequency (whose period is
/// the resolution of every figure), each core's cluster in core order, and the device tree's
/// model (last, since it may contain spaces).
pub fn machine_line(counter_hz: u64, clusters: &[u32], model: &str) -> String {
    let clusters: Vec<String> = clusters.iter().map(|c| format!("{c}")).collect();
    format!("latency machine: counter_hz={counter_hz} clusters={} model={model}", clusters.join(","))
}

/// The measured pairs' p50s by cluster relation, and the pairs that failed.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    same_cluster: Vec<u32>,
    cross_cluster: Vec<u32>,
    failed: Vec<(u32, u32)>,
}

impl Summary {
    /// Counts a measured pair.
    pub fn measured(&mut self, same_cluster: bool, p50_ns: u32) {
        if same_cluster {
            self.same_cluster.push(p50_ns);
        } else {
            self.cross_cluster.push(p50_ns);
        }
    }

    /// Counts a failed pair (it takes no part in the medians).
    pub fn failed(&mut self, from: u32, to: u32) {
        self.failed.push((from, to));
    }

    /// `latency summary: same-cluster pairs=N p50_median_ns=M cross-cluster ... failed=K`,
    /// the failed pairs listed; a median over no pairs is `none`, never 0.
    pub fn line(&self) -> String {
        let median_of = |values: &[u32]| median(values).map_or(String::from("none"), |m| format!("{m}"));
        let mut line = format!(
            "latency summary: same-cluster pairs={} p50_median_ns={} cross-cluster pairs={} p50_median_ns={} failed={}",
            self.same_cluster.len(),
            median_of(&self.same_cluster),
            self.cross_cluster.len(),
            median_of(&self.cross_cluster),
            self.failed.len()
        );
        if !self.failed.is_empty() {
            let pairs: Vec<String> = self.failed.iter().map(|(from, to)| format!("{from}-{to}")).collect();
            line.push_str(&format!(" ({})", pairs.join(" ")));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_for_a_result_grows_with_the_round_trips() {
        assert_eq!(result_timeout_seconds(10_000), 31);
        assert_eq!(result_timeout_seconds(1_000_000), 80);
        assert_eq!(
            result_timeout_seconds(MAX_ROUNDS),
            RESULT_TIMEOUT_SECONDS + RESULT_SECONDS_PER_MILLION_ROUNDS
        );
        assert_eq!(result_timeout_seconds(u64::MAX), u64::MAX.div_ceil(1_000_000) + RESULT_TIMEOUT_SECONDS);
    }

    #[test]
    fn only_a_silence_marks_a_core_dead_and_never_the_coordinator() {
        assert_eq!(silent_core(0, 3, Failure::EchoNotReady, 0), Some(3));
        assert_eq!(silent_core(3, 4, Failure::NoResult, 0), Some(3));
        assert_eq!(silent_core(2, 0, Failure::EchoNotReady, 0), None, "the coordinator itself");
        assert_eq!(silent_core(0, 2, Failure::NoResult, 0), None, "the coordinator itself");
        for answered in [Failure::NoPong, Failure::RingFull, Failure::NoBounce, Failure::GrantRefused] {
            assert_eq!(silent_core(1, 2, answered, 0), None, "{answered}: an answer came");
        }
    }

    #[test]
    fn a_failed_pair_prints_a_failed_line_with_no_figures() {
        let line = failure_line(2, 3, "little-little", Failure::NoPong);
        assert_eq!(
            line,
            "latency 2-3 class=little-little failed: no-pong (the echoing core answered no ping within 2 s)"
        );
        assert!(!line.contains("_ns="));
    }

    #[test]
    fn options_from_the_command_line() {
        let options = Options::from_bootargs("console=x bench bench-rounds=500 bench-fail=2-3,4-0,junk");
        assert_eq!(
            options,
            Options {
                rounds: 500,
                fail: alloc::vec![(2, 3), (4, 0)],
                unmap: false,
                inject_exit: 0,
                inject_exit_in_bench: 0
            }
        );
        let injected =
            Options::from_bootargs("inject=panic@core1,monitor-exit@core0 inject=monitor-exit@core5");
        assert_eq!(injected.inject_exit, 0b10_0001);
        let in_bench = Options::from_bootargs("inject=monitor-exit-in-bench@core3");
        assert_eq!((in_bench.inject_exit, in_bench.inject_exit_in_bench), (0, 0b1000));
        assert_eq!(Options::from_bootargs("inject=monitor-exit@core64 inject=monitor-exit@1").inject_exit, 0);
        assert!(Options::from_bootargs("bench-unmap bench-rounds=20").unmap);
        assert!(options.fails(2, 3) && !options.fails(3, 2));
        assert_eq!(Options::from_bootargs("bench-rounds=0").rounds, 1);
        assert_eq!(Options::from_bootargs("bench-rounds=x").rounds, DEFAULT_ROUNDS);
    }

    #[test]
    fn the_summary_leaves_failed_pairs_out_and_never_prints_a_zero_median() {
        let mut summary = Summary::default();
        summary.measured(true, 1000);
        summary.measured(true, 3000);
        summary.measured(true, 2000);
        summary.failed(2, 3);
        assert_eq!(
            summary.line(),
            "latency summary: same-cluster pairs=3 p50_median_ns=2000 cross-cluster pairs=0 p50_median_ns=none failed=1 (2-3)"
        );
    }

    #[test]
    fn the_machine_line_lists_clusters_in_core_order() {
        assert_eq!(
            machine_line(62_500_000, &[0, 0, 1], "linux,dummy-virt"),
            "latency machine: counter_hz=62500000 clusters=0,0,1 model=linux,dummy-virt"
        );
    }

    #[test]
    fn same_core_lines_give_both_round_trips_and_their_ratios() {
        let figures = SameCore { line: (3000, 5000), send_local: (2500, 4000) };
        let [first, second] = same_core_lines(0, 10000, figures, Some((0, 1, 400)));
        assert_eq!(
            first,
            "same-core 0 rounds=10000 line p50_ns=3000 p99_ns=5000 send_local p50_ns=2500 p99_ns=4000"
        );
        assert_eq!(
            second,
            "same-core 0 ratios (p50): line/send_local=1.20 urpc 0-1 p50_ns=400 line/urpc=7.50 send_local/urpc=6.25"
        );
        let [_, without] = same_core_lines(2, 5, figures, None);
        assert_eq!(without, "same-core 2 ratios (p50): line/send_local=1.20 urpc none measured");
    }
}
