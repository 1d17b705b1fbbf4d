//! The monitors' protocol for capabilities across cores (Barrelfish's `usr/monitor/capops/`,
//! reshaped for this system's rule that only the owner retypes or revokes).
//!
//! One [`CapOps`] per monitor keeps that core's part of every operation in flight. It never
//! touches a capability itself: it asks the core's CPU driver through [`Core`] (the calls
//! that need the Kernel capability, and the monitor's free slots) and says which messages to send to which core; the monitor
//! carries them over URPC and the tests over a simulated network. No I/O, no `unsafe`.
//!
//! - **Transfer** ([`CapOps::send`]): the sender exports the capability (on its owner the
//!   object becomes *lent*) and sends its description; the receiver's CPU driver makes a
//!   foreign copy in a slot its monitor picks, and the receiver answers. Until that answer the
//!   transfer is *in flight* at the sender.
//! - **Retype** ([`CapOps::retype`]): on the owner it is the CPU driver's own retype; elsewhere
//!   the core asks the owner, which retypes from its copy (its derivation database sees every
//!   descendant, so of two cores racing for the same memory exactly one wins) and transfers
//!   the new capability back.
//! - **Revoke** ([`CapOps::revoke`], owner only): a two-phase round (the `agreement` crate)
//!   over a route of every other core. *Prepare* is the mark: each core refuses from then on
//!   to send or take copies of the object or anything inside it, and votes no while it still
//!   has such a transfer in flight (so when every core voted yes, every copy is at rest and no
//!   new one can appear). *Commit* is the sweep: each core's CPU driver removes its foreign
//!   copies of the object and of everything inside it, and unmaps them. Only when every core
//!   swept does the owner revoke its own descendants and copies and stop counting the object
//!   as lent. A no vote aborts (nothing removed anywhere, [`Refusal::Busy`]: try again); a
//!   core that does not answer in time fails the round: in prepare nothing was removed, in
//!   commit the object stays lent and the revoke can be repeated (sweeping is idempotent).
//!
//! Every request has a deadline: what is not answered in time is reported, never waited for
//! forever.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod ops;
pub mod wire;

pub use ops::{CapOps, Core, Event, Message, Operation, Refusal, RetypeStart, RoundEnd, DEFAULT_TIMEOUT};
