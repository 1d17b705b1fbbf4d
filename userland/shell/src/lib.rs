//! The shell of the serial console, as far as it runs anywhere: line editing with history
//! ([`editor`]) and command parsing ([`command`]) into the commands the monitor runs. The
//! words between the console driver, the shell and the monitor are typed same-core messages
//! (`local_protocol::shell`). Host-tested; the EL0 program (`src/main.rs`) feeds it the bytes
//! the console driver received.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod command;
pub mod editor;

/// The prompt.
pub const PROMPT: &str = "mk> ";

/// Where the console driver finds what its monitor gives it: the IRQ capability, then the
/// device Frame capability of the UART's registers (the first free slots of its space).
pub const DRIVER_IRQ_SLOT: u32 = userland::SLOT_FIRST_FREE;
/// See [`DRIVER_IRQ_SLOT`].
pub const DRIVER_DEVICE_SLOT: u32 = userland::SLOT_FIRST_FREE + 1;

/// How often [`send_in_turn`] tries a full monitor inbox, yielding in between.
pub const FULL_INBOX_TRIES: u32 = 1000;

/// Sends `words` to this program's monitor, waiting while its inbox is full: the monitor runs
/// on this core and empties it whenever it runs, so yielding lets it. `WouldBlock` after
/// [`FULL_INBOX_TRIES`] tries (a monitor that takes nothing); any other refusal at once.
pub fn send_in_turn(words: [u64; 3]) -> Result<(), userland::Error> {
    let mut result = userland::send_to_monitor(words);
    for _ in 1..FULL_INBOX_TRIES {
        if result != Err(userland::Error::WouldBlock) {
            break;
        }
        userland::yield_now();
        result = userland::send_to_monitor(words);
    }
    result
}
