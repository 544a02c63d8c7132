//! Golden parity of the SDR classifier and its OPF post-processing against NuPIC 1.0.5's
//! classifier-enabled trace (`art_daily_jumpsup-cl.jsonl.gz`), plus speed, memory and a
//! save/load round trip in the middle of the stream.

mod common;

use _engine::classifier::{opf_predictions, opf_region_alpha, SdrClassifier};
use common::{load_trace, u32s, Trace};

/// The alpha NuPIC's classifier region actually uses: the header's 0.035828933612158 reaches the
/// region as a 6-significant-digit value (the trace's probabilities match this one, not the header's).
const REGION_ALPHA: f64 = 0.0358289;

struct Record {
    active: Vec<u32>,
    bucket: u32,
    value: f64,
    best: f64,
    preds: Vec<(f64, f64)>,
}

fn records(trace: &Trace) -> Vec<Record> {
    trace
        .records
        .iter()
        .map(|r| Record {
            active: u32s(&r["ac"]),
            bucket: r["b"].as_u64().unwrap() as u32,
            value: r["v"].as_f64().unwrap(),
            best: r["best"].as_f64().unwrap(),
            preds: r["preds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
                .collect(),
        })
        .collect()
}

fn step(cl: &mut SdrClassifier, i: usize, rec: &Record) -> (f64, Vec<(f64, f64)>) {
    let out = cl.compute(i as u64, &rec.active, rec.bucket, rec.value, true, true).unwrap().unwrap();
    opf_predictions(&out.actual_values, &out.probabilities[0].1)
}

#[test]
fn classifier_against_numenta_cl_trace() {
    let trace = load_trace("art_daily_jumpsup-cl");
    let header_alpha = trace.header["params"]["modelParams"]["clParams"]["alpha"].as_f64().unwrap();
    assert_eq!(opf_region_alpha(header_alpha), REGION_ALPHA);
    let recs = records(&trace);
    let n = recs.len();
    let mut cl = SdrClassifier::new(vec![1], REGION_ALPHA, 0.3).unwrap();
    let (mut best_equal, mut preds_exact, mut leading_exact) = (0usize, 0usize, 0usize);
    let mut max_abs_diff = 0.0f64;
    let mut first_mismatch: Option<String> = None;
    for (i, rec) in recs.iter().enumerate() {
        let (best, preds) = step(&mut cl, i, rec);
        if best == rec.best {
            best_equal += 1;
        }
        if preds == rec.preds {
            preds_exact += 1;
            if leading_exact == i {
                leading_exact += 1;
            }
        } else if first_mismatch.is_none() {
            first_mismatch = Some(format!("record {i}: ours {preds:?}, NuPIC {:?}", rec.preds));
        }
        for &(value, p) in &rec.preds {
            let ours = preds.iter().find(|(v, _)| *v == value).map_or(0.0, |x| x.1);
            max_abs_diff = max_abs_diff.max((ours - p).abs());
        }
    }
    eprintln!(
        "classifier parity: leading exact records {leading_exact}, best equal {best_equal}/{n}, \
         preds exact {preds_exact}/{n}, max |dp| {max_abs_diff:.3e}; first mismatch: {}",
        first_mismatch.as_deref().unwrap_or("none")
    );
    eprintln!("classifier state after {n} records: {} weights, ~{} KiB", cl.num_weights(), cl.memory_bytes() / 1024);
    assert_eq!(preds_exact, n, "predictions differ from NuPIC's; first mismatch: {first_mismatch:?}");
    assert_eq!(best_equal, n);
}

#[test]
fn classifier_speed() {
    let trace = load_trace("art_daily_jumpsup-cl");
    let recs = records(&trace);
    let mut cl = SdrClassifier::new(vec![1], REGION_ALPHA, 0.3).unwrap();
    let t0 = common::thread_cpu_time().as_secs_f64();
    for (i, rec) in recs.iter().enumerate() {
        std::hint::black_box(step(&mut cl, i, rec));
    }
    let cpu = common::thread_cpu_time().as_secs_f64() - t0;
    eprintln!(
        "classifier speed (thread CPU time, compute + OPF post-processing): {:.0} records/s ({:.1} us/record)",
        recs.len() as f64 / cpu,
        cpu * 1e6 / recs.len() as f64
    );
}

#[test]
fn save_load_mid_stream_continues_identically() {
    let trace = load_trace("art_daily_jumpsup-cl");
    let recs = records(&trace);
    let split = 1500;
    let mut uninterrupted = SdrClassifier::new(vec![1], REGION_ALPHA, 0.3).unwrap();
    let mut first = SdrClassifier::new(vec![1], REGION_ALPHA, 0.3).unwrap();
    for (i, rec) in recs[..split].iter().enumerate() {
        step(&mut uninterrupted, i, rec);
        step(&mut first, i, rec);
    }
    let blob = bincode::serialize(&first).unwrap();
    drop(first);
    let mut restored: SdrClassifier = bincode::deserialize(&blob).unwrap();
    for (i, rec) in recs.iter().enumerate().skip(split).take(1000) {
        let a = uninterrupted.compute(i as u64, &rec.active, rec.bucket, rec.value, true, true).unwrap();
        let b = restored.compute(i as u64, &rec.active, rec.bucket, rec.value, true, true).unwrap();
        assert_eq!(a, b, "record {i} differs after save/load");
    }
}

#[test]
fn opf_post_processing_rules() {
    // Equal values are summed; best = first to reach the highest sum; <1e-4 dropped; <= 8 kept.
    let values = [5.0, 7.0, 5.0, 9.0, 7.0];
    let probs = [0.2, 0.3, 0.2, 0.00005, 0.29995];
    let (best, preds) = opf_predictions(&values, &probs);
    assert_eq!(best, 7.0);
    assert_eq!(preds, vec![(7.0, 0.59995), (5.0, 0.4)]);
    // Ties: the value whose running sum reached the maximum first wins.
    let (best, _) = opf_predictions(&[1.0, 2.0, 1.0], &[0.25, 0.5, 0.25]);
    assert_eq!(best, 2.0);
    // Never empty, even when everything is below the threshold.
    let (best, preds) = opf_predictions(&[3.0, 4.0], &[0.00002, 0.00003]);
    assert_eq!((best, preds), (4.0, vec![(4.0, 0.00003)]));
    // At most 8 predictions, most likely first, ties by value.
    let values: Vec<f64> = (0..10).map(f64::from).collect();
    let (_, preds) = opf_predictions(&values, &[0.1; 10]);
    assert_eq!(preds.len(), 8);
    assert_eq!(preds[0], (0.0, 0.1));
}

#[test]
fn bad_input_is_rejected() {
    assert!(SdrClassifier::new(vec![], 0.1, 0.3).is_err());
    assert!(SdrClassifier::new(vec![1], f64::NAN, 0.3).is_err());
    assert!(SdrClassifier::new(vec![1], 0.1, 1.5).is_err());
    let mut cl = SdrClassifier::new(vec![1], 0.1, 0.3).unwrap();
    cl.compute(5, &[1, 2], 3, 1.0, true, true).unwrap();
    assert!(cl.compute(4, &[1, 2], 3, 1.0, true, true).is_err());
    assert!(cl.compute(6, &[1, 2], 3, f64::INFINITY, true, true).is_err());
}
