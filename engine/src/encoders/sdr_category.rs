//! NuPIC 1.0.5's `SDRCategoryEncoder`: every category gets a random set of `w` of `n` bits, drawn
//! with the encoder's own NuPIC [`Random`] (seeded by `encoderSeed`) when the category is added.
//! Category 0 is `<UNKNOWN>`, which unknown inputs encode as while not learning. Without a fixed
//! category list the encoder learns: an unseen category is added (and drawn) on first sight.

use crate::error::{invalid, Error};
use crate::rng::Random;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Name of category 0.
pub const UNKNOWN_CATEGORY: &str = "<UNKNOWN>";
/// NuPIC's attempts at drawing an SDR different from all earlier ones.
const MAX_ATTEMPTS: usize = 1000;

/// NuPIC's `SDRCategoryEncoder`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SdrCategoryEncoder {
    n: usize,
    w: usize,
    random: Random,
    categories: Vec<String>,
    index: HashMap<String, usize>,
    /// On-bits (ascending) of each category, by index.
    sdrs: Vec<Vec<usize>>,
    learning_enabled: bool,
}

impl SdrCategoryEncoder {
    /// `categories = None` makes a learning encoder. `seed` is NuPIC's `encoderSeed` (default 1).
    pub fn new(n: usize, w: usize, categories: Option<Vec<String>>, seed: u64, forced: bool) -> Result<Self, Error> {
        if w == 0 || w > n {
            return Err(invalid(format!("SDRCategoryEncoder needs 0 < w <= n (w {w}, n {n})")));
        }
        if !forced {
            if n / w < 2 {
                return Err(invalid(format!(
                    "Number of ON bits in SDR ({w}) must be much smaller than the output width ({n})"
                )));
            }
            if w < 21 {
                return Err(invalid(format!(
                    "Number of bits in the SDR ({w}) must be greater than 2, and recommended >= 21 \
                     (use forced=True to override)"
                )));
            }
        }
        let mut enc = SdrCategoryEncoder {
            n,
            w,
            random: Random::new(seed),
            categories: Vec::new(),
            index: HashMap::new(),
            sdrs: Vec::new(),
            learning_enabled: categories.is_none(),
        };
        enc.add_category(UNKNOWN_CATEGORY)?;
        for c in categories.unwrap_or_default() {
            enc.add_category(&c)?;
        }
        Ok(enc)
    }

    /// A fresh random SDR that differs from every existing one (NuPIC's `_newRep`).
    fn new_rep(&mut self) -> Result<Vec<usize>, Error> {
        let population: Vec<usize> = (0..self.n).collect();
        for _ in 0..MAX_ATTEMPTS {
            let mut bits = self.random.sample(&population, self.w);
            bits.sort_unstable();
            if !self.sdrs.contains(&bits) {
                return Ok(bits);
            }
        }
        Err(invalid(format!("Unable to find a unique SDR after {MAX_ATTEMPTS} attempts")))
    }

    fn add_category(&mut self, category: &str) -> Result<usize, Error> {
        if self.index.contains_key(category) {
            return Err(invalid(format!("Attempt to add add encoder category '{category}' that already exists")));
        }
        let rep = self.new_rep()?;
        let i = self.sdrs.len();
        self.sdrs.push(rep);
        self.categories.push(category.to_owned());
        self.index.insert(category.to_owned(), i);
        Ok(i)
    }

    pub fn width(&self) -> usize {
        self.n
    }
    pub fn w(&self) -> usize {
        self.w
    }
    pub fn learning_enabled(&self) -> bool {
        self.learning_enabled
    }
    pub fn set_learning(&mut self, learn: bool) {
        self.learning_enabled = learn;
    }
    /// Categories by index; index 0 is `<UNKNOWN>`.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }
    /// On-bits of category `i`.
    pub fn category_bits(&self, i: usize) -> Option<&[usize]> {
        self.sdrs.get(i).map(Vec::as_slice)
    }

    /// NuPIC's `_getIndex`: the category's index; an unknown one is added when `learn`, else 0.
    pub fn category_index(&mut self, category: &str, learn: bool) -> Result<usize, Error> {
        match self.index.get(category) {
            Some(&i) => Ok(i),
            None if learn => self.add_category(category),
            None => Ok(0),
        }
    }

    /// NuPIC's `encode` as on-bits; `None` (missing data) gives no bits.
    pub fn encode_bits(&mut self, category: Option<&str>) -> Result<Vec<usize>, Error> {
        match category {
            None => Ok(Vec::new()),
            Some(c) => {
                let i = self.category_index(c, self.learning_enabled)?;
                Ok(self.sdrs[i].clone())
            }
        }
    }

    /// NuPIC's `getBucketIndices(category, learn)[0]`.
    pub fn bucket_index(&mut self, category: Option<&str>, learn: Option<bool>) -> Result<Option<usize>, Error> {
        let learn = learn.unwrap_or(self.learning_enabled);
        category.map(|c| self.category_index(c, learn)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_in_order_with_its_own_rng() {
        let mut enc = SdrCategoryEncoder::new(50, 3, None, 42, true).unwrap();
        assert_eq!(enc.category_bits(0).unwrap(), &[0, 7, 47]);
        assert_eq!(enc.encode_bits(Some("x")).unwrap(), vec![17, 35, 49]);
        assert_eq!(enc.encode_bits(Some("y")).unwrap(), vec![14, 24, 26]);
        assert_eq!(enc.encode_bits(Some("x")).unwrap(), vec![17, 35, 49]);
        assert_eq!(enc.categories().len(), 3);
        assert!(enc.encode_bits(None).unwrap().is_empty());
    }

    #[test]
    fn fixed_list_maps_unknown_to_zero() {
        let mut enc =
            SdrCategoryEncoder::new(100, 21, Some(vec!["a".into(), "b".into(), "c".into()]), 1, false).unwrap();
        let unknown = enc.category_bits(0).unwrap().to_vec();
        assert_eq!(enc.encode_bits(Some("nope")).unwrap(), unknown);
        assert_eq!(enc.categories().len(), 4);
        assert_eq!(enc.bucket_index(Some("b"), None).unwrap(), Some(2));
    }
}
