//! Time as the wire contract uses it.
//!
//! In: RFC 3339 with 0–9 fraction digits and `Z` or `±hh:mm` (date-only or zone-less input is
//! refused, because guessing a zone silently shifts an audit window). Out: UTC
//! `YYYY-MM-DDTHH:MM:SS.mmmZ`, the only form webexpythonsdk and the Splunk add-on can parse.
//! Internally a [`Timestamp`] is milliseconds since the Unix epoch; sub-millisecond digits are
//! truncated at the edge so that what is stored is exactly what is served.

use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::Offset;

use crate::ParamError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

/// Year 0001 to 9999-12-30T22:00:00.000Z (the end of jiff's millisecond range): four-digit years
/// the wire format can spell. Every value in this range formats, so `Display` never fails.
const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_207_200_000;

impl Timestamp {
    pub const MIN: Timestamp = Timestamp(MIN_MS);
    pub const MAX: Timestamp = Timestamp(MAX_MS);

    pub fn from_millis(ms: i64) -> Option<Self> {
        (MIN_MS..=MAX_MS).contains(&ms).then_some(Self(ms))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// Saturating arithmetic keeps the value a valid timestamp.
    pub fn saturating_add_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms).clamp(MIN_MS, MAX_MS))
    }

    pub fn parse(raw: &str, param: &str) -> Result<Self, ParamError> {
        parse_rfc3339(raw).map_err(|why| {
            ParamError::new(
                param,
                format!(
                    "'{}' is not a valid timestamp ({why}); use RFC 3339, e.g. 2024-01-31T13:45:00.000Z",
                    shorten(raw)
                ),
            )
        })
    }

    pub fn now() -> Self {
        Self(jiff::Timestamp::now().as_millisecond().clamp(MIN_MS, MAX_MS))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) => write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")),
            Err(_) => Err(fmt::Error),
        }
    }
}

fn shorten(raw: &str) -> String {
    raw.chars().take(40).collect()
}

fn parse_rfc3339(raw: &str) -> Result<Timestamp, &'static str> {
    let b = raw.as_bytes();
    if b.len() < 20 {
        return Err("too short");
    }
    let digits = |range: std::ops::Range<usize>| -> Result<i32, &'static str> {
        let mut v: i32 = 0;
        for &c in b.get(range).ok_or("truncated")? {
            if !c.is_ascii_digit() {
                return Err("expected a digit");
            }
            v = v * 10 + i32::from(c - b'0');
        }
        Ok(v)
    };
    let sep = |i: usize, expected: &[u8]| -> Result<(), &'static str> {
        if b.get(i).is_some_and(|c| expected.contains(c)) { Ok(()) } else { Err("bad separator") }
    };
    let year = digits(0..4)?;
    sep(4, b"-")?;
    let month = digits(5..7)?;
    sep(7, b"-")?;
    let day = digits(8..10)?;
    sep(10, b"Tt")?;
    let hour = digits(11..13)?;
    sep(13, b":")?;
    let minute = digits(14..16)?;
    sep(16, b":")?;
    let second = digits(17..19)?;
    let mut i = 19;
    let mut nanos: i32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let count = i - start;
        if count == 0 || count > 9 {
            return Err("the fraction must have 1 to 9 digits");
        }
        nanos = digits(start..i)? * 10i32.pow((9 - count) as u32);
    }
    let offset_seconds = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            let oh = digits(i + 1..i + 3)?;
            sep(i + 3, b":")?;
            let om = digits(i + 4..i + 6)?;
            if oh > 23 || om > 59 {
                return Err("offset out of range");
            }
            let secs = oh * 3600 + om * 60;
            if sign == b'-' { -secs } else { secs }
        }
        None => return Err("a zone (Z or ±hh:mm) is required"),
        _ => return Err("unexpected characters after the time"),
    };
    if year == 0 {
        return Err("year out of range");
    }
    let dt = DateTime::new(year as i16, month as i8, day as i8, hour as i8, minute as i8, second as i8, nanos)
        .map_err(|_| "no such date or time")?;
    let offset = Offset::from_seconds(offset_seconds).map_err(|_| "offset out of range")?;
    let ts = offset.to_timestamp(dt).map_err(|_| "out of range")?;
    Timestamp::from_millis(ts.as_millisecond()).ok_or("out of range")
}

/// An inclusive `[from, to]` window at millisecond resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    from: Timestamp,
    to: Timestamp,
}

impl TimeRange {
    pub const ADMIN_MAX_SPAN_DAYS: i64 = 366;
    const DAY_MS: i64 = 86_400_000;
    /// Clients send `to = now` from their own clock.
    pub const FUTURE_SKEW_MS: i64 = 30_000;

    pub fn from(&self) -> Timestamp {
        self.from
    }

    pub fn to(&self) -> Timestamp {
        self.to
    }

    /// Any ordered window, no span limit.
    pub fn new(from: Timestamp, to: Timestamp) -> Result<Self, ParamError> {
        Self::named(from, to, ("from", "to"))
    }

    fn named(from: Timestamp, to: Timestamp, (from_name, to_name): (&str, &str)) -> Result<Self, ParamError> {
        if from > to {
            return Err(ParamError::new(
                from_name,
                format!("'{from_name}' ({from}) must not be after '{to_name}' ({to})"),
            ));
        }
        Ok(Self { from, to })
    }

    /// The admin-audit window: both bounds given, at most one year apart.
    pub fn admin(from: Timestamp, to: Timestamp) -> Result<Self, ParamError> {
        Self::within_a_year(from, to, ("from", "to"))
    }

    /// The security-audit window: `startTime`..`endTime`, both given, at most one year apart.
    pub fn security(start: Timestamp, end: Timestamp) -> Result<Self, ParamError> {
        Self::within_a_year(start, end, ("startTime", "endTime"))
    }

