//! NuPIC 1.0.5's DateEncoder: each date aspect (season, day of week, weekend, custom days, holiday,
//! time of day) is a ScalarEncoder fed a scalar derived from the naive wall-clock timestamp.
//! [`DateEncoder`] encodes one aspect (the anomaly model's form); [`NupicDateEncoder`] is NuPIC's
//! whole encoder, its enabled aspects concatenated in NuPIC's fixed order.

use super::nupic_scalar::{NupicScalarEncoder, ScalarParams};
use super::{EncodeError, ScalarEncoder};
use crate::error::{invalid, Error};
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
    /// Day of year - 1, periodic over [0, 366).
    Season { w: u32, radius: f64 },
    /// 1 on the weekdays in `days` (bit `d` = weekday `d`, Monday = 0), else 0; non-periodic over
    /// [0, 1], radius 1.
    CustomDays { w: u32, days: u8 },
    /// The ramp around NuPIC's default holiday, December 25 (see [`NupicDateEncoder`]); non-periodic over
    /// [0, 1], radius 1.
    Holiday { w: u32 },
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
            DatePart::Weekend { w } | DatePart::CustomDays { w, .. } | DatePart::Holiday { w } => {
                ScalarEncoder::try_new(w, 0.0, 1.0, 1.0, false)
            }
            DatePart::Season { w, radius } => ScalarEncoder::try_new(w, 0.0, 366.0, radius, true),
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

    /// The scalar NuPIC feeds to the sub-encoder for this timestamp (seconds are ignored, except by
    /// the holiday ramp).
    pub fn scalar_value(&self, timestamp_s: i64) -> f64 {
        let clock = WallClock::new(timestamp_s, 0);
        let aspect = match self.part {
            DatePart::TimeOfDay { .. } => Aspect::TimeOfDay,
            DatePart::DayOfWeek { .. } => Aspect::DayOfWeek,
            DatePart::Weekend { .. } => Aspect::Weekend,
            DatePart::Season { .. } => Aspect::Season,
            DatePart::CustomDays { days, .. } => Aspect::CustomDays(days),
            DatePart::Holiday { .. } => Aspect::Holiday,
        };
        aspect.value(&clock, &[CHRISTMAS]).expect("December 25 exists every year")
    }
}

/// A naive wall-clock time split into NuPIC's `timetuple()` fields.
struct WallClock {
    /// Days since 1970-01-01.
    days: i64,
    second_of_day: i64,
    microsecond: i64,
}

impl WallClock {
    fn new(timestamp_s: i64, microsecond: u32) -> Self {
        WallClock {
            days: timestamp_s.div_euclid(SECONDS_PER_DAY),
            second_of_day: timestamp_s.rem_euclid(SECONDS_PER_DAY),
            microsecond: microsecond as i64,
        }
    }

    /// `tm_wday`: Monday = 0 (1970-01-01 was a Thursday).
    fn weekday(&self) -> i64 {
        (self.days + 3).rem_euclid(7)
    }

    /// hour + minute / 60.
    fn time_of_day(&self) -> f64 {
        let hour = self.second_of_day / 3600;
        let minute = self.second_of_day % 3600 / 60;
        hour as f64 + minute as f64 / 60.0
    }

    /// Microseconds since 1970-01-01 00:00:00.
    fn micros(&self) -> i64 {
        (self.days * SECONDS_PER_DAY + self.second_of_day) * 1_000_000 + self.microsecond
    }
}

/// The calendar date (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A holiday of NuPIC's `holidays` list: `(month, day)` every year, or `(year, month, day)` once.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Holiday {
    pub year: Option<i64>,
    pub month: i64,
    pub day: i64,
}

/// NuPIC's default holiday list, `[(12, 25)]`.
pub const CHRISTMAS: Holiday = Holiday { year: None, month: 12, day: 25 };

impl Holiday {
    /// Seconds since 1970-01-01 of midnight starting the holiday (a yearly one in `year`), or Python's
    /// `datetime` error for a date that does not exist.
    fn midnight_s(&self, year: i64) -> Result<i64, Error> {
        if self.year.is_some_and(|y| !(1..=9999).contains(&y)) {
            return Err(invalid("year is out of range"));
        }
        let year = self.year.unwrap_or(year);
        if !(1..=12).contains(&self.month) {
            return Err(invalid("month must be in 1..12"));
        }
        if !(1..=days_in_month(year, self.month)).contains(&self.day) {
            return Err(invalid("day is out of range for month"));
        }
        Ok(naive_seconds(year, self.month as u32, self.day as u32, 0, 0, 0))
    }
}

