//! SDR classifier (NuPIC's SDRClassifier, C++ flavour: float64 weights, softmax, a running actual
//! value per bucket; spec/htm.md 3.9) with compact weights, plus the OPF post-processing of its
//! output (spec 2.12).
//!
//! NuPIC keeps a dense (max input + 1) x (max bucket + 1) float64 matrix per step and, after every
//! row update, zeroes weights with |w| <= 1e-6 (float32 epsilon). Two facts make that compact
//! without changing a single bit of the arithmetic:
//! - only input bits that were part of a learned pattern have non-zero rows, and a row only holds
//!   the entries that survive the epsilon rule;
//! - buckets that have never been a learning target and entered the matrix together (zero-padded by
//!   the same growth step) receive identical updates, so their columns stay identical. They share
//!   one column ("slot") until a bucket becomes a target, when it gets its own copy, or until
//!   nupic.core's softmax gives them different probabilities (see `bucket_probabilities`: buckets
//!   after the maximum are not shifted), when the slot is split there;
//! - likewise, inputs that have always been active together hold equal rows (the cells of a bursting
//!   column), so they share one row until their activity differs (see `Weights`).
//!
//! Sums over buckets (softmax normalisation) still run over every bucket in bucket order, so the
//! results equal the dense computation exactly, including the predictions of NuPIC 1.0.5's OPF.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

use crate::paged::Paged;

/// nupic::Epsilon (float32 1e-6 widened to double): row entries at or below it are zeroed.
const WEIGHT_EPSILON: f64 = 9.999_999_974_752_427e-7;
/// OPF drops predictions below this probability (never leaving none).
const MIN_LIKELIHOOD: f64 = 0.0001;
/// OPF keeps at most this many predictions per step.
const MAX_PREDICTIONS: usize = 8;
/// Largest bucket index accepted (slot ids are 16-bit; a slot exists per bucket at most twice).
const MAX_BUCKET: u32 = 32_000;

/// Non-zero weights of one input bit, sorted by slot.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Row {
    slots: Vec<u16>,
    weights: Vec<f64>,
}

impl Row {
    /// Whether the row holds exactly slots 0..len (the usual case once a row is established), so its
    /// weights line up with a per-slot array and loops over them need no indirection.
    fn is_dense(&self) -> bool {
        self.slots.last().is_some_and(|&last| last as usize + 1 == self.slots.len())
    }
}

/// A row and the number of inputs that hold it.
#[derive(Clone, Debug, Default)]
struct SharedRow {
    row: Row,
    holders: u32,
}

/// The weight matrix of one prediction step.
///
/// Inputs whose rows are equal share one row. They are many: the cells of a column that bursts are active
/// together and get the same updates, so a young model's thousands of cells hold a few hundred distinct
/// rows. Every input active in a record is updated, so a shared row is updated once when all its holders
/// are active, and the active ones get a new row of their own otherwise. The arithmetic per row is the
/// unshared one. Saved as one row per input (`WeightsData`), in the order inputs first got a row.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "WeightsData", into = "WeightsData")]
struct Weights {
    /// Per input: 1 + position of the input's row in `rows`, 0 = no row (all zero). Paged: a young
    /// model's active cells lie in a few hundred columns, and a dense table over all 65,536 cells
    /// would be 256 KB.
    index: Paged<u32>,
    rows: Vec<SharedRow>,
    /// Inputs in the order they first got a row.
    order: Vec<u32>,
}

/// The saved form of `Weights`: `index[input]` = 1 + position of the input's own row in `rows`.
#[derive(Serialize, Deserialize)]
struct WeightsData {
    index: Vec<u32>,
    rows: Vec<Row>,
}

impl From<Weights> for WeightsData {
    fn from(w: Weights) -> Self {
        let mut index = vec![0u32; w.index.len()];
        let mut rows = Vec::with_capacity(w.order.len());
        for &input in &w.order {
            rows.push(w.rows[w.index.get(input as usize) as usize - 1].row.clone());
            index[input as usize] = rows.len() as u32;
        }
        WeightsData { index, rows }
    }
}

impl TryFrom<WeightsData> for Weights {
    type Error = String;

