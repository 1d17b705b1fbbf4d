//! Same-core messages between a monitor and its dispatchers (three words through the CPU
//! driver's `send_local`): the first word says what it is.

/// A dispatcher registers a service with its monitor: `[REGISTER, service, 0]`.
pub const REGISTER: u64 = 1;
/// Monitor to `latency`: echo for core `peer`: `[ECHO, peer, rounds]`.
pub const ECHO: u64 = 2;
/// Monitor to `latency`: measure against core `peer`: `[MEASURE, peer, rounds]`.
pub const MEASURE: u64 = 3;
/// `latency` to its monitor: echoing for `peer`: `[READY, peer, 0]`.
pub const READY: u64 = 4;
/// `latency` to its monitor: `[RESULT, peer | limit_ns << 32, p50_ns | p99_ns << 32]`, every
/// figure non-zero (a measurement that cannot give one is a failure instead).
pub const RESULT: u64 = 5;
/// `latency` to its monitor: measuring against `peer` failed: `[FAILED_MEASURING, peer, code]`
/// (the code of a [`crate::bench::Failure`]).
pub const FAILED_MEASURING: u64 = 6;
/// `latency` to its monitor: it cannot echo for `peer`: `[FAILED_ECHOING, peer, code]`.
pub const FAILED_ECHOING: u64 = 7;

/// Monitor to `selftest`: your RAM capability is in place (at `SLOT_FIRST_RAM` of your
/// capability space): `[SELFTEST_GO, 0, 0]`.
pub const SELFTEST_GO: u64 = 8;
/// `selftest` to its monitor: all checks ran: `[SELFTEST_DONE, passed, failed]`.
pub const SELFTEST_DONE: u64 = 9;

/// A program offers `service` to other cores: channels bound to it are given to it at `slot`
/// of its capability space: `[ACCEPT, service, slot]`.
pub const ACCEPT: u64 = 10;
/// A program asks its monitor to bind a channel to `service` on core `core`, the channel's
/// Frame capability to go to `slot` of its space: `[BIND, pack(core, slot), service]`.
pub const BIND: u64 = 11;
/// Monitor to the program that asked to bind: `[BOUND, pack(core, status), slot]`; status 0:
/// the channel's Frame is at `slot` (the program is side A), else a [`BindStatus`] code.
pub const BOUND: u64 = 12;
/// Monitor to a program that accepts a service: a core bound a channel to it, its Frame is at
/// the slot it gave (it is side B): `[BIND_INCOMING, core, slot]`.
pub const BIND_INCOMING: u64 = 13;

/// A program spans to core `core`: that core's monitor starts the same program there with
/// argument `role` (a member of the span, in the same layout of address space):
/// `[SPAN, pack(core, role), 0]`.
pub const SPAN: u64 = 14;
/// Monitor to the spanning program: `[SPANNED, pack(core, status), 0]` (status 0, or a
/// [`BindStatus`] code).
pub const SPANNED: u64 = 15;
/// The spanning program shares a new page with its span at entry `entry` of every member's
/// level-3 VNode (its own included), its Frame capability to go to `slot` of its space:
/// `[SPAN_SHARE, pack(entry, slot), 0]`. To a member (from its monitor): map the Frame at
/// `slot` at `entry`: `[SPAN_SHARE, pack(entry, slot), 0]`.
pub const SPAN_SHARE: u64 = 16;
/// Monitor to the spanning program: the page is the program's at its slot and every member was
/// given it: `[SPAN_SHARED, pack(entry, status), 0]`. All or nothing: when one member's core
/// could not take it, the share is undone everywhere and the status says so.
pub const SPAN_SHARED: u64 = 17;
/// The spanning program unmaps the shared page everywhere, over a route of the member cores
/// (`strategy` 0 unicast, 1 broadcast, 2 the SKB's tree): `[SPAN_UNSHARE, entry, strategy]`.
pub const SPAN_UNSHARE: u64 = 18;
/// Monitor to the spanning program: the page is unmapped on every core of the span, each
/// core's TLB invalidated, and its memory free again: `[SPAN_UNSHARED, pack(entry, status),
/// nanoseconds the agreement took]`.
pub const SPAN_UNSHARED: u64 = 19;
/// Monitor to the spanning program: the member on `core` ended: `[SPAN_MEMBER_ENDED,
/// pack(core, status), far]` (status as `dispatcher_status` says; `far` the faulting address).
pub const SPAN_MEMBER_ENDED: u64 = 20;

/// The spanning program makes the shared page read-only on every core of the span (route as
/// for [`SPAN_UNSHARE`]): `[SPAN_PROTECT, entry, strategy]`.
pub const SPAN_PROTECT: u64 = 21;
/// Monitor to the spanning program: every copy of the page, and every mapping of it, is
/// read-only on every core of the span: `[SPAN_PROTECTED, pack(entry, status), nanoseconds]`.
pub const SPAN_PROTECTED: u64 = 22;
/// Program -> its monitor: `[HOTPLUG, core, on]`: take `core` off (`on` 0) or start it again
/// (`on` 1); the boot core's monitor carries it out, and the answer comes as `HOTPLUG_DONE`
/// to the program registered as `SERVICE_HOTPLUG` on the asking core.
pub const HOTPLUG: u64 = 64;
/// Monitor -> program: `[HOTPLUG_DONE, core | on << 32, status]` (0 done, else the refusal).
pub const HOTPLUG_DONE: u64 = 65;