/// NuPIC's holiday value: 1 on a holiday, ramping 0 -> 1 over the day before it and 1 -> 0 over the
/// day after it (whole seconds; yearly holidays only in the timestamp's own year). The holidays are
/// tried in order: the first one the time falls on or after ends the search, one it precedes does
/// not. An empty list means `[(12, 25)]`.
fn holiday_ramp(clock: &WallClock, holidays: &[Holiday]) -> Result<f64, Error> {
    const DAY_US: i64 = SECONDS_PER_DAY * 1_000_000;
    let holidays = if holidays.is_empty() { &[CHRISTMAS][..] } else { holidays };
    let (year, _, _) = civil_from_days(clock.days);
    let t = clock.micros();
    let mut value = 0.0;
    for holiday in holidays {
        let midnight = holiday.midnight_s(year)? * 1_000_000;
        let diff = (t - midnight).abs();
        let (days, seconds) = (diff / DAY_US, diff % DAY_US / 1_000_000);
        if t > midnight {
            match days {
                0 => return Ok(1.0),
                1 => return Ok(1.0 - seconds as f64 / 86_400.0),
                _ => {}
            }
        } else if days == 0 {
            value = 1.0 - seconds as f64 / 86_400.0;
        }
    }
    Ok(value)
}

/// What a sub-encoder of the date encoder encodes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
enum Aspect {
    Season,
    DayOfWeek,
    Weekend,
    /// Bit `d` set = weekday `d` counts.
    CustomDays(u8),
    Holiday,
    TimeOfDay,
}

impl Aspect {
    /// The scalar NuPIC's `getEncodedValues` computes for this aspect.
    fn value(self, clock: &WallClock, holidays: &[Holiday]) -> Result<f64, Error> {
        let weekday = clock.weekday();
        let time_of_day = clock.time_of_day();
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        Ok(match self {
            Aspect::Season => {
                let (year, _, _) = civil_from_days(clock.days);
                (clock.days - naive_seconds(year, 1, 1, 0, 0, 0) / SECONDS_PER_DAY) as f64
            }
            Aspect::DayOfWeek => weekday as f64 + time_of_day / 24.0,
            Aspect::Weekend => flag(weekday == 5 || weekday == 6 || (weekday == 4 && time_of_day > 18.0)),
            Aspect::CustomDays(days) => flag(days & (1 << weekday) != 0),
            Aspect::Holiday => holiday_ramp(clock, holidays)?,
            Aspect::TimeOfDay => time_of_day,
        })
    }

    /// NuPIC's name of the sub-encoder in `getDescription`.
    fn label(self) -> &'static str {
        match self {
            Aspect::Season => "season",
            Aspect::DayOfWeek => "day of week",
            Aspect::Weekend => "weekend",
            Aspect::CustomDays(_) => "customdays",
            Aspect::Holiday => "holiday",
            Aspect::TimeOfDay => "time of day",
        }
    }
}

/// The weekday (Monday = 0) NuPIC's `customDays` understands by this name ("mon"/"monday", ...,
/// case-insensitive).
pub fn weekday_from_name(name: &str) -> Option<u8> {
    const NAMES: [(&str, &str); 7] = [
        ("mon", "monday"),
        ("tue", "tuesday"),
        ("wed", "wednesday"),
        ("thu", "thursday"),
        ("fri", "friday"),
        ("sat", "saturday"),
        ("sun", "sunday"),
    ];
    let lower = name.to_lowercase();
    NAMES.iter().position(|(short, long)| lower == *short || lower == *long).map(|d| d as u8)
}

/// NuPIC's `customDays=(w, days)` with the day names already read ([`weekday_from_name`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CustomDays {
    pub w: i64,
    /// Weekdays, Monday = 0.
    pub days: Vec<u8>,
    /// The sub-encoder's name: a single day's name, or each listed name followed by a space.
    pub name: String,
}

