//! Line plots of one or more series of `(x, y)` points, as one self-contained SVG figure: a
//! measured value (say, latency) against a count (say, cores), one line per series.
//!
//! A [`LinePlot`] has a title, note lines (the run's metadata), axis labels and its
//! [`Series`]. The y axis starts at zero, so lines can be compared by height; both axes get
//! round tick steps (1, 2 or 5 times a power of ten; the x axis ticks every whole number when
//! there are few). Each series has its own colour from a palette readable by colour-blind
//! readers, and its own marker shape (circle, square, triangle, diamond), so the lines stay apart in grey too; every point carries
//! its value as a tooltip. A point that is not finite is left out and breaks its line; a plot
//! with nothing to draw says so instead of drawing empty axes.
//!
//! No floating-point function outside `core` is used (no `log10` or `floor`), so the module
//! stays `no_std`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::heatmap::{escape, Heading};

/// One line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend's entry, e.g. `"tree"`.
    pub name: String,
    /// The points in drawing order (usually ascending x).
    pub points: Vec<(f64, f64)>,
}

/// A plot of series over shared axes.
#[derive(Clone, Debug, PartialEq)]
pub struct LinePlot {
    /// The figure's title, one line.
    pub title: String,
    /// Lines under the title: what ran where and when.
    pub notes: Vec<String>,
    /// What the x axis counts, e.g. `"cores"`.
    pub x_label: String,
    /// What the y axis measures, with its unit, e.g. `"latency p50 (ns)"`.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

/// Okabe and Ito's palette: told apart with every common colour-vision deficiency.
pub const PALETTE: [&str; 7] = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"];

const LINE: usize = 16;
const PADDING: usize = 12;
const PLOT_WIDTH: usize = 560;
const PLOT_HEIGHT: usize = 320;
/// Room left of the plot for the y ticks' figures and the axis label.
const Y_AXIS: usize = 84;
/// Room under the plot for the x ticks' figures and the axis label.
const X_AXIS: usize = 44;
/// Room right of the plot for the legend.
const LEGEND: usize = 150;

/// A round step (1, 2 or 5 times a power of ten) that cuts `span` into at most `most` parts.
pub fn tick_step(span: f64, most: usize) -> f64 {
    if span.is_nan() || span <= 0.0 || span.is_infinite() {
        return 1.0;
    }
    let least = span / most.max(1) as f64;
    let mut power = 1.0;
    while power > least {
        power /= 10.0;
    }
    while power * 10.0 <= least {
        power *= 10.0;
    }
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|factor| factor * power)
        .find(|&step| step >= least)
        .unwrap_or(10.0 * power)
}

/// `value` as a tick label: no decimals for whole numbers, else as few as the step needs.
fn tick_label(value: f64, step: f64) -> String {
    if step >= 1.0 {
        return format!("{}", value as i64);
    }
    let mut decimals = 0;
    let mut scaled = step;
    while scaled < 1.0 && decimals < 9 {
        scaled *= 10.0;
        decimals += 1;
    }
    format!("{value:.decimals$}")
}

/// `(least, greatest)` of the finite values, `None` if there are none.
fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |range, v| match range {
        None => Some((v, v)),
        Some((low, high)) => Some((if v < low { v } else { low }, if v > high { v } else { high })),
    })
}

/// The marker of series `index` at `(x, y)`, with `tooltip`.
fn marker(index: usize, x: f64, y: f64, colour: &str, tooltip: &str) -> String {
    let title = format!("<title>{}</title>", escape(tooltip));
    match index % 4 {
        0 => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}">{title}</circle>"#),
        1 => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="{colour}">{title}</rect>"#,
            x - 4.0,
            y - 4.0
        ),
        2 => format!(
            r#"<polygon points="{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{colour}">{title}</polygon>"#,
            y - 5.0,
            x + 5.0,
            y + 4.0,
            x - 5.0,
            y + 4.0
        ),
        _ => format!(
            r#"<polygon points="{x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1}" fill="{colour}">{title}</polygon>"#,
            y - 5.0,
            x + 5.0,
            y + 5.0,
            x - 5.0
        ),
    }
}

