//! The sensor of a multi-field model (NuPIC's RecordSensor + MultiEncoder): each encoder reads one
//! field of the record and appends its bits to the spatial pooler's input, and the classifier's input
//! (bucket and actual value) comes from the predicted field's encoder or from a `classifierOnly` one.

use serde::{Deserialize, Serialize};

use crate::encoders::{
    AdaptiveScalarEncoder, CategoryEncoder, DateEncoder, DeltaEncoder, LogEncoder, NupicDateEncoder,
    NupicScalarEncoder, Rdse, SdrCategoryEncoder,
};
use crate::error::{invalid, Error};

/// One field of a record, as the caller hands it over.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Number(f64),
    /// Naive wall-clock seconds since 1970-01-01 00:00:00 (see [`crate::encoders::naive_seconds`]).
    Time(i64),
    Text(String),
    /// NuPIC's missing-data sentinel: no bits, no classifier update.
    Missing,
}

/// An encoder of one field, built by the caller (the Python face builds NuPIC's encoders).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FieldEncoder {
    Scalar(NupicScalarEncoder),
    Rdse(Rdse),
    Date(DateEncoder),
    Category(CategoryEncoder),
    SdrCategory(SdrCategoryEncoder),
    Log(LogEncoder),
    Adaptive(AdaptiveScalarEncoder),
    Delta(DeltaEncoder),
    /// NuPIC's whole DateEncoder (every enabled part, in NuPIC's order).
    NupicDate(NupicDateEncoder),
}

/// What an encoder contributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Bits for the spatial pooler only.
    Input,
    /// Bits for the spatial pooler, and the classifier's bucket and value (the predicted field).
    Predicted,
    /// No bits: only the classifier's bucket and value (NuPIC's `classifierOnly` encoder).
    ClassifierOnly,
}

/// One encoder of the sensor: which field it reads and what it contributes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SensorEncoder {
    pub field: u32,
    pub role: Role,
    pub encoder: FieldEncoder,
}

/// The classifier's input from one record: bucket index and actual value.
pub type ClassifierInput = (u32, f64);

impl FieldEncoder {
    /// Output width in bits.
    pub fn width(&self) -> u32 {
        let w = match self {
            FieldEncoder::Scalar(e) => e.width(),
            FieldEncoder::Rdse(e) => return e.width(),
            FieldEncoder::Date(e) => return e.width(),
            FieldEncoder::Category(e) => e.width(),
            FieldEncoder::SdrCategory(e) => e.width(),
            FieldEncoder::Log(e) => e.width(),
            FieldEncoder::Adaptive(e) => e.width(),
            FieldEncoder::Delta(e) => e.width(),
            FieldEncoder::NupicDate(e) => e.width(),
        };
        w as u32
    }

