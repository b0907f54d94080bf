//! Unix milliseconds ⇄ civil UTC dates, and the business-hours bias of generated timestamps.
//!
//! The crate keeps its dependencies to the random-number generator on purpose, so the conversion is Howard
//! Hinnant's `days_from_civil` / `civil_from_days` (proleptic Gregorian, exact for every `i64` day count we
//! can reach from milliseconds). Output is always the wire form `YYYY-MM-DDTHH:MM:SS.mmmZ`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub(crate) const SECOND_MS: i64 = 1_000;
pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` 1–12, `day` 1–31): the inverse of
/// [`civil_from_days`], which the tests use to check it.
#[cfg(test)]
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31 and 1..=12); the fallback is never taken.
    (year, u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

/// Day of week of a day count, 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
pub(crate) fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of unix milliseconds.
pub(crate) fn format_ms(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(DAY_MS));
    let rem = ms.rem_euclid(DAY_MS);
    let (h, min, s, milli) = (rem / HOUR_MS, rem / 60_000 % 60, rem / SECOND_MS % 60, rem % SECOND_MS);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// The inclusive window `created` is drawn from; an inverted window collapses to its start.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    pub fn new(start: i64, end: i64) -> Self {
        Window { start, end: end.max(start) }
    }

    /// A timestamp inside the window: ~85 % on a weekday between 08:00 and 18:00 UTC (peaking mid-day), the
    /// rest uniform. Windows with no business hours in them (a night, a weekend) fall back to uniform after a
    /// bounded number of tries, so the draw always terminates and always lands inside.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> i64 {
        if self.end > self.start && rng.random_bool(0.85) {
            let (first_day, last_day) = (self.start.div_euclid(DAY_MS), self.end.div_euclid(DAY_MS));
            for _ in 0..16 {
                let day = rng.random_range(first_day..=last_day);
                if weekday(day) == 0 || weekday(day) == 6 {
                    continue;
                }
                // Mean of two uniforms: a triangular distribution centred on 13:00.
                let a = rng.random_range(0..10 * HOUR_MS);
                let b = rng.random_range(0..10 * HOUR_MS);
                let t = (day * DAY_MS).checked_add(8 * HOUR_MS + (a + b) / 2);
                if let Some(t) = t.filter(|t| (self.start..=self.end).contains(t)) {
                    return t;
                }
            }
        }
        rng.random_range(self.start..=self.end)
    }
}
