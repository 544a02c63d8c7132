//! NuPIC 1.0.5's full `ScalarEncoder` (n-, radius- and resolution-based; periodic; `clipInput`;
//! `forced`), bit for bit with NuPIC's arithmetic, bucket indices and error messages. The smaller
//! [`super::ScalarEncoder`] stays the radius-only form the date encoder and model use.

use crate::error::{invalid, Error};
use serde::{Deserialize, Serialize};

/// Python 2's `str()` of a float: `%.12g`, with `.0` appended when the text has no `.` or exponent.
pub fn py2_float_str(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format_g(x, 12);
    if s.contains('.') || s.contains('e') {
        s
    } else {
        s + ".0"
    }
}

/// C's `%.{p}g` for a finite `x`.
fn format_g(x: f64, p: usize) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // The exponent after rounding to p significant digits.
    let sci = format!("{:.*e}", p - 1, x);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= p as i32 {
        let m = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp) as usize;
        strip_zeros(&format!("{:.*}", decimals, x)).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Python's `str()` of a bound given as int or float.
fn bound_str(x: f64, is_int: bool) -> String {
    if is_int {
        format!("{}", x as i64)
    } else {
        py2_float_str(x)
    }
}

/// The constructor arguments of NuPIC's `ScalarEncoder`; 0 means "not given" for `n`, `radius`,
/// `resolution`, as in NuPIC. `*_is_int` record whether a bound was a Python int (it changes only how
/// NuPIC prints it in messages and the default name).
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarParams {
    pub w: i64,
    pub minval: f64,
    pub maxval: f64,
    pub periodic: bool,
    pub n: i64,
    pub radius: f64,
    pub resolution: f64,
    pub name: Option<String>,
    pub clip_input: bool,
    pub forced: bool,
    pub minval_is_int: bool,
    pub maxval_is_int: bool,
}

impl ScalarParams {
    /// Parameters with NuPIC's defaults for everything but `w`, `minval`, `maxval`.
    pub fn new(w: i64, minval: f64, maxval: f64) -> Self {
        ScalarParams {
            w,
            minval,
            maxval,
            periodic: false,
            n: 0,
            radius: 0.0,
            resolution: 0.0,
            name: None,
            clip_input: false,
            forced: false,
            minval_is_int: false,
            maxval_is_int: false,
        }
    }
}

/// NuPIC 1.0.5's `ScalarEncoder`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NupicScalarEncoder {
    w: usize,
    minval: f64,
    maxval: f64,
    minval_str: String,
    maxval_str: String,
    periodic: bool,
    clip_input: bool,
    n: usize,
    n_internal: usize,
    halfwidth: usize,
    padding: usize,
    resolution: f64,
    radius: f64,
    range: f64,
    range_internal: f64,
    name: String,
}

