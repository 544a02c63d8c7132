//! Sample conditioning (spec §5): one value per downsampling block that keeps a spike, min-max
//! normalisation with the configured range, quantisation to 81 levels and snapping to an approximate
//! running median level.

use serde::{Deserialize, Serialize};

/// Quantisation steps: levels run over `0..=NLEVELS`.
pub const NLEVELS: usize = 80;
/// A conditioned sample closer than this to the running median level is replaced by it.
const CHOMP: f64 = 0.075;

/// The state of §5 that persists between samples.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Conditioner {
    dmin: f64,
    dmax: f64,
    /// Moving average of block means (§5.1).
    ma: f64,
    /// How many samples fell on each level (§5.4).
    hist: Vec<u64>,
    medlevel: usize,
    /// Samples strictly below / above `medlevel`.
    below: i64,
    above: i64,
}

impl Conditioner {
    pub fn new(dmin: f64, dmax: f64) -> Self {
        Conditioner { dmin, dmax, ma: 0.0, hist: vec![0; NLEVELS + 1], medlevel: 0, below: 0, above: 0 }
    }

    /// Conditions the block of raw values that ends at sample `t` (1-based) and returns the
    /// conditioned sample, a multiple of 1/80 in `[0, 1]`.
    pub fn condition(&mut self, block: &[f64], t: u64) -> f64 {
        let x = self.keep_spike(block, t);
        let level = self.quantise(x);
        let q = level as f64 / NLEVELS as f64;
        let med = self.levelize(level, t) as f64 / NLEVELS as f64;
        if (q - med).abs() < CHOMP {
            med
        } else {
            q
        }
    }

    /// §5.1: the block's extreme that lies farther from the moving average of block means, or the
    /// block mean when that extreme is within 10 % of it.
    fn keep_spike(&mut self, block: &[f64], t: u64) -> f64 {
        // Left to right from the first element (as a library sum of a short vector does).
        let mut sum = block[0];
        let mut bmax = block[0];
        let mut bmin = block[0];
        for &v in &block[1..] {
            sum += v;
            bmax = bmax.max(v);
            bmin = bmin.min(v);
        }
        let mean = sum / block.len() as f64;
        if t == 1 {
            self.ma = mean;
        }
        self.ma = (self.ma + mean) / 2.0;
        let mut x = bmax;
        if (bmax - self.ma).abs() < (bmin - self.ma).abs() {
            x = bmin;
        }
        if (x - mean).abs() < 0.1 * mean {
            x = mean;
        }
        x
    }

    /// §5.2 and §5.3: the level of `x` in the configured range, clamped into `0..=80` (a value outside
    /// `[dmin, dmax]` takes the nearest end level; the original indexes out of range instead).
    fn quantise(&self, x: f64) -> usize {
        let mut x = x - self.dmin;
        let range = self.dmax - self.dmin;
        if range != 0.0 {
            x /= range;
        }
        let scaled = (x * NLEVELS as f64).round_ties_even();
        if scaled >= NLEVELS as f64 {
            NLEVELS
        } else if scaled > 0.0 {
            scaled as usize
        } else {
            // Negative, zero or NaN (NaN cannot arise from finite inputs and a finite range).
            0
        }
    }

    /// §5.4: records `level` and moves the median level by at most one occupied level; returns it.
    fn levelize(&mut self, level: usize, t: u64) -> usize {
        self.hist[level] += 1;
        let medpos = (t / 2) as i64;
        if t == 1 {
            self.medlevel = level;
        }
        if self.medlevel > level {
            self.below += 1;
        } else if self.medlevel < level {
            self.above += 1;
        }
        if medpos < self.above {
            self.below += self.hist[self.medlevel] as i64;
            self.medlevel += 1;
            while self.hist[self.medlevel] == 0 {
                self.medlevel += 1;
            }
            self.above -= self.hist[self.medlevel] as i64;
        } else if medpos < self.below {
            self.above += self.hist[self.medlevel] as i64;
            self.medlevel -= 1;
            while self.hist[self.medlevel] == 0 {
                self.medlevel -= 1;
            }
            self.below -= self.hist[self.medlevel] as i64;
        }
        self.medlevel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_levels_snap_only_when_the_binary64_difference_is_below_chomp() {
        let q = |level: u32| f64::from(level) / NLEVELS as f64;
        assert_eq!(q(46) - q(40), 0.07499999999999996);
        assert!(q(46) - q(40) < CHOMP);
        assert!(q(40) - q(34) >= CHOMP);
    }

    #[test]
    fn out_of_range_values_clamp_to_the_end_levels() {
        let c = Conditioner::new(0.0, 1.0);
        assert_eq!(c.quantise(-5.0), 0);
        assert_eq!(c.quantise(7.0), NLEVELS);
        assert_eq!(c.quantise(f64::INFINITY), NLEVELS);
        assert_eq!(c.quantise(f64::NEG_INFINITY), 0);
        assert_eq!(c.quantise(0.5), 40);
        // Ties go to even: 0.5/80 * 80 == 0.5 rounds to 0, 1.5/80 * 80 == 1.5 to 2.
        assert_eq!(c.quantise(0.5 / 80.0), 0);
        assert_eq!(c.quantise(1.5 / 80.0), 2);
    }

    #[test]
    fn spike_keeping_picks_the_far_extreme_or_the_mean() {
        let mut c = Conditioner::new(0.0, 100.0);
        // t == 1: ma == mean == 10; the extremes are equally far, ties keep the maximum.
        assert_eq!(c.keep_spike(&[5.0, 10.0, 15.0], 1), 15.0);
        // Within 10 % of the mean: the mean.
        assert_eq!(c.keep_spike(&[10.0, 10.5, 10.0], 2), 30.5 / 3.0);
        // A negative mean never takes the 10 % rule: the extreme stays.
        assert_eq!(c.keep_spike(&[-10.0, -10.5, -10.0], 3), -10.5);
    }
}
