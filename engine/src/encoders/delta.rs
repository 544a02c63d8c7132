//! NuPIC 1.0.5's `DeltaEncoder`: encodes the difference to the previous input with an
//! [`AdaptiveScalarEncoder`]; the first input's delta is 0.

use super::adaptive_scalar::AdaptiveScalarEncoder;
use crate::error::{invalid, Error};
use serde::{Deserialize, Serialize};

/// NuPIC's `DeltaEncoder`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeltaEncoder {
    adaptive: AdaptiveScalarEncoder,
    prev_absolute: Option<f64>,
    prev_delta: Option<f64>,
    state_lock: bool,
    learning_enabled: bool,
}

impl DeltaEncoder {
    pub fn new(
        w: i64,
        n: i64,
        range: Option<(f64, f64)>,
        periodic: bool,
        name: Option<String>,
        forced: bool,
    ) -> Result<Self, Error> {
        if periodic {
            return Err(invalid("Delta encoder does not encode periodic inputs"));
        }
        let adaptive = AdaptiveScalarEncoder::new(w, n, range, false, name, forced)?;
        Ok(DeltaEncoder { adaptive, prev_absolute: None, prev_delta: None, state_lock: false, learning_enabled: true })
    }

    pub fn width(&self) -> usize {
        self.adaptive.width()
    }
    pub fn adaptive(&self) -> &AdaptiveScalarEncoder {
        &self.adaptive
    }
    pub fn prev_absolute(&self) -> Option<f64> {
        self.prev_absolute
    }
    pub fn prev_delta(&self) -> Option<f64> {
        self.prev_delta
    }
    pub fn set_learning(&mut self, learn: bool) {
        self.learning_enabled = learn;
    }
    /// While locked, encoding does not update the previous input (NuPIC's `setStateLock`).
    pub fn set_state_lock(&mut self, lock: bool) {
        self.state_lock = lock;
    }

    /// NuPIC's `encodeIntoArray` as on-bits; `None` (missing data) gives no bits and keeps the state.
    pub fn encode_bits(&mut self, input: Option<f64>, learn: Option<bool>) -> Result<Vec<usize>, Error> {
        let learn = learn.unwrap_or(self.learning_enabled);
        let Some(x) = input else { return Ok(Vec::new()) };
        let prev = *self.prev_absolute.get_or_insert(x);
        let delta = x - prev;
        let bits = self.adaptive.encode_bits(Some(delta), Some(learn))?;
        if !self.state_lock {
            self.prev_absolute = Some(x);
            self.prev_delta = Some(delta);
        }
        Ok(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_delta_is_zero_then_range_grows() {
        let mut enc = DeltaEncoder::new(21, 100, None, false, None, false).unwrap();
        assert_eq!(enc.encode_bits(Some(10.0), None).unwrap(), (0..21).collect::<Vec<_>>());
        assert_eq!(enc.encode_bits(Some(12.0), None).unwrap(), (79..100).collect::<Vec<_>>());
        assert_eq!(enc.encode_bits(Some(11.0), None).unwrap(), (0..21).collect::<Vec<_>>());
        assert_eq!(enc.adaptive().range(), Some((-1.0, 2.0)));
        assert_eq!(enc.prev_delta(), Some(-1.0));
    }
}
