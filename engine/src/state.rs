//! The binary state container: a fixed header followed by the deflate-compressed bincode payload.
//!
//! Header (little endian): magic `IHTM`, format version (u16), kind (u8), codec (u8, 1 = raw
//! deflate), stored (compressed) payload length (u64), uncompressed payload length (u64), CRC-32 of
//! the stored bytes (u32). Loading checks every header field and the checksum before decompressing,
//! and the decompressed length afterwards, so a truncated or corrupted blob is rejected with a clear
//! message instead of producing a subtly wrong model.

use std::io::{Read, Write};

use flate2::write::DeflateEncoder;
use flate2::{read::DeflateDecoder, Compression};
use serde::{de::DeserializeOwned, Serialize};

use crate::error::Error;

const MAGIC: &[u8; 4] = b"IHTM";
/// Bumped whenever the container, the serialized layout of any engine struct, or the meaning of stored
/// state changes (a stored value that today's code would read differently), so a loader can convert.
/// 1: uncompressed payload. 2: deflate-compressed payload, compact spatial pooler. (Version 2 blobs of the
/// first release hold classifier weights learned before NuPIC's in-place softmax was reproduced: they load
/// and score exactly, only their predictions drift; see tests/fixtures/state/README.md.)
pub const FORMAT_VERSION: u16 = 2;
const CODEC_DEFLATE: u8 = 1;
/// Deflate level: level 1 compresses engine state nearly as well as 6 at a fraction of the time.
const DEFLATE_LEVEL: u32 = 1;
const HEADER_LEN: usize = 4 + 2 + 1 + 1 + 8 + 8 + 4;

/// What a blob holds; a detector blob cannot be loaded as a bare model and vice versa.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKind {
    Model = 1,
    Detector = 2,
    Likelihood = 3,
    Artime = 4,
    Ensemble = 5,
}

/// The kind byte of a blob that starts like a state (None for anything else); decoding still checks it all.
pub fn stored_kind(blob: &[u8]) -> Option<u8> {
    (blob.len() > 6 && &blob[0..4] == MAGIC).then(|| blob[6])
}

