//! The portable half of the console UARTs (`arch::aarch64::uart`): the divisors and line
//! control values for the baud rate and line format the device tree gives, and the bounded
//! wait for room in a transmitter.

/// The line format in [`crate::boot_record::ConsoleConfig::line`]: 0 when the tree gives none,
/// else `VALID | data_bits | parity << 8`.
pub mod line {
    /// Set when a format is given.
    pub const VALID: u64 = 1 << 16;
    /// Parity values (bits 15:8).
    pub const PARITY_NONE: u64 = 0;
    /// Odd parity.
    pub const PARITY_ODD: u64 = 1;
    /// Even parity.
    pub const PARITY_EVEN: u64 = 2;

    /// Encodes a format.
    pub fn encode(data_bits: u8, parity: u64) -> u64 {
        VALID | u64::from(data_bits) | (parity << 8)
    }

    /// Decodes a format: `(data_bits, parity)`, or `None` when none (or a bad one) is given.
    pub fn decode(value: u64) -> Option<(u8, u64)> {
        let data_bits = (value & 0xff) as u8;
        let parity = (value >> 8) & 0xff;
        (value & VALID != 0 && (5..=8).contains(&data_bits) && parity <= PARITY_EVEN)
            .then_some((data_bits, parity))
    }
}

/// The largest error between the rate asked for and the rate a divisor gives that is still
/// programmed, in percent: beyond about 3 % the far end misreads bytes, and the firmware's
/// setting is better kept.
const MAX_ERROR_PERCENT: u64 = 3;

/// Whether `actual` is within [`MAX_ERROR_PERCENT`] of `wanted`.
fn close_enough(actual: u64, wanted: u64) -> bool {
    actual.abs_diff(wanted) * 100 <= wanted * MAX_ERROR_PERCENT
}

/// The 16550 divisor latch value (`DLL`/`DLM`) for `baud` from a `clock_hz` input clock: the
/// UART samples at 16 times the baud rate (`baud = clock / (16 * divisor)`), rounded to the
/// nearest divisor. `None` when either is unknown (0), the divisor does not fit 16 bits or is
/// 0, or the nearest one misses the rate by more than 3 %.
pub fn ns16550_divisor(clock_hz: u64, baud: u64) -> Option<u16> {
    if clock_hz == 0 || baud == 0 {
        return None;
    }
    let divisor = (clock_hz + 8 * baud) / (16 * baud);
    let divisor = u16::try_from(divisor).ok().filter(|&d| d > 0)?;
    close_enough(clock_hz / (16 * u64::from(divisor)), baud).then_some(divisor)
}

/// The 16550 line control register (`LCR`) for a format: word length in bits 1:0 (5 to 8 data
/// bits as 0 to 3), one stop bit (bit 2 clear), parity enable (bit 3) and even parity (bit 4);
/// the divisor latch access bit (7) clear.
pub fn ns16550_line_control(data_bits: u8, parity: u64) -> u8 {
    let word = data_bits.clamp(5, 8) - 5;
    let parity = match parity {
        line::PARITY_ODD => 1 << 3,
        line::PARITY_EVEN => (1 << 3) | (1 << 4),
        _ => 0,
    };
    word | parity
}

/// The BCM2835 mini-UART's `AUX_MU_BAUD_REG` for `baud` from the core clock `clock_hz`
/// (BCM2711 ARM Peripherals, 2.2.1: `baud = clock / (8 * (reg + 1))`), rounded to the nearest.
/// `None` as for [`ns16550_divisor`].
pub fn aux_baud_register(clock_hz: u64, baud: u64) -> Option<u16> {
    if clock_hz == 0 || baud == 0 {
        return None;
    }
    let divisor = (clock_hz + 4 * baud) / (8 * baud);
    let register = u16::try_from(divisor.checked_sub(1)?).ok()?;
    close_enough(clock_hz / (8 * (u64::from(register) + 1)), baud).then_some(register)
}

/// The mini-UART's `AUX_MU_LCR_REG` data size: 8 bits is `0b11` (the datasheet's bit 0 alone
/// selects 7 bits; its erratum says bit 1 must be set too), 7 bits `0b00`. It has no parity.
pub fn aux_line_control(data_bits: u8) -> u8 {
    if data_bits == 7 {
        0b00
    } else {
        0b11
    }
}

/// How long a UART may stay not ready for one byte before the byte is dropped, in counter
/// ticks at `counter_hz`: 2 ms, twice the time a byte takes at 9600 baud, so a working UART
/// at any usual rate never drops one.
pub fn byte_timeout_ticks(counter_hz: u64) -> u64 {
    (counter_hz / 500).max(1)
}

/// After this many bytes dropped in a row the UART is taken for dead: later bytes look at its
/// status once and are dropped at once if it is not ready, so a dead UART costs no more than a
/// register read per byte (and a UART that comes back is used again).
pub const DEAD_AFTER_DROPS: u32 = 16;

/// The bounded wait of one transmitter: counts the bytes it dropped.
#[derive(Debug, Default)]
pub struct TransmitWait {
    /// Bytes dropped in a row, up to [`DEAD_AFTER_DROPS`].
    in_a_row: u32,
    /// Bytes dropped in all.
    dropped: u64,
}

impl TransmitWait {
    /// A transmitter that has dropped nothing.
    pub const fn new() -> Self {
        TransmitWait { in_a_row: 0, dropped: 0 }
    }

