//! The initial state: nupic.core's initialisation of the potential pools and permanences (same RNG
//! stream), computed once per parameter set and shared (`initial_for`), and the regeneration of one
//! column's initial permanences from a saved RNG state when the column first changes.

use std::sync::{Arc, Mutex};

use super::changed::ChangedColumns;
use super::learning::{raise_to_threshold, trim};
use super::overlap::OverlapIndex;
use super::params::Derived;
use super::pool::pool_inputs;
use super::{SpParams, SpState, SpatialPooler, SYN_PERM_MAX, UNTOUCHED};
use crate::rng::Random;

const INIT_CONNECTED_PCT: f64 = 0.5;
/// Parameter sets whose initial state stays cached (a few MB each).
const INITIAL_CACHE_SIZE: usize = 4;

/// What nupic.core's initialisation produces for one parameter set: a pure function of the
/// parameters, computed once per process and shared by every pooler built or loaded with them
/// (the models of one UDF server usually all have the same).
pub(super) struct Initial {
    pub(super) state: SpState,
    pub(super) derived: Derived,
    pub(super) init_rng: Arc<[Random]>,
    pub(super) permanences: Vec<f32>,
    /// The connections of the initial permanences.
    pub(super) overlap: OverlapIndex,
    pub(super) digest: u32,
}

/// The initial state for `params` (validated), from the cache or computed now.
pub(super) fn initial_for(params: SpParams) -> Result<Arc<Initial>, String> {
    static CACHE: Mutex<Vec<Arc<Initial>>> = Mutex::new(Vec::new());
    let cached = |cache: &[Arc<Initial>]| cache.iter().find(|i| i.state.params == params).cloned();
    if let Some(hit) = cached(&CACHE.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(hit);
    }
    let (state, derived, init_rng, permanences) = SpatialPooler::initial_state(params)?;
    let digest = initial_digest(&state, &permanences);
    let overlap = initial_connections(&state, &derived, &permanences);
    let init_rng = init_rng.into();
    let initial = Arc::new(Initial { state, derived, init_rng, permanences, overlap, digest });
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() == INITIAL_CACHE_SIZE {
        cache.remove(0);
    }
    cache.push(Arc::clone(&initial));
    Ok(initial)
}

/// The overlap index of the initial permanences (`initial`, at the `pool_start` offsets).
fn initial_connections(state: &SpState, derived: &Derived, initial: &[f32]) -> OverlapIndex {
    let params = &state.params;
    let mut overlap = OverlapIndex::new(params.input_width as usize, params.column_count as usize);
    for column in 0..params.column_count as usize {
        let initial = &initial[state.pool_start[column] as usize..state.pool_start[column + 1] as usize];
        for (input, &p) in pool_inputs(state.pool(column)).zip(initial) {
            if p >= derived.connected_threshold {
                overlap.relink(input, column, true);
            }
        }
    }
    overlap
}

/// CRC-32 of the initial pools and permanences.
fn initial_digest(state: &SpState, initial: &[f32]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    let mut buf = Vec::with_capacity(4096);
    let words = state.pool_start.iter().map(|&s| s.to_le_bytes());
    let words = words.chain(state.pools.iter().flat_map(|&w| [w as u32, (w >> 32) as u32]).map(u32::to_le_bytes));
    for word in words.chain(initial.iter().map(|p| p.to_bits().to_le_bytes())) {
        buf.extend_from_slice(&word);
        if buf.len() == buf.capacity() {
            crc.update(&buf);
            buf.clear();
        }
    }
    crc.update(&buf);
    crc.finalize()
}

impl SpatialPooler {
    /// The pools nupic.core initialises for `params` (already validated), the RNG snapshots and
    /// every column's initial permanences (concatenated, at the `pool_start` offsets).
    pub(super) fn initial_state(params: SpParams) -> Result<(SpState, Derived, Vec<Random>, Vec<f32>), String> {
        let derived = Derived::new(&params);
        let columns = params.column_count as usize;
        let pool_words = (params.input_width as usize).div_ceil(64);
        let mut rng = Random::new(params.seed);
        // nupic.core draws (and never uses) one tie-breaker per column first.
        for _ in 0..columns {
            rng.get_real64();
        }
        let mut pools = vec![0u64; columns * pool_words];
        let mut pool_start = Vec::with_capacity(columns + 1);
        let mut initial = Vec::new();
        let mut init_rng = Vec::with_capacity(columns);
        pool_start.push(0u32);
        for (column, pool) in pools.chunks_exact_mut(pool_words).enumerate() {
            init_rng.push(rng.clone());
            init_column(&params, &derived, &mut rng, column, pool, &mut initial)?;
            pool_start.push(initial.len() as u32);
        }
        let state = SpState {
            params,
            iteration: 0,
            learn_iteration: 0,
            pool_words,
            pools: pools.into(),
            pool_start: pool_start.into(),
            slots: vec![UNTOUCHED; columns],
            changed: ChangedColumns::new(pool_words),
            overlap_duty: vec![0.0; columns],
            active_duty: vec![0.0; columns],
            min_overlap_duty: 0.0,
            boost_factors: if derived.boost_strength == 0.0 { Vec::new() } else { vec![1.0; columns] },
        };
        Ok((state, derived, init_rng, initial))
    }

    /// Column `column`'s initial permanences, regenerated from the RNG state saved before it.
    pub(super) fn initial_permanences(&self, column: usize) -> Vec<f32> {
        let mut rng = self.init_rng[column].clone();
        let mut pool = vec![0u64; self.state.pool_words];
        let mut perms = Vec::new();
        init_column(&self.state.params, &self.derived, &mut rng, column, &mut pool, &mut perms)
            .expect("the parameters were validated at initialisation");
        perms
    }

