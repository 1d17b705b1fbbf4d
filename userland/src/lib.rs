//! The runtime every EL0 program links: its entry point, the system calls, console output
//! and a panic handler that exits. Programs are plain `no_std` binaries linked at
//! `linker/user.ld`'s address; the CPU driver loads their ELF into a fresh address space.
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub use syscall_abi::{Call, ChannelKind, Error, Info, FLAG_BENCH};

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod arch;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use arch::{channel_frame, counter, init_heap, pingpong_line, syscall};

/// Stand-ins on the host, where there is no kernel and no shared memory: programs compile
/// there (for clippy and unit tests of their logic) but do not run.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
mod host {
    /// No counter on the host stand-in.
    pub fn counter() -> u64 {
        0
    }

    /// A private, empty channel frame in place of a mapped one.
    pub fn channel_frame(_va: u64) -> &'static urpc::ChannelFrame {
        Box::leak(Box::new(urpc::ChannelFrame::new()))
    }

    /// A private word in place of a mapped ping-pong line.
    pub fn pingpong_line(_va: u64) -> &'static core::sync::atomic::AtomicU64 {
        Box::leak(Box::new(core::sync::atomic::AtomicU64::new(0)))
    }

    /// Nothing to set up on the host.
    pub fn init_heap() {}
}
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub use host::{channel_frame, counter, init_heap, pingpong_line};

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
    info_of(what, 0)
}

/// Asks the kernel for a fact about `arg` (a core, for [`Info::CoreOnline`]).
pub fn info_of(what: Info, arg: u64) -> Result<u64, Error> {
    Error::check(syscall(Call::Info, [what as u64, arg, 0, 0]))
}

/// Maps the channel of `kind` shared with core `peer`; returns its address.
pub fn map_channel(peer: u64, kind: ChannelKind) -> Result<u64, Error> {
    Error::check(syscall(Call::MapChannel, [peer, kind as u64, 0, 0]))
}

/// Gives this program a fresh zeroed frame of its core's memory at the page-aligned `va`.
pub fn map_frame(va: u64) -> Result<u64, Error> {
    Error::check(syscall(Call::MapFrame, [va, 0, 0, 0]))
}

/// (Monitor only) lets dispatcher `dispatcher` of this core map the application channel to
/// core `peer`.
pub fn grant(peer: u64, dispatcher: u64) -> Result<(), Error> {
    Error::check(syscall(Call::Grant, [peer, dispatcher, 0, 0])).map(|_| ())
}

/// Queues three words for dispatcher `dispatcher` of this core and wakes it.
pub fn send_local(dispatcher: u64, words: [u64; 3]) -> Result<(), Error> {
    Error::check(syscall(Call::SendLocal, [dispatcher, words[0], words[1], words[2]])).map(|_| ())
}

/// Takes the oldest same-core message: (sender dispatcher, words).
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn recv_local() -> Result<(u64, [u64; 3]), Error> {
    let (ret, words) = arch::syscall_with_words(Call::RecvLocal);
    Error::check(ret).map(|sender| (sender, words))
}

/// Host stand-in: there is never a message.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub fn recv_local() -> Result<(u64, [u64; 3]), Error> {
    Err(Error::WouldBlock)
}

/// (Boot core's monitor only) ends the run; returns only if the machine cannot power off.
pub fn power_off() -> Error {
    Error::check(syscall(Call::PowerOff, [0; 4])).err().unwrap_or(Error::NoSuchCall)
}

/// (Monitor only) maps the device tree read-only; returns the bytes.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub fn device_tree() -> Result<&'static [u8], Error> {
    let va = Error::check(syscall(Call::MapDeviceTree, [0; 4]))?;
    Ok(arch::device_tree_at(va))
}

/// Host stand-in: no device tree.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
pub fn device_tree() -> Result<&'static [u8], Error> {
    Err(Error::NoSuchCall)
}

/// Sleeps until woken or `timeout_ticks` pass (0: no timeout). True if woken.
pub fn wait(timeout_ticks: u64) -> bool {
    Error::check(syscall(Call::Wait, [timeout_ticks, 0, 0, 0])) == Ok(1)
}

/// Sends the wake SGI to `core`: every dispatcher waiting there (its monitor among them) runs
/// again.
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
            $crate::init_heap();
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
