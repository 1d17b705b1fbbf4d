//! A CPU-driver build: the kernel that runs at EL1 on one core.
//!
//! Every core runs its own copy, mapped at this build's virtual address by its own tables;
//! this build was compiled for one core class (`-C target-cpu`), named by the
//! `cpu_driver_build` configuration that `scripts/build` sets beside it. The boot core
//! additionally collects the other cores' reports and ends the run.
//!
//! One module per concept, read top-down from `entry`; no module calls a module above it
//! (the graph is in `cpu-driver/README.md` and checked by `tests/module_graph.rs`).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod boot_image;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod build_info;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod capabilities;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod channels;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod console;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod core_boot;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod dispatchers;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod entry;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod hotplug;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod interrupts;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod irqs;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod lines;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod main_loop;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod mappings;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod memory;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod power;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod roll_call;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod scheduler;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod syscalls;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod urpc_figures;

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
fn main() {
    eprintln!("the CPU driver runs only on bare-metal AArch64 (build with scripts/build)");
}
