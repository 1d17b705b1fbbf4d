//! The same-core line transport (`line_send`, `line_send_lines`, `line_recv`; Barrelfish's LMP
//! in spirit): whole URPC lines between two dispatchers of this core, each in its own address
//! space, carried by this CPU driver in the receiver's `LineQueue` (bounded, all or nothing,
//! per-badge order; `cpu_driver::line_queue`). `syscalls` checks the Endpoint capability a send
//! names and finds its dispatcher; this module copies the lines in and out and wakes the
//! receiver, as `send_local` does, so a receiver sleeping in `wait` (its waitset among them)
//! runs again.

use cpu_driver::arch::aarch64::exception::TrapFrame;
use cpu_driver::arch::aarch64::user::user_range_readable;
use cpu_driver::layout::{USER_LIMIT, USER_MIN};
use cpu_driver::line_queue::{SendRefusal, Take, LINE_WORDS, MAX_LINES_PER_SEND};
use syscall_abi::Error;

use crate::dispatchers::Dispatchers;

/// The lines of one send, copied out of the caller's registers or memory.
pub type Lines = [[u64; LINE_WORDS]; MAX_LINES_PER_SEND];

/// Queues `lines` with `badge` for dispatcher `target` and wakes it: `WouldBlock` when its
/// queue lacks room for all of them (none is queued), `InvalidArgument` when it has ended.
pub fn send(
    dispatchers: &mut Dispatchers,
    target: usize,
    badge: u64,
    lines: &[[u64; LINE_WORDS]],
) -> Result<u64, Error> {
    match dispatchers.get_mut(target) {
        Some(receiver) if !receiver.run.ended() => {
            receiver.lines.send(badge, lines).map_err(|refusal| match refusal {
                SendRefusal::Full => Error::WouldBlock,
                SendRefusal::Count => Error::InvalidArgument,
            })?;
            receiver.wake();
            Ok(0)
        }
        _ => Err(Error::InvalidArgument),
    }
}

/// The line of a `line_send`: `x1`..`x7` of the caller's registers.
pub fn line_in_registers(frame: &TrapFrame) -> [u64; LINE_WORDS] {
    let mut words = [0; LINE_WORDS];
    words.copy_from_slice(&frame.x[1..=LINE_WORDS]);
    words
}

/// Copies `count` lines (checked 1 to `MAX_LINES_PER_SEND` and 8-byte alignment by
/// `syscall_decode`) from the caller's memory at `ptr`: `BadAddress` unless every byte lies in
/// user space and every page is readable by the caller.
pub fn lines_from_user(ptr: u64, count: usize) -> Result<Lines, Error> {
    let mut lines: Lines = [[0; LINE_WORDS]; MAX_LINES_PER_SEND];
    let count = count.min(MAX_LINES_PER_SEND);
    let bytes = (count * LINE_WORDS * 8) as u64;
    let end = ptr.checked_add(bytes).ok_or(Error::BadAddress)?;
    if ptr < USER_MIN || end > USER_LIMIT || !ptr.is_multiple_of(8) || !user_range_readable(ptr, end) {
        return Err(Error::BadAddress);
    }
    for (index, line) in lines[..count].iter_mut().enumerate() {
        let at = ptr as usize + index * LINE_WORDS * 8;
        // SAFETY: every page of [ptr, end) is mapped readable for EL0 in the caller's address
        // space, which is installed (checked above with the MMU itself; nothing runs on this
        // core between the check and the copy to unmap it), EL1 may read what EL0 may read, and
        // `at` is 8-byte aligned; a read of plain words cannot break any Rust object of the
        // kernel's.
        *line = unsafe { core::ptr::read_unaligned(at as *const [u64; LINE_WORDS]) };
    }
    Ok(lines)
}

/// `line_recv`: the oldest line `which` names from the caller's queue into `x1`..`x7`, its
/// badge into `x8`; returns how many lines are still queued (`WouldBlock` when none was).
pub fn receive(
    dispatchers: &mut Dispatchers,
    caller: usize,
    frame: &mut TrapFrame,
    which: Take,
) -> Result<u64, Error> {
    let receiver = dispatchers.get_mut(caller).ok_or(Error::InvalidArgument)?;
    let line = receiver.lines.take(which).ok_or(Error::WouldBlock)?;
    frame.x[1..=LINE_WORDS].copy_from_slice(&line.words);
    frame.x[8] = line.badge;
    Ok(receiver.lines.len() as u64)
}
