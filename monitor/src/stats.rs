//! Statistics of the latency benchmark.

use alloc::vec::Vec;

/// The `p`-th percentile (0-100, nearest rank) of `samples`, which it sorts; 0 when empty.
pub fn percentile(samples: &mut [u32], p: u32) -> u32 {
    if samples.is_empty() {
        return 0;
    }
    samples.sort_unstable();
    let rank = (u64::from(p.min(100)) * samples.len() as u64).div_ceil(100).max(1);
    samples[(rank - 1) as usize]
}

/// Counter ticks to nanoseconds.
pub fn ticks_to_ns(ticks: u64, frequency: u64) -> u64 {
    if frequency == 0 {
        return 0;
    }
    (u128::from(ticks) * 1_000_000_000 / u128::from(frequency)) as u64
}

/// Median of a set of values (lower median); 0 when empty.
pub fn median(values: &[u32]) -> u32 {
    let mut sorted: Vec<u32> = values.to_vec();
    percentile(&mut sorted, 50)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut samples: Vec<u32> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut samples, 50), 50);
        assert_eq!(percentile(&mut samples, 99), 99);
        assert_eq!(percentile(&mut samples, 100), 100);
        assert_eq!(percentile(&mut [], 50), 0);
        assert_eq!(percentile(&mut [7], 99), 7);
        assert_eq!(median(&[5, 1, 9]), 5);
        assert_eq!(ticks_to_ns(625, 62_500_000), 10_000);
    }
}
