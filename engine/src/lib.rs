//! influxhtm engine core: NuPIC 1.0.5's OPF anomaly model (encoders, spatial pooler, backtracking TM,
//! TemporalMemory, anomaly likelihood, SDR classifier) with a versioned binary state format.

pub mod anomaly;
pub mod backtracking_tm;
pub mod classifier;
pub mod detector;
pub mod encoders;
pub mod likelihood;
pub mod model;
#[cfg(feature = "python")]
mod python;
pub mod rng;
pub mod spatial_pooler;
pub mod state;
pub mod temporal_memory;
