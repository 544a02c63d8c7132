//! The overlap index: for every input, the bitmap of the columns it is connected to, and every
//! column's overlap with the current input, kept up to date as inputs switch and synapses relink.

const ACTIVE: u8 = 1;
const INCOMING: u8 = 2;

/// Input -> connected columns bitmaps and each column's overlap with the current input, maintained
/// incrementally: consecutive records share most of their on-bits, so only the inputs that switched
/// on or off are applied (or everything is recounted when that is cheaper).
#[derive(Clone, Debug)]
pub(super) struct OverlapIndex {
    /// For each input, a bitmap of the columns whose synapse from it is connected: input i's bitmap
    /// is `connected[i * column_words..(i + 1) * column_words]`.
    connected: Vec<u64>,
    column_words: usize,
    /// Each column's number of connected synapses from `active` inputs.
    pub(super) overlaps: Vec<u32>,
    /// The distinct on-bits of the current input.
    active: Vec<u32>,
    /// Per input: `ACTIVE` if it is in `active`, `INCOMING` while the next input is being loaded.
    input_flags: Vec<u8>,
    /// Bitmap of `active`.
    pub(super) active_bits: Vec<u64>,
    /// Overlap corrections (column, now connected) from connections changed while learning; applied
    /// after the duty cycles have used this compute's overlaps.
    pending: Vec<(u16, bool)>,
    incoming: Vec<u32>,
}

impl OverlapIndex {
    pub(super) fn new(inputs: usize, columns: usize) -> Self {
        let column_words = columns.div_ceil(64);
        OverlapIndex {
            connected: vec![0; inputs * column_words],
            column_words,
            overlaps: vec![0; columns],
            active: Vec::new(),
            input_flags: vec![0; inputs],
            active_bits: vec![0; inputs.div_ceil(64)],
            pending: Vec::new(),
            incoming: Vec::new(),
        }
    }

    /// Approximate heap bytes held (capacities).
    pub(super) fn memory_bytes(&self) -> usize {
        self.connected.capacity() * 8
            + self.active_bits.capacity() * 8
            + self.overlaps.capacity() * 4
            + (self.active.capacity() + self.incoming.capacity()) * 4
            + self.input_flags.capacity()
            + self.pending.capacity() * std::mem::size_of::<(u16, bool)>()
    }

    fn is_active(&self, input: usize) -> bool {
        self.input_flags[input] & ACTIVE != 0
    }

    /// The bitmap of columns connected to `input`.
    #[cfg(test)]
    pub(super) fn columns_of(&self, input: u32) -> &[u64] {
        let start = input as usize * self.column_words;
        &self.connected[start..start + self.column_words]
    }

    /// Adds `delta` to the overlap of every column connected to `input`.
    fn add_input(&mut self, input: u32, delta: u32) {
        let start = input as usize * self.column_words;
        let bitmap = &self.connected[start..start + self.column_words];
        for (w, &word) in bitmap.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let column = w * 64 + bits.trailing_zeros() as usize;
                self.overlaps[column] = self.overlaps[column].wrapping_add(delta);
                bits &= bits - 1;
            }
        }
    }

    /// Makes `inputs` the current input and updates the overlaps; returns the number of distinct
    /// on-bits (an upper bound of every overlap).
    pub(super) fn load_input(&mut self, inputs: &[u32]) -> u32 {
        self.flag_incoming(inputs);
        let active = std::mem::take(&mut self.active);
        let incoming = std::mem::take(&mut self.incoming);
        let flag = |index: &Self, i: u32| index.input_flags[i as usize];
        let switched_off = active.iter().filter(|&&i| flag(self, i) & INCOMING == 0).count();
        let switched_on = incoming.iter().filter(|&&i| flag(self, i) & ACTIVE == 0).count();
        if switched_off + switched_on < incoming.len() {
            for &input in &active {
                if flag(self, input) & INCOMING == 0 {
                    self.add_input(input, u32::MAX);
                }
            }
            for &input in &incoming {
                if flag(self, input) & ACTIVE == 0 {
                    self.add_input(input, 1);
                }
            }
        } else {
            self.overlaps.fill(0);
            for &input in &incoming {
                self.add_input(input, 1);
            }
        }
        for &input in &active {
            self.input_flags[input as usize] = 0;
            self.active_bits[input as usize / 64] = 0;
        }
        for &input in &incoming {
            self.input_flags[input as usize] = ACTIVE;
            self.active_bits[input as usize / 64] |= 1 << (input % 64);
        }
        (self.active, self.incoming) = (incoming, active);
        self.active.len() as u32
    }

    /// Collects the distinct `inputs` into `incoming` and flags them `INCOMING`.
    ///
    /// # Panics
    /// If an input index is out of range.
    fn flag_incoming(&mut self, inputs: &[u32]) {
        let width = self.input_flags.len();
        self.incoming.clear();
        for &input in inputs {
            assert!((input as usize) < width, "spatial pooler input bit {input} is out of range (input width {width})");
            let flags = &mut self.input_flags[input as usize];
            if *flags & INCOMING == 0 {
                *flags |= INCOMING;
                self.incoming.push(input);
            }
        }
    }

    /// Records that the synapse input -> column became connected (`true`) or disconnected.
    #[cold]
    #[inline(never)]
    pub(super) fn relink(&mut self, input: usize, column: usize, connected: bool) {
        let word = &mut self.connected[input * self.column_words + column / 64];
        if connected {
            *word |= 1 << (column % 64);
        } else {
            *word &= !(1 << (column % 64));
        }
        if self.is_active(input) {
            self.pending.push((column as u16, connected));
        }
    }

    /// Brings the overlaps in line with the connections changed since `load_input`.
    pub(super) fn apply_pending(&mut self) {
        for &(column, connected) in &self.pending {
            let o = &mut self.overlaps[column as usize];
            if connected {
                *o += 1;
            } else {
                *o -= 1;
            }
        }
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use crate::rng::Random;
    use crate::spatial_pooler::test_support::{initial_of, random_input, recount};
    use crate::spatial_pooler::{SpParams, SpatialPooler};

    #[test]
    fn incremental_overlaps_match_a_full_recount() {
        let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let initial = initial_of(&sp);
        let mut rng = Random::new(5);
        let mut out = Vec::new();
        let mut input = random_input(&mut rng, 454, 42);
        for step in 0..300 {
            // Mostly small changes (the incremental path), sometimes a new input (the recount path).
            if step % 7 == 0 {
                input = random_input(&mut rng, 454, 42);
            } else {
                let k = rng.get_uint32(input.len() as u32) as usize;
                input[k] = rng.get_uint32(454);
                input.sort_unstable();
                input.dedup();
            }
            sp.compute(&input, true, &mut out);
            assert_eq!(out.len(), 40);
            assert!(out.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(sp.overlap.overlaps, recount(&sp, &initial, &input), "step {step}");
        }
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn out_of_range_input_panics_clearly() {
        let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        sp.compute(&[454], true, &mut Vec::new());
    }
}
