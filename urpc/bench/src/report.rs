//! What a run measured, said one way everywhere: the per-kind lines, the summary, the CSV and
//! the figure.
//!
//! **One definition of a ratio**: a kind's median round trip over the reference's median
//! round trip, both pooled over every sample of every round of the pair (the *ratio of
//! medians*). The per-kind lines print it next to the two medians it is made of, so it can be
//! checked by hand; the summary is the median over pairs of that same per-pair ratio (for one
//! pair, the very number on the line).
//!
//! **The reference itself is watched**: the cache line's median is also taken per round; when
//! the highest and lowest round differ by more than [`DRIFT_THRESHOLD`], the limit changed
//! during the run (a virtual machine's vCPUs moved to other host cores, or the host's load
//! changed), and the pair's line and the summary say so.

use std::fmt::Write as _;

use bench_report::heatmap::{Cell, Core, Figure, Panel};
use bench_report::host::Topology;

use crate::kinds::Kind;
use crate::stats::Summary;

/// How far the per-round medians of the cache-line limit may spread (highest over lowest,
/// minus one) before the run says the limit changed under it.
pub const DRIFT_THRESHOLD: f64 = 0.20;

/// What one pair measured, per kind (indexed like [`Kind::ALL`]).
pub struct PairResult {
    pub client: usize,
    pub server: usize,
    /// Round-trip samples (ns, each the mean of a batch), pooled over the rounds.
    pub round_trip: Vec<Summary>,
    /// Throughput per round (messages/s), for the kinds that have one.
    pub throughput: Vec<Option<Summary>>,
    /// The cache line's median round trip in each round, in order.
    pub limit_per_round: Vec<f64>,
}

fn index(kind: Kind) -> usize {
    Kind::ALL.iter().position(|&candidate| candidate == kind).unwrap_or_default()
}

impl PairResult {
    /// The round-trip summary of `kind`.
    pub fn rtt(&self, kind: Kind) -> &Summary {
        &self.round_trip[index(kind)]
    }

    /// `kind`'s median round trip over `reference`'s: the one ratio this tool reports.
    pub fn ratio(&self, kind: Kind, reference: Kind) -> f64 {
        self.rtt(kind).median / self.rtt(reference).median
    }

    /// The median throughput of `kind` (NaN for a kind without one).
    pub fn throughput(&self, kind: Kind) -> f64 {
        self.throughput[index(kind)].map_or(f64::NAN, |summary| summary.median)
    }

    /// How the cache-line limit moved over the rounds.
    pub fn drift(&self) -> Drift {
        Drift::of(&self.limit_per_round)
    }
}

/// The spread of the per-round medians of the reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drift {
    pub first: f64,
    pub last: f64,
    pub low: f64,
    pub high: f64,
}

impl Drift {
    /// The spread of `per_round` (NaN everywhere for no rounds).
    pub fn of(per_round: &[f64]) -> Self {
        let summary = Summary::of(per_round);
        let first = per_round.first().copied().unwrap_or(f64::NAN);
        let last = per_round.last().copied().unwrap_or(f64::NAN);
        Drift { first, last, low: summary.min, high: summary.max }
    }

    /// Highest over lowest, minus one (0.3 = the slowest round took 30% longer).
    pub fn change(&self) -> f64 {
        self.high / self.low - 1.0
    }

    /// Whether the limit changed by more than [`DRIFT_THRESHOLD`] during the run.
    pub fn exceeds_threshold(&self) -> bool {
        self.change() > DRIFT_THRESHOLD
    }
}

/// The line printed before the results: how to read the ratios.
pub fn legend() -> String {
    format!(
        "ratios: x KIND = this kind's median / KIND's median, both pooled over the pair's rounds; \
         summaries: the median of those per-pair ratios; the cache-line limit is also taken per \
         round and a spread above {:.0}% is reported",
        DRIFT_THRESHOLD * 100.0
    )
}

