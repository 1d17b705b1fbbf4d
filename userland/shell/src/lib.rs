//! The shell of the serial console, as far as it runs anywhere: line editing with history
//! ([`editor`]), command parsing and the three-word form commands travel in to the monitor
//! ([`command`]), and the input words the console driver sends ([`input`]). Host-tested; the
//! EL0 program (`src/main.rs`) feeds it the bytes the console driver received.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod command;
pub mod editor;
pub mod input;

/// The prompt.
pub const PROMPT: &str = "mk> ";

/// The low byte of the first word of the same-core messages of the shell and console driver
/// (a range of its own, 105-119, so merging other same-core tags cannot collide).
pub mod tags {
    /// Console driver to monitor, monitor to shell: typed bytes ([`crate::input`]).
    pub const INPUT: u8 = 105;
    /// Shell to monitor: a command ([`crate::command::encode`]).
    pub const COMMAND: u8 = 106;
    /// Monitor to shell: the command's output is printed; the next may go.
    pub const DONE: u8 = 107;
    /// Shell to monitor: Ctrl-C while a command runs.
    pub const INTERRUPT: u8 = 108;
    /// Monitor to console driver: print how many receive interrupts and bytes it took
    /// (before `halt` powers off), then answer [`STATS_DONE`].
    pub const STATS: u8 = 109;
    /// Console driver to monitor: the statistics line is printed.
    pub const STATS_DONE: u8 = 110;
}

/// Where the console driver finds what its monitor gives it: the IRQ capability, then the
/// device Frame capability of the UART's registers (the first free slots of its space).
pub const DRIVER_IRQ_SLOT: u32 = userland::SLOT_FIRST_FREE;
/// See [`DRIVER_IRQ_SLOT`].
pub const DRIVER_DEVICE_SLOT: u32 = userland::SLOT_FIRST_FREE + 1;
