//! Parity of the backtracking TM with NuPIC 1.0.5 (BacktrackingTMCPP / Cells4) on the golden traces:
//! the golden SP columns go in; predicted columns, segment and synapse counts (and, for the `-cl`
//! trace, active cells) must come out record by record.

mod common;

use std::time::Duration;

use _engine::backtracking_tm::{BacktrackingTm, BacktrackingTmParams};
use common::{load_trace, thread_cpu_time, u32s};

/// What the golden trace says about one record.
struct Expected {
    sp: Vec<u32>,
    pc: Vec<u32>,
    raw: f64,
    segs: usize,
    syns: usize,
    ac: Option<Vec<u32>>,
}

/// Raw anomaly score as NuPIC computes it: fraction of active columns not predicted, as float32.
fn raw_score(active: &[u32], predicted: &[u32]) -> f32 {
    if active.is_empty() {
        return 0.0;
    }
    let missed = active.iter().filter(|c| predicted.binary_search(c).is_err()).count();
    (missed as f64 / active.len() as f64) as f32
}

struct Parity {
    records: usize,
    pc_equal: usize,
    raw_equal: usize,
    first_pc_mismatch: Option<usize>,
    first_count_mismatch: Option<(usize, usize, usize, u64, u64)>,
    first_ac_mismatch: Option<usize>,
    tm_time: Duration,
    memory_bytes: usize,
    checkpoint_bytes: usize,
}

fn run_trace(name: &str) -> Parity {
    let trace = load_trace(name);
    let expected: Vec<Expected> = trace
        .records
        .iter()
        .map(|r| Expected {
            sp: u32s(&r["sp"]),
            pc: u32s(&r["pc"]),
            raw: r["raw"].as_f64().unwrap(),
            segs: r["segs"].as_u64().unwrap() as usize,
            syns: r["syns"].as_u64().unwrap() as usize,
            ac: r.get("ac").map(u32s),
        })
        .collect();
    drop(trace);
    let mut tm = BacktrackingTm::new(BacktrackingTmParams::nab()).unwrap();
    let mut pc = Vec::new();
    let mut ac = Vec::new();
    let mut parity = Parity {
        records: expected.len(),
        pc_equal: 0,
        raw_equal: 0,
        first_pc_mismatch: None,
        first_count_mismatch: None,
        first_ac_mismatch: None,
        tm_time: Duration::ZERO,
        memory_bytes: 0,
        checkpoint_bytes: 0,
    };
    let t0 = thread_cpu_time();
    for (i, e) in expected.iter().enumerate() {
        tm.predicted_columns(&mut pc);
        if pc == e.pc {
            parity.pc_equal += 1;
        } else if parity.first_pc_mismatch.is_none() {
            parity.first_pc_mismatch = Some(i);
            let extra: Vec<_> = pc.iter().filter(|c| !e.pc.contains(c)).collect();
            let missing: Vec<_> = e.pc.iter().filter(|c| !pc.contains(c)).collect();
            eprintln!("{name}: first pc mismatch at record {i}: extra {extra:?}, missing {missing:?}");
        }
        if raw_score(&e.sp, &pc) as f64 == e.raw {
            parity.raw_equal += 1;
        }
        tm.compute(&e.sp, true);
        if parity.first_count_mismatch.is_none() && (tm.num_segments() != e.segs || tm.num_synapses() != e.syns) {
            parity.first_count_mismatch = Some((i, tm.num_segments(), tm.num_synapses(), e.segs as u64, e.syns as u64));
        }
        if let Some(expected_ac) = &e.ac {
            tm.active_cells(&mut ac);
            if parity.first_ac_mismatch.is_none() && &ac != expected_ac {
                parity.first_ac_mismatch = Some(i);
            }
        }
    }
    parity.tm_time = thread_cpu_time() - t0;
    parity.memory_bytes = tm.memory_bytes();
    parity.checkpoint_bytes = bincode::serialize(&tm).unwrap().len();
    let p = &parity;
    eprintln!(
        "{name}: {} records, pc exact {}/{} ({:.3} %), raw equal {:.3} %, first pc mismatch {:?}, \
         first segs/syns mismatch {:?} (record, ours segs, syns, golden segs, syns), first ac mismatch {:?}, \
         TM {:.0} records/s ({:.1} us/record CPU time, checks included), connections {:.1} MB, \
         checkpoint {:.2} MB",
        p.records,
        p.pc_equal,
        p.records,
        100.0 * p.pc_equal as f64 / p.records as f64,
        100.0 * p.raw_equal as f64 / p.records as f64,
        p.first_pc_mismatch,
        p.first_count_mismatch,
        p.first_ac_mismatch,
        p.records as f64 / p.tm_time.as_secs_f64(),
        p.tm_time.as_secs_f64() * 1e6 / p.records as f64,
        p.memory_bytes as f64 / 1e6,
        p.checkpoint_bytes as f64 / 1e6,
    );
    parity
}

