//! Statistics of the latency benchmark. An empty set of samples has no percentile (`None`),
//! so no zero can stand in for a missing figure.

use alloc::collections::TryReserveError;
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

/// Round trips in counter ticks for percentiles that stay exact whatever the number of
/// samples: a count per tick value below [`TickHistogram::DENSE_TICKS`] (64 KiB however many
/// samples), each slower one kept as it is. A program with a 1 MiB heap can so measure the
/// million rounds `bench-rounds=` allows, where a vector of every sample needed 4 MB.
#[derive(Debug)]
pub struct TickHistogram {
    counts: Vec<u32>,
    slow: Vec<u32>,
    total: u64,
}

impl TickHistogram {
    /// Tick values counted per value: 262 us at QEMU virt's 62.5 MHz, 683 us at a Rockchip
    /// board's 24 MHz, far above any round trip of a channel that works.
    pub const DENSE_TICKS: usize = 16 * 1024;

    /// An empty histogram, or the allocator's refusal of its counts.
    pub fn new() -> Result<Self, TryReserveError> {
        let mut counts = Vec::new();
        counts.try_reserve_exact(Self::DENSE_TICKS)?;
        counts.resize(Self::DENSE_TICKS, 0);
        Ok(TickHistogram { counts, slow: Vec::new(), total: 0 })
    }

    /// Adds one sample; a slow one needs room on the heap, and when there is none the sample
    /// is refused (the caller reports it) rather than lost.
    pub fn record(&mut self, ticks: u32) -> Result<(), TryReserveError> {
        match self.counts.get_mut(ticks as usize) {
            Some(count) => *count = count.saturating_add(1),
            None => {
                self.slow.try_reserve(1)?;
                self.slow.push(ticks);
            }
        }
        self.total += 1;
        Ok(())
    }

    /// Samples recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The `p`-th percentile (0-100, nearest rank, as [`percentile`]); `None` when empty.
    pub fn percentile(&mut self, p: u32) -> Option<u32> {
        if self.total == 0 {
            return None;
        }
        let rank = (u64::from(p.min(100)) * self.total).div_ceil(100).max(1);
        let mut seen = 0u64;
        for (ticks, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen >= rank {
                return Some(ticks as u32);
            }
        }
        self.slow.sort_unstable();
        self.slow.get((rank - seen - 1) as usize).copied()
    }
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

    /// The histogram's percentiles are the sorted vector's, the slow samples included.
    #[test]
    fn histogram_percentiles_equal_those_of_every_sample_kept() {
        let dense = TickHistogram::DENSE_TICKS as u32;
        // A spread of fast values, a few above the dense range, repeated values, in a
        // scrambled order (a multiplicative walk modulo a prime).
        let mut samples: Vec<u32> =
            (0..10_007u32).map(|i| (i * 7919) % 10_007).map(|v| v % 600 + 20).collect();
        samples.extend([dense, dense + 5, dense * 3, u32::MAX, dense - 1]);
        let mut histogram = TickHistogram::new().unwrap();
        for &s in &samples {
            histogram.record(s).unwrap();
        }
        assert_eq!(histogram.len(), samples.len() as u64);
        for p in [0, 1, 50, 90, 99, 100] {
            assert_eq!(histogram.percentile(p), percentile(&mut samples.clone(), p), "p{p}");
        }
        // Mostly slow: the ranks fall among the kept slow samples.
        let mut slow: Vec<u32> = (0..100).map(|i| dense + 1000 - i).collect();
        slow.push(3);
        let mut histogram = TickHistogram::new().unwrap();
        for &s in &slow {
            histogram.record(s).unwrap();
        }
        for p in [1, 2, 50, 99, 100] {
            assert_eq!(histogram.percentile(p), percentile(&mut slow.clone(), p), "p{p}");
        }
        assert_eq!(TickHistogram::new().unwrap().percentile(50), None);
        assert!(TickHistogram::new().unwrap().is_empty());
    }

    /// A million samples, as `bench-rounds=1000000` gives, fit in the dense counts.
    #[test]
    fn a_million_fast_samples_take_no_memory_beyond_the_counts() {
        let mut histogram = TickHistogram::new().unwrap();
        for i in 0..1_000_000u32 {
            histogram.record(20 + i % 5).unwrap();
        }
        assert_eq!(histogram.slow.capacity(), 0);
        assert_eq!(histogram.percentile(50), Some(22));
        assert_eq!(histogram.percentile(100), Some(24));
    }
}
