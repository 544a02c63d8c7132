//! The feature vector (spec §6): the min-max-normalised 3-level Haar wavelet transform of the
//! min-max-normalised window of the last 8 conditioned samples, followed by the window itself.

/// Conditioned samples per window.
pub const WINDOW: usize = 8;
/// Length of a feature vector.
pub const FEATURES: usize = 2 * WINDOW;

/// The Haar filter coefficient `c / sqrt(c^2 + c^2)` with `c = 0.7071067811865475`: in binary64 that is
/// 0x3FE6A09E667F3BCD, the binary64 value of 1/sqrt(2).
const HAAR: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// The feature vector of a full window (`qwin` oldest first).
pub fn feature_vector(qwin: &[f64; WINDOW]) -> [f64; FEATURES] {
    let mut d = *qwin;
    let lowest = min_of(&d);
    for v in &mut d {
        *v -= lowest;
    }
    scale_by_max(&mut d);
    let mut h = haar3(&d);
    let lowest = min_of(&h);
    for v in &mut h {
        *v -= lowest;
    }
    scale_by_max(&mut h);
    let mut f = [0.0; FEATURES];
    f[..WINDOW].copy_from_slice(&h);
    f[WINDOW..].copy_from_slice(qwin);
    f
}

fn min_of(v: &[f64; WINDOW]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Divides every element by the largest one, unless that is 0.
fn scale_by_max(v: &mut [f64; WINDOW]) {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m != 0.0 {
        for x in v.iter_mut() {
            *x /= m;
        }
    }
}

/// One level of the periodic orthogonal Haar DWT: `(approximations, details)` of pairs (1,2), (3,4), ...
fn haar_level(x: &[f64], approx: &mut [f64], detail: &mut [f64]) {
    for k in 0..x.len() / 2 {
        let (first, second) = (x[2 * k], x[2 * k + 1]);
        approx[k] = HAAR * first + HAAR * second;
        detail[k] = (-HAAR) * first + HAAR * second;
    }
}

/// The full 3-level decomposition, coarsest first: `[a3, e3, e2_1, e2_2, e1_1..e1_4]`.
pub fn haar3(x: &[f64; WINDOW]) -> [f64; WINDOW] {
    let (mut a1, mut e1) = ([0.0; 4], [0.0; 4]);
    haar_level(x, &mut a1, &mut e1);
    let (mut a2, mut e2) = ([0.0; 2], [0.0; 2]);
    haar_level(&a1, &mut a2, &mut e2);
    let (mut a3, mut e3) = ([0.0; 1], [0.0; 1]);
    haar_level(&a2, &mut a3, &mut e3);
    [a3[0], e3[0], e2[0], e2[1], e1[0], e1[1], e1[2], e1[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coefficient_is_the_normalised_binary64_value() {
        let c: f64 = 0.7071067811865475;
        assert_eq!(c / (c * c + c * c).sqrt(), HAAR);
        assert_eq!(HAAR.to_bits(), 0x3FE6A09E667F3BCD);
    }

    #[test]
    fn haar3_matches_the_specified_example() {
        let got = haar3(&[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]);
        let want = [
            90.15611460128483,
            79.54951288348661,
            4.500000000000001,
            72.00000000000001,
            HAAR,
            2.8284271247461903,
            11.313708498984761,
            45.254833995939045,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_constant_window_gives_zero_wavelet_features() {
        let f = feature_vector(&[0.5; WINDOW]);
        assert_eq!(&f[..WINDOW], &[0.0; WINDOW]);
        assert_eq!(&f[WINDOW..], &[0.5; WINDOW]);
    }
}
