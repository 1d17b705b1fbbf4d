//! Heatmaps of one value per ordered core pair, as one self-contained SVG figure.
//!
//! A [`Figure`] has a title, note lines (the run's metadata), the cores on both axes (each
//! with a note such as its class and the group it belongs to) and one or more [`Panel`]s,
//! laid out in rows. Every panel has its own colour scale (a viridis-like ramp, readable
//! in grey and by colour-blind readers) with a legend bar labelled in the panel's unit.
//! A pair starved by a loaded host can be a thousand times slower than the rest; so that it
//! does not paint every other pair the same colour, values more than [`OUTLIER_FACTOR`] times
//! off the panel's median lie outside the scale: they take its end colour, keep their figure,
//! and are marked `▲` (above) or `▼` (below) with a legend entry. The scale is linear: what is
//! left on it spans at most 16 times.
//! Group boundaries (clusters) are drawn as thick lines. A failed pair is hatched and marked
//! `×`, a pair with no entry at all is marked `?`; neither takes a colour from the scale,
//! and neither moves the scale's ends.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// One core on the axes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Core {
    /// What the axis shows, e.g. `"4"`.
    pub label: String,
    /// A second, smaller line, e.g. the core's class (may be empty).
    pub note: String,
    /// Cores of one group (a cluster) sit together; a thick line separates groups.
    pub group: u32,
}

/// One pair's entry in a panel.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// A measurement.
    Value(f64),
    /// The pair failed; the text says why (shown when pointing at the cell).
    Failed(String),
}

/// One heatmap: a value per (row core, column core).
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// What the panel shows, e.g. `"URPC round trip p50"`.
    pub title: String,
    /// The unit of the values and of the colour scale, e.g. `"ns"`.
    pub unit: String,
    /// Decimals shown in the cells and on the scale.
    pub decimals: usize,
    /// `(row, column, entry)`, indices into [`Figure::cores`]; pairs without an entry are
    /// marked as having no result.
    pub cells: Vec<(usize, usize, Cell)>,
}

/// A figure of panels over the same cores.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The figure's title, one line.
    pub title: String,
    /// Lines under the title: what ran where and when, how to read the axes.
    pub notes: Vec<String>,
    /// The cores on both axes, in order.
    pub cores: Vec<Core>,
    /// What a group is, for the legend (e.g. `"cluster"`).
    pub group_name: String,
    /// The panels, left to right, `panels_per_row` in a row.
    pub panels: Vec<Panel>,
    /// Panels side by side before the next row starts (at least 1).
    pub panels_per_row: usize,
}
/// The mark of a failed pair.
pub const FAILED_MARK: &str = "×";
/// The mark of a pair with no entry.
pub const MISSING_MARK: &str = "?";
/// Values more than this factor above or below a panel's median lie outside its scale.
pub const OUTLIER_FACTOR: f64 = 4.0;
/// The mark of a value above the scale.
pub const ABOVE_MARK: &str = "▲";
/// The mark of a value below the scale.
pub const BELOW_MARK: &str = "▼";
/// The id of the hatch pattern failed cells are filled with.
pub const FAILED_PATTERN: &str = "failed-hatch";

const TITLE_SIZE: usize = 16;
const NOTE_SIZE: usize = 11;
const LINE: usize = 16;
const ROW_LABELS: usize = 76;
const COLUMN_LABELS: usize = 34;
const PANEL_TITLE: usize = 22;
const BAR_HEIGHT: usize = 12;
const PADDING: usize = 12;

/// Width in pixels a sans-serif line of `text` takes at `size`, generously (about 0.6 em a
/// character), so that titles and notes never run off the figure.
pub fn text_width(text: &str, size: usize) -> usize {
    (text.chars().count() * size * 62).div_ceil(100)
}

/// The top of a figure, the same on the heatmaps and the line plots: a bold title and grey
/// note lines under it (what ran where and when), on a white background.
pub struct Heading<'text> {
    /// One line.
    pub title: &'text str,
    /// The lines under it.
    pub notes: &'text [String],
}

