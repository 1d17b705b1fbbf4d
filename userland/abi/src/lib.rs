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
    /// `info(what, arg) -> value`: facts about the caller and its core (see [`Info`]; `arg`
    /// only for [`Info::CoreOnline`]).
    Info = 3,
    /// `wait(timeout_ticks) -> woken`: sleeps until woken (an SGI from another core, a message
    /// from this core) or the timeout (0 = none) passes; returns 1 if woken, 0 on timeout.
    Wait = 4,
    /// `notify(core)`: sends the wake SGI to `core`; every dispatcher waiting there runs again.
    Notify = 5,
    /// `map_channel(peer, kind) -> va`: maps the URPC channel frame(s) shared with core `peer`
    /// (see [`ChannelKind`]) into the caller's address space and returns where.
    MapChannel = 6,
    /// `grant(peer, dispatcher)`: the monitor lets dispatcher `dispatcher` of this core map the
    /// application channel to core `peer`.
    Grant = 7,
    /// `send_local(dispatcher, w0, w1, w2)`: queues a three-word message for another dispatcher
    /// of this core and wakes it.
    SendLocal = 8,
    /// `recv_local() -> sender`: takes the oldest queued message: the sender's index in `x0`,
    /// the words in `x1`..`x3`; `WouldBlock` when there is none.
    RecvLocal = 9,
    /// `power_off()`: the boot core's monitor ends the run (PSCI `SYSTEM_OFF`).
    PowerOff = 10,
    /// `map_device_tree() -> va`: maps the device tree read-only into a monitor's address space
    /// (it builds its own replica of the System Knowledge Base from it).
    MapDeviceTree = 11,
    /// `map_frame(va) -> va`: gives the caller a fresh zeroed frame of its core's memory,
    /// mapped read-write at the page-aligned user address `va`; the frame is the caller's.
    MapFrame = 12,
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
            6 => Call::MapChannel,
            7 => Call::Grant,
            8 => Call::SendLocal,
            9 => Call::RecvLocal,
            10 => Call::PowerOff,
            11 => Call::MapDeviceTree,
            12 => Call::MapFrame,
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
    /// The boot core's index.
    BootCore = 5,
    /// 1 once the boot core's roll call is over (cores up or declared offline), else 0.
    RollCallDone = 6,
    /// Whether core `x1` is online (1) or not (0), as far as this core knows.
    CoreOnline = 7,
    /// This caller's dispatcher index on its core (the monitor is 0).
    DispatcherIndex = 8,
    /// Boot flags: bit 0 power off when done, bit 1 fault test, bit 2 benchmark run.
    Flags = 9,
}

/// Which channel `map_channel` maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum ChannelKind {
    /// The channel between the two cores' monitors (monitors only).
    Monitor = 0,
    /// The application channel between the two cores, plus a page holding the pair's
    /// ping-pong cache line (only for a dispatcher its monitor granted it to).
    Application = 1,
}

impl ChannelKind {
    /// Decodes a kind.
    pub fn from_raw(raw: u64) -> Option<ChannelKind> {
        match raw {
            0 => Some(ChannelKind::Monitor),
            1 => Some(ChannelKind::Application),
            _ => None,
        }
    }
}

/// Boot flag bit: the benchmark run (`bench` on the kernel command line).
pub const FLAG_BENCH: u64 = 1 << 2;

impl Info {
    /// Decodes an `info` selector.
    pub fn from_raw(raw: u64) -> Option<Info> {
        Some(match raw {
            0 => Info::CoreIndex,
            1 => Info::CoreCount,
            2 => Info::ExceptionLevel,
            3 => Info::CounterFrequency,
            4 => Info::Build,
            5 => Info::BootCore,
            6 => Info::RollCallDone,
            7 => Info::CoreOnline,
            8 => Info::DispatcherIndex,
            9 => Info::Flags,
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
    /// Nothing to take now, or no room now: try again later.
    WouldBlock = 4,
    /// The caller may not do this.
    Denied = 5,
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
            -4 => Err(Error::WouldBlock),
            -5 => Err(Error::Denied),
            _ => Err(Error::InvalidArgument),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for raw in 0..13 {
            let call = Call::from_raw(raw).unwrap();
            assert_eq!(call as u64, raw);
        }
        for call in [Call::Exit, Call::Yield, Call::ConsoleWrite, Call::Info, Call::Wait, Call::Notify] {
            assert_eq!(Call::from_raw(call as u64), Some(call));
        }
        assert_eq!(Call::from_raw(99), None);
        for raw in 0..10 {
            assert_eq!(Info::from_raw(raw).map(|i| i as u64), Some(raw));
        }
        for error in
            [Error::NoSuchCall, Error::BadAddress, Error::InvalidArgument, Error::WouldBlock, Error::Denied]
        {
            assert_eq!(Error::check(error.to_return()), Err(error));
        }
        assert_eq!(Error::check(5), Ok(5));
    }
}
