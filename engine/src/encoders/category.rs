//! NuPIC 1.0.5's `CategoryEncoder`: category `i` (1-based in list order; 0 is `<UNKNOWN>`) is encoded by
//! a non-periodic [`NupicScalarEncoder`] over `[0, #categories]` with radius 1, so every category gets
//! its own `w` bits and `n = w * (#categories + 1)`.

use super::nupic_scalar::{NupicScalarEncoder, ScalarParams};
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// NuPIC's `CategoryEncoder`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CategoryEncoder {
    categories: Vec<String>,
    index: HashMap<String, usize>,
    scalar: NupicScalarEncoder,
}

impl CategoryEncoder {
    /// `categories` in NuPIC's `categoryList` order; a repeated category keeps its last index, as
    /// NuPIC's dict does.
    pub fn new(w: i64, categories: Vec<String>, forced: bool) -> Result<Self, Error> {
        let mut params = ScalarParams::new(w, 0.0, categories.len() as f64);
        params.radius = 1.0;
        params.forced = forced;
        params.minval_is_int = true;
        params.maxval_is_int = true;
        let scalar = NupicScalarEncoder::new(&params)?;
        let index = categories.iter().enumerate().map(|(i, c)| (c.clone(), i + 1)).collect();
        Ok(CategoryEncoder { categories, index, scalar })
    }

    pub fn width(&self) -> usize {
        self.scalar.width()
    }

    /// The categories as `getScalars` numbers them: `<UNKNOWN>` first.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The category's index, 0 for an unknown one.
    pub fn category_index(&self, category: &str) -> usize {
        self.index.get(category).copied().unwrap_or(0)
    }

    /// On-bits of `category` (`None` is missing data: no bits).
    pub fn encode_bits(&self, category: Option<&str>) -> Result<Vec<usize>, Error> {
        match category {
            None => Ok(Vec::new()),
            Some(c) => self.scalar.encode_bits(self.category_index(c) as f64),
        }
    }

    /// NuPIC's `getBucketIndices(category)[0]`.
    pub fn bucket_index(&self, category: Option<&str>) -> Result<Option<i64>, Error> {
        match category {
            None => Ok(None),
            Some(c) => self.scalar.bucket_index(self.category_index(c) as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_is_category_zero() {
        let enc = CategoryEncoder::new(3, vec!["a".into(), "b".into(), "c".into()], true).unwrap();
        assert_eq!(enc.width(), 12);
        assert_eq!(enc.encode_bits(Some("zzz")).unwrap(), vec![0, 1, 2]);
        assert_eq!(enc.encode_bits(Some("c")).unwrap(), vec![9, 10, 11]);
        assert_eq!(enc.bucket_index(Some("b")).unwrap(), Some(6));
        assert_eq!(enc.bucket_index(None).unwrap(), None);
    }

    #[test]
    fn small_w_needs_forced() {
        assert!(CategoryEncoder::new(3, vec!["a".into()], false).is_err());
    }
}
