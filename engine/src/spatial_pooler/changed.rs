//! The permanences of the columns that changed since initialisation, held without their zeros: a
//! column forgets the inputs it never sees active while winning, whose permanences decay to 0 and
//! stay there (29 % of them on machine_temperature after 20,000 records). Each changed column keeps
//! the bitmap of its pool's inputs with a nonzero permanence and those permanences, in ascending
//! input order, in one of the pooler's `Regions` (nothing is allocated per column).

use super::pool::pool_inputs;
use crate::regions::Regions;

/// A column's nonzero permanences take a multiple of this many.
const QUANTUM: usize = 16;

#[derive(Clone, Debug)]
pub(super) struct ChangedColumns {
    pool_words: usize,
    /// Per changed column (by slot): the inputs with a nonzero permanence, `pool_words` words each.
    nonzero: Vec<u64>,
    /// Per changed column (by slot): its nonzero permanences in ascending input order.
    perms: Regions<f32>,
}

impl ChangedColumns {
    pub(super) fn new(pool_words: usize) -> Self {
        ChangedColumns { pool_words, nonzero: Vec::new(), perms: Regions::new(QUANTUM) }
    }

    /// Number of changed columns.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.perms.count()
    }

    /// Adds a column with the permanences `dense` (one per member of `pool`, ascending); returns its slot.
    pub(super) fn add(&mut self, pool: &[u64], dense: &[f32]) -> usize {
        self.nonzero.resize(self.nonzero.len() + self.pool_words, 0);
        let slot = self.perms.add();
        self.set_dense(slot, pool, dense);
        slot
    }

    /// The nonzero inputs' bitmap and the nonzero permanences of the column in `slot`.
    pub(super) fn column_mut(&mut self, slot: usize) -> (&mut [u64], &mut [f32]) {
        let words = slot * self.pool_words..(slot + 1) * self.pool_words;
        (&mut self.nonzero[words], self.perms.get_mut(slot))
    }

    /// Writes the permanences of the column in `slot` into `dense`, one per member of `pool`.
    pub(super) fn dense(&self, slot: usize, pool: &[u64], dense: &mut [f32]) {
        let nonzero = &self.nonzero[slot * self.pool_words..(slot + 1) * self.pool_words];
        let mut perms = self.perms.get(slot).iter();
        for (input, d) in pool_inputs(pool).zip(dense.iter_mut()) {
            let is_nonzero = nonzero[input / 64] >> (input % 64) & 1 != 0;
            *d = if is_nonzero { *perms.next().expect("a permanence for every nonzero input") } else { 0.0 };
        }
    }

    /// Sets the permanences of the column in `slot` from `dense`, one per member of `pool`.
    pub(super) fn set_dense(&mut self, slot: usize, pool: &[u64], dense: &[f32]) {
        self.perms.resize(slot, dense.iter().filter(|&&p| p != 0.0).count());
        let (nonzero, perms) = self.column_mut(slot);
        nonzero.fill(0);
        let mut at = 0;
        for (input, &p) in pool_inputs(pool).zip(dense) {
            if p != 0.0 {
                nonzero[input / 64] |= 1 << (input % 64);
                perms[at] = p;
                at += 1;
            }
        }
    }

    /// Drops the zeros of the column in `slot`'s nonzero permanences, unmarking their inputs.
    pub(super) fn drop_zeros(&mut self, slot: usize) {
        let (nonzero, perms) = self.column_mut(slot);
        let (mut k, mut kept) = (0, 0);
        for word in nonzero.iter_mut() {
            let mut bits = *word;
            while bits != 0 {
                let bit = bits & bits.wrapping_neg();
                if perms[k] == 0.0 {
                    *word &= !bit;
                } else {
                    perms[kept] = perms[k];
                    kept += 1;
                }
                bits &= bits - 1;
                k += 1;
            }
        }
        self.perms.resize(slot, kept);
    }

    /// Inserts permanence `p` for `input`, which must not be marked nonzero, into the column in `slot`.
    pub(super) fn insert(&mut self, slot: usize, input: usize, p: f32) {
        let len = self.perms.get(slot).len();
        self.perms.resize(slot, len + 1);
        let (nonzero, perms) = self.column_mut(slot);
        let (w, bit) = (input / 64, 1u64 << (input % 64));
        let rank = nonzero[..w].iter().map(|x| x.count_ones() as usize).sum::<usize>()
            + (nonzero[w] & (bit - 1)).count_ones() as usize;
        perms.copy_within(rank..len, rank + 1);
        perms[rank] = p;
        nonzero[w] |= bit;
    }

    /// Approximate heap bytes held (capacities).
    pub(super) fn memory_bytes(&self) -> usize {
        self.nonzero.capacity() * 8 + self.perms.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_their_permanences_without_zeros() {
        // Two columns over a 200-input pool; zeros are not held.
        let pool = [u64::MAX, u64::MAX, u64::MAX, (1 << 8) - 1];
        let mut dense_a: Vec<f32> = (0..200).map(|k| if k % 3 == 0 { 0.0 } else { k as f32 }).collect();
        let mut dense_b: Vec<f32> = (0..200).map(|k| if k < 190 { 0.0 } else { 1.0 + k as f32 }).collect();
        let mut c = ChangedColumns::new(4);
        let (a, b) = (c.add(&pool, &dense_a), c.add(&pool, &dense_b));
        let held = |c: &ChangedColumns, slot| {
            let mut out = vec![-1.0; 200];
            c.dense(slot, &pool, &mut out);
            out
        };
        assert_eq!((held(&c, a), held(&c, b)), (dense_a.clone(), dense_b.clone()));
        assert_eq!((c.perms.get(a).len(), c.perms.get(b).len()), (133, 10));
        for input in (0..190).step_by(3) {
            c.insert(b, input, 0.5);
            dense_b[input] = 0.5;
        }
        assert_eq!(held(&c, b), dense_b);
        let (nonzero, perms) = c.column_mut(a);
        for (k, p) in perms.iter_mut().enumerate() {
            if k % 2 == 0 {
                *p = 0.0;
            }
        }
        for (k, input) in pool_inputs(nonzero).enumerate() {
            if k % 2 == 0 {
                dense_a[input] = 0.0;
            }
        }
        c.drop_zeros(a);
        assert_eq!((held(&c, a), held(&c, b)), (dense_a.clone(), dense_b.clone()));
        assert_eq!(c.perms.get(a).len(), 66);
        let third = c.add(&pool, &(0..200).map(|k| if k < 133 { 0.25 } else { 0.0 }).collect::<Vec<_>>());
        assert_eq!(held(&c, third).iter().filter(|&&p| p == 0.25).count(), 133);
        assert_eq!((held(&c, a), held(&c, b)), (dense_a, dense_b));
    }
}
