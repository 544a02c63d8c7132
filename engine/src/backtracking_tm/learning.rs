//! Learning state of the backtracking TM: learn phases 1 and 2, queued segment updates, the PAM
//! counter, learning backtrack, and the random choices of cells and synapse sources (spec 3.5, step 3).

use serde::{Deserialize, Serialize};

use super::connections::{Activity, CellMarks, Connections, NONE};
use super::{BacktrackingTm, Scratch};
use crate::rng::Random;

/// Updates older than this many learning steps are dropped (segUpdateValidDuration with pooling off).
const UPDATE_VALID_DURATION: u32 = 1;

/// A pending change to one segment (or a segment to create when `segment` is NONE): the sources
/// that were active plus the new sources chosen for it, sorted. The saved form of a queued update.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct SegmentUpdate {
    cell: u32,
    segment: u32,
    timestamp: u32,
    sources: Vec<u32>,
}

/// A queued update; its sources are `sources[start..start + len]` of its queue. A deferred update's
/// range holds instead the positions, among its candidates, of the new sources drawn for it (see
/// `UpdateQueue::defer`).
#[derive(Clone, Copy, Debug)]
struct QueuedUpdate {
    cell: u32,
    segment: u32,
    timestamp: u32,
    start: u32,
    len: u32,
    deferred: bool,
}

/// The queued segment updates. Their sources share one buffer that keeps its room from record to record
/// (learning queues an update per learn-predicted segment and record, which would otherwise allocate each
/// time). Saved as a list of `SegmentUpdate`s (`saved`).
///
/// Learn phase 2 queues an update for every learn-predicted segment, but only those whose column is
/// active at the next step are applied (about half). So phase 2 draws the random new sources (the
/// draws depend only on how many are wanted and how many candidates there are, both known from the
/// propagation) but defers listing the sources until the update is applied or saved: the segment's
/// synapses cannot change in between, as every learning step applies or drops the queue first.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(from = "Vec<SegmentUpdate>")]
pub(super) struct UpdateQueue {
    entries: Vec<QueuedUpdate>,
    sources: Vec<u32>,
    /// The learning active cells the deferred updates were made against (sorted).
    state: Vec<u32>,
}

impl UpdateQueue {
    fn push(&mut self, cell: u32, segment: u32, timestamp: u32, sources: &[u32]) {
        self.push_entry(cell, segment, timestamp, sources, false);
    }

    /// Sets the learning state of the updates `defer` queues next; the queue must hold no deferred
    /// update (each learn phase 2 finds it applied or dropped).
    fn defer_against(&mut self, state: &[u32]) {
        assert!(!self.entries.iter().any(|u| u.deferred), "deferred updates of one queue share their learning state");
        self.state.clear();
        self.state.extend_from_slice(state);
    }

    /// Queues a deferred update of `segment` against the state given to `defer_against`: its sources
    /// will be its synapses from the state plus the candidates (the other cells of the state,
    /// ascending) at the ascending positions `picks`.
    fn defer(&mut self, cell: u32, segment: u32, timestamp: u32, picks: &[u32]) {
        self.push_entry(cell, segment, timestamp, picks, true);
    }

    fn push_entry(&mut self, cell: u32, segment: u32, timestamp: u32, values: &[u32], deferred: bool) {
        let start = self.sources.len() as u32;
        self.sources.extend_from_slice(values);
        self.entries.push(QueuedUpdate { cell, segment, timestamp, start, len: values.len() as u32, deferred });
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.sources.clear();
    }

