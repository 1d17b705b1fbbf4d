//! The runtime every EL0 program links: its entry point, the system calls, console output
//! and a panic handler that exits. Programs are plain `no_std` binaries linked at
//! `linker/user.ld`'s address; the CPU driver loads their ELF into a fresh address space.
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub use syscall_abi::{Call, Error, Info};

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod arch;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use arch::syscall;

/// Stand-in on the host, where there is no kernel to call: every call fails.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub fn syscall(_call: Call, _args: [u64; 4]) -> u64 {
    Error::NoSuchCall.to_return()
}

pub mod console;

/// Ends this program.
pub fn exit(code: u64) -> ! {
    syscall(Call::Exit, [code, 0, 0, 0]);
    // The kernel never returns from exit; if it did, stay out of the way.
    loop {
        syscall(Call::Yield, [0; 4]);
    }
}

/// Lets another dispatcher on this core run.
pub fn yield_now() {
    syscall(Call::Yield, [0; 4]);
}

/// Asks the kernel for a fact.
pub fn info(what: Info) -> Result<u64, Error> {
    Error::check(syscall(Call::Info, [what as u64, 0, 0, 0]))
}

/// Sleeps until woken or `timeout_ticks` pass (0: no timeout). True if woken.
pub fn wait(timeout_ticks: u64) -> bool {
    Error::check(syscall(Call::Wait, [timeout_ticks, 0, 0, 0])) == Ok(1)
}

/// Wakes the monitor of `core`.
pub fn notify(core: u64) -> Result<(), Error> {
    Error::check(syscall(Call::Notify, [core, 0, 0, 0])).map(|_| ())
}

/// Declares the program's entry function (`fn() -> u64`): the runtime calls it and exits
/// with its result.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[cfg(all(target_arch = "aarch64", target_os = "none"))]
        #[no_mangle]
        extern "C" fn __user_main() -> ! {
            let code: u64 = $main();
            $crate::exit(code)
        }
        #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
        fn main() {
            let _ = $main;
            eprintln!("this program runs at EL0 on the multikernel only");
        }
    };
}
