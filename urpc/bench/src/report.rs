//! What a run measured, said one way everywhere: the per-kind lines, the summary, the CSV and
//! the figure.
//!
//! **Rounds bracketed by the limit.** A pair is measured in many short rounds; in each, the
//! one-line limit (`cacheline`) is measured before the first kind and after every kind. On a
//! virtual machine the hypervisor moves vCPUs every few seconds and the limit jumps (35, 80,
//! 400 ns on the machine this was written on), so a round whose limit measurements spread by
//! more than [`DROP_THRESHOLD`] is dropped whole: only kept rounds count anywhere.
//!
//! **One definition of a ratio**: per kept round, a kind's median round trip over the
//! reference's in that same round (for the limit: the mean of the two limit measurements
//! around the kind); a line prints the p50, p10 and p90 of those per-round ratios. The summary
//! lines take the same percentiles of the same per-round ratios, pooled over every pair's kept
//! rounds, so with one pair the summary is the very figure on the line. The nanoseconds on a
//! line are percentiles of the kind's samples pooled over the kept rounds.

use std::fmt::Write as _;

use bench_report::heatmap::{Cell, Core, Figure, Panel};

use crate::kinds::Kind;
use crate::stats::Summary;

/// A round is dropped when its limit measurements spread by more than this (highest over
/// lowest, minus one): the machine changed under it.
pub const DROP_THRESHOLD: f64 = 0.10;

fn index(kind: Kind) -> usize {
    Kind::ALL.iter().position(|&candidate| candidate == kind).unwrap_or_default()
}

/// One round of one pair: the limit before the first kind and after each, and every kind's
/// samples.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundRecord {
    /// The limit's median in each measurement of the round, in order.
    pub limits: Vec<f64>,
    /// Per kind (indexed like [`Kind::ALL`]): its samples in this round (the limit's: every
    /// limit measurement's, pooled).
    pub samples: Vec<Vec<f64>>,
    /// Per kind: the mean of the limit's medians just before and just after it (NaN for the
    /// limit itself).
    pub limit_around: Vec<f64>,
}

impl Default for RoundRecord {
    fn default() -> Self {
        Self::new()
    }
}

impl RoundRecord {
    pub fn new() -> Self {
        Self {
            limits: Vec::new(),
            samples: vec![Vec::new(); Kind::ALL.len()],
            limit_around: vec![f64::NAN; Kind::ALL.len()],
        }
    }

    /// Records a measurement of the limit.
    pub fn limit(&mut self, samples: &[f64]) {
        self.limits.push(Summary::of(samples).median);
        self.samples[index(Kind::CacheLine)].extend_from_slice(samples);
    }

    /// Records `kind`'s samples and the limit measured right after it (the one before is the
    /// last recorded).
    pub fn kind(&mut self, kind: Kind, samples: &[f64], limit_after: &[f64]) {
        let before = self.limits.last().copied().unwrap_or(f64::NAN);
        self.limit(limit_after);
        let after = self.limits.last().copied().unwrap_or(f64::NAN);
        self.limit_around[index(kind)] = (before + after) / 2.0;
        self.samples[index(kind)].extend_from_slice(samples);
    }

    /// Highest limit measurement over lowest, minus one.
    pub fn spread(&self) -> f64 {
        let summary = Summary::of(&self.limits);
        summary.max / summary.min - 1.0
    }

    /// Whether the round counts: its limit stayed within [`DROP_THRESHOLD`].
    pub fn kept(&self) -> bool {
        self.spread() <= DROP_THRESHOLD
    }

    /// `kind`'s median in this round.
    pub fn median(&self, kind: Kind) -> f64 {
        Summary::of(&self.samples[index(kind)]).median
    }

    /// `kind`'s median over `reference`'s in this round (for the limit as reference: over the
    /// limit measured around the kind).
    pub fn ratio(&self, kind: Kind, reference: Kind) -> f64 {
        let denominator = match reference {
            Kind::CacheLine if kind != Kind::CacheLine => self.limit_around[index(kind)],
            _ => self.median(reference),
        };
        self.median(kind) / denominator
    }
}