/// A pair's round-trip line for `kind`.
pub fn rtt_line(result: &PairResult, kind: Kind) -> String {
    let rtt = result.rtt(kind);
    format!(
        "{:>7} {:<10} rtt  median {:8.1} ns  p10 {:8.1}  p90 {:8.1}  p99 {:8.1}  x cacheline {:5.2}  x twolines {:5.2}",
        format!("{}-{}", result.client, result.server),
        kind.name(),
        rtt.median,
        rtt.p10,
        rtt.p90,
        rtt.p99,
        result.ratio(kind, Kind::CacheLine),
        result.ratio(kind, Kind::TwoLines),
    )
}

/// A pair's throughput line for `kind`, if it has one.
pub fn throughput_line(result: &PairResult, kind: Kind) -> Option<String> {
    let throughput = result.throughput[index(kind)]?;
    Some(format!(
        "{:>7} {:<10} tput median {:8.2} Mmsg/s  p10 {:6.2}  p90 {:6.2}  urpc/this {:5.2}",
        format!("{}-{}", result.client, result.server),
        kind.name(),
        throughput.median / 1e6,
        throughput.p10 / 1e6,
        throughput.p90 / 1e6,
        result.throughput(Kind::Urpc) / throughput.median
    ))
}

/// A pair's line about its cache-line limit over the rounds.
pub fn drift_line(result: &PairResult) -> String {
    let drift = result.drift();
    let verdict = if drift.exceeds_threshold() {
        format!(
            "CHANGED during the run by more than {:.0}%: ratios to it are uncertain (the host may have moved a vCPU)",
            DRIFT_THRESHOLD * 100.0
        )
    } else {
        format!("steady (within {:.0}%)", DRIFT_THRESHOLD * 100.0)
    };
    format!(
        "{:>7} cacheline  limit per round: first {:.1} ns, last {:.1} ns, range {:.1}..{:.1} ns (+{:.0}%): {verdict}",
        format!("{}-{}", result.client, result.server),
        drift.first,
        drift.last,
        drift.low,
        drift.high,
        drift.change() * 100.0
    )
}

/// The median of `values` (NaN for none): the summary over pairs.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    Summary::of(&values.collect::<Vec<f64>>()).median
}

/// The summary lines over every pair: each ratio's median over pairs, then the limit's drift.
pub fn summary_lines(results: &[PairResult]) -> Vec<String> {
    let pairs = results.len();
    let rtt =
        |kind: Kind, reference: Kind| median(results.iter().map(|result| result.ratio(kind, reference)));
    let tput = |reference: Kind| {
        median(results.iter().map(|result| result.throughput(Kind::Urpc) / result.throughput(reference)))
    };
    let mut lines = vec![
        format!(
            "urpc rtt / cache-line limit: {:.2} (median over {pairs} pairs of urpc median / cacheline median)",
            rtt(Kind::Urpc, Kind::CacheLine)
        ),
        format!(
            "urpc rtt / two-line limit: {:.2} (median over {pairs} pairs of urpc median / twolines median)",
            rtt(Kind::Urpc, Kind::TwoLines)
        ),
        format!(
            "urpc rtt / rtrb rtt: {:.2}; urpc rtt / crossbeam rtt: {:.2} (medians over pairs of the ratio of medians)",
            rtt(Kind::Urpc, Kind::Rtrb),
            rtt(Kind::Urpc, Kind::Crossbeam)
        ),
        format!(
            "urpc throughput / rtrb: {:.2}; urpc throughput / crossbeam: {:.2} (medians over pairs of the ratio of medians)",
            tput(Kind::Rtrb),
            tput(Kind::Crossbeam)
        ),
    ];
    let drifted: Vec<String> = results
        .iter()
        .filter(|result| result.drift().exceeds_threshold())
        .map(|result| {
            let drift = result.drift();
            format!("{}-{} {:.1}..{:.1} ns", result.client, result.server, drift.low, drift.high)
        })
        .collect();
    lines.push(if drifted.is_empty() {
        format!(
            "cache-line limit: steady on all {pairs} pairs (per-round medians within {:.0}%)",
            DRIFT_THRESHOLD * 100.0
        )
    } else {
        format!(
            "warning: the cache-line limit changed by more than {:.0}% during the run on {} of {pairs} pairs ({}); ratios to it are uncertain there",
            DRIFT_THRESHOLD * 100.0,
            drifted.len(),
            drifted.join(", ")
        )
    });
    lines
}

