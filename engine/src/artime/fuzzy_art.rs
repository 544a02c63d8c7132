//! The compact dual-vigilance fuzzy ART network of ARTime (spec §7): complement-coded 32-vectors,
//! a match that multiplies the whole-vector fuzzy similarity (cubed) by the similarity on the newest
//! sample and its complement (squared), fast learning above the upper vigilance, a sibling category
//! between the vigilances and a new cluster below the lower one.
//!
//! The original keeps every category for ever and a per-sample history of best matches and labels.
//! Here only the current sample's best match is kept (the detector needs nothing older), and the
//! number of categories is capped at [`FuzzyArt::max_categories`]: creating a category beyond the cap
//! first drops the least recently used one (never category 1; "used" = created, learned, or best
//! match of a sample). The NAB files never come near the cap, so their results are the original's.

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
    /// Category weights, `DIM` values per category, in category order.
    weights: Vec<f64>,
    /// The left-to-right sum of each category's weights (recomputed whenever it learns).
    weight_sums: Vec<f64>,
    /// The presentation count at which each category was last used.
    last_used: Vec<u64>,
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
            presentations: 0,
            max_categories: max_categories.max(2),
            matches: Vec::new(),
        }
    }

    /// Number of categories.
    pub fn categories(&self) -> usize {
        self.weight_sums.len()
    }

    /// The cap on the number of categories.
    pub fn max_categories(&self) -> usize {
        self.max_categories
    }

    fn weight(&self, j: usize) -> &[f64; DIM] {
        self.weights[j * DIM..(j + 1) * DIM].try_into().expect("DIM weights per category")
    }

    /// Presents `x`; with `learn`, the network learns it (fast learning, sibling or new category).
    /// The very first call only creates category 1 (all ones) and reports a zero match.
    pub fn present(&mut self, x: &[f64; DIM], learn: bool) -> Presentation {
        self.presentations += 1;
        if self.categories() == 0 {
            self.push(&[1.0; DIM]);
            return Presentation { best: 0.0, best_energy: 0.0, new_cluster: true };
        }
        // Activation: the best category is the first (lowest index) with the largest match, as in a
        // stable descending ranking; a NaN match would rank first and stop the search at once.
        let mut best_j = 0;
        let mut best_m = f64::NEG_INFINITY;
        let mut best_e = 0.0;
        let mut nan = false;
        let mut matches = std::mem::take(&mut self.matches);
        matches.clear();
        for (j, (w, &sum_w)) in self.weights.chunks_exact(DIM).zip(&self.weight_sums).enumerate() {
            let (m, e) = activation(x, w.try_into().expect("DIM weights"), sum_w);
            nan |= m.is_nan();
            if m > best_m {
                best_m = m;
                best_e = e;
                best_j = j;
            }
            matches.push(m);
        }
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
        let w = &mut self.weights[j * DIM..(j + 1) * DIM];
        for (wi, &xi) in w.iter_mut().zip(x) {
            *wi = xi.min(*wi);
        }
        self.weight_sums[j] = sum(self.weight(j));
        self.last_used[j] = self.presentations;
    }

    /// Appends a category with weights `w`, first dropping the least recently used one (never the
    /// first) when the network is full.
    fn push(&mut self, w: &[f64; DIM]) {
        if self.categories() >= self.max_categories {
            let (oldest, _) = self.last_used.iter().enumerate().skip(1).min_by_key(|&(_, &used)| used).expect("2+");
            self.weights.drain(oldest * DIM..(oldest + 1) * DIM);
            self.weight_sums.remove(oldest);
            self.last_used.remove(oldest);
        }
        self.weights.extend_from_slice(w);
        self.weight_sums.push(sum(w));
        self.last_used.push(self.presentations);
    }
}

/// Left-to-right sum.
fn sum(v: &[f64; DIM]) -> f64 {
    v[1..].iter().fold(v[0], |acc, &x| acc + x)
}

/// `(M, es)` of a category with weights `w` (whose sum is `sum_w`) for input `x`.
#[inline]
fn activation(x: &[f64; DIM], w: &[f64; DIM], sum_w: f64) -> (f64, f64) {
    let mut u = [0.0; DIM];
    for i in 0..DIM {
        u[i] = x[i].min(w[i]);
    }
    let fs = sum(&u) / if sum_w == 0.0 { 0.001 } else { sum_w };
    let es = (u[NEWEST] + u[NEWEST_COMPLEMENT]) / (w[NEWEST] + w[NEWEST_COMPLEMENT]);
    (((fs * fs) * fs) * (es * es), es)
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
        assert_eq!(art.weight(0), &[1.0; DIM]);
        assert_eq!(art.weight(1), &input(0.1));
        assert_eq!(art.weight(2), &input(0.5));
    }
}