    /// `column`'s slot in the changed columns, materialising its permanences on first use.
    pub(super) fn materialize(&mut self, column: usize) -> usize {
        if self.state.slots[column] == UNTOUCHED {
            let initial = self.initial_permanences(column);
            let pool = &self.state.pools[column * self.state.pool_words..(column + 1) * self.state.pool_words];
            self.state.slots[column] = self.state.changed.add(pool, &initial) as u32;
        }
        self.state.slots[column] as usize
    }

    /// Column `column`'s current permanences, one per pool member.
    #[cfg(test)]
    pub(super) fn column_permanences(&self, column: usize) -> Vec<f32> {
        match self.state.slots[column] {
            UNTOUCHED => self.initial_permanences(column),
            slot => {
                let mut dense = vec![0.0; super::pool::pool_size(&self.state.pool_start, column)];
                self.state.changed.dense(slot as usize, self.state.pool(column), &mut dense);
                dense
            }
        }
    }
}

/// Draws column `column`'s pool (into the zeroed bitmap `pool`) and appends its initial permanences
/// to `perms`, consuming `rng` exactly as nupic.core does.
fn init_column(
    params: &SpParams,
    derived: &Derived,
    rng: &mut Random,
    column: usize,
    pool: &mut [u64],
    perms: &mut Vec<f32>,
) -> Result<(), String> {
    let neighbourhood = neighbourhood(params, column);
    let num_potential = (neighbourhood.len() as f32 * params.potential_pct as f32).round() as usize;
    for input in rng.sample(&neighbourhood, num_potential) {
        pool[input as usize / 64] |= 1 << (input % 64);
    }
    let start = perms.len();
    for _ in pool_inputs(pool) {
        let p = round5(initial_permanence(rng, derived));
        perms.push(if p < derived.trim_threshold { 0.0 } else { p });
    }
    if perms.len() - start < params.stimulus_threshold as usize {
        return Err(format!(
            "unsupported spatial pooler configuration: column {column} has {} potential inputs, fewer than \
             stimulus_threshold {}",
            perms.len() - start,
            params.stimulus_threshold
        ));
    }
    raise_to_threshold(&mut perms[start..], derived, params.stimulus_threshold);
    trim(&mut perms[start..], derived);
    Ok(())
}

/// The inputs within `potential_radius` of `column`'s centre (wrapping around if configured), from
/// which nupic.core samples the column's potential pool.
fn neighbourhood(params: &SpParams, column: usize) -> Vec<u32> {
    let inputs = params.input_width as i64;
    let radius = params.potential_radius.min(params.input_width) as i64;
    let ratio = params.input_width as f32 / params.column_count as f32;
    let center = (((column as f32) as f64 + 0.5) * ratio as f64) as f32;
    let center = center.floor() as i64;
    if params.wrap_around {
        let count = (2 * radius + 1).min(inputs);
        (0..count).map(|k| (center - radius + k).rem_euclid(inputs) as u32).collect()
    } else {
        ((center - radius).max(0)..=(center + radius).min(inputs - 1)).map(|i| i as u32).collect()
    }
}

/// One potential synapse's initial permanence before truncation: connected with probability
/// `INIT_CONNECTED_PCT` (uniform in [connected, 1]), else uniform in [0, connected).
fn initial_permanence(rng: &mut Random, derived: &Derived) -> f32 {
    if rng.get_real64() <= INIT_CONNECTED_PCT {
        let span = (SYN_PERM_MAX - derived.connected) as f64;
        (derived.connected as f64 + span * rng.get_real64()) as f32
    } else {
        (derived.connected as f64 * rng.get_real64()) as f32
    }
}

/// nupic.core's `round5_`: truncation to 5 decimals in its float widths.
fn round5(p: f32) -> f32 {
    let scaled = (p * 100_000.0) as i32;
    ((scaled as f32) as f64 / 100_000.0) as f32
}

#[cfg(test)]
mod tests {
    use super::INITIAL_CACHE_SIZE;
    use crate::rng::Random;
    use crate::spatial_pooler::test_support::random_input;
    use crate::spatial_pooler::{SpParams, SpatialPooler};

    #[test]
    fn regenerated_initial_permanences_match_the_initialisation() {
        let sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let (state, _, _, initial) = SpatialPooler::initial_state(SpParams::nab(454)).unwrap();
        for column in [0, 1, 15, 16, 17, 1000, 2047] {
            let range = state.pool_start[column] as usize..state.pool_start[column + 1] as usize;
            assert_eq!(sp.initial_permanences(column), initial[range], "column {column}");
        }
        assert_eq!(initial.len(), 2048 * 363);
        assert!(initial.iter().filter(|&&p| p >= sp.derived.connected_threshold).count() > 2048 * 363 / 3);
    }

    #[test]
    fn the_shared_initial_state_follows_the_parameters() {
        // More parameter sets than the cache holds, then the first again: each pooler behaves as its
        // own parameters say, whether its initial state was computed or taken from the cache.
        let outputs = |seed: u64| {
            let mut params = SpParams::nab(454);
            params.seed = seed;
            let mut sp = SpatialPooler::new(params).unwrap();
            let mut rng = Random::new(9);
            let mut out = Vec::new();
            (0..20)
                .map(|_| {
                    sp.compute(&random_input(&mut rng, 454, 42), true, &mut out);
                    out.clone()
                })
                .collect::<Vec<_>>()
        };
        let first = outputs(1);
        assert_eq!(outputs(1), first); // from the cache
        let others: Vec<_> = (2..=INITIAL_CACHE_SIZE as u64 + 2).map(outputs).collect();
        assert!(others.iter().all(|o| *o != first));
        assert_eq!(outputs(1), first); // computed again after its eviction
    }
}
