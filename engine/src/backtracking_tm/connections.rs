//! Segment and synapse storage of the backtracking TM (nupic.core Cells4 layout, kept sparse).
//!
//! Every segment lives in one global slab; a segment keeps the (cell, slot) it occupies in its cell.
//! Synapses live in a pool of blocks sized to each segment's synapse count (see `synapse_pool`):
//! one array per size, its blocks reused as segments come and go, so learning rarely allocates.
//! Cells reuse released slots last-released-first, as Cells4 does, so "first segment within a cell"
//! tie-breaks follow C++ slot order. Forward lists (source cell -> segments it feeds) make activity
//! counting proportional to the number of active cells.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::chunked::Chunked;
use super::forward::{Forward, ForwardLists, ListRange, SegmentId};
use super::permanence::{PermanenceTable, CAPACITY, DELETED};
use super::synapse_pool::{Placement, SynapsePool};
use crate::paged::Paged;

/// Marks "no segment" in links and updates.
pub(super) const NONE: u32 = u32::MAX;

/// Iteration counts at which the duty-cycle alpha changes (Cells4 tiers).
const DUTY_CYCLE_TIERS: [u32; 9] = [0, 100, 320, 1000, 3200, 10_000, 32_000, 100_000, 320_000];
/// Alpha used once the learning iteration exceeds the tier of the same index.
const DUTY_CYCLE_ALPHAS: [f32; 9] = [0.0, 0.0032, 0.0010, 0.00032, 0.00010, 0.000032, 0.000010, 0.0000032, 0.0000010];

/// Ages whose duty-cycle decay is looked up rather than computed.
const DECAY_TABLE_AGES: usize = 1024;

/// `(1 - alpha)^age` in float64 for the alpha of `tier`, as Cells4 computes it with `pow` on every
/// read. Ages below DECAY_TABLE_AGES come from a process-wide table of the same `powf` results (built
/// once), so the value is bit for bit the computed one; `powf` was a twentieth of a default model's time.
fn duty_cycle_decay(tier: usize, age: u32) -> f64 {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    let base = |t: usize| 1.0f64 - DUTY_CYCLE_ALPHAS[t] as f64;
    if (age as usize) < DECAY_TABLE_AGES {
        let table = TABLE.get_or_init(|| {
            (0..DUTY_CYCLE_ALPHAS.len())
                .flat_map(|t| (0..DECAY_TABLE_AGES).map(move |a| base(t).powf(a as f64)))
                .collect()
        });
        table[tier * DECAY_TABLE_AGES + age as usize]
    } else {
        base(tier).powf(age as f64)
    }
}

/// True when `iteration` is one of the duty-cycle tier boundaries.
pub(super) fn at_duty_cycle_tier(iteration: u32) -> bool {
    DUTY_CYCLE_TIERS.contains(&iteration)
}

/// Most cells a TM may have: synapse sources are 16-bit cell indexes.
pub(super) const MAX_CELLS: usize = 1 << 16;

/// One synapse: source cell and permanence (an index into the TM's `PermanenceTable`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Synapse {
    pub src: u16,
    pub perm: u16,
}

impl Synapse {
    #[inline]
    pub fn source(&self) -> u32 {
        self.src as u32
    }
}

/// Learning iterations up to which a segment's duty cycle is its positive activations / iteration
/// (Cells4's first tier); the cached duty cycle is read only after.
pub(super) const COUNTING_END: u32 = DUTY_CYCLE_TIERS[1];

/// Link value meaning NONE (links are 24-bit: a TM has at most 65,536 cells x 128 slots).
const LINK_NONE: u32 = (1 << 24) - 1;

/// A segment (or a released slot, when it has no synapses). Its synapses are block `link` of the
/// pool's class of its synapse count. 16 bytes, so four share a cache line: Cells4's
/// totalActivations and lastActiveIteration are not kept (nothing reads them without global decay,
/// which must be 0), and one counter holds the positive activations while they are read (up to
/// iteration COUNTING_END) and the iteration of the cached duty cycle after.
#[derive(Clone, Debug)]
pub(super) struct Segment {
    cell: u16,
    /// Slot within the cell (< 256; Cells4 allows at most 128 segments per cell).
    pub slot: u8,
    /// Synapses in use at the start of the segment's block.
    pub n_synapses: u8,
    /// Synapses with permanence >= the connected permanence.
    pub n_connected: u8,
    /// While live: its synapses' block in the pool (see `SynapsePool`). While released: the next
    /// released slot of the same cell (free-slot stack link), or NONE. 24 bits, little-endian.
    link: [u8; 3],
    pub(super) duty_cycle: f32,
    /// Up to learning iteration COUNTING_END: the positive activations. After (see
    /// `Connections::stop_counting`): the iteration `duty_cycle` was computed at.
    pub(super) counter: u32,
}

