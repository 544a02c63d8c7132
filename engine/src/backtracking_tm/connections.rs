//! Segment and synapse storage of the backtracking TM (nupic.core Cells4 layout, kept sparse).
//!
//! Every segment lives in one global slab; a segment keeps the (cell, slot) it occupies in its cell.
//! Cells reuse released slots last-released-first, as Cells4 does, so "first segment within a cell"
//! tie-breaks follow C++ slot order. Forward lists (source cell -> segments it feeds) make activity
//! counting proportional to the number of active cells.

use serde::{Deserialize, Serialize};

use super::forward::{ForwardLists, ListRange};

/// Marks "no segment" in links and updates.
pub(super) const NONE: u32 = u32::MAX;

/// Iteration counts at which the duty-cycle alpha changes (Cells4 tiers).
const DUTY_CYCLE_TIERS: [u32; 9] = [0, 100, 320, 1000, 3200, 10_000, 32_000, 100_000, 320_000];
/// Alpha used once the learning iteration exceeds the tier of the same index.
const DUTY_CYCLE_ALPHAS: [f32; 9] =
    [0.0, 0.0032, 0.0010, 0.00032, 0.00010, 0.000032, 0.000010, 0.0000032, 0.0000010];

/// True when `iteration` is one of the duty-cycle tier boundaries.
pub(super) fn at_duty_cycle_tier(iteration: u32) -> bool {
    DUTY_CYCLE_TIERS.contains(&iteration)
}

/// One synapse: source cell and float32 permanence.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub(super) struct Synapse {
    pub src: u32,
    pub perm: f32,
}

/// A segment (or a released slot, when `synapses` is empty).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Segment {
    pub cell: u32,
    /// Slot within the cell (< 256; Cells4 allows at most 128 segments per cell).
    pub slot: u8,
    /// Sorted by source cell; exactly sized.
    pub synapses: Box<[Synapse]>,
    pub positive_activations: u32,
    pub total_activations: u32,
    pub last_active_iteration: u32,
    /// Synapses with permanence >= the connected permanence.
    pub n_connected: u8,
    duty_cycle: f32,
    duty_cycle_iteration: u32,
    /// Next released slot of the same cell (free-slot stack link), or NONE.
    next_free: u32,
}

impl Segment {
    /// Positive-activation duty cycle in float32 (Cells4 `Segment::dutyCycle`); caches unless read-only.
    pub fn duty_cycle(&mut self, iteration: u32, active: bool, read_only: bool) -> f32 {
        if iteration <= DUTY_CYCLE_TIERS[1] {
            let dc = self.positive_activations as f32 / iteration as f32;
            if !read_only {
                self.duty_cycle_iteration = iteration;
                self.duty_cycle = dc;
            }
            return dc;
        }
        let age = iteration - self.duty_cycle_iteration;
        if age == 0 && !active {
            return self.duty_cycle;
        }
        let mut alpha = 0.0f32;
        for tier in (1..DUTY_CYCLE_TIERS.len()).rev() {
            if iteration > DUTY_CYCLE_TIERS[tier] {
                alpha = DUTY_CYCLE_ALPHAS[tier];
                break;
            }
        }
        let mut dc = (1.0f64 - alpha as f64).powf(age as f64) as f32 * self.duty_cycle;
        if active {
            dc += alpha;
        }
        if !read_only {
            self.duty_cycle = dc;
            self.duty_cycle_iteration = iteration;
        }
        dc
    }

