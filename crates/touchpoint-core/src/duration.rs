//! Durations of fixed units ("30d", "12h", "1w", "90s", "1.5d"), as lookbacks and half-lives.
use crate::error::{Error, Result};

/// Microseconds per unit, for the fixed units we accept.
const UNITS: [(&str, f64); 6] =
    [("us", 1.0), ("s", 1e6), ("m", 60e6), ("h", 3_600e6), ("d", 86_400e6), ("w", 604_800e6)];

/// Parses a duration of fixed units into microseconds.
///
/// Accepts a positive number followed by one of `us`, `s`, `m`, `h`, `d`, `w` ("30d", "12h", "1.5d").
/// Calendar units (`mo`, `y`, `q`) have no fixed length and are refused with a typed error.
pub fn parse_duration_us(text: &str) -> Result<i64> {
    let bad = |reason: &str| Error::InvalidDuration { value: text.to_owned(), reason: reason.to_owned() };
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| bad("a unit is needed after the number: one of s, m, h, d, w (e.g. \"30d\")"))?;
    let (num, unit) = s.split_at(split);
    let unit = unit.trim();
    if matches!(unit, "mo" | "y" | "q" | "month" | "months" | "year" | "years") {
        return Err(bad("calendar units (mo, q, y) have no fixed length; use days or weeks, e.g. \"30d\""));
    }
    let per = UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, us)| *us)
        .ok_or_else(|| bad("unknown unit; use one of s, m, h, d, w (e.g. \"30d\")"))?;
    let n: f64 = num.parse().map_err(|_| bad("not a number before the unit"))?;
    let us = n * per;
    if !(us.is_finite() && us >= 1.0) {
        return Err(bad("a duration must be positive"));
    }
    if us > i64::MAX as f64 / 4.0 {
        return Err(bad("too long"));
    }
    Ok(us.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_units() {
        assert_eq!(parse_duration_us("30d").unwrap(), 30 * 86_400_000_000);
        assert_eq!(parse_duration_us("12h").unwrap(), 12 * 3_600_000_000);
        assert_eq!(parse_duration_us("1w").unwrap(), 7 * 86_400_000_000);
        assert_eq!(parse_duration_us("90s").unwrap(), 90_000_000);
        assert_eq!(parse_duration_us("1.5d").unwrap(), 129_600_000_000);
        assert_eq!(parse_duration_us(" 5m ").unwrap(), 300_000_000);
    }

    #[test]
    fn refuses_calendar_and_garbage() {
        let e = parse_duration_us("1mo").unwrap_err().to_string();
        assert!(e.contains("`1mo`") && e.contains("calendar"), "{e}");
        for bad in ["", "30", "d", "-3d", "0d", "3 fortnights", "1.2.3d"] {
            let e = parse_duration_us(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid duration"), "{bad}: {e}");
        }
    }
}
