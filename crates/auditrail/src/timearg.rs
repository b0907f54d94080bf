//! Time arguments of the CLI: an RFC 3339 timestamp (as the APIs take them) or an age such as
//! `7d`, `12h`, `30m`, `45s`, `2w`, meaning that long before now, because "the last week" is what
//! people type and what a cron job wants.

use anyhow::{Context, bail};
use auditrail_core::Timestamp;

const UNITS: [(&str, i64); 5] = [("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000)];

/// A duration such as `90d`, in milliseconds.
pub fn parse_age(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = raw.split_at(split);
    let n: i64 = number.parse().ok()?;
    let (_, ms) = UNITS.iter().find(|(u, _)| *u == unit)?;
    n.checked_mul(*ms)
}

/// `raw` as a timestamp: RFC 3339, or an age before `now`.
pub fn parse_time(raw: &str, flag: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    if let Some(age) = parse_age(raw) {
        return Ok(now.saturating_add_millis(-age));
    }
    if raw.len() < 20 {
        bail!("invalid {flag} '{raw}': use RFC 3339 (2024-01-31T13:45:00Z) or an age such as 7d, 12h, 30m");
    }
    Timestamp::parse(raw, flag).with_context(|| format!("invalid {flag}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_timestamps() {
        let now = Timestamp::parse("2024-03-10T12:00:00Z", "t").unwrap();
        assert_eq!(parse_time("2d", "--from", now).unwrap().to_string(), "2024-03-08T12:00:00.000Z");
        assert_eq!(parse_time("90m", "--from", now).unwrap().to_string(), "2024-03-10T10:30:00.000Z");
        assert_eq!(
            parse_time("2024-01-01T00:00:00+01:00", "--from", now).unwrap().to_string(),
            "2023-12-31T23:00:00.000Z"
        );
        for bad in ["", "d", "7", "7y", "-1d", "2024-01-01", "yesterday"] {
            assert!(parse_time(bad, "--from", now).is_err(), "{bad}");
        }
    }
}
