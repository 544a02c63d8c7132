//! The permanences of the columns that changed since initialisation, held without their zeros: a
//! column forgets the inputs it never sees active while winning, whose permanences decay to 0 and
//! stay there (29 % of them on machine_temperature after 20,000 records). Each changed column keeps
//! the bitmap of its pool's inputs with a nonzero permanence and those permanences, in ascending
//! input order, in a region of one shared array. Regions hold multiples of QUANTUM permanences; a
//! column that outgrows its region (or uses less than all but one quantum of it) moves to one of the
//! size it needs and leaves its old region for the next column that needs that size; when a tenth
//! of the array is left unused, the regions are packed again. Nothing is allocated per column (a few
//! hundred small allocations per model, made as columns first change, fragmented the heap more
//! than they saved).

use super::pool::pool_inputs;

/// Region sizes are multiples of this many permanences.
const QUANTUM: usize = 16;

/// Where a changed column's nonzero permanences are.
#[derive(Clone, Copy, Debug)]
struct Region {
    start: u32,
    len: u16,
    /// Room in QUANTUM units.
    quanta: u16,
}

#[derive(Clone, Debug, Default)]
pub(super) struct ChangedColumns {
    pool_words: usize,
    /// Per changed column (by slot): the inputs with a nonzero permanence, `pool_words` words each.
    nonzero: Vec<u64>,
    regions: Vec<Region>,
    /// The regions' permanences.
    arena: Vec<f32>,
    /// Unused regions, by size: `free[q]` holds the starts of free regions of q quanta.
    free: Vec<Vec<u32>>,
    /// Permanences the free regions hold.
    unused: usize,
}

impl ChangedColumns {
    pub(super) fn new(pool_words: usize) -> Self {
        ChangedColumns { pool_words, ..Default::default() }
    }

