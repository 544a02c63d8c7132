//! Backtracking temporal memory: NuPIC's BacktrackingTMCPP / nupic.core Cells4, the sequence memory
//! of NAB's `numenta` detector (spec/htm.md 2.5, 3.5). Two state sets run side by side: the inference
//! state (which gives the column confidences behind the raw anomaly score) and the learning state
//! (which grows and adapts segments). Both backtrack over recent inputs to re-lock onto a sequence.

mod checkpoint;
mod chunked;
mod connections;
mod forward;
mod learning;
mod permanence;
mod synapse_pool;

use std::cell::Cell;
use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::rng::Random;
use connections::{Activity, AdaptScratch, CellMarks, Connections, Plasticity, MAX_CELLS};
use learning::UpdateQueue;

/// Constructor arguments of BacktrackingTMCPP (the ones that matter with pooling off).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktrackingTmParams {
    pub number_of_cols: u32,
    pub cells_per_column: u32,
    pub activation_threshold: u32,
    pub min_threshold: u32,
    pub new_synapse_count: u32,
    pub initial_perm: f32,
    pub connected_perm: f32,
    pub permanence_inc: f32,
    pub permanence_dec: f32,
    pub permanence_max: f32,
    pub global_decay: f32,
    pub max_age: u32,
    pub max_segments_per_cell: u32,
    pub max_synapses_per_segment: u32,
    pub pam_length: u32,
    pub max_inf_backtrack: u32,
    pub max_lrn_backtrack: u32,
    pub max_seq_length: u32,
    pub seed: u64,
}

impl BacktrackingTmParams {
    /// The configuration of NAB's `numenta` detector (spec/htm.md 2.5).
    pub fn nab() -> Self {
        BacktrackingTmParams {
            number_of_cols: 2048,
            cells_per_column: 32,
            activation_threshold: 13,
            min_threshold: 10,
            new_synapse_count: 20,
            initial_perm: 0.21,
            connected_perm: 0.5,
            permanence_inc: 0.1,
            permanence_dec: 0.1,
            permanence_max: 1.0,
            global_decay: 0.0,
            max_age: 0,
            max_segments_per_cell: 128,
            max_synapses_per_segment: 32,
            pam_length: 3,
            max_inf_backtrack: 10,
            max_lrn_backtrack: 5,
            max_seq_length: 32,
            seed: 1960,
        }
    }

    fn validate(&self) -> Result<(), String> {
        let n_cells = self.number_of_cols as u64 * self.cells_per_column as u64;
        if self.number_of_cols == 0 {
            return Err("number_of_cols must be > 0".into());
        }
        if self.cells_per_column < 2 {
            return Err("cells_per_column must be >= 2 (cell 0 of each column is the start cell)".into());
        }
        if n_cells > MAX_CELLS as u64 {
            return Err(format!(
                "number_of_cols * cells_per_column = {n_cells} exceeds the supported {MAX_CELLS} cells \
                 (synapse sources are stored as 16-bit cell indexes)"
            ));
        }
        if self.activation_threshold == 0 || self.min_threshold == 0 {
            return Err("activation_threshold and min_threshold must be >= 1".into());
        }
        if self.global_decay != 0.0 {
            return Err("global_decay != 0 is not supported (fixed-size mode needs global_decay = 0)".into());
        }
        if self.max_age != 0 {
            return Err("max_age != 0 is not supported (fixed-size mode needs max_age = 0)".into());
        }
        if !(1..=128).contains(&self.max_segments_per_cell) {
            return Err("max_segments_per_cell must be in 1..=128 (unlimited segments are not supported)".into());
        }
        if !(1..=255).contains(&self.max_synapses_per_segment) {
            return Err("max_synapses_per_segment must be in 1..=255 (unlimited synapses are not supported)".into());
        }
        if self.new_synapse_count > self.max_synapses_per_segment {
            return Err("new_synapse_count must not exceed max_synapses_per_segment".into());
        }
        if self.pam_length == 0 {
            return Err("pam_length must be >= 1".into());
        }
        let perms = [
            ("initial_perm", self.initial_perm),
            ("connected_perm", self.connected_perm),
            ("permanence_inc", self.permanence_inc),
            ("permanence_dec", self.permanence_dec),
            ("permanence_max", self.permanence_max),
        ];
        for (name, v) in perms {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("{name} must be a finite non-negative number, got {v}"));
            }
        }
        if self.permanence_max <= 0.0 {
            return Err("permanence_max must be > 0".into());
        }
        Ok(())
    }
}

