//! NuPIC 1.0.5's `AdaptiveScalarEncoder`: an n-based, non-periodic, clipping [`NupicScalarEncoder`]
//! whose `[minval, maxval]` grows to cover the last 300 inputs it saw (while learning). Without an
//! initial range, the first input `x` sets it to `[x, x + 1]`.

use super::nupic_scalar::{NupicScalarEncoder, ScalarParams};
use crate::error::{invalid, Error};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Length of NuPIC's `MovingAverage` window the range adapts to.
pub const ADAPTIVE_WINDOW: usize = 300;

/// NuPIC's `AdaptiveScalarEncoder`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdaptiveScalarEncoder {
    w: i64,
    n: i64,
    forced: bool,
    name: Option<String>,
    range: Option<(f64, f64)>,
    window: VecDeque<f64>,
    record_num: u64,
    learning_enabled: bool,
    scalar: Option<NupicScalarEncoder>,
}

impl AdaptiveScalarEncoder {
    /// `minval`/`maxval` both given or both `None` (learned from the first input). `n` is required.
    pub fn new(
        w: i64,
        n: i64,
        range: Option<(f64, f64)>,
        periodic: bool,
        name: Option<String>,
        forced: bool,
    ) -> Result<Self, Error> {
        if periodic {
            return Err(invalid("Adaptive scalar encoder does not encode periodic inputs"));
        }
        if n == 0 {
            return Err(invalid("An adaptive encoder can only be initialized using n"));
        }
        let mut enc = AdaptiveScalarEncoder {
            w,
            n,
            forced,
            name,
            range,
            window: VecDeque::new(),
            record_num: 0,
            learning_enabled: true,
            scalar: None,
        };
        // Validate w/n/forced the way NuPIC's constructor does, with a stand-in range if none is known.
        let (lo, hi) = range.unwrap_or((0.0, 1.0));
        let built = enc.build(lo, hi)?;
        if range.is_some() {
            enc.scalar = Some(built);
        }
        Ok(enc)
    }

    fn build(&self, minval: f64, maxval: f64) -> Result<NupicScalarEncoder, Error> {
        let mut p = ScalarParams::new(self.w, minval, maxval);
        p.n = self.n;
        p.clip_input = true;
        p.forced = self.forced;
        p.name = self.name.clone();
        NupicScalarEncoder::new(&p)
    }

    pub fn width(&self) -> usize {
        self.n as usize
    }
    pub fn set_learning(&mut self, learn: bool) {
        self.learning_enabled = learn;
    }
    /// Current `(minval, maxval)`; `None` before the first input when none was given.
    pub fn range(&self) -> Option<(f64, f64)> {
        self.range
    }
    /// The scalar encoder for the current range (resolution, radius, …).
    pub fn inner(&self) -> Option<&NupicScalarEncoder> {
        self.scalar.as_ref()
    }
    pub fn record_num(&self) -> u64 {
        self.record_num
    }

    /// NuPIC's `_setMinAndMax`.
    fn adapt(&mut self, input: f64, learn: bool) -> Result<(), Error> {
        self.window.push_back(input);
        if self.window.len() > ADAPTIVE_WINDOW {
            self.window.pop_front();
        }
        let (mut lo, mut hi) = match self.range {
            None => {
                self.range = Some((input, input + 1.0));
                self.scalar = Some(self.build(input, input + 1.0)?);
                return Ok(());
            }
            Some(r) => r,
        };
        if learn {
            let wmin = self.window.iter().copied().fold(f64::INFINITY, f64::min);
            let wmax = self.window.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut changed = false;
            if wmin < lo {
                lo = wmin;
                changed = true;
            }
            if wmax > hi {
                hi = wmax;
                changed = true;
            }
            if changed {
                self.scalar = Some(self.build(lo, hi)?);
                self.range = Some((lo, hi));
            }
        }
        Ok(())
    }

    /// NuPIC's `encodeIntoArray` as on-bits; `None` is missing data (no bits, no adaptation), NaN
    /// also encodes to no bits.
    pub fn encode_bits(&mut self, input: Option<f64>, learn: Option<bool>) -> Result<Vec<usize>, Error> {
        self.record_num += 1;
        let learn = learn.unwrap_or(self.learning_enabled);
        let Some(x) = input else { return Ok(Vec::new()) };
        if x.is_nan() {
            return Ok(Vec::new());
        }
        self.adapt(x, learn)?;
        match &self.scalar {
            Some(s) => s.encode_bits(x),
            None => Ok(Vec::new()),
        }
    }

    /// NuPIC's `getBucketIndices(input)[0]` (it adapts the range too).
    pub fn bucket_index(&mut self, input: Option<f64>, learn: Option<bool>) -> Result<Option<i64>, Error> {
        self.record_num += 1;
        let learn = learn.unwrap_or(self.learning_enabled);
        let Some(x) = input.filter(|x| !x.is_nan()) else { return Ok(None) };
        self.adapt(x, learn)?;
        match &self.scalar {
            Some(s) => s.bucket_index(x),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_follows_inputs() {
        let mut enc = AdaptiveScalarEncoder::new(21, 100, None, false, None, false).unwrap();
        assert_eq!(enc.encode_bits(Some(0.0), None).unwrap(), (0..21).collect::<Vec<_>>());
        assert_eq!(enc.range(), Some((0.0, 1.0)));
        assert_eq!(enc.encode_bits(Some(2.0), None).unwrap(), (79..100).collect::<Vec<_>>());
        assert_eq!(enc.range(), Some((0.0, 2.0)));
        assert_eq!(enc.inner().unwrap().resolution(), 2.0 / 79.0);
        // Without learning the range stays and the input is clipped.
        enc.encode_bits(Some(-4.0), Some(false)).unwrap();
        assert_eq!(enc.range(), Some((0.0, 2.0)));
    }

    #[test]
    fn needs_n_and_rejects_periodic() {
        assert!(AdaptiveScalarEncoder::new(21, 0, None, false, None, false).is_err());
        assert!(AdaptiveScalarEncoder::new(21, 100, None, true, None, false).is_err());
    }
}