const _: () = assert!(std::mem::size_of::<Segment>() == 16);

impl Segment {
    /// A live segment of `cell` in `slot` with `n_synapses` synapses, created at learning `iteration`.
    fn new(cell: u32, slot: u8, n_synapses: u8, n_connected: u8, iteration: u32) -> Self {
        let mut seg = Segment {
            cell: cell as u16,
            slot,
            n_synapses,
            n_connected,
            link: [0; 3],
            duty_cycle: (1.0f64 / iteration as f64) as f32,
            counter: if iteration <= COUNTING_END { 1 } else { iteration },
        };
        seg.set_link(NONE);
        seg
    }

    /// A segment as saved: `positive_activations` and `duty_cycle_iteration` are Cells4's (only the
    /// one `counting` selects is used); the synapse counts and link are set later.
    pub(super) fn saved(
        cell: u32,
        slot: u8,
        positive_activations: u32,
        duty_cycle_iteration: u32,
        duty_cycle: f32,
        counting: bool,
    ) -> Self {
        let counter = if counting { positive_activations } else { duty_cycle_iteration };
        Segment { cell: cell as u16, slot, n_synapses: 0, n_connected: 0, link: [0; 3], duty_cycle, counter }
    }

    #[inline]
    pub fn cell(&self) -> u32 {
        self.cell as u32
    }

    #[inline]
    pub fn link(&self) -> u32 {
        let [a, b, c] = self.link;
        match u32::from_le_bytes([a, b, c, 0]) {
            LINK_NONE => NONE,
            link => link,
        }
    }

    #[inline]
    pub(super) fn set_link(&mut self, link: u32) {
        let link = if link == NONE { LINK_NONE } else { link };
        assert!(link <= LINK_NONE, "segment link {link} needs more than 24 bits");
        let [a, b, c, _] = link.to_le_bytes();
        self.link = [a, b, c];
    }

    /// Positive-activation duty cycle in float32 (Cells4 `Segment::dutyCycle`); caches unless read-only.
    pub fn duty_cycle(&mut self, iteration: u32, active: bool, read_only: bool) -> f32 {
        if iteration <= COUNTING_END {
            let dc = self.counter as f32 / iteration as f32;
            if !read_only {
                self.duty_cycle = dc;
            }
            return dc;
        }
        let age = iteration - self.counter;
        if age == 0 && !active {
            return self.duty_cycle;
        }
        let tier = (1..DUTY_CYCLE_TIERS.len()).rev().find(|&t| iteration > DUTY_CYCLE_TIERS[t]).unwrap_or(0);
        let alpha = DUTY_CYCLE_ALPHAS[tier];
        let mut dc = duty_cycle_decay(tier, age) as f32 * self.duty_cycle;
        if active {
            dc += alpha;
        }
        if !read_only {
            self.duty_cycle = dc;
            self.counter = iteration;
        }
        dc
    }

    /// Counts a positive activation at learning `iteration` (needed only while counting).
    fn activated(&mut self, iteration: u32) {
        if iteration <= COUNTING_END {
            self.counter += 1;
        }
    }

    /// False for a released slot.
    #[inline]
    pub fn is_live(&self) -> bool {
        self.n_synapses > 0
    }
}

/// Permanence arithmetic of one TM (float32 values as Cells4 holds them).
#[derive(Clone, Copy, Debug)]
pub(super) struct Plasticity {
    pub initial: f32,
    pub increment: f32,
    pub decrement: f32,
    pub max: f32,
    pub connected: f32,
    pub max_synapses: usize,
}

/// A set of cells (or columns) as a bitmap, for membership tests against segment synapses and for
/// reading a set back in ascending order.
#[derive(Clone, Debug, Default)]
pub(super) struct CellMarks {
    bits: Vec<u64>,
}

impl CellMarks {
    /// Marks every cell of `cells` (the bitmap must be clear before).
    #[inline]
    pub fn mark(&mut self, cells: &[u32], n_cells: usize) {
        if self.bits.len() * 64 < n_cells {
            self.bits.resize(n_cells.div_ceil(64), 0);
        }
        for &c in cells {
            self.bits[(c >> 6) as usize] |= 1u64 << (c & 63);
        }
    }

    /// Clears the marks set by `mark(cells)`.
    pub fn unmark(&mut self, cells: &[u32]) {
        for &c in cells {
            self.bits[(c >> 6) as usize] &= !(1u64 << (c & 63));
        }
    }

    #[inline]
    pub fn get(&self, cell: u32) -> bool {
        self.bits[(cell >> 6) as usize] & (1u64 << (cell & 63)) != 0
    }

