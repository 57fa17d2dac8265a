//! btvep's query strategies: which miners a prompt is sent to.
//!
//! Text form (used in config, on API keys and in the OpenAI `model` field): `top_n:N` or `uids:A,B,C`.

use std::fmt;
use std::str::FromStr;

/// How to pick the miners for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryStrategy {
    /// The `n` uids with the highest incentive, ties broken by lower uid.
    TopN(usize),
    /// An explicit list of uids, queried in the given order.
    Uids(Vec<u16>),
}

/// Why a strategy string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid query strategy '{input}': {reason} (expected 'top_n:N' with N >= 1 or 'uids:A,B,...')"
)]
pub struct StrategyParseError {
    input: String,
    reason: &'static str,
}

impl FromStr for QueryStrategy {
    type Err = StrategyParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| StrategyParseError {
            input: s.to_string(),
            reason,
        };
        let (kind, rest) = s.trim().split_once(':').ok_or_else(|| err("missing ':'"))?;
        match kind.trim() {
            "top_n" => {
                let n: usize = rest
                    .trim()
                    .parse()
                    .map_err(|_| err("N is not a whole number"))?;
                if n == 0 {
                    return Err(err("N must be at least 1"));
                }
                Ok(QueryStrategy::TopN(n))
            }
            "uids" => {
                let uids = rest
                    .split(',')
                    .map(|u| u.trim().parse::<u16>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| err("uids must be whole numbers from 0 to 65535"))?;
                if uids.is_empty() {
                    return Err(err("no uids given"));
                }
                Ok(QueryStrategy::Uids(uids))
            }
            _ => Err(err("unknown kind")),
        }
    }
}

impl fmt::Display for QueryStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryStrategy::TopN(n) => write!(f, "top_n:{n}"),
            QueryStrategy::Uids(uids) => {
                let list: Vec<String> = uids.iter().map(|u| u.to_string()).collect();
                write!(f, "uids:{}", list.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for s in ["top_n:5", "uids:0", "uids:1,2,3"] {
            assert_eq!(s.parse::<QueryStrategy>().unwrap().to_string(), s);
        }
        assert_eq!(
            " uids: 1 , 2 ".parse::<QueryStrategy>().unwrap(),
            QueryStrategy::Uids(vec![1, 2])
        );
    }

    #[test]
    fn rejects_bad_input() {
        for s in [
            "",
            "top_n",
            "top_n:0",
            "top_n:-1",
            "uids:",
            "uids:a",
            "best:3",
            "uids:70000",
        ] {
            assert!(s.parse::<QueryStrategy>().is_err(), "{s}");
        }
    }
}
