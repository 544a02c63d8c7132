//! The engine's error type: what a caller can do about a failure decides its kind. The Python binding
//! maps each kind onto its own exception class (`InvalidParams`, `CorruptState`).

use std::fmt;

/// Why an engine call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A configuration value or an input the engine cannot use (fix the call, then retry).
    InvalidParams(String),
    /// A state blob that is not an engine state, is damaged, or has an unsupported format version.
    CorruptState(String),
}

impl Error {
    /// The human-readable reason, without the kind.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidParams(m) | Error::CorruptState(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

/// Shorthand for the constructors that validate parameters.
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidParams(message.into())
}
