//! Typed bytes in same-core messages: the console driver packs up to 16 received bytes into
//! the two data words of one three-word message, the count in the first word's second byte;
//! the monitor forwards the message to the shell unchanged.

/// Most bytes one message carries.
pub const BYTES_PER_MESSAGE: usize = 16;

/// The three words carrying `bytes` (at most [`BYTES_PER_MESSAGE`]; the rest is left out),
/// the first with `tag` in its low byte.
pub fn pack(tag: u8, bytes: &[u8]) -> [u64; 3] {
    let count = bytes.len().min(BYTES_PER_MESSAGE);
    let mut data = [0u8; BYTES_PER_MESSAGE];
    data[..count].copy_from_slice(&bytes[..count]);
    let low = u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8]));
    let high = u64::from_le_bytes(data[8..].try_into().unwrap_or([0; 8]));
    [u64::from(tag) | (count as u64) << 8, low, high]
}

/// The bytes three words carry, and how many; `None` when the count is out of range.
pub fn unpack(words: [u64; 3]) -> Option<([u8; BYTES_PER_MESSAGE], usize)> {
    let count = usize::try_from((words[0] >> 8) & 0xff).ok().filter(|&n| n <= BYTES_PER_MESSAGE)?;
    let mut data = [0u8; BYTES_PER_MESSAGE];
    data[..8].copy_from_slice(&words[1].to_le_bytes());
    data[8..].copy_from_slice(&words[2].to_le_bytes());
    Some((data, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_bad_counts_are_refused() {
        let (data, count) = unpack(pack(105, b"cores\r")).unwrap();
        assert_eq!(&data[..count], b"cores\r");
        let (data, count) = unpack(pack(105, b"0123456789abcdefXYZ")).unwrap();
        assert_eq!(&data[..count], b"0123456789abcdef");
        assert_eq!(pack(105, b"")[0], 105);
        assert_eq!(unpack([105 | 17 << 8, 0, 0]), None);
    }
}