/// The backtracking TM. All state is plain data: cloning or a serde round trip continues identically
/// (saved through `SavedTm`, which lists the sources of deferred segment updates, and loaded through
/// `LoadedTm`, which decodes the connections knowing the learning iteration).
#[derive(Clone, Debug)]
pub struct BacktrackingTm {
    params: BacktrackingTmParams,
    rng: Random,
    /// Number of learning steps so far (Cells4 `_nLrnIterations`).
    lrn_iteration: u32,
    avg_input_density: f32,
    pam_counter: u32,
    learned_seq_length: u32,
    conn: Connections,

    // Inference state (sorted cell lists).
    inf_active: Vec<u32>,
    inf_predicted: Vec<u32>,
    inf_predicted_prev: Vec<u32>,
    /// Column confidences of the columns reached in the latest step, ascending by column (a column
    /// can appear with confidence 0 when its duty cycles underflowed).
    col_confidence: Vec<(u32, f32)>,
    inf_history: VecDeque<Vec<u32>>,

    // Learning state (sorted cell lists, at most one cell per column).
    lrn_active: Vec<u32>,
    lrn_active_prev: Vec<u32>,
    lrn_predicted: Vec<u32>,
    lrn_predicted_prev: Vec<u32>,
    lrn_history: VecDeque<Vec<u32>>,
    updates: UpdateQueue,
    /// What the latest learn phase 2 propagation found, for the next step's phase 1 (derived data).
    memo: learning::PropagationMemo,

    /// Working buffers, held only during `compute` (see `SHARED_SCRATCH`); empty otherwise.
    scratch: Scratch,
}

/// The saved form of a `BacktrackingTm`: its fields in order, the update queue with every update's
/// sources listed (the form `UpdateQueue` loads from).
#[derive(Serialize)]
struct SavedTm<'a> {
    params: &'a BacktrackingTmParams,
    rng: &'a Random,
    lrn_iteration: u32,
    avg_input_density: f32,
    pam_counter: u32,
    learned_seq_length: u32,
    conn: checkpoint::ConnectionsToSave<'a>,
    inf_active: &'a Vec<u32>,
    inf_predicted: &'a Vec<u32>,
    inf_predicted_prev: &'a Vec<u32>,
    col_confidence: &'a Vec<(u32, f32)>,
    inf_history: &'a VecDeque<Vec<u32>>,
    lrn_active: &'a Vec<u32>,
    lrn_active_prev: &'a Vec<u32>,
    lrn_predicted: &'a Vec<u32>,
    lrn_predicted_prev: &'a Vec<u32>,
    lrn_history: &'a VecDeque<Vec<u32>>,
    updates: Vec<learning::SegmentUpdate>,
}

/// The loaded form of a `BacktrackingTm` (the fields of `SavedTm`, owned).
#[derive(Deserialize)]
struct LoadedTm {
    params: BacktrackingTmParams,
    rng: Random,
    lrn_iteration: u32,
    avg_input_density: f32,
    pam_counter: u32,
    learned_seq_length: u32,
    conn: checkpoint::LoadedConnections,
    inf_active: Vec<u32>,
    inf_predicted: Vec<u32>,
    inf_predicted_prev: Vec<u32>,
    col_confidence: Vec<(u32, f32)>,
    inf_history: VecDeque<Vec<u32>>,
    lrn_active: Vec<u32>,
    lrn_active_prev: Vec<u32>,
    lrn_predicted: Vec<u32>,
    lrn_predicted_prev: Vec<u32>,
    lrn_history: VecDeque<Vec<u32>>,
    updates: UpdateQueue,
}