/// Serializes `value` into a self-describing, compressed, checksummed blob.
pub fn encode<T: Serialize>(kind: StateKind, value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(kind as u8);
    out.push(CODEC_DEFLATE);
    out.resize(HEADER_LEN, 0);
    let payload = bincode::serialize(value).expect("engine state is always serializable");
    let raw_len = payload.len() as u64;
    let mut writer = DeflateEncoder::new(out, Compression::new(DEFLATE_LEVEL));
    writer.write_all(&payload).expect("writing to memory cannot fail");
    let mut out = writer.finish().expect("writing to memory cannot fail");
    let stored_len = (out.len() - HEADER_LEN) as u64;
    let crc = crc32fast::hash(&out[HEADER_LEN..]);
    out[8..16].copy_from_slice(&stored_len.to_le_bytes());
    out[16..24].copy_from_slice(&raw_len.to_le_bytes());
    out[24..28].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Validates and decodes a blob written by [`encode`] with the same `kind`; every failure is
/// [`Error::CorruptState`].
pub fn decode<T: DeserializeOwned>(kind: StateKind, blob: &[u8]) -> Result<T, Error> {
    check_and_decode(kind, blob).map_err(Error::CorruptState)
}

fn check_and_decode<T: DeserializeOwned>(kind: StateKind, blob: &[u8]) -> Result<T, String> {
    if blob.len() < 6 || &blob[0..4] != MAGIC {
        return Err("not an influxhtm model state (bad magic or too short)".into());
    }
    let version = u16::from_le_bytes([blob[4], blob[5]]);
    if version > FORMAT_VERSION {
        return Err(format!(
            "state format version {version} is newer than this engine's version {FORMAT_VERSION} \
             (written by a newer influxhtm; upgrade to load it)"
        ));
    }
    if version != FORMAT_VERSION {
        return Err(format!(
            "unsupported state format version {version} (this engine reads version {FORMAT_VERSION}; \
             re-create the model to upgrade)"
        ));
    }
    if blob.len() < HEADER_LEN {
        return Err(format!("state is truncated: {} bytes, shorter than its {HEADER_LEN}-byte header", blob.len()));
    }
    if blob[6] != kind as u8 {
        return Err(format!("state holds kind {} but kind {} was expected", blob[6], kind as u8));
    }
    if blob[7] != CODEC_DEFLATE {
        return Err(format!("unknown state compression codec {}", blob[7]));
    }
    let mut le_u64 = [0u8; 8];
    let mut field = |range: std::ops::Range<usize>| {
        le_u64.copy_from_slice(&blob[range]);
        u64::from_le_bytes(le_u64)
    };
    let (stored_len, raw_len) = (field(8..16), field(16..24));
    let crc = u32::from_le_bytes([blob[24], blob[25], blob[26], blob[27]]);
    let stored = &blob[HEADER_LEN..];
    if stored.len() as u64 != stored_len {
        return Err(format!("state is truncated or padded: payload {} bytes, header says {stored_len}", stored.len()));
    }
    if crc32fast::hash(stored) != crc {
        return Err("state checksum mismatch (corrupted data)".into());
    }
    let payload = inflate(stored, raw_len)?;
    bincode::deserialize(&payload).map_err(|e| format!("state payload cannot be decoded: {e}"))
}

/// Decompresses `stored`, which must inflate to exactly `raw_len` bytes.
fn inflate(stored: &[u8], raw_len: u64) -> Result<Vec<u8>, String> {
    let mismatch = || format!("state payload does not decompress to the {raw_len} bytes its header declares");
    // The header is not covered by the checksum: never trust raw_len for more than a bounded allocation.
    let mut payload = Vec::with_capacity(raw_len.min(64 * stored.len() as u64) as usize);
    let mut decoder = DeflateDecoder::new(stored);
    (&mut decoder)
        .take(raw_len)
        .read_to_end(&mut payload)
        .map_err(|e| format!("state payload cannot be decompressed: {e}"))?;
    let mut probe = [0u8; 1];
    if payload.len() as u64 != raw_len || decoder.read(&mut probe).map_err(|_| mismatch())? != 0 {
        return Err(mismatch());
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> (Vec<u32>, Vec<u8>) {
        let value: Vec<u32> = (0..1000).map(|i| i % 37).collect();
        let blob = encode(StateKind::Model, &value);
        (value, blob)
    }

    #[test]
    fn round_trip_compresses() {
        let (value, blob) = blob();
        assert_eq!(decode::<Vec<u32>>(StateKind::Model, &blob).unwrap(), value);
        assert!(blob.len() < value.len(), "{} bytes for {} raw bytes", blob.len(), 4 * value.len());
        assert_eq!(&blob[4..6], &FORMAT_VERSION.to_le_bytes());
    }

    #[test]
    fn wrong_kind_version_and_garbage_are_rejected() {
        let (_, blob) = blob();
        assert!(decode::<Vec<u32>>(StateKind::Detector, &blob).unwrap_err().message().contains("kind"));
        let mut old = blob.clone();
        old[4..6].copy_from_slice(&1u16.to_le_bytes());
        assert!(decode::<Vec<u32>>(StateKind::Model, &old).unwrap_err().message().contains("version 1"));
        assert!(decode::<Vec<u32>>(StateKind::Model, b"nonsense").unwrap_err().message().contains("magic"));
        assert!(decode::<Vec<u32>>(StateKind::Model, &blob[..12]).unwrap_err().message().contains("truncated"));
        let mut newer = blob.clone();
        newer[4..6].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let err = decode::<Vec<u32>>(StateKind::Model, &newer).unwrap_err();
        assert!(matches!(err, Error::CorruptState(_)) && err.message().contains("newer"), "{err}");
    }

    #[test]
    fn corruption_and_truncation_are_detected() {
        let (_, blob) = blob();
        for at in [HEADER_LEN, blob.len() / 2, blob.len() - 1] {
            let mut bad = blob.clone();
            bad[at] ^= 0x10;
            assert!(
                decode::<Vec<u32>>(StateKind::Model, &bad).unwrap_err().message().contains("checksum"),
                "byte {at}"
            );
        }
        let err = decode::<Vec<u32>>(StateKind::Model, &blob[..blob.len() - 1]).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        let mut padded = blob.clone();
        padded.push(0);
        assert!(decode::<Vec<u32>>(StateKind::Model, &padded).unwrap_err().message().contains("padded"));
    }

    #[test]
    fn a_wrong_uncompressed_length_is_detected() {
        let (_, blob) = blob();
        for raw_len in [0u64, 1, 4007, 4009, u64::MAX] {
            let mut bad = blob.clone();
            bad[16..24].copy_from_slice(&raw_len.to_le_bytes());
            let err = decode::<Vec<u32>>(StateKind::Model, &bad).unwrap_err().to_string();
            assert!(err.contains("does not decompress"), "{raw_len}: {err}");
        }
    }
}
