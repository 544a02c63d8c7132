//! The learning step: the winners' permanence updates, the float32 duty cycles, the weak-column
//! bump, the boost factors (`boost`), and nupic.core's per-column permanence rules (raise to the
//! stimulus threshold, trim).

use super::overlap::OverlapIndex;
use super::params::Derived;
use super::pool::{pool_deltas, pool_inputs, pool_size, select};
use super::{SpatialPooler, SYN_PERM_MAX};

/// Iterations between recomputations of the minimum overlap duty cycle.
const UPDATE_PERIOD: u64 = 50;

impl SpatialPooler {
    /// Adapts the winners, updates the duty cycles, bumps the weak columns, updates the boost factors
    /// and, every `UPDATE_PERIOD` iterations, the bump threshold; then settles this compute's overlaps.
    pub(super) fn learn(&mut self, winners: &[u32]) {
        self.adapt_winners(winners);
        self.update_duty_cycles(winners);
        self.bump_weak_columns();
        if !self.state.boost_factors.is_empty() {
            self.update_boost_factors();
        }
        if self.state.iteration.is_multiple_of(UPDATE_PERIOD) {
            let max_duty = self.state.overlap_duty.iter().copied().fold(0.0f32, f32::max);
            self.state.min_overlap_duty = self.derived.min_pct_overlap * max_duty;
        }
        self.overlap.apply_pending();
    }

    /// Reinforces each winner's synapses from active inputs and weakens the others.
    fn adapt_winners(&mut self, winners: &[u32]) {
        if self.state.params.stimulus_threshold == 0 {
            for &column in winners {
                self.adapt_nonzero(column as usize);
            }
            return;
        }
        let mut delta = std::mem::take(&mut self.pool_delta);
        for &column in winners {
            let column = column as usize;
            let pool = self.state.pool(column);
            let delta = &mut delta[..pool_size(&self.state.pool_start, column)];
            pool_deltas(pool, &self.overlap.active_bits, self.derived.active_inc, -self.derived.inactive_dec, delta);
            self.change_column(column, true, delta);
        }
        self.pool_delta = delta;
    }

    /// Adapts a winner without a stimulus threshold, where the update is per synapse, on its
    /// nonzero permanences only: a zero stays zero unless its input is active (a decrement of 0 is
    /// trimmed back to 0). Updated permanences trimmed to 0 are dropped, zeros of active inputs
    /// raised by the increment are inserted.
    fn adapt_nonzero(&mut self, column: usize) {
        let slot = self.materialize(column);
        let pool = &self.state.pools[column * self.state.pool_words..(column + 1) * self.state.pool_words];
        let (nonzero, perms) = self.state.changed.column_mut(slot);
        let active = &self.overlap.active_bits;
        let (on, off) = (self.derived.active_inc, -self.derived.inactive_dec);
        for (((entering, &p), &a), &n) in self.entering.iter_mut().zip(pool).zip(active).zip(nonzero.iter()) {
            *entering = p & a & !n;
        }
        let delta = &mut self.pool_delta[..perms.len()];
        pool_deltas(nonzero, active, on, off, delta);
        if update_per_synapse(perms, delta, &self.derived, nonzero, column, &mut self.overlap) {
            self.state.changed.drop_zeros(slot);
        }
        let raised = updated(0.0, on, &self.derived);
        if raised != 0.0 {
            for input in pool_inputs(&self.entering) {
                self.state.changed.insert(slot, input, raised);
                if raised >= self.derived.connected_threshold {
                    self.overlap.relink(input, column, true);
                }
            }
        }
    }

    /// float32 moving averages over `min(duty_cycle_period, iteration)` steps.
    fn update_duty_cycles(&mut self, winners: &[u32]) {
        for &column in winners {
            self.is_winner[column as usize] = true;
        }
        let period = (self.state.params.duty_cycle_period as u64).min(self.state.iteration);
        let (kept, period) = ((period - 1) as f32, period as f32);
        let state = &mut self.state;
        let duties = state.overlap_duty.iter_mut().zip(state.active_duty.iter_mut());
        for (((overlap_duty, active_duty), &overlap), &winner) in
            duties.zip(&self.overlap.overlaps).zip(&self.is_winner)
        {
            *overlap_duty = (*overlap_duty * kept + (overlap > 0) as u32 as f32) / period;
            *active_duty = (*active_duty * kept + winner as u32 as f32) / period;
        }
        for &column in winners {
            self.is_winner[column as usize] = false;
        }
    }