impl<'de> Deserialize<'de> for BacktrackingTm {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let t = LoadedTm::deserialize(deserializer)?;
        Ok(BacktrackingTm {
            conn: t.conn.decode(t.lrn_iteration <= connections::COUNTING_END)?,
            params: t.params,
            rng: t.rng,
            lrn_iteration: t.lrn_iteration,
            avg_input_density: t.avg_input_density,
            pam_counter: t.pam_counter,
            learned_seq_length: t.learned_seq_length,
            inf_active: t.inf_active,
            inf_predicted: t.inf_predicted,
            inf_predicted_prev: t.inf_predicted_prev,
            col_confidence: t.col_confidence,
            inf_history: t.inf_history,
            lrn_active: t.lrn_active,
            lrn_active_prev: t.lrn_active_prev,
            lrn_predicted: t.lrn_predicted,
            lrn_predicted_prev: t.lrn_predicted_prev,
            lrn_history: t.lrn_history,
            updates: t.updates,
            memo: learning::PropagationMemo::default(),
            scratch: Scratch::default(),
        })
    }
}

impl Serialize for BacktrackingTm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SavedTm {
            params: &self.params,
            rng: &self.rng,
            lrn_iteration: self.lrn_iteration,
            avg_input_density: self.avg_input_density,
            pam_counter: self.pam_counter,
            learned_seq_length: self.learned_seq_length,
            conn: checkpoint::ConnectionsToSave {
                conn: &self.conn,
                counting: self.lrn_iteration <= connections::COUNTING_END,
            },
            inf_active: &self.inf_active,
            inf_predicted: &self.inf_predicted,
            inf_predicted_prev: &self.inf_predicted_prev,
            col_confidence: &self.col_confidence,
            inf_history: &self.inf_history,
            lrn_active: &self.lrn_active,
            lrn_active_prev: &self.lrn_active_prev,
            lrn_predicted: &self.lrn_predicted,
            lrn_predicted_prev: &self.lrn_predicted_prev,
            lrn_history: &self.lrn_history,
            updates: self.updates.saved(&self.conn, self.n_cells()),
        }
        .serialize(serializer)
    }
}