/// The CSV's header line.
pub const CSV_HEADER: &str = "client_core,server_core,kind,metric,median,p10,p90,p99,min,max\n";

/// A pair's CSV rows: round trips per kind (`rtt_ns`), the ratios of medians
/// (`rtt_over_cacheline`, `rtt_over_twolines`, median column only), throughputs
/// (`throughput_msgs_per_s`), and the cache line's per-round medians (`limit_round_median_ns`).
pub fn csv_rows(result: &PairResult) -> String {
    let mut csv = String::new();
    let (client, server) = (result.client, result.server);
    let mut row = |kind: Kind, metric: &str, summary: &Summary, decimals: usize| {
        let _ = writeln!(
            csv,
            "{client},{server},{},{metric},{:.decimals$},{:.decimals$},{:.decimals$},{:.decimals$},{:.decimals$},{:.decimals$}",
            kind.name(),
            summary.median,
            summary.p10,
            summary.p90,
            summary.p99,
            summary.min,
            summary.max
        );
    };
    for kind in Kind::ALL {
        row(kind, "rtt_ns", result.rtt(kind), 1);
    }
    for kind in Kind::ALL {
        if let Some(throughput) = &result.throughput[index(kind)] {
            row(kind, "throughput_msgs_per_s", throughput, 0);
        }
    }
    row(Kind::CacheLine, "limit_round_median_ns", &Summary::of(&result.limit_per_round), 1);
    for kind in Kind::ALL {
        for (metric, reference) in
            [("rtt_over_cacheline", Kind::CacheLine), ("rtt_over_twolines", Kind::TwoLines)]
        {
            let _ = writeln!(
                csv,
                "{client},{server},{},{metric},{:.3},,,,,",
                kind.name(),
                result.ratio(kind, reference)
            );
        }
    }
    csv
}

/// Where a core sits, as far as grouping goes: (package, die, cluster).
type Place = (u32, u32, u32);

/// Groups for the figure's boundaries from the cores' topology: clusters where they group
/// several of the chosen cores, else packages and dies, else one group. Returns each core's
/// group and what a group is.
pub fn groups(topology: &[Topology]) -> (Vec<u32>, &'static str) {
    let distinct = |key: &dyn Fn(&Topology) -> Option<Place>| -> Option<Vec<u32>> {
        let keys: Vec<Place> = topology.iter().map(key).collect::<Option<_>>()?;
        let mut seen: Vec<Place> = Vec::new();
        let ids = keys
            .iter()
            .map(|key| {
                let id = seen.iter().position(|candidate| candidate == key).unwrap_or_else(|| {
                    seen.push(*key);
                    seen.len() - 1
                });
                id as u32
            })
            .collect();
        // Useful only if some group holds two or more cores and there are two or more groups.
        (seen.len() > 1 && seen.len() < keys.len()).then_some(ids)
    };
    let cluster = |t: &Topology| Some((t.package?, t.die.unwrap_or(0), t.cluster?));
    let package = |t: &Topology| Some((t.package?, t.die.unwrap_or(0), 0));
    if let Some(ids) = distinct(&cluster) {
        return (ids, "cluster");
    }
    if let Some(ids) = distinct(&package) {
        return (ids, "package/die");
    }
    (vec![0; topology.len()], "group")
}

