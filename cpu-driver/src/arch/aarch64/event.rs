//! Waiting for a store to a cache line: URPC's line watch on this architecture, shared with
//! the EL0 programs (`urpc-line-watch`: `SEVL; WFE` to clear a stale event, then `LDXR` and
//! `WFE`; its documentation gives the sequence and why no store is missed). The stale event
//! matters here as at EL0: an interrupt taken and returned from inside the kernel sets the
//! Event Register, and a watch that followed it returned at once.

pub use urpc_line_watch::wait_for_store;

/// URPC's line watch on this core.
pub use urpc_line_watch::ArmLineWatch as LineWatch;
