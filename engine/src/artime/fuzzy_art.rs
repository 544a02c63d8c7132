//! The compact dual-vigilance fuzzy ART network of ARTime (spec §7): complement-coded 32-vectors,
//! a match that multiplies the whole-vector fuzzy similarity (cubed) by the similarity on the newest
//! sample and its complement (squared), fast learning above the upper vigilance, a sibling category
//! between the vigilances and a new cluster below the lower one.
//!
//! The original keeps every category for ever and a per-sample history of best matches and labels.
//! Here only the current sample's best match is kept (the detector needs nothing older), and the
//! number of categories is capped at [`FuzzyArt::max_categories`]: a category created at the cap
//! replaces the least recently used one (never category 1; "used" = created, learned, or best match
//! of a sample). The NAB files never come near the cap, so their results are the original's.

use serde::{Deserialize, Serialize};

use super::features::FEATURES;

/// Length of a complement-coded input.
pub const DIM: usize = 2 * FEATURES;
/// Index (0-based) of the newest conditioned sample in an input, and of its complement.
const NEWEST: usize = FEATURES - 1;
const NEWEST_COMPLEMENT: usize = DIM - 1;

/// `[f, 1 - f]`.
pub fn complement_code(f: &[f64; FEATURES]) -> [f64; DIM] {
    let mut x = [0.0; DIM];
    for (i, &v) in f.iter().enumerate() {
        x[i] = v;
        x[FEATURES + i] = 1.0 - v;
    }
    x
}

/// What one presentation found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Presentation {
    /// The best match `M` over all categories (0.0 if every match is 0, and on the first call).
    pub best: f64,
    /// The energy similarity `es` of the best-matching category.
    pub best_energy: f64,
    /// No category matched at or above the lower vigilance (the input started a new cluster).
    pub new_cluster: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FuzzyArt {
    pub rho_lb: f64,
    pub rho_ub: f64,
    /// Category weights in blocks of [`LANES`] categories; within a block, element-major (element `i`
    /// of the block's `LANES` categories side by side), so that matching runs over contiguous memory.
    /// Slots past the last category in the last block are zero and unused.
    weights: Vec<f64>,
    /// The left-to-right sum of each category's weights (recomputed whenever it learns).
    weight_sums: Vec<f64>,
    /// The presentation count at which each category was last used.
    last_used: Vec<u64>,
    /// Creation number of each category. The original appends new categories at the end and ranks
    /// equal matches by position, i.e. by creation; a category created at the cap takes the slot of
    /// the one it replaces, so ties are ranked by this number instead of by slot.
    created: Vec<u64>,
    /// Categories created so far.
    created_total: u64,
    presentations: u64,
    max_categories: usize,
    /// Scratch: the match of every category for the current input (not state).
    #[serde(skip)]
    matches: Vec<f64>,
}

impl FuzzyArt {
    /// An empty network; `max_categories` (at least 2) bounds its size.
    pub fn new(rho_lb: f64, rho_ub: f64, max_categories: usize) -> Self {
        FuzzyArt {
            rho_lb,
            rho_ub,
            weights: Vec::new(),
            weight_sums: Vec::new(),
            last_used: Vec::new(),
            created: Vec::new(),
            created_total: 0,
            presentations: 0,
            max_categories: max_categories.max(2),
            matches: Vec::new(),
        }
    }

    /// Number of categories.
    pub fn categories(&self) -> usize {
        self.weight_sums.len()
    }

    /// Approximate heap bytes (capacities).
    pub fn memory_bytes(&self) -> usize {
        (self.weights.capacity() + self.weight_sums.capacity() + self.matches.capacity()) * 8
            + (self.last_used.capacity() + self.created.capacity()) * 8
    }

    /// The cap on the number of categories.
    pub fn max_categories(&self) -> usize {
        self.max_categories
    }

    /// Position of element `i` of category `j` in `weights`.
    fn at(j: usize, i: usize) -> usize {
        (j / LANES) * LANES * DIM + i * LANES + j % LANES
    }