    /// Rebuilds the sharing: inputs with equal rows share one.
    fn try_from(data: WeightsData) -> Result<Self, String> {
        let mut order = vec![u32::MAX; data.rows.len()];
        for (input, &i) in data.index.iter().enumerate().filter(|(_, &i)| i > 0) {
            match order.get_mut(i as usize - 1) {
                Some(slot) if *slot == u32::MAX => *slot = input as u32,
                _ => return Err("the classifier's weight index does not match its rows".into()),
            }
        }
        if order.contains(&u32::MAX) {
            return Err("the classifier's weight index does not match its rows".into());
        }
        let mut w = Weights { index: Paged::with_len(data.index.len()), rows: Vec::new(), order };
        let mut by_content: HashMap<(&[u16], Vec<u64>), u32> = HashMap::new();
        for (k, row) in data.rows.iter().enumerate() {
            let key = (row.slots.as_slice(), row.weights.iter().map(|x| x.to_bits()).collect());
            let id = *by_content.entry(key).or_insert_with(|| {
                w.rows.push(SharedRow { row: row.clone(), holders: 0 });
                w.rows.len() as u32 - 1
            });
            w.rows[id as usize].holders += 1;
            w.index.set(w.order[k] as usize, id + 1);
        }
        Ok(w)
    }
}

impl Weights {
    fn shared_row(&self, input: u32) -> Option<&SharedRow> {
        match self.index.get(input as usize) {
            0 => None,
            i => Some(&self.rows[i as usize - 1]),
        }
    }

    fn row(&self, input: u32) -> Option<&Row> {
        self.shared_row(input).map(|shared| &shared.row)
    }

    /// Applies one record's update to the row of every input in `pattern` (see `row_of_group`).
    fn update_rows(&mut self, pattern: &[u32], update: &RowUpdate, groups: &mut Vec<(u32, u32)>, scratch: &mut Row) {
        // Inputs seen for the first time get their row now, in pattern order (the saved order).
        for &input in pattern {
            if self.index.get(input as usize) == 0 {
                self.index.set(input as usize, u32::MAX);
                self.order.push(input);
            }
        }
        if !pattern.windows(2).all(|w| w[0] < w[1]) {
            // Not a TM's ascending output, maybe with repeats (an input listed twice is updated twice): one
            // input at a time, each on a row of its own.
            for &input in pattern {
                let id = self.row_of_group(self.index.get(input as usize), 1, [input]);
                update.apply(&mut self.rows[id].row, scratch);
            }
            return;
        }
        // Group the inputs by the row they hold (new inputs together, keyed u32::MAX). A row's holders are
        // mostly adjacent in the pattern (the cells of a bursting column): a run of them that is all of its
        // holders is updated at once, the others are sorted into groups.
        groups.clear();
        for run in pattern.chunk_by(|&a, &b| self.index.get(a as usize) == self.index.get(b as usize)) {
            let held = self.index.get(run[0] as usize);
            if held != u32::MAX && self.rows[held as usize - 1].holders as usize == run.len() {
                update.apply(&mut self.rows[held as usize - 1].row, scratch);
            } else {
                groups.extend(run.iter().map(|&input| (held, input)));
            }
        }
        groups.sort_unstable();
        for group in groups.chunk_by(|a, b| a.0 == b.0) {
            let id = self.row_of_group(group[0].0, group.len() as u32, group.iter().map(|g| g.1));
            update.apply(&mut self.rows[id].row, scratch);
        }
    }

    /// The row that `n` inputs, all holding `held` (u32::MAX: no row yet), may update without touching other
    /// inputs, as a position in `rows`: `held` itself when they are all its holders, else a copy of it (an
    /// empty row for new inputs) that they hold from now on.
    fn row_of_group(&mut self, held: u32, n: u32, inputs: impl IntoIterator<Item = u32>) -> usize {
        if held != u32::MAX && self.rows[held as usize - 1].holders == n {
            return held as usize - 1;
        }
        let row = if held == u32::MAX {
            Row::default()
        } else {
            let shared = &mut self.rows[held as usize - 1];
            shared.holders -= n;
            shared.row.clone()
        };
        self.rows.push(SharedRow { row, holders: n });
        for input in inputs {
            self.index.set(input as usize, self.rows.len() as u32);
        }
        self.rows.len() - 1
    }

