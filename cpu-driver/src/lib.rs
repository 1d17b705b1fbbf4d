//! The CPU driver: the privileged kernel that runs at EL1 on each core, one private copy per
//! core, plus the boot stub that plans the machine and starts every core.
//!
//! Design rules this crate keeps (after Barrelfish's CPU driver and Hubris' kernel):
//!
//! - **Per core, nothing shared.** Each core runs its own copy of its class's build, mapped at
//!   that build's virtual address (the same on every core of the class; the little and big
//!   builds differ) by its own translation tables ([`layout`]). The only memory two cores
//!   write is the shared region the stub sets aside ([`shared_region`]): URPC channel frames
//!   carrying [`kernel_messages`] and the monitors' messages, and each core's console log
//!   ring, which the boot core drains ([`log_ring`]; no core waits for another to print).
//! - **Plan on the host, poke on the board.** Boot planning ([`plan`]), translation tables
//!   ([`paging`]) and the boot record ([`boot_record`]) are plain Rust with host unit tests;
//!   register access, assembly and firmware calls live in `arch::aarch64`, built only for the
//!   bare-metal target.
//! - **`unsafe` in small places.** Each unsafe block says why it is sound.
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod asid;
pub mod boot_record;
pub mod fallback_console;
pub mod frames;
pub mod gicv2_spi;
pub mod inject;
pub mod input_line;
pub mod kernel_messages;
pub mod kernel_region;
pub mod layout;
pub mod line_queue;
pub mod linebuf;
pub mod log_ring;
pub mod paging;
pub mod plan;
pub mod program;
pub mod run_queue;
pub mod shared_region;
pub mod syscall_decode;
pub mod system_control;
pub mod time;
pub mod uart_setup;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod arch;