/// The arguments of NuPIC's `DateEncoder`: a part is encoded when given, with its `(w, radius)`.
#[derive(Clone, Debug, PartialEq)]
pub struct NupicDateParams {
    /// Default radius 91.5 (days).
    pub season: Option<(i64, f64)>,
    /// Default radius 1 (day).
    pub day_of_week: Option<(i64, f64)>,
    /// Default radius 1.
    pub weekend: Option<(i64, f64)>,
    pub custom_days: Option<CustomDays>,
    /// Width only; radius 1.
    pub holiday: Option<i64>,
    /// Default radius 4 (hours).
    pub time_of_day: Option<(i64, f64)>,
    /// Passed to every sub-encoder (NuPIC's default is true).
    pub forced: bool,
    /// NuPIC's default is `[(12, 25)]`; empty also means that.
    pub holidays: Vec<Holiday>,
}

impl NupicDateParams {
    /// No part enabled, `forced`, Christmas as the only holiday.
    pub fn new() -> Self {
        NupicDateParams {
            season: None,
            day_of_week: None,
            weekend: None,
            custom_days: None,
            holiday: None,
            time_of_day: None,
            forced: true,
            holidays: vec![CHRISTMAS],
        }
    }
}

impl Default for NupicDateParams {
    fn default() -> Self {
        Self::new()
    }
}

/// One enabled part of a [`NupicDateEncoder`].
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DateField {
    aspect: Aspect,
    scalar: NupicScalarEncoder,
    offset: usize,
}

/// NuPIC 1.0.5's `DateEncoder`: the enabled parts in the order season, day of week, weekend, custom
/// days, holiday, time of day, each a [`NupicScalarEncoder`] at its offset.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NupicDateEncoder {
    fields: Vec<DateField>,
    holidays: Vec<Holiday>,
    width: usize,
}

impl NupicDateEncoder {
    /// Builds the sub-encoders, rejecting what NuPIC's ScalarEncoder rejects with its message.
    pub fn new(p: &NupicDateParams) -> Result<Self, Error> {
        let custom = p.custom_days.as_ref();
        let mask = custom.map(|c| c.days.iter().fold(0u8, |m, &d| m | 1 << d));
        let specs = [
            (Aspect::Season, p.season, 366, true, None),
            (Aspect::DayOfWeek, p.day_of_week, 7, true, None),
            (Aspect::Weekend, p.weekend, 1, false, None),
            (Aspect::CustomDays(mask.unwrap_or(0)), custom.map(|c| (c.w, 1.0)), 1, false, custom.map(|c| &c.name)),
            (Aspect::Holiday, p.holiday.map(|w| (w, 1.0)), 1, false, None),
            (Aspect::TimeOfDay, p.time_of_day, 24, true, None),
        ];
        let mut fields = Vec::new();
        let mut width = 0;
        for (aspect, part, maxval, periodic, name) in specs {
            let Some((w, radius)) = part else { continue };
            let mut params = ScalarParams::new(w, 0.0, maxval as f64);
            params.periodic = periodic;
            params.radius = radius;
            params.name = Some(name.cloned().unwrap_or_else(|| aspect.label().to_string()));
            params.forced = p.forced;
            params.minval_is_int = true;
            params.maxval_is_int = true;
            let scalar = NupicScalarEncoder::new(&params)?;
            let offset = width;
            width += scalar.width();
            fields.push(DateField { aspect, scalar, offset });
        }
        Ok(NupicDateEncoder { fields, holidays: p.holidays.clone(), width })
    }

    /// Output width in bits.
    pub fn width(&self) -> usize {
        self.width
    }

