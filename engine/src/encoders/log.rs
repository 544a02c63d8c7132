//! NuPIC 1.0.5's `LogEncoder`: inputs are clamped to `[minval, maxval]`, then log10 of them is encoded
//! by a non-periodic [`NupicScalarEncoder`] over `[log10 minval, log10 maxval]`.

use super::nupic_scalar::{NupicScalarEncoder, ScalarParams};
use crate::error::{invalid, Error};
use serde::{Deserialize, Serialize};

/// Smallest `minval` NuPIC accepts; lower ones are raised to it (log10(0) is undefined).
pub const LOG_ENCODER_LOW_LIMIT: f64 = 1e-07;

/// NuPIC's `LogEncoder`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogEncoder {
    minval: f64,
    maxval: f64,
    min_scaled: f64,
    max_scaled: f64,
    scalar: NupicScalarEncoder,
}

impl LogEncoder {
    /// `n`, `radius`, `resolution` (exactly one non-zero) are in log10 space, as in NuPIC.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        w: i64,
        minval: f64,
        maxval: f64,
        n: i64,
        radius: f64,
        resolution: f64,
        clip_input: bool,
        forced: bool,
    ) -> Result<Self, Error> {
        let minval = if minval < LOG_ENCODER_LOW_LIMIT { LOG_ENCODER_LOW_LIMIT } else { minval };
        if minval >= maxval || minval.is_nan() || maxval.is_nan() {
            return Err(invalid(format!(
                "Max val must be larger than min val or the lower limit for this encoder {LOG_ENCODER_LOW_LIMIT:.7}"
            )));
        }
        let min_scaled = minval.log10();
        let max_scaled = maxval.log10();
        if max_scaled <= min_scaled || max_scaled.is_nan() {
            return Err(invalid("Max val must be larger, in log space, than min val."));
        }
        let mut params = ScalarParams::new(w, min_scaled, max_scaled);
        params.n = n;
        params.radius = radius;
        params.resolution = resolution;
        params.clip_input = clip_input;
        params.forced = forced;
        let scalar = NupicScalarEncoder::new(&params)?;
        Ok(LogEncoder { minval, maxval, min_scaled, max_scaled, scalar })
    }

    pub fn width(&self) -> usize {
        self.scalar.width()
    }
    pub fn minval(&self) -> f64 {
        self.minval
    }
    pub fn maxval(&self) -> f64 {
        self.maxval
    }
    pub fn min_scaled_value(&self) -> f64 {
        self.min_scaled
    }
    pub fn max_scaled_value(&self) -> f64 {
        self.max_scaled
    }
    /// The log10-space scalar encoder.
    pub fn inner(&self) -> &NupicScalarEncoder {
        &self.scalar
    }

    /// NuPIC's `_getScaledValue`: clamp, then log10; NaN (missing) stays NaN.
    pub fn scaled_value(&self, input: f64) -> f64 {
        let v = if input < self.minval {
            self.minval
        } else if input > self.maxval {
            self.maxval
        } else {
            input
        };
        v.log10()
    }

    pub fn encode_bits(&self, input: f64) -> Result<Vec<usize>, Error> {
        self.scalar.encode_bits(self.scaled_value(input))
    }

    pub fn bucket_index(&self, input: f64) -> Result<Option<i64>, Error> {
        self.scalar.bucket_index(self.scaled_value(input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_and_raises_low_minval() {
        let enc = LogEncoder::new(11, 0.0, 1e5, 0, 0.0, 0.1, false, true).unwrap();
        assert_eq!(enc.minval(), 1e-7);
        assert_eq!(enc.min_scaled_value(), -7.0);
        assert_eq!(enc.width(), 131);
        // Below minval and above maxval never raise, even without clipInput.
        assert_eq!(enc.encode_bits(-5.0).unwrap(), (0..11).collect::<Vec<_>>());
        assert_eq!(enc.encode_bits(1e9).unwrap(), (120..131).collect::<Vec<_>>());
        assert!(enc.encode_bits(f64::NAN).unwrap().is_empty());
    }

    #[test]
    fn defaults_fail_like_nupic() {
        let err = LogEncoder::new(5, 1e-7, 10000.0, 0, 0.0, 0.0, true, false).unwrap_err();
        assert_eq!(err.message(), "One of n, radius, resolution must be specified for a ScalarEncoder");
    }
}
