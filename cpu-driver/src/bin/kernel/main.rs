//! A CPU-driver build: the kernel that runs at EL1 on one core.
//!
//! Every core runs its own copy, mapped at this build's virtual address by its own tables;
//! this build was compiled for one core class (`-C target-cpu`), named by the
//! `cpu_driver_build` configuration that `scripts/build` sets beside it. The boot core
//! additionally collects the other cores' reports and ends the run.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod channels;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod console;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod dispatch;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod entry;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod image;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod interrupts;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod loader;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod memory;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod roll_call;

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
fn main() {
    eprintln!("the CPU driver runs only on bare-metal AArch64 (build with scripts/build)");
}