thread_local! {
    /// The working buffers of every TM computed on this thread. They grow to the busiest step seen
    /// (a bursting step can reach most segments), so one set per model would cost every model that
    /// peak; a UDF server holding thousands of models keeps one set per thread instead.
    static SHARED_SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

/// Reused working buffers; contents never outlive one call (the counters and marks are all clear
/// between calls, which is what lets every TM on a thread share one set).
#[derive(Clone, Debug, Default)]
struct Scratch {
    activity: Activity,
    marks: CellMarks,
    adapt: AdaptScratch,
    /// (segment id, activity) of segments passing a threshold.
    found: Vec<(u32, u8)>,
    /// `(cell << 8 | slot) << 40 | activity << 32 | segment id` of the segments passing the activation
    /// threshold (a cell is below 2^16), and the scratch space of their sort.
    ranked: Vec<u64>,
    ranked_buf: Vec<u64>,
    col_conf: Vec<(u32, f32)>,
    backup_active: Vec<u32>,
    backup_predicted_prev: Vec<u32>,
    cells: Vec<u32>,
    matches: Vec<learning::Match>,
    /// Per column: best match so far (rank 0 = none); only touched columns are non-zero.
    column_best: Vec<(u64, u32)>,
    /// The columns `column_best` holds a match for (clear between calls).
    touched_columns: CellMarks,
    sources: Vec<u32>,
    candidates: Vec<u32>,
    picks: Vec<u32>,
}

impl BacktrackingTm {
    /// A fresh TM; configurations Cells4 would not run in fixed-size mode are rejected.
    pub fn new(params: BacktrackingTmParams) -> Result<Self, String> {
        params.validate()?;
        Ok(BacktrackingTm {
            rng: Random::new(params.seed),
            lrn_iteration: 0,
            avg_input_density: 0.0,
            pam_counter: params.pam_length,
            learned_seq_length: 0,
            conn: Connections::new(params.number_of_cols as usize, params.cells_per_column, &plasticity_of(&params))?,
            inf_active: Vec::new(),
            inf_predicted: Vec::new(),
            inf_predicted_prev: Vec::new(),
            col_confidence: Vec::new(),
            inf_history: VecDeque::new(),
            lrn_active: Vec::new(),
            lrn_active_prev: Vec::new(),
            lrn_predicted: Vec::new(),
            lrn_predicted_prev: Vec::new(),
            lrn_history: VecDeque::new(),
            updates: UpdateQueue::default(),
            memo: learning::PropagationMemo::default(),
            scratch: Scratch::default(),
            params,
        })
    }

    /// The configuration this TM was built with.
    pub fn params(&self) -> &BacktrackingTmParams {
        &self.params
    }

    /// One time step: inference always, learning when `learn` (NuPIC's compute with infer=true).
    /// `active_columns` must be strictly increasing column indices.
    pub fn compute(&mut self, active_columns: &[u32], learn: bool) {
        let n_cols = self.params.number_of_cols;
        assert!(
            active_columns.windows(2).all(|w| w[0] < w[1]) && active_columns.last().is_none_or(|&c| c < n_cols),
            "active columns must be strictly increasing and below number_of_cols ({n_cols})"
        );
        self.scratch = SHARED_SCRATCH.take();
        if learn {
            self.lrn_iteration += 1;
            if self.lrn_iteration == connections::COUNTING_END + 1 {
                self.conn.stop_counting();
            }
            if connections::at_duty_cycle_tier(self.lrn_iteration) {
                self.conn.refresh_duty_cycles(self.lrn_iteration);
            }
        }
        let after_reset = self.reset_pending();
        let n = active_columns.len() as f32;
        if self.avg_input_density == 0.0 {
            self.avg_input_density = n;
        } else {
            const COOL_DOWN: f32 = 0.99;
            self.avg_input_density = COOL_DOWN * self.avg_input_density + (1.0 - COOL_DOWN) * n;
        }
        self.update_inference_state(active_columns, after_reset);
        if learn {
            self.update_learning_state(active_columns, after_reset);
        }
        SHARED_SCRATCH.set(std::mem::take(&mut self.scratch));
    }

    /// NuPIC's `reset()`: forgets the current sequence (every inference and learning state, the queued
    /// segment updates and the input history). The next record starts on the start cells and learns no
    /// transition from the records before the reset; learned segments stay.
    pub fn reset(&mut self) {
        for state in [
            &mut self.inf_active,
            &mut self.inf_predicted,
            &mut self.inf_predicted_prev,
            &mut self.lrn_active,
            &mut self.lrn_active_prev,
            &mut self.lrn_predicted,
            &mut self.lrn_predicted_prev,
        ] {
            state.clear();
        }
        self.col_confidence.clear();
        self.inf_history.clear();
        self.lrn_history.clear();
        self.updates.clear();
    }

    /// Whether `reset()` came after the latest compute (Cells4's `_resetCalled`). Derived rather than
    /// stored, so the state format stays: after any compute with input the active cells are non-empty,
    /// and only a fresh TM (input density still 0) has none otherwise.
    fn reset_pending(&self) -> bool {
        self.inf_active.is_empty() && self.avg_input_density != 0.0
    }

    /// Columns with non-zero column confidence after the latest compute, ascending.
    pub fn predicted_columns(&self, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.col_confidence.iter().filter(|c| c.1 != 0.0).map(|c| c.0));
    }

    /// Inference active cells after the latest compute (column * cells_per_column + cell), ascending.
    pub fn active_cells(&self, out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.inf_active);
    }

    /// Live segments (released slots not counted).
    pub fn num_segments(&self) -> usize {
        self.conn.num_segments()
    }

    /// Synapses over all live segments.
    pub fn num_synapses(&self) -> usize {
        self.conn.num_synapses()
    }

    /// Approximate heap bytes of the learned connections (the bulk of the TM's memory).
    pub fn memory_bytes(&self) -> usize {
        self.conn.memory_bytes()
    }

    fn n_cells(&self) -> usize {
        (self.params.number_of_cols * self.params.cells_per_column) as usize
    }

    fn plasticity(&self) -> Plasticity {
        plasticity_of(&self.params)
    }

    // ---------------------------------------------------------------- inference

    fn update_inference_state(&mut self, active_columns: &[u32], after_reset: bool) {
        std::mem::swap(&mut self.inf_predicted_prev, &mut self.inf_predicted);
        self.inf_predicted.clone_from(&self.inf_predicted_prev);
        if self.params.max_inf_backtrack > 0 {
            if self.inf_history.len() > self.params.max_inf_backtrack as usize {
                self.inf_history.pop_front();
            }
            self.inf_history.push_back(active_columns.to_vec());
        }
        if !self.infer_phase1(active_columns, after_reset) || !self.infer_phase2() {
            self.infer_backtrack();
        }
    }

    /// Activates the predicted cells of each active column (or all its cells), or only start cells.
    /// Returns whether enough columns were predicted.
    fn infer_phase1(&mut self, active_columns: &[u32], use_start_cells: bool) -> bool {
        let cpc = self.params.cells_per_column;
        self.inf_active.clear();
        if use_start_cells {
            self.inf_active.extend(active_columns.iter().map(|&c| c * cpc));
            return true;
        }
        let prev = &self.inf_predicted_prev;
        let mut p = 0;
        let mut predicted_columns = 0usize;
        for &col in active_columns {
            let (lo, hi) = (col * cpc, (col + 1) * cpc);
            while p < prev.len() && prev[p] < lo {
                p += 1;
            }
            let start = self.inf_active.len();
            while p < prev.len() && prev[p] < hi {
                self.inf_active.push(prev[p]);
                p += 1;
            }
            if self.inf_active.len() > start {
                predicted_columns += 1;
            } else {
                self.inf_active.extend(lo..hi);
            }
        }
        predicted_columns as f64 >= 0.5 * active_columns.len() as f64
    }

    /// Predicted cells and column confidences from the inference active cells. Returns whether
    /// enough columns are predicted to continue the sequence.
    fn infer_phase2(&mut self) -> bool {
        let threshold = self.params.activation_threshold;
        let cpc = self.params.cells_per_column;
        let n_cells = self.n_cells();
        let Scratch { activity, marks, found, ranked, ranked_buf, col_conf, .. } = &mut self.scratch;
        self.conn.propagate(&self.inf_active, threshold, activity, found);
        ranked.clear();
        for &(s, count) in found.iter() {
            let seg = &self.conn.segments[s as usize];
            ranked.push(((seg.cell() as u64) << 8 | seg.slot as u64) << 40 | (count as u64) << 32 | s as u64);
        }
        sort_by_cell_and_slot(ranked, ranked_buf);

        marks.mark(&self.inf_active, n_cells);
        self.inf_predicted.clear();
        col_conf.clear();
        let mut predicted_columns = 0u32;
        let mut last_predicted_col = u32::MAX;
        for &key in ranked.iter() {
            let (s, count) = (key as u32, (key >> 32) as u8);
            let seg = &mut self.conn.segments[s as usize];
            let (cell, col) = (seg.cell(), seg.cell() / cpc);
            let dc = seg.duty_cycle(self.lrn_iteration, false, false);
            match col_conf.last_mut() {
                Some(last) if last.0 == col => last.1 += dc,
                _ => col_conf.push((col, dc)),
            }
            let synapses = (seg.n_synapses as u32, seg.n_connected as u32);
            if self.inf_predicted.last() != Some(&cell)
                && connected_activity_reaches(count as u32, synapses, threshold, || {
                    self.conn.connected_active(s, marks)
                })
            {
                self.inf_predicted.push(cell);
                if last_predicted_col != col {
                    last_predicted_col = col;
                    predicted_columns += 1;
                }
            }
        }
        marks.unmark(&self.inf_active);

        let mut sum = 0.0f32;
        for c in col_conf.iter() {
            sum += c.1;
        }
        if sum > 0.0 {
            for c in col_conf.iter_mut() {
                c.1 /= sum;
            }
        }
        std::mem::swap(&mut self.col_confidence, col_conf);
        predicted_columns as f64 >= 0.5 * self.avg_input_density as f64
    }

    /// Replays the recent inputs from start cells to find the oldest starting point that stays in
    /// sequence through the current input; falls back to the bursting state if none does.
    fn infer_backtrack(&mut self) {
        if self.inf_history.is_empty() {
            return;
        }
        let current = self.inf_history.len() - 1;
        let mut backup_active = std::mem::take(&mut self.scratch.backup_active);
        let mut backup_predicted_prev = std::mem::take(&mut self.scratch.backup_predicted_prev);
        backup_active.clone_from(&self.inf_active);
        backup_predicted_prev.clone_from(&self.inf_predicted_prev);

        let history = std::mem::take(&mut self.inf_history);
        let mut chosen = None;
        for start in 0..=current {
            let mut in_sequence = false;
            for (offset, pattern) in history.iter().enumerate().skip(start) {
                self.inf_predicted_prev.clone_from(&self.inf_predicted);
                in_sequence = self.infer_phase1(pattern, offset == start);
                if !in_sequence {
                    break;
                }
                in_sequence = self.infer_phase2();
                if !in_sequence {
                    break;
                }
            }
            if in_sequence {
                chosen = Some(start);
                break;
            }
        }
        self.inf_history = history;
        match chosen {
            Some(start) => {
                self.inf_history.drain(..=start);
            }
            None => {
                std::mem::swap(&mut self.inf_active, &mut backup_active);
                self.infer_phase2();
                self.inf_history.clear();
            }
        }
        std::mem::swap(&mut self.inf_predicted_prev, &mut backup_predicted_prev);
        self.scratch.backup_active = backup_active;
        self.scratch.backup_predicted_prev = backup_predicted_prev;
    }
}

