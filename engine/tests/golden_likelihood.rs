//! Anomaly scoring against NuPIC 1.0.5's golden traces: raw score, spatial rule, both likelihood tail
//! conventions and the final scores, compared bit for bit; plus a save/restore round trip.

mod common;

use _engine::anomaly::{final_score, raw_anomaly_score, SpatialAnomaly};
use _engine::likelihood::{nab_likelihood_periods, nab_probationary_period, AnomalyLikelihood, Tail};
use common::{u32s, Value};

/// The likelihood parameters of a trace header, checked against NAB's derivation from the row count.
fn likelihood_for(header: &Value, tail: Tail) -> AnomalyLikelihood {
    let params = &header["likelihood"];
    let rows = header["rows"].as_u64().unwrap();
    let probation = nab_probationary_period(rows);
    assert_eq!(f64::from(probation), header["probationaryPeriod"].as_f64().unwrap());
    let (learning, estimation) = nab_likelihood_periods(probation);
    assert_eq!(u64::from(learning), params["learningPeriod"].as_u64().unwrap());
    assert_eq!(f64::from(estimation), params["estimationSamples"].as_f64().unwrap());
    let likelihood = AnomalyLikelihood::new(
        learning,
        estimation,
        params["historicWindowSize"].as_u64().unwrap() as u32,
        params["reestimationPeriod"].as_u64().unwrap() as u32,
        tail,
    );
    assert_eq!(likelihood.probation(), probation);
    likelihood
}

/// Exact-match counter for one output column of a trace.
struct Column {
    name: &'static str,
    equal: usize,
    first_mismatch: Option<String>,
}

impl Column {
    fn new(name: &'static str) -> Self {
        Column { name, equal: 0, first_mismatch: None }
    }

    fn check(&mut self, index: usize, got: f64, want: f64) {
        if got == want {
            self.equal += 1;
        } else if self.first_mismatch.is_none() {
            self.first_mismatch = Some(format!("record {index}: got {got:?}, want {want:?}"));
        }
    }

    fn percent(&self, rows: usize) -> f64 {
        100.0 * self.equal as f64 / rows as f64
    }
}

#[test]
fn golden_traces_match_bit_for_bit() {
    let names = common::all_traces();
    assert!(!names.is_empty(), "no golden traces found");
    let mut failures = Vec::new();
    for name in names {
        let trace = common::load_trace(&name);
        let rows = trace.records.len();
        assert_eq!(rows as u64, trace.header["rows"].as_u64().unwrap());
        let mut one_sided = likelihood_for(&trace.header, Tail::OneSided);
        let mut two_sided = likelihood_for(&trace.header, Tail::TwoSided);
        let mut spatial = SpatialAnomaly::new(trace.header["spatialTolerance"].as_f64().unwrap());
        let mut columns = [
            Column::new("raw"),
            Column::new("sp_anom"),
            Column::new("L1"),
            Column::new("L2"),
            Column::new("F1"),
            Column::new("F2"),
        ];
        let start = std::time::Instant::now();
        for (index, record) in trace.records.iter().enumerate() {
            let value = record["v"].as_f64().unwrap();
            let raw = f64::from(raw_anomaly_score(&u32s(&record["sp"]), &u32s(&record["pc"])));
            let timestamp = common::trace_seconds(record["t"].as_str().unwrap());
            let anomalous = spatial.check_and_update(value);
            let l1 = one_sided.anomaly_probability(value, raw, timestamp);
            let l2 = two_sided.anomaly_probability(value, raw, timestamp);
            let want = |key: &str| record[key].as_f64().unwrap();
            columns[0].check(index, raw, want("raw"));
            let want_anomalous = record["sp_anom"].as_bool().unwrap();
            columns[1].check(index, f64::from(u8::from(anomalous)), f64::from(u8::from(want_anomalous)));
            columns[2].check(index, l1, want("L1"));
            columns[3].check(index, l2, want("L2"));
            columns[4].check(index, final_score(l1, anomalous), want("F1"));
            columns[5].check(index, final_score(l2, anomalous), want("F2"));
        }
        let elapsed = start.elapsed();
        let summary: Vec<String> = columns.iter().map(|c| format!("{} {:.3} %", c.name, c.percent(rows))).collect();
        eprintln!("{name} ({rows} records, {:?} incl. JSON access): {}", elapsed, summary.join(", "));
        for column in &columns {
            if let Some(mismatch) = &column.first_mismatch {
                eprintln!("  first {} mismatch: {mismatch}", column.name);
                failures.push(format!("{name}: {}", column.name));
            }
        }
    }
    assert!(failures.is_empty(), "not bit-exact: {failures:?}");
}

/// The (value, raw, timestamp) stream of a trace.
fn inputs(name: &str) -> (Value, Vec<(f64, f64, i64)>) {
    let trace = common::load_trace(name);
    let stream = trace
        .records
        .iter()
        .map(|r| {
            (r["v"].as_f64().unwrap(), r["raw"].as_f64().unwrap(), common::trace_seconds(r["t"].as_str().unwrap()))
        })
        .collect();
    (trace.header, stream)
}

#[test]
fn saved_state_continues_exactly() {
    // nyc_taxi: the history window fills up (8640) and slides before the end.
    let (header, stream) = inputs("nyc_taxi");
    for tail in [Tail::OneSided, Tail::TwoSided] {
        // Mid-stream between re-estimations, right before one, and inside probation.
        for cut in [5_047, 8_700, 300] {
            let mut original = likelihood_for(&header, tail);
            let mut spatial = SpatialAnomaly::new(0.05);
            for &(value, raw, t) in &stream[..cut] {
                spatial.check_and_update(value);
                original.anomaly_probability(value, raw, t);
            }
            let blob = bincode::serialize(&(&original, &spatial)).unwrap();
            let (mut restored, mut restored_spatial): (AnomalyLikelihood, SpatialAnomaly) =
                bincode::deserialize(&blob).unwrap();
            for (offset, &(value, raw, t)) in stream[cut..].iter().enumerate() {
                let i = cut + offset;
                assert_eq!(
                    restored_spatial.check_and_update(value),
                    spatial.check_and_update(value),
                    "{tail:?} cut {cut}: spatial flag differs at record {i}"
                );
                let want = original.anomaly_probability(value, raw, t);
                let got = restored.anomaly_probability(value, raw, t);
                assert_eq!(got, want, "{tail:?} cut {cut}: likelihood differs at record {i}");
            }
            assert_eq!(restored.iteration(), stream.len() as u64);
        }
    }
}

#[test]
fn likelihood_update_is_cheap() {
    let (header, stream) = inputs("machine_temperature_system_failure");
    let rounds = 3;
    let start = std::time::Instant::now();
    let mut checksum = 0.0;
    for _ in 0..rounds {
        let mut likelihood = likelihood_for(&header, Tail::OneSided);
        for &(value, raw, t) in &stream {
            checksum += likelihood.anomaly_probability(value, raw, t);
        }
    }
    let per_record = start.elapsed() / (rounds * stream.len()) as u32;
    eprintln!("likelihood update: {per_record:?} per record on average (checksum {checksum})");
    // Generous bound for a shared machine; the figure itself is printed above.
    assert!(per_record < std::time::Duration::from_micros(50), "{per_record:?} per record");
}
