//! A heatmap of one value per core pair as a self-contained SVG (hand-written: a grid of
//! coloured squares with labels needs no plotting library and builds in no time).

use std::fmt::Write as _;

const CELL: usize = 48;
const MARGIN: usize = 56;

/// An SVG heatmap over `cores` x `cores`; `cells` are (row core, column core, value) and are
/// drawn on both sides of the diagonal. Colour runs from green (lowest) to red (highest).
pub fn svg(cores: &[usize], cells: &[(usize, usize, f64)], title: &str) -> String {
    let side = cores.len() * CELL;
    let (width, height) = (MARGIN + side + 16, MARGIN + side + 16);
    let values: Vec<f64> = cells.iter().map(|cell| cell.2).filter(|value| value.is_finite()).collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let position = |core: usize| cores.iter().position(|&candidate| candidate == core);

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(out, r#"<text x="{}" y="18" font-size="13">{title}</text>"#, MARGIN / 4);
    for (index, core) in cores.iter().enumerate() {
        let middle = MARGIN + index * CELL + CELL / 2;
        let _ = writeln!(out, r#"<text x="{middle}" y="{}" text-anchor="middle">{core}</text>"#, MARGIN - 6);
        let _ =
            writeln!(out, r#"<text x="{}" y="{}" text-anchor="end">{core}</text>"#, MARGIN - 6, middle + 4);
    }
    for &(row_core, column_core, value) in cells {
        let (Some(row), Some(column)) = (position(row_core), position(column_core)) else { continue };
        let fraction = if high > low { (value - low) / (high - low) } else { 0.0 };
        let fill = colour(fraction);
        for (y, x) in [(row, column), (column, row)] {
            let (left, top) = (MARGIN + x * CELL, MARGIN + y * CELL);
            let _ = writeln!(
                out,
                r#"<rect x="{left}" y="{top}" width="{CELL}" height="{CELL}" fill="{fill}" stroke="white"><title>{row_core}-{column_core}: {value:.1} ns</title></rect>"#
            );
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="middle">{value:.0}</text>"#,
                left + CELL / 2,
                top + CELL / 2 + 4
            );
        }
    }
    for index in 0..cores.len() {
        let corner = MARGIN + index * CELL;
        let _ = writeln!(
            out,
            r##"<rect x="{corner}" y="{corner}" width="{CELL}" height="{CELL}" fill="#ddd" stroke="white"/>"##
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Green (0.0) through yellow to red (1.0).
fn colour(fraction: f64) -> String {
    let fraction = fraction.clamp(0.0, 1.0);
    let red = (255.0 * (2.0 * fraction).min(1.0)) as u8;
    let green = (200.0 * (2.0 - 2.0 * fraction).min(1.0)) as u8;
    format!("rgb({red},{green},80)")
}
