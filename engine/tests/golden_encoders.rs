//! NuPIC's RNG and RDSE test vectors (`golden/rng_vectors.json`, `golden/rdse_vectors.json`) and
//! property checks of the encoders.

mod common;

use _engine::encoders::{DateEncoder, DatePart, Rdse, ScalarEncoder};
use _engine::rng::Random;
use common::{u32s, Value};

fn load_json(name: &str) -> Value {
    let path = common::fixtures_dir().join("golden").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

#[test]
fn rng_matches_nupic_vectors() {
    let vectors = load_json("rng_vectors.json");
    let seeds = vectors["seeds"].as_object().unwrap();
    assert_eq!(seeds.len(), 4);
    for (seed, seq) in seeds {
        let seed: u64 = seed.parse().unwrap();
        let mut r = Random::new(seed);
        let got: Vec<u32> = (0..20).map(|_| r.get_uint32(1000)).collect();
        assert_eq!(got, u32s(&seq["getUInt32_1000_first20"]), "seed {seed} getUInt32(1000)");
        let mut r = Random::new(seed);
        let got: Vec<u32> = (0..20).map(|_| r.get_uint32_default()).collect();
        assert_eq!(got, u32s(&seq["getUInt32_default_first20"]), "seed {seed} getUInt32()");
        let mut r = Random::new(seed);
        let got: Vec<f64> = (0..10).map(|_| r.get_real64()).collect();
        assert_eq!(got, f64s(&seq["getReal64_first10"]), "seed {seed} getReal64()");
        let mut r = Random::new(seed);
        let got: Vec<u64> = (0..5).map(|_| r.get_uint64(u64::MAX)).collect();
        assert_eq!(got, u64s(&seq["getUInt64_default_first5"]), "seed {seed} getUInt64()");
    }
    let population: Vec<u32> = (0..454).collect();
    let sample = Random::new(1956).sample(&population, 363);
    assert_eq!(sample, u32s(&vectors["sample_seed1956_range454_k363"]));
    let mut shuffled: Vec<u32> = (0..400).collect();
    Random::new(42).shuffle(&mut shuffled);
    assert_eq!(shuffled, u32s(&vectors["shuffle_seed42_range400"]));
    assert_eq!(Random::new(42).sample(&[1u32, 2, 3, 4], 2), u32s(&vectors["sample_seed42_[1,2,3,4]_k2"]));
    let mut small = [1u32, 2, 3, 4];
    Random::new(42).shuffle(&mut small);
    assert_eq!(small.to_vec(), u32s(&vectors["shuffle_seed42_[1,2,3,4]"]));
}

#[test]
fn rdse_matches_nupic_vectors() {
    let vectors = load_json("rdse_vectors.json");
    let p = &vectors["params"];
    let (w, n) = (p["w"].as_u64().unwrap() as u32, p["n"].as_u64().unwrap() as u32);
    let mut rdse = Rdse::new(p["resolution"].as_f64().unwrap(), w, n, p["seed"].as_u64().unwrap());
    assert_eq!(rdse.width(), 400);
    assert_eq!(rdse.bucket_bits(500).unwrap(), &u32s(&vectors["initial_bucket_500_in_order"])[..]);
    for (k, step) in vectors["sequence"].as_array().unwrap().iter().enumerate() {
        let value = step["value"].as_f64().unwrap();
        let mut out = Vec::new();
        let bucket = rdse.encode(value, 0, &mut out);
        assert_eq!(bucket, Some(step["bucket"].as_u64().unwrap() as u32), "step {k} ({value}): bucket");
        assert_eq!(out, u32s(&step["on_bits"]), "step {k} ({value}): on-bits");
        assert_eq!(
            rdse.bucket_bits(bucket.unwrap()).unwrap(),
            &u32s(&step["bucket_bits_in_creation_order"])[..],
            "step {k} ({value}): internal order"
        );
        let range = u32s(&step["buckets_after"]);
        assert_eq!(rdse.bucket_range(), (range[0], range[1]), "step {k} ({value}): created range");
    }
    let map = vectors["bucketMap_after"].as_object().unwrap();
    let (lo, hi) = rdse.bucket_range();
    assert_eq!(map.len(), (hi - lo + 1) as usize);
    for (bucket, bits) in map {
        let bucket: u32 = bucket.parse().unwrap();
        assert_eq!(rdse.bucket_bits(bucket).unwrap(), &u32s(bits)[..], "bucket {bucket}");
    }
    assert_eq!(rdse.bucket_bits(lo - 1), None);
    assert_eq!(rdse.bucket_bits(hi + 1), None);
}

fn encode_scalar(enc: &ScalarEncoder, v: f64) -> Vec<u32> {
    let mut out = Vec::new();
    enc.encode(v, 0, &mut out).unwrap();
    out
}

fn overlap(a: &[u32], b: &[u32]) -> usize {
    a.iter().filter(|x| b.contains(x)).count()
}

/// Random encoder shapes and values drawn with a fixed seed (reproducible property checks).
#[test]
fn periodic_scalar_encoder_properties() {
    let mut r = Random::new(7);
    for _ in 0..200 {
        let w = 2 * r.get_uint32(15) + 3;
        let minval = r.get_real64() * 100.0 - 50.0;
        let span = 1.0 + r.get_real64() * 100.0;
        let radius = span * (0.05 + 0.3 * r.get_real64());
        let enc = ScalarEncoder::new(w, minval, minval + span, radius, true);
        let n = enc.width();
        for _ in 0..50 {
            let v = minval + r.get_real64() * span;
            let bits = encode_scalar(&enc, v);
            assert_eq!(bits.len(), w as usize, "w {w} n {n} v {v}");
            assert!(bits.windows(2).all(|p| p[0] < p[1]) && bits[bits.len() - 1] < n);
            // The bits form one run of w consecutive positions on the ring of n.
            let first = bits.iter().copied().find(|&b| !bits.contains(&((b + n - 1) % n))).unwrap();
            assert!((0..w).all(|k| bits.contains(&((first + k) % n))));
            // Nearer values (ring distance up to a quarter of the range) overlap at least as much.
            let d1 = r.get_real64() * span / 4.0;
            let d2 = d1 + r.get_real64() * (span / 4.0 - d1);
            let wrap = |x: f64| if x >= minval + span { x - span } else { x };
            let near = encode_scalar(&enc, wrap(v + d1));
            let far = encode_scalar(&enc, wrap(v + d2));
            assert!(overlap(&bits, &near) >= overlap(&bits, &far), "w {w} n {n} v {v} d1 {d1} d2 {d2}");
        }
    }
}

#[test]
fn non_periodic_scalar_encoder_properties() {
    let mut r = Random::new(11);
    for _ in 0..200 {
        let w = 2 * r.get_uint32(15) + 3;
        let minval = r.get_real64() * 100.0 - 50.0;
        let span = 1.0 + r.get_real64() * 100.0;
        let radius = span * (0.02 + 0.5 * r.get_real64());
        let enc = ScalarEncoder::new(w, minval, minval + span, radius, false);
        let lowest = encode_scalar(&enc, minval);
        let highest = encode_scalar(&enc, minval + span);
        assert_eq!(lowest[0], 0, "minval sets the first bit");
        assert!(*highest.last().unwrap() < enc.width());
        let mut previous_first = 0;
        for k in 0..=100 {
            let v = minval + span * k as f64 / 100.0;
            let bits = encode_scalar(&enc, v.min(minval + span));
            assert_eq!(bits.len(), w as usize);
            assert_eq!(bits[w as usize - 1] - bits[0], w - 1, "contiguous run");
            assert!(bits[0] >= previous_first, "bits move up with the value");
            previous_first = bits[0];
        }
    }
}

#[test]
fn time_of_day_encoder_covers_the_day() {
    let enc = DateEncoder::new(DatePart::TimeOfDay { w: 21, radius: 9.49 });
    let midnight = _engine::encoders::naive_seconds(2015, 6, 1, 0, 0, 0);
    let mut previous: Option<Vec<u32>> = None;
    for minute in 0..24 * 60 {
        let mut bits = Vec::new();
        enc.encode(midnight + minute * 60 + 59, 0, &mut bits).unwrap();
        assert_eq!(bits.len(), 21);
        assert!(bits.iter().all(|&b| b < 54));
        if let Some(prev) = &previous {
            assert!(overlap(prev, &bits) >= 20, "one minute later shares at least 20 bits");
        }
        previous = Some(bits);
    }
}

#[test]
fn rdse_bucket_overlap_properties() {
    let mut rdse = Rdse::new(1.0, 21, 400, 42);
    let mut r = Random::new(3);
    let mut out = Vec::new();
    for _ in 0..300 {
        let v = (r.get_real64() - 0.5) * 400.0;
        out.clear();
        let bucket = rdse.encode(v, 1000, &mut out).unwrap();
        assert_eq!(out.len(), 21);
        assert!(out.windows(2).all(|p| p[0] < p[1]));
        assert!(out.iter().all(|&b| (1000..1400).contains(&b)));
        let bits: Vec<u32> = rdse.bucket_bits(bucket).unwrap().to_vec();
        assert!(out.iter().all(|b| bits.contains(&(b - 1000))));
    }
    let (lo, hi) = rdse.bucket_range();
    assert!(hi - lo > 300, "the sweep created many buckets");
    for i in lo..=hi {
        let a = rdse.bucket_bits(i).unwrap();
        assert_eq!(a.len(), 21);
        let mut sorted = a.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 21, "bucket {i} has distinct bits");
        for j in i + 1..=hi {
            let shared = overlap(a, rdse.bucket_bits(j).unwrap());
            if j - i < 21 {
                assert_eq!(shared, 21 - (j - i) as usize, "buckets {i} and {j}");
            } else {
                assert!(shared <= 2, "buckets {i} and {j} share {shared} bits");
            }
        }
    }
}
