//! The benchmark's results as data: parsing the console lines the boot monitor prints
//! (`latency machine:`, `latency benchmark:`, and one `latency <a>-<b> class=...` line per
//! ordered pair, measured or `failed:`), and writing them as a CSV, a summary, and an SVG
//! figure of heatmaps per ordered core pair (rows measure, columns echo): p50, p99, the raw
//! cache-line limit and p50 over the limit. Portable, so the host tool (`latency-report`) and
//! its tests share it. The log may be QEMU's output or a capture of a board's serial line
//! (CR LF line ends, timestamp prefixes: [`bench_report::capture`]).
//!
//! A failed pair stays a failure all the way: a `failed` row in the CSV with no figures, a
//! hatched `×` cell in every panel, no part in the summary, and a [`Report::problems`] entry
//! that makes the tool exit non-zero. A zero figure (as older builds printed for a timed-out
//! pair) is read as a failure too: it is never a measurement.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

use bench_report::capture::console_lines;
use bench_report::heatmap::{Cell, Core, Figure, Panel};

/// The failure name given to a line whose figures include a zero.
pub const ZERO_FIGURE: &str = "zero-figure";

/// How one ordered pair ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Measured: every figure is at least one counter tick.
    Measured {
        /// Median round trip.
        p50_ns: u64,
        /// 99th percentile round trip.
        p99_ns: u64,
        /// Median raw cache-line round trip on the same pair.
        limit_ns: u64,
    },
    /// No measurement.
    Failed {
        /// The failure's one-word name (`no-pong`, ...).
        failure: String,
        /// What the console said after the name.
        detail: String,
    },
}

/// One ordered pair's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairResult {
    /// The measuring core.
    pub from: u32,
    /// The echoing core.
    pub to: u32,
    /// The measuring core's class.
    pub from_class: String,
    /// The echoing core's class.
    pub to_class: String,
    /// Its figures, or why there are none.
    pub outcome: Outcome,
}

impl PairResult {
    /// The figures `(p50, p99, limit)` of a measured pair.
    pub fn figures(&self) -> Option<(u64, u64, u64)> {
        match self.outcome {
            Outcome::Measured { p50_ns, p99_ns, limit_ns } => Some((p50_ns, p99_ns, limit_ns)),
            Outcome::Failed { .. } => None,
        }
    }
}

/// What the console says about the run as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunInfo {
    /// The device tree's model (`latency machine: ... model=`).
    pub model: Option<String>,
    /// The counter's frequency: its period is the resolution of every figure.
    pub counter_hz: Option<u64>,
    /// Each core's cluster, in core order.
    pub clusters: Vec<u32>,
    /// Ordered pairs the benchmark set out to measure (`latency benchmark: N ordered pairs`).
    pub pairs: Option<usize>,
    /// Timed round trips per pair.
    pub rounds: Option<u64>,
}

/// Parses one pair line; `None` for anything else.
pub fn parse_line(line: &str) -> Option<PairResult> {
    let rest = line.trim().strip_prefix("latency ")?;
    let (pair, rest) = rest.split_once(' ')?;
    let (from, to) = pair.split_once('-')?;
    let (classes, rest) = rest.strip_prefix("class=")?.split_once(' ')?;
    let (from_class, to_class) = classes.split_once('-')?;
    let outcome = match rest.strip_prefix("failed:") {
        Some(reason) => {
            let reason = reason.trim();
            let (failure, detail) = reason.split_once(' ').unwrap_or((reason, ""));
            Outcome::Failed { failure: failure.into(), detail: detail.trim().into() }
        }
        None => {
            let mut fields = rest.split(' ');
            let mut value = |name: &str| -> Option<u64> { fields.next()?.strip_prefix(name)?.parse().ok() };
            let (p50_ns, p99_ns, limit_ns) = (value("p50_ns=")?, value("p99_ns=")?, value("limit_ns=")?);
            if p50_ns == 0 || p99_ns == 0 || limit_ns == 0 {
                Outcome::Failed {
                    failure: ZERO_FIGURE.into(),
                    detail: "(a figure of 0 ns is not a measurement)".into(),
                }
            } else {
                Outcome::Measured { p50_ns, p99_ns, limit_ns }
            }
        }
    };
    Some(PairResult {
        from: from.parse().ok()?,
        to: to.parse().ok()?,
        from_class: from_class.into(),
        to_class: to_class.into(),
        outcome,
    })
}

