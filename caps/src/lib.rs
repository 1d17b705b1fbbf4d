//! Typed capabilities of one core, after Barrelfish's capability system.
//!
//! Every kernel object (memory, CNodes, translation tables, dispatchers, endpoints, interrupts,
//! the kernel's own authority) is named by a [`Capability`] in the capability space of a
//! dispatcher, and a CPU driver acts on an object only when the caller presents a capability of
//! the right type with the right [`Rights`]. This crate is the portable core of that scheme:
//! the types and their rules, two-level capability spaces addressed by [`CapAddr`], the
//! operations (retype, copy, mint, delete, revoke, identify) and the derivation database that
//! answers "what derives from this", "is this the last copy" and "is this memory free" without
//! walking every capability.
//!
//! Principles:
//! - **Per core.** A [`CoreCapabilities`] holds one core's capabilities; nothing in it is
//!   shared with another core. An object held on several cores has one owning core and
//!   foreign copies elsewhere ([`Owner`]); this crate keeps the rules each core can check
//!   alone (only the owner retypes or revokes, a lent object's last copy stays), and the
//!   agreement between cores belongs to the monitors.
//! - **Mechanism, not policy.** The crate checks and records; which memory a program gets is
//!   the monitors' decision.
//! - **No fault on bad input.** Every address, size and type argument may be forged: every
//!   operation returns a [`CapError`] instead of panicking, and checks everything before it
//!   changes anything.
//! - **Architecture neutral.** Physical addresses are plain `u64`; what a VNode or a Dispatcher
//!   *contains* is the kernel's business. The operations return what the kernel must act on
//!   (new memory to zero, removed capabilities to unmap, memory that is free again).
//! - **Bounded work.** Queries are logarithmic in the number of capabilities plus the size of
//!   their answer; deletion works through a list rather than recursion.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod address;
mod capability;
mod error;
mod mdb;
mod rights;
mod store;

pub use address::CapAddr;
pub use capability::{CapType, Capability, Region, DISPATCHER_SIZE, PAGE_SIZE, SLOT_BYTES, VNODE_SIZE};
pub use error::CapError;
pub use rights::Rights;
pub use store::{
    CSpace, CapId, CoreCapabilities, HeldSlot, Owner, Removal, RemovedCap, Retype, SlotRef,
    DEFAULT_CAPABILITY_LIMIT,
};
