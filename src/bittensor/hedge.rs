//! When to hedge: config `hedge_after_ms` (`auto`, `off`, or milliseconds) and the delay it gives
//! for one miner (the race that hedges is [`super::race`]; the p90s come from `crate::routing`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Longest fixed hedge delay accepted, in milliseconds (the longest miner timeout).
pub const MAX_HEDGE_MS: u64 = 600_000;

/// How long the first miner asked may take before the next one is asked too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HedgeAfter {
    /// The miner's own recent p90 answer time (or, until it has one, the median p90 of the miners
    /// that have).
    #[default]
    Auto,
    /// Never hedge (failover after a failure still happens).
    Off,
    /// A fixed delay.
    After(Duration),
}

/// Why a `hedge_after_ms` value did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid hedge_after_ms '{0}': expected auto, off, or milliseconds from 1 to {MAX_HEDGE_MS}"
)]
pub struct HedgeParseError(String);

impl FromStr for HedgeAfter {
    type Err = HedgeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(HedgeAfter::Auto),
            "off" => Ok(HedgeAfter::Off),
            t => match t.parse::<u64>() {
                Ok(ms) if (1..=MAX_HEDGE_MS).contains(&ms) => {
                    Ok(HedgeAfter::After(Duration::from_millis(ms)))
                }
                _ => Err(HedgeParseError(s.to_string())),
            },
        }
    }
}

impl fmt::Display for HedgeAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HedgeAfter::Auto => f.write_str("auto"),
            HedgeAfter::Off => f.write_str("off"),
            HedgeAfter::After(d) => write!(f, "{}", d.as_millis()),
        }
    }
}

impl HedgeAfter {
    /// Reads a config value: `"auto"`, `"off"`, or a number of milliseconds (as a number or text).
    ///
    /// # Errors
    /// [`HedgeParseError`] for anything else.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, HedgeParseError> {
        match v {
            serde_json::Value::String(s) => s.parse(),
            serde_json::Value::Number(n) => n.to_string().parse(),
            other => Err(HedgeParseError(other.to_string())),
        }
    }

    /// The hedge delay for a miner whose own p90 is `own`, when the typical p90 is `typical`.
    pub fn delay(self, own: Option<Duration>, typical: Option<Duration>) -> Option<Duration> {
        match self {
            HedgeAfter::Off => None,
            HedgeAfter::After(d) => Some(d),
            HedgeAfter::Auto => own.or(typical),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_words_and_milliseconds() {
        for s in ["auto", "off", "250"] {
            assert_eq!(s.parse::<HedgeAfter>().unwrap().to_string(), s);
        }
        assert_eq!(
            HedgeAfter::from_json(&json!(40)).unwrap(),
            HedgeAfter::After(Duration::from_millis(40))
        );
        for bad in ["0", "-5", "soon", "600001", ""] {
            assert!(bad.parse::<HedgeAfter>().is_err(), "{bad}");
        }
        assert!(HedgeAfter::from_json(&json!(true)).is_err());
    }

    #[test]
    fn delays() {
        let (a, b) = (Duration::from_millis(30), Duration::from_millis(90));
        assert_eq!(HedgeAfter::Auto.delay(Some(a), Some(b)), Some(a));
        assert_eq!(HedgeAfter::Auto.delay(None, Some(b)), Some(b));
        assert_eq!(HedgeAfter::Auto.delay(None, None), None);
        assert_eq!(HedgeAfter::Off.delay(Some(a), Some(b)), None);
        assert_eq!(HedgeAfter::After(b).delay(Some(a), None), Some(b));
    }
}
