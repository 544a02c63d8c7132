//! NuPIC's ScalarEncoder (radius form): `w` consecutive bits whose position follows the value,
//! periodic (wrapping over `[minval, maxval)`) or not (padded, over `[minval, maxval]`).

use super::EncodeError;
use serde::{Deserialize, Serialize};

/// A scalar encoder with NuPIC 1.0.5's bucket arithmetic (spec/htm.md 3.3).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScalarEncoder {
    w: u32,
    minval: f64,
    maxval: f64,
    periodic: bool,
    /// Output width in bits.
    n: u32,
    /// radius / w.
    resolution: f64,
    /// maxval - minval, plus one resolution step for non-periodic encoders.
    range: f64,
    /// Bits outside the range on each side (non-periodic only).
    padding: u32,
}

impl ScalarEncoder {
    /// Builds the encoder; `w` must be odd, `minval < maxval`, `radius > 0`.
    ///
    /// # Panics
    /// On parameters NuPIC would reject; use [`ScalarEncoder::try_new`] to get the error instead.
    pub fn new(w: u32, minval: f64, maxval: f64, radius: f64, periodic: bool) -> Self {
        Self::try_new(w, minval, maxval, radius, periodic).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Builds the encoder, or explains why the parameters are invalid.
    pub fn try_new(w: u32, minval: f64, maxval: f64, radius: f64, periodic: bool) -> Result<Self, EncodeError> {
        if w == 0 || w.is_multiple_of(2) {
            return Err(EncodeError::new(format!("ScalarEncoder: w must be a positive odd number, got {w}")));
        }
        if !(minval.is_finite() && maxval.is_finite() && minval < maxval) {
            return Err(EncodeError::new(format!(
                "ScalarEncoder: minval ({minval}) must be finite and strictly less than maxval ({maxval})"
            )));
        }
        if !(radius.is_finite() && radius > 0.0) {
            return Err(EncodeError::new(format!("ScalarEncoder: radius must be positive and finite, got {radius}")));
        }
        let halfwidth = (w - 1) / 2;
        let padding = if periodic { 0 } else { halfwidth };
        let resolution = radius / w as f64;
        let range_internal = maxval - minval;
        let range = if periodic { range_internal } else { range_internal + resolution };
        let nfloat = w as f64 * (range / radius) + 2.0 * padding as f64;
        let n = nfloat.ceil();
        if n > u32::MAX as f64 / 2.0 {
            return Err(EncodeError::new(format!("ScalarEncoder: output width {n} is too large")));
        }
        let n = n as u32;
        if n <= w {
            return Err(EncodeError::new(format!(
                "ScalarEncoder: radius {radius} is too large for the range [{minval}, {maxval}) (output width {n} <= w {w})"
            )));
        }
        Ok(ScalarEncoder { w, minval, maxval, periodic, n, resolution, range, padding })
    }

    /// Output width in bits (NuPIC's `n`).
    pub fn width(&self) -> u32 {
        self.n
    }

    /// Number of on-bits per encoding.
    pub fn w(&self) -> u32 {
        self.w
    }

    /// Appends the indices of the on-bits, each + `offset`, to `out` in ascending order.
    /// NaN (NuPIC's missing value) sets no bits. Values below `minval`, above `maxval`, or (periodic)
    /// equal to `maxval` are errors, as in NuPIC without `clipInput`.
    pub fn encode(&self, value: f64, offset: u32, out: &mut Vec<u32>) -> Result<(), EncodeError> {
        if value.is_nan() {
            return Ok(());
        }
        let above = if self.periodic { value >= self.maxval } else { value > self.maxval };
        if value < self.minval || above {
            let closing = if self.periodic { ")" } else { "]" };
            return Err(EncodeError::new(format!(
                "input {value} is outside the encoder range [{}, {}{closing}",
                self.minval, self.maxval
            )));
        }
        let n_internal = (self.n - 2 * self.padding) as f64;
        // `int()` truncation; the operands are non-negative here.
        let center = if self.periodic {
            ((value - self.minval) * n_internal / self.range) as i64
        } else {
            (((value - self.minval) + self.resolution / 2.0) / self.resolution) as i64 + self.padding as i64
        };
        let first = center - ((self.w - 1) / 2) as i64;
        let n = self.n as i64;
        let start = out.len();
        if self.periodic {
            out.extend((0..self.w as i64).map(|k| (first + k).rem_euclid(n) as u32 + offset));
            out[start..].sort_unstable();
        } else {
            let last = first + self.w as i64 - 1;
            if first < 0 || last >= n {
                return Err(EncodeError::new(format!("input {value} maps outside the encoder's {n} bits")));
            }
            out.extend((first..=last).map(|b| b as u32 + offset));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(enc: &ScalarEncoder, v: f64) -> Vec<u32> {
        let mut out = Vec::new();
        enc.encode(v, 0, &mut out).unwrap();
        out
    }

    #[test]
    fn nab_time_of_day_examples() {
        let enc = ScalarEncoder::new(21, 0.0, 24.0, 9.49, true);
        assert_eq!(enc.width(), 54);
        let midnight: Vec<u32> = (0..=10).chain(44..=53).collect();
        assert_eq!(bits(&enc, 0.0), midnight);
        assert_eq!(bits(&enc, 12.0), (17..=37).collect::<Vec<u32>>());
    }

    #[test]
    fn non_periodic_width_and_edges() {
        // NuPIC's weekend encoder: w 21 over [0, 1], radius 1 -> 42 bits.
        let enc = ScalarEncoder::new(21, 0.0, 1.0, 1.0, false);
        assert_eq!(enc.width(), 42);
        assert_eq!(bits(&enc, 0.0), (0..21).collect::<Vec<u32>>());
        assert_eq!(bits(&enc, 1.0), (21..42).collect::<Vec<u32>>());
    }

    #[test]
    fn offset_and_missing_value() {
        let enc = ScalarEncoder::new(21, 0.0, 24.0, 9.49, true);
        let mut out = vec![7];
        enc.encode(12.0, 100, &mut out).unwrap();
        assert_eq!(out[0], 7);
        assert_eq!(&out[1..], &(117..=137).collect::<Vec<u32>>()[..]);
        let mut out = Vec::new();
        enc.encode(f64::NAN, 0, &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn out_of_range_is_an_error() {
        let periodic = ScalarEncoder::new(21, 0.0, 24.0, 9.49, true);
        let mut out = Vec::new();
        let err = periodic.encode(24.0, 0, &mut out).unwrap_err();
        assert!(err.to_string().contains("outside the encoder range [0, 24)"), "{err}");
        assert!(periodic.encode(-0.5, 0, &mut out).is_err());
        let flat = ScalarEncoder::new(21, 0.0, 1.0, 1.0, false);
        assert!(flat.encode(1.5, 0, &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(ScalarEncoder::try_new(20, 0.0, 1.0, 1.0, false).is_err());
        assert!(ScalarEncoder::try_new(21, 1.0, 1.0, 1.0, false).is_err());
        assert!(ScalarEncoder::try_new(21, 0.0, 1.0, 0.0, false).is_err());
        assert!(ScalarEncoder::try_new(21, 0.0, 1.0, 5.0, true).is_err());
    }
}
