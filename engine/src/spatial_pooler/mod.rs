//! nupic.core's C++ SpatialPooler (as NuPIC 1.0.5 runs it with global inhibition), bit-exact:
//! NuPIC's RNG call order at initialisation, float32 permanences with 5-decimal initial truncation,
//! the 1e-6 epsilon on the connected test, ties to the higher column index, float32 duty cycles,
//! the weak-column bump and float32 boosting (spec/htm.md 2.4, 3.4).
//!
//! The state is kept compact: each column's potential pool is a bitmap over the inputs, and every
//! input keeps a bitmap of the columns it is connected to, so the overlap is computed from the
//! active inputs only and learning touches only the winners' pools. Float32 permanences are held
//! only for columns that changed since initialisation (typically a few hundred of 2048), without
//! their zeros; a column's initial permanences are regenerated from a saved RNG state when it first
//! changes.
//!
//! A checkpoint stores the parameters, the duty cycles and the permanences of the columns that
//! changed since initialisation (the boost factors are recomputed from the duty cycles); loading regenerates the initial state from the parameters (seed)
//! and rejects a checkpoint whose parameters generate a different initial state. The initial state
//! of a parameter set is computed once per process and shared (`initial_for`).
//!
//! This file owns the pooler's state, its construction and its public face. The jobs live beside it:
//! - `params`: the parameters, their validation and the float32 constants derived from them;
//! - `initial`: nupic.core's initialisation (pools, initial permanences), its per-process cache and
//!   the regeneration of one column's initial permanences;
//! - `pool`: potential pools as input bitmaps (members, positions, per-position deltas);
//! - `changed`: the changed columns' permanences, stored without their zeros;
//! - `overlap`: the input -> connected columns index and the incrementally maintained overlaps;
//! - `compute`: one step (overlaps, global inhibition, the active columns);
//! - `boost`: the boost factors and the inhibition by boosted (float32) overlaps;
//! - `learning`: permanence updates, duty cycles and the weak-column bump;
//! - `checkpoint`: the state's (de)serialisation as the changes since initialisation.

mod boost;
mod changed;
mod checkpoint;
mod compute;
mod initial;
mod learning;
mod overlap;
mod params;
mod pool;
#[cfg(test)]
mod test_support;

pub use params::SpParams;

use std::sync::Arc;

use crate::rng::Random;
use changed::ChangedColumns;
use initial::Initial;
use overlap::OverlapIndex;
use params::Derived;
use pool::{pool_inputs, pool_size};

const SYN_PERM_MAX: f32 = 1.0;
/// `SpState::slots` entry of a column whose permanences are still the initial ones.
const UNTOUCHED: u32 = u32::MAX;

/// The state; everything else is derived from it. The pools and the initial permanences are a pure
/// function of the parameters, so a checkpoint ([`checkpoint::SpCheckpoint`]) stores only what changed.
#[derive(Clone, Debug)]
struct SpState {
    params: SpParams,
    iteration: u64,
    learn_iteration: u64,
    /// Column c's pool is the bitmap `pools[c * pool_words..(c + 1) * pool_words]` over the inputs,
    /// with `pool_start[c + 1] - pool_start[c]` members. Pools never change, so every pooler built from
    /// the same parameters shares them with the per-process initial state.
    pool_words: usize,
    pools: Arc<[u64]>,
    pool_start: Arc<[u32]>,
    /// Per column: its slot in `changed`, or `UNTOUCHED` while its permanences are the initial
    /// ones, which are not held: they are regenerated from the saved RNG states when the column
    /// first changes.
    slots: Vec<u32>,
    changed: ChangedColumns,
    overlap_duty: Vec<f32>,
    active_duty: Vec<f32>,
    /// Bump threshold for every column (global inhibition): 0 until the first update round.
    min_overlap_duty: f32,
    /// Per column: the factor its overlap is multiplied by when learning. Empty without boosting
    /// (`boost_strength` 0), where every factor stays exactly 1.
    boost_factors: Vec<f32>,
}

