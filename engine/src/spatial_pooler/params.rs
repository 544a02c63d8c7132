//! The spatial pooler's parameters (NuPIC's `spParams`), their validation against what this
//! implementation supports, and the float32 constants nupic.core derives from them.

use serde::{Deserialize, Serialize};

/// nupic.core's PERMANENCE_EPSILON (a `Real`).
const PERMANENCE_EPSILON: f32 = 0.000_001;
const MAX_LOCAL_AREA_DENSITY: f32 = 0.5;
/// Column indices are kept as u16 (pending overlap corrections); inputs are bounded alike.
const MAX_DIMENSION: u32 = 1 << 16;

/// Spatial pooler parameters, named after NuPIC's `spParams` (reals are converted to float32, as
/// NuPIC's C++ binding does).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpParams {
    pub input_width: u32,
    pub column_count: u32,
    pub potential_radius: u32,
    pub potential_pct: f64,
    pub global_inhibition: bool,
    pub num_active_columns_per_inh_area: u32,
    pub stimulus_threshold: u32,
    pub syn_perm_active_inc: f64,
    pub syn_perm_inactive_dec: f64,
    pub syn_perm_connected: f64,
    pub min_pct_overlap_duty_cycle: f64,
    pub duty_cycle_period: u32,
    pub boost_strength: f64,
    pub seed: u64,
    pub wrap_around: bool,
}

impl SpParams {
    /// The values NAB's `numenta` detector runs with (spec/htm.md 2.4) for an input of `input_width` bits.
    pub fn nab(input_width: u32) -> Self {
        SpParams {
            input_width,
            column_count: 2048,
            potential_radius: input_width,
            potential_pct: 0.8,
            global_inhibition: true,
            num_active_columns_per_inh_area: 40,
            stimulus_threshold: 0,
            syn_perm_active_inc: 0.003,
            syn_perm_inactive_dec: 0.0005,
            syn_perm_connected: 0.2,
            min_pct_overlap_duty_cycle: 0.001,
            duty_cycle_period: 1000,
            boost_strength: 0.0,
            seed: 1956,
            wrap_around: true,
        }
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        let fail = |m: String| Err(format!("unsupported spatial pooler configuration: {m}"));
        if self.input_width == 0 || self.input_width > MAX_DIMENSION {
            return fail(format!("input_width must be in 1..={MAX_DIMENSION}, got {}", self.input_width));
        }
        if self.column_count == 0 || self.column_count > MAX_DIMENSION {
            return fail(format!("column_count must be in 1..={MAX_DIMENSION}, got {}", self.column_count));
        }
        if !self.global_inhibition {
            return fail("local inhibition is not implemented (global_inhibition must be true)".into());
        }
        if self.num_active_columns_per_inh_area == 0 {
            return fail("num_active_columns_per_inh_area must be > 0 (localAreaDensity is not implemented)".into());
        }
        if !(self.boost_strength.is_finite() && self.boost_strength >= 0.0) {
            return fail(format!("boost_strength must be finite and >= 0, got {}", self.boost_strength));
        }
        if !(self.potential_pct > 0.0 && self.potential_pct <= 1.0) {
            return fail(format!("potential_pct must be in (0, 1], got {}", self.potential_pct));
        }
        if !(self.syn_perm_connected > 0.0 && self.syn_perm_connected <= 1.0) {
            return fail(format!("syn_perm_connected must be in (0, 1], got {}", self.syn_perm_connected));
        }
        for (name, v) in [
            ("syn_perm_active_inc", self.syn_perm_active_inc),
            ("syn_perm_inactive_dec", self.syn_perm_inactive_dec),
            ("min_pct_overlap_duty_cycle", self.min_pct_overlap_duty_cycle),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return fail(format!("{name} must be finite and >= 0, got {v}"));
            }
        }
        let d = Derived::new(self);
        if !(d.density * d.boost_strength).exp().is_finite() {
            return fail(format!(
                "boost_strength {} is too large: the boost factors would overflow float32",
                self.boost_strength
            ));
        }
        if d.trim_threshold >= d.connected || d.connected_threshold <= 0.0 {
            return fail(format!(
                "syn_perm_active_inc / 2 ({}) must be below syn_perm_connected ({})",
                d.trim_threshold, d.connected
            ));
        }
        if self.duty_cycle_period == 0 {
            return fail("duty_cycle_period must be >= 1".into());
        }
        if d.num_active == 0 {
            return fail(format!(
                "{} columns are too few for {} active columns",
                self.column_count, self.num_active_columns_per_inh_area
            ));
        }
        Ok(())
    }
}

/// Constants derived from the parameters, in nupic.core's float32 arithmetic.
#[derive(Clone, Debug)]
pub(super) struct Derived {
    pub(super) active_inc: f32,
    pub(super) inactive_dec: f32,
    pub(super) connected: f32,
    /// `synPermConnected - PERMANENCE_EPSILON`: permanences at or above it are connected.
    pub(super) connected_threshold: f32,
    pub(super) below_stimulus_inc: f32,
    pub(super) trim_threshold: f32,
    pub(super) min_pct_overlap: f32,
    /// Winners per compute (`numDesired` of the global inhibition).
    pub(super) num_active: usize,
    /// The target density of the global inhibition (also the boost factors' target).
    pub(super) density: f32,
    pub(super) boost_strength: f32,
}

impl Derived {
    pub(super) fn new(p: &SpParams) -> Self {
        let connected = p.syn_perm_connected as f32;
        let active_inc = p.syn_perm_active_inc as f32;
        // Global inhibition: the inhibition radius is the column count, the area is capped at it.
        let area = (2.0 * p.column_count as f32 + 1.0).min(p.column_count as f32) as u32;
        let density = (p.num_active_columns_per_inh_area as f32 / area as f32).min(MAX_LOCAL_AREA_DENSITY);
        Derived {
            active_inc,
            inactive_dec: p.syn_perm_inactive_dec as f32,
            connected,
            connected_threshold: connected - PERMANENCE_EPSILON,
            below_stimulus_inc: (connected as f64 / 10.0) as f32,
            trim_threshold: (active_inc as f64 / 2.0) as f32,
            min_pct_overlap: p.min_pct_overlap_duty_cycle as f32,
            num_active: (density * p.column_count as f32) as usize,
            density,
            boost_strength: p.boost_strength as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial_pooler::SpatialPooler;

    #[test]
    fn unsupported_configurations_are_rejected() {
        type Change = fn(&mut SpParams);
        let cases: [(Change, &str); 8] = [
            (|p| p.global_inhibition = false, "local inhibition"),
            (|p| p.boost_strength = -1.0, "boost_strength must be finite and >= 0"),
            (|p| p.boost_strength = f64::NAN, "boost_strength must be finite and >= 0"),
            (|p| p.boost_strength = 5000.0, "would overflow float32"),
            (|p| p.num_active_columns_per_inh_area = 0, "localAreaDensity"),
            (|p| p.potential_pct = 0.0, "potential_pct"),
            (|p| p.column_count = 70_000, "column_count"),
            (|p| p.syn_perm_active_inc = 0.5, "syn_perm_active_inc / 2"),
        ];
        for (change, expected) in cases {
            let mut params = SpParams::nab(454);
            change(&mut params);
            let err = SpatialPooler::new(params).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
