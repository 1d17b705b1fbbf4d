//! Agreement between the monitors of several cores, as portable state machines: the part of
//! the multikernel that keeps replicated state consistent by explicit messages (Barrelfish's
//! two-phase capability operations and TLB shootdown by messages).
//!
//! - [`route`]: who sends one protocol round to whom, by three strategies: **unicast** (the
//!   initiator asks each core in turn and waits for its answer), **broadcast** (it asks all,
//!   then collects all answers) and **tree** (the SKB's multicast tree: each core forwards to
//!   its children and answers its parent once they all did).
//! - [`node`]: one core's part in a round's phase, the same code on the initiator and every
//!   other core: it forwards a request down its route, gathers the answers of its children
//!   and answers up once it has them all, with its own vote folded in.
//! - [`commit`]: the initiator's two-phase commit over a route: *prepare* everywhere; if every
//!   core voted yes, *commit* everywhere, else (or when a core does not answer in time)
//!   *abort* everywhere, so no core ever commits what another did not prepare.
//!
//! - [`wire`]: a protocol message as one typed URPC message.
//!
//! The crate sends nothing itself: every step returns [`node::Action`]s (send this message,
//! apply this phase here, the phase is done), so the monitor runs it over URPC and the tests
//! run it over a simulated network that delivers in any order a per-pair FIFO channel allows.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod commit;
pub mod node;
pub mod route;
pub mod wire;

/// A core's index (as the SKB numbers them).
pub type CoreId = usize;