impl NupicScalarEncoder {
    /// Builds the encoder, rejecting what NuPIC rejects with NuPIC's message.
    pub fn new(p: &ScalarParams) -> Result<Self, Error> {
        if p.w <= 0 {
            return Err(invalid(format!("Number of bits in the SDR ({}) must be positive", p.w)));
        }
        if p.w % 2 == 0 {
            return Err(invalid(format!("Width must be an odd number ({:.6})", p.w as f64)));
        }
        let w = p.w as usize;
        let halfwidth = (w - 1) / 2;
        let padding = if p.periodic { 0 } else { halfwidth };
        let minval_str = bound_str(p.minval, p.minval_is_int);
        let maxval_str = bound_str(p.maxval, p.maxval_is_int);
        if p.minval >= p.maxval || p.minval.is_nan() || p.maxval.is_nan() {
            let name = p.name.clone().unwrap_or_else(|| "None".into());
            return Err(invalid(format!(
                "The encoder for {name} is invalid. minval {minval_str} is greater than or equal to maxval \
                 {maxval_str}. minval must be strictly less than maxval."
            )));
        }
        let range_internal = p.maxval - p.minval;
        let (n, resolution, radius, range);
        if p.n != 0 {
            if p.radius != 0.0 || p.resolution != 0.0 {
                return Err(invalid("Only one of n/radius/resolution can be specified for a ScalarEncoder"));
            }
            if p.n <= p.w {
                return Err(invalid(format!("n ({}) must be greater than w ({})", p.n, p.w)));
            }
            n = p.n as usize;
            resolution = if p.periodic { range_internal / n as f64 } else { range_internal / (n - w) as f64 };
            radius = w as f64 * resolution;
            range = if p.periodic { range_internal } else { range_internal + resolution };
        } else {
            if p.radius != 0.0 {
                if p.resolution != 0.0 {
                    return Err(invalid("Only one of radius/resolution can be specified for a ScalarEncoder"));
                }
                radius = p.radius;
                resolution = p.radius / w as f64;
            } else if p.resolution != 0.0 {
                resolution = p.resolution;
                radius = resolution * w as f64;
            } else {
                return Err(invalid("One of n, radius, resolution must be specified for a ScalarEncoder"));
            }
            range = if p.periodic { range_internal } else { range_internal + resolution };
            let nfloat = w as f64 * (range / radius) + 2.0 * padding as f64;
            let nceil = nfloat.ceil();
            if !(nceil.is_finite() && nceil > 0.0 && nceil < 1e9) {
                return Err(invalid(format!("ScalarEncoder output width {nfloat} is not usable")));
            }
            n = nceil as usize;
        }
        if w < 21 && !p.forced {
            return Err(invalid(format!(
                "Number of bits in the SDR ({w}) must be >= 21 (use forced=True to override)."
            )));
        }
        if n < 2 * padding + 1 {
            return Err(invalid(format!("ScalarEncoder output width {n} is too small for w {w}")));
        }
        let name = p.name.clone().unwrap_or_else(|| format!("[{minval_str}:{maxval_str}]"));
        Ok(NupicScalarEncoder {
            w,
            minval: p.minval,
            maxval: p.maxval,
            minval_str,
            maxval_str,
            periodic: p.periodic,
            clip_input: p.clip_input,
            n,
            n_internal: n - 2 * padding,
            halfwidth,
            padding,
            resolution,
            radius,
            range,
            range_internal,
            name,
        })
    }

    pub fn width(&self) -> usize {
        self.n
    }
    pub fn w(&self) -> usize {
        self.w
    }
    pub fn n_internal(&self) -> usize {
        self.n_internal
    }
    pub fn padding(&self) -> usize {
        self.padding
    }
    pub fn halfwidth(&self) -> usize {
        self.halfwidth
    }
    pub fn resolution(&self) -> f64 {
        self.resolution
    }
    pub fn radius(&self) -> f64 {
        self.radius
    }
    pub fn range(&self) -> f64 {
        self.range
    }
    pub fn range_internal(&self) -> f64 {
        self.range_internal
    }
    pub fn minval(&self) -> f64 {
        self.minval
    }
    pub fn maxval(&self) -> f64 {
        self.maxval
    }
    pub fn periodic(&self) -> bool {
        self.periodic
    }
    pub fn clip_input(&self) -> bool {
        self.clip_input
    }
    pub fn name(&self) -> &str {
        &self.name
    }

    /// NuPIC's `_getFirstOnBit`: the first on-bit (may be negative or wrap for periodic encoders);
    /// `None` for a missing value (NaN).
    fn first_on_bit(&self, input: f64) -> Result<Option<i64>, Error> {
        if input.is_nan() {
            return Ok(None);
        }
        let mut x = input;
        let (lo, hi) = (&self.minval_str, &self.maxval_str);
        if x < self.minval {
            if self.clip_input && !self.periodic {
                x = self.minval;
            } else {
                return Err(invalid(format!("input ({}) less than range ({lo} - {hi})", py2_float_str(input))));
            }
        }
        if self.periodic {
            if x >= self.maxval {
                return Err(invalid(format!(
                    "input ({}) greater than periodic range ({lo} - {hi})",
                    py2_float_str(input)
                )));
            }
        } else if x > self.maxval {
            if self.clip_input {
                x = self.maxval;
            } else {
                return Err(invalid(format!("input ({}) greater than range ({lo} - {hi})", py2_float_str(input))));
            }
        }
        // Python's int() truncates toward zero; both operands are >= 0 here.
        let center = if self.periodic {
            ((x - self.minval) * self.n_internal as f64 / self.range) as i64 + self.padding as i64
        } else {
            (((x - self.minval) + self.resolution / 2.0) / self.resolution) as i64 + self.padding as i64
        };
        Ok(Some(center - self.halfwidth as i64))
    }

