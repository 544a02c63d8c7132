//! ARTime (Mark Hampton's ARTimeNAB.jl, the best published NAB detector), rebuilt from
//! `spec/artime.md`: downsampling with spike keeping, quantisation and median snapping
//! ([`conditioning`]), Haar wavelet features ([`features`]), a dual-vigilance fuzzy ART network
//! ([`fuzzy_art`]), a batch warm-up that estimates the initial vigilance, masked anomaly decisions,
//! vigilance adaptation and a graded confidence score.
//!
//! Arithmetic follows the spec's conventions (binary64, no fused multiply-add, left-to-right sums, the
//! written evaluation order), so a detector fed NAB's values as NAB parsed them reproduces NAB's
//! stored ARTime scores record for record.
//!
//! Deviations from the original, none of which changes a NAB result:
//! - Memory is bounded over an endless stream. The original appends every sample's best match, energy
//!   and cluster label to histories that only ever grow, keeps every fuzzy ART category for ever, and
//!   keeps every anomaly's lowest match. Here only the current sample's match is kept; the anomaly
//!   matches are kept as their running left-to-right sum (which is what their mean needs) plus the last
//!   one (which the 11 samples after an anomaly may still lower); the warm-up buffer is freed after
//!   the warm-up; and the category count is capped at [`MAX_CATEGORIES`] with least-recently-used
//!   replacement (see [`fuzzy_art`]). No NAB file comes near the cap: the most categories any of
//!   NAB's 58 files ends with is 831 (cpu_utilization_asg_misconfiguration, one of the golden test's
//!   31). At the cap a detector's state is about 0.6 MB.
//! - A value outside `[dmin, dmax]` (a live stream whose range was estimated) takes the nearest end
//!   level (0 or 80) instead of indexing out of range.
//! - `n_records` below [`MIN_RECORDS`] is refused: its warm-up would be too short for the initial
//!   vigilance estimate (an empty mean).

pub mod conditioning;
pub mod features;
pub mod fuzzy_art;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::{invalid, Error};
use conditioning::Conditioner;
use features::{feature_vector, FEATURES, WINDOW};
use fuzzy_art::{complement_code, FuzzyArt, Presentation};

/// Feature windows per probationary period: `sstep = pp div (8 * 13)`.
const WINDOWS_PER_PB: u64 = 13;
/// Vigilance of the warm-up's temporary network.
const INITIAL_RHO: f64 = 0.80;
/// Refractory length after an anomaly or a new cluster, and the vigilance update delay after an
/// anomaly (`window * 1.5`).
const MASK: u64 = 12;
/// Cap on the fuzzy ART categories of one detector (about 0.5 MiB of weights; matching all of them
/// takes some 15 us per sample).
pub const MAX_CATEGORIES: usize = 2048;
/// The smallest `n_records` whose warm-up supports the initial vigilance estimate.
pub const MIN_RECORDS: u64 = 94;

/// The downsampling step and the trend window (warm-up length in samples) for a file of `n` records
/// (spec §3.2).
pub fn derived_constants(n: u64) -> (u64, u64) {
    let mut pp = if n < 5000 { (0.15 * n as f64).floor() as u64 } else { 750 };
    pp -= pp % 2;
    let sstep = (pp / (WINDOW as u64 * WINDOWS_PER_PB)).max(1);
    let trend_window = (pp as f64 / sstep as f64).floor() as u64;
    (sstep, trend_window)
}

/// A running equal-weight mean: `value += (1/count) * (x - value)`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct RunningMean {
    count: u64,
    value: f64,
}

impl RunningMean {
    fn absorb(&mut self, x: f64) {
        self.count += 1;
        self.value += (1.0 / self.count as f64) * (x - self.value);
    }
}

/// The lowest match of each anomaly so far, kept as the left-to-right sum of all but the last entry
/// plus the last entry (the only one that still changes), so that its mean is exact in O(1) memory.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct AnomalyMatches {
    count: u64,
    sum_before_last: f64,
    last: f64,
}

impl AnomalyMatches {
    fn push(&mut self, x: f64) {
        if self.count > 0 {
            self.sum_before_last = if self.count == 1 { self.last } else { self.sum_before_last + self.last };
        }
        self.last = x;
        self.count += 1;
    }

    fn mean(&self) -> Option<f64> {
        match self.count {
            0 => None,
            1 => Some(self.last),
            n => Some((self.sum_before_last + self.last) / n as f64),
        }
    }
}

/// A fixed-length FIFO of reals.
fn push_fifo(fifo: &mut VecDeque<f64>, x: f64) {
    fifo.pop_front();
    fifo.push_back(x);
}