    /// Drops the updates of `segment` (their sources stay in the buffer until the next `clear`).
    fn forget_segment(&mut self, segment: u32) {
        self.entries.retain(|u| u.segment != segment);
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Number of deferred updates.
    #[cfg(test)]
    pub fn deferred(&self) -> usize {
        self.entries.iter().filter(|u| u.deferred).count()
    }

    /// Update `i` and its stored values (sources, or picks while deferred).
    fn get(&self, i: usize) -> (QueuedUpdate, &[u32]) {
        let u = self.entries[i];
        (u, &self.sources[u.start as usize..(u.start + u.len) as usize])
    }

    /// The sources of update `i`, listed into `out`. The queue's state must be marked in `marks`
    /// (see `mark_state`); `candidates` is scratch.
    fn sources_of(
        &self,
        i: usize,
        conn: &Connections,
        marks: &CellMarks,
        candidates: &mut Vec<u32>,
        out: &mut Vec<u32>,
    ) {
        let (u, values) = self.get(i);
        out.clear();
        if !u.deferred {
            out.extend_from_slice(values);
            return;
        }
        marked_sources(conn.sources(u.segment), marks, out);
        add_picked(&self.state, values, candidates, out);
    }

    /// Marks the state of the deferred updates in `marks` (clear before); returns whether there are any.
    fn mark_state(&self, marks: &mut CellMarks, n_cells: usize) -> bool {
        let deferred = self.entries.iter().any(|u| u.deferred);
        if deferred {
            marks.mark(&self.state, n_cells);
        }
        deferred
    }

    /// The queue as it is saved: every update with its sources listed.
    pub fn saved(&self, conn: &Connections, n_cells: usize) -> Vec<SegmentUpdate> {
        let (mut marks, mut candidates, mut sources) = (CellMarks::default(), Vec::new(), Vec::new());
        self.mark_state(&mut marks, n_cells);
        (0..self.len())
            .map(|i| {
                let (u, _) = self.get(i);
                self.sources_of(i, conn, &marks, &mut candidates, &mut sources);
                SegmentUpdate { cell: u.cell, segment: u.segment, timestamp: u.timestamp, sources: sources.clone() }
            })
            .collect()
    }
}

impl From<Vec<SegmentUpdate>> for UpdateQueue {
    fn from(updates: Vec<SegmentUpdate>) -> Self {
        let mut queue = UpdateQueue::default();
        for u in &updates {
            queue.push(u.cell, u.segment, u.timestamp, &u.sources);
        }
        queue
    }
}

/// Segments found by the latest learn phase 2 propagation (see `best_matches`); scratch.
#[derive(Clone, Debug, Default)]
pub(super) struct PropagationMemo {
    valid: bool,
    /// The learning active cells that were propagated.
    cells: Vec<u32>,
    /// (segment, activity) for activity >= min(minThreshold, activationThreshold).
    found: Vec<(u32, u8)>,
    /// Segments adapted since the propagation.
    adapted: Vec<u32>,
}

impl PropagationMemo {
    /// Recounts the adapted segments against `cells`; false if one of them was not in `found`.
    fn recount(&mut self, conn: &Connections, flags: &mut Activity, marks: &mut CellMarks, n_cells: usize) -> bool {
        if self.adapted.is_empty() {
            return true;
        }
        marks.mark(&self.cells, n_cells);
        let mut distinct = 0;
        for &s in &self.adapted {
            distinct += flags.flag(s, conn.segments.len()) as usize;
        }
        let mut seen = 0;
        for entry in self.found.iter_mut() {
            if flags.unflag(entry.0) {
                let sources = conn.sources(entry.0);
                entry.1 = sources.iter().filter(|&&src| marks.get(src as u32)).count() as u8;
                seen += 1;
            }
        }
        for &s in &self.adapted {
            flags.unflag(s);
        }
        marks.unmark(&self.cells);
        self.adapted.clear();
        seen == distinct
    }
}

/// The best matching segment of a column: highest activity, then highest cell index, then
/// lowest slot (Cells4's tie rules).
#[derive(Clone, Copy, Debug)]
pub(super) struct Match {
    column: u32,
    segment: u32,
    /// Synapses of the segment from the cells matched against (all synapses counted).
    activity: u8,
}

impl BacktrackingTm {
    pub(super) fn update_learning_state(&mut self, active_columns: &[u32], after_reset: bool) {
        self.lrn_active_prev.clone_from(&self.lrn_active);
        self.lrn_predicted_prev.clone_from(&self.lrn_predicted);
        if self.params.max_lrn_backtrack > 0 {
            if self.lrn_history.len() > self.params.max_lrn_backtrack as usize {
                self.lrn_history.pop_front();
            }
            self.lrn_history.push_back(active_columns.to_vec());
        }
        self.process_updates(active_columns);
        if self.pam_counter > 0 {
            self.pam_counter -= 1;
        }
        self.learned_seq_length += 1;
        if !after_reset && self.learn_phase1(active_columns, false) {
            self.pam_counter = self.params.pam_length;
        }
        let max_seq = self.params.max_seq_length;
        if after_reset || self.pam_counter == 0 || (max_seq != 0 && self.learned_seq_length >= max_seq) {
            let backsteps = if after_reset { 0 } else { self.learn_backtrack() };
            if backsteps == 0 {
                let cpc = self.params.cells_per_column;
                self.lrn_active.clear();
                self.lrn_active.extend(active_columns.iter().map(|&c| c * cpc));
                self.lrn_history.clear();
            }
            self.pam_counter = self.params.pam_length;
            self.learned_seq_length = backsteps;
            self.updates.clear();
        }
        self.learn_phase2(false);
    }