/// nupic.core's SpatialPooler with global inhibition.
#[derive(Clone, Debug)]
pub struct SpatialPooler {
    state: SpState,
    derived: Derived,
    overlap: OverlapIndex,
    /// The initialisation RNG before each column (140 bytes a column, shared like the pools).
    init_rng: Arc<[Random]>,
    /// CRC-32 of the initial pools and permanences: identifies the initial state a checkpoint extends.
    init_digest: u32,
    // Per-compute buffers, kept to avoid allocation.
    overlap_histogram: Vec<u32>,
    /// (boosted overlap, column) of the candidates of the boosted inhibition.
    scored: Vec<(f32, u32)>,
    /// Permanence change per pool position (or nonzero permanence) of the column being adapted.
    pool_delta: Vec<f32>,
    /// The permanences of the column being changed, one per pool position.
    dense: Vec<f32>,
    /// The inputs whose zero permanence a winner's update raises.
    entering: Vec<u64>,
    /// `below_stimulus_inc` for every pool position (the weak-column bump).
    bump_delta: Vec<f32>,
    is_winner: Vec<bool>,
    was_connected: Vec<bool>,
}

impl SpatialPooler {
    /// Initialises the pooler exactly as nupic.core does (same RNG stream, pools and permanences).
    /// Rejects configurations this implementation does not support (local inhibition,
    /// `localAreaDensity`) or nupic.core would reject.
    pub fn new(params: SpParams) -> Result<Self, String> {
        params.validate()?;
        let init = initial::initial_for(params)?;
        Ok(Self::from_valid_state(init.state.clone(), &init, init.digest))
    }

    /// Builds the derived index and buffers around a state known to be consistent, which extends
    /// `init`: the initial connections are `init`'s, only the changed columns are relinked.
    fn from_valid_state(state: SpState, init: &Initial, init_digest: u32) -> Self {
        let inputs = state.params.input_width as usize;
        let columns = state.params.column_count as usize;
        let threshold = init.derived.connected_threshold;
        let mut overlap = init.overlap.clone();
        let max_pool = (0..columns).map(|column| pool_size(&state.pool_start, column)).max().unwrap_or(0);
        let mut now = vec![0.0; max_pool];
        for column in 0..columns {
            let size = pool_size(&state.pool_start, column);
            if state.slots[column] == UNTOUCHED {
                continue;
            }
            let initial = &init.permanences[state.pool_start[column] as usize..][..size];
            let now = &mut now[..size];
            state.changed.dense(state.slots[column] as usize, state.pool(column), now);
            for ((input, &before), &after) in pool_inputs(state.pool(column)).zip(initial).zip(now.iter()) {
                if (before >= threshold) != (after >= threshold) {
                    overlap.relink(input, column, after >= threshold);
                }
            }
        }
        let bump = init.derived.below_stimulus_inc;
        let pool_words = state.pool_words;
        SpatialPooler {
            state,
            derived: init.derived.clone(),
            overlap,
            init_rng: init.init_rng.clone(),
            init_digest,
            overlap_histogram: vec![0; inputs + 1],
            scored: Vec::new(),
            pool_delta: vec![0.0; max_pool],
            dense: vec![0.0; max_pool],
            entering: vec![0; pool_words],
            bump_delta: vec![bump; max_pool],
            is_winner: vec![false; columns],
            was_connected: vec![false; max_pool],
        }
    }

    /// The parameters the pooler was built with.
    pub fn params(&self) -> &SpParams {
        &self.state.params
    }

    /// Approximate heap bytes held (capacities; allocator overhead not counted).
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let st = &self.state;
        // The pools and the initialisation RNG snapshots are shared by every pooler of the process.
        let state = st.slots.capacity() * 4
            + st.changed.memory_bytes()
            + (st.overlap_duty.capacity() + st.active_duty.capacity() + st.boost_factors.capacity()) * 4;
        let buffers = self.overlap_histogram.capacity() * 4
            + self.scored.capacity() * size_of::<(f32, u32)>()
            + (self.pool_delta.capacity() + self.dense.capacity() + self.bump_delta.capacity()) * 4
            + self.entering.capacity() * 8
            + self.is_winner.capacity()
            + self.was_connected.capacity();
        state + self.overlap.memory_bytes() + buffers
    }

    /// Number of `compute` calls so far.
    pub fn iteration(&self) -> u64 {
        self.state.iteration
    }
}
