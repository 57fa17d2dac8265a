//! btvep's query strategies: which miners a prompt is sent to.
//!
//! Text form (used in config, on API keys, in the OpenAI `model` field and the `/chat` `strategy` field):
//! `top_n:N`, `best:N` or `uids:A,B,C`.
//!
//! [`QueryStrategy::select`] knows only the metagraph; `best:N` needs the gateway's view of its miners
//! and is chosen by [`crate::routing::Router::select`] (without it, `best:N` orders like `top_n:N`).

use std::fmt;
use std::str::FromStr;

use super::metagraph::{Metagraph, Neuron};

/// How to pick the miners for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryStrategy {
    /// The `n` uids with the highest incentive, ties broken by lower uid.
    TopN(usize),
    /// The `n` serving miners with the best expected outcome as the gateway observed it (success
    /// probability and latency), skipping cooling ones, with a little exploration.
    BestN(usize),
    /// An explicit list of uids, queried in the given order.
    Uids(Vec<u16>),
}

/// Why a strategy string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid query strategy '{input}': {reason} (expected 'top_n:N' or 'best:N' with N >= 1, or 'uids:A,B,...')"
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
        let count = |rest: &str| {
            let n: usize = rest
                .trim()
                .parse()
                .map_err(|_| err("N is not a whole number"))?;
            if n == 0 {
                return Err(err("N must be at least 1"));
            }
            Ok(n)
        };
        match kind.trim() {
            "top_n" => Ok(QueryStrategy::TopN(count(rest)?)),
            "best" => Ok(QueryStrategy::BestN(count(rest)?)),
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
            QueryStrategy::BestN(n) => write!(f, "best:{n}"),
            QueryStrategy::Uids(uids) => {
                let list: Vec<String> = uids.iter().map(|u| u.to_string()).collect();
                write!(f, "uids:{}", list.join(","))
            }
        }
    }
}

/// Why a strategy cannot be applied to the current metagraph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A `uids` entry is not in the metagraph.
    #[error("uid {uid} is not in the metagraph of subnet {netuid} ({count} neurons)")]
    UnknownUid {
        /// The missing uid.
        uid: u16,
        /// Subnet id.
        netuid: u16,
        /// Number of neurons in the metagraph.
        count: usize,
    },
    /// A `uids` entry has no serving axon (ip 0.0.0.0 or port 0).
    #[error("uid {uid} has no serving axon (ip {ip}, port {port})")]
    NotServing {
        /// The uid.
        uid: u16,
        /// Its advertised ip.
        ip: String,
        /// Its advertised port.
        port: u16,
    },
    /// `top_n` or `best` asks for more miners than are serving.
    #[error(
        "{strategy} asks for {n} miners but only {serving} neurons of subnet {netuid} serve an axon"
    )]
    TooFewServing {
        /// The strategy asked for (`top_n:N`, `best:N`).
        strategy: String,
        /// Requested count.
        n: usize,
        /// Serving neuron count.
        serving: usize,
        /// Subnet id.
        netuid: u16,
    },
    /// `top_n:0` or `best:0` (only constructible in code; the parser rejects it).
    #[error("N must be at least 1")]
    ZeroN,
}

impl QueryStrategy {
    /// The neurons this strategy queries, in query order.
    ///
    /// * `top_n:N`: the N serving neurons with the highest incentive, ties broken by lower uid.
    /// * `best:N`: without the gateway's health figures, the same as `top_n:N` (see the module doc).
    /// * `uids:…`: exactly those uids in the given order (duplicates kept, as written).
    ///
    /// # Errors
    /// [`SelectError`] for unknown or non-serving uids, `N` = 0, or `N` larger than the number of serving neurons.
    pub fn select(&self, metagraph: &Metagraph) -> Result<Vec<Neuron>, SelectError> {
        match self {
            QueryStrategy::TopN(n) | QueryStrategy::BestN(n) => {
                let serving = self.serving_by_incentive(metagraph, *n)?;
                Ok(serving.into_iter().take(*n).cloned().collect())
            }
            QueryStrategy::Uids(uids) => uids
                .iter()
                .map(|&uid| {
                    let neuron = metagraph.get(uid).ok_or(SelectError::UnknownUid {
                        uid,
                        netuid: metagraph.netuid,
                        count: metagraph.neurons.len(),
                    })?;
                    if !neuron.is_serving() {
                        return Err(SelectError::NotServing {
                            uid,
                            ip: neuron.ip.clone(),
                            port: neuron.port,
                        });
                    }
                    Ok(neuron.clone())
                })
                .collect(),
        }
    }

