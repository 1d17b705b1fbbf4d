//! Statistics of the latency benchmark. An empty set of samples has no percentile (`None`),
//! so no zero can stand in for a missing figure.

use alloc::vec::Vec;

/// The `p`-th percentile (0-100, nearest rank) of `samples`, which it sorts; `None` when empty.
pub fn percentile(samples: &mut [u32], p: u32) -> Option<u32> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let rank = (u64::from(p.min(100)) * samples.len() as u64).div_ceil(100).max(1);
    Some(samples[(rank - 1) as usize])
}

/// Counter ticks to nanoseconds (0 when the frequency is unknown, which callers treat as no
/// measurement).
pub fn ticks_to_ns(ticks: u64, frequency: u64) -> u64 {
    if frequency == 0 {
        return 0;
    }
    (u128::from(ticks) * 1_000_000_000 / u128::from(frequency)) as u64
}

/// Median of a set of values (lower median); `None` when empty.
pub fn median(values: &[u32]) -> Option<u32> {
    let mut sorted: Vec<u32> = values.to_vec();
    percentile(&mut sorted, 50)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut samples: Vec<u32> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut samples, 50), Some(50));
        assert_eq!(percentile(&mut samples, 99), Some(99));
        assert_eq!(percentile(&mut samples, 100), Some(100));
        assert_eq!(percentile(&mut [], 50), None);
        assert_eq!(percentile(&mut [7], 99), Some(7));
        assert_eq!(median(&[5, 1, 9]), Some(5));
        assert_eq!(median(&[]), None);
        assert_eq!(ticks_to_ns(625, 62_500_000), 10_000);
    }
}
