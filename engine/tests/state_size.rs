//! Checkpoint size of a whole NAB detector (encoders + SP + backtracking TM + likelihood), saved the
//! way the Python face saves it: `state::encode(StateKind::Detector, &(settings, detector))`.
//! Runs golden traces' inputs, prints the blob size and the spatial pooler's share, checks that a
//! loaded checkpoint continues identically and that the checkpoint stays under a size bound.

mod common;

use _engine::backtracking_tm::BacktrackingTmParams;
use _engine::detector::Detector;
use _engine::likelihood::{nab_likelihood_periods, nab_probationary_period, AnomalyLikelihood, Tail};
use _engine::model::{EncoderConfig, HtmModel, ModelConfig, SequenceMemoryConfig, StepTrace};
use _engine::spatial_pooler::{SpParams, SpatialPooler};
use _engine::state::{self, StateKind};
use std::time::Instant;

/// Records run after the checkpoint to compare the original with the restored detector.
const CONTINUE_RECORDS: usize = 200;
const MB: f64 = 1024.0 * 1024.0;

/// The detector the Python face builds for a NAB file (spec/htm.md 2.2-2.9), from a trace header.
fn nab_detector(header: &common::Value) -> Detector {
    let resolution =
        header["params"]["modelParams"]["sensorParams"]["encoders"]["value"]["resolution"].as_f64().unwrap();
    let config = ModelConfig {
        encoders: vec![
            EncoderConfig::TimeOfDay { w: 21, radius: 9.49 },
            EncoderConfig::Rdse { resolution, w: 21, n: 400, seed: 42 },
        ],
        sp: SpParams::nab(0),
        sequence_memory: SequenceMemoryConfig::Backtracking(BacktrackingTmParams::nab()),
        classifier: None,
    };
    Detector::new(HtmModel::new(config).unwrap(), nab_detector_likelihood(header))
}

/// NAB's likelihood settings for the file of a trace header.
fn nab_detector_likelihood(header: &common::Value) -> AnomalyLikelihood {
    let (learning, estimation) = nab_likelihood_periods(nab_probationary_period(header["rows"].as_u64().unwrap()));
    AnomalyLikelihood::new(learning, estimation, 8640, 100, Tail::OneSided)
}

/// Size of `value` as bincode, and deflated (level 1, as the state container does).
fn part_sizes<T: serde::Serialize>(value: &T) -> (usize, usize) {
    use std::io::Write;
    let raw = bincode::serialize(value).unwrap();
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(1));
    deflate.write_all(&raw).unwrap();
    (raw.len(), deflate.finish().unwrap().len())
}

/// Sizes measured for one run.
struct Checkpoint {
    blob_bytes: usize,
    /// Checkpoint size after the continuation records.
    final_blob_bytes: usize,
    sp_memory_bytes: usize,
}

