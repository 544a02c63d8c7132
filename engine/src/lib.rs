//! influxhtm engine core: NuPIC 1.0.5's OPF anomaly model (encoders, spatial pooler, backtracking TM,
//! TemporalMemory, anomaly likelihood, SDR classifier) with a versioned binary state format.
//!
//! The core knows nothing of Python: `python` (built with the `python` feature) is the only module
//! that uses PyO3.

pub mod anomaly;
pub mod artime;
pub mod backtracking_tm;
pub mod classifier;
pub mod detector;
pub mod encoders;
pub mod ensemble;
pub mod error;
pub mod fault;
pub mod likelihood;
pub mod model;
mod paged;
#[cfg(feature = "python")]
mod python;
mod regions;
pub mod rng;
pub mod sensor;
pub mod spatial_pooler;
pub mod state;
pub mod temporal_memory;

pub use error::Error;
