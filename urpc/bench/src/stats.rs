//! Order statistics of a set of samples (median and the 10th and 90th percentiles).

/// The spread of a set of samples.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
}

impl Summary {
    /// Summarises `samples` (NaN for an empty set); NaN samples are ignored.
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
        Self { median: at(0.5), p10: at(0.1), p90: at(0.9) }
    }
}
