//! Order statistics of a set of samples: the median, the 10th, 90th and 99th percentiles, the
//! lowest and the highest.

/// The spread of a set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// Summarises `samples` (NaN for an empty set); NaN samples are ignored. A percentile is
    /// the sample at the rounded rank `(n - 1) q`.
    pub fn of(samples: &[f64]) -> Self {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|sample| !sample.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        let at = |quantile: f64| {
            if sorted.is_empty() {
                return f64::NAN;
            }
            let index = ((sorted.len() - 1) as f64 * quantile).round() as usize;
            sorted[index]
        };
        Self { median: at(0.5), p10: at(0.1), p90: at(0.9), p99: at(0.99), min: at(0.0), max: at(1.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_rounded_rank() {
        let samples: Vec<f64> = (1..=101).rev().map(f64::from).collect();
        let summary = Summary::of(&samples);
        assert_eq!((summary.min, summary.p10, summary.median), (1.0, 11.0, 51.0));
        assert_eq!((summary.p90, summary.p99, summary.max), (91.0, 100.0, 101.0));
        assert!(Summary::of(&[]).median.is_nan());
    }
}