impl Heading<'_> {
    /// How tall the heading is, the space under the last note included.
    pub fn height(&self) -> usize {
        8 + LINE + 4 + self.notes.len() * LINE + 8
    }

    /// The narrowest figure the title and every note fit in.
    pub fn min_width(&self) -> usize {
        core::iter::once(text_width(self.title, TITLE_SIZE))
            .chain(self.notes.iter().map(|note| text_width(note, NOTE_SIZE)))
            .max()
            .unwrap_or(0)
            + 2 * PADDING
    }

    /// Opens the SVG document of `width` by `height`, named by the title.
    pub fn open(&self, out: &mut String, width: usize, height: usize) {
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{NOTE_SIZE}">"#
        );
        let _ = writeln!(out, r#"<title>{}</title>"#, escape(self.title));
    }

    /// The background, the title and the notes (after any definitions).
    pub fn draw(&self, out: &mut String) {
        let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            out,
            r#"<text x="{PADDING}" y="{}" font-size="{TITLE_SIZE}" font-weight="bold">{}</text>"#,
            8 + LINE,
            escape(self.title)
        );
        for (index, note) in self.notes.iter().enumerate() {
            let _ = writeln!(
                out,
                r##"<text x="{PADDING}" y="{}" fill="#333">{}</text>"##,
                8 + LINE + 4 + (index + 1) * LINE,
                escape(note)
            );
        }
    }
}

/// `text` with the characters XML reserves escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// The colour scale: a ramp from dark blue-violet (lowest) through teal to yellow (highest),
/// close to matplotlib's viridis.
const RAMP: [(u8, u8, u8); 5] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)];

/// The ramp's colour at `fraction` (0.0 lowest, 1.0 highest), and whether text on it should
/// be white.
pub fn colour(fraction: f64) -> (String, bool) {
    let fraction = if fraction.is_nan() { 0.5 } else { fraction.clamp(0.0, 1.0) };
    let scaled = fraction * (RAMP.len() - 1) as f64;
    let index = (scaled as usize).min(RAMP.len() - 2);
    let t = scaled - index as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t + 0.5) as u8;
    let (low, high) = (RAMP[index], RAMP[index + 1]);
    let (red, green, blue) = (mix(low.0, high.0), mix(low.1, high.1), mix(low.2, high.2));
    // Perceived brightness (ITU-R BT.601 weights): light fills get dark text.
    let light = 299 * u32::from(red) + 587 * u32::from(green) + 114 * u32::from(blue) > 140_000;
    (format!("rgb({red},{green},{blue})"), !light)
}

/// A value with `decimals` decimals.
fn number(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}")
}

/// Where values sit on a panel's colour scale.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Scale {
    /// The lowest value on the scale.
    low: f64,
    /// The highest value on the scale.
    high: f64,
    /// Values below this are outliers (and `high` is the highest value not above
    /// `above_from`).
    below_from: f64,
    /// Values above this are outliers.
    above_from: f64,
}

/// Where one value sits.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Place {
    /// On the scale, at this fraction (0.0 low end, 1.0 high end).
    On(f64),
    Above,
    Below,
}

impl Scale {
    /// The scale of `values` (finite ones only); `None` without any.
    fn of(values: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|value| value.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let median = *sorted.get(sorted.len().checked_sub(1)? / 2)?;
        let (below_from, above_from) = if median > 0.0 {
            (median / OUTLIER_FACTOR, median * OUTLIER_FACTOR)
        } else {
            (f64::NEG_INFINITY, f64::INFINITY)
        };
        // The median itself is always on the scale, so both ends exist.
        let on_scale = || sorted.iter().copied().filter(|&v| v >= below_from && v <= above_from);
        let low = on_scale().fold(median, f64::min);
        let high = on_scale().fold(median, f64::max);
        Some(Scale { low, high, below_from, above_from })
    }

    fn place(&self, value: f64) -> Place {
        if value > self.above_from {
            Place::Above
        } else if value < self.below_from {
            Place::Below
        } else if self.high <= self.low {
            Place::On(0.5)
        } else {
            Place::On((value - self.low) / (self.high - self.low))
        }
    }

    /// The value in the middle of the bar.
    fn middle(&self) -> f64 {
        (self.low + self.high) / 2.0
    }
}

impl Panel {
    /// The measured values (failed pairs take no part).
    pub fn values(&self) -> Vec<f64> {
        self.cells
            .iter()
            .filter_map(|(_, _, cell)| match cell {
                Cell::Value(value) => Some(*value),
                Cell::Failed(_) => None,
            })
            .collect()
    }
}