    /// Calls `f` with every marked cell in ascending order, clearing the marks.
    pub fn drain(&mut self, mut f: impl FnMut(u32)) {
        for (w, word) in self.bits.iter_mut().enumerate() {
            while *word != 0 {
                f(w as u32 * 64 + word.trailing_zeros());
                *word &= *word - 1;
            }
        }
    }
}

/// Working memory of forward propagation (scratch, never serialized): one counter per segment,
/// all zero between calls. A byte is enough: a segment has at most 255 synapses, from distinct
/// cells, so no count exceeds 255; and byte counters keep the array in the first-level cache.
#[derive(Clone, Debug, Default)]
pub(super) struct Activity {
    counts: Vec<u8>,
    lists: Vec<ListRange>,
}

impl Activity {
    /// Marks segment `s` (its counter doubles as a flag between propagations); false if it already was.
    pub fn flag(&mut self, s: u32, n_segments: usize) -> bool {
        if self.counts.len() < n_segments {
            self.counts.resize(n_segments, 0);
        }
        let was = self.counts[s as usize] != 0;
        self.counts[s as usize] = 1;
        !was
    }

    /// Clears the mark of segment `s`; returns whether it was marked.
    pub fn unflag(&mut self, s: u32) -> bool {
        match self.counts.get_mut(s as usize) {
            Some(c) if *c != 0 => {
                *c = 0;
                true
            }
            _ => false,
        }
    }
}

/// All segments of the TM with their slots, free-slot stacks, permanence table and forward lists.
/// Saved in a compact form (see `checkpoint`) without the forward lists, which are derived data
/// and rebuilt (after validation) on load.
#[derive(Clone, Debug)]
pub(super) struct Connections {
    pub segments: Chunked<Segment>,
    /// Each live segment's synapses, sorted by source cell, in block `link` of the class of its size.
    pool: SynapsePool,
    /// Per cell: slots ever allocated (Cells4 `Cell::size()`, released slots included; <= 128).
    /// Paged: a young model's segments lie on the cells of a few hundred columns.
    pub(super) slot_count: Paged<u8>,
    /// Cells with released slots: segment id of the most recently released one (top of the
    /// cell's free stack). Few cells have one, so a map is much smaller than a per-cell table.
    pub(super) free_top: BTreeMap<u32, u32>,
    pub(super) perms: PermanenceTable,
    pub(super) forward: Forward,
    live_segments: usize,
    live_synapses: usize,
}

impl Connections {
    /// Empty connections for `n_columns` x `cells_per_column` cells (at most `MAX_CELLS`).
    pub fn new(n_columns: usize, cells_per_column: u32, p: &Plasticity) -> Result<Self, String> {
        let n_cells = n_columns * cells_per_column as usize;
        if n_cells > MAX_CELLS {
            return Err(format!(
                "number_of_cols * cells_per_column = {n_cells} exceeds the supported {MAX_CELLS} cells"
            ));
        }
        let perm_params = [p.initial, p.increment, p.decrement, p.max, p.connected];
        if !perm_params.iter().all(|v| v.is_finite()) {
            return Err("permanence parameters must be finite".into());
        }
        Ok(Connections {
            segments: Chunked::default(),
            pool: SynapsePool::new(p.max_synapses),
            slot_count: Paged::with_len(n_cells),
            free_top: BTreeMap::new(),
            perms: PermanenceTable::new(perm_params),
            forward: Forward::new(n_columns, cells_per_column),
            live_segments: 0,
            live_synapses: 0,
        })
    }

    /// Assembles loaded parts (already validated) and rebuilds the forward lists and counts.
    pub(super) fn from_parts(
        segments: Chunked<Segment>,
        pool: SynapsePool,
        slot_count: Vec<u8>,
        free_top: BTreeMap<u32, u32>,
        perms: PermanenceTable,
        cells_per_column: u32,
    ) -> Self {
        let n_columns = slot_count.len() / cells_per_column as usize;
        let mut paged = Paged::with_len(slot_count.len());
        for (cell, &n) in slot_count.iter().enumerate().filter(|(_, &n)| n > 0) {
            paged.set(cell, n);
        }
        let forward = Forward::build(n_columns, cells_per_column, segments.len(), |visit| {
            for (id, seg) in segments.iter().enumerate() {
                for &src in pool.sources(seg.n_synapses as usize, seg.link()) {
                    visit(src as u32, id as u32);
                }
            }
        });
        let live_segments = segments.iter().filter(|s| s.is_live()).count();
        let live_synapses = segments.iter().map(|s| s.n_synapses as usize).sum();
        Connections { segments, pool, slot_count: paged, free_top, perms, forward, live_segments, live_synapses }
    }

