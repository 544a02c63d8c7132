//! TemporalMemory as nupic.core 1.0.6 implements it (NAB's `numentaTM` sequence memory, spec/htm.md 2.6
//! and 3.6): float32 permanences, NuPIC's RNG in the same call order, segments ordered by
//! (cell, creation order), least-recently-used segment eviction.

use crate::rng::Random;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Multiplicative hash for cell indices (the keys are small integers; SipHash is needlessly slow).
#[derive(Default)]
struct CellHasher(u64);

impl Hasher for CellHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Per-cell lists, present only for cells that have entries.
type CellMap = HashMap<u32, Vec<u32>, BuildHasherDefault<CellHasher>>;

fn cell_list(map: &CellMap, cell: u32) -> &[u32] {
    map.get(&cell).map_or(&[], Vec::as_slice)
}

fn remove_from_list(map: &mut CellMap, cell: u32, item: u32, keep_order: bool) {
    if let Some(list) = map.get_mut(&cell) {
        if let Some(pos) = list.iter().position(|&x| x == item) {
            if keep_order {
                list.remove(pos);
            } else {
                list.swap_remove(pos);
            }
        }
        if list.is_empty() {
            map.remove(&cell);
        }
    }
}

thread_local! {
    /// Per-thread scratch bitset of the previous step's active cells (no per-model scratch tables).
    static PREV_ACTIVE: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Read-only view of a cell bitset.
struct CellSet<'a>(&'a [u64]);

impl CellSet<'_> {
    #[inline]
    fn contains(&self, cell: u32) -> bool {
        self.0[(cell >> 6) as usize] & (1u64 << (cell & 63)) != 0
    }
}

/// Permanences below this are treated as zero (synapse destroyed); also the tie margin when
/// choosing the weakest synapse to evict (nupic.core's EPSILON).
const EPSILON: f32 = 0.000_001;

/// TemporalMemory parameters (names follow nupic.core's constructor).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TemporalMemoryParams {
    pub column_count: u32,
    pub cells_per_column: u32,
    pub activation_threshold: u32,
    pub min_threshold: u32,
    pub max_new_synapse_count: u32,
    pub initial_permanence: f32,
    pub connected_permanence: f32,
    pub permanence_increment: f32,
    pub permanence_decrement: f32,
    pub predicted_segment_decrement: f32,
    pub max_segments_per_cell: u32,
    pub max_synapses_per_segment: u32,
    pub seed: u64,
}