    /// Per-slot scores: the sum of the pattern's weights, in pattern order.
    ///
    /// Dense rows are added four at a time (`add_rows`), which keeps each slot's additions in pattern order.
    /// A record's rows are scattered over the heap and mostly not in cache, and each takes two dependent
    /// reads (the row's header, then its data): the loop asks for the header `2 * AHEAD` inputs ahead and
    /// for the data `AHEAD` inputs ahead, so those reads overlap instead of following one another.
    fn scores(&self, pattern: &[u32], num_slots: usize, out: &mut Vec<f64>) {
        const AHEAD: usize = 4;
        out.clear();
        out.resize(num_slots, 0.0);
        let mut block: [&[f64]; 4] = [&[]; 4];
        let mut n = 0;
        for (k, &bit) in pattern.iter().enumerate() {
            if let Some(shared) = pattern.get(k + 2 * AHEAD).and_then(|&b| self.shared_row(b)) {
                prefetch(shared);
            }
            if let Some(row) = pattern.get(k + AHEAD).and_then(|&b| self.row(b)) {
                prefetch(row.slots.as_ptr_range().end.wrapping_sub(1));
                prefetch(row.weights.as_ptr());
            }
            let Some(row) = self.row(bit) else { continue };
            if row.is_dense() {
                block[n] = &row.weights;
                n += 1;
                if n == block.len() {
                    add_rows(out, &block);
                    n = 0;
                }
            } else {
                add_rows(out, &block[..n]);
                n = 0;
                for (&s, &w) in row.slots.iter().zip(&row.weights) {
                    out[s as usize] += w;
                }
            }
        }
        add_rows(out, &block[..n]);
    }

    /// Gives `new_slot` a copy of `from`'s weight in every row (new_slot is the highest slot id).
    fn copy_slot(&mut self, from: u16, new_slot: u16) {
        for row in self.rows.iter_mut().map(|r| &mut r.row) {
            if let Ok(pos) = row.slots.binary_search(&from) {
                let w = row.weights[pos];
                row.slots.push(new_slot);
                row.weights.push(w);
            }
        }
    }

    /// Stored (input, slot) weights, a shared row counted once per holder.
    fn entries(&self) -> usize {
        self.rows.iter().map(|r| r.row.slots.len() * r.holders as usize).sum()
    }

    fn heap_bytes(&self) -> usize {
        self.index.heap_bytes()
            + self.order.capacity() * 4
            + self.rows.capacity() * std::mem::size_of::<SharedRow>()
            + self.rows.iter().map(|r| r.row.slots.capacity() * 2 + r.row.weights.capacity() * 8).sum::<usize>()
    }
}

/// One record's update of the rows of one step's weights.
struct RowUpdate<'a> {
    alpha: f64,
    /// Per slot: target - probability.
    error: &'a [f64],
    /// Ascending, the slots whose update alone exceeds epsilon.
    significant: &'a [u16],
}

impl RowUpdate<'_> {
    /// w += alpha * error for every slot of the row (the dense update), then drop |w| <= epsilon.
    /// `significant` lists, ascending, the slots whose update alone exceeds epsilon.
    fn apply(&self, row: &mut Row, scratch: &mut Row) {
        let RowUpdate { alpha, error, significant } = *self;
        let dense = row.is_dense();
        if (dense && significant.last().is_none_or(|&s| (s as usize) < row.slots.len()))
            || (!dense && is_subset(significant, &row.slots))
        {
            // The usual case once a row is established: no new entries, update in place.
            let mut small = false;
            if dense {
                for (w, &e) in row.weights.iter_mut().zip(error) {
                    *w = 1.0 * *w + alpha * e;
                    small |= w.abs() <= WEIGHT_EPSILON;
                }
            } else {
                for (w, &s) in row.weights.iter_mut().zip(&row.slots) {
                    *w = 1.0 * *w + alpha * error[s as usize];
                    small |= w.abs() <= WEIGHT_EPSILON;
                }
            }
            if small {
                let mut kept = 0;
                for i in 0..row.slots.len() {
                    if row.weights[i].abs() > WEIGHT_EPSILON {
                        row.slots[kept] = row.slots[i];
                        row.weights[kept] = row.weights[i];
                        kept += 1;
                    }
                }
                row.slots.truncate(kept);
                row.weights.truncate(kept);
            }
            return;
        }
        scratch.slots.clear();
        scratch.weights.clear();
        let (mut i, mut j) = (0, 0);
        while i < row.slots.len() || j < significant.len() {
            let (s, old) = if j == significant.len() || (i < row.slots.len() && row.slots[i] < significant[j]) {
                i += 1;
                (row.slots[i - 1], row.weights[i - 1])
            } else if i == row.slots.len() || significant[j] < row.slots[i] {
                j += 1;
                (significant[j - 1], 0.0)
            } else {
                i += 1;
                j += 1;
                (row.slots[i - 1], row.weights[i - 1])
            };
            let w = 1.0 * old + alpha * error[s as usize];
            if w.abs() > WEIGHT_EPSILON {
                scratch.slots.push(s);
                scratch.weights.push(w);
            }
        }
        // Copy back (rather than swap) so each row keeps a capacity close to its own length.
        row.slots.clear();
        row.slots.reserve_exact(scratch.slots.len());
        row.slots.extend_from_slice(&scratch.slots);
        row.weights.clear();
        row.weights.reserve_exact(scratch.weights.len());
        row.weights.extend_from_slice(&scratch.weights);
    }
}

