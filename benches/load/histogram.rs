//! A log-linear latency histogram (HDR-style): exact below 128 µs, then 64 buckets per
//! power of two, so any recorded value is reported within 1.6 % of itself. Fixed size
//! (about 30 KiB), no allocation per sample, and mergeable, so every connection keeps
//! its own and they are added up at the end. Written here rather than pulling in
//! `hdrhistogram` because this is all the load tool needs of it.

use std::time::Duration;

/// Values below this are their own bucket.
const LINEAR: u64 = 128;
/// Buckets per power of two above `LINEAR`.
const PER_OCTAVE: u64 = LINEAR / 2;
/// Octaves from 2^7 to 2^63.
const BUCKETS: usize = (LINEAR + 57 * PER_OCTAVE) as usize;

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    count: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }
}

fn index(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let msb = 63 - u64::from(value.leading_zeros());
    let shift = msb - 6;
    let sub = (value >> shift) - PER_OCTAVE;
    (LINEAR + (shift - 1) * PER_OCTAVE + sub) as usize
}

/// The largest value that falls into bucket `index` (what a quantile reports).
fn highest(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let above = index - LINEAR;
    let shift = above / PER_OCTAVE + 1;
    let sub = above % PER_OCTAVE + PER_OCTAVE;
    let bound = (u128::from(sub + 1) << shift) - 1;
    u64::try_from(bound).unwrap_or(u64::MAX)
}

impl Histogram {
    /// Records one value in microseconds.
    pub fn record_us(&mut self, value: u64) {
        self.counts[index(value)] += 1;
        self.count += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += u128::from(value);
    }

    pub fn record(&mut self, elapsed: Duration) {
        self.record_us(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0..=1) in microseconds: the smallest bucket bound below
    /// which at least `q` of the samples lie, never above the largest value seen.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return highest(i).min(self.max);
            }
        }
        self.max
    }

    pub fn max_us(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.max
        }
    }

    pub fn mean_us(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_whose_bound_is_within_two_percent() {
        let mut value = 1u64;
        while value < u64::MAX / 3 {
            for v in [value, value + 1, value * 3 / 2] {
                let i = index(v);
                assert!(i < BUCKETS, "{v}");
                let bound = highest(i);
                assert!(bound >= v, "{v} → {bound}");
                assert!(
                    (bound - v) as f64 <= v as f64 * 0.016 + 1.0,
                    "{v} → {bound}"
                );
            }
            value *= 2;
        }
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn bucket_indexes_are_contiguous_and_ordered() {
        for i in 0..BUCKETS - 1 {
            assert_eq!(index(highest(i)), i);
            assert_eq!(index(highest(i) + 1), i + 1);
        }
    }

    #[test]
    fn quantiles_of_one_to_ten_thousand() {
        let mut h = Histogram::default();
        for v in 1..=10_000 {
            h.record_us(v);
        }
        let close = |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.016;
        assert!(close(h.quantile_us(0.5), 5_000), "{}", h.quantile_us(0.5));
        assert!(close(h.quantile_us(0.99), 9_900), "{}", h.quantile_us(0.99));
        assert_eq!(h.quantile_us(1.0), 10_000);
        assert_eq!(h.quantile_us(0.0), 1);
        assert_eq!(h.count(), 10_000);
        assert!((h.mean_us() - 5_000.5).abs() < 1e-9);
    }

    #[test]
    fn merged_histograms_equal_one_that_saw_everything() {
        let (mut a, mut b, mut all) = (
            Histogram::default(),
            Histogram::default(),
            Histogram::default(),
        );
        for v in (0..5_000).map(|i| i * 37 % 20_011) {
            if v % 2 == 0 {
                a.record_us(v);
            } else {
                b.record_us(v);
            }
            all.record_us(v);
        }
        a.merge(&b);
        for q in [0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(a.quantile_us(q), all.quantile_us(q));
        }
        assert_eq!(a.max_us(), all.max_us());
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = Histogram::default();
        assert_eq!(h.quantile_us(0.99), 0);
        assert_eq!(h.max_us(), 0);
        assert_eq!(h.mean_us(), 0.0);
    }
}
