//! Replays NuPIC's one_gym client trace (boostStrength 2, 154-bit input) through the spatial pooler:
//! every record's SP input (`enc`) must give NuPIC's active columns (`sp`), learning on, and a
//! pooler saved and loaded through the state container mid-stream must continue identically.

mod common;

use _engine::spatial_pooler::SpatialPooler;
use _engine::state::{self, StateKind};
use common::u32s;

const TRACE: &str = "clients/one_gym";
/// The record before which the pooler is saved and loaded.
const CHECKPOINT_AT: usize = 2000;

#[test]
fn one_gym_spatial_pooler_with_boosting_matches_nupic() {
    let trace = common::load_trace(TRACE);
    let header = &trace.header;
    assert_eq!(trace.records.len() as u64, header["rows"].as_u64().unwrap(), "record count");
    let params = common::sp_params(header, header["spInputWidth"].as_u64().unwrap() as u32);
    assert_eq!(params.boost_strength, 2.0);
    let mut sp = SpatialPooler::new(params).unwrap();
    let mut restored: Option<SpatialPooler> = None;
    let (mut active, mut restored_active) = (Vec::new(), Vec::new());
    let mut first_mismatch = None;
    let mut matching = 0;
    for (k, record) in trace.records.iter().enumerate() {
        assert_eq!(record["i"].as_u64().unwrap() as usize, k);
        if k == CHECKPOINT_AT {
            let blob = state::encode(StateKind::Model, &sp);
            restored = Some(state::decode(StateKind::Model, &blob).unwrap());
        }
        let input = u32s(&record["enc"]);
        sp.compute(&input, true, &mut active);
        if let Some(restored) = restored.as_mut() {
            restored.compute(&input, true, &mut restored_active);
            assert_eq!(restored_active, active, "record {k}: the loaded pooler diverged");
        }
        if active == u32s(&record["sp"]) {
            matching += 1;
        } else if first_mismatch.is_none() {
            first_mismatch = Some((k, active.clone()));
        }
    }
    eprintln!("{TRACE}: {matching} of {} records match NuPIC's SP columns", trace.records.len());
    if let Some((k, active)) = first_mismatch {
        let expected = u32s(&trace.records[k]["sp"]);
        panic!("first mismatch at record {k}: got {active:?}, NuPIC {expected:?}");
    }
    assert!(restored.is_some_and(|r| r.iteration() == sp.iteration()));
}
