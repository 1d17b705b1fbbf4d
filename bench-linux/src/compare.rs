//! Linux and the multikernel side by side, pair by pair, and the goals.
//!
//! For each ordered pair measured on both systems: the raw one-line round trip (Linux's p50
//! against the multikernel's `limit_ns`, the p50 of the same bounce between its two EL0
//! `latency` programs) and the URPC round trip (Linux's `urpc_p50_ns` against the
//! multikernel's `p50_ns`). Every ratio is multikernel / Linux, so below 1 means the
//! multikernel is faster. The goals (issue 13) are read off the medians over pairs; a goal
//! missed is reported, never an error: these are benchmarks, not tests.
//!
//! The same goals apply to the CPU drivers' own figures (`urpc <a>-<b> rtt_ns=<n>
//! limit_ns=<m>`, the boot core against every other core at boot, timed the same way: medians
//! of single round trips), compared with Linux's figures for the same pairs
//! ([`Comparison::with_kernel_lines`], [`Comparison::kernel_summary`]).

use std::fmt::Write;

use latency::{median, Report};

use crate::linux::{Figures, LinuxRun, Outcome};

/// The goals, as the largest acceptable ratio.
pub struct Goal {
    /// What is compared.
    pub what: &'static str,
    /// The largest ratio that meets it.
    pub at_most: f64,
    /// The ratio of one pair, when both systems measured it.
    pub ratio: fn(&Row) -> Option<f64>,
}

/// The multikernel's raw limit at most 1.1 times Linux's raw one-line p50.
pub const RAW_LIMIT_GOAL: Goal =
    Goal { what: "multikernel raw limit / Linux raw p50", at_most: 1.1, ratio: Row::limit_ratio };
/// The EL0 URPC p50 at most 1.5 times the raw limit in the same boot.
pub const URPC_OVER_LIMIT_GOAL: Goal =
    Goal { what: "multikernel URPC p50 / its raw limit", at_most: 1.5, ratio: Row::urpc_over_limit };
/// The EL0 URPC p50 at most 1.2 times URPC between Linux threads.
pub const URPC_GOAL: Goal =
    Goal { what: "multikernel URPC p50 / Linux URPC p50", at_most: 1.2, ratio: Row::urpc_ratio };

/// One ordered pair on both systems (either side may be missing or failed).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The measuring core.
    pub from: u32,
    /// The echoing core.
    pub to: u32,
    /// The multikernel's class pair (`little-big`), when it measured the pair.
    pub class: Option<String>,
    /// Linux's figures.
    pub linux: Option<Figures>,
    /// Why Linux has none (`missing` when it printed no line).
    pub linux_failure: Option<String>,
    /// The multikernel's `(p50, p99, limit)`.
    pub multikernel: Option<(u64, u64, u64)>,
    /// Why the multikernel has none.
    pub multikernel_failure: Option<String>,
}

impl Row {
    /// Multikernel raw limit / Linux raw p50.
    pub fn limit_ratio(&self) -> Option<f64> {
        Some(self.multikernel?.2 as f64 / self.linux?.p50_ns as f64)
    }

    /// Multikernel URPC p50 / Linux URPC p50.
    pub fn urpc_ratio(&self) -> Option<f64> {
        Some(self.multikernel?.0 as f64 / self.linux?.urpc_p50_ns as f64)
    }

    /// Multikernel URPC p50 / its raw limit (same boot).
    pub fn urpc_over_limit(&self) -> Option<f64> {
        let (p50, _, limit) = self.multikernel?;
        Some(p50 as f64 / limit as f64)
    }
}

/// One `urpc <a>-<b> rtt_ns=<n> limit_ns=<m>` line of the CPU drivers' boot figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelPair {
    /// The measuring core (the boot core).
    pub from: u32,
    /// The answering core.
    pub to: u32,
    /// URPC round trip p50.
    pub rtt_ns: u64,
    /// Raw one-line round trip p50 on the same pair.
    pub limit_ns: u64,
}

