//! SDR classifier (NuPIC's SDRClassifier, C++ flavour: float64 weights, softmax, a running actual
//! value per bucket; spec/htm.md 3.9) with sparse weight rows, plus the OPF post-processing of its
//! output (spec 2.12).
//!
//! NuPIC keeps a dense (max input + 1) x (max bucket + 1) float64 matrix per step and, after every
//! row update, sets weights with |w| <= 1e-6 (float32 epsilon) to zero. Here each input bit that ever
//! learned owns a row of (bucket, weight) pairs holding exactly the non-zero entries of that dense
//! row, so the arithmetic (and its order) is the dense one while untouched (input, bucket) pairs cost
//! nothing.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// nupic::Epsilon (float32 1e-6 widened to double): row entries at or below it are zeroed.
const WEIGHT_EPSILON: f64 = 9.999_999_974_752_427e-7;
/// OPF drops predictions below this probability (never leaving none).
const MIN_LIKELIHOOD: f64 = 0.0001;
/// OPF keeps at most this many predictions per step.
const MAX_PREDICTIONS: usize = 8;

/// Non-zero weights of one input bit, sorted by bucket.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Row {
    buckets: Vec<u32>,
    weights: Vec<f64>,
}

/// The weight matrix of one prediction step.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Weights {
    /// `index[input]` = 1 + position of the input's row in `rows`, 0 = no row (all zero).
    index: Vec<u32>,
    rows: Vec<Row>,
}

impl Weights {
    fn row(&self, input: u32) -> Option<&Row> {
        match self.index.get(input as usize) {
            Some(&i) if i > 0 => Some(&self.rows[i as usize - 1]),
            _ => None,
        }
    }

    fn row_mut(&mut self, input: u32) -> &mut Row {
        let i = input as usize;
        if i >= self.index.len() {
            self.index.resize(i + 1, 0);
        }
        if self.index[i] == 0 {
            self.rows.push(Row::default());
            self.index[i] = self.rows.len() as u32;
        }
        let pos = self.index[i] as usize - 1;
        &mut self.rows[pos]
    }

    /// Dense scores over buckets 0..n: per bucket the sum of the pattern's weights, in pattern order.
    fn scores(&self, pattern: &[u32], n: usize, out: &mut Vec<f64>) {
        out.clear();
        out.resize(n, 0.0);
        for &bit in pattern {
            if let Some(row) = self.row(bit) {
                for (&b, &w) in row.buckets.iter().zip(&row.weights) {
                    out[b as usize] += w;
                }
            }
        }
    }

    /// w += alpha * error over the whole row (dense semantics), then zero |w| <= epsilon.
    /// `significant` lists the buckets whose update alone exceeds epsilon, ascending.
    fn update_row(&mut self, input: u32, alpha: f64, error: &[f64], significant: &[u32]) {
        let row = self.row_mut(input);
        let mut buckets = Vec::with_capacity(row.buckets.len() + significant.len());
        let mut weights = Vec::with_capacity(row.buckets.len() + significant.len());
        let (mut i, mut j) = (0, 0);
        while i < row.buckets.len() || j < significant.len() {
            let (b, old) = if j == significant.len() || (i < row.buckets.len() && row.buckets[i] < significant[j]) {
                i += 1;
                (row.buckets[i - 1], row.weights[i - 1])
            } else if i == row.buckets.len() || significant[j] < row.buckets[i] {
                j += 1;
                (significant[j - 1], 0.0)
            } else {
                i += 1;
                j += 1;
                (row.buckets[i - 1], row.weights[i - 1])
            };
            let w = 1.0 * old + alpha * error[b as usize];
            if w.abs() > WEIGHT_EPSILON {
                buckets.push(b);
                weights.push(w);
            }
        }
        row.buckets = buckets;
        row.weights = weights;
    }

    fn entries(&self) -> usize {
        self.rows.iter().map(|r| r.buckets.len()).sum()
    }
}