/// Whether at least `threshold` of a segment's connected synapses are active, knowing that `count` of its
/// (synapses, connected synapses) are: decided from the counts when they settle it (at most `count` and at
/// most the connected ones are; at least `count` minus the unconnected ones are), else counted by
/// `connected_active`.
fn connected_activity_reaches(
    count: u32,
    (synapses, connected): (u32, u32),
    threshold: u32,
    connected_active: impl FnOnce() -> u32,
) -> bool {
    if count.min(connected) < threshold {
        return false;
    }
    if count.saturating_sub(synapses - connected) >= threshold {
        return true;
    }
    connected_active() >= threshold
}

/// Sorts `ranked` by its keys' top 24 bits (`cell << 8 | slot`, unique among live segments, so this is
/// the order of the whole keys) with a stable byte radix sort in three passes, `buf` as scratch. A
/// comparison sort mispredicts about half its comparisons on these keys; short lists still use one.
fn sort_by_cell_and_slot(ranked: &mut Vec<u64>, buf: &mut Vec<u64>) {
    if ranked.len() < 64 {
        ranked.sort_unstable();
        return;
    }
    buf.clear();
    buf.resize(ranked.len(), 0);
    for shift in [40, 48, 56] {
        let digit = |key: u64| (key >> shift) as usize & 0xFF;
        let mut next = [0u32; 256];
        for &key in ranked.iter() {
            next[digit(key)] += 1;
        }
        let mut start = 0;
        for n in next.iter_mut() {
            (*n, start) = (start, start + *n);
        }
        for &key in ranked.iter() {
            let place = &mut next[digit(key)];
            buf[*place as usize] = key;
            *place += 1;
        }
        std::mem::swap(ranked, buf);
    }
}