impl KernelPair {
    /// The pair a console line gives, if it is a well-formed `urpc <a>-<b> ...` figure line
    /// (positive figures; `urpc-wait` lines and failures are not).
    pub fn parse(line: &str) -> Option<KernelPair> {
        let mut fields = line.strip_prefix("urpc ")?.split(' ');
        let (from, to) = fields.next()?.split_once('-')?;
        let rtt_ns = fields.next()?.strip_prefix("rtt_ns=")?.parse().ok()?;
        let limit_ns = fields.next()?.strip_prefix("limit_ns=")?.parse().ok()?;
        if fields.next().is_some() || rtt_ns == 0 || limit_ns == 0 {
            return None;
        }
        Some(KernelPair { from: from.parse().ok()?, to: to.parse().ok()?, rtt_ns, limit_ns })
    }
}

/// The side-by-side comparison.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    /// One row per ordered pair either system has a line for, ordered by pair.
    pub rows: Vec<Row>,
    /// Whether a multikernel run was given at all.
    pub with_multikernel: bool,
    /// The CPU drivers' boot figures, when the multikernel's log has them.
    pub kernel: Vec<KernelPair>,
    /// Linux's figures by pair, for the kernel's goals.
    linux: Vec<((u32, u32), Figures)>,
}

/// `goal <what> <= <at_most>: median over pairs ...` for the ratios of the pairs measured on
/// both sides.
fn goal_line(what: &str, at_most: f64, mut ratios: Vec<f64>) -> String {
    let within = ratios.iter().filter(|&&r| r <= at_most).count();
    let (low, high) = ratios.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    match median(&mut ratios) {
        None => format!("goal {what} <= {at_most}: no pair measured on both"),
        Some(m) => format!(
            "goal {what} <= {at_most}: median over pairs {m:.2} (range {low:.2}-{high:.2}), {within} of {} pairs within: {}",
            ratios.len(),
            if m <= at_most { "met" } else { "NOT met" }
        ),
    }
}

/// A ratio with two decimals, or `-`.
fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |r| format!("{r:.2}"))
}

/// A figure in ns, or `-`.
fn ns(value: Option<u64>) -> String {
    value.map_or_else(|| "-".into(), |n| n.to_string())
}

impl Comparison {
    /// Joins the two runs by pair; `multikernel` is `None` for a Linux-only report.
    pub fn new(linux: &LinuxRun, multikernel: Option<&Report>) -> Self {
        let mut keys: Vec<(u32, u32)> = linux.pairs.iter().map(|p| (p.from, p.to)).collect();
        if let Some(report) = multikernel {
            keys.extend(report.pairs.iter().map(|p| (p.from, p.to)));
        }
        keys.sort_unstable();
        keys.dedup();
        let rows = keys
            .into_iter()
            .map(|(from, to)| {
                let line = linux.pairs.iter().find(|p| (p.from, p.to) == (from, to));
                let linux_failure = match line.map(|p| &p.outcome) {
                    None => Some("missing".to_string()),
                    Some(Outcome::Failed { failure, .. }) => Some(failure.clone()),
                    Some(Outcome::Measured(_)) => None,
                };
                let mk = multikernel.and_then(|r| r.pairs.iter().find(|p| (p.from, p.to) == (from, to)));
                let multikernel_failure = match (multikernel, mk) {
                    (None, _) => None,
                    (Some(_), None) => Some("missing".to_string()),
                    (Some(_), Some(pair)) => match &pair.outcome {
                        latency::Outcome::Failed { failure, .. } => Some(failure.clone()),
                        latency::Outcome::Measured { .. } => None,
                    },
                };
                Row {
                    from,
                    to,
                    class: mk.map(|p| format!("{}-{}", p.from_class, p.to_class)),
                    linux: linux.figures(from, to),
                    linux_failure,
                    multikernel: mk.and_then(|p| p.figures()),
                    multikernel_failure,
                }
            })
            .collect();
        let linux =
            linux.pairs.iter().filter_map(|p| Some(((p.from, p.to), linux.figures(p.from, p.to)?))).collect();
        Comparison { rows, with_multikernel: multikernel.is_some(), kernel: Vec::new(), linux }
    }

