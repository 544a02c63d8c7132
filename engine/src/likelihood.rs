//! NuPIC 1.0.5's `AnomalyLikelihood` (spec/htm.md 3.8), bit-exact: a normal distribution fitted to a
//! moving average of the raw scores, re-estimated every `reestimation_period` records from a bounded
//! history, a tail probability per record and the red/yellow filter.
//!
//! Numerical parity with NuPIC (Python 2.7, numpy 1.12): means and variances use numpy's pairwise
//! summation, `erfc` is Python 2.7's own series/continued-fraction implementation (it does not call
//! the C library), `exp`/`ln` are the platform libm's (glibc), everything is float64.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::{invalid, Error};

/// Width of the moving average over the raw scores (NuPIC's `averagingWindow`).
const AVERAGING_WINDOW: usize = 10;
/// A tail probability at or below this is in the red zone (computed like NuPIC, not the literal 1e-5).
const RED_THRESHOLD: f64 = 1.0 - 0.99999;
/// What a red-zone probability following another one is reported as (not the literal 1e-3).
const YELLOW_THRESHOLD: f64 = 1.0 - 0.999;
/// Metric values with a smaller population variance count as flat: the null distribution is used.
const FLAT_METRIC_VARIANCE: f64 = 1.5e-5;
/// NuPIC's stand-in for sqrt(2) in the Gaussian tail (deliberately not `SQRT_2`).
#[allow(clippy::approx_constant)]
const SQRT2_APPROX: f64 = 1.4142;
/// ln(1.0000000001 - 1.0) as float64: the divisor of the log scaling.
const LOG_SCALE_DIVISOR: f64 = -23.02585084720009;

/// How probabilities below the mean are treated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tail {
    /// P(X >= x) for every x (NuPIC <= 0.5.7; NAB's published `numenta` results). The default.
    #[default]
    OneSided,
    /// Values below the mean are mirrored above it (stock NuPIC >= 0.6.0, including 1.0.5).
    TwoSided,
}

/// A normal distribution as NuPIC's estimator describes it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Normal {
    mean: f64,
    stdev: f64,
}

/// NuPIC's "null distribution", used when there is too little data or the metric is flat.
const NULL_DISTRIBUTION: Normal = Normal { mean: 0.5, stdev: 1e3 };

/// NuPIC's `MovingAverage`: a window of the last raw scores and their running total.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct MovingAverage {
    window: VecDeque<f64>,
    total: f64,
}

impl MovingAverage {
    /// Adds `raw` (dropping the oldest value of a full window first) and returns the window mean.
    fn push(&mut self, raw: f64) -> f64 {
        if self.window.len() == AVERAGING_WINDOW {
            self.total -= self.window.pop_front().expect("full window");
        }
        self.window.push_back(raw);
        self.total += raw;
        self.total / self.window.len() as f64
    }
}

/// The estimator state between re-estimations.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Estimate {
    distribution: Normal,
    moving_average: MovingAverage,
    /// The last unfiltered tail probability (the red-zone filter compares against it).
    previous_tail: Option<f64>,
}

/// One stored input record.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Record {
    timestamp_s: i64,
    value: f64,
    raw: f64,
}

/// A record of a compact history: 12 bytes.
#[derive(Clone, Copy, Debug)]
#[repr(C, packed)]
struct CompactRecord {
    value: f64,
    raw: f32,
}

/// The stored records, oldest first: NuPIC's (timestamp, value, raw score), or, once made compact
/// (`AnomalyLikelihood::compact`), (value, float32 raw score): half the memory for a detector's
/// likelihood, whose timestamps nothing reads and whose raw scores are float32 widened. A compact
/// history given a raw score float32 cannot hold turns full again (timestamps 0). Saved as full
/// records either way (timestamps 0 where none were kept).
#[derive(Clone, Debug)]
enum History {
    Full(VecDeque<Record>),
    Compact(VecDeque<CompactRecord>),
}

impl History {
    fn len(&self) -> usize {
        match self {
            History::Full(h) => h.len(),
            History::Compact(h) => h.len(),
        }
    }

    fn capacity(&self) -> usize {
        match self {
            History::Full(h) => h.capacity(),
            History::Compact(h) => h.capacity(),
        }
    }

    fn reserve_exact(&mut self, additional: usize) {
        match self {
            History::Full(h) => h.reserve_exact(additional),
            History::Compact(h) => h.reserve_exact(additional),
        }
    }