    /// Synapses of segment `id`, sorted by source cell (none for a released slot).
    #[inline]
    pub fn synapses(&self, id: u32) -> impl Iterator<Item = Synapse> + '_ {
        let seg = &self.segments[id as usize];
        self.pool.synapses(seg.n_synapses as usize, seg.link())
    }

    /// Source cells of segment `id`'s synapses, ascending.
    #[inline]
    pub fn sources(&self, id: u32) -> &[u16] {
        let seg = &self.segments[id as usize];
        self.pool.sources(seg.n_synapses as usize, seg.link())
    }

    /// The most synapses a segment may have.
    pub fn max_synapses(&self) -> usize {
        self.pool.max_synapses()
    }

    /// Number of connected synapses of segment `id` whose source is marked in `active`.
    pub fn connected_active(&self, id: u32, active: &CellMarks) -> u32 {
        let perms = &self.perms;
        let seg = &self.segments[id as usize];
        self.pool
            .count(seg.n_synapses as usize, seg.link(), |src, perm| perms.is_connected(perm) & active.get(src as u32))
            as u32
    }

    pub fn num_segments(&self) -> usize {
        self.live_segments
    }

    pub fn num_synapses(&self) -> usize {
        self.live_synapses
    }

    /// Approximate heap bytes held (capacities, not counting allocator overhead).
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let segments = self.segments.memory_bytes() + self.pool.memory_bytes();
        segments
            + self.forward.memory_bytes()
            + self.perms.memory_bytes()
            + self.slot_count.heap_bytes()
            + self.free_top.len() * 3 * size_of::<u64>()
    }

    /// Slots ever allocated on `cell`.
    pub fn slot_count(&self, cell: u32) -> u32 {
        self.slot_count.get(cell as usize) as u32
    }

    /// Finds the segments with at least `threshold` synapses (permanence ignored) whose source is in
    /// `cells`, as (segment id, activity) pairs in `out`, unordered.
    pub fn propagate(&self, cells: &[u32], threshold: u32, activity: &mut Activity, out: &mut Vec<(u32, u8)>) {
        out.clear();
        let n_segments = self.segments.len();
        let whole_words = n_segments.next_multiple_of(COUNTER_WORD);
        if activity.counts.len() < whole_words {
            activity.counts.resize(whole_words, 0);
        }
        match &self.forward {
            Forward::Narrow(f) => propagate_in(f, cells, threshold, n_segments, activity, out),
            Forward::Wide(f) => propagate_in(f, cells, threshold, n_segments, activity, out),
        }
    }

    /// Ends the counting of positive activations (once, at learning iteration COUNTING_END + 1): every
    /// live segment's counter becomes the iteration of its cached duty cycle, which is COUNTING_END, as
    /// the refresh at that tier boundary and every later change in that iteration cached it.
    pub fn stop_counting(&mut self) {
        for seg in self.segments.iter_mut().filter(|s| s.is_live()) {
            seg.counter = COUNTING_END;
        }
    }

    /// Refreshes the duty-cycle cache of every live segment (done at tier boundaries).
    pub fn refresh_duty_cycles(&mut self, iteration: u32) {
        for seg in self.segments.iter_mut().filter(|s| s.is_live()) {
            seg.duty_cycle(iteration, false, false);
        }
    }

    /// Creates a segment on `cell` with synapses from the sorted `sources`, reusing the most recently
    /// released slot of the cell if there is one. Returns the segment id.
    pub fn create_segment(&mut self, cell: u32, sources: &[u32], iteration: u32) -> u32 {
        debug_assert!(!sources.is_empty() && sources.len() <= self.pool.max_synapses());
        let perm = self.perms.initial();
        let n_connected = if self.perms.is_connected(perm) { sources.len() as u8 } else { 0 };
        let fresh = |slot: u8| Segment::new(cell, slot, sources.len() as u8, n_connected, iteration);
        let id = if let Some(&top) = self.free_top.get(&cell) {
            let seg = &mut self.segments[top as usize];
            if seg.link() == NONE {
                self.free_top.remove(&cell);
            } else {
                self.free_top.insert(cell, seg.link());
            }
            *seg = fresh(seg.slot);
            top
        } else {
            let slot = self.slot_count.get(cell as usize);
            self.slot_count.set(cell as usize, slot.saturating_add(1));
            self.segments.push(fresh(slot));
            (self.segments.len() - 1) as u32
        };
        let placement = self.pool.write_uniform(id, 0, NONE, sources, perm);
        self.record(id, placement);
        for &src in sources {
            self.forward.add(src, id);
        }
        self.live_segments += 1;
        self.live_synapses += sources.len();
        id
    }

    /// Deletes every synapse of segment `id` and puts its slot on its cell's free stack.
    pub fn release_segment(&mut self, id: u32) {
        let (n, block) = (self.segments[id as usize].n_synapses as usize, self.segments[id as usize].link());
        for &src in self.pool.sources(n, block) {
            self.forward.remove(src as u32, id);
        }
        let placement = self.pool.write(id, n, block, &[]);
        self.record(id, placement);
        self.live_synapses -= n;
        self.release_slot(id);
    }

    fn release_slot(&mut self, id: u32) {
        let seg = &mut self.segments[id as usize];
        seg.n_synapses = 0;
        seg.n_connected = 0;
        seg.counter = 0;
        let next = self.free_top.insert(seg.cell(), id).unwrap_or(NONE);
        seg.set_link(next);
        self.live_segments -= 1;
    }

    /// Notes in the segments where a pool write left segment `id`'s synapses and those it moved.
    fn record(&mut self, id: u32, placement: Placement) {
        if let Some((moved, block)) = placement.moved {
            self.segments[moved as usize].set_link(block);
        }
        if let Some(block) = placement.block {
            self.segments[id as usize].set_link(block);
        }
    }

    /// Applies a segment update to an existing segment (Cells4 `adaptSegment`): synapses from the
    /// update's sorted `sources` are reinforced, the others weakened (deleted at <= 0), surplus
    /// synapses freed (weakest inactive first), missing sources added at the initial permanence.
    /// An emptied segment is released. A released segment is left alone.
    pub fn adapt_segment(
        &mut self,
        id: u32,
        sources: &[u32],
        p: &Plasticity,
        iteration: u32,
        scratch: &mut AdaptScratch,
    ) {
        if !self.segments[id as usize].is_live() {
            return;
        }
        self.make_room_for_permanences();
        let seg = &mut self.segments[id as usize];
        seg.activated(iteration);
        seg.duty_cycle(iteration, true, false);

        let AdaptScratch { kept, additions, dropped, candidates, merged } = scratch;
        kept.clear();
        additions.clear();
        dropped.clear();
        // Walk the segment and the update together (both sorted by source cell).
        let mut j = 0;
        let perms = &mut self.perms;
        let max_synapses = self.pool.max_synapses();
        for syn in self.pool.synapses(seg.n_synapses as usize, seg.link()) {
            let src = syn.source();
            while j < sources.len() && sources[j] < src {
                additions.push(sources[j]);
                j += 1;
            }
            if j < sources.len() && sources[j] == src {
                j += 1;
                kept.push((Synapse { src: syn.src, perm: perms.up(syn.perm) }, true));
            } else {
                let perm = perms.down(syn.perm);
                if perm == DELETED {
                    dropped.push(src);
                } else {
                    kept.push((Synapse { src: syn.src, perm }, false));
                }
            }
        }
        additions.extend_from_slice(&sources[j..]);

        if kept.len() + additions.len() > max_synapses {
            let n_free = kept.len() + additions.len() - max_synapses;
            // Inactive synapses first (by permanence, segment order on ties); active ones only if
            // needed, ranked after every inactive one.
            candidates.clear();
            candidates.extend(kept.iter().enumerate().filter(|(_, k)| !k.1).map(|(i, k)| (i, perms.value(k.0.perm))));
            if candidates.len() < n_free {
                let active = kept.iter().enumerate().filter(|(_, k)| k.1);
                candidates.extend(active.map(|(i, k)| (i, perms.value(k.0.perm) + p.max)));
            }
            candidates.sort_by(|a, b| a.1.partial_cmp(&b.1).expect("permanence is never NaN"));
            for &(i, _) in candidates.iter().take(n_free) {
                dropped.push(kept[i].0.source());
                kept[i].0.perm = DELETED; // marks the freed synapse
            }
        }

        merged.clear();
        merged.extend(kept.iter().filter(|k| k.0.perm != DELETED).map(|k| k.0));
        if !additions.is_empty() {
            let initial = perms.initial();
            merged.extend(additions.iter().map(|&src| Synapse { src: src as u16, perm: initial }));
            merged.sort_unstable_by_key(|s| s.src);
        }
        let seg = &self.segments[id as usize];
        let (before, after) = (seg.n_synapses as usize, merged.len());
        let placement = self.pool.write(id, before, seg.link(), merged);
        self.record(id, placement);
        let n_connected = merged.iter().filter(|s| self.perms.is_connected(s.perm)).count() as u8;
        let seg = &mut self.segments[id as usize];
        seg.n_synapses = after as u8;
        seg.n_connected = n_connected;
        let empty = after == 0;
        self.live_synapses = self.live_synapses + after - before;
        for &src in additions.iter() {
            self.forward.add(src, id);
        }
        for &src in dropped.iter() {
            self.forward.remove(src, id);
        }
        if empty {
            self.release_slot(id);
        }
    }

    /// Before an adaptation (which may intern up to one new permanence per synapse): makes sure the
    /// table has room for them (the pool widens its indexes itself when a write needs it). A full
    /// table is compacted to the values in use, which must then leave it at most half full, so
    /// compactions stay rare.
    fn make_room_for_permanences(&mut self) {
        if self.perms.len() + self.pool.max_synapses() <= CAPACITY {
            return;
        }
        self.compact_permanences();
        assert!(
            (self.perms.len() + self.pool.max_synapses()) * 2 <= CAPACITY,
            "more than {} distinct permanences in use; choose coarser permanence steps",
            CAPACITY / 2 - self.pool.max_synapses()
        );
    }

    /// Rebuilds the permanence table from the values live synapses use (keeping their order) and
    /// renumbers the synapses. Values do not change.
    fn compact_permanences(&mut self) {
        let mut used = vec![false; self.perms.len()];
        used[self.perms.initial() as usize] = true;
        for id in 0..self.segments.len() as u32 {
            for syn in self.synapses(id) {
                used[syn.perm as usize] = true;
            }
        }
        let mut renumber = vec![DELETED; used.len()];
        let mut kept = Vec::new();
        for (i, _) in used.iter().enumerate().filter(|(_, &u)| u) {
            renumber[i] = kept.len() as u16;
            kept.push(self.perms.values()[i]);
        }
        self.perms = PermanenceTable::with_values(self.perms.params(), &kept).expect("values taken from a valid table");
        let mut block = Vec::with_capacity(self.pool.max_synapses());
        for (id, seg) in self.segments.iter().enumerate() {
            block.clear();
            let synapses = self.pool.synapses(seg.n_synapses as usize, seg.link());
            block.extend(synapses.map(|s| Synapse { src: s.src, perm: renumber[s.perm as usize] }));
            // Same size, same block: nothing moves.
            let _ = self.pool.write(id as u32, block.len(), seg.link(), &block);
        }
    }
}