/// Permanence arithmetic of a TM with these parameters.
fn plasticity_of(params: &BacktrackingTmParams) -> Plasticity {
    Plasticity {
        initial: params.initial_perm,
        increment: params.permanence_inc,
        decrement: params.permanence_dec,
        max: params.permanence_max,
        connected: params.connected_perm,
        max_synapses: params.max_synapses_per_segment as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_params() -> BacktrackingTmParams {
        BacktrackingTmParams {
            number_of_cols: 100,
            cells_per_column: 8,
            activation_threshold: 6,
            min_threshold: 4,
            new_synapse_count: 8,
            max_synapses_per_segment: 16,
            max_segments_per_cell: 16,
            ..BacktrackingTmParams::nab()
        }
    }

    /// Ten disjoint columns per pattern: pattern k uses columns 10k..10k+9.
    fn pattern(k: u32) -> Vec<u32> {
        (10 * k..10 * k + 10).collect()
    }

    #[test]
    fn learns_a_repeating_sequence() {
        let mut tm = BacktrackingTm::new(small_params()).unwrap();
        let mut predicted = Vec::new();
        for _ in 0..40 {
            for k in 0..4 {
                tm.compute(&pattern(k), true);
            }
        }
        for k in 0..4 {
            tm.compute(&pattern(k), true);
            tm.predicted_columns(&mut predicted);
            assert_eq!(predicted, pattern((k + 1) % 4), "after pattern {k}");
        }
        assert!(tm.num_segments() > 0 && tm.num_synapses() >= tm.num_segments());
    }

    #[test]
    fn inference_only_steps_do_not_learn() {
        let mut tm = BacktrackingTm::new(small_params()).unwrap();
        for k in 0..4 {
            tm.compute(&pattern(k), true);
        }
        let (segs, syns) = (tm.num_segments(), tm.num_synapses());
        for k in 0..8 {
            tm.compute(&pattern(k % 4), false);
        }
        assert_eq!((tm.num_segments(), tm.num_synapses()), (segs, syns));
        let mut cells = Vec::new();
        tm.active_cells(&mut cells);
        assert!(cells.iter().all(|&c| (30 * 8..40 * 8).contains(&c)), "active cells belong to the last input");
    }

    #[test]
    fn full_columns_recycle_their_least_used_segment() {
        let params = BacktrackingTmParams {
            number_of_cols: 4,
            cells_per_column: 2,
            activation_threshold: 1,
            min_threshold: 1,
            new_synapse_count: 1,
            max_segments_per_cell: 1,
            max_synapses_per_segment: 4,
            ..BacktrackingTmParams::nab()
        };
        let mut tm = BacktrackingTm::new(params).unwrap();
        let inputs: [&[u32]; 7] = [&[0], &[1, 2], &[3], &[0, 2], &[1], &[2, 3], &[0, 1]];
        for step in 0..300 {
            tm.compute(inputs[(step * 5 + step / 7) % 7], true);
            // One non-start cell with one slot per column: never more than 4 segments.
            assert!(tm.num_segments() <= 4, "step {step}: {} segments", tm.num_segments());
        }
        assert!(tm.num_segments() > 0);
    }

    #[test]
    fn ranking_sorts_by_cell_and_slot() {
        let mut rng = Random::new(7);
        for n in [0, 5, 63, 64, 300, 2000] {
            let mut keys: Vec<u64> = (0..65536u64 * 256).step_by(97).collect();
            rng.shuffle(&mut keys);
            let mut ranked: Vec<u64> =
                keys[..n].iter().enumerate().map(|(s, &k)| k << 40 | (k % 251) << 32 | s as u64).collect();
            let mut expected = ranked.clone();
            expected.sort_unstable();
            sort_by_cell_and_slot(&mut ranked, &mut Vec::new());
            assert_eq!(ranked, expected, "{n} keys");
        }
    }

    /// Inputs of a noisy repeating sequence: `len` SDRs of `active` columns out of `columns`, each
    /// step's SDR with one column in ten replaced at random.
    fn noisy_sequence(seed: u64, columns: u32, active: usize, len: usize, steps: usize) -> Vec<Vec<u32>> {
        let mut rng = Random::new(seed);
        let all: Vec<u32> = (0..columns).collect();
        let patterns: Vec<Vec<u32>> = (0..len).map(|_| rng.sample(&all, active)).collect();
        (0..steps)
            .map(|t| {
                let mut sdr = patterns[t % len].clone();
                for c in sdr.iter_mut() {
                    if rng.get_uint32(10) == 0 {
                        *c = rng.get_uint32(columns);
                    }
                }
                sdr.sort_unstable();
                sdr.dedup();
                sdr
            })
            .collect()
    }

    /// What a caller sees of each step: predicted columns and active cells.
    fn run(tm: &mut BacktrackingTm, input: &[u32]) -> (Vec<u32>, Vec<u32>) {
        let (mut predicted, mut cells) = (Vec::new(), Vec::new());
        tm.compute(input, true);
        tm.predicted_columns(&mut predicted);
        tm.active_cells(&mut cells);
        (predicted, cells)
    }

    #[test]
    fn models_sharing_a_thread_compute_as_if_alone() {
        // Two models of one geometry on the same input (so their cell lists can coincide) and a larger one.
        let models = [
            (small_params(), noisy_sequence(3, 100, 10, 7, 600)),
            (
                BacktrackingTmParams { activation_threshold: 5, min_threshold: 3, seed: 99, ..small_params() },
                noisy_sequence(3, 100, 10, 7, 600),
            ),
            (
                BacktrackingTmParams { number_of_cols: 300, cells_per_column: 16, ..small_params() },
                noisy_sequence(4, 300, 20, 11, 600),
            ),
        ];
        let alone: Vec<Vec<_>> = models
            .iter()
            .map(|(params, inputs)| {
                let mut tm = BacktrackingTm::new(params.clone()).unwrap();
                inputs.iter().map(|x| run(&mut tm, x)).collect()
            })
            .collect();
        let mut tms: Vec<_> = models.iter().map(|(p, _)| BacktrackingTm::new(p.clone()).unwrap()).collect();
        for t in 0..600 {
            for (m, (tm, (_, inputs))) in tms.iter_mut().zip(&models).enumerate() {
                assert_eq!(run(tm, &inputs[t]), alone[m][t], "model {m}, step {t}");
            }
        }
        assert!(tms.iter().all(|tm| tm.num_segments() > 20), "every model learned");
    }

    #[test]
    fn a_checkpoint_with_deferred_updates_continues_identically() {
        // Learn phase 2 defers listing its updates' sources; saving lists them. Segments count their
        // positive activations up to iteration 100 and keep their duty cycle's iteration after.
        let inputs = noisy_sequence(5, 100, 10, 7, 400);
        let mut tm = BacktrackingTm::new(small_params()).unwrap();
        let mut checked = 0;
        for (t, x) in inputs.iter().enumerate() {
            tm.compute(x, true);
            // Every 40 steps, and each step around the end of positive-activation counting (100).
            let due = t % 40 == 39
                || (connections::COUNTING_END as usize - 5..connections::COUNTING_END as usize + 5).contains(&t);
            if !due || tm.updates.deferred() == 0 {
                continue;
            }
            let blob = bincode::serialize(&tm).unwrap();
            let mut restored: BacktrackingTm = bincode::deserialize(&blob).unwrap();
            assert_eq!(restored.updates.deferred(), 0, "a loaded queue holds listed sources");
            assert_eq!(bincode::serialize(&restored).unwrap(), blob, "step {t}: saved again alike");
            let mut original = tm.clone();
            for y in &inputs[t + 1..(t + 31).min(inputs.len())] {
                assert_eq!(run(&mut restored, y), run(&mut original, y), "checkpoint after step {t}");
            }
            assert_eq!(bincode::serialize(&restored).unwrap(), bincode::serialize(&original).unwrap());
            checked += 1;
        }
        assert!(checked >= 12, "only {checked} checkpoints had deferred updates");
    }

    #[test]
    #[should_panic(expected = "strictly increasing")]
    fn rejects_unsorted_columns() {
        let mut tm = BacktrackingTm::new(small_params()).unwrap();
        tm.compute(&[5, 3], true);
    }
}