impl LinePlot {
    /// The plot as an SVG document.
    pub fn svg(&self) -> String {
        let heading = Heading { title: &self.title, notes: &self.notes };
        let header = heading.height();
        let width = (PADDING + Y_AXIS + PLOT_WIDTH + LEGEND).max(heading.min_width());
        // Room above the plot for the top tick's figure, clear of the last note.
        let top = header + PADDING;
        let height = top + PLOT_HEIGHT + X_AXIS + PADDING;
        let (left, top) = ((PADDING + Y_AXIS) as f64, top as f64);
        let (right, bottom) = (left + PLOT_WIDTH as f64, top + PLOT_HEIGHT as f64);

        let mut out = String::new();
        heading.open(&mut out, width, height);
        heading.draw(&mut out);

        let points = || self.series.iter().flat_map(|series| series.points.iter().copied());
        let finite = || points().filter(|(x, y)| x.is_finite() && y.is_finite());
        let (Some((x_low, x_high)), Some((_, y_high))) =
            (bounds(finite().map(|p| p.0)), bounds(finite().map(|p| p.1)))
        else {
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#666">no data</text>"##,
                (left + right) / 2.0,
                (top + bottom) / 2.0
            );
            out.push_str("</svg>\n");
            return out;
        };

        // The axes' ranges: x over the points (widened when they share one x), y from zero to
        // the first tick at or above the highest point.
        let (x_low, x_high) = if x_high > x_low { (x_low, x_high) } else { (x_low - 1.0, x_high + 1.0) };
        let x_step = if x_high - x_low <= 16.0 && x_low == (x_low as i64) as f64 {
            1.0
        } else {
            tick_step(x_high - x_low, 10)
        };
        let y_step = tick_step(if y_high > 0.0 { y_high } else { 1.0 }, 6);
        let mut y_top = y_step;
        while y_top < y_high {
            y_top += y_step;
        }
        let x_at = |x: f64| left + (x - x_low) / (x_high - x_low) * PLOT_WIDTH as f64;
        let y_at = |y: f64| bottom - y / y_top * PLOT_HEIGHT as f64;