fn assert_parity(name: &str) -> Parity {
    let p = run_trace(name);
    let raw_fraction = p.raw_equal as f64 / p.records as f64;
    assert!(raw_fraction >= 0.99, "{name}: raw score equal on only {:.3} % of records", 100.0 * raw_fraction);
    p
}

#[test]
fn exchange_2_cpc_results() {
    assert_parity("exchange-2_cpc_results");
}

#[test]
fn travel_time_387() {
    assert_parity("TravelTime_387");
}

#[test]
fn art_daily_jumpsup() {
    assert_parity("art_daily_jumpsup");
}

#[test]
fn art_daily_small_noise() {
    assert_parity("art_daily_small_noise");
}

#[test]
fn nyc_taxi() {
    assert_parity("nyc_taxi");
}

/// The longest trace; also bounds the memory of the learned connections and the size of the
/// checkpoint after 22,695 records (the product budget is 8 MB resident and 2 MB saved per model).
#[test]
fn machine_temperature_system_failure() {
    let p = assert_parity("machine_temperature_system_failure");
    assert!(p.memory_bytes < 4_500_000, "connections take {} bytes", p.memory_bytes);
    assert!(p.checkpoint_bytes < 2_000_000, "checkpoint takes {} bytes", p.checkpoint_bytes);
}

#[test]
fn art_daily_jumpsup_active_cells() {
    let p = run_trace("art_daily_jumpsup-cl");
    assert_eq!(p.first_ac_mismatch, None, "active cells differ from NuPIC's");
    assert!(p.raw_equal as f64 / p.records as f64 >= 0.99);
}

/// Cloning at record k, or saving with bincode and loading, continues exactly like the original.
#[test]
fn snapshot_continues_identically() {
    let trace = load_trace("exchange-2_cpc_results");
    let inputs: Vec<Vec<u32>> = trace.records.iter().map(|r| u32s(&r["sp"])).collect();
    let split = 700;
    let mut original = BacktrackingTm::new(BacktrackingTmParams::nab()).unwrap();
    for sp in &inputs[..split] {
        original.compute(sp, true);
    }
    let mut cloned = original.clone();
    let blob = bincode::serialize(&original).unwrap();
    let mut loaded: BacktrackingTm = bincode::deserialize(&blob).unwrap();
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for (i, sp) in inputs[split..].iter().enumerate() {
        for tm in [&mut original, &mut cloned, &mut loaded] {
            tm.compute(sp, true);
        }
        original.predicted_columns(&mut a);
        cloned.predicted_columns(&mut b);
        loaded.predicted_columns(&mut c);
        assert!(a == b && a == c, "predicted columns diverge {i} records after the snapshot");
        original.active_cells(&mut a);
        cloned.active_cells(&mut b);
        loaded.active_cells(&mut c);
        assert!(a == b && a == c, "active cells diverge {i} records after the snapshot");
        assert_eq!(original.num_synapses(), loaded.num_synapses());
        assert_eq!(original.num_segments(), cloned.num_segments());
    }
    assert!(original.num_segments() > 0);
}

#[test]
fn rejects_unsupported_configurations() {
    let bad = |f: fn(&mut BacktrackingTmParams)| {
        let mut p = BacktrackingTmParams::nab();
        f(&mut p);
        BacktrackingTm::new(p).unwrap_err()
    };
    assert!(bad(|p| p.global_decay = 0.1).contains("global_decay"));
    assert!(bad(|p| p.max_segments_per_cell = 0).contains("max_segments_per_cell"));
    assert!(bad(|p| p.max_synapses_per_segment = 0).contains("max_synapses_per_segment"));
    assert!(bad(|p| p.cells_per_column = 1).contains("cells_per_column"));
    assert!(bad(|p| p.pam_length = 0).contains("pam_length"));
    assert!(bad(|p| p.initial_perm = f32::NAN).contains("initial_perm"));
}
