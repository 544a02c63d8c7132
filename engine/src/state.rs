//! The binary state container: magic, format version, kind, payload length, CRC-32, bincode payload.
//! Loading checks every header field and the checksum before decoding, so a truncated or corrupted
//! blob is rejected with a clear message instead of producing a subtly wrong model.

use serde::{de::DeserializeOwned, Serialize};

const MAGIC: &[u8; 4] = b"IHTM";
/// Bumped whenever the serialized layout of any engine struct changes.
pub const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 4 + 2 + 1 + 1 + 8 + 4;

/// What a blob holds; a detector blob cannot be loaded as a bare model and vice versa.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKind {
    Model = 1,
    Detector = 2,
    Likelihood = 3,
}

/// Serializes `value` into a self-describing, checksummed blob.
pub fn encode<T: Serialize>(kind: StateKind, value: &T) -> Vec<u8> {
    let payload = bincode::serialize(value).expect("engine state is always serializable");
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(kind as u8);
    out.push(0);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Validates and decodes a blob written by [`encode`] with the same `kind`.
pub fn decode<T: DeserializeOwned>(kind: StateKind, blob: &[u8]) -> Result<T, String> {
    if blob.len() < HEADER_LEN || &blob[0..4] != MAGIC {
        return Err("not an influxhtm model state (bad magic or too short)".into());
    }
    let version = u16::from_le_bytes([blob[4], blob[5]]);
    if version != FORMAT_VERSION {
        return Err(format!("unsupported state format version {version} (this engine reads {FORMAT_VERSION})"));
    }
    if blob[6] != kind as u8 {
        return Err(format!("state holds kind {} but kind {} was expected", blob[6], kind as u8));
    }
    let len = u64::from_le_bytes(blob[8..16].try_into().unwrap()) as usize;
    let crc = u32::from_le_bytes(blob[16..20].try_into().unwrap());
    let payload = &blob[HEADER_LEN..];
    if payload.len() != len {
        return Err(format!("state is truncated or padded: payload {} bytes, header says {len}", payload.len()));
    }
    if crc32fast::hash(payload) != crc {
        return Err("state checksum mismatch (corrupted data)".into());
    }
    bincode::deserialize(payload).map_err(|e| format!("state payload cannot be decoded: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_detected() {
        let value: Vec<u32> = (0..100).collect();
        let blob = encode(StateKind::Model, &value);
        assert_eq!(decode::<Vec<u32>>(StateKind::Model, &blob).unwrap(), value);
        assert!(decode::<Vec<u32>>(StateKind::Detector, &blob).unwrap_err().contains("kind"));
        let mut bad = blob.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(decode::<Vec<u32>>(StateKind::Model, &bad).unwrap_err().contains("checksum"));
        assert!(decode::<Vec<u32>>(StateKind::Model, &blob[..blob.len() - 1]).unwrap_err().contains("truncated"));
        assert!(decode::<Vec<u32>>(StateKind::Model, b"nonsense").is_err());
    }
}