    /// Raises every permanence of the columns whose overlap duty cycle is below the bump threshold
    /// by `below_stimulus_inc`.
    fn bump_weak_columns(&mut self) {
        let bump = std::mem::take(&mut self.bump_delta);
        for column in 0..self.state.overlap_duty.len() {
            if self.state.overlap_duty[column] < self.state.min_overlap_duty {
                self.change_column(column, false, &bump[..pool_size(&self.state.pool_start, column)]);
            }
        }
        self.bump_delta = bump;
    }

    /// Adds `delta[k]` to the k-th potential synapse of `column` (ascending input order), applies
    /// nupic.core's column update (optionally raising to the stimulus threshold, then trimming) and
    /// keeps the connection bitmaps in sync. Works on the whole pool (the weak-column bump, a
    /// stimulus threshold): zeros change too.
    fn change_column(&mut self, column: usize, raise: bool, delta: &[f32]) {
        let slot = self.materialize(column);
        let pool = &self.state.pools[column * self.state.pool_words..(column + 1) * self.state.pool_words];
        let perms = &mut self.dense[..delta.len()];
        self.state.changed.dense(slot, pool, perms);
        let index = &mut self.overlap;
        let stimulus = self.state.params.stimulus_threshold;
        if raise && stimulus > 0 {
            let was_connected = &mut self.was_connected[..delta.len()];
            let relink = |k: usize, now: bool| index.relink(select(pool, k), column, now);
            update_raising(perms, delta, &self.derived, stimulus, was_connected, relink);
        } else {
            update_per_synapse(perms, delta, &self.derived, pool, column, index);
        }
        self.state.changed.set_dense(slot, pool, perms);
    }
}

/// nupic.core's per-synapse update of a permanence: clipped at 1, zeroed below the trim threshold.
#[inline]
fn updated(old: f32, delta: f32, d: &Derived) -> f32 {
    let q = old + delta;
    let q = if q > SYN_PERM_MAX { SYN_PERM_MAX } else { q };
    if q < d.trim_threshold {
        0.0
    } else {
        q
    }
}

/// The column update with a stimulus threshold: adds `delta`, raises the pool until `stimulus`
/// synapses are connected, trims, then calls `relink(k, now)` for every pool position whose
/// connection changed. `was_connected` is scratch space for the whole pool.
fn update_raising(
    perms: &mut [f32],
    delta: &[f32],
    d: &Derived,
    stimulus: u32,
    was_connected: &mut [bool],
    mut relink: impl FnMut(usize, bool),
) {
    for ((p, was), &delta) in perms.iter_mut().zip(was_connected.iter_mut()).zip(delta) {
        *was = *p >= d.connected_threshold;
        *p += delta;
    }
    raise_to_threshold(perms, d, stimulus);
    trim(perms, d);
    for (k, (p, &was)) in perms.iter().zip(was_connected.iter()).enumerate() {
        let now = *p >= d.connected_threshold;
        if now != was {
            relink(k, now);
        }
    }
}

/// The column update without a stimulus threshold, which is per synapse: clipping to [0, 1] and
/// trimming zero everything below the trim threshold, which is below the connected threshold.
/// Processed in blocks of LANES so the arithmetic vectorizes; relinking `column`'s synapses in
/// `index` is rare (`inputs` lists the inputs of `perms`, ascending). Returns whether an updated
/// permanence is 0.
///
/// This is the hot loop of learning: it takes the index, pool and column themselves rather than a
/// relink callback like `update_raising`, which kept them out of registers (~12 % slower encoders + SP).
fn update_per_synapse(
    perms: &mut [f32],
    delta: &[f32],
    d: &Derived,
    inputs: &[u64],
    column: usize,
    index: &mut OverlapIndex,
) -> bool {
    const LANES: usize = 8;
    let threshold = d.connected_threshold;
    let update = |old: f32, delta: f32| updated(old, delta, d);
    let mut zero = false;
    let mut perm_blocks = perms.chunks_exact_mut(LANES);
    let mut delta_blocks = delta.chunks_exact(LANES);
    let mut base = 0;
    for (block, delta) in (&mut perm_blocks).zip(&mut delta_blocks) {
        let mut old = [0.0f32; LANES];
        let mut new = [0.0f32; LANES];
        let mut flips = false;
        for l in 0..LANES {
            old[l] = block[l];
            new[l] = update(old[l], delta[l]);
            flips |= (old[l] >= threshold) != (new[l] >= threshold);
            zero |= new[l] == 0.0;
        }
        block.copy_from_slice(&new);
        if flips {
            for l in 0..LANES {
                let now = new[l] >= threshold;
                if now != (old[l] >= threshold) {
                    index.relink(select(inputs, base + l), column, now);
                }
            }
        }
        base += LANES;
    }
    for (k, (p, &delta)) in perm_blocks.into_remainder().iter_mut().zip(delta_blocks.remainder()).enumerate() {
        let old = *p;
        *p = update(old, delta);
        zero |= *p == 0.0;
        let now = *p >= threshold;
        if now != (old >= threshold) {
            index.relink(select(inputs, base + k), column, now);
        }
    }
    zero
}