/// Runs `records` records of the trace `name`, checkpoints, and checks the restored detector.
fn run(name: &str, records: usize) -> Checkpoint {
    let trace = common::load_trace(name);
    let inputs: Vec<(i64, f64)> = trace
        .records
        .iter()
        .map(|r| (common::trace_seconds(r["t"].as_str().unwrap()), r["v"].as_f64().unwrap()))
        .collect();
    assert!(inputs.len() >= records + CONTINUE_RECORDS, "{name} has only {} records", inputs.len());
    let mut detector = nab_detector(&trace.header);
    // Separate copies of the SP and the likelihood, fed like the detector's own, to measure their share.
    let mut likelihood = nab_detector_likelihood(&trace.header);
    let golden_columns: Vec<Vec<u32>> = trace.records[..records].iter().map(|r| common::u32s(&r["sp"])).collect();
    drop(trace);

    let started = Instant::now();
    let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
    let sp_create_time = started.elapsed();
    let mut step = StepTrace::default();
    let mut columns = Vec::new();
    for (k, &(t, v)) in inputs[..records].iter().enumerate() {
        let scores = detector.handle(t, v, Some(&mut step)).unwrap();
        assert_eq!(likelihood.anomaly_probability(v, scores.raw_score as f64, t), scores.likelihood);
        sp.compute(&step.encoding, true, &mut columns);
        assert_eq!(columns, step.active_columns, "{name}: record {k}");
        assert_eq!(columns, golden_columns[k], "{name}: record {k} differs from NuPIC");
    }

    let settings = String::from("{\"detector\":\"numenta\"}");
    let started = Instant::now();
    let blob = state::encode(StateKind::Detector, &(&settings, &detector));
    let save_time = started.elapsed();
    let started = Instant::now();
    let (loaded_settings, mut restored): (String, Detector) = state::decode(StateKind::Detector, &blob).unwrap();
    let load_time = started.elapsed();
    assert_eq!(loaded_settings, settings);

    let mut checkpoint = Checkpoint { blob_bytes: blob.len(), final_blob_bytes: 0, sp_memory_bytes: sp.memory_bytes() };
    let (payload, _) = part_sizes(&(&settings, &detector));
    let (sp_raw, sp_deflated) = part_sizes(&sp);
    let (likelihood_raw, likelihood_deflated) = part_sizes(&likelihood);
    let sp_blob = bincode::serialize(&sp).unwrap();
    let started = Instant::now();
    let sp_restored: SpatialPooler = bincode::deserialize(&sp_blob).unwrap();
    let sp_load_time = started.elapsed();
    assert_eq!(bincode::serialize(&sp_restored).unwrap(), sp_blob);
    let rest = |part: usize| payload - part;
    eprintln!(
        "{name} after {records} records: checkpoint {:.2} MB ({:.2} MB before compression), save {:.1} ms, load {:.1} ms\n  \
         SP {:.2} MB ({:.2} MB deflated), likelihood {:.2} MB ({:.2} MB deflated), TM and the rest {:.2} MB before \
         compression ({} segments, {} synapses); SP in memory {:.2} MB, SP creation {:.1} ms, SP load {:.1} ms",
        checkpoint.blob_bytes as f64 / MB,
        payload as f64 / MB,
        save_time.as_secs_f64() * 1e3,
        load_time.as_secs_f64() * 1e3,
        sp_raw as f64 / MB,
        sp_deflated as f64 / MB,
        likelihood_raw as f64 / MB,
        likelihood_deflated as f64 / MB,
        rest(sp_raw + likelihood_raw) as f64 / MB,
        step.segments,
        step.synapses,
        checkpoint.sp_memory_bytes as f64 / MB,
        sp_create_time.as_secs_f64() * 1e3,
        sp_load_time.as_secs_f64() * 1e3,
    );

    for (k, &(t, v)) in inputs[records..records + CONTINUE_RECORDS].iter().enumerate() {
        let expected = detector.handle(t, v, None).unwrap();
        let got = restored.handle(t, v, None).unwrap();
        assert_eq!(got, expected, "{name}: restored detector differs {k} records after the checkpoint");
    }
    assert!(checkpoint.sp_memory_bytes < 3 << 19, "SP holds {} bytes", checkpoint.sp_memory_bytes);
    checkpoint.final_blob_bytes = state::encode(StateKind::Detector, &(&settings, &detector)).len();
    eprintln!(
        "{name} after {} records: checkpoint {:.2} MB",
        records + CONTINUE_RECORDS,
        checkpoint.final_blob_bytes as f64 / MB
    );
    checkpoint
}

#[test]
fn art_daily_jumpsup_checkpoint_after_a_whole_file() {
    let c = run("art_daily_jumpsup", 4032 - CONTINUE_RECORDS);
    assert!(c.final_blob_bytes <= 2 << 20, "checkpoint {} bytes, the target is 2 MB", c.final_blob_bytes);
}

#[test]
fn machine_temperature_checkpoint_after_20000_records() {
    let c = run("machine_temperature_system_failure", 20_000);
    assert!(c.blob_bytes <= 2 << 20, "checkpoint {} bytes, the target is 2 MB", c.blob_bytes);
}
