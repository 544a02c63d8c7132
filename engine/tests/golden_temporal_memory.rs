//! Golden parity of the TemporalMemory against NuPIC 1.0.5's numentaTM trace
//! (`art_daily_jumpsup-tm.jsonl.gz`): predicted columns before each record, segment and synapse
//! counts after it, and the raw anomaly score derived from them.

mod common;

use _engine::temporal_memory::{TemporalMemory, TemporalMemoryParams};
use common::{load_trace, u32s};

fn raw_score(active: &[u32], predicted: &[u32]) -> f32 {
    if active.is_empty() {
        return 0.0;
    }
    let missed = active.iter().filter(|c| predicted.binary_search(c).is_err()).count();
    (missed as f64 / active.len() as f64) as f32
}

#[test]
fn temporal_memory_matches_numenta_tm_trace() {
    let trace = load_trace("art_daily_jumpsup-tm");
    assert_eq!(trace.header["tmImplementation"], "tm_cpp");
    let mut tm = TemporalMemory::new(TemporalMemoryParams::nab()).unwrap();
    let n = trace.records.len();
    let inputs: Vec<Vec<u32>> = trace.records.iter().map(|r| u32s(&r["sp"])).collect();

    let (mut pc_exact, mut counts_exact, mut raw_equal) = (0usize, 0usize, 0usize);
    let mut first_mismatch: Option<String> = None;
    let mut predicted = Vec::new();

    for (i, rec) in trace.records.iter().enumerate() {
        tm.predicted_columns(&mut predicted);
        let pc = u32s(&rec["pc"]);
        let sp = &inputs[i];
        let expected_raw = rec["raw"].as_f64().unwrap();
        if predicted == pc {
            pc_exact += 1;
        } else if first_mismatch.is_none() {
            first_mismatch = Some(format!("record {i}: predicted columns {predicted:?} != {pc:?}"));
        }
        if raw_score(sp, &predicted) as f64 == expected_raw {
            raw_equal += 1;
        }
        tm.compute(sp, true);
        let (segs, syns) = (rec["segs"].as_u64().unwrap() as usize, rec["syns"].as_u64().unwrap() as usize);
        if tm.num_segments() == segs && tm.num_synapses() == syns {
            counts_exact += 1;
        } else if first_mismatch.is_none() {
            first_mismatch = Some(format!(
                "record {i}: segments/synapses {}/{} != {segs}/{syns}",
                tm.num_segments(),
                tm.num_synapses()
            ));
        }
    }
    eprintln!(
        "TM parity: predicted columns exact {pc_exact}/{n}, segment+synapse counts exact {counts_exact}/{n}, \
         raw score equal {raw_equal}/{n}; first mismatch: {}",
        first_mismatch.as_deref().unwrap_or("none")
    );
    // Speed: a second, uninterrupted run over the same inputs.
    let mut timed = TemporalMemory::new(TemporalMemoryParams::nab()).unwrap();
    let t0 = common::thread_cpu_time().as_secs_f64();
    for sp in &inputs {
        timed.compute(sp, true);
    }
    let tm_cpu = common::thread_cpu_time().as_secs_f64() - t0;
    eprintln!(
        "TM speed (thread CPU time): {:.0} records/s ({:.1} us/record in compute)",
        n as f64 / tm_cpu,
        tm_cpu * 1e6 / n as f64
    );
    eprintln!(
        "TM state after {n} records: {} segments, {} synapses, ~{} KiB",
        tm.num_segments(),
        tm.num_synapses(),
        tm.memory_bytes() / 1024
    );
    assert!(raw_equal * 100 >= n * 99, "raw score parity {raw_equal}/{n} below 99 %");
    assert_eq!(pc_exact, n, "predicted columns differ");
    assert_eq!(counts_exact, n, "segment/synapse counts differ");
}

#[test]
fn save_load_mid_stream_continues_identically() {
    let trace = load_trace("art_daily_jumpsup-tm");
    let inputs: Vec<Vec<u32>> = trace.records.iter().map(|r| u32s(&r["sp"])).collect();
    let split = 2000;
    let mut uninterrupted = TemporalMemory::new(TemporalMemoryParams::nab()).unwrap();
    let mut first = TemporalMemory::new(TemporalMemoryParams::nab()).unwrap();
    for sp in &inputs[..split] {
        uninterrupted.compute(sp, true);
        first.compute(sp, true);
    }
    let blob = bincode::serialize(&first).unwrap();
    drop(first);
    let mut restored: TemporalMemory = bincode::deserialize(&blob).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (i, sp) in inputs.iter().enumerate().skip(split) {
        uninterrupted.compute(sp, true);
        restored.compute(sp, true);
        uninterrupted.predicted_columns(&mut a);
        restored.predicted_columns(&mut b);
        assert_eq!(a, b, "record {i}: predictions differ after save/load");
        uninterrupted.active_cells(&mut a);
        restored.active_cells(&mut b);
        assert_eq!(a, b, "record {i}: active cells differ after save/load");
        assert_eq!(uninterrupted.num_synapses(), restored.num_synapses());
    }
    eprintln!("TM checkpoint after {split} records: {} KiB (bincode)", blob.len() / 1024);
}

#[test]
fn inference_without_learning_leaves_connections_alone() {
    let trace = load_trace("art_daily_jumpsup-tm");
    let inputs: Vec<Vec<u32>> = trace.records.iter().take(300).map(|r| u32s(&r["sp"])).collect();
    let mut tm = TemporalMemory::new(TemporalMemoryParams::nab()).unwrap();
    for sp in &inputs[..200] {
        tm.compute(sp, true);
    }
    let (segs, syns) = (tm.num_segments(), tm.num_synapses());
    let mut predicted = Vec::new();
    let mut any_prediction = false;
    for sp in &inputs[200..] {
        tm.compute(sp, false);
        tm.predicted_columns(&mut predicted);
        any_prediction |= !predicted.is_empty();
    }
    assert_eq!((tm.num_segments(), tm.num_synapses()), (segs, syns));
    assert!(any_prediction, "a trained memory should predict something");
}

#[test]
fn invalid_parameters_are_rejected() {
    let mut p = TemporalMemoryParams::nab();
    p.column_count = 0;
    assert!(TemporalMemory::new(p).is_err());
    let mut p = TemporalMemoryParams::nab();
    p.initial_permanence = 1.5;
    assert!(TemporalMemory::new(p).unwrap_err().contains("initial_permanence"));
    let mut p = TemporalMemoryParams::nab();
    p.max_segments_per_cell = 0;
    assert!(TemporalMemory::new(p).is_err());
}

#[test]
#[should_panic(expected = "sorted")]
fn unsorted_columns_panic_with_a_clear_message() {
    let mut tm = TemporalMemory::new(TemporalMemoryParams::nab()).unwrap();
    tm.compute(&[5, 3], true);
}
