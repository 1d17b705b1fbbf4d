//! The system-call interface between the CPU driver (EL1) and EL0 programs.
//!
//! A call is `SVC #0` with the call number in `x8`, arguments in `x0`..`x3`, and the result in
//! `x0`: a non-negative value on success, or the negated [`Error`] code. Pointers passed in
//! are user virtual addresses; the kernel checks every page of a buffer before it reads it.
#![no_std]
#![forbid(unsafe_code)]

/// System-call numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Call {
    /// `exit(code)`: ends the calling dispatcher.
    Exit = 0,
    /// `yield()`: lets the next runnable dispatcher on this core run.
    Yield = 1,
    /// `console_write(ptr, len) -> len`: writes one line (or part of one) to the console.
    ConsoleWrite = 2,
    /// `info(what) -> value`: facts about the caller and its core (see [`Info`]).
    Info = 3,
    /// `wait(timeout_ticks) -> woken`: sleeps until woken (an SGI from another core, a message
    /// from this core) or the timeout (0 = none) passes; returns 1 if woken, 0 on timeout.
    Wait = 4,
    /// `notify(core)`: wakes the monitor of `core` (an SGI).
    Notify = 5,
}

impl Call {
    /// Decodes a call number.
    pub fn from_raw(raw: u64) -> Option<Call> {
        Some(match raw {
            0 => Call::Exit,
            1 => Call::Yield,
            2 => Call::ConsoleWrite,
            3 => Call::Info,
            4 => Call::Wait,
            5 => Call::Notify,
            _ => return None,
        })
    }
}

/// What `info` can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Info {
    /// This core's index.
    CoreIndex = 0,
    /// Number of cores in the device tree.
    CoreCount = 1,
    /// The exception level the caller runs at (always 0).
    ExceptionLevel = 2,
    /// Generic timer ticks per second.
    CounterFrequency = 3,
    /// The CPU-driver build class of this core (0 little, 1 big).
    Build = 4,
}

impl Info {
    /// Decodes an `info` selector.
    pub fn from_raw(raw: u64) -> Option<Info> {
        Some(match raw {
            0 => Info::CoreIndex,
            1 => Info::CoreCount,
            2 => Info::ExceptionLevel,
            3 => Info::CounterFrequency,
            4 => Info::Build,
            _ => return None,
        })
    }
}

/// Why a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum Error {
    /// Unknown call or selector.
    NoSuchCall = 1,
    /// A pointer argument names memory the caller does not own.
    BadAddress = 2,
    /// An argument is out of range.
    InvalidArgument = 3,
}

impl Error {
    /// The value returned in `x0`.
    pub fn to_return(self) -> u64 {
        (-(self as i64)) as u64
    }

    /// Decodes a returned `x0`: `Ok(value)` or the error.
    pub fn check(ret: u64) -> Result<u64, Error> {
        match ret as i64 {
            r if r >= 0 => Ok(ret),
            -1 => Err(Error::NoSuchCall),
            -2 => Err(Error::BadAddress),
            _ => Err(Error::InvalidArgument),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for call in [Call::Exit, Call::Yield, Call::ConsoleWrite, Call::Info, Call::Wait, Call::Notify] {
            assert_eq!(Call::from_raw(call as u64), Some(call));
        }
        assert_eq!(Call::from_raw(99), None);
        for error in [Error::NoSuchCall, Error::BadAddress, Error::InvalidArgument] {
            assert_eq!(Error::check(error.to_return()), Err(error));
        }
        assert_eq!(Error::check(5), Ok(5));
    }
}