/// `Connections::propagate` over forward lists with segment ids of type `T`.
fn propagate_in<T: SegmentId>(
    forward: &ForwardLists<T>,
    cells: &[u32],
    threshold: u32,
    n_segments: usize,
    activity: &mut Activity,
    out: &mut Vec<(u32, u8)>,
) {
    let lists = &mut activity.lists;
    forward.lists_of(cells, lists);
    // A touched segment has a count of at least 1, so threshold 0 selects the same ones as 1.
    let threshold = threshold.max(1);
    let visits: usize = lists.iter().map(ListRange::len).sum();
    // Whole counter words: the tail beyond n_segments stays zero.
    let counts = &mut activity.counts[..n_segments.next_multiple_of(COUNTER_WORD)];
    if visits * 8 >= n_segments && threshold <= 128 {
        // Many visits: count without looking, then collect and clear the counters word by word.
        for list in lists.iter() {
            for &s in list.get(forward) {
                debug_assert!(s.index() < n_segments);
                // SAFETY: forward lists only hold ids of existing segments (< n_segments).
                unsafe { *counts.get_unchecked_mut(s.index()) += 1 };
            }
        }
        collect_reaching(counts, threshold as u8, out);
        return;
    }
    for list in lists.iter() {
        for &s in list.get(forward) {
            debug_assert!(s.index() < n_segments);
            // SAFETY: as above.
            let count = unsafe { counts.get_unchecked_mut(s.index()) };
            *count += 1;
            // Reported once, when the count reaches the threshold; the final count is read below.
            if *count as u32 == threshold {
                out.push((s.index() as u32, 0));
            }
        }
    }
    for entry in out.iter_mut() {
        entry.1 = counts[entry.0 as usize];
    }
    for list in lists.iter() {
        for &s in list.get(forward) {
            // SAFETY: as above.
            unsafe { *counts.get_unchecked_mut(s.index()) = 0 };
        }
    }
}

