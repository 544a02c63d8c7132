//! Shared helpers for the golden-trace tests: locate `../shared/golden` and read a trace.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

pub use serde_json::Value;

/// `../shared` next to the repository (override with `INFLUXHTM_SHARED`).
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("INFLUXHTM_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// A golden trace: the header object and one JSON object per record.
pub struct Trace {
    pub header: Value,
    pub records: Vec<Value>,
}

/// Reads `golden/<name>.jsonl.gz`.
pub fn load_trace(name: &str) -> Trace {
    let path = shared_dir().join("golden").join(format!("{name}.jsonl.gz"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut lines = reader.lines();
    let header: Value = serde_json::from_str(&lines.next().expect("empty trace").unwrap()).unwrap();
    let records = lines.map(|l| serde_json::from_str(&l.unwrap()).unwrap()).collect();
    Trace { header, records }
}

/// The names of every `*.jsonl.gz` trace in the golden directory (without extension).
pub fn all_traces() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(shared_dir().join("golden"))
        .expect("golden directory missing")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".jsonl.gz").map(str::to_string))
        .collect();
    names.sort();
    names
}

/// A JSON array of integers as `Vec<u32>`.
pub fn u32s(v: &Value) -> Vec<u32> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("uint") as u32).collect()
}
