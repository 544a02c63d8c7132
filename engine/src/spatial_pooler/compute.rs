//! One spatial pooler step: the overlaps of the new input, global inhibition (the active columns)
//! and, when learning, the learning step.

use super::SpatialPooler;

impl SpatialPooler {
    /// One step. `active_inputs`: the on-bit indices (each < `input_width`; normally sorted, but any
    /// order works and repeats count once).
    /// Writes the winning columns, ascending, into `out` (cleared first). With `learn`, the overlaps
    /// are boosted (when boosting is on), and the winners' permanences, the duty cycles, the weak
    /// columns and the boost factors adapt as nupic.core does.
    ///
    /// # Panics
    /// If an input index is out of range.
    pub fn compute(&mut self, active_inputs: &[u32], learn: bool, out: &mut Vec<u32>) {
        self.state.iteration += 1;
        if learn {
            self.state.learn_iteration += 1;
        }
        let distinct_inputs = self.overlap.load_input(active_inputs);
        if learn && !self.state.boost_factors.is_empty() {
            self.inhibit_boosted(out);
        } else {
            self.inhibit(distinct_inputs, out);
        }
        if learn {
            self.learn(out);
        }
    }

    /// Global inhibition: the `num_active` columns with the largest overlap at or above the stimulus
    /// threshold, ties to the higher column index.
    /// `max_overlap` bounds every column's overlap (the number of distinct active inputs).
    pub(super) fn inhibit(&mut self, max_overlap: u32, out: &mut Vec<u32>) {
        out.clear();
        let wanted = self.derived.num_active;
        let stimulus = self.state.params.stimulus_threshold;
        let overlaps = &self.overlap.overlaps;
        let histogram = &mut self.overlap_histogram[..=max_overlap as usize];
        histogram.fill(0);
        for &o in overlaps {
            histogram[o as usize] += 1;
        }
        // Find the lowest winning overlap and how many columns at exactly that overlap still win.
        let mut cutoff = stimulus;
        let mut ties_left = usize::MAX;
        let mut above = 0usize;
        for o in (stimulus..=max_overlap).rev() {
            let here = histogram[o as usize] as usize;
            if above + here >= wanted {
                cutoff = o;
                ties_left = wanted - above;
                break;
            }
            above += here;
        }
        for column in (0..overlaps.len()).rev() {
            let o = overlaps[column];
            if o > cutoff || (o == cutoff && ties_left > 0) {
                if o == cutoff {
                    ties_left -= 1;
                }
                out.push(column as u32);
            }
        }
        out.reverse();
    }
}

#[cfg(test)]
mod tests {
    use crate::spatial_pooler::{SpParams, SpatialPooler};

    #[test]
    fn ties_go_to_the_higher_column_and_inference_does_not_learn() {
        let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let mut out = Vec::new();
        sp.compute(&[], false, &mut out);
        assert_eq!(out, (2008..2048).collect::<Vec<u32>>());
        sp.compute(&[1, 5, 99, 300], false, &mut out);
        assert_eq!(out.len(), 40);
        assert_eq!(sp.state.changed.len(), 0, "no column changed");
        assert_eq!((sp.iteration(), sp.state.learn_iteration), (2, 0));
        assert!(sp.state.active_duty.iter().all(|&d| d == 0.0));
    }
}