/// Bytes per word of `collect_reaching`.
const COUNTER_WORD: usize = 8;

/// Appends (index, count) for every counter >= `threshold` (1..=128) to `out`, ascending, and zeroes
/// all counters. Eight counters at a time: a byte b has its high bit set in `(b | 0x80) - threshold`
/// exactly when b >= threshold for b < 128 (no borrow leaves a byte, as b | 0x80 >= threshold), and
/// a byte >= 128 passes on its own high bit.
fn collect_reaching(counts: &mut [u8], threshold: u8, out: &mut Vec<(u32, u8)>) {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let repeated = u64::from_ne_bytes([threshold; COUNTER_WORD]);
    for (w, word) in counts.chunks_exact_mut(COUNTER_WORD).enumerate() {
        let value = u64::from_le_bytes((&*word).try_into().expect("a whole word"));
        // No test for an all-zero word: about half the words are, unpredictably.
        word.fill(0);
        let mut reaching = (((value | HIGH) - repeated) | value) & HIGH;
        while reaching != 0 {
            let bit = reaching.trailing_zeros();
            out.push(((w * COUNTER_WORD) as u32 + bit / 8, (value >> (bit - 7)) as u8));
            reaching &= reaching - 1;
        }
    }
}

/// Reused buffers of `adapt_segment`.
#[derive(Clone, Debug, Default)]
pub(super) struct AdaptScratch {
    kept: Vec<(Synapse, bool)>,
    additions: Vec<u32>,
    dropped: Vec<u32>,
    candidates: Vec<(usize, f32)>,
    merged: Vec<Synapse>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plasticity() -> Plasticity {
        Plasticity { initial: 0.21, increment: 0.1, decrement: 0.1, max: 1.0, connected: 0.3, max_synapses: 4 }
    }

