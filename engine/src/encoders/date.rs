//! One aspect of NuPIC's DateEncoder (time of day, day of week or weekend), each a ScalarEncoder
//! fed a scalar derived from the naive wall-clock timestamp.

use super::{EncodeError, ScalarEncoder};
use serde::{Deserialize, Serialize};

const SECONDS_PER_DAY: i64 = 86_400;

/// Seconds since 1970-01-01 00:00:00 of a naive wall-clock time (proleptic Gregorian calendar),
/// the timestamp form [`DateEncoder::encode`] takes. Fields are not range-checked.
pub fn naive_seconds(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> i64 {
    // Days from civil: count from 0000-03-01 so that leap days fall at the end of each year.
    let (y, m) = if month <= 2 { (year - 1, month as i64 + 9) } else { (year, month as i64 - 3) };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    days * SECONDS_PER_DAY + hour as i64 * 3600 + minute as i64 * 60 + second as i64
}

/// Which date aspect a [`DateEncoder`] encodes, with NuPIC's `(w, radius)` parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum DatePart {
    /// hour + minute / 60, periodic over [0, 24).
    TimeOfDay { w: u32, radius: f64 },
    /// weekday (Monday = 0) + time of day / 24, periodic over [0, 7).
    DayOfWeek { w: u32, radius: f64 },
    /// 1 on Saturday, Sunday and Friday after 18:00, else 0; non-periodic over [0, 1], radius 1.
    Weekend { w: u32 },
}

/// Encodes one date aspect of a timestamp (NuPIC keys `timestamp_timeOfDay` etc., spec/htm.md 3.3).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DateEncoder {
    part: DatePart,
    scalar: ScalarEncoder,
}

impl DateEncoder {
    /// # Panics
    /// On parameters NuPIC would reject; use [`DateEncoder::try_new`] to get the error instead.
    pub fn new(part: DatePart) -> Self {
        Self::try_new(part).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Builds the encoder, or explains why the parameters are invalid.
    pub fn try_new(part: DatePart) -> Result<Self, EncodeError> {
        let scalar = match part {
            DatePart::TimeOfDay { w, radius } => ScalarEncoder::try_new(w, 0.0, 24.0, radius, true),
            DatePart::DayOfWeek { w, radius } => ScalarEncoder::try_new(w, 0.0, 7.0, radius, true),
            DatePart::Weekend { w } => ScalarEncoder::try_new(w, 0.0, 1.0, 1.0, false),
        }?;
        Ok(DateEncoder { part, scalar })
    }

    /// The encoded aspect.
    pub fn part(&self) -> DatePart {
        self.part
    }

    /// Output width in bits.
    pub fn width(&self) -> u32 {
        self.scalar.width()
    }

    /// Appends the on-bits (+ `offset`, ascending) for `timestamp_s`: seconds since 1970-01-01 00:00:00
    /// of the naive local wall-clock time (its calendar fields read as if it were UTC).
    pub fn encode(&self, timestamp_s: i64, offset: u32, out: &mut Vec<u32>) -> Result<(), EncodeError> {
        self.scalar.encode(self.scalar_value(timestamp_s), offset, out)
    }

    /// The scalar NuPIC feeds to the sub-encoder for this timestamp (seconds are ignored).
    pub fn scalar_value(&self, timestamp_s: i64) -> f64 {
        let days = timestamp_s.div_euclid(SECONDS_PER_DAY);
        let second_of_day = timestamp_s.rem_euclid(SECONDS_PER_DAY);
        let hour = second_of_day / 3600;
        let minute = second_of_day % 3600 / 60;
        // 1970-01-01 was a Thursday; NuPIC's tm_wday counts Monday as 0.
        let weekday = (days + 3).rem_euclid(7);
        let time_of_day = hour as f64 + minute as f64 / 60.0;
        match self.part {
            DatePart::TimeOfDay { .. } => time_of_day,
            DatePart::DayOfWeek { .. } => weekday as f64 + time_of_day / 24.0,
            DatePart::Weekend { .. } => {
                let weekend = weekday == 5 || weekday == 6 || (weekday == 4 && time_of_day > 18.0);
                if weekend {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2014-04-04 is a Friday.
    const FRIDAY_2014_04_04: i64 = 1_396_569_600;

    #[test]
    fn naive_seconds_matches_the_calendar() {
        assert_eq!(naive_seconds(1970, 1, 1, 0, 0, 0), 0);
        assert_eq!(naive_seconds(2014, 4, 4, 0, 0, 0), FRIDAY_2014_04_04);
        assert_eq!(naive_seconds(2000, 3, 1, 12, 30, 15), 951_913_815);
        assert_eq!(naive_seconds(1969, 12, 31, 23, 59, 59), -1);
        assert_eq!(naive_seconds(2016, 12, 31, 0, 0, 0) - naive_seconds(2016, 1, 1, 0, 0, 0), 365 * 86_400);
    }

    #[test]
    fn scalar_values() {
        let tod = DateEncoder::new(DatePart::TimeOfDay { w: 21, radius: 9.49 });
        assert_eq!(tod.scalar_value(FRIDAY_2014_04_04 + 13 * 3600 + 30 * 60 + 59), 13.5);
        let dow = DateEncoder::new(DatePart::DayOfWeek { w: 21, radius: 1.0 });
        assert_eq!(dow.scalar_value(FRIDAY_2014_04_04 + 6 * 3600), 4.25);
        assert_eq!(dow.scalar_value(0), 3.0);
        assert_eq!(dow.scalar_value(-1), 2.0 + (23.0 + 59.0 / 60.0) / 24.0);
        let weekend = DateEncoder::new(DatePart::Weekend { w: 21 });
        assert_eq!(weekend.scalar_value(FRIDAY_2014_04_04 + 18 * 3600), 0.0);
        assert_eq!(weekend.scalar_value(FRIDAY_2014_04_04 + 18 * 3600 + 60), 1.0);
        assert_eq!(weekend.scalar_value(FRIDAY_2014_04_04 + 2 * 86_400 + 23 * 3600), 1.0);
        assert_eq!(weekend.scalar_value(FRIDAY_2014_04_04 + 3 * 86_400), 0.0);
    }

    #[test]
    fn widths_and_bits() {
        let tod = DateEncoder::new(DatePart::TimeOfDay { w: 21, radius: 9.49 });
        assert_eq!(tod.width(), 54);
        let mut out = Vec::new();
        tod.encode(FRIDAY_2014_04_04 + 12 * 3600, 0, &mut out).unwrap();
        assert_eq!(out, (17..=37).collect::<Vec<u32>>());
        let weekend = DateEncoder::new(DatePart::Weekend { w: 21 });
        assert_eq!(weekend.width(), 42);
        out.clear();
        weekend.encode(FRIDAY_2014_04_04 + 86_400, 5, &mut out).unwrap();
        assert_eq!(out, (26..47).collect::<Vec<u32>>());
        let dow = DateEncoder::new(DatePart::DayOfWeek { w: 21, radius: 1.0 });
        assert_eq!(dow.width(), 147);
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(DateEncoder::try_new(DatePart::TimeOfDay { w: 22, radius: 9.49 }).is_err());
        assert!(DateEncoder::try_new(DatePart::DayOfWeek { w: 21, radius: -1.0 }).is_err());
    }
}