    /// The weights of category `j`.
    fn weight(&self, j: usize) -> [f64; DIM] {
        std::array::from_fn(|i| self.weights[Self::at(j, i)])
    }

    /// Presents `x`; with `learn`, the network learns it (fast learning, sibling or new category).
    /// The very first call only creates category 1 (all ones) and reports a zero match.
    pub fn present(&mut self, x: &[f64; DIM], learn: bool) -> Presentation {
        self.presentations += 1;
        if self.categories() == 0 {
            self.push(&[1.0; DIM]);
            return Presentation { best: 0.0, best_energy: 0.0, new_cluster: true };
        }
        // Activation: the best category is the earliest created one with the largest match (the first
        // of a stable descending ranking); a NaN match would rank first and stop the search at once.
        let mut matches = std::mem::take(&mut self.matches);
        matches.clear();
        matches.resize(self.categories(), 0.0);
        match_all(x, &self.weights, &self.weight_sums, &mut matches);
        let mut best_j = 0;
        let mut best_m = f64::NEG_INFINITY;
        let mut nan = false;
        for (j, &m) in matches.iter().enumerate() {
            nan |= m.is_nan();
            if m > best_m || (m == best_m && self.created[j] < self.created[best_j]) {
                best_m = m;
                best_j = j;
            }
        }
        let best_e = energy(x, &self.weight(best_j));
        let (best, best_energy) = if nan || best_m <= 0.0 { (0.0, 0.0) } else { (best_m, best_e) };
        let mut new_cluster = true;
        if !nan {
            self.last_used[best_j] = self.presentations;
        }
        if learn {
            if !nan && best_m >= self.rho_ub {
                // Every category at or above the upper vigilance resonates and learns.
                for (j, &m) in matches.iter().enumerate() {
                    if m >= self.rho_ub {
                        self.learn(j, x);
                    }
                }
                new_cluster = false;
            } else {
                // A sibling of the best category (same cluster) or a new cluster: either way a copy.
                new_cluster = nan || best_m < self.rho_lb;
                self.push(x);
            }
        }
        self.matches = matches;
        Presentation { best, best_energy, new_cluster }
    }

    /// Fast learning: `w_j <- min(x, w_j)`.
    fn learn(&mut self, j: usize, x: &[f64; DIM]) {
        for (i, &xi) in x.iter().enumerate() {
            let w = &mut self.weights[Self::at(j, i)];
            *w = min(xi, *w);
        }
        self.weight_sums[j] = sum(&self.weight(j));
        self.last_used[j] = self.presentations;
    }

    /// Adds a category with weights `w`. When the network is full, the new category replaces the least
    /// recently used one (never the first), in its slot.
    fn push(&mut self, w: &[f64; DIM]) {
        let number = self.created_total;
        self.created_total += 1;
        let j = if self.categories() >= self.max_categories {
            let (oldest, _) = self.last_used.iter().enumerate().skip(1).min_by_key(|&(_, &used)| used).expect("2+");
            self.weight_sums[oldest] = sum(w);
            self.last_used[oldest] = self.presentations;
            self.created[oldest] = number;
            oldest
        } else {
            let j = self.categories();
            if j.is_multiple_of(LANES) {
                self.weights.resize(self.weights.len() + LANES * DIM, 0.0);
            }
            self.weight_sums.push(sum(w));
            self.last_used.push(self.presentations);
            self.created.push(number);
            j
        };
        for (i, &wi) in w.iter().enumerate() {
            self.weights[Self::at(j, i)] = wi;
        }
    }
}

/// Left-to-right sum.
fn sum(v: &[f64; DIM]) -> f64 {
    v[1..].iter().fold(v[0], |acc, &x| acc + x)
}

/// `es`: the fuzzy similarity of `x` to `w` on the newest sample and its complement.
#[inline]
fn energy(x: &[f64; DIM], w: &[f64; DIM]) -> f64 {
    energy_of(x, w[NEWEST], w[NEWEST_COMPLEMENT])
}