    #[test]
    fn marks_are_read_back_in_ascending_order_and_cleared() {
        let mut marks = CellMarks::default();
        marks.mark(&[130, 3, 64, 3, 63], 200);
        assert!(marks.get(64) && !marks.get(65));
        let mut read = Vec::new();
        marks.drain(|c| read.push(c));
        assert_eq!(read, [3, 63, 64, 130]);
        assert!(![3, 63, 64, 130].iter().any(|&c| marks.get(c)), "drained marks are clear");
    }

    #[test]
    fn collecting_counters_finds_exactly_those_reaching_the_threshold() {
        // Every byte value against every supported threshold, in shuffled words.
        let mut counts: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        let mut x = 7u32;
        for i in (1..counts.len()).rev() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            counts.swap(i, x as usize % (i + 1));
        }
        for threshold in 1..=128u8 {
            let mut work = counts.clone();
            let mut found = Vec::new();
            collect_reaching(&mut work, threshold, &mut found);
            let expected: Vec<(u32, u8)> =
                counts.iter().enumerate().filter(|(_, &c)| c >= threshold).map(|(i, &c)| (i as u32, c)).collect();
            assert_eq!(found, expected, "threshold {threshold}");
            assert!(work.iter().all(|&c| c == 0), "counters are cleared");
        }
    }

    #[test]
    fn propagation_counts_alike_for_few_and_many_active_cells() {
        // A visit per eighth of the segments or more takes the count-then-collect path, fewer the
        // report-at-threshold path; 40 filler segments on cell 31 make the second reachable.
        let mut c = Connections::new(4, 8, &plasticity()).unwrap();
        let a = c.create_segment(9, &[0, 1, 2, 3], 1);
        let b = c.create_segment(17, &[1, 2, 24], 1);
        for _ in 0..40 {
            c.create_segment(8, &[31], 1);
        }
        let (mut act, mut found) = (Activity::default(), Vec::new());
        let all: Vec<u32> = (0..31).collect();
        for (cells, threshold, expected) in [
            (&all[..], 3, vec![(a, 4), (b, 3)]),
            (&[1, 2, 24][..], 3, vec![(b, 3)]),
            (&[1, 2][..], 2, vec![(a, 2), (b, 2)]),
            (&[1, 2][..], 3, vec![]),
        ] {
            c.propagate(cells, threshold, &mut act, &mut found);
            found.sort_unstable();
            assert_eq!(found, expected, "cells {cells:?}, threshold {threshold}");
            assert!(act.counts.iter().all(|&n| n == 0), "counters are clear between propagations");
        }
    }

    #[test]
    fn released_slots_are_reused_last_released_first() {
        let mut c = Connections::new(1, 8, &plasticity()).unwrap();
        let a = c.create_segment(1, &[2, 3], 1);
        let b = c.create_segment(1, &[4], 1);
        let d = c.create_segment(1, &[5], 1);
        c.release_segment(a);
        c.release_segment(d);
        assert_eq!(c.num_segments(), 1);
        let e = c.create_segment(1, &[6], 2);
        assert_eq!((e, c.segments[e as usize].slot), (d, 2));
        let f = c.create_segment(1, &[7], 2);
        assert_eq!((f, c.segments[f as usize].slot), (a, 0));
        assert_eq!(c.slot_count(1), 3);
        assert_eq!(c.segments[b as usize].slot, 1);
        assert_eq!(c.num_synapses(), 3);
    }

    #[test]
    fn adapt_weakens_deletes_frees_and_adds() {
        let mut c = Connections::new(2, 8, &plasticity()).unwrap();
        let s = c.create_segment(0, &[1, 2, 3, 4], 1);
        let mut scratch = AdaptScratch::default();
        // 1 and 3 active: 2 and 4 weakened to 0.11 (float32 0.21 - 0.1).
        c.adapt_segment(s, &[1, 3], &plasticity(), 2, &mut scratch);
        let perms: Vec<f32> = c.synapses(s).map(|x| c.perms.value(x.perm)).collect();
        assert_eq!(perms, vec![0.21f32 + 0.1, 0.21f32 - 0.1, 0.21f32 + 0.1, 0.21f32 - 0.1]);
        assert_eq!(c.segments[s as usize].n_connected, 2, "0.31 >= 0.3 twice");
        // Adding 9 and 10 needs two free slots: the weakest inactive ones (2 and 4) go first.
        c.adapt_segment(s, &[1, 3, 9, 10], &plasticity(), 3, &mut scratch);
        let srcs: Vec<u32> = c.synapses(s).map(|x| x.source()).collect();
        assert_eq!(srcs, vec![1, 3, 9, 10]);
        assert_eq!(c.num_synapses(), 4);
        let (mut act, mut found) = (Activity::default(), Vec::new());
        c.propagate(&[1, 3, 9], 3, &mut act, &mut found);
        assert_eq!(found, vec![(s, 3)]);
        c.propagate(&[2, 4, 9], 1, &mut act, &mut found);
        assert_eq!(found, vec![(s, 1)]);
        // Everything inactive three times in a row: 0.21 -> 0.11 -> 0.01 -> deleted; segment released.
        let t = c.create_segment(5, &[1], 3);
        for it in 4..7 {
            c.adapt_segment(t, &[], &plasticity(), it, &mut scratch);
        }
        assert!(c.sources(t).is_empty());
        assert_eq!(c.num_segments(), 1);
    }

    #[test]
    fn compacting_permanences_keeps_values() {
        let mut c = Connections::new(2, 8, &plasticity()).unwrap();
        let s = c.create_segment(0, &[1, 2, 3], 1);
        let t = c.create_segment(1, &[4, 5], 1);
        let mut scratch = AdaptScratch::default();
        for it in 2..6 {
            c.adapt_segment(s, &[1], &plasticity(), it, &mut scratch);
            c.adapt_segment(t, &[4, 5], &plasticity(), it, &mut scratch);
        }
        let values = |c: &Connections| -> Vec<Vec<f32>> {
            (0..c.segments.len() as u32).map(|g| c.synapses(g).map(|x| c.perms.value(x.perm)).collect()).collect()
        };
        let before = values(&c);
        let n_before = c.perms.len();
        c.compact_permanences();
        assert_eq!(values(&c), before);
        assert!(c.perms.len() < n_before, "values no synapse holds any more are dropped");
        assert_eq!(c.perms.value(c.perms.initial()), 0.21);
    }

    #[test]
    fn many_distinct_permanences_widen_indexes_and_stay_exact() {
        let p =
            Plasticity { initial: 0.5, increment: 0.001, decrement: 0.0007, max: 1.0, connected: 0.6, max_synapses: 4 };
        let mut c = Connections::new(4, 8, &p).unwrap();
        // 512 synapses random-walking on a fine grid: well over 128 distinct live values.
        let segs: Vec<u32> = (0..128).map(|k| c.create_segment(k % 16 + 1, &[20, 21, 22, 23], 1)).collect();
        let mut reference = vec![[0.5f32; 4]; segs.len()];
        let (mut scratch, mut rng) = (AdaptScratch::default(), 12345u32);
        for it in 2..1000 {
            for (k, &s) in segs.iter().enumerate() {
                rng ^= rng << 13;
                rng ^= rng >> 17;
                rng ^= rng << 5;
                if rng >> 31 == 1 {
                    continue; // segments adapted different numbers of times spread the values further
                }
                let active: Vec<u32> = (0..4).filter(|b| rng >> (8 * b) & 1 == 1).map(|b| 20 + b).collect();
                c.adapt_segment(s, &active, &p, it, &mut scratch);
                for (b, v) in reference[k].iter_mut().enumerate() {
                    let step = if active.contains(&(20 + b as u32)) { p.increment } else { -p.decrement };
                    *v = (*v + step).min(p.max);
                }
            }
        }
        assert_eq!(c.pool.max_perm_index(), u16::MAX as usize, "more than 256 values were needed");
        for (k, &s) in segs.iter().enumerate() {
            let got: Vec<u32> = c.synapses(s).map(|x| c.perms.value(x.perm).to_bits()).collect();
            assert_eq!(got, reference[k].map(f32::to_bits).to_vec(), "segment {k}");
            let connected = reference[k].iter().filter(|&&v| v >= p.connected).count();
            assert_eq!(c.segments[s as usize].n_connected as usize, connected);
        }
        let saved = super::super::checkpoint::ConnectionsToSave { conn: &c, counting: true };
        let loaded: super::super::checkpoint::LoadedConnections =
            bincode::deserialize(&bincode::serialize(&saved).unwrap()).unwrap();
        let back = loaded.decode::<bincode::Error>(true).unwrap();
        assert!(segs.iter().all(|&s| back.synapses(s).eq(c.synapses(s))), "16-bit indexes survive a checkpoint");
    }
}
