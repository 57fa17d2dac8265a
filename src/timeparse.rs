//! Parsing of the dates operators type: key expiry (`--valid-until`) and log ranges (`--start/--end`).
//!
//! All times are UTC. Relative expiry phrases count from today's midnight, as btvep did.
//!
//! The grammar is hand-written on purpose: it is btvep's small set of forms (dates, timestamps,
//! `1 month`, `next friday`, …), and a general natural-language date crate would cost more in size and
//! surprises than these few parsers.

use chrono::{DateTime, Days, Months, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A `--valid-until` value as understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// The key never expires (stored as -1).
    #[default]
    Never,
    /// The key expires at this unix time (seconds).
    At(i64),
}

impl Expiry {
    /// The stored form: -1 or a unix timestamp.
    pub fn as_i64(self) -> i64 {
        match self {
            Expiry::Never => -1,
            Expiry::At(t) => t,
        }
    }

    /// How the value reads to a person.
    pub fn describe(self) -> String {
        describe_valid_until(self.as_i64())
    }
}

/// Formats a stored `valid_until` for display.
pub fn describe_valid_until(v: i64) -> String {
    if v == -1 {
        return "never".into();
    }
    match Utc.timestamp_opt(v, 0).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => v.to_string(),
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_number(word: &str) -> Option<u32> {
    let w = word.to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&w))
        .map(|i| i as u32 + 1)
}

fn unit_offset(base: NaiveDate, n: u32, unit: &str) -> Option<NaiveDate> {
    let unit = unit.trim_end_matches('s');
    match unit {
        "day" => base.checked_add_days(Days::new(n.into())),
        "week" => base.checked_add_days(Days::new(u64::from(n) * 7)),
        "month" => base.checked_add_months(Months::new(n)),
        "year" => base.checked_add_months(Months::new(n.checked_mul(12)?)),
        _ => None,
    }
}

fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp()
}

/// Parses an expiry relative to `today` (UTC).
///
/// Accepts `false`/`-1`/`never`, a unix timestamp, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS`,
/// `today`, `tomorrow`, `next week|month|year`, `in N days|weeks|months|years` (also without `in`),
/// `December 2025`, `December 24 2025`, `24 December 2025`.
///
/// # Errors
/// A message with the accepted forms.
pub fn parse_expiry(text: &str, today: NaiveDate) -> Result<Expiry, String> {
    let t = text.trim().to_ascii_lowercase().replace(',', " ");
    let words: Vec<&str> = t.split_whitespace().collect();
    let fail = || {
        format!(
            "cannot understand the date '{}': use -1/false (never), a unix timestamp, 2025-01-01, \
             'tomorrow', 'next week', 'in 10 days', 'in 1 month', 'next year' or 'December 2025'",
            text.trim()
        )
    };
    let date = |d: Option<NaiveDate>| d.map(|d| Expiry::At(midnight(d))).ok_or_else(fail);
    match words.as_slice() {
        ["false"] | ["-1"] | ["never"] | ["none"] => return Ok(Expiry::Never),
        ["today"] => return date(Some(today)),
        ["tomorrow"] => return date(today.checked_add_days(Days::new(1))),
        ["next", unit] => return date(unit_offset(today, 1, unit)),
        ["in", n, unit] | [n, unit] if n.parse::<u32>().is_ok() && month_number(unit).is_none() => {
            let n: u32 = n.parse().map_err(|_| fail())?;
            return date(unit_offset(today, n, unit));
        }
        ["in", "a" | "one", unit] | ["a" | "one", unit] => {
            return date(unit_offset(today, 1, unit))
        }
        [m, y] if month_number(m).is_some() => {
            let y: i32 = y.parse().map_err(|_| fail())?;
            return date(NaiveDate::from_ymd_opt(y, month_number(m).unwrap_or(1), 1));
        }
        // "December 24 2025" or "24 December 2025"
        [m, d, y] | [d, m, y] if month_number(m).is_some() => {
            let day: u32 = d
                .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .parse()
                .map_err(|_| fail())?;
            let year: i32 = y.parse().map_err(|_| fail())?;
            return date(NaiveDate::from_ymd_opt(
                year,
                month_number(m).unwrap_or(1),
                day,
            ));
        }
        _ => {}
    }
    if let Ok(ts) = t.parse::<i64>() {
        if ts >= 0 {
            return Ok(Expiry::At(ts));
        }
        return Err(fail());
    }
    parse_datetime(text.trim())
        .map(|dt| Expiry::At(dt.timestamp()))
        .ok_or_else(fail)
}