    /// Every serving neuron, highest incentive first (ties: lower uid), after checking that `n` of
    /// them exist.
    ///
    /// # Errors
    /// [`SelectError::ZeroN`], [`SelectError::TooFewServing`].
    pub fn serving_by_incentive<'m>(
        &self,
        metagraph: &'m Metagraph,
        n: usize,
    ) -> Result<Vec<&'m Neuron>, SelectError> {
        if n == 0 {
            return Err(SelectError::ZeroN);
        }
        let mut serving: Vec<&Neuron> = metagraph
            .neurons
            .iter()
            .filter(|n| n.is_serving())
            .collect();
        if n > serving.len() {
            return Err(SelectError::TooFewServing {
                strategy: self.to_string(),
                n,
                serving: serving.len(),
                netuid: metagraph.netuid,
            });
        }
        serving.sort_by(|a, b| b.incentive.total_cmp(&a.incentive).then(a.uid.cmp(&b.uid)));
        Ok(serving)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for s in ["top_n:5", "best:1", "best:12", "uids:0", "uids:1,2,3"] {
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
            "best:0",
            "best:x",
            "best:",
            "fastest:3",
            "uids:70000",
        ] {
            assert!(s.parse::<QueryStrategy>().is_err(), "{s}");
        }
    }

    fn mg() -> Metagraph {
        let hk = "5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4";
        let mut neurons = Vec::new();
        for (uid, inc, ip, port) in [
            (0, 0.5, "1.1.1.1", 1),
            (1, 0.9, "1.1.1.1", 2),
            (2, 0.5, "1.1.1.1", 3),
            (3, 1.0, "0.0.0.0", 4),
            (4, 0.7, "1.1.1.1", 0),
        ] {
            let mut n = Neuron::new(uid, hk, ip, port);
            n.incentive = inc;
            neurons.push(n);
        }
        Metagraph {
            netuid: 1,
            neurons,
            block: None,
            fetched_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn top_n_sorts_by_incentive_then_uid_and_skips_non_serving() {
        let uids = |s: &str| {
            s.parse::<QueryStrategy>()
                .unwrap()
                .select(&mg())
                .map(|v| v.iter().map(|n| n.uid).collect::<Vec<_>>())
        };
        assert_eq!(uids("top_n:1").unwrap(), vec![1]);
        assert_eq!(uids("top_n:3").unwrap(), vec![1, 0, 2]);
        let e = uids("top_n:4").unwrap_err().to_string();
        assert!(
            e.contains("top_n:4 asks for 4") && e.contains("only 3 neurons"),
            "{e}"
        );
        assert_eq!(uids("best:2").unwrap(), vec![1, 0]);
        let e = uids("best:9").unwrap_err().to_string();
        assert!(e.starts_with("best:9 asks for 9"), "{e}");
        assert_eq!(
            QueryStrategy::TopN(0).select(&mg()).unwrap_err(),
            SelectError::ZeroN
        );
    }

    #[test]
    fn uids_keep_order_and_name_bad_uids() {
        let sel = |s: &str| s.parse::<QueryStrategy>().unwrap().select(&mg());
        assert_eq!(
            sel("uids:2,0")
                .unwrap()
                .iter()
                .map(|n| n.uid)
                .collect::<Vec<_>>(),
            vec![2, 0]
        );
        let e = sel("uids:0,9").unwrap_err().to_string();
        assert!(e.contains("uid 9"), "{e}");
        let e = sel("uids:3").unwrap_err().to_string();
        assert!(e.contains("uid 3 has no serving axon"), "{e}");
        assert!(sel("uids:4").unwrap_err().to_string().contains("uid 4"));
    }
}