/// Every pair line of a console log (QEMU's output or a board's serial capture).
pub fn parse_log(log: &str) -> Vec<PairResult> {
    console_lines(log).filter_map(|line| parse_line(&line)).collect()
}

/// The run's facts from a console log.
pub fn parse_run_info(log: &str) -> RunInfo {
    let mut info = RunInfo::default();
    for line in console_lines(log) {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("latency machine: ") {
            let (fields, model) = rest.split_once(" model=").unwrap_or((rest, ""));
            info.model = (!model.is_empty()).then(|| model.into());
            for field in fields.split(' ') {
                if let Some(hz) = field.strip_prefix("counter_hz=") {
                    info.counter_hz = hz.parse().ok();
                } else if let Some(list) = field.strip_prefix("clusters=") {
                    info.clusters = list.split(',').filter_map(|c| c.parse().ok()).collect();
                }
            }
        } else if let Some(rest) = line.strip_prefix("latency benchmark: ") {
            let mut words = rest.split(' ');
            info.pairs = words.next().and_then(|n| n.parse().ok());
            info.rounds = words.nth(2).and_then(|n| n.parse().ok());
        }
    }
    info
}

/// A run's report: what ran, and every pair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The run's facts.
    pub run: RunInfo,
    /// Every pair line, in console order.
    pub pairs: Vec<PairResult>,
}

/// The lower median (the nearest-rank 50th percentile, as the monitor takes it); `None` when
/// empty. NaNs sort as equal to everything, so they never panic.
pub fn median<T: Copy + PartialOrd>(values: &mut [T]) -> Option<T> {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(core::cmp::Ordering::Equal));
    let middle = values.len().checked_sub(1)? / 2;
    values.get(middle).copied()
}

impl Report {
    /// Reads a console log.
    pub fn from_log(log: &str) -> Self {
        Report { run: parse_run_info(log), pairs: parse_log(log) }
    }

    /// The measured pairs.
    pub fn measured(&self) -> impl Iterator<Item = &PairResult> {
        self.pairs.iter().filter(|pair| pair.figures().is_some())
    }

    /// The failed pairs.
    pub fn failed(&self) -> impl Iterator<Item = &PairResult> {
        self.pairs.iter().filter(|pair| pair.figures().is_none())
    }

    /// The cores in the pair lines, with their classes, in order.
    pub fn cores(&self) -> BTreeMap<u32, &str> {
        let mut cores = BTreeMap::new();
        for pair in &self.pairs {
            cores.insert(pair.from, pair.from_class.as_str());
            cores.insert(pair.to, pair.to_class.as_str());
        }
        cores
    }

    /// Ordered pairs of the cores seen that have no line at all.
    pub fn missing(&self) -> Vec<(u32, u32)> {
        let cores: Vec<u32> = self.cores().keys().copied().collect();
        let seen: Vec<(u32, u32)> = self.pairs.iter().map(|pair| (pair.from, pair.to)).collect();
        let mut missing = Vec::new();
        for &from in &cores {
            for &to in cores.iter().filter(|&&to| to != from) {
                if !seen.contains(&(from, to)) {
                    missing.push((from, to));
                }
            }
        }
        missing
    }

