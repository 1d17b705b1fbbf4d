//! The monitor's protocol logic, kept free of hardware so it is tested on the host: the
//! messages monitors exchange over their URPC channels, the same-core messages between a
//! monitor and its dispatchers, the name service, and the latency benchmark's failures,
//! options, console lines and statistics, and carving the memory the boot core's monitor
//! gives each core it starts. The capability protocol is the `capops` crate, its messages'
//! encoding `capops::wire`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod bench;
pub mod binding;
pub mod carve;
pub mod faults;
pub mod holdings;
pub mod lookup;
pub mod membership;
pub mod messages;
pub mod names;
pub mod outbox;
pub mod shell_answers;
/// The benchmark's statistics, which live in the runtime (the `latency` program uses them too).
pub use userland::stats;
