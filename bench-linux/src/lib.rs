//! The host side of `scripts/bench linux`: [`newc`] writes the initial RAM file system that
//! runs the `linux-pingpong` program (`pingpong/`) as init under Debian's kernel, [`linux`]
//! reads that run's console, and [`compare`] puts it beside the multikernel's `scripts/run
//! bench` run (read by the `latency` package's report) pair by pair, with the goals.
#![forbid(unsafe_code)]

pub mod compare;
pub mod linux;
pub mod newc;
