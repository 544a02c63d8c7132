//! NuPIC's random number generator (nupic.core `Random`): an additive lagged-Fibonacci generator
//! in the style of BSD `random()`, modulus 2^32 - 1, seeded by Park-Miller steps (spec/htm.md 3.1).

use serde::{Deserialize, Serialize};

const STATE_WORDS: usize = 31;
const MAX32: u64 = 0xFFFF_FFFF;

/// A seeded NuPIC-compatible generator. Same seed and same call order give NuPIC's exact stream.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Random {
    state: [u32; STATE_WORDS],
    front: usize,
    rear: usize,
}

impl Random {
    /// Seeds like nupic.core: Park-Miller fill (Schrage's method, signed 32-bit), then 310 discarded draws.
    pub fn new(seed: u64) -> Self {
        let mut state = [0u32; STATE_WORDS];
        state[0] = (seed % MAX32) as u32;
        for i in 1..STATE_WORDS {
            let x = state[i - 1] as i32;
            let hi = x / 127_773;
            let lo = x % 127_773;
            let mut t = 16_807i32.wrapping_mul(lo).wrapping_sub(2_836i32.wrapping_mul(hi));
            if t < 0 {
                t = t.wrapping_add(0x7FFF_FFFF);
            }
            state[i] = t as u32;
        }
        let mut rng = Random { state, front: 3, rear: 0 };
        for _ in 0..10 * STATE_WORDS {
            rng.raw();
        }
        rng
    }

    /// One raw 31-bit output.
    fn raw(&mut self) -> u32 {
        // Both words are below MAX32 (every stored word is a sum reduced mod MAX32, or a seed word
        // below 2^31), so one conditional subtraction is the reduction.
        let mut sum = self.state[self.front] as u64 + self.state[self.rear] as u64;
        if sum >= MAX32 {
            sum -= MAX32;
        }
        self.state[self.front] = sum as u32;
        let out = (sum as u32) >> 1;
        self.front += 1;
        if self.front >= STATE_WORDS {
            self.front = 0;
            self.rear += 1;
        } else {
            self.rear += 1;
            if self.rear >= STATE_WORDS {
                self.rear = 0;
            }
        }
        out
    }

    /// Uniform integer in `[0, max)` (NuPIC `getUInt32(max)`, with its rejection rule).
    pub fn get_uint32(&mut self, max: u32) -> u32 {
        assert!(max > 0, "get_uint32 needs max > 0");
        if max <= 1 << 31 {
            // A raw draw is below 2^31, never above the rejection limit for such a max.
            return self.raw() % max;
        }
        let limit = MAX32 - (MAX32 % max as u64);
        loop {
            let v = self.raw() as u64;
            if v <= limit {
                return (v % max as u64) as u32;
            }
        }
    }

    /// `getUInt32()` with NuPIC's default maximum 2^32 - 1.
    pub fn get_uint32_default(&mut self) -> u32 {
        self.get_uint32(u32::MAX)
    }

    /// Uniform integer in `[0, max)` built from two raw draws (NuPIC `getUInt64(max)`).
    pub fn get_uint64(&mut self, max: u64) -> u64 {
        assert!(max > 0, "get_uint64 needs max > 0");
        let limit = u64::MAX - (u64::MAX % max);
        loop {
            let lo = self.raw() as u64;
            let hi = self.raw() as u64;
            let v = lo | (hi << 32);
            if v <= limit {
                return v % max;
            }
        }
    }

    /// Uniform double in `[0, 1)` with 48 random bits (NuPIC `getReal64()`).
    pub fn get_real64(&mut self) -> f64 {
        const TWO48: u64 = 1 << 48;
        self.get_uint64(TWO48) as f64 / TWO48 as f64
    }

    /// Picks `k` elements of `population` by selection sampling; the result keeps population order.
    pub fn sample<T: Copy>(&mut self, population: &[T], k: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(k);
        self.sample_into(population, k, &mut out);
        out
    }

    /// `sample`, appending the picks to `out`.
    pub fn sample_into<T: Copy>(&mut self, population: &[T], k: usize, out: &mut Vec<T>) {
        assert!(k <= population.len(), "sample: k larger than the population");
        if k == 0 {
            return;
        }
        // Branch-free (the draws decide at random, which no predictor guesses): every candidate is
        // written to the next free place, which advances when it is picked. Selection sampling picks
        // exactly k, so the k places are full at the end.
        let (n, start) = (population.len(), out.len());
        out.resize(start + k, population[0]);
        let picks = &mut out[start..];
        let mut picked = 0;
        for (i, &item) in population.iter().enumerate() {
            if picked == k {
                break;
            }
            picks[picked] = item;
            picked += ((self.get_uint32((n - i) as u32) as usize) < k - picked) as usize;
        }
        debug_assert_eq!(picked, k);
    }

    /// Shuffles in place the way NuPIC does (swap position j with j + getUInt32(n - j)).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        let n = items.len();
        for j in 0..n {
            let i = self.get_uint32((n - j) as u32) as usize;
            items.swap(j, j + i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_nupic_core_vectors() {
        let mut r = Random::new(1);
        assert_eq!(r.get_uint64(u64::MAX), 3723745761376425000);
        assert_eq!(r.get_uint64(u64::MAX), 7464235991977222558);
        let mut r = Random::new(1);
        assert_eq!(r.get_real64(), 0.4025028174111469);
        assert_eq!(r.get_real64(), 0.29331049250469476);
        let mut r = Random::new(1);
        let v: Vec<u32> = (0..5).map(|_| r.get_uint32(1000)).collect();
        assert_eq!(v, vec![888, 122, 38, 870, 714]);
        let mut r = Random::new(42);
        assert_eq!(r.sample(&[1, 2, 3, 4], 2), vec![1, 3]);
        let mut r = Random::new(42);
        let mut a = [1, 2, 3, 4];
        r.shuffle(&mut a);
        assert_eq!(a, [1, 4, 3, 2]);
    }
}
