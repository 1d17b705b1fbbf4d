//! The agreement protocols on host threads: the experiment of `scripts/bench agreement`
//! (the multikernel paper's figures 6 and 7, redone on a host). `k` pinned threads act as `k`
//! cores over the URPC rings the OS uses; core 0 runs one two-phase round to the other `k - 1`
//! by unicast, broadcast and the SKB's multicast tree, and the same change the shared-memory
//! way (a lock and an acknowledged generation), and times each.
//!
//! - [`topology`]: which host core runs which core, the clusters, the SKB's tree over them.
//! - [`rounds`]: the threads, the rounds and what every core counts.
//! - [`report`]: the output lines, the CSV and the plot.
#![forbid(unsafe_code)]

pub mod report;
pub mod rounds;
pub mod topology;
