//! The Linux side of `scripts/bench linux`: the multikernel's EL0 latency benchmark
//! (`userland/latency`) redone between two Linux threads, each pinned to its core with
//! `sched_setaffinity`, so that the two can be compared on the same machine.
//!
//! For every ordered pair of cores `a-b`, a thread on `a` times 1,000 warm-up and then
//! `rounds` URPC round trips (a `Ping` answered by a `Pong`, over a [`urpc::ChannelFrame`]
//! of the project's own crate) and as many raw one-line round trips (one word bounced between
//! the two threads), reading the counter only at each round trip's start and end, exactly as
//! the EL0 program does; the thread on `b` answers. The figures are percentiles of the
//! per-round-trip samples ([`monitor::stats`]), and a pair that fails says why with the
//! multikernel's own failure names ([`monitor::bench::Failure`]).
//!
//! [`pair`] holds the measurement, [`clock`] the counter, [`sys`] the few system calls (pinning,
//! the kernel's name, powering off), [`options`] the command line. The crate builds for the
//! host too, where the clock is the monotonic one, so its tests run the real measurement on
//! host threads.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod clock;
pub mod options;
pub mod pair;
pub mod sys;
