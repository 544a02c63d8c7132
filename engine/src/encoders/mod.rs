//! Encoders that turn a record's fields into the spatial pooler's input bits (NuPIC 1.0.5 semantics,
//! spec/htm.md 2.3, 3.2, 3.3). Every encoder appends the indices of its on-bits, shifted by the
//! encoder's offset within the concatenated input, to a caller-owned vector.

mod date;
mod rdse;
mod scalar;

pub use date::{naive_seconds, DateEncoder, DatePart};
pub use rdse::Rdse;
pub use scalar::ScalarEncoder;

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
