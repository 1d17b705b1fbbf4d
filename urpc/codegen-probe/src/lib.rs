//! URPC's send and receive paths as plain (non-generic) functions of the default channel, so
//! that compiling this crate for a core gives machine code to inspect:
//! `scripts/lib/urpc-codegen.sh` builds it for `aarch64-unknown-none` and
//! `aarch64-unknown-none-softfloat` with each core class's `-C target-cpu`, disassembles these
//! functions and fails on byte-wise loads or stores, or on more instructions than it allows.
//! Nothing links this crate; it holds no code of its own beyond the calls.
#![no_std]
#![forbid(unsafe_code)]

use urpc::message::{Body, Message};
use urpc::messages::{CoreUp, Ping, Pong};
use urpc::{Full, Payload, Receiver, RecvError, RecvMessageError, Sender};

/// [`Sender::try_send`] on the default channel.
pub fn try_send(sender: &mut Sender<'_>, payload: &Payload) -> Result<(), Full> {
    sender.try_send(payload)
}

/// [`Receiver::try_recv`] on the default channel.
pub fn try_recv(receiver: &mut Receiver<'_>) -> Result<Payload, RecvError> {
    receiver.try_recv()
}

/// [`Sender::try_send_message`] of a [`Ping`]: encoding and sending.
pub fn send_ping(sender: &mut Sender<'_>, ping: &Ping) -> Result<(), Full> {
    sender.try_send_message(ping)
}

/// [`Receiver::try_recv_message`] of a [`Pong`]: receiving and decoding.
pub fn recv_pong(receiver: &mut Receiver<'_>) -> Result<Pong, RecvMessageError> {
    receiver.try_recv_message()
}

/// [`CoreUp`]'s `encode`, not inlined: what a message's encoder costs where the compiler
/// knows nothing of the body but its type (fields of 4, 8 and 1 bytes, two of them crossing
/// a word boundary).
#[inline(never)]
pub fn encode_core_up(message: &CoreUp, body: &mut Body) {
    message.encode(body)
}
