//! influxhtm engine core: NuPIC 1.0.5's OPF anomaly model (encoders, spatial pooler, backtracking TM,
//! TemporalMemory, anomaly likelihood, SDR classifier) with a versioned binary state format.

pub mod rng;
pub mod state;
pub mod model;
pub mod detector;
#[cfg(feature = "python")]
mod python;
