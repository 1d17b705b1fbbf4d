//! Architecture-specific code. Only AArch64 exists; everything in here is register access,
//! assembly, firmware calls and device registers, built only for the bare-metal target.

pub mod aarch64;