/// What one pair measured.
pub struct PairResult {
    pub client: usize,
    pub server: usize,
    /// Every round, kept or not, in order.
    pub rounds: Vec<RoundRecord>,
    /// Round-trip samples (ns, each the mean of a batch) per kind, pooled over the kept rounds.
    pub round_trip: Vec<Summary>,
    /// Throughput per round (messages/s), for the kinds that have one.
    pub throughput: Vec<Option<Summary>>,
}

impl PairResult {
    pub fn new(client: usize, server: usize) -> Self {
        Self {
            client,
            server,
            rounds: Vec::new(),
            round_trip: vec![Summary::of(&[]); Kind::ALL.len()],
            throughput: vec![None; Kind::ALL.len()],
        }
    }

    /// Adds a round and recomputes the pooled round-trip figures.
    pub fn add_round(&mut self, round: RoundRecord) {
        self.rounds.push(round);
        self.round_trip = (0..Kind::ALL.len())
            .map(|kind| {
                let pooled: Vec<f64> =
                    self.kept().flat_map(|round| round.samples[kind].iter().copied()).collect();
                Summary::of(&pooled)
            })
            .collect();
    }

    /// The kept rounds.
    pub fn kept(&self) -> impl Iterator<Item = &RoundRecord> {
        self.rounds.iter().filter(|round| round.kept())
    }

    /// The round-trip summary of `kind` over the kept rounds.
    pub fn rtt(&self, kind: Kind) -> &Summary {
        &self.round_trip[index(kind)]
    }

    /// `kind` over `reference`, one ratio per kept round.
    pub fn ratios(&self, kind: Kind, reference: Kind) -> Vec<f64> {
        self.kept().map(|round| round.ratio(kind, reference)).collect()
    }

    /// The median throughput of `kind` (NaN for a kind without one).
    pub fn throughput(&self, kind: Kind) -> f64 {
        self.throughput[index(kind)].map_or(f64::NAN, |summary| summary.median)
    }
}

/// `p50 x (p10 a, p90 b)` of some ratios.
fn percentiles(ratios: &[f64]) -> String {
    let summary = Summary::of(ratios);
    format!("p50 {:.2} (p10 {:.2}, p90 {:.2})", summary.median, summary.p10, summary.p90)
}

/// The line printed before the results: how to read them.
pub fn legend() -> String {
    format!(
        "each pair: many short rounds, every kind once per round with the one-line limit measured before \
         the first kind and after each; rounds where the limit moved more than {:.0}% are dropped. \
         ns: percentiles of the samples of the kept rounds; /KIND: p50 (p10, p90) over the kept rounds \
         of the ratio of this kind's round median to KIND's in the same round; summaries: the same \
         percentiles of the same per-round ratios, pooled over the pairs",
        DROP_THRESHOLD * 100.0
    )
}

/// A pair's round-trip line for `kind`.
pub fn rtt_line(result: &PairResult, kind: Kind) -> String {
    let rtt = result.rtt(kind);
    format!(
        "{:>7} {:<13} rtt p50 {:7.1} ns  p10 {:7.1}  p90 {:7.1}  p99 {:7.1}  /limit {}  /ring-floor {}",
        format!("{}-{}", result.client, result.server),
        kind.name(),
        rtt.median,
        rtt.p10,
        rtt.p90,
        rtt.p99,
        percentiles(&result.ratios(kind, Kind::CacheLine)),
        percentiles(&result.ratios(kind, Kind::RingFloor)),
    )
}

/// A pair's throughput line for `kind`, if it has one.
pub fn throughput_line(result: &PairResult, kind: Kind) -> Option<String> {
    let throughput = result.throughput[index(kind)]?;
    Some(format!(
        "{:>7} {:<13} tput median {:8.2} Mmsg/s  p10 {:6.2}  p90 {:6.2}  urpc/this {:5.2}",
        format!("{}-{}", result.client, result.server),
        kind.name(),
        throughput.median / 1e6,
        throughput.p10 / 1e6,
        throughput.p90 / 1e6,
        result.throughput(Kind::Urpc) / throughput.median
    ))
}

/// A pair's line about its rounds: how many were kept, and the limit over them.
pub fn rounds_line(result: &PairResult) -> String {
    let kept = result.kept().count();
    let limit = result.rtt(Kind::CacheLine);
    format!(
        "{:>7} rounds: {kept} of {} kept ({} dropped: the one-line limit moved more than {:.0}% within the round); limit over the kept rounds p50 {:.1} ns, p10 {:.1}, p90 {:.1}",
        format!("{}-{}", result.client, result.server),
        result.rounds.len(),
        result.rounds.len() - kept,
        DROP_THRESHOLD * 100.0,
        limit.median,
        limit.p10,
        limit.p90
    )
}