/// One ARTime detector: one per series.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Artime {
    dmin: f64,
    dmax: f64,
    n_records: u64,
    sstep: u64,
    trend_window: u64,
    /// Records handled so far.
    records: u64,
    /// Samples produced so far (the spec's `t` of the last sample).
    samples: u64,
    /// The raw values of the current, unfinished downsampling block.
    block: Vec<f64>,
    conditioner: Conditioner,
    /// The last 8 conditioned samples, oldest first.
    qwin: [f64; WINDOW],
    /// The warm-up's feature vectors (emptied once the warm-up has been replayed).
    warm: Vec<[f64; FEATURES]>,
    art: FuzzyArt,
    last_anomaly_t: u64,
    last_anomaly_sim: f64,
    last_rho_update_t: u64,
    mask_after_cat: bool,
    no_new_cat_count: u64,
    anomaly_matches: AnomalyMatches,
    /// The best matches of the last `TW div 2 + 1` samples.
    sim_window: VecDeque<f64>,
    /// `rho_ub - best match` of the last `TW + 1` samples.
    sim_diff_window: VecDeque<f64>,
    rho_ub_mean: RunningMean,
}

impl Artime {
    /// A detector for values in `[dmin, dmax]` (NAB: the file's extremes) and a series of about
    /// `n_records` records (NAB: the file's length), which fixes the downsampling and the warm-up.
    pub fn new(dmin: f64, dmax: f64, n_records: u64) -> Result<Artime, Error> {
        if !dmin.is_finite() || !dmax.is_finite() {
            return Err(invalid(format!("dmin and dmax must be finite numbers, got {dmin} and {dmax}")));
        }
        if dmin > dmax {
            return Err(invalid(format!("dmin must not exceed dmax, got {dmin} > {dmax}")));
        }
        if !(dmax - dmin).is_finite() {
            return Err(invalid(format!("the range dmax - dmin overflows ({dmin} to {dmax})")));
        }
        if n_records < MIN_RECORDS {
            return Err(invalid(format!(
                "n_records must be at least {MIN_RECORDS} (ARTime's warm-up is 15 % of it), got {n_records}"
            )));
        }
        let (sstep, trend_window) = derived_constants(n_records);
        Ok(Artime {
            dmin,
            dmax,
            n_records,
            sstep,
            trend_window,
            records: 0,
            samples: 0,
            block: Vec::with_capacity(sstep as usize),
            conditioner: Conditioner::new(dmin, dmax),
            qwin: [0.0; WINDOW],
            warm: Vec::with_capacity(trend_window as usize),
            art: FuzzyArt::new(0.0, 0.0, MAX_CATEGORIES),
            last_anomaly_t: 0,
            last_anomaly_sim: 0.0,
            last_rho_update_t: 0,
            mask_after_cat: false,
            no_new_cat_count: 0,
            anomaly_matches: AnomalyMatches::default(),
            sim_window: vec![1.0; (trend_window / 2 + 1) as usize].into(),
            sim_diff_window: vec![0.0; (trend_window + 1) as usize].into(),
            rho_ub_mean: RunningMean::default(),
        })
    }

    /// Records handled so far.
    pub fn records_seen(&self) -> u64 {
        self.records
    }

    pub fn dmin(&self) -> f64 {
        self.dmin
    }

    pub fn dmax(&self) -> f64 {
        self.dmax
    }

    /// The series length it was made for (which fixes its downsampling and warm-up).
    pub fn n_records(&self) -> u64 {
        self.n_records
    }

    /// Records per downsampled sample.
    pub fn sstep(&self) -> u64 {
        self.sstep
    }

    /// Warm-up length in samples (the vigilance update period is half of it).
    pub fn trend_window(&self) -> u64 {
        self.trend_window
    }

    /// Approximate heap bytes (capacities): the network, the warm-up buffer and the windows.
    pub fn memory_bytes(&self) -> usize {
        self.art.memory_bytes()
            + self.block.capacity() * 8
            + self.warm.capacity() * std::mem::size_of::<[f64; FEATURES]>()
            + (self.sim_window.capacity() + self.sim_diff_window.capacity()) * 8
    }

    /// Current number of fuzzy ART categories.
    pub fn categories(&self) -> usize {
        self.art.categories()
    }

