//! Which wire protocol btvep speaks to miners (gateway) or to validators (miner): one per process.

use std::fmt;
use std::str::FromStr;

/// A miner protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinerProtocol {
    /// The 2023 `Prompting` synapse of bittensor 6–10 (dendrite → axon, `POST /Prompting`); btvep's default.
    #[default]
    Synapse,
    /// An OpenAI `POST /v1/chat/completions` signed with bittensor 11's `btauth/1` headers.
    Btauth,
    /// An OpenAI `POST /v1/chat/completions` signed with Epistula v2 headers (SN1 and others).
    Epistula,
}

impl MinerProtocol {
    /// Every protocol, in the order the docs list them.
    pub const ALL: [MinerProtocol; 3] = [
        MinerProtocol::Synapse,
        MinerProtocol::Btauth,
        MinerProtocol::Epistula,
    ];

    /// The config/flag spelling (`synapse`, `btauth`, `epistula`).
    pub fn as_str(self) -> &'static str {
        match self {
            MinerProtocol::Synapse => "synapse",
            MinerProtocol::Btauth => "btauth",
            MinerProtocol::Epistula => "epistula",
        }
    }

    /// Whether this protocol is an OpenAI-style HTTP API (btauth, Epistula) rather than the synapse.
    pub fn is_openai(self) -> bool {
        !matches!(self, MinerProtocol::Synapse)
    }
}

impl fmt::Display for MinerProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol name that is not one of [`MinerProtocol::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown miner protocol '{0}' (expected synapse, btauth or epistula)")]
pub struct UnknownProtocol(pub String);

impl FromStr for MinerProtocol {
    type Err = UnknownProtocol;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "synapse" => Ok(MinerProtocol::Synapse),
            "btauth" | "btauth/1" => Ok(MinerProtocol::Btauth),
            "epistula" => Ok(MinerProtocol::Epistula),
            _ => Err(UnknownProtocol(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in MinerProtocol::ALL {
            assert_eq!(p.as_str().parse::<MinerProtocol>(), Ok(p));
        }
        assert!("grpc".parse::<MinerProtocol>().is_err());
    }
}
