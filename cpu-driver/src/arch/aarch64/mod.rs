//! AArch64 backend: CPU registers, caches, PSCI, the UARTs, exception vectors.

pub mod cache;
pub mod cpu;
pub mod event;
pub mod exception;
pub mod fp;
pub mod gic;
pub mod phys;
pub mod psci;
pub mod semihosting;
pub mod timer;
pub mod tlb;
pub mod uart;
pub mod user;