    /// Waits until `ready()` says the transmitter takes a byte, for at most `timeout` ticks of
    /// `now()` (a single look once the UART is taken for dead). Returns whether the byte may be
    /// written; a `false` is a dropped byte, counted.
    pub fn wait(&mut self, mut ready: impl FnMut() -> bool, now: impl Fn() -> u64, timeout: u64) -> bool {
        if ready() {
            self.in_a_row = 0;
            return true;
        }
        if self.in_a_row < DEAD_AFTER_DROPS {
            let start = now();
            while now().wrapping_sub(start) < timeout {
                if ready() {
                    self.in_a_row = 0;
                    return true;
                }
                core::hint::spin_loop();
            }
        }
        self.in_a_row = (self.in_a_row + 1).min(DEAD_AFTER_DROPS);
        self.dropped += 1;
        false
    }

    /// Bytes dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    #[test]
    fn ns16550_divisors_for_the_usual_clocks() {
        assert_eq!(ns16550_divisor(24_000_000, 1_500_000), Some(1), "Rockchip's 24 MHz at 1.5 Mbaud");
        assert_eq!(ns16550_divisor(24_000_000, 115_200), Some(13), "24 MHz / 16 / 13 = 115384, 0.2 % off");
        assert_eq!(ns16550_divisor(1_843_200, 115_200), Some(1));
        assert_eq!(ns16550_divisor(1_843_200, 9600), Some(12));
        assert_eq!(ns16550_divisor(24_000_000, 9600), Some(156));
    }

    #[test]
    fn ns16550_refuses_what_it_cannot_do_well() {
        assert_eq!(ns16550_divisor(0, 115_200), None, "unknown clock");
        assert_eq!(ns16550_divisor(24_000_000, 0), None, "unknown baud");
        assert_eq!(ns16550_divisor(1_843_200, 3_000_000), None, "divisor 0");
        assert_eq!(ns16550_divisor(24_000_000, 1_000_000), None, "nearest divisor 2 gives 750000: 25 % off");
        assert_eq!(ns16550_divisor(u64::from(u32::MAX), 1), None, "divisor beyond 16 bits");
    }

    #[test]
    fn ns16550_line_control_for_each_format() {
        assert_eq!(ns16550_line_control(8, line::PARITY_NONE), 0x03, "8N1");
        assert_eq!(ns16550_line_control(7, line::PARITY_EVEN), 0x1a, "7E1");
        assert_eq!(ns16550_line_control(7, line::PARITY_ODD), 0x0a, "7O1");
        assert_eq!(ns16550_line_control(5, line::PARITY_NONE), 0x00, "5N1");
    }

    #[test]
    fn aux_baud_register_for_the_pi_core_clocks() {
        // BCM2711 Peripherals 2.2.1: 500 MHz / (8 * 115200) = 542.5, nearest 543 -> 542.
        assert_eq!(aux_baud_register(500_000_000, 115_200), Some(542));
        assert_eq!(
            aux_baud_register(250_000_000, 115_200),
            Some(270),
            "the Pi 3's 250 MHz: 270 as Linux uses"
        );
        assert_eq!(aux_baud_register(0, 115_200), None);
        assert_eq!(aux_baud_register(1_000_000, 500_000), None, "register 0 gives 125000: too far");
        assert_eq!(aux_line_control(8), 0b11);
        assert_eq!(aux_line_control(7), 0b00);
    }

    #[test]
    fn line_formats_round_trip_and_none_is_none() {
        assert_eq!(line::decode(line::encode(7, line::PARITY_EVEN)), Some((7, line::PARITY_EVEN)));
        assert_eq!(line::decode(line::encode(8, line::PARITY_NONE)), Some((8, line::PARITY_NONE)));
        assert_eq!(line::decode(0), None, "no format given");
        assert_eq!(line::decode(line::encode(9, line::PARITY_NONE)), None);
        assert_eq!(line::decode(line::encode(8, 3)), None);
    }

    #[test]
    fn a_ready_transmitter_takes_every_byte() {
        let mut wait = TransmitWait::new();
        for _ in 0..100 {
            assert!(wait.wait(|| true, || 0, 10));
        }
        assert_eq!(wait.dropped(), 0);
    }

    #[test]
    fn a_slow_transmitter_is_waited_for_within_the_timeout() {
        let clock = Cell::new(0u64);
        let mut polls = 0;
        let mut wait = TransmitWait::new();
        let ready = || {
            polls += 1;
            clock.set(clock.get() + 1);
            polls > 5
        };
        assert!(wait.wait(ready, || clock.get(), 10));
        assert_eq!(wait.dropped(), 0);
    }

    #[test]
    fn a_dead_transmitter_drops_bytes_counts_them_and_stops_waiting() {
        let clock = Cell::new(0u64);
        let polls = Cell::new(0u32);
        let ready = || {
            polls.set(polls.get() + 1);
            clock.set(clock.get() + 1);
            false
        };
        let mut wait = TransmitWait::new();
        for byte in 0..DEAD_AFTER_DROPS {
            assert!(!wait.wait(ready, || clock.get(), 100), "byte {byte} dropped after the timeout");
        }
        assert_eq!(wait.dropped(), u64::from(DEAD_AFTER_DROPS));
        let waited = polls.get();
        assert!(waited >= 100 * DEAD_AFTER_DROPS, "each byte waited its timeout: {waited} polls");
        // Taken for dead: one look per byte from now on.
        for _ in 0..1000 {
            assert!(!wait.wait(ready, || clock.get(), 100));
        }
        assert_eq!(polls.get() - waited, 1000);
        assert_eq!(wait.dropped(), u64::from(DEAD_AFTER_DROPS) + 1000);
        // It comes back: the next byte goes out and waiting resumes.
        assert!(wait.wait(|| true, || clock.get(), 100));
        assert_eq!(wait.dropped(), u64::from(DEAD_AFTER_DROPS) + 1000);
    }
}
