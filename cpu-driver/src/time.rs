//! Generic-timer counter ticks in the units the console prints. Every figure the CPU driver
//! reports is a count of ticks of the counter (`CNTPCT_EL0`) at the frequency the firmware put
//! in `CNTFRQ_EL0`; converting here, in 128 bits, keeps long spans and odd frequencies exact.

/// `ticks` of a counter running at `frequency` Hz, in whole units of `1 / per_second` s
/// (rounded down); 0 when the frequency is unknown (0).
fn ticks_to(ticks: u64, frequency: u64, per_second: u64) -> u64 {
    if frequency == 0 {
        return 0;
    }
    let units = u128::from(ticks) * u128::from(per_second) / u128::from(frequency);
    u64::try_from(units).unwrap_or(u64::MAX)
}

/// Counter ticks in nanoseconds.
pub fn ticks_to_ns(ticks: u64, frequency: u64) -> u64 {
    ticks_to(ticks, frequency, 1_000_000_000)
}

/// Counter ticks in microseconds.
pub fn ticks_to_us(ticks: u64, frequency: u64) -> u64 {
    ticks_to(ticks, frequency, 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_nanoseconds() {
        assert_eq!(ticks_to_ns(62_500_000, 62_500_000), 1_000_000_000);
        assert_eq!(ticks_to_ns(1, 62_500_000), 16);
        assert_eq!(ticks_to_ns(5, 0), 0);
    }

    #[test]
    fn ticks_convert_to_microseconds() {
        assert_eq!(ticks_to_us(62_500_000, 62_500_000), 1_000_000);
        assert_eq!(ticks_to_us(62, 62_500_000), 0, "rounded down");
        assert_eq!(ticks_to_us(63, 62_500_000), 1);
        assert_eq!(ticks_to_us(24_000_000, 24_000_000), 1_000_000, "an RK3399's 24 MHz");
        assert_eq!(ticks_to_us(u64::MAX, 1), u64::MAX, "saturates instead of wrapping");
        assert_eq!(ticks_to_us(5, 0), 0);
    }
}