    fn pop_front(&mut self) {
        match self {
            History::Full(h) => h.pop_front().map(drop),
            History::Compact(h) => h.pop_front().map(drop),
        };
    }

    fn push_back(&mut self, record: Record) {
        let narrow = record.raw as f32;
        if let History::Compact(h) = self {
            if f64::from(narrow) == record.raw {
                h.push_back(CompactRecord { value: record.value, raw: narrow });
                return;
            }
            *self = History::Full(self.records().map(|(value, raw)| Record { timestamp_s: 0, value, raw }).collect());
        }
        if let History::Full(h) = self {
            h.push_back(record);
        }
    }

    /// (value, raw score) of every record, oldest first.
    fn records(&self) -> Box<dyn Iterator<Item = (f64, f64)> + '_> {
        match self {
            History::Full(h) => Box::new(h.iter().map(|r| (r.value, r.raw))),
            History::Compact(h) => Box::new(h.iter().map(|r| (r.value, f64::from(r.raw)))),
        }
    }

    /// The compact form of this history, if every raw score is a float32.
    fn compacted(&self) -> Option<History> {
        let History::Full(h) = self else { return None };
        if !h.iter().all(|r| f64::from(r.raw as f32) == r.raw) {
            return None;
        }
        let mut compact = VecDeque::with_capacity(h.capacity());
        compact.extend(h.iter().map(|r| CompactRecord { value: r.value, raw: r.raw as f32 }));
        Some(History::Compact(compact))
    }

    fn memory_bytes(&self) -> usize {
        match self {
            History::Full(h) => h.capacity() * std::mem::size_of::<Record>(),
            History::Compact(h) => h.capacity() * std::mem::size_of::<CompactRecord>(),
        }
    }
}

impl Serialize for History {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            History::Full(h) => h.serialize(serializer),
            History::Compact(_) => {
                serializer.collect_seq(self.records().map(|(value, raw)| Record { timestamp_s: 0, value, raw }))
            }
        }
    }
}

impl<'de> Deserialize<'de> for History {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        VecDeque::<Record>::deserialize(deserializer).map(History::Full)
    }
}

/// NuPIC 1.0.5's `AnomalyLikelihood` with a selectable tail convention.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AnomalyLikelihood {
    learning_period: u32,
    probation: u32,
    historic_window_size: u32,
    reestimation_period: u32,
    tail: Tail,
    iteration: u64,
    history: History,
    estimate: Option<Estimate>,
}

