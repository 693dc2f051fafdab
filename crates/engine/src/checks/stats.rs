//! Robust statistics for volume and anomaly checks. Median and MAD (median
//! absolute deviation) ignore a few outliers in the history — last month's
//! Black Friday does not widen this week's band — and 1.4826·MAD estimates
//! the standard deviation of normally distributed values, so `k` reads like
//! a z-score.

use serde::Serialize;

/// Scales a MAD to a standard deviation for normal data (1 / Φ⁻¹(3/4)).
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// The median of `xs` (mean of the two middle values for an even count).
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Median absolute deviation from `center`.
pub fn mad(xs: &[f64], center: f64) -> Option<f64> {
    let dev: Vec<f64> = xs.iter().map(|x| (x - center).abs()).collect();
    median(&dev)
}

/// The accepted range learned from a history:
/// `median ± k · 1.4826 · MAD`. With a MAD of 0 (a constant history) the
/// band is the single value `median`: any change fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Band {
    pub median: f64,
    pub mad: f64,
    pub k: f64,
    pub lower: f64,
    pub upper: f64,
    /// How many history values the band was learned from.
    pub history: usize,
}

impl Band {
    pub fn learn(history: &[f64], k: f64) -> Option<Band> {
        let m = median(history)?;
        let d = mad(history, m)?;
        let half = k * MAD_TO_SIGMA * d;
        Some(Band {
            median: m,
            mad: d,
            k,
            lower: m - half,
            upper: m + half,
            history: history.len(),
        })
    }

    pub fn contains(&self, x: f64) -> bool {
        x >= self.lower && x <= self.upper
    }

    /// Robust z-score of `x`: (x − median) / (1.4826 · MAD); infinite when
    /// the MAD is 0 and `x` differs from the median.
    pub fn z(&self, x: f64) -> f64 {
        let sigma = MAD_TO_SIGMA * self.mad;
        let diff = x - self.median;
        if sigma == 0.0 {
            if diff == 0.0 {
                0.0
            } else {
                diff.signum() * f64::INFINITY
            }
        } else {
            diff / sigma
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_by_hand() {
        // Sorted: 1 2 3 4 100 → median 3; deviations 2 1 0 1 97 → sorted
        // 0 1 1 2 97 → MAD 1.
        let xs = [3.0, 1.0, 100.0, 2.0, 4.0];
        assert_eq!(median(&xs), Some(3.0));
        assert_eq!(mad(&xs, 3.0), Some(1.0));
        assert_eq!(median(&[1.0, 2.0, 3.0, 10.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let b = Band::learn(&xs, 3.0).unwrap();
        assert!((b.upper - (3.0 + 3.0 * 1.4826)).abs() < 1e-12);
        assert!((b.lower - (3.0 - 3.0 * 1.4826)).abs() < 1e-12);
        assert!(b.contains(7.0) && !b.contains(7.5));
        assert!((b.z(7.0) - 4.0 / 1.4826).abs() < 1e-12);
    }

    #[test]
    fn constant_history_is_a_point_band() {
        let b = Band::learn(&[5.0, 5.0, 5.0], 10.0).unwrap();
        assert!(b.contains(5.0) && !b.contains(5.5));
        assert_eq!(b.z(5.0), 0.0);
        assert_eq!(b.z(6.0), f64::INFINITY);
    }
}