    /// Adds the CPU drivers' boot figures found in the multikernel's console log.
    pub fn with_kernel_lines(mut self, log: &str) -> Self {
        self.kernel = log.lines().filter_map(|line| KernelPair::parse(line.trim_end())).collect();
        self
    }

    /// The kernel's figures against the same goals: its raw limit and URPC round trip against
    /// Linux's for the same pair, and its URPC round trip against its own limit. Nothing when
    /// the log had no kernel figures.
    pub fn kernel_summary(&self) -> Vec<String> {
        if self.kernel.is_empty() {
            return Vec::new();
        }
        let linux = |pair: &KernelPair| {
            self.linux.iter().find(|(key, _)| *key == (pair.from, pair.to)).map(|(_, f)| *f)
        };
        let mut limits: Vec<u64> = self.kernel.iter().map(|p| p.limit_ns).collect();
        let mut rtts: Vec<u64> = self.kernel.iter().map(|p| p.rtt_ns).collect();
        let both: Vec<(&KernelPair, Figures)> =
            self.kernel.iter().filter_map(|p| Some((p, linux(p)?))).collect();
        vec![
            format!(
                "kernel (CPU drivers' boot figures): {} pairs measured, median over pairs: raw limit {} ns, URPC p50 {} ns",
                self.kernel.len(),
                ns(median(&mut limits)),
                ns(median(&mut rtts))
            ),
            goal_line(
                "kernel raw limit / Linux raw p50",
                RAW_LIMIT_GOAL.at_most,
                both.iter().map(|(p, f)| p.limit_ns as f64 / f.p50_ns as f64).collect(),
            ),
            goal_line(
                "kernel URPC p50 / its raw limit",
                URPC_OVER_LIMIT_GOAL.at_most,
                self.kernel.iter().map(|p| p.rtt_ns as f64 / p.limit_ns as f64).collect(),
            ),
            goal_line(
                "kernel URPC p50 / Linux URPC p50",
                URPC_GOAL.at_most,
                both.iter().map(|(p, f)| p.rtt_ns as f64 / f.urpc_p50_ns as f64).collect(),
            ),
        ]
    }