    fn within_a_year(from: Timestamp, to: Timestamp, names: (&str, &str)) -> Result<Self, ParamError> {
        let range = Self::named(from, to, names)?;
        if to.millis() - from.millis() > Self::ADMIN_MAX_SPAN_DAYS * Self::DAY_MS {
            return Err(ParamError::new(names.1, "A maximum of one year of audit events can be returned per request."));
        }
        Ok(range)
    }

    /// The compliance-events window: `from` defaults to the beginning of time, `to` to now and may
    /// not lie in the future beyond a small clock skew.
    pub fn compliance(from: Option<Timestamp>, to: Option<Timestamp>, now: Timestamp) -> Result<Self, ParamError> {
        let to = match to {
            Some(to) if to.millis() > now.millis().saturating_add(Self::FUTURE_SKEW_MS) => {
                return Err(ParamError::new(
                    "to",
                    format!("'to' ({to}) cannot be in the future (server time is {now})"),
                ));
            }
            Some(to) => to,
            None => now,
        };
        Self::new(from.unwrap_or(Timestamp::MIN), to)
    }

    /// A Connect custom window: same one-year cap as admin audit.
    pub fn connect_custom(from: Timestamp, to: Timestamp) -> Result<Self, ParamError> {
        Self::admin(from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(raw: &str) -> Timestamp {
        Timestamp::parse(raw, "t").unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn accepts_every_fraction_length_and_offsets() {
        let base = ts("2019-01-02T16:58:36.845Z");
        assert_eq!(base.to_string(), "2019-01-02T16:58:36.845Z");
        assert_eq!(ts("2019-01-02T16:58:36Z").to_string(), "2019-01-02T16:58:36.000Z");
        assert_eq!(ts("2019-01-02T16:58:36.8Z").to_string(), "2019-01-02T16:58:36.800Z");
        assert_eq!(ts("2019-01-02T16:58:36.84Z").to_string(), "2019-01-02T16:58:36.840Z");
        assert_eq!(ts("2019-01-02T16:58:36.845999999Z"), base, "sub-millisecond digits truncate");
        assert_eq!(ts("2019-01-02T16:58:36.8451Z"), base);
        assert_eq!(ts("2019-01-02T18:58:36.845+02:00"), base);
        assert_eq!(ts("2019-01-02T11:28:36.845-05:30"), base);
        assert_eq!(ts("2019-01-02t16:58:36.845z"), base);
        assert_eq!(ts("2019-01-02T16:58:36.845+00:00"), base);
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for bad in [
            "",
            "yesterday",
            "2019-01-02",
            "2019-01-02T16:58:36",
            "2019-01-02T16:58:36.845",
            "2019-01-02 16:58:36Z",
            "2019-01-02T16:58:36.Z",
            "2019-01-02T16:58:36.1234567890Z",
            "2019-13-02T16:58:36Z",
            "2019-02-30T16:58:36Z",
            "2019-01-02T24:00:00Z",
            "2019-01-02T16:58:60Z",
            "2019-01-02T16:58:36+0200",
            "2019-01-02T16:58:36+24:00",
            "2019-01-02T16:58:36Z ",
            "0000-01-01T00:00:00Z",
            "+2019-01-02T16:58:36Z",
            "1e10",
            "2019-01-02T16:58:36ZZ",
            "２０１９-01-02T16:58:36Z",
        ] {
            let err = Timestamp::parse(bad, "from").unwrap_err();
            assert_eq!(err.param, "from", "{bad}");
        }
    }

    #[test]
    fn negative_epoch_and_extremes_format() {
        assert_eq!(ts("1969-12-31T23:59:59.999Z").millis(), -1);
        assert_eq!(ts("0001-01-01T00:00:00Z"), Timestamp::MIN);
        assert_eq!(ts("9999-12-30T22:00:00.000Z"), Timestamp::MAX);
        assert!(Timestamp::parse("9999-12-30T22:00:00.001Z", "t").is_err());
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-30T22:00:00.000Z");
        assert_eq!(Timestamp::MIN.saturating_add_millis(-5), Timestamp::MIN);
        assert!(Timestamp::parse("9999-12-31T23:59:59.999Z", "t").is_err());
        assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00.000Z");
        assert!(Timestamp::parse("9999-12-31T23:59:59.999-01:00", "t").is_err());
        assert_eq!(Timestamp::from_millis(0).unwrap().to_string(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn admin_range_caps_at_366_days() {
        let from = ts("2024-01-01T00:00:00Z");
        assert!(TimeRange::admin(from, ts("2025-01-01T00:00:00Z")).is_ok());
        assert!(TimeRange::admin(from, ts("2025-01-01T00:00:00.001Z")).is_err());
        let err = TimeRange::admin(ts("2024-01-02T00:00:00Z"), from).unwrap_err();
        assert_eq!(err.param, "from");
        assert!(TimeRange::admin(from, from).is_ok(), "a single instant is a valid window");
    }

    #[test]
    fn compliance_range_defaults_and_future_skew() {
        let now = ts("2026-11-23T12:00:00Z");
        let r = TimeRange::compliance(None, None, now).unwrap();
        assert_eq!((r.from(), r.to()), (Timestamp::MIN, now));
        assert!(TimeRange::compliance(None, Some(ts("2026-11-23T12:00:30Z")), now).is_ok());
        let err = TimeRange::compliance(None, Some(ts("2026-11-23T12:00:30.001Z")), now).unwrap_err();
        assert_eq!(err.param, "to");
        assert!(TimeRange::compliance(Some(ts("2026-11-24T00:00:00Z")), None, now).is_err());
    }
}
