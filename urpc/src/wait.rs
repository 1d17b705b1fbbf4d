//! Blocking and timed sends and receives, waiting on many channels at once, and a look at the
//! next message's tag: the calls a program writes its loops with, on top of the rings'
//! never-blocking `try_send` / `try_recv`.
//!
//! Blocking calls poll first, then wait through a [`Notify`] (the kernel's WFE or SGI); timed
//! calls poll with a [`PollDeadline`], which reads the clock only every so many polls (reading
//! the counter on every poll costs a global lock under QEMU). Nothing here changes the rings'
//! protocol: each call is a loop over the non-blocking ones.

use crate::deadline::PollDeadline;
use crate::endpoint::{Full, Receiver, RecvError, Sender};
use crate::line::Payload;
use crate::message::{self, DecodeError};
use crate::notify::{poll_then_wait, Notify};

/// Spin polls before a blocking call starts waiting through its [`Notify`].
pub const POLLS_BEFORE_WAITING: u32 = 256;

/// Why a timed or blocking call ended without its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitError {
    /// The deadline passed first.
    TimedOut,
    /// The ring broke the protocol (see [`RecvError::Desync`]): waiting longer cannot help.
    Desync {
        /// The sequence number expected.
        expected: u64,
        /// What the slot held.
        found: u64,
    },
}

impl From<RecvError> for WaitError {
    fn from(error: RecvError) -> WaitError {
        match error {
            RecvError::Desync { expected, found } => WaitError::Desync { expected, found },
            // Callers map Empty to waiting; it never reaches here as an error.
            RecvError::Empty => WaitError::TimedOut,
        }
    }
}

impl<const SLOTS: usize> Receiver<'_, SLOTS> {
    /// The tag of the next message, without taking it (`None`: nothing waiting; an error: its
    /// header is malformed, and `try_recv` will still hand it over as it is). For dispatching
    /// on the tag before deciding who decodes the message.
    pub fn peek_tag(&self) -> Option<Result<u16, DecodeError>> {
        // Once its sequence number is the expected one a slot cannot change until this side
        // consumes it (the sender waits for the credit), so reading its payload now and
        // taking it later gives the same bytes.
        self.peek().map(|payload| message::tag(&payload))
    }

    /// Waits for the next message: polls, then sleeps through `notifier` between polls, with
    /// the asleep flag set while it sleeps (so a sender using [`Sender::notify_if_asleep`]
    /// wakes it, see [`crate::sleep`]). Returns only a message or a broken ring.
    pub fn recv_blocking(&mut self, notifier: &impl Notify) -> Result<Payload, WaitError> {
        let mut polls = 0;
        loop {
            match self.try_recv() {
                Ok(payload) => return Ok(payload),
                Err(RecvError::Empty) => {}
                Err(error) => return Err(error.into()),
            }
            if polls < POLLS_BEFORE_WAITING {
                polls += 1;
                crate::sync::spin_loop();
            } else if self.prepare_to_sleep() {
                notifier.wait();
                self.woke();
            }
        }
    }

    /// Waits for the next message until `deadline` expires.
    pub fn recv_timeout<C: FnMut() -> u64>(
        &mut self,
        deadline: &mut PollDeadline<C>,
    ) -> Result<Payload, WaitError> {
        loop {
            match self.try_recv() {
                Ok(payload) => return Ok(payload),
                Err(RecvError::Empty) if deadline.expired() => return Err(WaitError::TimedOut),
                Err(RecvError::Empty) => crate::sync::spin_loop(),
                Err(error) => return Err(error.into()),
            }
        }
    }
}

impl<const SLOTS: usize> Sender<'_, SLOTS> {
    /// Sends once there is room: polls, then sleeps through `notifier` between polls (the
    /// receiver's acknowledgement does not wake this core; a notifier whose wait returns on a
    /// timer, or on the peer's notifications, is needed).
    pub fn send_blocking(&mut self, payload: &Payload, notifier: &impl Notify) {
        poll_then_wait(notifier, POLLS_BEFORE_WAITING, || self.try_send(payload).ok());
    }

    /// Sends once there is room, until `deadline` expires (`Full` then: nothing was sent).
    pub fn send_timeout<C: FnMut() -> u64>(
        &mut self,
        payload: &Payload,
        deadline: &mut PollDeadline<C>,
    ) -> Result<(), Full> {
        loop {
            match self.try_send(payload) {
                Ok(()) => return Ok(()),
                Err(Full) if deadline.expired() => return Err(Full),
                Err(Full) => crate::sync::spin_loop(),
            }
        }
    }
}

/// Waits on many channels at once: the first message of any of `receivers`, with the index
/// of its channel. Each pass starts one channel further than the last message came from
/// (`start` first), so a busy channel cannot starve the others. Until `deadline` expires; a
/// broken ring ends the wait with its index.
pub fn recv_any<C: FnMut() -> u64, const SLOTS: usize>(
    receivers: &mut [Receiver<'_, SLOTS>],
    start: usize,
    deadline: &mut PollDeadline<C>,
) -> Result<(usize, Payload), (Option<usize>, WaitError)> {
    let count = receivers.len();
    if count == 0 {
        return Err((None, WaitError::TimedOut));
    }
    loop {
        for step in 0..count {
            let index = (start + step) % count;
            match receivers[index].try_recv() {
                Ok(payload) => return Ok((index, payload)),
                Err(RecvError::Empty) => {}
                Err(error) => return Err((Some(index), error.into())),
            }
        }
        if deadline.expired() {
            return Err((None, WaitError::TimedOut));
        }
        crate::sync::spin_loop();
    }
}
