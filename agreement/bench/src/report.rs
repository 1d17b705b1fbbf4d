//! What a run prints and writes: one line per core count and strategy with its p50 and p99
//! and their ratios to unicast's (measured in the same run, on the same threads, in
//! interleaved rounds), the CSV, and a plot of p50 against the core count, one line per
//! strategy.

use bench_report::lineplot::{LinePlot, Series};

use crate::rounds::{percentile, Measurement, Strategy};

/// The CSV's first line.
pub const CSV_HEADER: &str =
    "cores,strategy,rounds,p50_ns,p99_ns,p50_vs_unicast,p99_vs_unicast,oversubscribed\n";

/// One strategy's figures at one core count.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Cores taking part.
    pub cores: usize,
    /// The strategy.
    pub strategy: Strategy,
    /// Timed rounds.
    pub rounds: usize,
    /// Median round, ns.
    pub p50: u64,
    /// 99th percentile, ns.
    pub p99: u64,
    /// `p50` over unicast's.
    pub p50_vs_unicast: f64,
    /// `p99` over unicast's.
    pub p99_vs_unicast: f64,
    /// Whether threads shared host cores.
    pub oversubscribed: bool,
}

/// The rows of one measurement, in [`Strategy::ALL`] order.
pub fn rows(measurement: &Measurement, oversubscribed: bool) -> Vec<Row> {
    let figures = |strategy: Strategy| {
        let samples = &measurement.samples[strategy as usize];
        (percentile(samples, 0.5).unwrap_or(0), percentile(samples, 0.99).unwrap_or(0), samples.len())
    };
    let (unicast_p50, unicast_p99, _) = figures(Strategy::Unicast);
    let ratio = |value: u64, base: u64| if base == 0 { f64::NAN } else { value as f64 / base as f64 };
    Strategy::ALL
        .iter()
        .map(|&strategy| {
            let (p50, p99, rounds) = figures(strategy);
            Row {
                cores: measurement.cores,
                strategy,
                rounds,
                p50,
                p99,
                p50_vs_unicast: ratio(p50, unicast_p50),
                p99_vs_unicast: ratio(p99, unicast_p99),
                oversubscribed,
            }
        })
        .collect()
}

/// `agreement cores=<k> strategy=<s> p50_ns=<n> p99_ns=<n> p50/unicast=<r> p99/unicast=<r>`.
pub fn line(row: &Row) -> String {
    format!(
        "agreement cores={} strategy={} p50_ns={} p99_ns={} p50/unicast={:.2} p99/unicast={:.2}{}",
        row.cores,
        row.strategy.name(),
        row.p50,
        row.p99,
        row.p50_vs_unicast,
        row.p99_vs_unicast,
        if row.oversubscribed { " (oversubscribed)" } else { "" }
    )
}

/// The row as a CSV line.
pub fn csv_line(row: &Row) -> String {
    format!(
        "{},{},{},{},{},{:.3},{:.3},{}\n",
        row.cores,
        row.strategy.name(),
        row.rounds,
        row.p50,
        row.p99,
        row.p50_vs_unicast,
        row.p99_vs_unicast,
        row.oversubscribed
    )
}

/// p50 against the core count, one line per strategy.
pub fn plot(rows: &[Row], notes: Vec<String>) -> LinePlot {
    LinePlot {
        title: "One two-phase agreement round from core 0 to k - 1 cores, host threads over URPC".into(),
        notes,
        x_label: "cores taking part (k)".into(),
        y_label: "round latency p50 (ns)".into(),
        series: Strategy::ALL
            .iter()
            .map(|&strategy| Series {
                name: strategy.name().into(),
                points: rows
                    .iter()
                    .filter(|row| row.strategy == strategy)
                    .map(|row| (row.cores as f64, row.p50 as f64))
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement() -> Measurement {
        Measurement {
            cores: 3,
            samples: [vec![100, 200, 300], vec![50, 100, 150], vec![60, 80, 600], vec![]],
            rounds_each: 3,
            tallies: Vec::new(),
        }
    }

    #[test]
    fn lines_give_percentiles_and_ratios_to_unicast() {
        let rows = rows(&measurement(), true);
        let lines: Vec<String> = rows.iter().map(line).collect();
        assert_eq!(lines[0], "agreement cores=3 strategy=unicast p50_ns=200 p99_ns=300 p50/unicast=1.00 p99/unicast=1.00 (oversubscribed)");
        assert_eq!(lines[1], "agreement cores=3 strategy=broadcast p50_ns=100 p99_ns=150 p50/unicast=0.50 p99/unicast=0.50 (oversubscribed)");
        assert_eq!(lines[2], "agreement cores=3 strategy=tree p50_ns=80 p99_ns=600 p50/unicast=0.40 p99/unicast=2.00 (oversubscribed)");
        assert_eq!(csv_line(&rows[1]), "3,broadcast,3,100,150,0.500,0.500,true\n");
        assert_eq!(CSV_HEADER.split(',').count(), csv_line(&rows[1]).split(',').count());
    }

    #[test]
    fn the_plot_has_a_line_per_strategy_with_a_point_per_core_count() {
        let mut all = rows(&measurement(), false);
        let mut four = measurement();
        four.cores = 4;
        all.extend(rows(&four, false));
        let plot = plot(&all, Vec::new());
        assert_eq!(plot.series.len(), 4);
        assert_eq!(plot.series[2].name, "tree");
        assert_eq!(plot.series[2].points, [(3.0, 80.0), (4.0, 80.0)]);
        assert!(plot.svg().contains("<title>lock"));
    }
}