/// The figure: one panel per kind (median round trip), urpc's p99, and urpc over the
/// cache-line limit. Each unordered pair is drawn on both sides of the diagonal.
pub fn figure(cores: &[usize], groups: (&[u32], &str), results: &[PairResult], notes: Vec<String>) -> Figure {
    let position = |core: usize| cores.iter().position(|&candidate| candidate == core);
    let panel = |title: String, unit: &str, decimals: usize, value: &dyn Fn(&PairResult) -> f64| Panel {
        title,
        unit: unit.into(),
        decimals,
        cells: results
            .iter()
            .filter_map(|result| Some((position(result.client)?, position(result.server)?, value(result))))
            .flat_map(|(row, column, value)| {
                [(row, column, Cell::Value(value)), (column, row, Cell::Value(value))]
            })
            .collect(),
    };
    let mut panels: Vec<Panel> = Kind::ALL
        .iter()
        .map(|&kind| {
            panel(format!("{} round trip, median", kind.name()), "ns", 0, &move |r| r.rtt(kind).median)
        })
        .collect();
    panels.push(panel("urpc round trip, p99".into(), "ns", 0, &|r| r.rtt(Kind::Urpc).p99));
    panels.push(panel("urpc / cache-line limit".into(), "× limit", 2, &|r| {
        r.ratio(Kind::Urpc, Kind::CacheLine)
    }));
    Figure {
        title: "Round trip per pair of host cores: the cache-line limit, URPC, rtrb, crossbeam".into(),
        notes,
        cores: cores
            .iter()
            .zip(groups.0)
            .map(|(core, &group)| Core { label: format!("{core}"), note: String::new(), group })
            .collect(),
        group_name: groups.1.into(),
        panels,
        panels_per_row: 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pair whose every sample of `kind` is `rtt[kind]` ns, with the given per-round limit.
    fn pair(client: usize, server: usize, rtt: [f64; 5], limit_per_round: Vec<f64>) -> PairResult {
        PairResult {
            client,
            server,
            round_trip: rtt.iter().map(|&ns| Summary::of(&[ns * 0.9, ns, ns * 1.5])).collect(),
            throughput: Kind::ALL
                .iter()
                .map(|kind| kind.has_throughput().then(|| Summary::of(&[1e8])))
                .collect(),
            limit_per_round,
        }
    }

    /// The number after `label` on a line.
    fn number_after(line: &str, label: &str) -> f64 {
        let rest = line.split(label).nth(1).unwrap_or_else(|| panic!("{label} in {line}"));
        rest.split_whitespace().next().and_then(|word| word.parse().ok()).unwrap()
    }

    #[test]
    fn the_line_and_the_summary_give_the_same_ratio_and_it_is_the_ratio_of_the_printed_medians() {
        // The figures: 153.1 / 79.3 = 1.93 (a median of per-round ratios said 2.21).
        let result = pair(0, 1, [79.3, 160.0, 153.1, 170.0, 300.0], vec![79.3; 20]);
        let line = rtt_line(&result, Kind::Urpc);
        let urpc_median = number_after(&line, "median");
        let cacheline_median = number_after(&rtt_line(&result, Kind::CacheLine), "median");
        let printed_ratio = number_after(&line, "x cacheline");
        assert_eq!((urpc_median, cacheline_median, printed_ratio), (153.1, 79.3, 1.93));
        assert!((urpc_median / cacheline_median - printed_ratio).abs() < 0.005);
        let summary = summary_lines(&[result]);
        assert_eq!(
            summary[0],
            "urpc rtt / cache-line limit: 1.93 (median over 1 pairs of urpc median / cacheline median)"
        );
    }

    #[test]
    fn over_several_pairs_the_summary_is_one_of_the_lines_ratios() {
        let results: Vec<PairResult> = [(70.0, 140.0), (80.0, 200.0), (60.0, 150.0)]
            .iter()
            .enumerate()
            .map(|(i, &(line, urpc))| pair(0, i + 1, [line, 130.0, urpc, 170.0, 300.0], vec![line; 20]))
            .collect();
        let ratios: Vec<f64> =
            results.iter().map(|r| number_after(&rtt_line(r, Kind::Urpc), "x cacheline")).collect();
        assert_eq!(ratios, [2.0, 2.5, 2.5]);
        let summary = number_after(&summary_lines(&results)[0], "limit:");
        assert_eq!(summary, 2.5);
    }

    #[test]
    fn a_limit_that_moves_more_than_the_threshold_is_reported() {
        let steady = pair(0, 1, [80.0, 160.0, 150.0, 170.0, 300.0], vec![80.0, 84.0, 90.0, 82.0]);
        assert!(!steady.drift().exceeds_threshold());
        assert!(drift_line(&steady).ends_with("steady (within 20%)"), "{}", drift_line(&steady));
        let moved = pair(0, 2, [80.0, 160.0, 150.0, 170.0, 300.0], vec![62.0, 63.0, 80.0, 79.0]);
        let drift = moved.drift();
        assert_eq!((drift.first, drift.last, drift.low, drift.high), (62.0, 79.0, 62.0, 80.0));
        assert!(drift.exceeds_threshold());
        assert!(drift_line(&moved).contains("CHANGED during the run by more than 20%"));
        let summary = summary_lines(&[steady, moved]);
        assert_eq!(
            summary.last().unwrap(),
            "warning: the cache-line limit changed by more than 20% during the run on 1 of 2 pairs (0-2 62.0..80.0 ns); ratios to it are uncertain there"
        );
    }

    #[test]
    fn the_csv_has_the_ratio_of_medians_and_the_limit_per_round() {
        let csv = csv_rows(&pair(0, 1, [79.3, 160.0, 153.1, 170.0, 300.0], vec![79.0, 80.0]));
        assert!(csv.contains("0,1,urpc,rtt_ns,153.1,"), "{csv}");
        assert!(csv.contains("0,1,urpc,rtt_over_cacheline,1.931,,,,,"), "{csv}");
        assert!(csv.contains("0,1,cacheline,limit_round_median_ns,"), "{csv}");
        for line in csv.lines() {
            assert_eq!(line.split(',').count(), CSV_HEADER.trim_end().split(',').count(), "{line}");
        }
    }

    #[test]
    fn every_kind_gets_a_panel_and_pairs_are_drawn_on_both_sides() {
        let results = [pair(0, 1, [79.3, 160.0, 153.1, 170.0, 300.0], vec![79.3])];
        let figure = figure(&[0, 1], (&[0, 0], "group"), &results, vec!["host: test".into()]);
        assert_eq!(figure.panels.len(), Kind::ALL.len() + 2);
        for kind in Kind::ALL {
            assert!(figure.panels.iter().any(|panel| panel.title.starts_with(kind.name())), "{kind:?}");
        }
        let svg = figure.svg();
        assert!(svg.contains("0-1: 153 ns") && svg.contains("1-0: 153 ns"));
        assert!(svg.contains("0-1: 1.93 × limit"));
    }

    #[test]
    fn groups_come_from_clusters_then_packages() {
        let core =
            |package, cluster| Topology { package: Some(package), die: Some(0), cluster: Some(cluster) };
        assert_eq!(groups(&[core(0, 0), core(0, 0), core(0, 1), core(0, 1)]), (vec![0, 0, 1, 1], "cluster"));
        // One cluster per core (as x86 hosts often say) is no grouping; packages are.
        assert_eq!(
            groups(&[core(0, 0), core(0, 1), core(1, 2), core(1, 3)]),
            (vec![0, 0, 1, 1], "package/die")
        );
        assert_eq!(groups(&[core(0, 0), core(0, 1)]), (vec![0, 0], "group"));
    }
}