impl AnomalyLikelihood {
    /// Same parameters as NuPIC's constructor; probation = `learning_period + estimation_samples`.
    ///
    /// # Panics
    /// On parameters [`AnomalyLikelihood::try_new`] rejects; use it to get the error instead.
    pub fn new(
        learning_period: u32,
        estimation_samples: u32,
        historic_window_size: u32,
        reestimation_period: u32,
        tail: Tail,
    ) -> Self {
        Self::try_new(learning_period, estimation_samples, historic_window_size, reestimation_period, tail)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Builds the likelihood, or explains why the parameters cannot work: the estimation samples
    /// must fit in the history window (NuPIC raises ValueError otherwise; an estimate from a window
    /// shorter than its sample count never sees its samples), the re-estimation period must be
    /// positive, and the probation must fit in a u32. With a probation of 0 the first record is
    /// scored against the null distribution (NuPIC raises on its empty history).
    pub fn try_new(
        learning_period: u32,
        estimation_samples: u32,
        historic_window_size: u32,
        reestimation_period: u32,
        tail: Tail,
    ) -> Result<Self, Error> {
        if estimation_samples > historic_window_size {
            return Err(invalid(format!(
                "estimation_samples ({estimation_samples}) exceeds historic_window_size \
                 ({historic_window_size})"
            )));
        }
        if reestimation_period == 0 {
            return Err(invalid("reestimation_period must be positive"));
        }
        let probation = learning_period.checked_add(estimation_samples).ok_or_else(|| {
            invalid(format!(
                "learning_period ({learning_period}) + estimation_samples ({estimation_samples}) \
                 exceeds {}",
                u32::MAX
            ))
        })?;
        Ok(AnomalyLikelihood {
            learning_period,
            probation,
            historic_window_size,
            reestimation_period,
            tail,
            iteration: 0,
            history: History::Full(VecDeque::new()),
            estimate: None,
        })
    }

    /// NuPIC's `anomalyProbability(value, anomalyScore, timestamp)`: the likelihood that the current
    /// raw score is anomalous (0.5 during probation). `raw_score` is the float32 raw score widened to
    /// f64; `timestamp_s` (naive seconds) is only stored.
    pub fn anomaly_probability(&mut self, value: f64, raw_score: f64, timestamp_s: i64) -> f64 {
        let likelihood = if self.iteration < u64::from(self.probation) {
            0.5
        } else {
            if self.estimate.is_none() || self.iteration.is_multiple_of(u64::from(self.reestimation_period)) {
                self.reestimate();
            }
            let tail = self.tail;
            let estimate = self.estimate.as_mut().expect("estimated above");
            let average = estimate.moving_average.push(raw_score);
            let probability = tail_probability(average, estimate.distribution, tail);
            let reported = match estimate.previous_tail {
                Some(previous) => red_zone_filter(previous, probability),
                None => probability,
            };
            estimate.previous_tail = Some(probability);
            1.0 - reported
        };
        if self.history.len() == self.historic_window_size as usize {
            self.history.pop_front();
        }
        if self.historic_window_size > 0 {
            self.grow_history();
            self.history.push_back(Record { timestamp_s, value, raw: raw_score });
        }
        self.iteration += 1;
        likelihood
    }

    /// NuPIC's `computeLogLikelihood`: ln(1.0000000001 - L) / -23.02585084720009 (L = 1 maps to 1).
    pub fn compute_log_likelihood(likelihood: f64) -> f64 {
        (1.0000000001 - likelihood).ln() / LOG_SCALE_DIVISOR
    }

    /// Approximate heap bytes of the history (the re-estimation's work space lives only while it runs).
    pub fn memory_bytes(&self) -> usize {
        self.history.memory_bytes()
    }

    /// Stops keeping timestamps (nothing reads them) and keeps raw scores as float32 while they are
    /// float32 (a detector's are): the history then takes half the memory. Likelihoods stay the same;
    /// a saved history holds timestamps 0.
    pub fn compact(&mut self) {
        if let Some(compact) = self.history.compacted() {
            self.history = compact;
        }
    }

    /// Makes room for one more record: the history doubles as it fills but never beyond the window, so a
    /// full 8640-record window holds 8640 records' worth of memory rather than the next power of two.
    fn grow_history(&mut self) {
        let (len, window) = (self.history.len(), self.historic_window_size as usize);
        if len == self.history.capacity() && len < window {
            self.history.reserve_exact(len.max(16).min(window - len));
        }
    }

    /// Number of leading records answered with 0.5 (learning period + estimation samples).
    pub fn probation(&self) -> u32 {
        self.probation
    }

    /// Number of records seen so far.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// Re-fits the distribution and resets the moving average and filter state from the history.
    fn reestimate(&mut self) {
        let shifted_out = self.iteration.saturating_sub(u64::from(self.historic_window_size));
        let skip = self.iteration.min(u64::from(self.learning_period).saturating_sub(shifted_out)) as usize;

        let mut moving_average = MovingAverage::default();
        // Work space for this re-estimation only: kept per model, it would double a model's likelihood memory.
        let mut scratch: Vec<f64> = self.history.records().map(|(_, raw)| moving_average.push(raw)).collect();
        let mut squares = Vec::with_capacity(scratch.len());
        let last_average = scratch.last().copied();

        let distribution = if scratch.len() <= skip {
            NULL_DISTRIBUTION
        } else {
            let (mean, variance) = mean_and_variance(&scratch[skip..], &mut squares);
            let fitted = Normal::clamped(mean, variance);
            // Flat metrics confuse the model (NuPIC's "hack alert"): report them as not anomalous.
            scratch.clear();
            scratch.extend(self.history.records().skip(skip).map(|(value, _)| value));
            let (_, metric_variance) = mean_and_variance(&scratch, &mut squares);
            if metric_variance < FLAT_METRIC_VARIANCE {
                NULL_DISTRIBUTION
            } else {
                fitted
            }
        };
        self.estimate = Some(Estimate {
            distribution,
            previous_tail: last_average.map(|a| tail_probability(a, distribution, self.tail)),
            moving_average,
        });
    }
}

impl Normal {
    /// NuPIC's `estimateNormal` with the lower-bound check: mean >= 0.03, variance >= 0.0003.
    fn clamped(mean: f64, variance: f64) -> Normal {
        let mean = if mean < 0.03 { 0.03 } else { mean };
        let variance = if variance < 0.0003 { 0.0003 } else { variance };
        Normal { mean, stdev: if variance > 0.0 { variance.sqrt() } else { 0.0 } }
    }
}

/// NAB's setup: learning period floor(P / 2) and estimation samples P - floor(P / 2).
pub fn nab_likelihood_periods(probation: u32) -> (u32, u32) {
    let learning_period = probation / 2;
    (learning_period, probation - learning_period)
}

/// NAB's probationary period for a stream of `rows` records: min(floor(0.15 * rows), 750), computed
/// in float64 as NAB does.
pub fn nab_probationary_period(rows: u64) -> u32 {
    (0.15 * rows as f64).floor().min(0.15 * 5000.0) as u32
}

/// The red/yellow filter: a red-zone probability right after another red-zone one is reported as
/// the yellow threshold; anything else unchanged.
fn red_zone_filter(previous: f64, probability: f64) -> f64 {
    if probability <= RED_THRESHOLD && previous <= RED_THRESHOLD {
        YELLOW_THRESHOLD
    } else {
        probability
    }
}

/// NuPIC's `tailProbability` under the chosen convention.
fn tail_probability(x: f64, distribution: Normal, tail: Tail) -> f64 {
    if x < distribution.mean {
        let upper = upper_tail(2.0 * distribution.mean - x, distribution);
        match tail {
            Tail::TwoSided => upper,
            Tail::OneSided => 1.0 - upper,
        }
    } else {
        upper_tail(x, distribution)
    }
}

/// Q((x - mean) / stdev) with NuPIC's 1.4142 in place of sqrt(2); x >= mean.
fn upper_tail(x: f64, distribution: Normal) -> f64 {
    let z = (x - distribution.mean) / distribution.stdev;
    0.5 * python27_erfc(z / SQRT2_APPROX)
}

/// numpy's `mean` and `var` (population) of a contiguous float64 array, bit for bit.
fn mean_and_variance(data: &[f64], squares: &mut Vec<f64>) -> (f64, f64) {
    let n = data.len() as f64;
    let mean = numpy_sum(data) / n;
    squares.clear();
    squares.extend(data.iter().map(|&x| {
        let deviation = x - mean;
        deviation * deviation
    }));
    (mean, numpy_sum(squares) / n)
}

/// numpy's ufunc buffer size: a reduction hands its inner loop at most this many elements at a time.
const NUMPY_BUFFER_SIZE: usize = 8192;

/// numpy 1.12's `add.reduce` of a contiguous float64 array: starting from the identity 0.0, each
/// buffer-sized chunk's pairwise sum is added in turn (verified against the golden traces, whose
/// 8640-record windows span two chunks).
fn numpy_sum(data: &[f64]) -> f64 {
    data.chunks(NUMPY_BUFFER_SIZE).fold(0.0, |acc, chunk| acc + pairwise_sum(chunk))
}

/// numpy's pairwise summation: plain loop below 8 elements, 8 interleaved accumulators up to 128,
/// otherwise split in two halves at a multiple of 8.
fn pairwise_sum(data: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = data.len();
    if n < 8 {
        data.iter().fold(0.0, |acc, &x| acc + x)
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&data[..8]);
        let whole = n - n % 8;
        for chunk in data[8..whole].chunks_exact(8) {
            for (acc, &x) in r.iter_mut().zip(chunk) {
                *acc += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &data[whole..] {
            res += x;
        }
        res
    } else {
        let half = n / 2;
        let split = half - half % 8;
        pairwise_sum(&data[..split]) + pairwise_sum(&data[split..])
    }
}

/// Python 2.7's `math.erfc` (its own implementation, not the C library's): a 25-term series for
/// erf below |x| = 1.5, a 50-term continued fraction above, 0 from x = 30 on.
fn python27_erfc(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let abs = x.abs();
    if abs < 1.5 {
        1.0 - erf_series(x)
    } else {
        let cf = erfc_continued_fraction(abs);
        if x > 0.0 {
            cf
        } else {
            2.0 - cf
        }
    }
}

const SQRT_PI: f64 = 1.772_453_850_905_516;

fn erf_series(x: f64) -> f64 {
    const TERMS: u32 = 25;
    let x2 = x * x;
    let mut acc = 0.0;
    let mut fk = f64::from(TERMS) + 0.5;
    for _ in 0..TERMS {
        acc = 2.0 + x2 * acc / fk;
        fk -= 1.0;
    }
    acc * x * (-x2).exp() / SQRT_PI
}

fn erfc_continued_fraction(x: f64) -> f64 {
    const TERMS: u32 = 50;
    if x >= 30.0 {
        return 0.0;
    }
    let x2 = x * x;
    let mut a = 0.0;
    let mut da = 0.5;
    let (mut p, mut p_last) = (1.0, 0.0);
    let (mut q, mut q_last) = (da + x2, 1.0);
    for _ in 0..TERMS {
        a += da;
        da += 2.0;
        let b = da + x2;
        (p, p_last) = (b * p - a * p_last, p);
        (q, q_last) = (b * q - a * q_last, q);
    }
    p / q * x * (-x2).exp() / SQRT_PI
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `raws` with slowly varying values; returns the likelihoods.
    fn run(likelihood: &mut AnomalyLikelihood, raws: &[f64]) -> Vec<f64> {
        raws.iter()
            .enumerate()
            .map(|(i, &raw)| likelihood.anomaly_probability((i % 17) as f64, raw, i as i64 * 300))
            .collect()
    }

    #[test]
    fn a_compact_history_scores_saves_and_continues_like_a_full_one() {
        // float32 raw scores (as a detector's are), a window that wraps, several re-estimations.
        let raws: Vec<f64> = (0..700).map(|i| f64::from(((i * 37) % 101) as f32 / 101.0)).collect();
        let new = || AnomalyLikelihood::new(50, 50, 300, 20, Tail::OneSided);
        let (mut full, mut compact) = (new(), new());
        compact.compact();
        assert_eq!(run(&mut compact, &raws[..400]), run(&mut full, &raws[..400]));
        assert!(compact.memory_bytes() * 2 <= full.memory_bytes(), "12-byte records, not 24");
        let blob = bincode::serialize(&compact).unwrap();
        assert_eq!(blob.len(), bincode::serialize(&full).unwrap().len(), "saved as full records");
        let mut restored: AnomalyLikelihood = bincode::deserialize(&blob).unwrap();
        assert_eq!(run(&mut restored, &raws[400..]), run(&mut full, &raws[400..]));
        // Raw scores float32 cannot hold turn a compact history full again, exactly.
        let mixed: Vec<f64> =
            raws[..300].iter().enumerate().map(|(i, &r)| if i % 7 == 3 { 1.0 / 3.0 } else { r }).collect();
        let (mut full, mut compact) = (new(), new());
        compact.compact();
        assert_eq!(run(&mut compact, &mixed), run(&mut full, &mixed));
        assert!(matches!(compact.history, History::Full(_)));
    }

    #[test]
    fn probation_answers_one_half() {
        let mut likelihood = AnomalyLikelihood::new(6, 4, 8640, 100, Tail::OneSided);
        assert_eq!(likelihood.probation(), 10);
        let raws: Vec<f64> = (0..30).map(|i| if i % 3 == 0 { 0.5 } else { 0.0 }).collect();
        let out = run(&mut likelihood, &raws);
        assert!(out[..10].iter().all(|&l| l == 0.5));
        assert!(out[10..].iter().all(|&l| l != 0.5));
        assert_eq!(likelihood.iteration(), 30);
    }

    #[test]
    fn consecutive_red_zone_records_are_reported_as_yellow() {
        let mut likelihood = AnomalyLikelihood::new(10, 10, 8640, 100, Tail::OneSided);
        // Quiet history: the fit is clamped to mean 0.03, variance 0.0003.
        run(&mut likelihood, &[0.0; 30]);
        // A burst of raw 1.0: window averages 0.1, 0.2, 0.3, ...
        let burst: Vec<f64> = (0..4).map(|i| likelihood.anomaly_probability(i as f64, 1.0, 0)).collect();
        assert!(burst[0] < 0.99999, "average 0.1 is not yet red: {}", burst[0]);
        assert!(burst[1] > 0.99999, "first red-zone record is reported as is: {}", burst[1]);
        assert_eq!(burst[2], 1.0 - (1.0 - 0.999));
        assert_eq!(burst[3], 1.0 - (1.0 - 0.999));
    }

    #[test]
    fn tails_differ_only_below_the_mean() {
        let mut one = AnomalyLikelihood::new(50, 50, 8640, 100, Tail::OneSided);
        let mut two = AnomalyLikelihood::new(50, 50, 8640, 100, Tail::TwoSided);
        let raws: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 1.0 } else { 0.0 }).collect();
        run(&mut one, &raws);
        run(&mut two, &raws);
        // Above the mean (~0.5) both agree.
        for _ in 0..3 {
            let (a, b) = (one.anomaly_probability(1.0, 1.0, 0), two.anomaly_probability(1.0, 1.0, 0));
            assert_eq!(a, b);
        }
        let (a, b) = (one.anomaly_probability(1.0, 1.0, 0), two.anomaly_probability(1.0, 1.0, 0));
        assert!(a == b && a > 0.5, "one-sided {a}, two-sided {b}");
        // Below the mean: one-sided says "not anomalous", two-sided mirrors it upwards. The first
        // record below the mean follows one near it, so the red-zone filter leaves it alone.
        for step in 0..10 {
            let (a, b) = (one.anomaly_probability(1.0, 0.0, 0), two.anomaly_probability(1.0, 0.0, 0));
            if a < 0.5 {
                assert!(b > 0.5, "one-sided {a}, two-sided {b}");
                assert!((a + b - 1.0).abs() < 1e-12, "one-sided {a}, two-sided {b}");
                return;
            }
            assert_eq!(a, b, "step {step}");
        }
        panic!("the window average never fell below the mean");
    }