/// The raw result of one inference: per step the distribution over buckets 0..=max bucket, and the
/// actual value reported for each bucket (unseen buckets report the current input value).
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierOutput {
    pub actual_values: Vec<f64>,
    pub probabilities: Vec<(u32, Vec<f64>)>,
}

/// NuPIC's SDRClassifier with sparse weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SdrClassifier {
    steps: Vec<u32>,
    alpha: f64,
    act_value_alpha: f64,
    max_steps: usize,
    /// (record number, active inputs) of the last `max_steps` records.
    history: VecDeque<(u64, Vec<u32>)>,
    max_bucket: u32,
    /// Per step (same order as `steps`).
    weights: Vec<Weights>,
    /// Running actual value per bucket; `None` = bucket never seen.
    actual_values: Vec<Option<f64>>,
}

impl SdrClassifier {
    /// `steps`: prediction horizons (non-empty, e.g. `[1]`); `alpha`: learning rate;
    /// `act_value_alpha`: smoothing of the per-bucket actual values (NuPIC default 0.3).
    pub fn new(steps: Vec<u32>, alpha: f64, act_value_alpha: f64) -> Result<Self, String> {
        let mut steps = steps;
        steps.sort_unstable();
        steps.dedup();
        if steps.is_empty() {
            return Err("the classifier needs at least one prediction step".into());
        }
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(format!("alpha must be a positive number, got {alpha}"));
        }
        if !(act_value_alpha.is_finite() && (0.0..=1.0).contains(&act_value_alpha)) {
            return Err(format!("act_value_alpha must be within [0, 1], got {act_value_alpha}"));
        }
        let max_steps = *steps.last().unwrap() as usize + 1;
        Ok(SdrClassifier {
            weights: vec![Weights::default(); steps.len()],
            steps,
            alpha,
            act_value_alpha,
            max_steps,
            history: VecDeque::new(),
            max_bucket: 0,
            actual_values: vec![None],
        })
    }

    /// The prediction steps, ascending.
    pub fn steps(&self) -> &[u32] {
        &self.steps
    }

    /// One record: `active_inputs` (e.g. active cells), the record's bucket and value. Infers first
    /// (from what was learned before this record), then learns. Returns the inference when `infer`.
    /// Record numbers must not decrease.
    pub fn compute(
        &mut self,
        record_num: u64,
        active_inputs: &[u32],
        bucket_idx: u32,
        act_value: f64,
        learn: bool,
        infer: bool,
    ) -> Result<Option<ClassifierOutput>, String> {
        if let Some(&(last, _)) = self.history.back() {
            if record_num < last {
                return Err(format!("record number {record_num} is lower than the previous one ({last})"));
            }
        }
        if !act_value.is_finite() {
            return Err(format!("actual value must be finite, got {act_value}"));
        }
        if self.history.back().map_or(true, |&(last, _)| record_num > last) {
            self.history.push_back((record_num, active_inputs.to_vec()));
            if self.history.len() > self.max_steps {
                self.history.pop_front();
            }
        }

        let output = if infer { Some(self.infer(active_inputs, act_value)) } else { None };

        if learn {
            if bucket_idx > self.max_bucket {
                self.max_bucket = bucket_idx;
            }
            let n = self.max_bucket as usize + 1;
            if self.actual_values.len() < n {
                self.actual_values.resize(n, None);
            }
            let slot = &mut self.actual_values[bucket_idx as usize];
            *slot = Some(match *slot {
                None => act_value,
                Some(old) => (1.0 - self.act_value_alpha) * old + self.act_value_alpha * act_value,
            });

            let mut scores = Vec::new();
            let mut error = Vec::new();
            let mut significant = Vec::new();
            for h in 0..self.history.len() {
                let age = record_num - self.history[h].0;
                let Ok(k) = self.steps.binary_search(&(age.min(u32::MAX as u64) as u32)) else { continue };
                let pattern = &self.history[h].1;
                self.weights[k].scores(pattern, n, &mut scores);
                softmax(&mut scores);
                // error = target - prediction (one-hot target on this record's bucket)
                error.clear();
                error.extend(scores.iter().map(|p| -p));
                error[bucket_idx as usize] += 1.0;
                significant.clear();
                significant.extend(
                    (0..n as u32).filter(|&b| (self.alpha * error[b as usize]).abs() > WEIGHT_EPSILON),
                );
                let pattern = pattern.clone();
                for &bit in &pattern {
                    self.weights[k].update_row(bit, self.alpha, &error, &significant);
                }
            }
        }
        Ok(output)
    }

    fn infer(&self, active_inputs: &[u32], act_value: f64) -> ClassifierOutput {
        let default = if self.steps[0] == 0 { 0.0 } else { act_value };
        let actual_values = self.actual_values.iter().map(|v| v.unwrap_or(default)).collect();
        let n = self.max_bucket as usize + 1;
        let probabilities = self
            .steps
            .iter()
            .zip(&self.weights)
            .map(|(&step, w)| {
                let mut scores = Vec::new();
                w.scores(active_inputs, n, &mut scores);
                softmax(&mut scores);
                (step, scores)
            })
            .collect();
        ClassifierOutput { actual_values, probabilities }
    }

    /// Number of stored (input, bucket) weights over all steps.
    pub fn num_weights(&self) -> usize {
        self.weights.iter().map(Weights::entries).sum()
    }

    /// Approximate heap bytes held by the weights, history and actual values.
    pub fn memory_bytes(&self) -> usize {
        let weights: usize = self
            .weights
            .iter()
            .map(|w| {
                w.index.capacity() * 4
                    + w.rows.capacity() * std::mem::size_of::<Row>()
                    + w.rows.iter().map(|r| r.buckets.capacity() * 4 + r.weights.capacity() * 8).sum::<usize>()
            })
            .sum();
        let history: usize = self.history.iter().map(|(_, p)| p.capacity() * 4 + 32).sum();
        weights + history + self.actual_values.capacity() * 16
    }
}