impl TemporalMemoryParams {
    /// The parameters NAB's `numentaTM` detector uses (spec 2.6).
    pub fn nab() -> Self {
        TemporalMemoryParams {
            column_count: 2048,
            cells_per_column: 32,
            activation_threshold: 20,
            min_threshold: 13,
            max_new_synapse_count: 31,
            initial_permanence: 0.24,
            connected_permanence: 0.5,
            permanence_increment: 0.04,
            permanence_decrement: 0.008,
            predicted_segment_decrement: 0.001,
            max_segments_per_cell: 128,
            max_synapses_per_segment: 128,
            seed: 1960,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.column_count == 0 || self.cells_per_column == 0 {
            return Err("column_count and cells_per_column must be > 0".into());
        }
        if (self.column_count as u64) * (self.cells_per_column as u64) > u32::MAX as u64 {
            return Err("too many cells".into());
        }
        for (name, v) in [
            ("initial_permanence", self.initial_permanence),
            ("connected_permanence", self.connected_permanence),
            ("permanence_increment", self.permanence_increment),
            ("permanence_decrement", self.permanence_decrement),
            ("predicted_segment_decrement", self.predicted_segment_decrement),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be within [0, 1], got {v}"));
            }
        }
        if self.max_segments_per_cell == 0 || self.max_synapses_per_segment == 0 {
            return Err("max_segments_per_cell and max_synapses_per_segment must be > 0".into());
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Synapse {
    presynaptic_cell: u32,
    segment: u32,
    permanence: f32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Segment {
    cell: u32,
    /// Creation order; segments of a cell are kept in this order.
    ordinal: u64,
    /// Synapse ids in creation order.
    synapses: Vec<u32>,
    last_used_iteration: u64,
    live: bool,
}

/// The TemporalMemory state: connections, current activity and the RNG.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TemporalMemory {
    params: TemporalMemoryParams,
    rng: Random,
    segments: Vec<Segment>,
    free_segments: Vec<u32>,
    synapses: Vec<Synapse>,
    free_synapses: Vec<u32>,
    /// Per cell: its live segments, in creation order (derived; rebuilt on load).
    #[serde(skip)]
    cell_segments: CellMap,
    /// Per presynaptic cell: ids of the synapses it feeds, unordered (derived; rebuilt on load).
    #[serde(skip)]
    presynaptic: CellMap,
    /// False after deserialisation until the derived maps are rebuilt.
    #[serde(skip)]
    indexed: bool,
    next_ordinal: u64,
    num_segments: usize,
    num_synapses: usize,
    iteration: u64,
    active_cells: Vec<u32>,
    winner_cells: Vec<u32>,
    /// Segments with >= activation_threshold connected active synapses, sorted by (cell, ordinal).
    active_segments: Vec<u32>,
    /// Segments with >= min_threshold active potential synapses, sorted by (cell, ordinal).
    matching_segments: Vec<u32>,
    /// Active potential synapse counts per segment slot from the latest activation (valid for the
    /// segments in `matching_segments` / `active_segments`).
    num_active_potential: Vec<u32>,
    num_active_connected: Vec<u32>,
}

impl TemporalMemory {
    /// A fresh TemporalMemory; the parameters are checked.
    pub fn new(params: TemporalMemoryParams) -> Result<Self, String> {
        params.validate()?;
        Ok(TemporalMemory {
            rng: Random::new(params.seed),
            params,
            segments: Vec::new(),
            free_segments: Vec::new(),
            synapses: Vec::new(),
            free_synapses: Vec::new(),
            cell_segments: CellMap::default(),
            presynaptic: CellMap::default(),
            indexed: true,
            next_ordinal: 0,
            num_segments: 0,
            num_synapses: 0,
            iteration: 0,
            active_cells: Vec::new(),
            winner_cells: Vec::new(),
            active_segments: Vec::new(),
            matching_segments: Vec::new(),
            num_active_potential: Vec::new(),
            num_active_connected: Vec::new(),
        })
    }

    /// The parameters this memory was built with.
    pub fn params(&self) -> &TemporalMemoryParams {
        &self.params
    }

    /// One time step: activate cells for the sorted, duplicate-free `active_columns`, learn if asked,
    /// then compute the segments (and so the predictive cells) for the next step.
    ///
    /// Panics if a column index is out of range or the input is not strictly ascending.
    pub fn compute(&mut self, active_columns: &[u32], learn: bool) {
        assert!(
            active_columns.windows(2).all(|w| w[0] < w[1]),
            "active columns must be sorted ascending without duplicates"
        );
        if let Some(&last) = active_columns.last() {
            assert!(last < self.params.column_count, "active column {last} out of range");
        }
        if !self.indexed {
            self.rebuild_index();
        }
        self.activate_cells(active_columns, learn);
        self.activate_dendrites(learn);
    }

    fn num_cells(&self) -> usize {
        (self.params.column_count * self.params.cells_per_column) as usize
    }

    /// Rebuilds the per-cell segment lists (creation order) and presynaptic lists from the stored
    /// segments and synapses.
    fn rebuild_index(&mut self) {
        self.cell_segments.clear();
        self.presynaptic.clear();
        let mut live: Vec<u32> = (0..self.segments.len() as u32).filter(|&s| self.segments[s as usize].live).collect();
        live.sort_unstable_by_key(|&s| self.segments[s as usize].ordinal);
        for s in live {
            let seg = &self.segments[s as usize];
            self.cell_segments.entry(seg.cell).or_default().push(s);
            for &id in &seg.synapses {
                self.presynaptic.entry(self.synapses[id as usize].presynaptic_cell).or_default().push(id);
            }
        }
        self.indexed = true;
    }

    fn column_of_segment(&self, segment: u32) -> u32 {
        self.segments[segment as usize].cell / self.params.cells_per_column
    }

    fn activate_cells(&mut self, active_columns: &[u32], learn: bool) {
        let prev_active = std::mem::take(&mut self.active_cells);
        let words = self.num_cells().div_ceil(64);
        PREV_ACTIVE.with(|scratch| {
            let mut bits = scratch.borrow_mut();
            if bits.len() < words {
                bits.resize(words, 0);
            }
            for &c in &prev_active {
                bits[(c >> 6) as usize] |= 1u64 << (c & 63);
            }
            self.activate_cells_with(active_columns, &CellSet(&bits[..words]), learn);
            for &c in &prev_active {
                bits[(c >> 6) as usize] = 0;
            }
        });
    }

    fn activate_cells_with(&mut self, active_columns: &[u32], prev_active_dense: &CellSet, learn: bool) {
        let prev_winners = std::mem::take(&mut self.winner_cells);
        let active_segments = std::mem::take(&mut self.active_segments);
        let matching_segments = std::mem::take(&mut self.matching_segments);

        let (mut ic, mut ia, mut im) = (0usize, 0usize, 0usize);
        loop {
            // Next column of the union of active columns and columns owning active/matching segments.
            let mut column = u32::MAX;
            if ic < active_columns.len() {
                column = column.min(active_columns[ic]);
            }
            if ia < active_segments.len() {
                column = column.min(self.column_of_segment(active_segments[ia]));
            }
            if im < matching_segments.len() {
                column = column.min(self.column_of_segment(matching_segments[im]));
            }
            if column == u32::MAX {
                break;
            }
            let is_active = ic < active_columns.len() && active_columns[ic] == column;
            if is_active {
                ic += 1;
            }
            let a0 = ia;
            while ia < active_segments.len() && self.column_of_segment(active_segments[ia]) == column {
                ia += 1;
            }
            let m0 = im;
            while im < matching_segments.len() && self.column_of_segment(matching_segments[im]) == column {
                im += 1;
            }
            if is_active {
                if ia > a0 {
                    self.activate_predicted_column(&active_segments[a0..ia], prev_active_dense, &prev_winners, learn);
                } else {
                    self.burst_column(column, &matching_segments[m0..im], prev_active_dense, &prev_winners, learn);
                }
            } else if learn && self.params.predicted_segment_decrement > 0.0 {
                let dec = self.params.predicted_segment_decrement;
                for &segment in &matching_segments[m0..im] {
                    self.adapt_segment(segment, prev_active_dense, -dec, 0.0);
                }
            }
        }
    }

    fn activate_predicted_column(
        &mut self,
        column_active_segments: &[u32],
        prev_active_dense: &CellSet,
        prev_winners: &[u32],
        learn: bool,
    ) {
        let mut i = 0;
        while i < column_active_segments.len() {
            let cell = self.segments[column_active_segments[i] as usize].cell;
            self.active_cells.push(cell);
            self.winner_cells.push(cell);
            while i < column_active_segments.len() && self.segments[column_active_segments[i] as usize].cell == cell {
                let segment = column_active_segments[i];
                if learn {
                    self.reinforce_segment(segment, prev_active_dense, prev_winners);
                }
                i += 1;
            }
        }
    }

    /// Learning on a segment that (correctly) predicted or best matched: adapt it to the previous active
    /// cells, then grow synapses up to `max_new_synapse_count` active potential ones.
    fn reinforce_segment(&mut self, segment: u32, prev_active_dense: &CellSet, prev_winners: &[u32]) {
        let (inc, dec) = (self.params.permanence_increment, self.params.permanence_decrement);
        self.adapt_segment(segment, prev_active_dense, inc, dec);
        let desired = self.params.max_new_synapse_count as i64 - self.num_active_potential[segment as usize] as i64;
        if desired > 0 {
            self.grow_synapses(segment, desired as usize, prev_winners);
        }
    }

    fn burst_column(
        &mut self,
        column: u32,
        column_matching_segments: &[u32],
        prev_active_dense: &CellSet,
        prev_winners: &[u32],
        learn: bool,
    ) {
        let start = column * self.params.cells_per_column;
        let end = start + self.params.cells_per_column;
        self.active_cells.extend(start..end);

        // First segment with the largest active potential count.
        let mut best: Option<u32> = None;
        for &segment in column_matching_segments {
            match best {
                Some(b) if self.num_active_potential[segment as usize] <= self.num_active_potential[b as usize] => {}
                _ => best = Some(segment),
            }
        }
        let winner = match best {
            Some(segment) => self.segments[segment as usize].cell,
            None => self.least_used_cell(start, end),
        };
        self.winner_cells.push(winner);

        if !learn {
            return;
        }
        match best {
            Some(segment) => self.reinforce_segment(segment, prev_active_dense, prev_winners),
            None => {
                let n = (self.params.max_new_synapse_count as usize).min(prev_winners.len());
                if n > 0 {
                    let segment = self.create_segment(winner);
                    self.grow_synapses(segment, n, prev_winners);
                }
            }
        }
    }

    /// Among the cells of a column, one with the fewest segments; ties broken by the RNG in cell order.
    fn least_used_cell(&mut self, start: u32, end: u32) -> u32 {
        let mut min = usize::MAX;
        let mut tied = 0u32;
        for cell in start..end {
            let n = cell_list(&self.cell_segments, cell).len();
            if n < min {
                min = n;
                tied = 1;
            } else if n == min {
                tied += 1;
            }
        }
        let pick = self.rng.get_uint32(tied);
        let mut idx = 0;
        for cell in start..end {
            if cell_list(&self.cell_segments, cell).len() == min {
                if idx == pick {
                    return cell;
                }
                idx += 1;
            }
        }
        unreachable!("least_used_cell: tie index out of range")
    }

    /// Reinforce synapses from previously active cells, weaken the others; destroy synapses that fall
    /// below EPSILON and the segment if it loses all of them.
    fn adapt_segment(&mut self, segment: u32, prev_active_dense: &CellSet, increment: f32, decrement: f32) {
        let mut i = 0;
        while i < self.segments[segment as usize].synapses.len() {
            let id = self.segments[segment as usize].synapses[i];
            let syn = &mut self.synapses[id as usize];
            let mut permanence = syn.permanence;
            if prev_active_dense.contains(syn.presynaptic_cell) {
                permanence += increment;
            } else {
                permanence -= decrement;
            }
            permanence = permanence.clamp(0.0, 1.0);
            if permanence < EPSILON {
                self.destroy_synapse(id);
            } else {
                syn.permanence = permanence;
                i += 1;
            }
        }
        if self.segments[segment as usize].synapses.is_empty() {
            self.destroy_segment(segment);
        }
    }

    /// Grow up to `desired` synapses to previous winner cells the segment does not yet connect to,
    /// first evicting weak synapses if the segment would exceed its synapse limit.
    fn grow_synapses(&mut self, segment: u32, desired: usize, prev_winners: &[u32]) {
        if !self.segments[segment as usize].live {
            // adapt_segment removed its last synapse (cannot happen for active or matching segments,
            // whose active synapses are reinforced); nothing to grow on.
            return;
        }
        let mut candidates: Vec<u32> = prev_winners.to_vec();
        for &id in &self.segments[segment as usize].synapses {
            let pre = self.synapses[id as usize].presynaptic_cell;
            if let Ok(pos) = candidates.binary_search(&pre) {
                candidates.remove(pos);
            }
        }
        let n_actual = desired.min(candidates.len());
        let max = self.params.max_synapses_per_segment as usize;
        let current = self.segments[segment as usize].synapses.len();
        if current + n_actual > max {
            self.destroy_min_permanence_synapses(segment, current + n_actual - max, prev_winners);
        }
        let room = max.saturating_sub(self.segments[segment as usize].synapses.len());
        for _ in 0..n_actual.min(room) {
            let i = self.rng.get_uint32(candidates.len() as u32) as usize;
            let pre = candidates.remove(i);
            self.create_synapse(segment, pre, self.params.initial_permanence);
        }
    }

    fn destroy_min_permanence_synapses(&mut self, segment: u32, n_destroy: usize, exclude: &[u32]) {
        let mut candidates: Vec<u32> = self.segments[segment as usize]
            .synapses
            .iter()
            .copied()
            .filter(|&id| exclude.binary_search(&self.synapses[id as usize].presynaptic_cell).is_err())
            .collect();
        for _ in 0..n_destroy {
            if candidates.is_empty() {
                break;
            }
            let mut min_perm = f32::MAX;
            let mut min_pos = 0;
            for (pos, &id) in candidates.iter().enumerate() {
                let p = self.synapses[id as usize].permanence;
                if p < min_perm - EPSILON {
                    min_perm = p;
                    min_pos = pos;
                }
            }
            let id = candidates.remove(min_pos);
            self.destroy_synapse(id);
        }
    }

    fn create_segment(&mut self, cell: u32) -> u32 {
        while cell_list(&self.cell_segments, cell).len() >= self.params.max_segments_per_cell as usize {
            // Least recently used segment; the first one on ties.
            let list = cell_list(&self.cell_segments, cell);
            let mut lru = list[0];
            for &s in &list[1..] {
                if self.segments[s as usize].last_used_iteration < self.segments[lru as usize].last_used_iteration {
                    lru = s;
                }
            }
            self.destroy_segment(lru);
        }
        let data = Segment {
            cell,
            ordinal: self.next_ordinal,
            synapses: Vec::new(),
            last_used_iteration: self.iteration,
            live: true,
        };
        self.next_ordinal += 1;
        let id = store_in_slot(&mut self.segments, &mut self.free_segments, data);
        self.cell_segments.entry(cell).or_default().push(id);
        self.num_segments += 1;
        id
    }

    fn destroy_segment(&mut self, segment: u32) {
        while let Some(&id) = self.segments[segment as usize].synapses.last() {
            self.destroy_synapse(id);
        }
        let cell = self.segments[segment as usize].cell;
        remove_from_list(&mut self.cell_segments, cell, segment, true);
        self.segments[segment as usize].live = false;
        self.free_segments.push(segment);
        self.num_segments -= 1;
    }

    fn create_synapse(&mut self, segment: u32, presynaptic_cell: u32, permanence: f32) {
        let data = Synapse { presynaptic_cell, segment, permanence };
        let id = store_in_slot(&mut self.synapses, &mut self.free_synapses, data);
        self.segments[segment as usize].synapses.push(id);
        self.presynaptic.entry(presynaptic_cell).or_default().push(id);
        self.num_synapses += 1;
    }

    fn destroy_synapse(&mut self, id: u32) {
        let Synapse { presynaptic_cell, segment, .. } = self.synapses[id as usize];
        let list = &mut self.segments[segment as usize].synapses;
        if let Some(pos) = list.iter().position(|&s| s == id) {
            list.remove(pos);
        }
        remove_from_list(&mut self.presynaptic, presynaptic_cell, id, false);
        self.free_synapses.push(id);
        self.num_synapses -= 1;
    }

    /// Count active synapses per segment over the new active cells and derive the active and
    /// matching segments.
    fn activate_dendrites(&mut self, learn: bool) {
        let slots = self.segments.len();
        self.num_active_potential.clear();
        self.num_active_potential.resize(slots, 0);
        self.num_active_connected.clear();
        self.num_active_connected.resize(slots, 0);
        let threshold = self.params.connected_permanence - EPSILON;
        let mut touched: Vec<u32> = Vec::new();
        for &cell in &self.active_cells {
            for &id in cell_list(&self.presynaptic, cell) {
                let syn = &self.synapses[id as usize];
                let s = syn.segment as usize;
                if self.num_active_potential[s] == 0 {
                    touched.push(syn.segment);
                }
                self.num_active_potential[s] += 1;
                if syn.permanence >= threshold {
                    self.num_active_connected[s] += 1;
                }
            }
        }
        let mut active = Vec::new();
        let mut matching = Vec::new();
        for &s in &touched {
            if self.num_active_connected[s as usize] >= self.params.activation_threshold {
                active.push(s);
            }
            if self.num_active_potential[s as usize] >= self.params.min_threshold {
                matching.push(s);
            }
        }
        let segments = &self.segments;
        let key = |s: &u32| (segments[*s as usize].cell, segments[*s as usize].ordinal);
        active.sort_unstable_by_key(key);
        matching.sort_unstable_by_key(key);
        if learn {
            for &s in &active {
                self.segments[s as usize].last_used_iteration = self.iteration;
            }
            self.iteration += 1;
        }
        self.active_segments = active;
        self.matching_segments = matching;
    }

    /// NuPIC's `reset()`: forgets the current sequence (active and winner cells, active and matching
    /// segments); learned segments stay.
    pub fn reset(&mut self) {
        self.active_cells.clear();
        self.winner_cells.clear();
        self.active_segments.clear();
        self.matching_segments.clear();
    }

    /// Columns containing at least one predictive cell (a cell with an active segment) after the
    /// latest compute, ascending.
    pub fn predicted_columns(&self, out: &mut Vec<u32>) {
        out.clear();
        for &s in &self.active_segments {
            let column = self.column_of_segment(s);
            if out.last() != Some(&column) {
                out.push(column);
            }
        }
    }

    /// Predictive cells (owners of active segments) after the latest compute, ascending.
    pub fn predictive_cells(&self, out: &mut Vec<u32>) {
        out.clear();
        for &s in &self.active_segments {
            let cell = self.segments[s as usize].cell;
            if out.last() != Some(&cell) {
                out.push(cell);
            }
        }
    }

    /// Active cells (flat index column * cells_per_column + cell) of the latest compute, ascending.
    pub fn active_cells(&self, out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.active_cells);
    }

    /// Winner cells of the latest compute, ascending.
    pub fn winner_cells(&self, out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.winner_cells);
    }

    /// Number of live segments over all cells.
    pub fn num_segments(&self) -> usize {
        self.num_segments
    }

    /// Number of live synapses over all segments.
    pub fn num_synapses(&self) -> usize {
        self.num_synapses
    }

    /// Approximate heap bytes held by the connections and activity state.
    pub fn memory_bytes(&self) -> usize {
        let lists = |m: &CellMap| m.capacity() * (4 + 24 + 8) + m.values().map(|v| v.capacity() * 4).sum::<usize>();
        self.segments.capacity() * std::mem::size_of::<Segment>()
            + self.segments.iter().map(|s| s.synapses.capacity() * 4).sum::<usize>()
            + self.synapses.capacity() * std::mem::size_of::<Synapse>()
            + (self.free_segments.capacity() + self.free_synapses.capacity()) * 4
            + lists(&self.cell_segments)
            + lists(&self.presynaptic)
            + (self.active_cells.capacity() + self.winner_cells.capacity()) * 4
            + (self.active_segments.capacity() + self.matching_segments.capacity()) * 4
            + (self.num_active_potential.capacity() + self.num_active_connected.capacity()) * 4
    }
}

/// Stores `value` in the most recently freed slot of `slots` (NuPIC reuses ids the same way), or
/// appends it; returns its id.
fn store_in_slot<T>(slots: &mut Vec<T>, free: &mut Vec<u32>, value: T) -> u32 {
    match free.pop() {
        Some(id) => {
            slots[id as usize] = value;
            id
        }
        None => {
            slots.push(value);
            (slots.len() - 1) as u32
        }
    }
}