    /// NuPIC's `getBucketIndices(x)[0]`; `None` for a missing value.
    pub fn bucket_index(&self, input: f64) -> Result<Option<i64>, Error> {
        Ok(self.first_on_bit(input)?.map(|minbin| {
            if self.periodic {
                let b = minbin + self.halfwidth as i64;
                if b < 0 {
                    b + self.n as i64
                } else {
                    b
                }
            } else {
                minbin
            }
        }))
    }

    /// The on-bit indices (ascending) of NuPIC's `encode(x)`; empty for a missing value.
    pub fn encode_bits(&self, input: f64) -> Result<Vec<usize>, Error> {
        let Some(mut minbin) = self.first_on_bit(input)? else {
            return Ok(Vec::new());
        };
        let n = self.n as i64;
        let mut maxbin = minbin + 2 * self.halfwidth as i64;
        let mut on = vec![false; self.n];
        if self.periodic {
            if maxbin >= n {
                let bottom = maxbin - n + 1;
                on[..bottom as usize].iter_mut().for_each(|b| *b = true);
                maxbin = n - 1;
            }
            if minbin < 0 {
                let top = -minbin;
                on[(n - top) as usize..].iter_mut().for_each(|b| *b = true);
                minbin = 0;
            }
        }
        if minbin < 0 || maxbin >= n {
            return Err(invalid(format!("input {} maps outside the encoder's {n} bits", py2_float_str(input))));
        }
        on[minbin as usize..=maxbin as usize].iter_mut().for_each(|b| *b = true);
        Ok(on.iter().enumerate().filter(|(_, &b)| b).map(|(i, _)| i).collect())
    }

    /// NuPIC's `encode(x)` as a dense 0/1 vector of `width()` bytes.
    pub fn encode_dense(&self, input: f64) -> Result<Vec<u8>, Error> {
        let mut out = vec![0u8; self.n];
        for i in self.encode_bits(input)? {
            out[i] = 1;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python2_float_str() {
        assert_eq!(py2_float_str(-10.238095238095237), "-10.2380952381");
        assert_eq!(py2_float_str(-30.0), "-30.0");
        assert_eq!(py2_float_str(10.000000001), "10.000000001");
        assert_eq!(py2_float_str(-0.09523809523809523), "-0.0952380952381");
        assert_eq!(py2_float_str(1e16), "1e+16");
        assert_eq!(py2_float_str(1e-7), "1e-07");
        assert_eq!(py2_float_str(0.0001), "0.0001");
    }

    #[test]
    fn n_based_one_gym() {
        let mut p = ScalarParams::new(21, 0.0, 53.0);
        p.n = 29;
        p.clip_input = true;
        let e = NupicScalarEncoder::new(&p).unwrap();
        assert_eq!(e.resolution(), 6.625);
        assert_eq!(e.n_internal(), 9);
        assert_eq!(e.encode_bits(-53.0).unwrap(), (0..21).collect::<Vec<_>>());
        assert_eq!(e.bucket_index(1e9).unwrap(), Some(8));
    }

    #[test]
    fn periodic_wrap_bucket_equals_n() {
        let mut p = ScalarParams::new(11, -180.0, 180.0);
        p.periodic = true;
        p.resolution = 5.0;
        p.forced = true;
        let e = NupicScalarEncoder::new(&p).unwrap();
        assert_eq!(e.width(), 72);
        let below_max = 180f64.next_down_compat();
        assert_eq!(e.encode_bits(below_max).unwrap(), e.encode_bits(-180.0).unwrap());
        assert_eq!(e.bucket_index(below_max).unwrap(), Some(72));
    }

    #[test]
    fn constructor_errors() {
        let p = ScalarParams::new(3, 0.0, 10.0);
        let err = NupicScalarEncoder::new(&ScalarParams { n: 14, ..p.clone() }).unwrap_err();
        assert_eq!(err.message(), "Number of bits in the SDR (3) must be >= 21 (use forced=True to override).");
        let err = NupicScalarEncoder::new(&ScalarParams { w: 20, n: 100, ..p.clone() }).unwrap_err();
        assert_eq!(err.message(), "Width must be an odd number (20.000000)");
        let err = NupicScalarEncoder::new(&ScalarParams { w: 21, n: 100, minval: 10.0, ..p }).unwrap_err();
        assert!(err.message().starts_with("The encoder for None is invalid. minval 10.0"));
    }

    trait NextDown {
        fn next_down_compat(self) -> f64;
    }
    impl NextDown for f64 {
        fn next_down_compat(self) -> f64 {
            f64::from_bits(self.to_bits() - 1)
        }
    }
}