        // Grid, ticks and their figures.
        let mut tick = 0.0;
        while tick <= y_top + y_step / 2.0 {
            let y = y_at(tick);
            let _ = writeln!(
                out,
                r##"<line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                left - 6.0,
                y + 4.0,
                tick_label(tick, y_step)
            );
            tick += y_step;
        }
        let mut tick = x_low;
        while tick <= x_high + x_step / 2.0 {
            let x = x_at(tick);
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                bottom + 5.0,
                bottom + 18.0,
                tick_label(tick, x_step)
            );
            tick += x_step;
        }
        let _ = writeln!(
            out,
            r##"<polyline points="{left:.1},{top:.1} {left:.1},{bottom:.1} {right:.1},{bottom:.1}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12">{}</text>"#,
            (left + right) / 2.0,
            bottom + 38.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12" transform="rotate(-90 {:.1} {:.1})">{}</text>"#,
            (PADDING + 10) as f64,
            (top + bottom) / 2.0,
            (PADDING + 10) as f64,
            (top + bottom) / 2.0,
            escape(&self.y_label)
        );

        // The lines (broken where a point is not finite), their markers and the legend.
        for (index, series) in self.series.iter().enumerate() {
            let colour = PALETTE[index % PALETTE.len()];
            let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
            let mut run: Vec<(f64, f64)> = Vec::new();
            for &(x, y) in &series.points {
                if x.is_finite() && y.is_finite() {
                    run.push((x, y));
                } else if !run.is_empty() {
                    runs.push(core::mem::take(&mut run));
                }
            }
            if !run.is_empty() {
                runs.push(run);
            }
            for run in &runs {
                let mut coordinates = String::new();
                for &(x, y) in run {
                    let _ = write!(coordinates, "{:.1},{:.1} ", x_at(x), y_at(y));
                }
                let _ = writeln!(
                    out,
                    r#"<polyline class="series" points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                    coordinates.trim_end()
                );
                for &(x, y) in run {
                    let tooltip =
                        format!("{}: {} at {}", series.name, tick_label(y, 1.0), tick_label(x, x_step));
                    let _ = writeln!(out, "{}", marker(index, x_at(x), y_at(y), colour, &tooltip));
                }
            }
            let legend_y = top + 10.0 + index as f64 * LINE as f64;
            let _ = writeln!(
                out,
                r#"<line x1="{:.1}" y1="{legend_y:.1}" x2="{:.1}" y2="{legend_y:.1}" stroke="{colour}" stroke-width="2"/>{}<text x="{:.1}" y="{:.1}">{}</text>"#,
                right + 16.0,
                right + 40.0,
                marker(index, right + 28.0, legend_y, colour, &series.name),
                right + 46.0,
                legend_y + 4.0,
                escape(&series.name)
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec;

    use super::*;

    fn plot(series: Vec<Series>) -> LinePlot {
        LinePlot {
            title: "latency <by> cores".to_string(),
            notes: vec!["host & date".to_string()],
            x_label: "cores".to_string(),
            y_label: "p50 (ns)".to_string(),
            series,
        }
    }

    /// The `points` of every series polyline, as numbers.
    fn lines(svg: &str) -> Vec<Vec<(f64, f64)>> {
        svg.lines()
            .filter(|line| line.contains(r#"class="series""#))
            .map(|line| {
                let points = line.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
                points
                    .split(' ')
                    .map(|pair| {
                        let (x, y) = pair.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn round_tick_steps() {
        assert_eq!(tick_step(10.0, 10), 1.0);
        assert_eq!(tick_step(12_345.0, 6), 5000.0);
        assert_eq!(tick_step(0.7, 6), 0.2);
        assert_eq!(tick_step(0.0, 6), 1.0);
        assert_eq!(tick_step(f64::NAN, 6), 1.0);
        assert_eq!(tick_label(2000.0, 500.0), "2000");
        assert_eq!(tick_label(0.4, 0.2), "0.4");
    }

    #[test]
    fn one_line_per_series_higher_values_drawn_higher_and_text_escaped() {
        let svg = plot(vec![
            Series { name: "unicast".to_string(), points: vec![(2.0, 100.0), (3.0, 200.0), (4.0, 300.0)] },
            Series { name: "tree".to_string(), points: vec![(2.0, 100.0), (3.0, 120.0), (4.0, 140.0)] },
        ])
        .svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("latency &lt;by&gt; cores") && svg.contains("host &amp; date"));
        let lines = lines(&svg);
        assert_eq!(lines.len(), 2);
        let (unicast, tree) = (&lines[0], &lines[1]);
        assert!(unicast.windows(2).all(|pair| pair[0].0 < pair[1].0), "x grows to the right: {unicast:?}");
        assert!(
            unicast.windows(2).all(|pair| pair[0].1 > pair[1].1),
            "more is drawn higher (smaller y): {unicast:?}"
        );
        assert_eq!(unicast[0], tree[0], "equal values, equal places");
        assert!(unicast[2].1 < tree[2].1);
        assert_eq!(svg.matches("<circle").count(), 4, "unicast's three markers and its legend's");
        assert!(svg.contains("<title>tree: 140 at 4</title>"));
    }

    #[test]
    fn a_point_that_is_not_finite_breaks_its_line_and_nothing_to_draw_is_said() {
        let svg = plot(vec![Series {
            name: "lock".to_string(),
            points: vec![(2.0, 1.0), (3.0, f64::NAN), (4.0, 3.0), (5.0, 4.0)],
        }])
        .svg();
        assert_eq!(lines(&svg).iter().map(Vec::len).collect::<Vec<_>>(), [1, 2]);
        let empty = plot(vec![Series { name: "lock".to_string(), points: vec![(2.0, f64::INFINITY)] }]).svg();
        assert!(empty.contains("no data") && lines(&empty).is_empty());
    }
}