/// Clips to [0, 1], then adds `below_stimulus_inc` to the whole pool until at least
/// `stimulus_threshold` synapses are connected (the pool must be at least that large).
pub(super) fn raise_to_threshold(perms: &mut [f32], d: &Derived, stimulus_threshold: u32) {
    for p in perms.iter_mut() {
        *p = p.clamp(0.0, SYN_PERM_MAX);
    }
    if stimulus_threshold == 0 {
        return;
    }
    while perms.iter().filter(|&&p| p >= d.connected_threshold).count() < stimulus_threshold as usize {
        for p in perms.iter_mut() {
            *p += d.below_stimulus_inc;
        }
    }
}

/// Caps at 1 and zeroes permanences below the trim threshold.
pub(super) fn trim(perms: &mut [f32], d: &Derived) {
    for p in perms.iter_mut() {
        if *p > SYN_PERM_MAX {
            *p = SYN_PERM_MAX;
        }
        if *p < d.trim_threshold {
            *p = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spatial_pooler::pool::pool_size;
    use crate::spatial_pooler::test_support::{initial_of, recount};
    use crate::spatial_pooler::{SpParams, SpatialPooler};

    #[test]
    fn stimulus_threshold_raises_pools_and_blocks_weak_columns() {
        let mut params = SpParams::nab(100);
        params.column_count = 64;
        params.potential_pct = 0.5;
        params.stimulus_threshold = 30;
        let mut sp = SpatialPooler::new(params).unwrap();
        let connected = |sp: &SpatialPooler| {
            let mut counts = vec![0u32; 64];
            for input in 0..100 {
                for (c, count) in counts.iter_mut().enumerate() {
                    *count += (sp.overlap.columns_of(input)[c / 64] >> (c % 64) & 1) as u32;
                }
            }
            counts
        };
        assert!(connected(&sp).iter().all(|&n| n >= 30));
        let mut out = Vec::new();
        sp.compute(&[1, 2, 3, 4, 5], true, &mut out);
        assert!(out.is_empty(), "overlaps below the stimulus threshold never win");
        let all: Vec<u32> = (0..100).collect();
        for _ in 0..20 {
            sp.compute(&all, true, &mut out);
            // 40 of 64 columns exceeds the 0.5 density cap: 32 winners.
            assert_eq!(out.len(), 32);
        }
        sp.compute(&[7], true, &mut out);
        assert!(connected(&sp).iter().all(|&n| n >= 30));
        assert_eq!(sp.overlap.overlaps, recount(&sp, &initial_of(&sp), &[7]));
    }

    #[test]
    fn columns_without_overlap_are_bumped_after_the_first_update_round() {
        let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let weak = 77;
        let size = pool_size(&sp.state.pool_start, weak);
        sp.change_column(weak, false, &vec![-1.0; size]);
        let input: Vec<u32> = (100..142).collect();
        let mut out = Vec::new();
        for _ in 0..50 {
            sp.compute(&input, true, &mut out);
        }
        assert!(sp.column_permanences(weak).iter().all(|&p| p == 0.0), "no bump before the update round");
        assert!(sp.state.min_overlap_duty > 0.0);
        sp.compute(&input, true, &mut out);
        assert!(sp.column_permanences(weak).iter().all(|&p| p == sp.derived.below_stimulus_inc));
        for _ in 0..20 {
            sp.compute(&input, true, &mut out);
        }
        assert!(sp.overlap.overlaps[weak] > 0, "bumping connected the column");
        assert!(sp.state.overlap_duty[weak] > 0.0);
        assert_eq!(sp.overlap.overlaps, recount(&sp, &initial_of(&sp), &input));
    }
}
