//! NuPIC's RandomDistributedScalarEncoder: each bucket of width `resolution` gets `w` of `n` bits;
//! neighbouring buckets differ in one bit, distant ones share at most two. Buckets are created lazily
//! with NuPIC's RNG, so the encoding depends on the first value (the offset) and on the order in
//! which buckets were first reached (spec/htm.md 3.2).

use super::EncodeError;
use crate::rng::Random;
use serde::{Deserialize, Serialize};

const MAX_BUCKETS: u32 = 1000;
const MIDDLE_BUCKET: u32 = MAX_BUCKETS / 2;
const MAX_OVERLAP: u32 = 2;

/// A RandomDistributedScalarEncoder with NuPIC 1.0.5's bucket creation and rounding.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rdse {
    resolution: f64,
    w: u32,
    n: u32,
    /// The first value encoded; it maps to the middle bucket.
    offset: Option<f64>,
    rng: Random,
    min_index: u32,
    max_index: u32,
    /// Bit lists by bucket index (internal order); empty for buckets not created yet.
    buckets: Vec<Vec<u32>>,
}

impl Rdse {
    /// # Panics
    /// On parameters NuPIC would reject; use [`Rdse::try_new`] to get the error instead.
    pub fn new(resolution: f64, w: u32, n: u32, seed: u64) -> Self {
        Self::try_new(resolution, w, n, seed).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Builds the encoder (creating the middle bucket), or explains why the parameters are invalid:
    /// `w` must be odd, `n` greater than `6 * w`, `resolution` positive.
    pub fn try_new(resolution: f64, w: u32, n: u32, seed: u64) -> Result<Self, EncodeError> {
        if w == 0 || w.is_multiple_of(2) {
            return Err(EncodeError::new(format!("RDSE: w must be a positive odd number, got {w}")));
        }
        if (n as u64) <= 6 * w as u64 {
            return Err(EncodeError::new(format!("RDSE: n must be greater than 6 * w = {}, got {n}", 6 * w as u64)));
        }
        if !(resolution.is_finite() && resolution > 0.0) {
            return Err(EncodeError::new(format!("RDSE: resolution must be positive and finite, got {resolution}")));
        }
        let mut rng = Random::new(seed);
        let mut permutation: Vec<u32> = (0..n).collect();
        rng.shuffle(&mut permutation);
        permutation.truncate(w as usize);
        let mut buckets = vec![Vec::new(); MAX_BUCKETS as usize];
        buckets[MIDDLE_BUCKET as usize] = permutation;
        Ok(Rdse { resolution, w, n, offset: None, rng, min_index: MIDDLE_BUCKET, max_index: MIDDLE_BUCKET, buckets })
    }

    /// Output width in bits (`n`).
    pub fn width(&self) -> u32 {
        self.n
    }

    /// The value's bucket (0..999, 500 = the first value seen), rounding half away from zero.
    /// The first finite value becomes the offset. Non-finite values (NuPIC's missing data) -> `None`.
    pub fn bucket_index(&mut self, value: f64) -> Option<u32> {
        if !value.is_finite() {
            return None;
        }
        let offset = *self.offset.get_or_insert(value);
        let steps = ((value - offset) / self.resolution).round();
        let index = (MIDDLE_BUCKET as f64 + steps).clamp(0.0, (MAX_BUCKETS - 1) as f64);
        Some(index as u32)
    }

    /// Appends the on-bits (+ `offset`, ascending) of the value's bucket, creating buckets as needed,
    /// and returns the bucket. Non-finite values append nothing and return `None`.
    pub fn encode(&mut self, value: f64, offset: u32, out: &mut Vec<u32>) -> Option<u32> {
        let bucket = self.bucket_index(value)?;
        self.ensure_bucket(bucket);
        let start = out.len();
        out.extend(self.buckets[bucket as usize].iter().map(|&b| b + offset));
        out[start..].sort_unstable();
        Some(bucket)
    }

    /// The bucket's bit list in the encoder's internal order, if the bucket has been created.
    pub fn bucket_bits(&self, bucket: u32) -> Option<&[u32]> {
        let bits = self.buckets.get(bucket as usize)?;
        (!bits.is_empty()).then_some(bits.as_slice())
    }

    /// `(lowest, highest)` index of the created buckets (they are contiguous).
    pub fn bucket_range(&self) -> (u32, u32) {
        (self.min_index, self.max_index)
    }

    /// The offset (first value encoded), once set.
    pub fn offset(&self) -> Option<f64> {
        self.offset
    }

    /// Fixes the offset before the first value (NuPIC's `offset` argument): that value maps to the
    /// middle bucket instead of the first one encoded.
    pub fn set_offset(&mut self, offset: f64) -> Result<(), EncodeError> {
        if !offset.is_finite() {
            return Err(EncodeError::new(format!("RDSE: offset must be finite, got {offset}")));
        }
        self.offset = Some(offset);
        Ok(())
    }

    /// The bit list of bucket `bucket` (clipped to 0..999) in internal order, created if needed
    /// (NuPIC's `mapBucketIndexToNonZeroBits`).
    pub fn bits_of(&mut self, bucket: u32) -> &[u32] {
        let bucket = bucket.min(MAX_BUCKETS - 1);
        self.ensure_bucket(bucket);
        &self.buckets[bucket as usize]
    }

    fn ensure_bucket(&mut self, bucket: u32) {
        while bucket > self.max_index {
            let next = self.max_index + 1;
            self.buckets[next as usize] = self.new_representation(self.max_index, next);
            self.max_index = next;
        }
        while bucket < self.min_index {
            let next = self.min_index - 1;
            self.buckets[next as usize] = self.new_representation(self.min_index, next);
            self.min_index = next;
        }
    }

    /// Bucket `index` = its neighbour's bits with position `index mod w` redrawn until the new bit is
    /// not in the neighbour and the overlap rules hold against every existing bucket.
    fn new_representation(&mut self, neighbour: u32, index: u32) -> Vec<u32> {
        let base = &self.buckets[neighbour as usize];
        let mut candidate = base.clone();
        let position = (index % self.w) as usize;
        let mut member = vec![false; self.n as usize];
        for &b in base {
            member[b as usize] = true;
        }
        loop {
            let bit = self.rng.get_uint32(self.n);
            if member[bit as usize] {
                continue;
            }
            candidate[position] = bit;
            if self.representation_ok(&candidate, index) {
                return candidate;
            }
        }
    }

    fn representation_ok(&self, candidate: &[u32], index: u32) -> bool {
        let mut member = vec![false; self.n as usize];
        for &b in candidate {
            member[b as usize] = true;
        }
        (self.min_index..=self.max_index).all(|i| {
            let overlap = self.buckets[i as usize].iter().filter(|&&b| member[b as usize]).count() as u32;
            let distance = i.abs_diff(index);
            if distance < self.w {
                overlap == self.w - distance
            } else {
                overlap <= MAX_OVERLAP
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(Rdse::try_new(0.5, 20, 400, 42).is_err());
        assert!(Rdse::try_new(0.5, 21, 126, 42).is_err());
        assert!(Rdse::try_new(0.0, 21, 400, 42).is_err());
        assert!(Rdse::try_new(f64::NAN, 21, 400, 42).is_err());
    }

    #[test]
    fn missing_values_encode_nothing_and_do_not_set_the_offset() {
        let mut rdse = Rdse::new(1.0, 21, 400, 42);
        let mut out = Vec::new();
        assert_eq!(rdse.encode(f64::NAN, 0, &mut out), None);
        assert_eq!(rdse.encode(f64::INFINITY, 0, &mut out), None);
        assert!(out.is_empty());
        assert_eq!(rdse.offset(), None);
        assert_eq!(rdse.encode(3.0, 0, &mut out), Some(500));
        assert_eq!(out.len(), 21);
    }

    #[test]
    fn buckets_clip_at_the_edges() {
        let mut rdse = Rdse::new(1.0, 21, 400, 42);
        assert_eq!(rdse.bucket_index(0.0), Some(500));
        assert_eq!(rdse.bucket_index(1e9), Some(999));
        assert_eq!(rdse.bucket_index(-1e9), Some(0));
        assert_eq!(rdse.bucket_index(2.5), Some(503));
        assert_eq!(rdse.bucket_index(-2.5), Some(497));
    }
}
