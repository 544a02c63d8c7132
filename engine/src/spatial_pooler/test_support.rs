//! Helpers shared by the spatial pooler's unit tests: random inputs, trained poolers and overlaps
//! recounted from the permanences.

use super::pool::{pool_inputs, pool_size};
use super::{SpParams, SpatialPooler, UNTOUCHED};
use crate::rng::Random;

pub(super) fn random_input(rng: &mut Random, width: u32, on: usize) -> Vec<u32> {
    let all: Vec<u32> = (0..width).collect();
    rng.sample(&all, on)
}

/// Every column's initial permanences.
pub(super) fn initial_of(sp: &SpatialPooler) -> Vec<f32> {
    SpatialPooler::initial_state(sp.state.params.clone()).unwrap().3
}

/// Overlaps recounted from the permanences (`initial`: from `initial_of`).
pub(super) fn recount(sp: &SpatialPooler, initial: &[f32], active: &[u32]) -> Vec<u32> {
    let st = &sp.state;
    (0..st.params.column_count as usize)
        .map(|c| {
            let size = pool_size(&st.pool_start, c);
            let perms = match st.slots[c] {
                UNTOUCHED => initial[st.pool_start[c] as usize..][..size].to_vec(),
                _ => sp.column_permanences(c),
            };
            pool_inputs(st.pool(c))
                .zip(&perms)
                .filter(|&(i, &p)| active.contains(&(i as u32)) && p >= sp.derived.connected_threshold)
                .count() as u32
        })
        .collect()
}

/// A NAB pooler after learning `records` random inputs.
pub(super) fn trained(records: usize) -> SpatialPooler {
    let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
    let mut rng = Random::new(9);
    let mut out = Vec::new();
    for _ in 0..records {
        sp.compute(&random_input(&mut rng, 454, 42), true, &mut out);
    }
    sp
}
