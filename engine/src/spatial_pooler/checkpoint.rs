//! The pooler's (de)serialisation: a checkpoint holds the parameters and what changed since
//! initialisation; loading regenerates the initial state, checks that the checkpoint extends it and
//! applies the changes.
//!
//! The boost factors are not stored: nupic.core recomputes every one of them from the active duty
//! cycles after each learning step (and they are 1 before the first), so loading recomputes them
//! bit for bit, and a checkpoint keeps one layout with and without boosting.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::boost::boost_factors;
use super::initial::initial_for;
use super::pool::pool_size;
use super::{SpParams, SpState, SpatialPooler, SYN_PERM_MAX, UNTOUCHED};

/// What a checkpoint holds: the parameters, a digest of the initial state they generate, and
/// everything that changed since initialisation.
#[derive(Serialize, Deserialize)]
pub(super) struct SpCheckpoint {
    params: SpParams,
    init_digest: u32,
    iteration: u64,
    learn_iteration: u64,
    overlap_duty: Vec<f32>,
    active_duty: Vec<f32>,
    min_overlap_duty: f32,
    /// Columns whose permanences changed since initialisation, ascending.
    touched_columns: Vec<u32>,
    /// Their permanences, one whole pool after the other.
    touched_permanences: Vec<f32>,
}

impl Serialize for SpatialPooler {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.checkpoint().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SpatialPooler {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let checkpoint = SpCheckpoint::deserialize(deserializer)?;
        SpatialPooler::from_checkpoint(checkpoint).map_err(serde::de::Error::custom)
    }
}

impl SpatialPooler {
    /// What a checkpoint needs: the state minus what `initial_state` regenerates.
    fn checkpoint(&self) -> SpCheckpoint {
        let st = &self.state;
        let mut touched_columns = Vec::new();
        let mut touched_permanences = Vec::new();
        for (column, &slot) in st.slots.iter().enumerate().filter(|(_, &slot)| slot != UNTOUCHED) {
            touched_columns.push(column as u32);
            let start = touched_permanences.len();
            touched_permanences.resize(start + pool_size(&st.pool_start, column), 0.0);
            st.changed.dense(slot as usize, st.pool(column), &mut touched_permanences[start..]);
        }
        SpCheckpoint {
            params: st.params.clone(),
            init_digest: self.init_digest,
            iteration: st.iteration,
            learn_iteration: st.learn_iteration,
            overlap_duty: st.overlap_duty.clone(),
            active_duty: st.active_duty.clone(),
            min_overlap_duty: st.min_overlap_duty,
            touched_columns,
            touched_permanences,
        }
    }

    /// Regenerates the initial state from the checkpoint's parameters, checks that it is the one the
    /// checkpoint was taken from, and applies the checkpointed changes.
    fn from_checkpoint(c: SpCheckpoint) -> Result<Self, String> {
        c.params.validate()?;
        c.check()?;
        let init = initial_for(c.params)?;
        if init.digest != c.init_digest {
            return Err("spatial pooler state does not match its parameters: they generate a different initial state \
                        (another seed or engine version)"
                .into());
        }
        let mut state = init.state.clone();
        apply_touched(&mut state, &c.touched_columns, &c.touched_permanences)?;
        state.iteration = c.iteration;
        state.learn_iteration = c.learn_iteration;
        state.overlap_duty = c.overlap_duty;
        state.active_duty = c.active_duty;
        state.min_overlap_duty = c.min_overlap_duty;
        if !state.boost_factors.is_empty() && state.learn_iteration > 0 {
            boost_factors(&init.derived, &state.active_duty, &mut state.boost_factors);
        }
        Ok(Self::from_valid_state(state, &init, c.init_digest))
    }
}

impl SpCheckpoint {
    /// Checks what does not need the initial state: the array lengths, the duty cycle and
    /// permanence ranges, the iteration counts and the order of the changed columns.
    fn check(&self) -> Result<(), String> {
        let columns = self.params.column_count as usize;
        if self.overlap_duty.len() != columns || self.active_duty.len() != columns {
            return Err(corrupt("duty cycle arrays do not match the column count"));
        }
        let duties_ok = |v: &[f32]| v.iter().all(|d| (0.0..=1.0).contains(d));
        if !duties_ok(&self.overlap_duty)
            || !duties_ok(&self.active_duty)
            || !(0.0..=1.0).contains(&self.min_overlap_duty)
        {
            return Err(corrupt("a duty cycle is outside [0, 1]"));
        }
        if self.learn_iteration > self.iteration {
            return Err(corrupt("more learning iterations than iterations"));
        }
        let touched = &self.touched_columns;
        if touched.windows(2).any(|w| w[0] >= w[1]) || touched.last().is_some_and(|&l| l as usize >= columns) {
            return Err(corrupt("changed columns are not ascending column indices"));
        }
        if !self.touched_permanences.iter().all(|p| (0.0..=SYN_PERM_MAX).contains(p)) {
            return Err(corrupt("a permanence is outside [0, 1]"));
        }
        Ok(())
    }
}

