//! The unmap experiment's report (`scripts/run bench unmap`): the console's
//! `unmap cores=<k> strategy=<s> p50_ns=<n> p99_ns=<n> rounds=<r>` lines as rows, a CSV and a
//! line plot of p50 against k, one line per strategy. Lines that do not parse are skipped and
//! counted, never guessed at.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::lineplot::{LinePlot, Series};

/// The strategies in the order the monitor measures them.
pub const STRATEGIES: [&str; 4] = ["shared-tlbi", "unicast", "broadcast", "tree"];

/// One measured core count and strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Cores taking part (the initiator and k - 1 others).
    pub cores: u32,
    /// One of [`STRATEGIES`].
    pub strategy: String,
    /// Median unmap latency in nanoseconds.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Rounds that completed.
    pub rounds: u64,
    /// Rounds that did not (0 when the line says none).
    pub failed: u64,
}

/// Reads one console line; `None` for anything that is not a complete measurement line.
pub fn parse_line(line: &str) -> Option<Row> {
    let rest = line.trim_end().strip_prefix("unmap cores=")?;
    let mut fields = rest.split(' ');
    let cores = fields.next()?.parse().ok()?;
    let strategy = fields.next()?.strip_prefix("strategy=")?;
    if !STRATEGIES.contains(&strategy) {
        return None;
    }
    let mut row = Row { cores, strategy: strategy.into(), p50_ns: 0, p99_ns: 0, rounds: 0, failed: 0 };
    let (mut p50, mut p99, mut rounds) = (None, None, None);
    for field in fields {
        let (key, value) = field.split_once('=')?;
        let value: u64 = value.trim_end_matches(':').parse().ok()?;
        match key {
            "p50_ns" => p50 = Some(value),
            "p99_ns" => p99 = Some(value),
            "rounds" => rounds = Some(value),
            "failed" => row.failed = value,
            _ => return None,
        }
    }
    (row.p50_ns, row.p99_ns, row.rounds) = (p50?, p99?, rounds?);
    (row.p50_ns > 0 && row.p99_ns >= row.p50_ns && row.rounds > 0).then_some(row)
}

/// Every measurement line of a console log (QEMU's output or a board's serial capture, see
/// [`crate::capture`]), and how many `unmap cores=` lines were not one (a strategy with no
/// completed round, or a damaged line).
pub fn parse(console: &str) -> (Vec<Row>, usize) {
    let mut rows = Vec::new();
    let mut skipped = 0;
    for line in crate::capture::console_lines(console).filter(|l| l.starts_with("unmap cores=")) {
        match parse_line(&line) {
            Some(row) => rows.push(row),
            None => skipped += 1,
        }
    }
    (rows, skipped)
}

/// The rows as CSV, with a header.
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from("cores,strategy,p50_ns,p99_ns,rounds,failed\n");
    for row in rows {
        out += &format!(
            "{},{},{},{},{},{}\n",
            row.cores, row.strategy, row.p50_ns, row.p99_ns, row.rounds, row.failed
        );
    }
    out
}

/// p50 against the core count, one line per strategy.
pub fn plot(rows: &[Row], notes: Vec<String>) -> LinePlot {
    LinePlot {
        title: "Unmapping one page mapped on k cores (QEMU virt, one page-table replica per core)".into(),
        notes,
        x_label: "cores the page is mapped on (k)".into(),
        y_label: "unmap latency p50 (ns)".into(),
        series: STRATEGIES
            .iter()
            .map(|&strategy| Series {
                name: strategy.into(),
                points: rows
                    .iter()
                    .filter(|row| row.strategy == strategy)
                    .map(|row| (f64::from(row.cores), row.p50_ns as f64))
                    .collect(),
            })
            .filter(|series| !series.points.is_empty())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSOLE: &str = "core 0: up\n\
        unmap benchmark: one page mapped on k cores ...\n\
        unmap cores=2 strategy=shared-tlbi p50_ns=29360 p99_ns=645072 rounds=10\n\
        unmap cores=2 strategy=tree p50_ns=572432 p99_ns=753440 rounds=9 failed=1\n\
        unmap cores=3 strategy=unicast failed=10: no round completed\n\
        unmap cores=3 strategy=broadcast p50_ns=0 p99_ns=0 rounds=10\n\
        unmap cores=3 strategy=tree p50_ns=900 p99_ns=800 rounds=10\n\
        unmap cores=3 strategy=bogus p50_ns=1 p99_ns=2 rounds=1\n\
        unmap cores=x strategy=tree p50_ns=1 p99_ns=2 rounds=1\n";

    #[test]
    fn measurement_lines_become_rows_and_nothing_else_does() {
        let (rows, skipped) = parse(CONSOLE);
        assert_eq!(
            rows,
            [
                Row {
                    cores: 2,
                    strategy: "shared-tlbi".into(),
                    p50_ns: 29360,
                    p99_ns: 645072,
                    rounds: 10,
                    failed: 0
                },
                Row {
                    cores: 2,
                    strategy: "tree".into(),
                    p50_ns: 572432,
                    p99_ns: 753440,
                    rounds: 9,
                    failed: 1
                },
            ]
        );
        // No round, a zero figure, a p99 under the p50, an unknown strategy, a bad count.
        assert_eq!(skipped, 5);
        assert_eq!(csv(&rows).lines().nth(2), Some("2,tree,572432,753440,9,1"));
    }

    #[test]
    fn the_plot_has_one_line_per_measured_strategy() {
        let (rows, _) = parse(CONSOLE);
        let plot = plot(&rows, Vec::new());
        let names: Vec<&str> = plot.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["shared-tlbi", "tree"]);
        assert!(plot.svg().contains("shared-tlbi"));
    }
}