    /// Number of synapses with permanence >= `connected` whose source is marked in `active`.
    pub fn connected_active(&self, active: &CellMarks, connected: f32) -> u32 {
        self.synapses.iter().filter(|s| s.perm >= connected && active.get(s.src)).count() as u32
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

/// A set of cells as a bitmap, for membership tests against segment synapses.
#[derive(Clone, Debug, Default)]
pub(super) struct CellMarks {
    bits: Vec<u64>,
}

impl CellMarks {
    /// Marks every cell of `cells` (the bitmap must be clear before).
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
}

/// Working memory of forward propagation (scratch, never serialized): one counter per segment,
/// all zero between calls.
#[derive(Clone, Debug, Default)]
pub(super) struct Activity {
    counts: Vec<u32>,
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

/// All segments of the TM with their slots, free-slot stacks and forward lists. Saved without the
/// forward lists, which are derived data and rebuilt (after validation) on load.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "SavedConnections")]
pub(super) struct Connections {
    pub segments: Vec<Segment>,
    /// Per cell: slots ever allocated (Cells4 `Cell::size()`, released slots included; <= 128).
    slot_count: Vec<u8>,
    /// Per cell: segment id of the most recently released slot (top of the free stack), or NONE.
    free_top: Vec<u32>,
    forward: ForwardLists,
    live_segments: usize,
    live_synapses: usize,
}

/// The serialized form of `Connections`.
#[derive(Serialize, Deserialize)]
struct SavedConnections {
    cells_per_column: u32,
    segments: Vec<Segment>,
    slot_count: Vec<u8>,
    free_top: Vec<u32>,
}

/// Borrowing twin of `SavedConnections` for writing (same encoding).
#[derive(Serialize)]
struct SavedConnectionsRef<'a> {
    cells_per_column: u32,
    segments: &'a [Segment],
    slot_count: &'a [u8],
    free_top: &'a [u32],
}

impl Serialize for Connections {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SavedConnectionsRef {
            cells_per_column: self.forward.cells_per_column(),
            segments: &self.segments,
            slot_count: &self.slot_count,
            free_top: &self.free_top,
        }
        .serialize(serializer)
    }
}

impl TryFrom<SavedConnections> for Connections {
    type Error = String;

    fn try_from(saved: SavedConnections) -> Result<Self, String> {
        let SavedConnections { cells_per_column: cpc, segments, slot_count, free_top } = saved;
        let n_cells = slot_count.len();
        let n_segments = segments.len() as u32;
        if cpc == 0 || n_cells % cpc as usize != 0 || free_top.len() != n_cells {
            return Err("inconsistent cell tables in saved TM connections".into());
        }
        let link_ok = |l: u32| l == NONE || l < n_segments;
        if !free_top.iter().all(|&l| link_ok(l)) {
            return Err("bad free-slot link in saved TM connections".into());
        }
        for seg in &segments {
            let cell_ok = (seg.cell as usize) < n_cells && seg.slot < slot_count[seg.cell as usize];
            let sorted = seg.synapses.windows(2).all(|w| w[0].src < w[1].src);
            let sources_ok = seg.synapses.last().is_none_or(|s| (s.src as usize) < n_cells);
            if !cell_ok || !sorted || !sources_ok || !link_ok(seg.next_free) {
                return Err("bad segment in saved TM connections".into());
            }
        }
        let forward = ForwardLists::build(n_cells / cpc as usize, cpc, |visit| {
            for (id, seg) in segments.iter().enumerate() {
                for syn in seg.synapses.iter() {
                    visit(syn.src, id as u32);
                }
            }
        });
        let live_segments = segments.iter().filter(|s| !s.synapses.is_empty()).count();
        let live_synapses = segments.iter().map(|s| s.synapses.len()).sum();
        Ok(Connections { segments, slot_count, free_top, forward, live_segments, live_synapses })
    }
}

impl Connections {
    pub fn new(n_columns: usize, cells_per_column: u32) -> Self {
        let n_cells = n_columns * cells_per_column as usize;
        Connections {
            segments: Vec::new(),
            slot_count: vec![0; n_cells],
            free_top: vec![NONE; n_cells],
            forward: ForwardLists::new(n_columns, cells_per_column),
            live_segments: 0,
            live_synapses: 0,
        }
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
        let segments = self.segments.capacity() * size_of::<Segment>()
            + self.segments.iter().map(|s| s.synapses.len() * size_of::<Synapse>()).sum::<usize>();
        segments
            + self.forward.memory_bytes()
            + self.slot_count.capacity() * size_of::<u8>()
            + self.free_top.capacity() * size_of::<u32>()
    }