    #[test]
    fn flat_metric_uses_the_null_distribution() {
        let mut likelihood = AnomalyLikelihood::new(10, 10, 8640, 100, Tail::OneSided);
        for i in 0..60 {
            let raw = if i % 5 == 0 { 1.0 } else { 0.0 };
            let l = likelihood.anomaly_probability(42.0, raw, 0);
            if i >= 20 {
                assert!((l - 0.5).abs() < 1e-3, "record {i}: {l}");
            }
        }
    }

    #[test]
    fn python_erfc_matches_reference_values() {
        assert_eq!(python27_erfc(0.0), 1.0);
        for (x, want) in [
            (0.5, 0.4795001221869535),
            (1.4, 0.04771488023735119),
            (2.0, 0.004677734981047266),
            (5.0, 1.537_459_794_428_035e-12),
            (-2.0, 1.995322265018953),
        ] {
            let got = python27_erfc(x);
            assert!(((got - want) / want).abs() < 1e-14, "erfc({x}) = {got}, want {want}");
        }
        assert_eq!(python27_erfc(30.0), 0.0);
        assert!(python27_erfc(f64::NAN).is_nan());
    }

    #[test]
    fn log_likelihood_and_nab_periods() {
        assert_eq!(AnomalyLikelihood::compute_log_likelihood(0.5), 0.0301029996658834);
        assert_eq!(AnomalyLikelihood::compute_log_likelihood(1.0), 1.0);
        assert_eq!(nab_probationary_period(4032), 604);
        assert_eq!(nab_probationary_period(10_320), 750);
        assert_eq!(nab_probationary_period(1_000_000), 750);
        assert_eq!(nab_likelihood_periods(604), (302, 302));
        assert_eq!(nab_likelihood_periods(243), (121, 122));
    }