/// Monitor to `latency`: echo for core `peer` waiting and waking as the wait mode with code
/// `mode` says (`urpc::WaitMode::code`), then report the wake SGIs raised in a last pong:
/// `[ECHO_WAITING, peer, pack(rounds, mode)]`. Answered with [`READY`] or [`FAILED_ECHOING`].
/// (120 to 127: this session's numbers for the runtime's kinds, clear of the others.)
pub const ECHO_WAITING: u64 = 120;
/// Monitor to `latency`: time `rounds` round trips against core `peer` in wait mode `mode`:
/// `[MEASURE_WAITING, peer, pack(rounds, mode)]`. Answered with [`WAIT_RESULT`] or
/// [`FAILED_MEASURING`].
pub const MEASURE_WAITING: u64 = 121;
/// `latency` to its monitor: `[WAIT_RESULT, pack(peer, mode), pack(rtt_ns, sgis_per_10k)]`:
/// the mean round trip and the wake SGIs both sides raised per 10,000 messages.
pub const WAIT_RESULT: u64 = 122;

/// The same-core transport's benchmark (80 to 95: the kernel line transport's numbers). The
/// boot core's monitor spawns `latency` twice on its own core, with start argument
/// [`SAME_CORE_ECHO`] and [`SAME_CORE_MEASURE`], each given an Endpoint to the other, and tells
/// both to go: `[SAME_CORE_GO, rounds, 0]`.
pub const SAME_CORE_GO: u64 = 80;
/// The measuring `latency` to its monitor: `[SAME_CORE_RESULT, pack(line_p50_ns,
/// line_p99_ns), pack(send_local_p50_ns, send_local_p99_ns)]`: round trips through the kernel
/// line transport and through `send_local`, every figure non-zero.
pub const SAME_CORE_RESULT: u64 = 81;
/// The measuring `latency` to its monitor: it could not measure: `[SAME_CORE_FAILED, code, 0]`
/// (a [`crate::bench::Failure`]'s code).
pub const SAME_CORE_FAILED: u64 = 82;
/// `latency`'s start argument: echo what the other same-core program sends.
pub const SAME_CORE_ECHO: u64 = 83;
/// `latency`'s start argument: time round trips to the same-core echo.
pub const SAME_CORE_MEASURE: u64 = 84;
/// Where each same-core `latency` finds its Endpoint to the other (the monitor gives it), and
/// the badge that Endpoint carries: the one each accepts messages from.
pub const SAME_CORE_PEER_SLOT: u32 = userland::SLOT_FIRST_FREE;
/// See [`SAME_CORE_PEER_SLOT`].
pub const SAME_CORE_PEER_BADGE: u64 = 0x7065_6572;

/// Why a bind did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BindStatus {
    /// No program on that core accepts the service (yet): try again later.
    NoService = 1,
    /// No such core, or it is not online.
    NoCore = 2,
    /// The asking program has no channel RAM left (or none).
    NoMemory = 3,
    /// The frame could not be sent or given (the capability protocol refused).
    Refused = 4,
}

impl BindStatus {
    /// How a bind (or a span's step) ended, as a message carries it: 0, or the status.
    pub fn code(result: Result<(), BindStatus>) -> u32 {
        result.err().map_or(0, |status| status as u32)
    }

    /// The status with code `code` (0 is success, not a status).
    pub fn from_code(code: u32) -> Option<BindStatus> {
        Some(match code {
            1 => BindStatus::NoService,
            2 => BindStatus::NoCore,
            3 => BindStatus::NoMemory,
            4 => BindStatus::Refused,
            _ => return None,
        })
    }
}

/// Packs two 32-bit values into a word.
pub fn pack(low: u32, high: u32) -> u64 {
    u64::from(low) | u64::from(high) << 32
}

/// Unpacks what [`pack`] packed.
pub fn unpack(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

/// The service name `latency` as a service identifier.
pub const SERVICE_LATENCY: u64 = u64::from_le_bytes(*b"latency\0");
/// The service name `selftest` as a service identifier.
pub const SERVICE_SELFTEST: u64 = u64::from_le_bytes(*b"selftest");
/// The service name `echo` as a service identifier (`selftest`'s bind check).
pub const SERVICE_ECHO: u64 = u64::from_le_bytes(*b"echo\0\0\0\0");
/// The program that gets this core's hotplug answers (`HOTPLUG_DONE`).
pub const SERVICE_HOTPLUG: u64 = u64::from_le_bytes(*b"hotplug\0");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips() {
        assert_eq!(unpack(pack(7, u32::MAX)), (7, u32::MAX));
        for status in [BindStatus::NoService, BindStatus::NoCore, BindStatus::NoMemory, BindStatus::Refused] {
            assert_eq!(BindStatus::from_code(status as u32), Some(status));
        }
        assert_eq!(BindStatus::from_code(0), None);
        assert_eq!(BindStatus::code(Ok(())), 0);
        assert_eq!(
            BindStatus::from_code(BindStatus::code(Err(BindStatus::NoMemory))),
            Some(BindStatus::NoMemory)
        );
    }
}