    /// Slots ever allocated on `cell`.
    pub fn slot_count(&self, cell: u32) -> u32 {
        self.slot_count[cell as usize] as u32
    }

    /// Finds the segments with at least `threshold` synapses (permanence ignored) whose source is in
    /// `cells`, as (segment id, activity) pairs in `out`, unordered.
    pub fn propagate(&self, cells: &[u32], threshold: u32, activity: &mut Activity, out: &mut Vec<(u32, u8)>) {
        out.clear();
        let n_segments = self.segments.len();
        if activity.counts.len() < n_segments {
            activity.counts.resize(n_segments, 0);
        }
        let lists = &mut activity.lists;
        self.forward.lists_of(cells, lists);
        let counts = &mut activity.counts[..n_segments];
        for list in lists.iter() {
            for &s in list.get(&self.forward) {
                debug_assert!((s as usize) < n_segments);
                // SAFETY: forward lists only hold ids of existing segments (< n_segments).
                unsafe { *counts.get_unchecked_mut(s as usize) += 1 };
            }
        }
        // Second pass: collect and zero; zeroing on first sight also removes duplicates.
        for list in lists.iter() {
            for &s in list.get(&self.forward) {
                // SAFETY: as above.
                let count = unsafe { counts.get_unchecked_mut(s as usize) };
                if *count >= threshold {
                    out.push((s, *count as u8));
                }
                *count = 0;
            }
        }
    }

    /// Refreshes the duty-cycle cache of every live segment (done at tier boundaries).
    pub fn refresh_duty_cycles(&mut self, iteration: u32) {
        for seg in self.segments.iter_mut().filter(|s| !s.synapses.is_empty()) {
            seg.duty_cycle(iteration, false, false);
        }
    }

    /// Creates a segment on `cell` with synapses from the sorted `sources`, reusing the most recently
    /// released slot of the cell if there is one. Returns the segment id.
    pub fn create_segment(&mut self, cell: u32, sources: &[u32], p: &Plasticity, iteration: u32) -> u32 {
        let synapses: Box<[Synapse]> = sources.iter().map(|&src| Synapse { src, perm: p.initial }).collect();
        let n_connected = if p.initial >= p.connected { sources.len() as u8 } else { 0 };
        let fresh = |slot: u8| Segment {
            cell,
            slot,
            synapses,
            positive_activations: 1,
            total_activations: 1,
            last_active_iteration: iteration,
            n_connected,
            duty_cycle: (1.0f64 / iteration as f64) as f32,
            duty_cycle_iteration: iteration,
            next_free: NONE,
        };
        let top = self.free_top[cell as usize];
        let id = if top != NONE {
            let seg = &mut self.segments[top as usize];
            self.free_top[cell as usize] = seg.next_free;
            *seg = fresh(seg.slot);
            top
        } else {
            let slot = self.slot_count[cell as usize];
            self.slot_count[cell as usize] = self.slot_count[cell as usize].saturating_add(1);
            push_with_small_slack(&mut self.segments, fresh(slot), 8);
            (self.segments.len() - 1) as u32
        };
        for &src in sources {
            self.forward.add(src, id);
        }
        self.live_segments += 1;
        self.live_synapses += sources.len();
        id
    }

    /// Deletes every synapse of segment `id` and puts its slot on its cell's free stack.
    pub fn release_segment(&mut self, id: u32) {
        let synapses = std::mem::take(&mut self.segments[id as usize].synapses);
        for s in synapses.iter() {
            self.forward.remove(s.src, id);
        }
        self.live_synapses -= synapses.len();
        self.release_slot(id);
    }

    fn release_slot(&mut self, id: u32) {
        let seg = &mut self.segments[id as usize];
        seg.synapses = Box::default();
        seg.n_connected = 0;
        seg.total_activations = 0;
        seg.positive_activations = 0;
        seg.next_free = self.free_top[seg.cell as usize];
        self.free_top[seg.cell as usize] = id;
        self.live_segments -= 1;
    }