/// In-place softmax: subtract the maximum, exponentiate, divide by the (sequential) sum.
fn softmax(x: &mut [f64]) {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for v in x.iter_mut() {
        *v = (*v - max).exp();
    }
    let sum: f64 = x.iter().sum();
    for v in x.iter_mut() {
        *v /= sum;
    }
}

/// OPF post-processing of one step's output (spec 2.12): probabilities of equal actual values are
/// summed (in bucket order); the best value is the one whose running sum first reached the highest
/// total; entries below 0.0001 are dropped unless that would leave none; at most the 8 most likely
/// are kept, sorted by probability descending, then value ascending.
pub fn opf_predictions(actual_values: &[f64], probabilities: &[f64]) -> (f64, Vec<(f64, f64)>) {
    let mut sums: Vec<(f64, f64)> = Vec::new();
    let mut best: Option<(f64, f64)> = None;
    for (&value, &p) in actual_values.iter().zip(probabilities) {
        let total = match sums.iter_mut().find(|(v, _)| *v == value) {
            Some(entry) => {
                entry.1 += p;
                entry.1
            }
            None => {
                sums.push((value, p));
                p
            }
        };
        if best.map_or(true, |(_, bp)| total > bp) {
            best = Some((value, total));
        }
    }
    let Some((best_value, _)) = best else { return (f64::NAN, Vec::new()) };
    let mut kept: Vec<(f64, f64)> = sums.iter().copied().filter(|&(_, p)| p >= MIN_LIKELIHOOD).collect();
    if kept.is_empty() {
        let top = sums.iter().copied().fold(sums[0], |a, b| if b.1 > a.1 { b } else { a });
        kept.push(top);
    }
    kept.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.total_cmp(&b.0)));
    kept.truncate(MAX_PREDICTIONS);
    (best_value, kept)
}