    /// Everything that makes this run's figures incomplete: failed pairs, pairs with no line,
    /// fewer pair lines than the benchmark announced, no pair lines at all. Empty for a run
    /// whose every pair was measured.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.pairs.is_empty() {
            problems.push("no `latency <a>-<b> ...` pair lines in the log".to_string());
        }
        for pair in self.failed() {
            if let Outcome::Failed { failure, detail } = &pair.outcome {
                problems.push(format!("pair {}-{} failed: {failure} {detail}", pair.from, pair.to));
            }
        }
        let missing = self.missing();
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|(from, to)| format!("{from}-{to}")).collect();
            problems.push(format!("pairs with no line in the log: {}", list.join(" ")));
        }
        let mut distinct: Vec<(u32, u32)> = self.pairs.iter().map(|pair| (pair.from, pair.to)).collect();
        distinct.sort_unstable();
        distinct.dedup();
        if let Some(announced) = self.run.pairs {
            if distinct.len() < announced {
                problems.push(format!(
                    "the benchmark announced {announced} ordered pairs; the log has lines for {}",
                    distinct.len()
                ));
            }
        }
        problems
    }

    /// The results as CSV with a header line. `status` is `ok` or `failed`; a failed row has
    /// empty figures and its failure's name in `failure`.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "from,to,from_class,to_class,status,p50_ns,p99_ns,limit_ns,p50_over_limit,failure\n",
        );
        for pair in &self.pairs {
            let _ = write!(out, "{},{},{},{},", pair.from, pair.to, pair.from_class, pair.to_class);
            let _ = match &pair.outcome {
                Outcome::Measured { p50_ns, p99_ns, limit_ns } => {
                    let ratio = *p50_ns as f64 / *limit_ns as f64;
                    writeln!(out, "ok,{p50_ns},{p99_ns},{limit_ns},{ratio:.2},")
                }
                Outcome::Failed { failure, .. } => writeln!(out, "failed,,,,,{failure}"),
            };
        }
        out
    }

    /// Summary lines over the measured pairs only, one per class pair (`little-big`, ...),
    /// then one for the failed pairs: medians over pairs of p50, p99 and p50/limit.
    pub fn summary(&self) -> Vec<String> {
        let mut groups: BTreeMap<String, Vec<(u64, u64, f64)>> = BTreeMap::new();
        for pair in &self.pairs {
            if let Some((p50, p99, limit)) = pair.figures() {
                let key = format!("{}-{}", pair.from_class, pair.to_class);
                groups.entry(key).or_default().push((p50, p99, p50 as f64 / limit as f64));
            }
        }
        let mut lines: Vec<String> = groups
            .iter()
            .map(|(classes, figures)| {
                let mut p50: Vec<u64> = figures.iter().map(|f| f.0).collect();
                let mut p99: Vec<u64> = figures.iter().map(|f| f.1).collect();
                let mut ratio: Vec<f64> = figures.iter().map(|f| f.2).collect();
                format!(
                    "{classes}: {} pairs, median over pairs: p50 {} ns, p99 {} ns, p50/limit {:.2}",
                    figures.len(),
                    median(&mut p50).unwrap_or_default(),
                    median(&mut p99).unwrap_or_default(),
                    median(&mut ratio).unwrap_or_default()
                )
            })
            .collect();
        let failed: Vec<String> = self.failed().map(|pair| format!("{}-{}", pair.from, pair.to)).collect();
        lines.push(if failed.is_empty() {
            String::from("failed: 0 pairs")
        } else {
            format!("failed: {} pairs, left out above: {}", failed.len(), failed.join(" "))
        });
        lines
    }

    /// The SVG figure: p50, p99, limit and p50/limit per ordered pair. `made` are lines about
    /// where and when the report was made (the host, the date, the log's name).
    pub fn svg(&self, made: &[String]) -> String {
        self.figure(made).svg()
    }

    /// The figure [`Report::svg`] draws.
    pub fn figure(&self, made: &[String]) -> Figure {
        let cores = self.cores();
        let order: Vec<u32> = cores.keys().copied().collect();
        let index = |core: u32| order.iter().position(|&c| c == core).unwrap_or(0);
        let cluster_known = order.iter().all(|&core| (core as usize) < self.run.clusters.len());
        let axis: Vec<Core> = cores
            .iter()
            .map(|(&core, &class)| Core {
                label: format!("{core}"),
                note: class.into(),
                group: if cluster_known { self.run.clusters[core as usize] } else { 0 },
            })
            .collect();
        let panel = |title: &str, unit: &str, decimals: usize, value: &dyn Fn(u64, u64, u64) -> f64| Panel {
            title: title.into(),
            unit: unit.into(),
            decimals,
            cells: self
                .pairs
                .iter()
                .map(|pair| {
                    let cell = match &pair.outcome {
                        Outcome::Measured { p50_ns, p99_ns, limit_ns } => {
                            Cell::Value(value(*p50_ns, *p99_ns, *limit_ns))
                        }
                        Outcome::Failed { failure, detail } => Cell::Failed(format!("{failure} {detail}")),
                    };
                    (index(pair.from), index(pair.to), cell)
                })
                .collect(),
        };
        let measured = self.measured().count();
        let failed = self.pairs.len() - measured;
        let mut machine = format!(
            "machine: {}",
            self.run.model.as_deref().unwrap_or("unknown (no `latency machine:` line)")
        );
        if cluster_known {
            let mut clusters: Vec<u32> = order.iter().map(|&core| self.run.clusters[core as usize]).collect();
            clusters.dedup();
            let _ = write!(machine, ", {} cores in {} clusters", order.len(), clusters.len());
        }
        if let Some(hz) = self.run.counter_hz.filter(|&hz| hz > 0) {
            let _ = write!(
                machine,
                ", counter {:.1} MHz (figures are multiples of {:.0} ns)",
                hz as f64 / 1e6,
                1e9 / hz as f64
            );
        }
        let rounds = self.run.rounds.map_or(String::from("unknown"), |r| format!("{r}"));
        let mut notes = alloc::vec![
            machine,
            format!(
                "{} ordered pairs: {measured} measured, {failed} failed; {rounds} timed round trips per pair",
                self.pairs.len()
            ),
            String::from(
                "rows: measuring core, columns: echoing core; p50/p99 of single URPC round trips; limit: one raw cache line bounced on the same pair",
            ),
        ];
        notes.extend(made.iter().cloned());
        Figure {
            title: String::from("URPC round trip between EL0 dispatchers, per ordered core pair"),
            notes,
            cores: axis,
            group_name: String::from("cluster"),
            panels: alloc::vec![
                panel("p50 round trip", "ns", 0, &|p50, _, _| p50 as f64),
                panel("p99 round trip", "ns", 0, &|_, p99, _| p99 as f64),
                panel("cache-line limit, p50", "ns", 0, &|_, _, limit| limit as f64),
                panel("p50 / cache-line limit", "× limit", 2, &|p50, _, limit| p50 as f64 / limit as f64),
            ],
            panels_per_row: 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "core 0 up mpidr=0x0\n\
        latency machine: counter_hz=62500000 clusters=0,0,0,0,1,1 model=linux,dummy-virt\n\
        latency benchmark: 3 ordered pairs, 10000 round trips each, at EL0 over URPC\n\
        latency 0-4 class=little-big p50_ns=1568 p99_ns=2704 limit_ns=1024\n\
        latency 3: core 4 stopped pinging\n\
        latency 4-0 class=big-little p50_ns=2000 p99_ns=3424 limit_ns=992\n\
        latency 0-5 class=little-big failed: no-pong (the echoing core answered no ping within 2 s)\n";

    #[test]
    fn parses_measured_and_failed_lines_and_skips_the_rest() {
        let report = Report::from_log(LOG);
        assert_eq!(report.pairs.len(), 3);
        assert_eq!(report.pairs[0].from_class, "little");
        assert_eq!(report.pairs[1].figures(), Some((2000, 3424, 992)));
        assert_eq!(
            report.pairs[2].outcome,
            Outcome::Failed {
                failure: "no-pong".into(),
                detail: "(the echoing core answered no ping within 2 s)".into()
            }
        );
        assert_eq!(
            report.run,
            RunInfo {
                model: Some("linux,dummy-virt".into()),
                counter_hz: Some(62_500_000),
                clusters: alloc::vec![0, 0, 0, 0, 1, 1],
                pairs: Some(3),
                rounds: Some(10_000),
            }
        );
    }

    #[test]
    fn a_failed_pair_is_a_failed_csv_row_without_figures() {
        let csv = Report::from_log(LOG).csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "from,to,from_class,to_class,status,p50_ns,p99_ns,limit_ns,p50_over_limit,failure"
        );
        assert_eq!(lines[1], "0,4,little,big,ok,1568,2704,1024,1.53,");
        assert_eq!(lines[3], "0,5,little,big,failed,,,,,no-pong");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn a_failed_pair_is_left_out_of_the_summary_and_is_a_problem() {
        let report = Report::from_log(LOG);
        let summary = report.summary();
        assert_eq!(
            summary,
            [
                "big-little: 1 pairs, median over pairs: p50 2000 ns, p99 3424 ns, p50/limit 2.02",
                "little-big: 1 pairs, median over pairs: p50 1568 ns, p99 2704 ns, p50/limit 1.53",
                "failed: 1 pairs, left out above: 0-5",
            ]
        );
        let problems = report.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("pair 0-5 failed: no-pong"));
        // 5-0, 4-5 and 5-4 have no line at all.
        assert_eq!(report.missing(), [(4, 5), (5, 0), (5, 4)]);
    }

    #[test]
    fn a_zero_figure_is_a_failure_not_a_measurement() {
        let report = Report::from_log(
            "latency 2-3 class=little-little p50_ns=0 p99_ns=0 limit_ns=0\n\
             latency 3-2 class=little-little p50_ns=1600 p99_ns=2000 limit_ns=1200\n",
        );
        assert_eq!(report.measured().count(), 1);
        assert!(report.csv().contains("2,3,little,little,failed,,,,,zero-figure"));
        assert_eq!(
            report.summary()[0],
            "little-little: 1 pairs, median over pairs: p50 1600 ns, p99 2000 ns, p50/limit 1.33"
        );
        assert_eq!(report.problems().len(), 1);
    }

    #[test]
    fn a_complete_run_has_no_problems() {
        let report = Report::from_log(
            "latency benchmark: 2 ordered pairs, 5 round trips each, at EL0 over URPC\n\
             latency 0-1 class=little-little p50_ns=1600 p99_ns=2000 limit_ns=1200\n\
             latency 1-0 class=little-little p50_ns=1700 p99_ns=2100 limit_ns=1100\n",
        );
        assert_eq!(report.problems(), Vec::<String>::new());
        assert_eq!(Report::from_log("nothing here").problems().len(), 1);
    }

    #[test]
    fn the_figure_marks_the_failed_pair_in_every_panel_and_shows_the_run() {
        let report = Report::from_log(LOG);
        let made = [String::from("report made 2026-01-01 00:00 UTC; host: test")];
        let svg = report.svg(&made);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("0-5: failed, no-pong").count(), 4, "one hatched cell per panel");
        assert!(svg.contains("failed: no measurement"));
        for text in
            ["p50 round trip", "p99 round trip", "p50 / cache-line limit", "× limit", "cluster boundary"]
        {
            assert!(svg.contains(text), "{text}");
        }
        assert!(svg.contains("machine: linux,dummy-virt, 3 cores in 2 clusters, counter 62.5 MHz"));
        assert!(svg.contains("3 ordered pairs: 2 measured, 1 failed; 10000 timed round trips per pair"));
        assert!(svg.contains("report made 2026-01-01 00:00 UTC"));
        // The measured cells are coloured; the failed one takes no value.
        assert!(svg.contains("0-4: 1568 ns") && svg.contains("0-4: 1.53 × limit"));
        assert!(!svg.contains("0-5: 0"));
    }
}
