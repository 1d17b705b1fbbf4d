//! URPC: message channels between cores over shared memory, one 64-byte cache line per message.
//!
//! This is the transport every cross-core conversation of the multikernel uses (CPU driver,
//! monitor, userland). A channel is two single-writer rings inside one caller-supplied
//! [`ChannelFrame`]; each side builds an [`Endpoint`] from a reference to the frame and its
//! [`Side`], and talks through the endpoint's [`Sender`] and [`Receiver`] halves.
//!
//! # Design principles
//!
//! - **One message, one cache line.** A message is a [`MessageLine`]: seven 8-byte payload
//!   words and a sequence word, stored last with `Release` and polled with `Acquire`. Moving a
//!   message between cores costs one cache-line transfer, the least any protocol can pay.
//! - **One writer per cache line.** The sender writes only message lines, the receiver only its
//!   acknowledgement line; no line is written from both cores, so lines never ping-pong under
//!   contention and no read-modify-write (and so no exclusive monitor) is ever needed.
//! - **Never lose a message.** Credit flow control: the sender never overwrites a line the
//!   receiver has not consumed; a full ring answers [`Sender::try_send`] with [`Full`].
//! - **All-zero is an empty channel.** A zeroed frame needs no initialisation handshake.
//! - **No pointers in shared memory.** The frame holds only counters and payload, so the two
//!   cores may map it at different virtual addresses.
//! - **Split phase, no policy inside.** `try_send`/`try_recv` never block; waiting (poll, watch
//!   the line with `LDAXR`/`WFE`, then sleep until an SGI with the asleep flag set) is a
//!   policy on top ([`sleep`]), written against the [`WatchLine`] and [`Notify`] traits.
//! - **No `unsafe`** (the loom model build alone shares its race-checked payload cells with one
//!   `unsafe impl Sync`). Every shared word is an atomic, so there are no data races to argue
//!   about (see [`mod@line`] for why relaxed payload words are enough), and untrusted input is
//!   decoded by the [typed layer](message) into a value or an error, never trusted.
//! - `no_std`, no allocator; memory comes from the caller.
//!
//! # Example
//!
//! ```
//! use urpc::{ChannelFrame, Side, messages::Ping, message::decode};
//!
//! let frame: ChannelFrame = ChannelFrame::new(); // in the kernel: the zeroed shared frame, mapped on both cores
//! let mut a = frame.endpoint(Side::A);
//! let mut b = frame.endpoint(Side::B);
//! a.sender.try_send_message(&Ping { seq: 1, ts: 42 }).unwrap();
//! let line = b.receiver.try_recv().unwrap();
//! assert_eq!(decode::<Ping>(&line), Ok(Ping { seq: 1, ts: 42 }));
//! ```
//!
//! Testing: `cargo test -p urpc` (unit, property and stress tests),
//! `RUSTFLAGS="--cfg loom" cargo test -p urpc --release --test loom` (memory-ordering models);
//! see the crate's README.
#![cfg_attr(not(test), no_std)]
// No `unsafe` on the cores; the loom build shares its race-checked payload cells (src/sync.rs).
#![cfg_attr(not(loom), forbid(unsafe_code))]
#![cfg_attr(loom, deny(unsafe_code))]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod deadline;
pub mod endpoint;
pub mod frame;
pub mod interface;
pub mod line;
pub mod message;
pub mod messages;
pub mod notify;
pub mod sleep;
mod sync;
pub mod wait;

pub use deadline::{PollDeadline, POLLS_PER_CLOCK_READ};
pub use endpoint::{Endpoint, Full, Receiver, RecvError, RecvMessageError, Sender, Side};
pub use frame::{
    check_cache_line, AckLine, ChannelFrame, LineTooWide, Ring, SideTaken, DEFAULT_SLOTS, WRITER_BLOCK_BYTES,
};
pub use line::{MessageLine, Payload, LINE_BYTES, PAYLOAD_BYTES, PAYLOAD_WORDS};
pub use message::{DecodeError, Message};
pub use notify::{poll_then_wait, Notify, SpinOnly};
pub use sleep::{SpinWatch, WaitMode, WaitPolicy, WatchLine};
pub use wait::{recv_any, WaitError, POLLS_BEFORE_WAITING};