    /// Applies the queued updates whose cell's column is active in `columns`, then empties the queue.
    fn process_updates(&mut self, columns: &[u32]) {
        let updates = std::mem::take(&mut self.updates);
        let mut sources = std::mem::take(&mut self.scratch.sources);
        let n_cells = self.n_cells();
        let marked = updates.mark_state(&mut self.scratch.marks, n_cells);
        let cpc = self.params.cells_per_column;
        for i in 0..updates.len() {
            let (u, _) = updates.get(i);
            if self.lrn_iteration - u.timestamp > UPDATE_VALID_DURATION {
                continue;
            }
            if columns.binary_search(&(u.cell / cpc)).is_ok() {
                let Scratch { marks, candidates, .. } = &mut self.scratch;
                updates.sources_of(i, &self.conn, marks, candidates, &mut sources);
                self.apply_update(u.cell, u.segment, &sources);
                if u.segment == NONE {
                    self.memo.valid = false;
                } else {
                    self.memo.adapted.push(u.segment);
                }
            }
        }
        if marked {
            self.scratch.marks.unmark(&updates.state);
        }
        self.scratch.sources = sources;
        self.updates = updates;
        self.updates.clear();
    }

    fn apply_update(&mut self, cell: u32, segment: u32, sources: &[u32]) {
        let p = self.plasticity();
        if segment == NONE {
            self.conn.create_segment(cell, sources, self.lrn_iteration);
        } else {
            self.conn.adapt_segment(segment, sources, &p, self.lrn_iteration, &mut self.scratch.adapt);
        }
    }

    /// Learn phase 1: the learning active cells of the active columns. Predicted columns keep their
    /// predicted cell; the others (unless `read_only`) reinforce their best matching segment or
    /// grow a new one. Returns whether fewer than half of the columns were unpredicted.
    fn learn_phase1(&mut self, active_columns: &[u32], read_only: bool) -> bool {
        let cpc = self.params.cells_per_column;
        let mut matches = std::mem::take(&mut self.scratch.matches);
        if !read_only {
            self.best_matches(true, &mut matches);
        }
        let mut prev = std::mem::take(&mut self.lrn_active_prev);
        if !read_only {
            self.scratch.marks.mark(&prev, self.n_cells());
        }
        self.lrn_active.clear();
        let mut p = 0;
        let mut m = 0;
        let mut unpredicted = 0usize;
        for &col in active_columns {
            let (lo, hi) = (col * cpc, (col + 1) * cpc);
            let pred = &self.lrn_predicted_prev;
            while p < pred.len() && pred[p] < lo {
                p += 1;
            }
            let (mut n_predicted, mut predicted_cell) = (0, 0);
            while p < pred.len() && pred[p] < hi {
                n_predicted += 1;
                predicted_cell = pred[p];
                p += 1;
            }
            if n_predicted == 1 {
                self.lrn_active.push(predicted_cell);
                continue;
            }
            unpredicted += 1;
            if read_only {
                continue;
            }
            while m < matches.len() && matches[m].column < col {
                m += 1;
            }
            if m < matches.len() && matches[m].column == col {
                let seg = matches[m].segment;
                let cell = self.conn.segments[seg as usize].cell();
                self.lrn_active.push(cell);
                let sources = self.compute_update(seg, &prev);
                if !sources.is_empty() {
                    self.apply_update(cell, seg, &sources);
                }
                self.scratch.sources = sources;
            } else {
                let cell = self.cell_for_new_segment(col);
                self.lrn_active.push(cell);
                let sources = self.compute_update(NONE, &prev);
                if !sources.is_empty() {
                    self.apply_update(cell, NONE, &sources);
                }
                self.scratch.sources = sources;
            }
        }
        if !read_only {
            self.scratch.marks.unmark(&prev);
        }
        std::mem::swap(&mut self.lrn_active_prev, &mut prev);
        self.scratch.matches = matches;
        unpredicted < active_columns.len() / 2
    }