/// A log range bound as an operator types it (see [`parse_datetime`]); a bare date as the end bound
/// means the whole day. The one place this rule lives (the CLI and the HTTP admin API both use it).
///
/// # Errors
/// A message naming the forms that are understood.
pub fn log_bound(text: &str, end: bool) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    let at = parse_datetime(t).ok_or_else(|| {
        format!("cannot understand the time '{t}': use %Y-%m-%d, %Y-%m-%dT%H:%M:%S or '%Y-%m-%d %H:%M:%S'")
    })?;
    if end && t.len() == 10 {
        return Ok(at + chrono::Duration::days(1) - chrono::Duration::microseconds(1));
    }
    Ok(at)
}

/// Parses a log range bound: `%Y-%m-%d`, `%Y-%m-%dT%H:%M:%S` or `%Y-%m-%d %H:%M:%S` (UTC).
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, fmt) {
            return Some(dt.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| Utc.timestamp_opt(midnight(d), 0).single())
}

/// Today's date in UTC.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// Whether `d` lies in the past relative to `today` (used to warn about already-expired keys).
pub fn is_past(e: Expiry, today: NaiveDate) -> bool {
    matches!(e, Expiry::At(t) if t < midnight(today))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32) -> Expiry {
        Expiry::At(midnight(NaiveDate::from_ymd_opt(y, m, d).unwrap()))
    }

    #[test]
    fn understands_btvep_forms() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let p = |s: &str| parse_expiry(s, today).unwrap();
        assert_eq!(p("false"), Expiry::Never);
        assert_eq!(p("-1"), Expiry::Never);
        assert_eq!(p("1767225600"), Expiry::At(1_767_225_600));
        assert_eq!(p("2025-01-01"), at(2025, 1, 1));
        assert_eq!(
            p("2025-01-01T12:30:00"),
            Expiry::At(midnight(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()) + 45_000)
        );
        assert_eq!(p("tomorrow"), at(2026, 2, 1));
        assert_eq!(p("next week"), at(2026, 2, 7));
        assert_eq!(p("in 10 days"), at(2026, 2, 10));
        assert_eq!(p("in 1 month"), at(2026, 2, 28));
        assert_eq!(p("next month"), at(2026, 2, 28));
        assert_eq!(p("next year"), at(2027, 1, 31));
        assert_eq!(p("in 2 weeks"), at(2026, 2, 14));
        assert_eq!(p("December 2025"), at(2025, 12, 1));
        assert_eq!(p("Dec 24, 2025"), at(2025, 12, 24));
        assert_eq!(p("24 December 2025"), at(2025, 12, 24));
    }

    #[test]
    fn rejects_nonsense() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        for s in [
            "",
            "soon",
            "next fortnight",
            "2025-13-01",
            "in x days",
            "-5",
            "Smarch 2025",
        ] {
            assert!(parse_expiry(s, today).is_err(), "{s}");
        }
    }

    #[test]
    fn log_bounds() {
        assert_eq!(
            parse_datetime("2025-01-02").unwrap().timestamp(),
            1_735_776_000
        );
        assert_eq!(
            parse_datetime("2025-01-02 00:00:10").unwrap().timestamp(),
            1_735_776_010
        );
        assert_eq!(
            parse_datetime("2025-01-02T00:00:10").unwrap().timestamp(),
            1_735_776_010
        );
        assert!(parse_datetime("02/01/2025").is_none());
        assert!(today() > NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    }
}