/// Gives each changed column (`columns`, ascending) its checkpointed pool of `permanences`, which
/// must hold exactly their pools.
fn apply_touched(state: &mut SpState, columns: &[u32], permanences: &[f32]) -> Result<(), String> {
    let mut perms = permanences;
    for &column in columns {
        let size = pool_size(&state.pool_start, column as usize);
        if perms.len() < size {
            return Err(corrupt("fewer permanences than the changed columns' pools hold"));
        }
        let (pool, rest) = perms.split_at(size);
        let members = &state.pools[column as usize * state.pool_words..(column as usize + 1) * state.pool_words];
        state.slots[column as usize] = state.changed.add(members, pool) as u32;
        perms = rest;
    }
    if !perms.is_empty() {
        return Err(corrupt("more permanences than the changed columns' pools hold"));
    }
    Ok(())
}

/// The error of a checkpoint that cannot have been written by this engine.
fn corrupt(message: &str) -> String {
    format!("corrupt spatial pooler state: {message}")
}

#[cfg(test)]
mod tests {
    use super::SpCheckpoint;
    use crate::rng::Random;
    use crate::spatial_pooler::test_support::{random_input, trained};
    use crate::spatial_pooler::UNTOUCHED;
    use crate::spatial_pooler::{SpParams, SpatialPooler};

    #[test]
    fn serialized_state_continues_identically() {
        for boost_strength in [0.0, 2.0] {
            let mut params = SpParams::nab(454);
            params.boost_strength = boost_strength;
            let mut sp = SpatialPooler::new(params).unwrap();
            let mut rng = Random::new(9);
            let mut out = Vec::new();
            for k in 0..60 {
                sp.compute(&random_input(&mut rng, 454, 42), k % 7 != 6, &mut out);
            }
            let blob = bincode::serialize(&sp).unwrap();
            let mut restored: SpatialPooler = bincode::deserialize(&blob).unwrap();
            assert_eq!(restored.state.boost_factors, sp.state.boost_factors);
            let mut restored_out = Vec::new();
            for _ in 0..60 {
                let input = random_input(&mut rng, 454, 42);
                sp.compute(&input, true, &mut out);
                restored.compute(&input, true, &mut restored_out);
                assert_eq!(out, restored_out);
            }
            for column in 0..2048 {
                assert_eq!(sp.column_permanences(column), restored.column_permanences(column));
            }
        }
    }

    #[test]
    fn boost_factors_are_one_until_the_first_learning_step() {
        let mut params = SpParams::nab(454);
        params.boost_strength = 2.0;
        let mut sp = SpatialPooler::new(params).unwrap();
        sp.compute(&[1, 2, 3], false, &mut Vec::new());
        let restored = SpatialPooler::from_checkpoint(sp.checkpoint()).unwrap();
        assert!(restored.state.boost_factors.iter().all(|&f| f == 1.0));
        let plain = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let size = |sp: &SpatialPooler| bincode::serialize(sp).unwrap().len();
        assert_eq!(size(&sp), size(&plain), "boosting adds nothing to a checkpoint");
    }

    #[test]
    fn checkpoints_hold_only_the_changed_columns() {
        let fresh = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let c = fresh.checkpoint();
        assert!(c.touched_columns.is_empty() && c.touched_permanences.is_empty());
        let restored = SpatialPooler::from_checkpoint(c).unwrap();
        assert_eq!(restored.state.changed.len(), 0);

        let sp = trained(3);
        let c = sp.checkpoint();
        // Three records: 40 winners each, no bumps yet.
        assert!(c.touched_columns.len() <= 120 && c.touched_columns.len() >= 40, "{}", c.touched_columns.len());
        let pools: usize = c
            .touched_columns
            .iter()
            .map(|&col| (sp.state.pool_start[col as usize + 1] - sp.state.pool_start[col as usize]) as usize)
            .sum();
        assert_eq!(c.touched_permanences.len(), pools);
        assert_eq!(sp.state.changed.len(), c.touched_columns.len(), "only the changed columns are held in memory");
        let restored = SpatialPooler::from_checkpoint(c).unwrap();
        for column in 0..2048 {
            assert_eq!(restored.state.slots[column] == UNTOUCHED, sp.state.slots[column] == UNTOUCHED);
            assert_eq!(restored.column_permanences(column), sp.column_permanences(column));
        }
    }

    #[test]
    fn corrupt_or_mismatched_checkpoints_are_rejected() {
        let sp = trained(5);
        type Corruption = fn(&mut SpCheckpoint);
        let cases: [(Corruption, &str); 7] = [
            (|c| c.params.seed = 1957, "does not match its parameters"),
            (|c| c.touched_columns.swap(0, 1), "ascending"),
            (|c| *c.touched_columns.last_mut().unwrap() = 2048, "ascending"),
            (|c| _ = c.touched_permanences.pop(), "fewer permanences"),
            (|c| c.touched_permanences.push(0.5), "more permanences"),
            (|c| c.touched_permanences[7] = f32::NAN, "outside [0, 1]"),
            (|c| _ = c.active_duty.pop(), "duty cycle arrays"),
        ];
        for (corrupt, expected) in cases {
            let mut c = sp.checkpoint();
            corrupt(&mut c);
            let err = SpatialPooler::from_checkpoint(c).unwrap_err();
            assert!(err.contains(expected), "expected {expected:?}: {err}");
        }
    }
}
