//! Replays every golden trace through the encoders and the spatial pooler built from the trace
//! header's NuPIC parameters and checks, for every record, the RDSE bucket (`b`), the 454-bit
//! encoder output (`enc`) and the active columns (`sp`). Also reports the encoders + SP speed.

mod common;

use _engine::encoders::{DateEncoder, DatePart, Rdse};
use _engine::spatial_pooler::SpatialPooler;
use common::{u32s, Value};
use std::time::{Duration, Instant};

/// One encoder of the sensor region, in NuPIC's sorted-key order.
enum FieldEncoder {
    Date(DateEncoder),
    Value(Rdse),
}

/// The sensor of a golden model: encoders concatenated in sorted order of their keys.
struct Sensor {
    encoders: Vec<(u32, FieldEncoder)>,
    width: u32,
}

fn pair(v: &Value) -> (u32, f64) {
    match v {
        Value::Array(a) => (a[0].as_u64().unwrap() as u32, a[1].as_f64().unwrap()),
        other => (other.as_u64().unwrap() as u32, f64::NAN),
    }
}

impl Sensor {
    fn from_header(header: &Value) -> Sensor {
        let specs = header["params"]["modelParams"]["sensorParams"]["encoders"].as_object().unwrap();
        let mut keys: Vec<&String> = specs.keys().collect();
        keys.sort();
        let mut encoders = Vec::new();
        let mut width = 0;
        for key in keys {
            let spec = &specs[key];
            if spec.is_null() {
                continue;
            }
            let encoder = match spec["type"].as_str().unwrap() {
                "DateEncoder" => {
                    let part = if !spec["timeOfDay"].is_null() {
                        let (w, radius) = pair(&spec["timeOfDay"]);
                        DatePart::TimeOfDay { w, radius }
                    } else if !spec["dayOfWeek"].is_null() {
                        let (w, radius) = pair(&spec["dayOfWeek"]);
                        DatePart::DayOfWeek { w, radius: if radius.is_nan() { 1.0 } else { radius } }
                    } else {
                        DatePart::Weekend { w: pair(&spec["weekend"]).0 }
                    };
                    FieldEncoder::Date(DateEncoder::new(part))
                }
                "RandomDistributedScalarEncoder" => FieldEncoder::Value(Rdse::new(
                    spec["resolution"].as_f64().unwrap(),
                    spec.get("w").and_then(Value::as_u64).unwrap_or(21) as u32,
                    spec.get("n").and_then(Value::as_u64).unwrap_or(400) as u32,
                    spec.get("seed").and_then(Value::as_u64).unwrap_or(42),
                )),
                other => panic!("encoder type {other} is not used by the golden models"),
            };
            let w = match &encoder {
                FieldEncoder::Date(e) => e.width(),
                FieldEncoder::Value(e) => e.width(),
            };
            encoders.push((width, encoder));
            width += w;
        }
        Sensor { encoders, width }
    }

    /// Encodes one record into `out` (sorted); returns the value's bucket.
    fn encode(&mut self, timestamp_s: i64, value: f64, out: &mut Vec<u32>) -> Option<u32> {
        out.clear();
        let mut bucket = None;
        for (offset, encoder) in &mut self.encoders {
            match encoder {
                FieldEncoder::Date(e) => e.encode(timestamp_s, *offset, out).unwrap(),
                FieldEncoder::Value(e) => bucket = e.encode(value, *offset, out),
            }
        }
        bucket
    }
}

struct Replay {
    records: usize,
    wall: Duration,
    cpu: Option<Duration>,
}

fn replay(name: &str) -> Replay {
    let trace = common::load_trace(name);
    let header = &trace.header;
    assert_eq!(trace.records.len() as u64, header["rows"].as_u64().unwrap(), "{name}: record count");
    let mut sensor = Sensor::from_header(header);
    assert_eq!(sensor.width, 454, "{name}: encoder width");
    let mut sp = SpatialPooler::new(common::sp_params(header, sensor.width)).unwrap();
    let inputs: Vec<(i64, f64)> = trace
        .records
        .iter()
        .map(|r| (common::trace_seconds(r["t"].as_str().unwrap()), r["v"].as_f64().unwrap()))
        .collect();
    let mut encoding = Vec::new();
    let mut active = Vec::new();
    let mut outputs = Vec::with_capacity(inputs.len());
    let (wall_start, cpu_start) = (Instant::now(), Some(common::thread_cpu_time()));
    for &(timestamp, value) in &inputs {
        let bucket = sensor.encode(timestamp, value, &mut encoding);
        sp.compute(&encoding, true, &mut active);
        outputs.push((bucket, encoding.clone(), active.clone()));
    }
    let wall = wall_start.elapsed();
    let cpu = cpu_start.zip(Some(common::thread_cpu_time())).map(|(a, b)| b - a);
    for (k, (record, (bucket, encoding, active))) in trace.records.iter().zip(&outputs).enumerate() {
        assert_eq!(record["i"].as_u64().unwrap() as usize, k);
        let t = record["t"].as_str().unwrap();
        assert_eq!(
            *bucket,
            Some(record["b"].as_u64().unwrap() as u32),
            "{name}: first mismatch at record {k} ({t}): bucket"
        );
        assert_eq!(*encoding, u32s(&record["enc"]), "{name}: first mismatch at record {k} ({t}): encoder bits");
        assert_eq!(*active, u32s(&record["sp"]), "{name}: first mismatch at record {k} ({t}): SP active columns");
    }
    Replay { records: trace.records.len(), wall, cpu }
}

#[test]
fn every_golden_trace_matches_encoders_and_spatial_pooler() {
    let names = common::all_traces();
    assert!(names.len() >= 8, "expected the golden traces, found {names:?}");
    let mut longest: Option<(String, Replay)> = None;
    for name in names {
        let result = replay(&name);
        eprintln!("{name}: {} records match (bucket, encoder bits, SP columns)", result.records);
        if longest.as_ref().is_none_or(|(_, l)| result.records > l.records) {
            longest = Some((name, result));
        }
    }
    let (name, l) = longest.unwrap();
    let rate = |d: Duration| l.records as f64 / d.as_secs_f64();
    eprintln!(
        "encoders + SP over {name} ({} records): {:.0} records/s CPU time ({:.1} us/record), {:.0} records/s wall clock{}",
        l.records,
        l.cpu.map_or(f64::NAN, rate),
        l.cpu.map_or(f64::NAN, |c| c.as_secs_f64() * 1e6 / l.records as f64),
        rate(l.wall),
        if cfg!(debug_assertions) { " [debug build: use --release]" } else { "" }
    );
}
