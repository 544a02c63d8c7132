//! Shared helpers for the golden-trace tests: locate the repository's `tests/fixtures` and read a trace.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

pub use serde_json::Value;

use _engine::spatial_pooler::SpParams;

/// The repository's `tests/fixtures` (golden traces in `golden/`, NAB data in `nab/`). Found from
/// `CARGO_MANIFEST_DIR` as cargo sets it when it runs the tests (read at run time, not baked in at compile
/// time, so a target directory shared by two clones still reads each clone's own fixtures).
pub fn fixtures_dir() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("CARGO_MANIFEST_DIR is not set: run these tests with `cargo test` from the engine/ crate");
    let dir = PathBuf::from(manifest).join("../tests/fixtures");
    assert!(dir.join("golden").is_dir(), "test fixtures not found at {} (engine/../tests/fixtures)", dir.display());
    dir
}

/// A golden trace: the header object and one JSON object per record.
pub struct Trace {
    pub header: Value,
    pub records: Vec<Value>,
}

/// Reads `golden/<name>.jsonl.gz`.
pub fn load_trace(name: &str) -> Trace {
    let path = fixtures_dir().join("golden").join(format!("{name}.jsonl.gz"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut lines = reader.lines();
    let header: Value = serde_json::from_str(&lines.next().expect("empty trace").unwrap()).unwrap();
    let records = lines.map(|l| serde_json::from_str(&l.unwrap()).unwrap()).collect();
    Trace { header, records }
}

/// The names of every `*.jsonl.gz` trace in the golden directory (without extension).
pub fn all_traces() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir().join("golden"))
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

/// A trace's `YYYY-MM-DD HH:MM:SS` timestamp as naive seconds since 1970 (the engine's timestamps).
pub fn trace_seconds(t: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<u32>().unwrap_or_else(|_| panic!("bad timestamp {t}"));
    assert_eq!(t.len(), 19, "bad timestamp {t}");
    _engine::encoders::naive_seconds(n(0..4) as i64, n(5..7), n(8..10), n(11..13), n(14..16), n(17..19))
}

/// CPU time consumed by the calling thread (Linux schedstat): the test machine is shared, so wall-clock
/// time says little about a component's own cost. Elsewhere: wall-clock time since the first call.
pub fn thread_cpu_time() -> std::time::Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(std::time::Duration::from_nanos)
        .unwrap_or_else(|| START.get_or_init(std::time::Instant::now).elapsed())
}

/// The spatial pooler parameters of a trace header's `spParams` (NuPIC's defaults for the keys it
/// omits), for an input of `input_width` bits.
pub fn sp_params(header: &Value, input_width: u32) -> SpParams {
    let sp = &header["params"]["modelParams"]["spParams"];
    let mut params = SpParams::nab(input_width);
    params.column_count = sp["columnCount"].as_u64().unwrap() as u32;
    params.potential_pct = sp["potentialPct"].as_f64().unwrap();
    params.global_inhibition = sp["globalInhibition"].as_u64().unwrap() != 0;
    params.num_active_columns_per_inh_area = sp["numActiveColumnsPerInhArea"].as_u64().unwrap() as u32;
    params.syn_perm_active_inc = sp["synPermActiveInc"].as_f64().unwrap();
    params.syn_perm_inactive_dec = sp["synPermInactiveDec"].as_f64().unwrap();
    params.syn_perm_connected = sp["synPermConnected"].as_f64().unwrap();
    params.boost_strength = sp["boostStrength"].as_f64().unwrap();
    params.seed = sp["seed"].as_u64().unwrap();
    params
}
