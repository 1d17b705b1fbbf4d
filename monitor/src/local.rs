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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips() {
        assert_eq!(unpack(pack(7, u32::MAX)), (7, u32::MAX));
    }
}