/// `out[j] += row[j]` for each row in turn (rows no longer than `out`). Four rows go through each slot
/// together, so `out` is read and written once for them; the additions to each slot keep the row order.
fn add_rows(out: &mut [f64], rows: &[&[f64]]) {
    if let [a, b, c, d] = rows {
        let m = a.len().min(b.len()).min(c.len()).min(d.len());
        let (a, b, c, d) = (&a[..m], &b[..m], &c[..m], &d[..m]);
        for (j, o) in out[..m].iter_mut().enumerate() {
            *o = *o + a[j] + b[j] + c[j] + d[j];
        }
        for row in rows {
            for (o, &w) in out[m..].iter_mut().zip(&row[m..]) {
                *o += w;
            }
        }
    } else {
        for row in rows {
            for (o, &w) in out.iter_mut().zip(*row) {
                *o += w;
            }
        }
    }
}

/// Asks the CPU to start loading the cache line at `p` (a hint: no effect on results, none off x86-64).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and does not dereference for the program; any address is allowed.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Whether every element of the ascending `small` is in the ascending `large`.
fn is_subset(small: &[u16], large: &[u16]) -> bool {
    if small.len() > large.len() {
        return false;
    }
    let mut rest = large.iter();
    small.iter().all(|s| rest.any(|l| l == s))
}

/// The raw result of one inference: per step the distribution over buckets 0..=max bucket, and the
/// actual value reported for each bucket (unseen buckets report the current input value, or 0 when
/// the first step is 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierOutput {
    pub actual_values: Vec<f64>,
    pub probabilities: Vec<(u32, Vec<f64>)>,
}