    /// Number of changed columns.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.regions.len()
    }

    /// Adds a column with the permanences `dense` (one per member of `pool`, ascending); returns its slot.
    pub(super) fn add(&mut self, pool: &[u64], dense: &[f32]) -> usize {
        self.nonzero.resize(self.nonzero.len() + self.pool_words, 0);
        self.regions.push(Region { start: 0, len: 0, quanta: 0 });
        let slot = self.regions.len() - 1;
        self.set_dense(slot, pool, dense);
        slot
    }

    /// The nonzero inputs' bitmap and the nonzero permanences of the column in `slot`.
    pub(super) fn column_mut(&mut self, slot: usize) -> (&mut [u64], &mut [f32]) {
        let r = self.regions[slot];
        let words = slot * self.pool_words..(slot + 1) * self.pool_words;
        (&mut self.nonzero[words], &mut self.arena[r.start as usize..][..r.len as usize])
    }

    /// Writes the permanences of the column in `slot` into `dense`, one per member of `pool`.
    pub(super) fn dense(&self, slot: usize, pool: &[u64], dense: &mut [f32]) {
        let r = self.regions[slot];
        let nonzero = &self.nonzero[slot * self.pool_words..(slot + 1) * self.pool_words];
        let mut perms = self.arena[r.start as usize..][..r.len as usize].iter();
        for (input, d) in pool_inputs(pool).zip(dense.iter_mut()) {
            let is_nonzero = nonzero[input / 64] >> (input % 64) & 1 != 0;
            *d = if is_nonzero { *perms.next().expect("a permanence for every nonzero input") } else { 0.0 };
        }
    }

    /// Sets the permanences of the column in `slot` from `dense`, one per member of `pool`.
    pub(super) fn set_dense(&mut self, slot: usize, pool: &[u64], dense: &[f32]) {
        let len = dense.iter().filter(|&&p| p != 0.0).count();
        self.resize(slot, len);
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
        self.resize(slot, kept);
    }

    /// Inserts permanence `p` for `input`, which must not be marked nonzero, into the column in `slot`.
    pub(super) fn insert(&mut self, slot: usize, input: usize, p: f32) {
        let len = self.regions[slot].len as usize;
        self.resize(slot, len + 1);
        let (nonzero, perms) = self.column_mut(slot);
        let (w, bit) = (input / 64, 1u64 << (input % 64));
        let rank = nonzero[..w].iter().map(|x| x.count_ones() as usize).sum::<usize>()
            + (nonzero[w] & (bit - 1)).count_ones() as usize;
        perms.copy_within(rank..len, rank + 1);
        perms[rank] = p;
        nonzero[w] |= bit;
    }

    /// Gives the column in `slot` room for `len` permanences (keeping the first ones): a region of
    /// the smallest size that holds them, moving there if its region is too small or larger by more
    /// than a quantum.
    fn resize(&mut self, slot: usize, len: usize) {
        let quanta = len.div_ceil(QUANTUM).max(1);
        let old = self.regions[slot];
        if quanta > old.quanta as usize || quanta + 1 < old.quanta as usize {
            let start = self.take_region(quanta);
            let kept = (old.len as usize).min(len);
            self.arena.copy_within(old.start as usize..old.start as usize + kept, start as usize);
            if old.quanta > 0 {
                self.free[old.quanta as usize].push(old.start);
                self.unused += old.quanta as usize * QUANTUM;
            }
            self.regions[slot] = Region { start, len: len as u16, quanta: quanta as u16 };
            if self.unused > self.arena.len() / 10 {
                self.pack();
            }
        } else {
            self.regions[slot].len = len as u16;
        }
    }

    /// Moves every region to the front of a new array, in slot order, sized for its permanences.
    fn pack(&mut self) {
        let room = |r: &Region| (r.len as usize).div_ceil(QUANTUM).max(1) * QUANTUM;
        let mut arena = Vec::with_capacity(self.regions.iter().map(room).sum());
        for r in self.regions.iter_mut() {
            let start = arena.len();
            arena.extend_from_slice(&self.arena[r.start as usize..][..r.len as usize]);
            arena.resize(start + room(r), 0.0);
            (r.start, r.quanta) = (start as u32, (room(r) / QUANTUM) as u16);
        }
        self.arena = arena;
        self.free.iter_mut().for_each(Vec::clear);
        self.unused = 0;
    }

    /// The start of an unused region of `quanta` quanta, reused if one is free.
    fn take_region(&mut self, quanta: usize) -> u32 {
        if self.free.len() <= quanta {
            self.free.resize(quanta + 1, Vec::new());
        }
        if let Some(start) = self.free[quanta].pop() {
            self.unused -= quanta * QUANTUM;
            return start;
        }
        let start = self.arena.len();
        let size = quanta * QUANTUM;
        if self.arena.capacity() - start < size {
            self.arena.reserve_exact(size.max(start / 32));
        }
        self.arena.resize(start + size, 0.0);
        start as u32
    }

    /// Approximate heap bytes held (capacities).
    pub(super) fn memory_bytes(&self) -> usize {
        self.nonzero.capacity() * 8
            + self.regions.capacity() * std::mem::size_of::<Region>()
            + self.arena.capacity() * 4
            + self.free.iter().map(|f| f.capacity() * 4 + std::mem::size_of::<Vec<u32>>()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The array holds the regions in use and the free ones, and stays packed enough.
    fn check_accounting(c: &ChangedColumns) {
        let room: usize = c.regions.iter().map(|r| r.quanta as usize * QUANTUM).sum();
        assert_eq!(c.arena.len(), room + c.unused);
        assert!(c.unused <= c.arena.len() / 10);
        assert!(c.regions.iter().all(|r| (r.len as usize) <= r.quanta as usize * QUANTUM));
    }

    #[test]
    fn columns_keep_their_permanences_as_regions_move() {
        // Two columns over a 200-input pool; zeros are not held, regions grow and shrink by QUANTUM.
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
        assert_eq!((c.regions[a].quanta, c.regions[b].quanta), (9, 1), "133 and 10 permanences");
        for input in (0..190).step_by(3) {
            c.insert(b, input, 0.5);
            dense_b[input] = 0.5;
            check_accounting(&c);
        }
        assert_eq!(c.regions[b].quanta, 5, "74 permanences");
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
        check_accounting(&c);
        assert_eq!((held(&c, a), held(&c, b)), (dense_a.clone(), dense_b.clone()));
        assert_eq!(c.regions[a].len, 66);
        assert_eq!(c.regions[a].quanta, 5, "a region larger by more than a quantum is left for one that fits");
        let third = c.add(&pool, &(0..200).map(|k| if k < 133 { 0.25 } else { 0.0 }).collect::<Vec<_>>());
        check_accounting(&c);
        assert_eq!(held(&c, third).iter().filter(|&&p| p == 0.25).count(), 133);
        assert_eq!((held(&c, a), held(&c, b)), (dense_a, dense_b));
    }
}
