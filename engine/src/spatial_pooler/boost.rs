//! Boosting: the float32 boost factors nupic.core recomputes from the active duty cycles after every
//! learning step, and the global inhibition by boosted overlaps (`overlap * boostFactor`) that a
//! learning compute uses when boosting is on. Without boosting, or when not learning, every factor
//! is 1 and `compute` keeps its integer inhibition.

use super::params::Derived;
use super::SpatialPooler;

impl SpatialPooler {
    /// Recomputes every column's boost factor from its active duty cycle.
    pub(super) fn update_boost_factors(&mut self) {
        boost_factors(&self.derived, &self.state.active_duty, &mut self.state.boost_factors);
    }

    /// Global inhibition by boosted overlap: the `num_active` columns with the largest boosted
    /// overlaps at or above the stimulus threshold, ties to the higher column index.
    ///
    /// Only candidates are kept: whenever `scored` holds twice the winners it is cut to the best
    /// half, and the last of those sets the floor a later column's score must reach (a later column
    /// with an equal score ranks above it). Once the floor nears its final height, almost every
    /// column is turned away by one comparison.
    pub(super) fn inhibit_boosted(&mut self, out: &mut Vec<u32>) {
        let wanted = self.derived.num_active;
        let mut floor = self.state.params.stimulus_threshold as f32;
        self.scored.clear();
        let columns = self.overlap.overlaps.iter().zip(&self.state.boost_factors);
        for (column, (&overlap, &factor)) in columns.enumerate() {
            let score = overlap as f32 * factor;
            if score >= floor {
                self.scored.push((score, column as u32));
                if wanted > 0 && self.scored.len() == 2 * wanted {
                    self.scored.select_nth_unstable_by(wanted - 1, by_rank);
                    self.scored.truncate(wanted);
                    floor = self.scored[wanted - 1].0;
                }
            }
        }
        select_winners(&mut self.scored, wanted, out);
    }
}

/// Ranking of `(score, column)` pairs, best first: higher score, then higher column. nupic.core keeps
/// its winners sorted by score and inserts a newcomer (a higher column) in front of equal scores.
fn by_rank(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(b.1.cmp(&a.1))
}

/// `exp((targetDensity - activeDutyCycle) * boostStrength)` per column, all in float32 (nupic.core's
/// `std::exp` of a float is `expf`, as is `f32::exp`).
pub(super) fn boost_factors(d: &Derived, active_duty: &[f32], factors: &mut [f32]) {
    for (factor, &duty) in factors.iter_mut().zip(active_duty) {
        *factor = ((d.density - duty) * d.boost_strength).exp();
    }
}

/// Writes the columns of the `wanted` best `(score, column)` pairs (`by_rank`), ascending, into `out`
/// (cleared first).
fn select_winners(scored: &mut [(f32, u32)], wanted: usize, out: &mut Vec<u32>) {
    out.clear();
    let wanted = wanted.min(scored.len());
    if wanted == 0 {
        return;
    }
    if wanted < scored.len() {
        scored.select_nth_unstable_by(wanted - 1, by_rank);
    }
    out.extend(scored[..wanted].iter().map(|&(_, column)| column));
    out.sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::select_winners;
    use crate::rng::Random;
    use crate::spatial_pooler::test_support::random_input;
    use crate::spatial_pooler::{SpParams, SpatialPooler};

    fn boosted_params() -> SpParams {
        let mut params = SpParams::nab(454);
        params.boost_strength = 2.0;
        params
    }

    #[test]
    fn equal_float_scores_go_to_the_higher_column() {
        let mut out = Vec::new();
        // 1.5 * 2 and 3 * 1 are the same float32: column 9 beats column 4 for the last place.
        let mut scored = vec![(7.0, 2), (1.5f32 * 2.0, 4), (0.25, 5), (3.0f32 * 1.0, 9), (3.5, 11)];
        select_winners(&mut scored, 3, &mut out);
        assert_eq!(out, [2, 9, 11]);
        // Only the next float above wins over a higher column.
        let mut scored = vec![(f32::from_bits(3.0f32.to_bits() + 1), 1), (3.0, 6), (3.0, 8)];
        select_winners(&mut scored, 2, &mut out);
        assert_eq!(out, [1, 8]);
        let mut scored = vec![(0.0, 0), (0.0, 1), (0.0, 2)];
        select_winners(&mut scored, 5, &mut out);
        assert_eq!(out, [0, 1, 2], "fewer candidates than winners: all win");
    }

    #[test]
    fn boost_factors_follow_the_active_duty_cycles() {
        let mut sp = SpatialPooler::new(boosted_params()).unwrap();
        assert!(sp.state.boost_factors.iter().all(|&f| f == 1.0), "factors start at 1");
        let mut out = Vec::new();
        let input: Vec<u32> = (0..40).collect();
        sp.compute(&input, true, &mut out);
        // First iteration: the duty cycle period is 1, so winners have duty 1 and the others 0.
        let density = 40.0f32 / 2048.0;
        let (winner, loser) = (((density - 1.0) * 2.0f32).exp(), (density * 2.0f32).exp());
        for (column, &factor) in sp.state.boost_factors.iter().enumerate() {
            let expected = if out.contains(&(column as u32)) { winner } else { loser };
            assert_eq!(factor.to_bits(), expected.to_bits(), "column {column}");
        }
        for _ in 0..30 {
            sp.compute(&input, true, &mut out);
        }
        for (&factor, &duty) in sp.state.boost_factors.iter().zip(&sp.state.active_duty) {
            assert_eq!(factor.to_bits(), ((density - duty) * 2.0f32).exp().to_bits());
        }
        let before = sp.state.boost_factors.clone();
        sp.compute(&input, false, &mut out);
        assert_eq!(sp.state.boost_factors, before, "inference leaves the factors alone");
    }

    #[test]
    fn boosted_inhibition_ranks_by_overlap_times_factor() {
        let mut sp = SpatialPooler::new(boosted_params()).unwrap();
        let mut rng = Random::new(3);
        let (mut integer, mut boosted) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            sp.overlap.load_input(&random_input(&mut rng, 454, 42));
            sp.state.boost_factors.fill(1.0);
            sp.inhibit(454, &mut integer);
            sp.inhibit_boosted(&mut boosted);
            assert_eq!(integer, boosted, "factors 1: the integer ranking");
            // Few distinct factors, so that many boosted overlaps tie.
            for factor in sp.state.boost_factors.iter_mut() {
                *factor = [0.5, 1.0, 1.5, 2.0][rng.get_uint32(4) as usize];
            }
            let mut ranked: Vec<(f32, u32)> =
                (0..2048).map(|c| (sp.overlap.overlaps[c] as f32 * sp.state.boost_factors[c], c as u32)).collect();
            ranked.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(b.1.cmp(&a.1)));
            let mut expected: Vec<u32> = ranked[..40].iter().map(|&(_, c)| c).collect();
            expected.sort_unstable();
            sp.inhibit_boosted(&mut boosted);
            assert_eq!(boosted, expected);
        }
    }
}
