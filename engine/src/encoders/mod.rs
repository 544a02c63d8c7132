//! Encoders that turn a record's fields into the spatial pooler's input bits (NuPIC 1.0.5 semantics,
//! spec/htm.md 2.3, 3.2, 3.3). Every encoder appends the indices of its on-bits, shifted by the
//! encoder's offset within the concatenated input, to a caller-owned vector.

mod adaptive_scalar;
mod category;
mod date;
mod delta;
mod log;
mod nupic_scalar;
mod rdse;
mod scalar;
mod sdr_category;

pub use adaptive_scalar::{AdaptiveScalarEncoder, ADAPTIVE_WINDOW};
pub use category::CategoryEncoder;
pub use date::{
    naive_seconds, weekday_from_name, CustomDays, DateEncoder, DatePart, Holiday, NupicDateEncoder, NupicDateParams,
    CHRISTMAS,
};
pub use delta::DeltaEncoder;
pub use log::{LogEncoder, LOG_ENCODER_LOW_LIMIT};
pub use nupic_scalar::{py2_float_str, NupicScalarEncoder, ScalarParams};
pub use rdse::Rdse;
pub use scalar::ScalarEncoder;
pub use sdr_category::{SdrCategoryEncoder, UNKNOWN_CATEGORY};

use std::fmt;

/// An input an encoder cannot represent, or encoder parameters that NuPIC would reject.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EncodeError {
    message: String,
}

impl EncodeError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        EncodeError { message: message.into() }
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EncodeError {}