/// NuPIC's SDRClassifier with compact weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SdrClassifier {
    steps: Vec<u32>,
    alpha: f64,
    act_value_alpha: f64,
    max_steps: usize,
    /// (record number, active inputs) of the last `max_steps` records.
    history: VecDeque<(u64, Vec<u32>)>,
    /// Slot (shared weight column) of every bucket 0..=max bucket.
    bucket_slot: Vec<u16>,
    /// Number of buckets per slot.
    slot_members: Vec<u32>,
    /// Per step (same order as `steps`).
    weights: Vec<Weights>,
    /// Running actual value per bucket; `None` = bucket never a learning target.
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
            bucket_slot: vec![0],
            slot_members: vec![1],
            actual_values: vec![None],
        })
    }

    /// The prediction steps, ascending.
    pub fn steps(&self) -> &[u32] {
        &self.steps
    }

    fn num_buckets(&self) -> usize {
        self.bucket_slot.len()
    }

    /// Grows the bucket range to include `bucket`: the new buckets share one fresh, all-zero slot.
    fn grow_buckets(&mut self, bucket: u32) {
        let n = bucket as usize + 1;
        if n <= self.num_buckets() {
            return;
        }
        let slot = self.slot_members.len() as u16;
        self.slot_members.push((n - self.num_buckets()) as u32);
        self.bucket_slot.resize(n, slot);
        self.actual_values.resize(n, None);
    }

    /// Gives `bucket` a slot of its own (a copy of its shared column) before it becomes a target.
    fn separate_bucket(&mut self, bucket: u32) {
        let slot = self.bucket_slot[bucket as usize];
        if self.slot_members[slot as usize] == 1 {
            return;
        }
        let new_slot = self.slot_members.len() as u16;
        self.slot_members[slot as usize] -= 1;
        self.slot_members.push(1);
        self.bucket_slot[bucket as usize] = new_slot;
        for w in &mut self.weights {
            w.copy_slot(slot, new_slot);
        }
    }

    /// The probability of every bucket 0..=max bucket from the slots' scores, as nupic.core 1.0.6's
    /// softmax computes it (spec 3.9, with its in-place quirk): it subtracts the maximum through a
    /// reference to the array element that holds it, so that element (the first maximum, bucket `m`)
    /// becomes 0 and every bucket after it keeps its unshifted score; then exp, and division by the
    /// sum taken in bucket order. Returns `m`.
    fn bucket_probabilities(&self, slot_scores: &[f64], out: &mut Vec<f64>) -> usize {
        out.clear();
        out.extend(self.bucket_slot.iter().map(|&slot| slot_scores[slot as usize]));
        let mut m = 0;
        for (b, &v) in out.iter().enumerate() {
            if v > out[m] {
                m = b;
            }
        }
        let max = out[m];
        for v in &mut out[..=m] {
            *v -= max;
        }
        let mut sum = 0.0;
        for v in out.iter_mut() {
            *v = v.exp();
            sum += *v;
        }
        for v in out.iter_mut() {
            *v /= sum;
        }
        m
    }

    /// Splits every slot with members on both sides of bucket `m` (members after `m` get a slot of
    /// their own), so that each slot's buckets receive one probability from `bucket_probabilities`.
    fn split_slots_at(&mut self, m: usize) {
        let mut reaches_m = vec![false; self.slot_members.len()];
        for &slot in &self.bucket_slot[..=m] {
            reaches_m[slot as usize] = true;
        }
        let mut moved_to: Vec<Option<u16>> = vec![None; self.slot_members.len()];
        for b in m + 1..self.num_buckets() {
            let slot = self.bucket_slot[b] as usize;
            if !reaches_m[slot] {
                continue;
            }
            let new_slot = *moved_to[slot].get_or_insert_with(|| {
                let new_slot = self.slot_members.len() as u16;
                self.slot_members.push(0);
                for w in &mut self.weights {
                    w.copy_slot(slot as u16, new_slot);
                }
                new_slot
            });
            self.slot_members[slot] -= 1;
            self.slot_members[new_slot as usize] += 1;
            self.bucket_slot[b] = new_slot;
        }
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
        if bucket_idx > MAX_BUCKET {
            return Err(format!("bucket index {bucket_idx} exceeds the supported maximum {MAX_BUCKET}"));
        }
        if self.history.back().is_none_or(|&(last, _)| record_num > last) {
            self.history.push_back((record_num, active_inputs.to_vec()));
            if self.history.len() > self.max_steps {
                self.history.pop_front();
            }
        }

        let output = if infer { Some(self.infer(active_inputs, act_value)) } else { None };

        if learn {
            self.grow_buckets(bucket_idx);
            self.separate_bucket(bucket_idx);
            let slot = &mut self.actual_values[bucket_idx as usize];
            *slot = Some(match *slot {
                None => act_value,
                Some(old) => (1.0 - self.act_value_alpha) * old + self.act_value_alpha * act_value,
            });
            let mut scores = Vec::new();
            let mut probabilities = Vec::new();
            let mut error = Vec::new();
            let mut significant = Vec::new();
            let mut scratch = Row::default();
            let mut groups = Vec::new();
            for h in 0..self.history.len() {
                let age = record_num - self.history[h].0;
                let Ok(k) = self.steps.binary_search(&(age.min(u32::MAX as u64) as u32)) else { continue };
                let pattern = std::mem::take(&mut self.history[h].1);
                // error = target - prediction, one-hot target on this record's bucket
                self.weights[k].scores(&pattern, self.slot_members.len(), &mut scores);
                let m = self.bucket_probabilities(&scores, &mut probabilities);
                if scores[self.bucket_slot[m] as usize] != 0.0 {
                    self.split_slots_at(m); // the buckets after m got other probabilities than their slot-mates
                }
                let num_slots = self.slot_members.len();
                error.clear();
                error.resize(num_slots, 0.0);
                for (&slot, &p) in self.bucket_slot.iter().zip(&probabilities) {
                    error[slot as usize] = -p;
                }
                error[self.bucket_slot[bucket_idx as usize] as usize] += 1.0;
                significant.clear();
                significant.extend((0..num_slots as u16).filter(|&s| {
                    self.slot_members[s as usize] > 0 && (self.alpha * error[s as usize]).abs() > WEIGHT_EPSILON
                }));
                let update = RowUpdate { alpha: self.alpha, error: &error, significant: &significant };
                self.weights[k].update_rows(&pattern, &update, &mut groups, &mut scratch);
                self.history[h].1 = pattern;
            }
        }
        Ok(output)
    }

    fn infer(&self, active_inputs: &[u32], act_value: f64) -> ClassifierOutput {
        let default = if self.steps[0] == 0 { 0.0 } else { act_value };
        let actual_values = self.actual_values.iter().map(|v| v.unwrap_or(default)).collect();
        let mut scores = Vec::new();
        let probabilities = self
            .steps
            .iter()
            .zip(&self.weights)
            .map(|(&step, w)| {
                w.scores(active_inputs, self.slot_members.len(), &mut scores);
                let mut p = Vec::with_capacity(self.num_buckets());
                self.bucket_probabilities(&scores, &mut p);
                (step, p)
            })
            .collect();
        ClassifierOutput { actual_values, probabilities }
    }

    /// Number of stored (input, slot) weights over all steps.
    pub fn num_weights(&self) -> usize {
        self.weights.iter().map(Weights::entries).sum()
    }

    /// Approximate heap bytes held by the weights, history and per-bucket tables.
    pub fn memory_bytes(&self) -> usize {
        let weights: usize = self.weights.iter().map(Weights::heap_bytes).sum();
        let history: usize = self.history.iter().map(|(_, p)| p.capacity() * 4 + 32).sum();
        weights
            + history
            + self.actual_values.capacity() * 16
            + self.bucket_slot.capacity() * 4
            + self.slot_members.capacity() * 4
    }
}