/// `es` from the two weights it involves.
#[inline(always)]
fn energy_of(x: &[f64; DIM], w_newest: f64, w_complement: f64) -> f64 {
    (min(x[NEWEST], w_newest) + min(x[NEWEST_COMPLEMENT], w_complement)) / (w_newest + w_complement)
}

/// The smaller of two inputs and weights (never NaN), as one instruction.
#[inline(always)]
fn min(x: f64, w: f64) -> f64 {
    if x < w {
        x
    } else {
        w
    }
}

/// Categories matched together: their left-to-right sums are independent chains, run side by side
/// (each category's sum keeps its own order, so the result is that of one category at a time).
const LANES: usize = 16;

/// The match `M = fs^3 * es^2` of every category into `out`, where `fs = |min(x, w)| / |w|` (0.001
/// for a zero `|w|`) and `es` is [`energy`].
fn match_all(x: &[f64; DIM], weights: &[f64], weight_sums: &[f64], out: &mut [f64]) {
    for (b, block) in weights.chunks_exact(LANES * DIM).enumerate() {
        let mut acc = [0.0; LANES];
        for (lane, a) in acc.iter_mut().enumerate() {
            *a = min(x[0], block[lane]);
        }
        for (i, row) in block.chunks_exact(LANES).enumerate().skip(1) {
            for (a, &w) in acc.iter_mut().zip(row) {
                *a += min(x[i], w);
            }
        }
        let first = b * LANES;
        let count = LANES.min(out.len() - first);
        for lane in 0..count {
            let sum_w = weight_sums[first + lane];
            let fs = acc[lane] / if sum_w == 0.0 { 0.001 } else { sum_w };
            let es = energy_of(x, block[NEWEST * LANES + lane], block[NEWEST_COMPLEMENT * LANES + lane]);
            out[first + lane] = ((fs * fs) * fs) * (es * es);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(newest: f64) -> [f64; DIM] {
        let mut f = [0.0; FEATURES];
        f[NEWEST] = newest;
        complement_code(&f)
    }

    #[test]
    fn the_first_call_creates_the_all_ones_category_whose_match_is_one_32nd() {
        let mut art = FuzzyArt::new(0.5, 0.9, 100);
        let first = art.present(&input(0.0), true);
        assert_eq!(first, Presentation { best: 0.0, best_energy: 0.0, new_cluster: true });
        assert_eq!(art.categories(), 1);
        let second = art.present(&input(0.0), false);
        assert_eq!(second.best, 0.03125);
        assert_eq!(second.best_energy, 0.5);
        assert_eq!(art.categories(), 1);
    }

    #[test]
    fn new_clusters_siblings_and_resonance() {
        let mut art = FuzzyArt::new(0.5, 0.9, 100);
        art.present(&input(0.0), true);
        // Below rho_lb everywhere: a new cluster.
        assert!(art.present(&input(0.25), true).new_cluster);
        assert_eq!(art.categories(), 2);
        // The same input matches category 2 perfectly: it resonates, nothing is added.
        let again = art.present(&input(0.25), true);
        assert_eq!((again.best, again.new_cluster, art.categories()), (1.0, false, 2));
        // Between the vigilances: a sibling (not a new cluster), one more category.
        art.rho_ub = 1.1;
        let sibling = art.present(&input(0.25), true);
        assert_eq!((sibling.new_cluster, art.categories()), (false, 3));
    }

    #[test]
    fn the_category_cap_drops_the_least_recently_used_but_never_the_first() {
        let mut art = FuzzyArt::new(0.99, 0.999, 3);
        art.present(&input(0.0), true);
        art.present(&input(0.1), true);
        art.present(&input(0.9), true);
        // Reuse the 0.1 category so that the 0.9 one is the least recently used.
        assert!(!art.present(&input(0.1), true).new_cluster);
        art.present(&input(0.5), true);
        assert_eq!(art.categories(), 3);
        assert_eq!(art.weight(0), [1.0; DIM]);
        assert_eq!(art.weight(1), input(0.1));
        assert_eq!(art.weight(2), input(0.5));
    }
}