    /// The anomaly score of the next record, in `[0, 1]` (rounded to 6 decimals; 0 for all but the last
    /// record of a downsampling block, and during the warm-up). A non-finite value is refused
    /// before anything changes.
    pub fn handle(&mut self, value: f64) -> Result<f64, Error> {
        if !value.is_finite() {
            return Err(invalid(format!("value must be a finite number, got {value}")));
        }
        self.records += 1;
        self.block.push(value);
        if self.block.len() as u64 != self.sstep {
            return Ok(0.0);
        }
        self.samples += 1;
        let t = self.samples;
        let q = self.conditioner.condition(&self.block, t);
        self.block.clear();
        self.qwin.copy_within(1.., 0);
        self.qwin[WINDOW - 1] = q;
        let f = if t < WINDOW as u64 { [0.0; FEATURES] } else { feature_vector(&self.qwin) };
        if t > self.trend_window {
            return Ok(self.detect(&f, t));
        }
        self.warm.push(f);
        if t == self.trend_window {
            let warm = std::mem::take(&mut self.warm);
            let rho0 = initial_vigilance(&warm, self.trend_window);
            self.art.rho_lb = rho0;
            self.art.rho_ub = rho0;
            for (i, f) in warm.iter().enumerate() {
                self.detect(f, i as u64 + 1);
            }
        }
        Ok(0.0)
    }

    /// The detection step for sample `t` (spec §9); returns its score.
    fn detect(&mut self, f: &[f64; FEATURES], t: u64) -> f64 {
        let tw = self.trend_window;
        let g = t - self.last_anomaly_t;
        let rho_after_anomaly = g == MASK;
        let rho_for_trend = t - self.last_rho_update_t >= tw / 2;
        let recent_anomaly = g <= MASK;
        if t > tw + MASK && self.mask_after_cat && self.no_new_cat_count >= MASK {
            self.mask_after_cat = false;
        }
        let x = complement_code(f);
        let Presentation { best: a, best_energy: ae, new_cluster } = if t < WINDOW as u64 {
            Presentation { new_cluster: true, ..self.art.present(&x, false) }
        } else {
            self.art.present(&x, true)
        };
        self.no_new_cat_count = if new_cluster { 0 } else { self.no_new_cat_count + 1 };
        self.rho_ub_mean.absorb(a);
        push_fifo(&mut self.sim_window, a);
        push_fifo(&mut self.sim_diff_window, self.art.rho_ub - a);
        if g < MASK && self.anomaly_matches.count > 0 && a < self.anomaly_matches.last {
            self.anomaly_matches.last = a;
        }
        let masking = self.mask_after_cat || recent_anomaly;
        let scale = if recent_anomaly { 0.90 } else { 0.70 };
        let much_worse = a < self.last_anomaly_sim * scale;
        let is_anomaly = new_cluster && (!masking || much_worse);
        let mut score = 0.0;
        if t > tw && is_anomaly {
            score = self.confidence(a, ae);
            self.anomaly_matches.push(a);
            self.last_anomaly_sim = a;
            self.last_anomaly_t = t;
        }
        self.mask_after_cat = self.mask_after_cat || new_cluster;
        if t > tw && (rho_after_anomaly || rho_for_trend) {
            self.update_vigilance(t);
            self.last_rho_update_t = t;
            self.mask_after_cat = true;
        }
        score
    }

    /// Vigilance adaptation (spec §10).
    fn update_vigilance(&mut self, t: u64) {
        let smin = self.sim_window.iter().copied().fold(f64::INFINITY, f64::min);
        let new_ub = 0.97f64.min(self.rho_ub_mean.value);
        let lb = self.art.rho_lb;
        let mut new_lb;
        if lb <= smin {
            new_lb = lb + (smin - lb) * 0.19;
        } else {
            let mut decr = 0.0;
            if t > 2 * self.trend_window {
                let (mut sum, mut count) = (0.0, 0u64);
                for &d in self.sim_diff_window.iter().filter(|&&d| d > 0.05) {
                    let d = 0.37f64.min(d);
                    sum = if count == 0 { d } else { sum + d };
                    count += 1;
                }
                if count > 0 {
                    decr = sum / count as f64;
                }
            }
            decr = 0.01f64.max(decr);
            new_lb = lb - decr / 2.0;
            if let Some(mean) = self.anomaly_matches.mean() {
                new_lb = mean.max(new_lb);
            }
        }
        new_lb = new_ub.min(new_lb);
        self.art.rho_lb = new_lb;
        self.art.rho_ub = new_ub;
    }

    /// The score of an anomaly with best match `a` and energy similarity `ae` (spec §11).
    fn confidence(&self, a: f64, ae: f64) -> f64 {
        let s = 0.999f64.min(a);
        let ub = ((1.0 - s) - (1.0 - self.art.rho_ub)) / (1.0 - s);
        let lb = ((1.0 - s) - (1.0 - self.art.rho_lb)) / (1.0 - s);
        let score = (ub * 0.35 + lb * 0.65) + (1.0 - ae) * 1.5;
        (1.0f64.min(score) * 1e6).round_ties_even() / 1e6
    }
}

