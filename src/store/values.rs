//! The values an operator sets on a key, checked when they are made: a [`Credits`] balance, an
//! [`Expiry`] and a default [`QueryStrategy`]. [`super::NewKey`] and [`super::KeyPatch`] hold these
//! types, and they check again when read from the admin socket (serde `try_from`), so no path — the
//! CLI, the socket or the HTTP admin API — can hand the store a value the CLI would refuse.

use serde::{Deserialize, Serialize};

pub use crate::bittensor::strategy::QueryStrategy;
pub use crate::timeparse::Expiry;

/// A value that is not allowed, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// A credit balance: -1 (unlimited) or at least 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Credits(i64);

impl Credits {
    /// Unlimited credits (stored as -1).
    pub const UNLIMITED: Credits = Credits(-1);

    /// Checks a balance.
    ///
    /// # Errors
    /// [`InvalidValue`] below -1.
    pub fn new(n: i64) -> Result<Self, InvalidValue> {
        if n < -1 {
            return Err(InvalidValue(format!(
                "credits must be -1 (unlimited) or at least 0, got {n}"
            )));
        }
        Ok(Credits(n))
    }

    /// The stored form.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl Default for Credits {
    fn default() -> Self {
        Credits::UNLIMITED
    }
}

impl TryFrom<i64> for Credits {
    type Error = InvalidValue;
    fn try_from(n: i64) -> Result<Self, InvalidValue> {
        Credits::new(n)
    }
}

impl From<Credits> for i64 {
    fn from(c: Credits) -> i64 {
        c.0
    }
}

impl TryFrom<i64> for Expiry {
    type Error = InvalidValue;
    fn try_from(n: i64) -> Result<Self, InvalidValue> {
        match n {
            -1 => Ok(Expiry::Never),
            t if t >= 0 => Ok(Expiry::At(t)),
            t => Err(InvalidValue(format!(
                "valid_until must be -1 (never) or a unix time, got {t}"
            ))),
        }
    }
}

impl From<Expiry> for i64 {
    fn from(e: Expiry) -> i64 {
        e.as_i64()
    }
}

impl Serialize for Expiry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.as_i64())
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Expiry::try_from(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Serialize for QueryStrategy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QueryStrategy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A key's default strategy as an operator types it: `top_n:N`, `uids:A,B`, or `none` / empty for the
/// server's default.
///
/// # Errors
/// [`InvalidValue`] for anything else.
pub fn parse_strategy(text: &str) -> Result<Option<QueryStrategy>, InvalidValue> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|e| InvalidValue(format!("{e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_check_on_construction_and_on_the_wire() {
        assert!(Credits::new(-2).is_err());
        assert_eq!(Credits::new(5).unwrap().get(), 5);
        assert!(serde_json::from_str::<Credits>("-5").is_err());
        assert!(serde_json::from_str::<Expiry>("-3").is_err());
        assert_eq!(serde_json::from_str::<Expiry>("-1").unwrap(), Expiry::Never);
        assert!(serde_json::from_str::<QueryStrategy>("\"top_n:0\"").is_err());
        assert_eq!(parse_strategy("none").unwrap(), None);
        assert!(parse_strategy("fastest").is_err());
    }
}