    /// `(description name, sub-encoder, offset)` of each enabled part, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &NupicScalarEncoder, usize)> {
        self.fields.iter().map(|f| (f.aspect.label(), &f.scalar, f.offset))
    }

    /// NuPIC's `getScalars`: one value per enabled part for the naive wall-clock time `timestamp_s`
    /// (seconds since 1970-01-01, see [`naive_seconds`]) plus `microsecond`.
    pub fn scalars(&self, timestamp_s: i64, microsecond: u32) -> Result<Vec<f64>, Error> {
        let clock = WallClock::new(timestamp_s, microsecond);
        self.fields.iter().map(|f| f.aspect.value(&clock, &self.holidays)).collect()
    }

    /// The on-bits (ascending) of NuPIC's `encode`.
    pub fn encode_bits(&self, timestamp_s: i64, microsecond: u32) -> Result<Vec<usize>, Error> {
        let mut bits = Vec::new();
        for (field, value) in self.fields.iter().zip(self.scalars(timestamp_s, microsecond)?) {
            bits.extend(field.scalar.encode_bits(value)?.into_iter().map(|b| b + field.offset));
        }
        Ok(bits)
    }

    /// NuPIC's `getBucketIndices`: one per enabled part.
    pub fn bucket_indices(&self, timestamp_s: i64, microsecond: u32) -> Result<Vec<i64>, Error> {
        let values = self.scalars(timestamp_s, microsecond)?;
        let bucket = |(f, v): (&DateField, f64)| f.scalar.bucket_index(v).map(|b| b.expect("a date is never missing"));
        self.fields.iter().zip(values).map(bucket).collect()
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

    fn at(year: i64, month: u32, day: u32, hour: u32, minute: u32) -> i64 {
        naive_seconds(year, month, day, hour, minute, 0)
    }

    #[test]
    fn calendar_fields() {
        for days in [-800_000, -1, 0, 59, 365, 10_957, 18_262, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(naive_seconds(y, m, d, 0, 0, 0) / SECONDS_PER_DAY, days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        let season = DateEncoder::new(DatePart::Season { w: 3, radius: 91.5 });
        assert_eq!(season.width(), 12);
        assert_eq!(season.scalar_value(at(2010, 11, 4, 14, 55)), 307.0);
        assert_eq!(season.scalar_value(at(2011, 1, 1, 0, 0)), 0.0);
        assert_eq!(season.scalar_value(at(2012, 12, 31, 23, 59)), 365.0);
    }

    #[test]
    fn custom_days_and_christmas() {
        assert_eq!(weekday_from_name("Mon"), Some(0));
        assert_eq!(weekday_from_name("SUNDAY"), Some(6));
        assert_eq!(weekday_from_name("mo"), None);
        let custom = DateEncoder::new(DatePart::CustomDays { w: 3, days: 0b0100_0001 });
        assert_eq!(custom.width(), 6);
        assert_eq!(custom.scalar_value(FRIDAY_2014_04_04 + 3 * 86_400), 1.0);
        assert_eq!(custom.scalar_value(FRIDAY_2014_04_04 + 2 * 86_400), 1.0);
        assert_eq!(custom.scalar_value(FRIDAY_2014_04_04), 0.0);
        let holiday = DateEncoder::new(DatePart::Holiday { w: 5 });
        assert_eq!(holiday.width(), 10);
        assert_eq!(holiday.scalar_value(at(2011, 12, 24, 16, 0)), 1.0 - 28_800.0 / 86_400.0);
        assert_eq!(holiday.scalar_value(at(2011, 12, 25, 4, 55)), 1.0);
        assert_eq!(holiday.scalar_value(at(1999, 12, 26, 8, 0)), 1.0 - 28_800.0 / 86_400.0);
        assert_eq!(holiday.scalar_value(at(1999, 12, 27, 0, 0)), 0.0);
    }

    fn ramp(t: i64, micro: u32, holidays: &[Holiday]) -> f64 {
        holiday_ramp(&WallClock::new(t, micro), holidays).unwrap()
    }

    #[test]
    fn holiday_ramp_edges() {
        let xmas = [CHRISTMAS];
        assert_eq!(ramp(at(2011, 12, 24, 0, 0), 0, &xmas), 0.0);
        assert_eq!(ramp(at(2011, 12, 24, 0, 0), 1, &xmas), 1.0 - 86_399.0 / 86_400.0);
        assert_eq!(ramp(at(2011, 12, 25, 0, 0), 0, &xmas), 1.0);
        assert_eq!(ramp(at(2011, 12, 26, 0, 0), 0, &xmas), 1.0);
        assert_eq!(ramp(at(2011, 12, 26, 23, 59) + 59, 999_999, &xmas), 1.0 - 86_399.0 / 86_400.0);
        assert_eq!(ramp(at(2011, 12, 24, 12, 0), 0, &[]), 0.5);
        let several = [
            CHRISTMAS,
            Holiday { year: Some(2018), month: 4, day: 1 },
            Holiday { year: Some(2017), month: 4, day: 16 },
        ];
        assert_eq!(ramp(at(2018, 4, 1, 5, 0), 0, &several), 1.0);
        assert_eq!(ramp(at(2017, 4, 17, 6, 0), 0, &several), 0.75);
        assert_eq!(ramp(at(2018, 4, 16, 12, 0), 0, &several), 0.0);
        // A holiday the time precedes does not end the search.
        let eve = [CHRISTMAS, Holiday { year: None, month: 12, day: 24 }];
        assert_eq!(ramp(at(2011, 12, 24, 12, 0), 0, &eve), 1.0);
        let leap = [Holiday { year: None, month: 2, day: 29 }];
        assert_eq!(ramp(at(2012, 2, 29, 1, 0), 0, &leap), 1.0);
        let err = holiday_ramp(&WallClock::new(at(2013, 3, 1, 0, 0), 0), &leap).unwrap_err();
        assert_eq!(err.message(), "day is out of range for month");
        let bad = [Holiday { year: None, month: 13, day: 1 }];
        assert_eq!(holiday_ramp(&WallClock::new(0, 0), &bad).unwrap_err().message(), "month must be in 1..12");
        let bad = [Holiday { year: Some(0), month: 1, day: 1 }];
        assert_eq!(holiday_ramp(&WallClock::new(0, 0), &bad).unwrap_err().message(), "year is out of range");
    }

    fn one_gym() -> NupicDateEncoder {
        let mut p = NupicDateParams::new();
        p.time_of_day = Some((21, 6.090344152692538));
        p.weekend = Some((21, 1.0));
        NupicDateEncoder::new(&p).unwrap()
    }

    #[test]
    fn composite_one_gym_first_record() {
        let enc = one_gym();
        assert_eq!(enc.width(), 125);
        let parts: Vec<_> = enc.fields().map(|(name, s, offset)| (name, s.width(), offset)).collect();
        assert_eq!(parts, vec![("weekend", 42, 0), ("time of day", 83, 42)]);
        // 2010-07-02 00:00, a Friday: golden bits 102..=111, 29..=39 and 112..=132 of one_gym's input.
        let bits = enc.encode_bits(at(2010, 7, 2, 0, 0), 0).unwrap();
        let expected: Vec<usize> = (0..21).chain(42..53).chain(115..125).collect();
        assert_eq!(bits, expected);
        assert_eq!(enc.bucket_indices(at(2010, 7, 2, 0, 0), 0).unwrap(), vec![0, 0]);
    }

    #[test]
    fn composite_order_widths_and_errors() {
        let mut p = NupicDateParams::new();
        p.time_of_day = Some((5, 4.0));
        p.holiday = Some(5);
        p.custom_days = Some(CustomDays { w: 3, days: vec![0, 6], name: "mon sun ".into() });
        p.weekend = Some((3, 1.0));
        p.day_of_week = Some((3, 1.0));
        p.season = Some((3, 91.5));
        let enc = NupicDateEncoder::new(&p).unwrap();
        let names: Vec<_> = enc.fields().map(|(name, s, offset)| (name, s.name().to_string(), offset)).collect();
        assert_eq!(
            names,
            vec![
                ("season", "season".into(), 0),
                ("day of week", "day of week".into(), 12),
                ("weekend", "weekend".into(), 33),
                ("customdays", "mon sun ".into(), 39),
                ("holiday", "holiday".into(), 45),
                ("time of day", "time of day".into(), 55),
            ]
        );
        assert_eq!(enc.width(), 85);
        // Sunday 2011-12-25 12:00.
        let scalars = enc.scalars(at(2011, 12, 25, 12, 0), 0).unwrap();
        assert_eq!(scalars, vec![358.0, 6.5, 1.0, 1.0, 1.0, 12.0]);
        p.forced = false;
        let err = NupicDateEncoder::new(&p).unwrap_err();
        assert_eq!(err.message(), "Number of bits in the SDR (3) must be >= 21 (use forced=True to override).");
        let err = NupicDateEncoder::new(&NupicDateParams { holiday: Some(4), ..NupicDateParams::new() }).unwrap_err();
        assert_eq!(err.message(), "Width must be an odd number (4.000000)");
        assert_eq!(NupicDateEncoder::new(&NupicDateParams::new()).unwrap().width(), 0);
    }
}