/// The initial vigilance from the warm-up's feature vectors (spec §8.2): the full-window vectors are
/// ordered from least to most typical (by their summed cosine similarity to the others) and learned by
/// a fresh network at vigilance 0.8; the mean best match over the later part is the estimate.
fn initial_vigilance(warm: &[[f64; FEATURES]], trend_window: u64) -> f64 {
    let vectors = &warm[WINDOW - 1..];
    let n = vectors.len();
    let norms: Vec<f64> = vectors.iter().map(|v| left_to_right(v.iter().map(|x| x * x)).sqrt()).collect();
    let mut sims = vec![0.0; n * n];
    for i in 0..n {
        sims[i * n + i] = 1.0;
        for j in i + 1..n {
            let (n1, n2) = (norms[i], norms[j]);
            let s = if n1 == 0.0 {
                1.0 - n2
            } else if n2 == 0.0 {
                1.0 - n1
            } else {
                left_to_right(vectors[i].iter().zip(&vectors[j]).map(|(a, b)| a * b)) / (n1 * n2)
            };
            sims[i * n + j] = s;
            sims[j * n + i] = s;
        }
    }
    let column_sums: Vec<f64> = (0..n).map(|i| left_to_right((0..n).map(|k| sims[k * n + i]))).collect();
    let mut order: Vec<usize> = (0..n).collect();
    // Stable: ties keep their original order.
    order.sort_by(|&a, &b| column_sums[a].total_cmp(&column_sums[b]));
    let mut art = FuzzyArt::new(INITIAL_RHO, INITIAL_RHO, MAX_CATEGORIES);
    let matches: Vec<f64> = order.iter().map(|&i| art.present(&complement_code(&vectors[i]), true).best).collect();
    // A[TW div 2 ..= L], 1-based.
    let tail = &matches[(trend_window / 2) as usize - 1..];
    left_to_right(tail.iter().copied()) / tail.len() as f64
}

/// Left-to-right sum, starting from the first element (0.0 for none).
fn left_to_right(mut values: impl Iterator<Item = f64>) -> f64 {
    match values.next() {
        None => 0.0,
        Some(first) => values.fold(first, |acc, x| acc + x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_constants_match_the_nab_table() {
        let table = [
            (1127, 1, 168),
            (1538, 2, 115),
            (1624, 2, 121),
            (1643, 2, 123),
            (1882, 2, 141),
            (2162, 3, 108),
            (2380, 3, 118),
            (2495, 3, 124),
            (2500, 3, 124),
            (4032, 5, 120),
            (5000, 7, 107),
            (22695, 7, 107),
        ];
        for (n, sstep, tw) in table {
            assert_eq!(derived_constants(n), (sstep, tw), "n = {n}");
        }
        assert_eq!(derived_constants(MIN_RECORDS), (1, 14));
    }

    #[test]
    fn invalid_parameters_are_refused() {
        for (dmin, dmax, n) in [
            (1.0, 0.0, 1000),
            (f64::NAN, 1.0, 1000),
            (0.0, f64::INFINITY, 1000),
            (-f64::MAX, f64::MAX, 1000),
            (0.0, 1.0, 0),
            (0.0, 1.0, MIN_RECORDS - 1),
        ] {
            assert!(matches!(Artime::new(dmin, dmax, n), Err(Error::InvalidParams(_))), "{dmin} {dmax} {n}");
        }
        assert!(Artime::new(5.0, 5.0, MIN_RECORDS).is_ok());
    }

    #[test]
    fn non_finite_values_are_refused_without_a_change() {
        let mut a = Artime::new(0.0, 10.0, 1000).unwrap();
        a.handle(1.0).unwrap();
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(a.handle(v).is_err());
        }
        assert_eq!(a.records_seen(), 1);
    }

    #[test]
    fn anomaly_matches_mean_is_the_left_to_right_mean() {
        let mut m = AnomalyMatches::default();
        assert_eq!(m.mean(), None);
        let values = [0.3, 0.1, 0.7, 0.2];
        for (i, &v) in values.iter().enumerate() {
            m.push(v);
            let want = left_to_right(values[..=i].iter().copied()) / (i + 1) as f64;
            assert_eq!(m.mean(), Some(want));
        }
        m.last = 0.05;
        assert_eq!(m.mean(), Some((((0.3 + 0.1) + 0.7) + 0.05) / 4.0));
    }

    #[test]
    fn out_of_range_and_constant_streams_do_not_panic() {
        let mut a = Artime::new(0.0, 1.0, 500).unwrap();
        for i in 0..5000 {
            let v = if i % 97 == 0 {
                1e300
            } else if i % 89 == 0 {
                -1e300
            } else {
                (i % 13) as f64 * 0.3 - 1.0
            };
            let s = a.handle(v).unwrap();
            assert!((0.0..=1.0).contains(&s), "{s}");
        }
        let mut flat = Artime::new(3.0, 3.0, 500).unwrap();
        for _ in 0..2000 {
            assert_eq!(flat.handle(3.0).unwrap(), 0.0);
        }
    }
}