/// The median of `values` (NaN for none).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    Summary::of(&values.collect::<Vec<f64>>()).median
}

/// The summary lines over every pair: each ratio's percentiles over the kept rounds of all
/// pairs, the throughput ratios, and the rounds kept.
pub fn summary_lines(results: &[PairResult]) -> Vec<String> {
    let pairs = results.len();
    let pooled = |kind: Kind, reference: Kind| -> Vec<f64> {
        results.iter().flat_map(|result| result.ratios(kind, reference)).collect()
    };
    let rounds: usize = results.iter().map(|result| result.rounds.len()).sum();
    let kept: usize = results.iter().map(|result| result.kept().count()).sum();
    let tput = |reference: Kind| {
        median(results.iter().map(|result| result.throughput(Kind::Urpc) / result.throughput(reference)))
    };
    let mut lines = vec![
        format!(
            "urpc rtt / ring-floor: {} (per kept round, urpc's median / ring-floor's; {kept} rounds of {pairs} pairs)",
            percentiles(&pooled(Kind::Urpc, Kind::RingFloor))
        ),
        format!("urpc rtt / cache-line limit: {}", percentiles(&pooled(Kind::Urpc, Kind::CacheLine))),
        format!("urpc rtt / two-line limit: {}", percentiles(&pooled(Kind::Urpc, Kind::TwoLines))),
        format!(
            "urpc rtt / rtrb rtt: {}; urpc rtt / crossbeam rtt: {}",
            percentiles(&pooled(Kind::Urpc, Kind::Rtrb)),
            percentiles(&pooled(Kind::Urpc, Kind::Crossbeam))
        ),
        format!(
            "declared interface rtt / hand-written message rtt: {} (the generated layer's cost on the same pair)",
            percentiles(&pooled(Kind::UrpcDeclared, Kind::UrpcHandWritten))
        ),
        format!(
            "64-byte placement / 128-byte: twolines {}; ring-floor {}",
            percentiles(&pooled(Kind::TwoLines64, Kind::TwoLines)),
            percentiles(&pooled(Kind::RingFloor64, Kind::RingFloor))
        ),
        format!(
            "urpc throughput / rtrb: {:.2}; urpc throughput / crossbeam: {:.2} (medians over pairs of the ratio of medians)",
            tput(Kind::Rtrb),
            tput(Kind::Crossbeam)
        ),
    ];
    lines.push(if kept * 2 >= rounds {
        format!(
            "rounds kept: {kept} of {rounds} (dropped where the one-line limit moved more than {:.0}% within the round)",
            DROP_THRESHOLD * 100.0
        )
    } else {
        format!(
            "warning: only {kept} of {rounds} rounds kept: the one-line limit moved more than {:.0}% within most rounds (the host is moving vCPUs or busy); the figures rest on few rounds",
            DROP_THRESHOLD * 100.0
        )
    });
    lines
}

/// The CSV's header line.
pub const CSV_HEADER: &str = "client_core,server_core,kind,metric,median,p10,p90,p99,min,max\n";