    /// Whether the encoder can feed the classifier (a numeric bucket and value).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            FieldEncoder::Scalar(_) | FieldEncoder::Rdse(_) | FieldEncoder::Log(_) | FieldEncoder::Adaptive(_)
        )
    }

    /// Appends the on-bits of `value` (+ `offset`, ascending) to `out`.
    pub fn encode(&mut self, value: &FieldValue, learn: bool, offset: u32, out: &mut Vec<u32>) -> Result<(), Error> {
        match self {
            FieldEncoder::Rdse(e) => {
                e.encode(number(value)?.unwrap_or(f64::NAN), offset, out);
                Ok(())
            }
            FieldEncoder::Date(e) => match value {
                FieldValue::Time(t) => e.encode(*t, offset, out).map_err(|e| invalid(e.to_string())),
                FieldValue::Missing => Ok(()),
                other => Err(invalid(format!("a date encoder needs a timestamp, got {other:?}"))),
            },
            _ => {
                let bits = self.encode_bits(value, learn)?;
                out.extend(bits.iter().map(|&b| b as u32 + offset));
                Ok(())
            }
        }
    }

    /// The bucket index NuPIC's `getBucketIndices(value)[0]` gives, for the classifier.
    pub fn bucket(&mut self, value: &FieldValue, learn: bool) -> Result<Option<u32>, Error> {
        let bucket = match self {
            FieldEncoder::Scalar(e) => number(value)?.map(|x| e.bucket_index(x)).transpose()?.flatten(),
            FieldEncoder::Rdse(e) => number(value)?.and_then(|x| e.bucket_index(x)).map(i64::from),
            FieldEncoder::Log(e) => number(value)?.map(|x| e.bucket_index(x)).transpose()?.flatten(),
            FieldEncoder::Adaptive(e) => e.bucket_index(number(value)?, Some(learn))?,
            FieldEncoder::Category(e) => e.bucket_index(text(value)?)?,
            FieldEncoder::SdrCategory(e) => e.bucket_index(text(value)?, Some(learn))?.map(|b| b as i64),
            FieldEncoder::Date(_) | FieldEncoder::Delta(_) | FieldEncoder::NupicDate(_) => None,
        };
        Ok(bucket.map(|b| b as u32))
    }

    fn encode_bits(&mut self, value: &FieldValue, learn: bool) -> Result<Vec<usize>, Error> {
        match self {
            FieldEncoder::Scalar(e) => number(value)?.map_or(Ok(Vec::new()), |x| e.encode_bits(x)),
            FieldEncoder::Log(e) => number(value)?.map_or(Ok(Vec::new()), |x| e.encode_bits(x)),
            FieldEncoder::Adaptive(e) => e.encode_bits(number(value)?, Some(learn)),
            FieldEncoder::Delta(e) => e.encode_bits(number(value)?, Some(learn)),
            FieldEncoder::Category(e) => e.encode_bits(text(value)?),
            FieldEncoder::SdrCategory(e) => e.encode_bits(text(value)?),
            FieldEncoder::NupicDate(e) => match value {
                FieldValue::Time(t) => e.encode_bits(*t, 0),
                FieldValue::Missing => Ok(Vec::new()),
                other => Err(invalid(format!("a date encoder needs a timestamp, got {other:?}"))),
            },
            FieldEncoder::Rdse(_) | FieldEncoder::Date(_) => unreachable!("encoded by `encode`"),
        }
    }
}

/// A numeric field's value; `None` when missing (NaN counts as missing, as in NuPIC).
fn number(value: &FieldValue) -> Result<Option<f64>, Error> {
    match value {
        FieldValue::Number(x) if x.is_nan() => Ok(None),
        FieldValue::Number(x) if x.is_infinite() => Err(invalid(format!("value must be finite, got {x}"))),
        FieldValue::Number(x) => Ok(Some(*x)),
        FieldValue::Missing => Ok(None),
        other => Err(invalid(format!("a numeric encoder needs a number, got {other:?}"))),
    }
}

/// A category field's value; `None` when missing.
fn text(value: &FieldValue) -> Result<Option<&str>, Error> {
    match value {
        FieldValue::Text(s) => Ok(Some(s)),
        FieldValue::Missing => Ok(None),
        other => Err(invalid(format!("a category encoder needs a string, got {other:?}"))),
    }
}

/// Checks a sensor's encoders: at least one feeds the spatial pooler, at most one feeds the classifier
/// per role, and the classifier's encoder is numeric.
pub fn validate(encoders: &[SensorEncoder]) -> Result<(), Error> {
    if !encoders.iter().any(|e| e.role != Role::ClassifierOnly) {
        return Err(invalid("the model needs at least one encoder that feeds the spatial pooler"));
    }
    for role in [Role::Predicted, Role::ClassifierOnly] {
        let feeding: Vec<&SensorEncoder> = encoders.iter().filter(|e| e.role == role).collect();
        if feeding.len() > 1 {
            return Err(invalid(format!("more than one {role:?} encoder")));
        }
        if let Some(e) = feeding.first() {
            if !e.encoder.is_numeric() {
                return Err(invalid(
                    "the predicted field's encoder must be numeric (ScalarEncoder, RDSE, LogEncoder or \
                     AdaptiveScalarEncoder)",
                ));
            }
        }
    }
    Ok(())
}

/// The classifier's input for this record from the encoder that feeds it, if the value is present.
pub fn classifier_input(
    encoder: &mut SensorEncoder,
    record: &[FieldValue],
    learn: bool,
) -> Result<Option<ClassifierInput>, Error> {
    let value = &record[encoder.field as usize];
    let Some(actual) = number(value)? else { return Ok(None) };
    Ok(encoder.encoder.bucket(value, learn)?.map(|b| (b, actual)))
}