    /// Learn phase 2: in each column the best matching cell against the learning active cells
    /// (activity >= activationThreshold) becomes learn-predicted; unless `read_only`, an update for
    /// its segment is queued.
    fn learn_phase2(&mut self, read_only: bool) {
        let mut matches = std::mem::take(&mut self.scratch.matches);
        self.best_matches(false, &mut matches);
        let state = std::mem::take(&mut self.lrn_active);
        let wanted = self.params.new_synapse_count as usize;
        let mut picks = std::mem::take(&mut self.scratch.sources);
        if !read_only {
            self.updates.defer_against(&state);
        }
        self.lrn_predicted.clear();
        for mt in &matches {
            let cell = self.conn.segments[mt.segment as usize].cell();
            self.lrn_predicted.push(cell);
            if !read_only {
                let kept = mt.activity as usize;
                picks.clear();
                if wanted > kept {
                    draw_picks(
                        &mut self.rng,
                        wanted - kept,
                        state.len() - kept,
                        &mut self.scratch.candidates,
                        &mut picks,
                    );
                }
                if kept + picks.len() > 0 {
                    self.updates.defer(cell, mt.segment, self.lrn_iteration, &picks);
                }
            }
        }
        self.scratch.sources = picks;
        self.lrn_active = state;
        self.scratch.matches = matches;
    }

    /// Per column, the best segment whose activity (all synapses) against the previous (`previous`)
    /// or current learning active cells reaches minThreshold (previous) or activationThreshold
    /// (current); ascending by column.
    ///
    /// Phase 1 looks at the cells phase 2 propagated one step (or one replay step) before; only the
    /// segments adapted in between can have changed, so phase 2 keeps its result in a memo and
    /// phase 1 recounts just those segments.
    fn best_matches(&mut self, previous: bool, out: &mut Vec<Match>) {
        let n_cells = self.n_cells();
        let p = &self.params;
        let cpc = p.cells_per_column;
        let threshold = if previous { p.min_threshold } else { p.activation_threshold };
        let memo = &mut self.memo;
        if previous {
            let reusable = memo.valid
                && memo.cells == self.lrn_active_prev
                && memo.recount(&self.conn, &mut self.scratch.activity, &mut self.scratch.marks, n_cells);
            if !reusable {
                self.conn.propagate(&self.lrn_active_prev, threshold, &mut self.scratch.activity, &mut memo.found);
            }
            memo.valid = false;
        } else {
            let lowest = p.min_threshold.min(p.activation_threshold);
            self.conn.propagate(&self.lrn_active, lowest, &mut self.scratch.activity, &mut memo.found);
            memo.cells.clone_from(&self.lrn_active);
            memo.adapted.clear();
            memo.valid = true;
        }
        // Best per column, without sorting all of `found`; the columns reached are marked in a bitmap
        // and read back in order (a sort of them was 1.5 % of a NAB model's time).
        let n_cols = p.number_of_cols as usize;
        let Scratch { column_best: best, touched_columns: touched, .. } = &mut self.scratch;
        if best.len() < n_cols {
            best.resize(n_cols, (0, 0));
        }
        for &(s, count) in &memo.found {
            if count as u32 >= threshold {
                let seg = &self.conn.segments[s as usize];
                let rank = (count as u64) << 40 | (seg.cell() as u64) << 8 | (255 - seg.slot) as u64;
                let column = seg.cell() / cpc;
                touched.mark(&[column], n_cols);
                let b = &mut best[column as usize];
                if rank > b.0 {
                    *b = (rank, s);
                }
            }
        }
        out.clear();
        touched.drain(|column| {
            let (rank, segment) = best[column as usize];
            out.push(Match { column, segment, activity: (rank >> 40) as u8 });
            best[column as usize] = (0, 0);
        });
    }