/// A pair's CSV rows: round trips per kind over the kept rounds (`rtt_ns`), the per-round
/// ratios' percentiles (`rtt_over_cacheline`, `rtt_over_ring_floor`, `rtt_over_twolines`),
/// throughputs (`throughput_msgs_per_s`), and the rounds (`rounds_kept`: kept in the median
/// column, all in the max column; `limit_spread_per_round`: the spread of every round).
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
        for (metric, reference) in [
            ("rtt_over_cacheline", Kind::CacheLine),
            ("rtt_over_ring_floor", Kind::RingFloor),
            ("rtt_over_twolines", Kind::TwoLines),
        ] {
            row(kind, metric, &Summary::of(&result.ratios(kind, reference)), 3);
        }
    }
    for kind in Kind::ALL {
        if let Some(throughput) = &result.throughput[index(kind)] {
            row(kind, "throughput_msgs_per_s", throughput, 0);
        }
    }
    let spreads: Vec<f64> = result.rounds.iter().map(RoundRecord::spread).collect();
    row(Kind::CacheLine, "limit_spread_per_round", &Summary::of(&spreads), 3);
    let _ = writeln!(
        csv,
        "{client},{server},cacheline,rounds_kept,{},,,,,{}",
        result.kept().count(),
        result.rounds.len()
    );
    csv
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
    panels.push(panel("urpc / cache-line limit, p50 of rounds".into(), "× limit", 2, &|r| {
        Summary::of(&r.ratios(Kind::Urpc, Kind::CacheLine)).median
    }));
    panels.push(panel("urpc / ring-floor, p50 of rounds".into(), "× floor", 2, &|r| {
        Summary::of(&r.ratios(Kind::Urpc, Kind::RingFloor)).median
    }));
    Figure {
        title:
            "Round trip per pair of host cores: the cache-line limit, the ring floor, URPC, rtrb, crossbeam"
                .into(),
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

    /// A round where every sample of `kind` is `rtt[kind]` ns (the limit's is `rtt[0]`), with
    /// the limit measured at `limits` (one more than the kinds measured).
    fn round(rtt: [f64; 10], limits: &[f64]) -> RoundRecord {
        let mut record = RoundRecord::new();
        record.limit(&[limits[0]]);
        for (offset, kind) in Kind::ALL.iter().skip(1).enumerate() {
            record.kind(
                *kind,
                &[rtt[index(*kind)] * 0.9, rtt[index(*kind)], rtt[index(*kind)] * 1.5],
                &[limits[(offset + 1).min(limits.len() - 1)]],
            );
        }
        record
    }

    /// A pair with the given rounds.
    fn pair(client: usize, server: usize, rounds: Vec<RoundRecord>) -> PairResult {
        let mut result = PairResult::new(client, server);
        for record in rounds {
            result.add_round(record);
        }
        result.throughput =
            Kind::ALL.iter().map(|kind| kind.has_throughput().then(|| Summary::of(&[1e8]))).collect();
        result
    }

    /// `[cacheline, twolines, twolines-64, ring-floor, ring-floor-64, urpc, urpc-hand-written,
    /// urpc-declared, rtrb, crossbeam]`.
    const RTT: [f64; 10] = [80.0, 160.0, 170.0, 146.0, 150.0, 160.6, 162.0, 170.1, 200.0, 300.0];

    /// The number after `label` on a line.
    fn number_after(line: &str, label: &str) -> f64 {
        let rest = line.split(label).nth(1).unwrap_or_else(|| panic!("{label} in {line}"));
        rest.split_whitespace()
            .next()
            .and_then(|word| word.trim_end_matches([',', ')']).parse().ok())
            .unwrap()
    }

    #[test]
    fn the_line_and_the_summary_give_the_same_ratios() {
        // Three rounds, urpc 1.0, 1.1 and 1.2 times the ring floor.
        let rounds = [1.0, 1.1, 1.2]
            .iter()
            .map(|factor| {
                let mut rtt = RTT;
                rtt[index(Kind::Urpc)] = RTT[index(Kind::RingFloor)] * factor;
                round(rtt, &[80.0; 8])
            })
            .collect();
        let result = pair(0, 1, rounds);
        let line = rtt_line(&result, Kind::Urpc);
        assert!(line.contains("/ring-floor p50 1.10 (p10 1.00, p90 1.20)"), "{line}");
        let summary = summary_lines(&[result]);
        assert!(
            summary[0].starts_with("urpc rtt / ring-floor: p50 1.10 (p10 1.00, p90 1.20) ("),
            "{}",
            summary[0]
        );
    }

    #[test]
    fn a_ratio_to_the_limit_uses_the_limit_measured_around_the_kind() {
        let record = round(RTT, &[80.0, 80.0, 80.0, 80.0, 80.0, 84.0, 84.0, 84.0]);
        // urpc (index 5) sits between the limit measurements 4 and 5: (80 + 84) / 2 = 82.
        assert!((record.ratio(Kind::Urpc, Kind::CacheLine) - 160.6 / 82.0).abs() < 1e-9);
        assert!((record.ratio(Kind::Urpc, Kind::RingFloor) - 160.6 / 146.0).abs() < 1e-9);
    }

    #[test]
    fn rounds_where_the_limit_moved_are_dropped_everywhere() {
        let steady = round(RTT, &[80.0; 8]);
        let mut moved_rtt = RTT;
        moved_rtt[index(Kind::Urpc)] = 1000.0;
        let moved = round(moved_rtt, &[80.0, 80.0, 80.0, 400.0, 400.0, 400.0, 400.0, 400.0]);
        assert!(steady.kept() && !moved.kept());
        let result = pair(0, 1, vec![steady.clone(), moved, steady]);
        assert_eq!(result.kept().count(), 2);
        assert_eq!(result.rtt(Kind::Urpc).max, 160.6 * 1.5, "the dropped round's samples are not pooled");
        assert_eq!(result.ratios(Kind::Urpc, Kind::RingFloor).len(), 2);
        let line = rounds_line(&result);
        assert!(line.contains("rounds: 2 of 3 kept (1 dropped"), "{line}");
        let summary = summary_lines(&[result]);
        assert_eq!(
            summary.last().unwrap(),
            "rounds kept: 2 of 3 (dropped where the one-line limit moved more than 10% within the round)"
        );
    }

    #[test]
    fn over_several_pairs_the_summary_pools_the_rounds() {
        let results: Vec<PairResult> = [1.0, 1.2, 1.4]
            .iter()
            .enumerate()
            .map(|(i, factor)| {
                let mut rtt = RTT;
                rtt[index(Kind::Urpc)] = RTT[index(Kind::RingFloor)] * factor;
                pair(0, i + 1, vec![round(rtt, &[80.0; 8])])
            })
            .collect();
        let summary = &summary_lines(&results)[0];
        assert_eq!(number_after(summary, "p50"), 1.2);
        assert_eq!(number_after(summary, "p10"), 1.0);
        assert_eq!(number_after(summary, "p90"), 1.4);
    }

    #[test]
    fn few_kept_rounds_are_warned_about() {
        let moved = round(RTT, &[80.0, 400.0, 80.0, 80.0, 80.0, 80.0, 80.0, 80.0]);
        let result = pair(0, 1, vec![moved.clone(), moved, round(RTT, &[80.0; 8])]);
        assert!(summary_lines(&[result]).last().unwrap().starts_with("warning: only 1 of 3 rounds kept"));
    }

    #[test]
    fn the_csv_has_the_ratios_and_the_rounds() {
        let csv = csv_rows(&pair(0, 1, vec![round(RTT, &[80.0; 8])]));
        assert!(csv.contains("0,1,urpc,rtt_ns,160.6,"), "{csv}");
        assert!(csv.contains("0,1,urpc,rtt_over_ring_floor,1.100,"), "{csv}");
        assert!(csv.contains("0,1,cacheline,rounds_kept,1,,,,,1"), "{csv}");
        for line in csv.lines() {
            assert_eq!(line.split(',').count(), CSV_HEADER.trim_end().split(',').count(), "{line}");
        }
    }

    #[test]
    fn the_generated_layer_is_reported_against_the_hand_written_message() {
        let summary = summary_lines(&[pair(0, 1, vec![round(RTT, &[80.0; 8])])]);
        let line =
            summary.iter().find(|l| l.starts_with("declared interface rtt / hand-written message rtt: "));
        assert_eq!(
            line.map(String::as_str),
            Some(
                "declared interface rtt / hand-written message rtt: p50 1.05 (p10 1.05, p90 1.05) (the generated layer's cost on the same pair)"
            )
        );
    }

    #[test]
    fn every_kind_gets_a_panel_and_pairs_are_drawn_on_both_sides() {
        let results = [pair(0, 1, vec![round(RTT, &[80.0; 8])])];
        let figure = figure(&[0, 1], (&[0, 0], "group"), &results, vec!["host: test".into()]);
        assert_eq!(figure.panels.len(), Kind::ALL.len() + 3);
        for kind in Kind::ALL {
            assert!(figure.panels.iter().any(|panel| panel.title.starts_with(kind.name())), "{kind:?}");
        }
        let svg = figure.svg();
        assert!(svg.contains("0-1: 161 ns") && svg.contains("1-0: 161 ns"), "{svg}");
        assert!(svg.contains("0-1: 1.10 × floor"));
    }
}