    /// Applies a segment update to an existing segment (Cells4 `adaptSegment`): synapses from the
    /// update's sorted `sources` are reinforced, the others weakened (deleted at <= 0), surplus
    /// synapses freed (weakest inactive first), missing sources added at the initial permanence.
    /// An emptied segment is released. A released segment is left alone.
    pub fn adapt_segment(&mut self, id: u32, sources: &[u32], p: &Plasticity, iteration: u32, scratch: &mut AdaptScratch) {
        let seg = &mut self.segments[id as usize];
        if seg.synapses.is_empty() {
            return;
        }
        seg.last_active_iteration = iteration;
        seg.positive_activations += 1;
        seg.duty_cycle(iteration, true, false);

        let AdaptScratch { kept, additions, dropped, candidates, merged } = scratch;
        kept.clear();
        additions.clear();
        dropped.clear();
        // Walk the segment and the update together (both sorted by source cell).
        let mut j = 0;
        for syn in &seg.synapses {
            while j < sources.len() && sources[j] < syn.src {
                additions.push(sources[j]);
                j += 1;
            }
            if j < sources.len() && sources[j] == syn.src {
                j += 1;
                let perm = (syn.perm + p.increment).min(p.max);
                kept.push((Synapse { src: syn.src, perm }, true));
            } else {
                let perm = (syn.perm + -p.decrement).min(p.max);
                if perm <= 0.0 {
                    dropped.push(syn.src);
                } else {
                    kept.push((Synapse { src: syn.src, perm }, false));
                }
            }
        }
        additions.extend_from_slice(&sources[j..]);

        if kept.len() + additions.len() > p.max_synapses {
            let n_free = kept.len() + additions.len() - p.max_synapses;
            // Inactive synapses first (by permanence, segment order on ties); active ones only if
            // needed, ranked after every inactive one.
            candidates.clear();
            candidates.extend(kept.iter().enumerate().filter(|(_, k)| !k.1).map(|(i, k)| (i, k.0.perm)));
            if candidates.len() < n_free {
                candidates.extend(kept.iter().enumerate().filter(|(_, k)| k.1).map(|(i, k)| (i, k.0.perm + p.max)));
            }
            candidates.sort_by(|a, b| a.1.partial_cmp(&b.1).expect("permanence is never NaN"));
            for &(i, _) in candidates.iter().take(n_free) {
                dropped.push(kept[i].0.src);
                kept[i].0.perm = f32::NAN; // marks the freed synapse
            }
        }

        merged.clear();
        merged.extend(kept.iter().filter(|k| !k.0.perm.is_nan()).map(|k| k.0));
        if !additions.is_empty() {
            merged.extend(additions.iter().map(|&src| Synapse { src, perm: p.initial }));
            merged.sort_unstable_by_key(|s| s.src);
        }
        let seg = &mut self.segments[id as usize];
        let (before, after) = (seg.synapses.len(), merged.len());
        if before == after {
            seg.synapses.copy_from_slice(merged);
        } else {
            seg.synapses = merged.as_slice().into();
        }
        seg.n_connected = merged.iter().filter(|s| s.perm >= p.connected).count() as u8;
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

/// Pushes onto `v`, growing it by about 1/`fraction` of its length instead of doubling, so that
/// long-lived lists carry little unused capacity.
fn push_with_small_slack<T>(v: &mut Vec<T>, x: T, fraction: usize) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / fraction).max(4));
    }
    v.push(x);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plasticity() -> Plasticity {
        Plasticity { initial: 0.21, increment: 0.1, decrement: 0.1, max: 1.0, connected: 0.3, max_synapses: 4 }
    }

    #[test]
    fn released_slots_are_reused_last_released_first() {
        let mut c = Connections::new(1, 8);
        let a = c.create_segment(1, &[2, 3], &plasticity(), 1);
        let b = c.create_segment(1, &[4], &plasticity(), 1);
        let d = c.create_segment(1, &[5], &plasticity(), 1);
        c.release_segment(a);
        c.release_segment(d);
        assert_eq!(c.num_segments(), 1);
        let e = c.create_segment(1, &[6], &plasticity(), 2);
        assert_eq!((e, c.segments[e as usize].slot), (d, 2));
        let f = c.create_segment(1, &[7], &plasticity(), 2);
        assert_eq!((f, c.segments[f as usize].slot), (a, 0));
        assert_eq!(c.slot_count(1), 3);
        assert_eq!(c.segments[b as usize].slot, 1);
        assert_eq!(c.num_synapses(), 3);
    }

    #[test]
    fn saved_connections_round_trip_and_reject_inconsistent_data() {
        let mut c = Connections::new(2, 8);
        let a = c.create_segment(3, &[1, 9, 12], &plasticity(), 1);
        c.create_segment(3, &[2], &plasticity(), 1);
        c.release_segment(a);
        c.create_segment(9, &[3, 4], &plasticity(), 2);
        let blob = bincode::serialize(&c).unwrap();
        let back: Connections = bincode::deserialize(&blob).unwrap();
        assert_eq!((back.num_segments(), back.num_synapses()), (2, 3));
        let (mut act, mut found) = (Activity::default(), Vec::new());
        back.propagate(&[3, 4], 2, &mut act, &mut found);
        assert_eq!(found.len(), 1);
        assert_eq!(bincode::serialize(&back).unwrap(), blob);

        let mut saved: SavedConnections = bincode::deserialize(&blob).unwrap();
        saved.segments[1].synapses = vec![Synapse { src: 99, perm: 0.5 }].into();
        assert!(Connections::try_from(saved).is_err(), "source cell out of range");
        let mut saved: SavedConnections = bincode::deserialize(&blob).unwrap();
        saved.free_top.pop();
        assert!(Connections::try_from(saved).is_err(), "cell tables of different sizes");
    }

    #[test]
    fn adapt_weakens_deletes_frees_and_adds() {
        let mut c = Connections::new(2, 8);
        let s = c.create_segment(0, &[1, 2, 3, 4], &plasticity(), 1);
        let mut scratch = AdaptScratch::default();
        // 1 and 3 active: 2 and 4 weakened to 0.11 (float32 0.21 - 0.1).
        c.adapt_segment(s, &[1, 3], &plasticity(), 2, &mut scratch);
        let perms: Vec<f32> = c.segments[s as usize].synapses.iter().map(|x| x.perm).collect();
        assert_eq!(perms, vec![0.21f32 + 0.1, 0.21f32 - 0.1, 0.21f32 + 0.1, 0.21f32 - 0.1]);
        assert_eq!(c.segments[s as usize].n_connected, 2, "0.31 >= 0.3 twice");
        // Adding 9 and 10 needs two free slots: the weakest inactive ones (2 and 4) go first.
        c.adapt_segment(s, &[1, 3, 9, 10], &plasticity(), 3, &mut scratch);
        let srcs: Vec<u32> = c.segments[s as usize].synapses.iter().map(|x| x.src).collect();
        assert_eq!(srcs, vec![1, 3, 9, 10]);
        assert_eq!(c.num_synapses(), 4);
        let (mut act, mut found) = (Activity::default(), Vec::new());
        c.propagate(&[1, 3, 9], 3, &mut act, &mut found);
        assert_eq!(found, vec![(s, 3)]);
        c.propagate(&[2, 4, 9], 1, &mut act, &mut found);
        assert_eq!(found, vec![(s, 1)]);
        // Everything inactive three times in a row: 0.21 -> 0.11 -> 0.01 -> deleted; segment released.
        let t = c.create_segment(5, &[1], &plasticity(), 3);
        for it in 4..7 {
            c.adapt_segment(t, &[], &plasticity(), it, &mut scratch);
        }
        assert!(c.segments[t as usize].synapses.is_empty());
        assert_eq!(c.num_segments(), 1);
    }
}
