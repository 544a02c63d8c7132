//! Test-only fault injection: a deliberate panic in the middle of a model step.
//!
//! It exists to prove that a panic stays inside the model that had it: the Python binding turns it
//! into `EnginePanic` and poisons that model, and the UDF server keeps serving every other model. The
//! trigger is one input value; a step that sees exactly that value (bit for bit) panics after the
//! spatial pooler has learned and before the sequence memory has, so the model is left half-updated,
//! as a real bug would leave it. Nothing arms it outside tests; disarmed, it costs one relaxed atomic
//! load per step.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static ARMED: AtomicBool = AtomicBool::new(false);
static TRIGGER_BITS: AtomicU64 = AtomicU64::new(0);

/// Arms the fault for every model of the process (`Some(value)`), or disarms it (`None`).
pub fn panic_on_value(trigger: Option<f64>) {
    match trigger {
        Some(value) => {
            TRIGGER_BITS.store(value.to_bits(), Ordering::Relaxed);
            ARMED.store(true, Ordering::Relaxed);
        }
        None => ARMED.store(false, Ordering::Relaxed),
    }
}

/// Panics if the fault is armed and `value` is its trigger.
#[inline]
pub(crate) fn check(value: f64) {
    if ARMED.load(Ordering::Relaxed) && value.to_bits() == TRIGGER_BITS.load(Ordering::Relaxed) {
        panic!("injected fault: a model step saw the trigger value {value}");
    }
}
