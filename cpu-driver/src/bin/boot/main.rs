//! The boot stub: the first code of the boot image.
//!
//! Runs once, on whichever core the firmware started, with the MMU off and at an unknown
//! address (it relocates itself). It reads the device tree into the System Knowledge Base,
//! gives every core a private region holding its own copy of the CPU-driver build for its
//! class, its translation tables and its boot record, starts the other cores (PSCI `CPU_ON` or
//! spin table), and finally enters its own core's CPU driver like any other core. It is the
//! counterpart of Barrelfish's ARMv8 boot driver.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod bring_up;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod console;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod cores;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod entry;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod heap;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod refusal;

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
fn main() {
    eprintln!("the boot stub runs only on bare-metal AArch64 (build with scripts/build)");
}
