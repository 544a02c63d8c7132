//! Potential pools as bitmaps over the inputs: a column's k-th potential synapse (and its k-th
//! permanence) belongs to the k-th member of its pool bitmap, in ascending input order.

use super::SpState;

impl SpState {
    /// The pool bitmap of `column`.
    pub(super) fn pool(&self, column: usize) -> &[u64] {
        &self.pools[column * self.pool_words..(column + 1) * self.pool_words]
    }
}

/// The number of members of `column`'s pool (`pool_start` holds the running totals).
pub(super) fn pool_size(pool_start: &[u32], column: usize) -> usize {
    (pool_start[column + 1] - pool_start[column]) as usize
}

/// The inputs of a pool bitmap, ascending.
pub(super) fn pool_inputs(pool: &[u64]) -> impl Iterator<Item = usize> + '_ {
    pool.iter().enumerate().flat_map(|(w, &word)| {
        let mut bits = word;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let input = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                input
            })
        })
    })
}

/// The input at position `k` of a pool bitmap.
pub(super) fn select(pool: &[u64], mut k: usize) -> usize {
    for (w, &word) in pool.iter().enumerate() {
        let n = word.count_ones() as usize;
        if k < n {
            let mut bits = word;
            for _ in 0..k {
                bits &= bits - 1;
            }
            return w * 64 + bits.trailing_zeros() as usize;
        }
        k -= n;
    }
    unreachable!("pool position out of range")
}

/// Per pool position: `on` where the input is active, `off` elsewhere (`out` holds the whole pool).
pub(super) fn pool_deltas(pool: &[u64], active: &[u64], on: f32, off: f32, out: &mut [f32]) {
    out.fill(off);
    let mut base = 0;
    for (&p, &a) in pool.iter().zip(active) {
        let mut hits = p & a;
        while hits != 0 {
            let below = (1u64 << hits.trailing_zeros()) - 1;
            out[base + (p & below).count_ones() as usize] = on;
            hits &= hits - 1;
        }
        base += p.count_ones() as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Random;
    use crate::spatial_pooler::test_support::random_input;

    #[test]
    fn pool_bitmap_positions_and_deltas() {
        let mut rng = Random::new(3);
        for _ in 0..50 {
            let inputs: Vec<u32> = random_input(&mut rng, 200, 120);
            let active = random_input(&mut rng, 200, 30);
            let mut pool = vec![0u64; 4];
            let mut active_bits = vec![0u64; 4];
            for &i in &inputs {
                pool[i as usize / 64] |= 1 << (i % 64);
            }
            for &i in &active {
                active_bits[i as usize / 64] |= 1 << (i % 64);
            }
            let listed: Vec<usize> = pool_inputs(&pool).collect();
            assert_eq!(listed, inputs.iter().map(|&i| i as usize).collect::<Vec<_>>());
            let mut deltas = vec![0.0; listed.len()];
            pool_deltas(&pool, &active_bits, 1.0, -1.0, &mut deltas);
            for (k, &input) in listed.iter().enumerate() {
                assert_eq!(select(&pool, k), input);
                assert_eq!(deltas[k], if active.contains(&(input as u32)) { 1.0 } else { -1.0 });
            }
        }
    }
}