    /// The sources of an update for `segment` (NONE = a new segment): its synapses from `state`,
    /// topped up to newSynapseCount with other cells of `state` (sorted result). `state` must be
    /// marked in `scratch.marks`.
    fn compute_update(&mut self, segment: u32, state: &[u32]) -> Vec<u32> {
        let mut sources = std::mem::take(&mut self.scratch.sources);
        sources.clear();
        if segment != NONE {
            marked_sources(self.conn.sources(segment), &self.scratch.marks, &mut sources);
        }
        let wanted = self.params.new_synapse_count as usize;
        if wanted > sources.len() {
            let Scratch { candidates, picks, .. } = &mut self.scratch;
            let n_candidates = state.len() - sources.len();
            draw_picks(&mut self.rng, wanted - sources.len(), n_candidates, candidates, picks);
            add_picked(state, picks, candidates, &mut sources);
        }
        sources
    }

    /// Picks the cell of `col` that gets a new segment: a random non-start cell with a free slot,
    /// or else the cell of the segment with the lowest duty cycle (below 1), which is deleted.
    fn cell_for_new_segment(&mut self, col: u32) -> u32 {
        let cpc = self.params.cells_per_column;
        let max_slots = self.params.max_segments_per_cell;
        let cells = &mut self.scratch.cells;
        cells.clear();
        cells.extend((col * cpc + 1..(col + 1) * cpc).filter(|&c| self.conn.slot_count(c) < max_slots));
        if !cells.is_empty() {
            return cells[self.rng.get_uint32(cells.len() as u32) as usize];
        }
        // Every cell is full: free the least useful segment of the column.
        let (lo, hi) = (col * cpc + 1, (col + 1) * cpc);
        let mut in_column: Vec<(u32, u8, u32)> = (0..self.conn.segments.len() as u32)
            .filter(|&s| {
                let seg = &self.conn.segments[s as usize];
                seg.cell() >= lo && seg.cell() < hi && seg.is_live()
            })
            .map(|s| (self.conn.segments[s as usize].cell(), self.conn.segments[s as usize].slot, s))
            .collect();
        in_column.sort_unstable();
        let mut lowest = 1.0f32;
        let mut victim = None;
        for &(_, _, s) in &in_column {
            let dc = self.conn.segments[s as usize].duty_cycle(self.lrn_iteration, false, false);
            if dc < lowest {
                lowest = dc;
                victim = Some(s);
            }
        }
        match victim {
            Some(s) => {
                let cell = self.conn.segments[s as usize].cell();
                self.conn.release_segment(s);
                self.updates.forget_segment(s);
                cell
            }
            // Cells4 has no answer here (every segment at duty cycle 1); take the first cell.
            None => lo,
        }
    }

    /// Learning backtrack: finds the oldest stored input from whose start cells the learning state
    /// stays in sequence up to now, replays from there with learning, and returns how many steps
    /// back it started (0 = no such input; the history is then cleared).
    fn learn_backtrack(&mut self) -> u32 {
        if self.lrn_history.len() <= 1 {
            return 0;
        }
        let n_prev = self.lrn_history.len() - 1;
        let Some(start) = (0..n_prev).find(|&s| self.learn_backtrack_from(s, true)) else {
            self.lrn_history.clear();
            return 0;
        };
        self.learn_backtrack_from(start, false);
        self.lrn_history.drain(..=start);
        (n_prev - start) as u32
    }

