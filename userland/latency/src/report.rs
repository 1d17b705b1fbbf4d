//! The benchmark's results as data: parsing the `latency <a>-<b> class=... p50_ns=...` lines
//! the boot monitor prints, and writing them as CSV and as an SVG heatmap of p50 per ordered
//! core pair (rows measure, columns echo) with each core's class on the axes. Portable, so the
//! host tool (`latency-report`) and its tests share it.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// One measured ordered pair.
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
    /// Median round trip.
    pub p50_ns: u64,
    /// 99th percentile round trip.
    pub p99_ns: u64,
    /// Median raw cache-line round trip on the same pair.
    pub limit_ns: u64,
}

/// Parses one console line; `None` for anything that is not a result line.
pub fn parse_line(line: &str) -> Option<PairResult> {
    let mut fields = line.trim().split(' ');
    if fields.next()? != "latency" {
        return None;
    }
    let (from, to) = fields.next()?.split_once('-')?;
    let (from_class, to_class) = fields.next()?.strip_prefix("class=")?.split_once('-')?;
    let mut value = |name: &str| -> Option<u64> { fields.next()?.strip_prefix(name)?.parse().ok() };
    let (p50_ns, p99_ns, limit_ns) = (value("p50_ns=")?, value("p99_ns=")?, value("limit_ns=")?);
    Some(PairResult {
        from: from.parse().ok()?,
        to: to.parse().ok()?,
        from_class: from_class.into(),
        to_class: to_class.into(),
        p50_ns,
        p99_ns,
        limit_ns,
    })
}

/// Every result line of a console log.
pub fn parse_log(log: &str) -> Vec<PairResult> {
    log.lines().filter_map(parse_line).collect()
}

/// The results as CSV with a header line.
pub fn csv(results: &[PairResult]) -> String {
    let mut out = String::from("from,to,from_class,to_class,p50_ns,p99_ns,limit_ns,p50_over_limit\n");
    for r in results {
        let ratio = if r.limit_ns == 0 { 0.0 } else { r.p50_ns as f64 / r.limit_ns as f64 };
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{ratio:.2}",
            r.from, r.to, r.from_class, r.to_class, r.p50_ns, r.p99_ns, r.limit_ns
        );
    }
    out
}

/// An SVG heatmap of p50 per ordered pair: row = measuring core, column = echoing core,
/// colour from green (fastest) to red (slowest), each axis label carrying the core's class.
pub fn heatmap_svg(results: &[PairResult], title: &str) -> String {
    const CELL: usize = 56;
    const MARGIN: usize = 96;
    let mut classes: BTreeMap<u32, &str> = BTreeMap::new();
    for r in results {
        classes.insert(r.from, &r.from_class);
        classes.insert(r.to, &r.to_class);
    }
    let cores: Vec<u32> = classes.keys().copied().collect();
    let position = |core: u32| cores.iter().position(|&c| c == core).unwrap_or(0);
    let low = results.iter().map(|r| r.p50_ns).min().unwrap_or(0);
    let high = results.iter().map(|r| r.p50_ns).max().unwrap_or(0);
    let side = cores.len() * CELL;
    let (width, height) = (MARGIN + side + 24, MARGIN + side + 40);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(out, r#"<text x="8" y="18" font-size="13">{title}</text>"#);
    let _ = writeln!(
        out,
        r#"<text x="8" y="{}" font-size="10">rows: measuring core, columns: echoing core; p50 round trip in ns</text>"#,
        height - 10
    );
    for (index, core) in cores.iter().enumerate() {
        let middle = MARGIN + index * CELL + CELL / 2;
        let class = classes.get(core).copied().unwrap_or("?");
        let _ = writeln!(
            out,
            r#"<text x="{middle}" y="{}" text-anchor="middle">{core}</text><text x="{middle}" y="{}" text-anchor="middle" font-size="9">{class}</text>"#,
            MARGIN - 20,
            MARGIN - 8
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">{core} ({class})</text>"#,
            MARGIN - 8,
            middle + 4
        );
    }
    for r in results {
        let (row, column) = (position(r.from), position(r.to));
        let fraction = if high > low { (r.p50_ns - low) as f64 / (high - low) as f64 } else { 0.0 };
        let red = (80.0 + 175.0 * fraction) as u8;
        let green = (200.0 - 140.0 * fraction) as u8;
        let (x, y) = (MARGIN + column * CELL, MARGIN + row * CELL);
        let _ = writeln!(
            out,
            r#"<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="rgb({red},{green},90)" stroke="white"><title>{}-{}: p50 {} ns, p99 {} ns, limit {} ns</title></rect>"#,
            r.from, r.to, r.p50_ns, r.p99_ns, r.limit_ns
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x + CELL / 2,
            y + CELL / 2 + 4,
            r.p50_ns
        );
    }
    for index in 0..cores.len() {
        let corner = MARGIN + index * CELL;
        let _ = writeln!(
            out,
            r##"<rect x="{corner}" y="{corner}" width="{CELL}" height="{CELL}" fill="#ddd"/>"##
        );
    }
    out.push_str("</svg>\n");
    out
}

/// How many ordered pairs a full matrix over the cores seen has, and how many are missing.
pub fn coverage(results: &[PairResult]) -> (usize, usize) {
    let mut cores: Vec<u32> = results.iter().flat_map(|r| [r.from, r.to]).collect();
    cores.sort_unstable();
    cores.dedup();
    let expected = cores.len() * cores.len().saturating_sub(1);
    let mut pairs: Vec<(u32, u32)> = results.iter().map(|r| (r.from, r.to)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    (expected, expected - pairs.len().min(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "core 0 up mpidr=0x0\nlatency benchmark: 2 ordered pairs\n\
        latency 0-4 class=little-big p50_ns=1568 p99_ns=2704 limit_ns=1024\n\
        latency 4-0 class=big-little p50_ns=2000 p99_ns=3424 limit_ns=992\n\
        latency 0-5 class=little-big failed: no answer\n";

    #[test]
    fn parses_result_lines_and_skips_the_rest() {
        let results = parse_log(LOG);
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].from_class, "little");
        assert_eq!((results[1].from, results[1].to, results[1].p99_ns), (4, 0, 3424));
        assert_eq!(coverage(&results), (2, 0));
    }

    #[test]
    fn writes_csv_and_a_heatmap_with_classes() {
        let results = parse_log(LOG);
        let csv = csv(&results);
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.contains("0,4,little,big,1568,2704,1024,1.53"));
        let svg = heatmap_svg(&results, "test");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("0 (little)") && svg.contains("4 (big)"));
        assert_eq!(svg.matches("<title>").count(), 2);
    }
}