impl Figure {
    /// The side of one cell: large enough for a value, smaller for many cores.
    fn cell_size(&self) -> usize {
        (560 / self.cores.len().max(1)).clamp(22, 56)
    }

    fn panel_size(&self) -> (usize, usize) {
        let grid = self.cores.len() * self.cell_size();
        let width = ROW_LABELS + grid.max(220) + PADDING;
        // Title, column labels, grid, colour bar with its labels, up to five legend lines.
        let height = PANEL_TITLE + COLUMN_LABELS + grid + PADDING + BAR_HEIGHT + 2 * LINE + 5 * LINE;
        (width, height)
    }

    /// Pairs of neighbouring positions whose cores are in different groups.
    fn boundaries(&self) -> Vec<usize> {
        (1..self.cores.len()).filter(|&i| self.cores[i].group != self.cores[i - 1].group).collect()
    }

    /// The figure as an SVG document.
    pub fn svg(&self) -> String {
        let (panel_width, panel_height) = self.panel_size();
        let per_row = self.panels.len().min(self.panels_per_row).max(1);
        let rows = self.panels.len().div_ceil(per_row).max(1);
        let heading = Heading { title: &self.title, notes: &self.notes };
        let header = heading.height();
        let width = (per_row * panel_width + PADDING).max(heading.min_width());
        let height = header + rows * panel_height + PADDING;

        let mut out = String::new();
        heading.open(&mut out, width, height);
        let _ = writeln!(out, "<defs>");
        let _ = writeln!(
            out,
            r##"<pattern id="{FAILED_PATTERN}" patternUnits="userSpaceOnUse" width="8" height="8" patternTransform="rotate(45)"><rect width="8" height="8" fill="#fff"/><line x1="0" y1="0" x2="0" y2="8" stroke="#b22" stroke-width="3"/></pattern>"##
        );
        let _ = write!(out, r#"<linearGradient id="scale">"#);
        for (index, _) in RAMP.iter().enumerate() {
            let fraction = index as f64 / (RAMP.len() - 1) as f64;
            let _ = write!(out, r#"<stop offset="{fraction}" stop-color="{}"/>"#, colour(fraction).0);
        }
        let _ = writeln!(out, "</linearGradient>\n</defs>");
        heading.draw(&mut out);
        for (index, panel) in self.panels.iter().enumerate() {
            let left = PADDING + (index % per_row) * panel_width;
            let top = header + (index / per_row) * panel_height;
            self.panel_svg(&mut out, panel, left, top);
        }
        out.push_str("</svg>\n");
        out
    }

    fn panel_svg(&self, out: &mut String, panel: &Panel, left: usize, top: usize) {
        let cell = self.cell_size();
        let count = self.cores.len();
        let grid = count * cell;
        let (grid_left, grid_top) = (left + ROW_LABELS, top + PANEL_TITLE + COLUMN_LABELS);
        let show_values = cell >= 40;
        let value_size = if cell >= 52 { 11 } else { 10 };
        let _ = writeln!(
            out,
            r#"<text x="{left}" y="{}" font-size="13" font-weight="bold">{} ({})</text>"#,
            top + 15,
            escape(&panel.title),
            escape(&panel.unit)
        );
        for (index, core) in self.cores.iter().enumerate() {
            let middle = grid_left + index * cell + cell / 2;
            let _ = writeln!(
                out,
                r#"<text x="{middle}" y="{}" text-anchor="middle">{}</text><text x="{middle}" y="{}" text-anchor="middle" font-size="9">{}</text>"#,
                grid_top - 18,
                escape(&core.label),
                grid_top - 6,
                escape(&core.note)
            );
            let row_middle = grid_top + index * cell + cell / 2;
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="end">{} <tspan font-size="9">{}</tspan></text>"#,
                grid_left - 6,
                row_middle + 4,
                escape(&core.label),
                escape(&core.note)
            );
        }
        let scale = Scale::of(&panel.values());
        let (mut any_above, mut any_below) = (false, false);
        let mut drawn = alloc::vec![false; count * count];
        let mut any_failed = false;
        for (row, column, entry) in &panel.cells {
            let (row, column) = (*row, *column);
            if row >= count || column >= count || row == column {
                continue;
            }
            drawn[row * count + column] = true;
            let (x, y) = (grid_left + column * cell, grid_top + row * cell);
            let pair = format!("{}-{}", self.cores[row].label, self.cores[column].label);
            match entry {
                Cell::Value(value) => {
                    let place = scale.map_or(Place::On(0.5), |scale| scale.place(*value));
                    let (fill, white_text) = colour(match place {
                        Place::On(fraction) => fraction,
                        Place::Above => 1.0,
                        Place::Below => 0.0,
                    });
                    let text_colour = if white_text { "white" } else { "black" };
                    let shown = number(*value, panel.decimals);
                    let _ = writeln!(
                        out,
                        r#"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" stroke="white"><title>{pair}: {shown} {}</title></rect>"#,
                        escape(&panel.unit)
                    );
                    let mark = match place {
                        Place::On(_) => "",
                        Place::Above => ABOVE_MARK,
                        Place::Below => BELOW_MARK,
                    };
                    if !mark.is_empty() {
                        any_above |= place == Place::Above;
                        any_below |= place == Place::Below;
                        let _ = writeln!(
                            out,
                            r#"<text x="{}" y="{}" text-anchor="end" font-size="9" fill="{text_colour}">{mark}</text>"#,
                            x + cell - 3,
                            y + 10
                        );
                    }
                    if show_values {
                        // Long figures get a smaller font, so they stay inside their cell.
                        let size = value_size.min((cell - 6) * 100 / (62 * shown.chars().count().max(1)));
                        let _ = writeln!(
                            out,
                            r#"<text x="{}" y="{}" text-anchor="middle" font-size="{size}" fill="{text_colour}">{shown}</text>"#,
                            x + cell / 2,
                            y + cell / 2 + 4
                        );
                    }
                }
                Cell::Failed(reason) => {
                    any_failed = true;
                    let _ = writeln!(
                        out,
                        r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="url(#{FAILED_PATTERN})" stroke="white"><title>{pair}: failed, {}</title></rect><text x="{}" y="{}" text-anchor="middle" font-size="{}" font-weight="bold" fill="#800">{FAILED_MARK}</text>"##,
                        escape(reason),
                        x + cell / 2,
                        y + cell / 2 + cell / 6,
                        cell / 2
                    );
                }
            }
        }
        let mut any_missing = false;
        for row in 0..count {
            for column in 0..count {
                let (x, y) = (grid_left + column * cell, grid_top + row * cell);
                if row == column {
                    let _ = writeln!(
                        out,
                        r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="#ddd" stroke="white"/>"##
                    );
                } else if !drawn[row * count + column] {
                    any_missing = true;
                    let _ = writeln!(
                        out,
                        r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="white" stroke="#bbb"><title>{}-{}: no result</title></rect><text x="{}" y="{}" text-anchor="middle" fill="#666">{MISSING_MARK}</text>"##,
                        escape(&self.cores[row].label),
                        escape(&self.cores[column].label),
                        x + cell / 2,
                        y + cell / 2 + 4
                    );
                }
            }
        }
        let boundaries = self.boundaries();
        for &position in &boundaries {
            let offset = position * cell;
            let _ = writeln!(
                out,
                r#"<line x1="{}" y1="{grid_top}" x2="{}" y2="{}" stroke="black" stroke-width="2.5"/><line x1="{grid_left}" y1="{}" x2="{}" y2="{}" stroke="black" stroke-width="2.5"/>"#,
                grid_left + offset,
                grid_left + offset,
                grid_top + grid,
                grid_top + offset,
                grid_left + grid,
                grid_top + offset
            );
        }

        // The colour scale: the ramp, its two ends and middle, and the unit.
        let bar_top = grid_top + grid + PADDING;
        let bar_width = grid.max(220) - 40;
        match scale {
            Some(Scale { low, high, .. }) if low == high => {
                let _ = writeln!(
                    out,
                    r##"<rect x="{grid_left}" y="{bar_top}" width="{BAR_HEIGHT}" height="{BAR_HEIGHT}" fill="{}" stroke="#888"/><text x="{}" y="{}">every measured pair: {} {}</text>"##,
                    colour(0.5).0,
                    grid_left + BAR_HEIGHT + 6,
                    bar_top + BAR_HEIGHT - 1,
                    number(low, panel.decimals),
                    escape(&panel.unit)
                );
            }
            Some(scale) => {
                let (low, high) = (scale.low, scale.high);
                let _ = writeln!(
                    out,
                    r##"<rect x="{grid_left}" y="{bar_top}" width="{bar_width}" height="{BAR_HEIGHT}" fill="url(#scale)" stroke="#888"/>"##
                );
                for (fraction, value, anchor) in
                    [(0.0, low, "start"), (0.5, scale.middle(), "middle"), (1.0, high, "end")]
                {
                    let x = grid_left + (bar_width as f64 * fraction) as usize;
                    let _ = writeln!(
                        out,
                        r#"<text x="{x}" y="{}" text-anchor="{anchor}">{}</text>"#,
                        bar_top + BAR_HEIGHT + 13,
                        number(value, panel.decimals)
                    );
                }
                let _ = writeln!(
                    out,
                    r#"<text x="{}" y="{}">{}</text>"#,
                    grid_left + bar_width + 6,
                    bar_top + BAR_HEIGHT - 1,
                    escape(&panel.unit)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    r#"<text x="{grid_left}" y="{}">no measured pair: no colour scale</text>"#,
                    bar_top + BAR_HEIGHT
                );
            }
        }

        // The legend: what is not coloured by the scale.
        let mut legend = Legend {
            x: grid_left,
            y: bar_top + BAR_HEIGHT + 2 * LINE - 4,
            left: grid_left,
            right: grid_left + grid.max(220),
        };
        let swatch = |x: usize, y: usize, fill: &str| {
            format!(r##"<rect x="{x}" y="{y}" width="12" height="12" fill="{fill}" stroke="#888"/>"##)
        };
        if any_failed {
            legend.entry(out, "failed: no measurement", |x, y| {
                format!(
                    r##"{}<text x="{}" y="{}" text-anchor="middle" font-size="11" font-weight="bold" fill="#800">{FAILED_MARK}</text>"##,
                    swatch(x, y, &format!("url(#{FAILED_PATTERN})")),
                    x + 6,
                    y + 10
                )
            });
        }
        if any_missing {
            legend.entry(out, "no result", |x, y| {
                format!(
                    r##"{}<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#666">{MISSING_MARK}</text>"##,
                    swatch(x, y, "white"),
                    x + 6,
                    y + 10
                )
            });
        }
        for (present, mark, fraction, text) in [
            (any_above, ABOVE_MARK, 1.0, format!("above the scale (> {OUTLIER_FACTOR} × median)")),
            (any_below, BELOW_MARK, 0.0, format!("below the scale (< median / {OUTLIER_FACTOR})")),
        ] {
            if present {
                let (fill, white_text) = colour(fraction);
                let text_colour = if white_text { "white" } else { "black" };
                legend.entry(out, &text, |x, y| {
                    format!(
                        r#"{}<text x="{}" y="{}" text-anchor="middle" font-size="9" fill="{text_colour}">{mark}</text>"#,
                        swatch(x, y, &fill),
                        x + 6,
                        y + 10
                    )
                });
            }
        }
        legend.entry(out, "same core", |x, y| swatch(x, y, "#ddd"));
        if !boundaries.is_empty() {
            legend.entry(out, &format!("{} boundary", self.group_name), |x, y| {
                format!(
                    r#"<line x1="{x}" y1="{}" x2="{}" y2="{}" stroke="black" stroke-width="2.5"/>"#,
                    y + 6,
                    x + 12,
                    y + 6
                )
            });
        }
    }
}

/// Where the next legend entry goes; entries wrap onto a new line at `right`.
struct Legend {
    x: usize,
    y: usize,
    left: usize,
    right: usize,
}

impl Legend {
    /// Writes a swatch (drawn by `swatch` at its top-left corner) and its text.
    fn entry(&mut self, out: &mut String, text: &str, swatch: impl Fn(usize, usize) -> String) {
        let width = 16 + text_width(text, 10);
        if self.x > self.left && self.x + width > self.right {
            self.x = self.left;
            self.y += LINE;
        }
        let _ = writeln!(
            out,
            r#"{}<text x="{}" y="{}" font-size="10">{}</text>"#,
            swatch(self.x, self.y),
            self.x + 16,
            self.y + 10,
            escape(text)
        );
        self.x += width + 12;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn cores() -> Vec<Core> {
        ["little", "little", "big"]
            .iter()
            .enumerate()
            .map(|(index, class)| Core {
                label: index.to_string(),
                note: class.to_string(),
                group: u32::from(*class == "big"),
            })
            .collect()
    }

    fn figure(cells: Vec<(usize, usize, Cell)>) -> Figure {
        Figure {
            title: "A title that is long enough to need more width than three small panels give it".into(),
            notes: vec!["machine: test <virt>".into()],
            cores: cores(),
            group_name: "cluster".into(),
            panels: vec![Panel { title: "p50".into(), unit: "ns".into(), decimals: 0, cells }],
            panels_per_row: 2,
        }
    }

    #[test]
    fn failed_pairs_are_marked_not_coloured_and_do_not_move_the_scale() {
        let svg = figure(vec![
            (0, 1, Cell::Value(100.0)),
            (1, 0, Cell::Value(300.0)),
            (0, 2, Cell::Failed("no-pong".into())),
        ])
        .svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains(&format!("fill=\"url(#{FAILED_PATTERN})\"")));
        assert!(svg.contains("0-2: failed, no-pong"));
        assert!(svg.contains(FAILED_MARK) && svg.contains("failed: no measurement"));
        // The scale runs over the measured values only: 100 .. 300, not 0.
        assert!(svg.contains(r#"text-anchor="start">100</text>"#), "{svg}");
        assert!(svg.contains(r#"text-anchor="middle">200</text>"#));
        assert!(svg.contains(r#"text-anchor="end">300</text>"#));
        // Pairs with no entry at all are marked as such.
        assert!(svg.contains("1-2: no result") && svg.contains("2-0: no result"));
    }

    #[test]
    fn the_title_fits_and_text_is_escaped() {
        let figure = figure(vec![(0, 1, Cell::Value(1.0))]);
        let svg = figure.svg();
        let width: usize = svg
            .split("width=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|w| w.parse().ok())
            .unwrap();
        assert!(width >= text_width(&figure.title, TITLE_SIZE) + 2 * PADDING, "{width}");
        assert!(svg.contains("machine: test &lt;virt&gt;"));
    }

    #[test]
    fn cluster_boundaries_are_drawn_between_groups() {
        let figure = figure(vec![(0, 1, Cell::Value(1.0))]);
        assert_eq!(figure.boundaries(), vec![2]);
        assert!(figure.svg().contains("cluster boundary"));
    }

    #[test]
    fn an_outlier_lies_outside_the_scale_and_is_marked() {
        let values = [1000.0, 1100.0, 1200.0, 1300.0, 8_000_000.0, 10.0];
        let cells = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let (row, column) = [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)][i];
                (row, column, Cell::Value(v))
            })
            .collect();
        let svg = figure(cells).svg();
        // The scale runs over the four ordinary values only.
        assert!(svg.contains(r#"text-anchor="start">1000</text>"#), "{svg}");
        assert!(svg.contains(r#"text-anchor="end">1300</text>"#));
        assert!(svg.contains("2-0: 8000000 ns") && svg.contains("2-1: 10 ns"), "figures are kept");
        assert!(svg.contains(ABOVE_MARK) && svg.contains("above the scale (&gt; 4 × median)"));
        assert!(svg.contains(BELOW_MARK) && svg.contains("below the scale (&lt; median / 4)"));
    }

    #[test]
    fn values_within_the_outlier_bounds_span_the_scale() {
        // The median is 1000, so 250 .. 4000 is on the scale.
        let scale = Scale::of(&[100.0, 300.0, 1000.0, 1000.0, 1100.0, 4000.0, 4500.0]).unwrap();
        assert_eq!((scale.low, scale.high), (300.0, 4000.0));
        assert_eq!(scale.place(scale.middle()), Place::On(0.5));
        assert_eq!((scale.place(100.0), scale.place(4500.0)), (Place::Below, Place::Above));
        assert_eq!(scale.place(300.0), Place::On(0.0));
    }

    #[test]
    fn one_value_gets_no_ramp() {
        let svg = figure(vec![(0, 1, Cell::Value(5.0)), (1, 0, Cell::Value(5.0))]).svg();
        assert!(svg.contains("every measured pair: 5 ns") && !svg.contains("url(#scale)"));
    }

    #[test]
    fn the_ramp_runs_from_dark_to_light() {
        assert_eq!(colour(0.0), ("rgb(68,1,84)".to_string(), true));
        assert_eq!(colour(1.0), ("rgb(253,231,37)".to_string(), false));
        assert_eq!(colour(f64::NAN).0, colour(0.5).0);
    }
}