    /// Replays the learning history from `start` on start cells; with `read_only` nothing is
    /// learned or queued. Returns whether the replay stayed in sequence through the current input.
    fn learn_backtrack_from(&mut self, start: usize, read_only: bool) -> bool {
        let history = std::mem::take(&mut self.lrn_history);
        let current = history.len() - 1;
        if !read_only {
            self.updates.clear();
        }
        let cpc = self.params.cells_per_column;
        let mut in_sequence = true;
        for (offset, pattern) in history.iter().enumerate().skip(start) {
            self.lrn_active_prev.clone_from(&self.lrn_active);
            self.lrn_predicted_prev.clone_from(&self.lrn_predicted);
            if !read_only {
                self.process_updates(pattern);
            }
            if offset == start {
                self.lrn_active.clear();
                self.lrn_active.extend(pattern.iter().map(|&c| c * cpc));
                in_sequence = true;
            } else {
                in_sequence = self.learn_phase1(pattern, read_only);
            }
            if !in_sequence || offset == current {
                break;
            }
            self.learn_phase2(read_only);
        }
        self.lrn_history = history;
        in_sequence
    }
}

/// Sets `out` to the `sources` marked in `marks`, in order. Branch-free: every source is written, the
/// end advances past the marked ones (kept <= i, so `kept.min(i)` is kept; the min lets the compiler
/// drop the bounds check).
fn marked_sources(sources: &[u16], marks: &CellMarks, out: &mut Vec<u32>) {
    out.clear();
    out.resize(sources.len(), 0);
    let mut kept = 0;
    for (i, &src) in sources.iter().enumerate() {
        out[kept.min(i)] = src as u32;
        kept += marks.get(src as u32) as usize;
    }
    out.truncate(kept);
}

/// Draws which of `n_candidates` candidate sources a segment gets when it wants `n` more (Cells4
/// `chooseCellsToLearnFrom`): all of them if there are at most `n`, one by `getUInt32` if `n` is 1,
/// else a `sample` in candidate order. Writes their positions, ascending, to `picks` (`positions`
/// is scratch).
fn draw_picks(rng: &mut Random, n: usize, n_candidates: usize, positions: &mut Vec<u32>, picks: &mut Vec<u32>) {
    picks.clear();
    if n_candidates <= n {
        picks.extend(0..n_candidates as u32);
    } else if n == 1 {
        picks.push(rng.get_uint32(n_candidates as u32));
    } else {
        positions.clear();
        positions.extend(0..n_candidates as u32);
        rng.sample_into(positions, n, picks);
    }
}

/// Adds to `out` the candidates at the ascending positions `picks`, keeping `out` sorted. On entry
/// `out` holds exactly the segment's sources that are in the sorted `state`; the candidates are
/// `state` minus `out` (`candidates` is scratch).
fn add_picked(state: &[u32], picks: &[u32], candidates: &mut Vec<u32>, out: &mut Vec<u32>) {
    debug_assert!(state.windows(2).all(|w| w[0] < w[1]), "state must be sorted");
    if picks.is_empty() {
        return;
    }
    // Branch-free difference of two sorted lists: every cell is written, the end advances past those
    // not in `out` (u32::MAX, past the last source, is no cell; len <= i as above).
    candidates.clear();
    candidates.resize(state.len(), 0);
    let (mut len, mut j) = (0, 0);
    for (i, &c) in state.iter().enumerate() {
        let source = (out.get(j).copied().unwrap_or(u32::MAX) == c) as usize;
        candidates[len.min(i)] = c;
        len += 1 - source;
        j += source;
    }
    candidates.truncate(len);
    let existing = out.len();
    out.extend(picks.iter().map(|&p| candidates[p as usize]));
    // Both runs are ascending (the picks keep state order): merge them into `candidates` and swap.
    if existing > 0 {
        candidates.clear();
        let (old, picked) = out.split_at(existing);
        let (mut a, mut b) = (0, 0);
        while a < old.len() && b < picked.len() {
            let from_old = old[a] < picked[b];
            candidates.push(if from_old { old[a] } else { picked[b] });
            a += from_old as usize;
            b += !from_old as usize;
        }
        candidates.extend_from_slice(&old[a..]);
        candidates.extend_from_slice(&picked[b..]);
        std::mem::swap(out, candidates);
    }
}