    #[test]
    #[should_panic(expected = "exceeds historic_window_size")]
    fn rejects_window_smaller_than_estimation_samples() {
        AnomalyLikelihood::new(10, 200, 100, 100, Tail::OneSided);
    }

    #[test]
    fn invalid_parameters_are_errors_not_panics() {
        let err = |l, e, h, r| AnomalyLikelihood::try_new(l, e, h, r, Tail::OneSided).err().map(|e| e.to_string());
        // A probation of 20,000 or 10^9 split NAB's way (half estimation samples) against NuPIC's
        // 8640-record window: the case that used to panic in the UDF.
        for probation in [20_000, 1_000_000_000] {
            let (learning, estimation) = nab_likelihood_periods(probation);
            let message = err(learning, estimation, 8640, 100).expect("rejected");
            assert!(message.contains("exceeds historic_window_size"), "{message}");
        }
        let (learning, estimation) = nab_likelihood_periods(17_280);
        assert_eq!(err(learning, estimation, 8640, 100), None);
        assert!(err(1, 1, 10, 0).unwrap().contains("reestimation_period"));
        assert!(err(u32::MAX, 1, 10, 1).unwrap().contains("exceeds"));
        assert!(matches!(AnomalyLikelihood::try_new(0, 20, 10, 1, Tail::TwoSided), Err(Error::InvalidParams(_))));
    }
}