    /// One line per pair: `linux/multikernel <a>-<b>: raw limit <linux> vs <multikernel> ns
    /// (ratio r), urpc <linux> vs <multikernel> ns (ratio s)`, ratios multikernel / Linux.
    pub fn lines(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|row| {
                let mut line = format!(
                    "linux/multikernel {}-{}: raw limit {} vs {} ns (ratio {}), urpc {} vs {} ns (ratio {})",
                    row.from,
                    row.to,
                    ns(row.linux.map(|f| f.p50_ns)),
                    ns(row.multikernel.map(|m| m.2)),
                    ratio(row.limit_ratio()),
                    ns(row.linux.map(|f| f.urpc_p50_ns)),
                    ns(row.multikernel.map(|m| m.0)),
                    ratio(row.urpc_ratio()),
                );
                if let Some(failure) = &row.linux_failure {
                    let _ = write!(line, "; linux: {failure}");
                }
                if let Some(failure) = &row.multikernel_failure {
                    let _ = write!(line, "; multikernel: {failure}");
                }
                line
            })
            .collect()
    }

    /// The medians over the pairs measured on both sides, and each goal met or not.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let both: Vec<&Row> =
            self.rows.iter().filter(|r| r.linux.is_some() && r.multikernel.is_some()).collect();
        let mut linux_raw: Vec<u64> = self.rows.iter().filter_map(|r| Some(r.linux?.p50_ns)).collect();
        let mut linux_urpc: Vec<u64> = self.rows.iter().filter_map(|r| Some(r.linux?.urpc_p50_ns)).collect();
        lines.push(format!(
            "linux: {} pairs measured, median over pairs: raw one-line p50 {} ns, URPC p50 {} ns",
            linux_raw.len(),
            ns(median(&mut linux_raw)),
            ns(median(&mut linux_urpc))
        ));
        if !self.with_multikernel {
            return lines;
        }
        let mut mk_limit: Vec<u64> = self.rows.iter().filter_map(|r| Some(r.multikernel?.2)).collect();
        let mut mk_urpc: Vec<u64> = self.rows.iter().filter_map(|r| Some(r.multikernel?.0)).collect();
        lines.push(format!(
            "multikernel: {} pairs measured, median over pairs: raw limit {} ns, URPC p50 {} ns",
            mk_limit.len(),
            ns(median(&mut mk_limit)),
            ns(median(&mut mk_urpc))
        ));
        for goal in [&RAW_LIMIT_GOAL, &URPC_OVER_LIMIT_GOAL, &URPC_GOAL] {
            lines.push(goal_line(
                goal.what,
                goal.at_most,
                both.iter().filter_map(|r| (goal.ratio)(r)).collect(),
            ));
        }
        lines
    }

    /// The comparison as CSV with a header line; empty cells where a side has no figure.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "from,to,class,linux_p50_ns,linux_p99_ns,linux_urpc_p50_ns,linux_urpc_p99_ns,linux_status,\
             multikernel_limit_ns,multikernel_p50_ns,multikernel_p99_ns,multikernel_status,\
             limit_ratio,urpc_ratio,multikernel_urpc_over_limit\n",
        );
        let cell = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
        let fraction = |v: Option<f64>| v.map(|r| format!("{r:.3}")).unwrap_or_default();
        for row in &self.rows {
            let linux_status = row.linux_failure.clone().unwrap_or_else(|| "ok".into());
            let mk_status = match (&row.multikernel_failure, self.with_multikernel) {
                (Some(failure), _) => failure.clone(),
                (None, true) => "ok".into(),
                (None, false) => "not-run".into(),
            };
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{linux_status},{},{},{},{mk_status},{},{},{}",
                row.from,
                row.to,
                row.class.as_deref().unwrap_or(""),
                cell(row.linux.map(|f| f.p50_ns)),
                cell(row.linux.map(|f| f.p99_ns)),
                cell(row.linux.map(|f| f.urpc_p50_ns)),
                cell(row.linux.and_then(|f| f.urpc_p99_ns)),
                cell(row.multikernel.map(|m| m.2)),
                cell(row.multikernel.map(|m| m.0)),
                cell(row.multikernel.map(|m| m.1)),
                fraction(row.limit_ratio()),
                fraction(row.urpc_ratio()),
                fraction(row.urpc_over_limit()),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINUX: &str = "\
linux machine: cpus=2 counter_hz=62500000 kernel=6.12.117+deb13-arm64
linux benchmark: 2 ordered pairs, 1000 round trips each, pinned threads
linux 0-1 p50_ns=250 p99_ns=352 urpc_p50_ns=400 urpc_p99_ns=1056
linux 1-0 failed: no-pong (the echoing core answered no ping within 2 s)
linux done: 1 measured, 1 failed
";

    const MULTIKERNEL: &str = "\
latency machine: counter_hz=62500000 clusters=0,0 model=linux,dummy-virt
latency benchmark: 3 ordered pairs, 1000 round trips each, at EL0 over URPC
latency 0-1 class=little-little p50_ns=384 p99_ns=656 limit_ns=320
latency 1-0 class=little-little p50_ns=368 p99_ns=544 limit_ns=320
latency 0-2 class=little-little failed: no-pong (the echoing core answered no ping within 2 s)
";

    fn comparison() -> Comparison {
        Comparison::new(&LinuxRun::from_log(LINUX), Some(&Report::from_log(MULTIKERNEL)))
    }

    #[test]
    fn pairs_line_up_with_ratios_multikernel_over_linux() {
        let c = comparison();
        let pairs: Vec<(u32, u32)> = c.rows.iter().map(|r| (r.from, r.to)).collect();
        assert_eq!(pairs, [(0, 1), (0, 2), (1, 0)]);
        assert_eq!(c.rows[0].limit_ratio(), Some(320.0 / 250.0));
        assert_eq!(c.rows[0].urpc_ratio(), Some(384.0 / 400.0));
        assert_eq!(c.rows[0].urpc_over_limit(), Some(384.0 / 320.0));
        assert_eq!(
            c.lines(),
            [
                "linux/multikernel 0-1: raw limit 250 vs 320 ns (ratio 1.28), urpc 400 vs 384 ns (ratio 0.96)",
                "linux/multikernel 0-2: raw limit - vs - ns (ratio -), urpc - vs - ns (ratio -); linux: missing; multikernel: no-pong",
                "linux/multikernel 1-0: raw limit - vs 320 ns (ratio -), urpc - vs 368 ns (ratio -); linux: no-pong",
            ]
        );
    }

    #[test]
    fn the_summary_gives_each_goal_from_pairs_measured_on_both() {
        let summary = comparison().summary();
        assert_eq!(
            summary,
            [
                "linux: 1 pairs measured, median over pairs: raw one-line p50 250 ns, URPC p50 400 ns",
                "multikernel: 2 pairs measured, median over pairs: raw limit 320 ns, URPC p50 368 ns",
                "goal multikernel raw limit / Linux raw p50 <= 1.1: median over pairs 1.28 (range 1.28-1.28), 0 of 1 pairs within: NOT met",
                "goal multikernel URPC p50 / its raw limit <= 1.5: median over pairs 1.20 (range 1.20-1.20), 1 of 1 pairs within: met",
                "goal multikernel URPC p50 / Linux URPC p50 <= 1.2: median over pairs 0.96 (range 0.96-0.96), 1 of 1 pairs within: met",
            ]
        );
    }

    #[test]
    fn the_csv_has_a_row_per_pair_and_empty_cells_for_missing_figures() {
        let csv = comparison().csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].split(',').count(), 15);
        assert_eq!(lines[1], "0,1,little-little,250,352,400,1056,ok,320,384,656,ok,1.280,0.960,1.200");
        assert_eq!(lines[2], "0,2,little-little,,,,,missing,,,,no-pong,,,");
        assert_eq!(lines[3], "1,0,little-little,,,,,no-pong,320,368,544,ok,,,1.150");
        assert!(lines.iter().all(|l| l.split(',').count() == 15), "{csv}");
    }

    #[test]
    fn a_linux_only_report_has_no_multikernel_figures_or_goals() {
        let c = Comparison::new(&LinuxRun::from_log(LINUX), None);
        assert_eq!(c.summary().len(), 1);
        assert!(c.csv().lines().nth(1).is_some_and(|l| l.ends_with(",ok,,,,not-run,,,")), "{}", c.csv());
        assert_eq!(c.rows.len(), 2);
    }

    /// The CPU drivers' `urpc` lines are read and held against the same goals, against Linux's
    /// figures for the same pair; other `urpc` lines (the wait comparison, a failure) are not
    /// figures.
    #[test]
    fn the_kernel_figures_meet_the_same_goals_against_linux() {
        let log = "urpc 0-1 rtt_ns=352 limit_ns=256\n\
                   urpc 0-2 rtt_ns=480 limit_ns=240\n\
                   urpc 0-3 measurement failed: the core stopped answering\n\
                   urpc-wait 0-1 mode=asleep-flag rtt_ns=70784 sgis_per_10k_messages=9996\n\
                   urpc 0-4 rtt_ns=0 limit_ns=256\n";
        let c = comparison().with_kernel_lines(log);
        assert_eq!(c.kernel.len(), 2);
        assert_eq!(c.kernel[0], KernelPair { from: 0, to: 1, rtt_ns: 352, limit_ns: 256 });
        assert_eq!(
            c.kernel_summary(),
            [
                "kernel (CPU drivers' boot figures): 2 pairs measured, median over pairs: raw limit 240 ns, URPC p50 352 ns",
                "goal kernel raw limit / Linux raw p50 <= 1.1: median over pairs 1.02 (range 1.02-1.02), 1 of 1 pairs within: met",
                "goal kernel URPC p50 / its raw limit <= 1.5: median over pairs 1.38 (range 1.38-2.00), 1 of 2 pairs within: met",
                "goal kernel URPC p50 / Linux URPC p50 <= 1.2: median over pairs 0.88 (range 0.88-0.88), 1 of 1 pairs within: met",
            ]
        );
        assert!(comparison().kernel_summary().is_empty(), "no kernel lines, no kernel summary");
    }
}
