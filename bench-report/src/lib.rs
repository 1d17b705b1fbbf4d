//! What the benchmarks' reports share: [`heatmap`], SVG figures of one or more panels of
//! values per ordered core pair (a colour scale with its legend and units, cluster boundaries,
//! failed pairs marked and never coloured), [`lineplot`], SVG line plots of series of points
//! (one line per series over shared axes), [`unmap`], the unmap experiment's rows, CSV and plot
//! (`unmap-report`), [`capture`], console lines as the system printed them from a QEMU log or
//! a board's serial capture (CR LF line ends, timestamp prefixes), and, with the `std`
//! feature, [`host`]: what machine ran the report and when.
//!
//! The figures are hand-written SVG: a grid of squares, a gradient, a hatch pattern and
//! polylines need no plotting library, keep the library `no_std` (the `latency` package builds
//! it for the EL0 target too) and leave text rendering to the viewer, so no font is read at build or run time.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod capture;
pub mod heatmap;
#[cfg(feature = "std")]
pub mod host;
pub mod lineplot;
pub mod unmap;