/// The learning rate NuPIC's OPF classifier region really uses for a configured `alpha`: region
/// parameters reach the region through the network engine as text with 6 significant digits, so
/// NAB's 0.035828933612158 becomes 0.0358289 (the golden trace follows the latter).
pub fn opf_region_alpha(alpha: f64) -> f64 {
    format!("{alpha:.5e}").parse().unwrap_or(alpha)
}

/// OPF post-processing of one step's output (spec 2.12): probabilities of equal actual values are
/// summed (in bucket order); the best value is the one whose running sum first reached the highest
/// total; entries below 0.0001 are dropped unless that would leave none; at most the 8 most likely
/// are kept, sorted by probability descending, then value ascending. Empty input gives (NaN, []).
pub fn opf_predictions(actual_values: &[f64], probabilities: &[f64]) -> (f64, Vec<(f64, f64)>) {
    let mut sums: Vec<(f64, f64)> = Vec::new();
    let mut best: Option<(f64, f64)> = None;
    let mut last = usize::MAX; // runs of equal values (unseen buckets) hit the previous entry
    for (&value, &p) in actual_values.iter().zip(probabilities) {
        let pos = if last != usize::MAX && sums[last].0 == value {
            Some(last)
        } else {
            sums.iter().position(|(v, _)| *v == value)
        };
        let total = match pos {
            Some(i) => {
                last = i;
                sums[i].1 += p;
                sums[i].1
            }
            None => {
                last = sums.len();
                sums.push((value, p));
                p
            }
        };
        if best.is_none_or(|(_, bp)| total > bp) {
            best = Some((value, total));
        }
    }
    let Some((best_value, _)) = best else { return (f64::NAN, Vec::new()) };
    let mut kept: Vec<(f64, f64)> = sums.iter().copied().filter(|&(_, p)| p >= MIN_LIKELIHOOD).collect();
    if kept.is_empty() {
        let top = sums.iter().copied().fold(sums[0], |a, b| if b.1 > a.1 { b } else { a });
        kept.push(top);
    }
    // Values are distinct (equal ones were summed), so this order is strict and any selection method
    // finds the same top entries.
    let order = |a: &(f64, f64), b: &(f64, f64)| b.1.total_cmp(&a.1).then(a.0.total_cmp(&b.0));
    if kept.len() > MAX_PREDICTIONS {
        kept.select_nth_unstable_by(MAX_PREDICTIONS - 1, order);
        kept.truncate(MAX_PREDICTIONS);
    }
    kept.sort_unstable_by(order);
    (best_value, kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_alpha_keeps_six_significant_digits() {
        assert_eq!(opf_region_alpha(0.035828933612158), 0.0358289);
        assert_eq!(opf_region_alpha(0.001), 0.001);
        assert_eq!(opf_region_alpha(0.12345649), 0.123456);
    }

    /// NuPIC's own "compute complex" classifier check (same inputs, probabilities to 1e-6).
    #[test]
    fn matches_nupic_compute_complex_example() {
        let mut c = SdrClassifier::new(vec![1], 1.0, 0.1).unwrap();
        let a = [1u32, 5, 9];
        c.compute(0, &a, 4, 34.7, true, true).unwrap();
        c.compute(1, &[0, 6, 9, 11], 5, 41.7, true, true).unwrap();
        c.compute(2, &[6, 9], 5, 44.9, true, true).unwrap();
        c.compute(3, &a, 4, 42.9, true, true).unwrap();
        let out = c.compute(4, &a, 4, 34.7, true, true).unwrap().unwrap();
        let p = &out.probabilities[0].1;
        let expected = [0.034234, 0.034234, 0.034234, 0.034234, 0.093058, 0.770004];
        assert_eq!(p.len(), 6);
        for (got, want) in p.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{p:?}");
        }
        assert!((out.actual_values[4] - 35.52).abs() < 1e-9);
        assert!((out.actual_values[5] - 42.02).abs() < 1e-9);
    }

    /// Inputs active together share a row until their activity differs; the saved form has one row per
    /// input, loading shares equal rows again, and the loaded classifier continues identically.
    #[test]
    fn rows_are_shared_split_and_saved_per_input() {
        let mut c = SdrClassifier::new(vec![1], 0.1, 0.3).unwrap();
        let column = |k: u32| -> Vec<u32> { (k * 8..k * 8 + 8).collect() };
        for t in 0..30u64 {
            let bucket = (t % 5) as u32;
            c.compute(t, &[column(t as u32 % 3), column(3)].concat(), bucket, bucket as f64, true, false).unwrap();
        }
        let w = &c.weights[0];
        assert_eq!(w.order.len(), 32, "32 inputs have rows");
        assert_eq!(w.rows.len(), 4, "each column's 8 inputs share one row");
        // One input of column 0 and one listed twice leave their column's row: they are updated alone.
        c.compute(30, &[0, 9, 9], 2, 2.0, true, false).unwrap();
        c.compute(31, &[], 1, 1.0, true, false).unwrap(); // learns record 30's pattern
        let w = &c.weights[0];
        assert_eq!(w.rows.iter().map(|r| r.holders).sum::<u32>(), 32);
        assert_eq!((w.index.get(0) != w.index.get(1), w.index.get(9) != w.index.get(10)), (true, true));
        assert_eq!(c.num_weights(), w.order.iter().map(|&i| c.weights[0].row(i).unwrap().slots.len()).sum());

        let blob = bincode::serialize(&c).unwrap();
        let saved: WeightsData = c.weights[0].clone().into();
        assert_eq!(saved.rows.len(), 32, "saved with a row per input");
        let mut back: SdrClassifier = bincode::deserialize(&blob).unwrap();
        assert!(back.weights[0].rows.len() < 32, "equal rows are shared again on load");
        assert_eq!(bincode::serialize(&back).unwrap(), blob);
        for t in 32..60u64 {
            let pattern = [column(t as u32 % 4), vec![1, 2]].concat();
            let a = c.compute(t, &pattern, (t % 7) as u32, t as f64, true, true).unwrap();
            let b = back.compute(t, &pattern, (t % 7) as u32, t as f64, true, true).unwrap();
            assert_eq!(a, b, "record {t}");
        }
    }
}
