//! The key registry: every config key with its kind, default, environment variable and help, and how
//! each kind parses and checks a value.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::bittensor::strategy::QueryStrategy;

/// The kinds of value a config key can hold; each kind knows how to parse and check text input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true` / `false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A whole number within `[min, max]`.
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// Free text.
    Text,
    /// Free text that is a secret: masked in all output unless revealed.
    Secret,
    /// A BIP39 English mnemonic (12/15/18/21/24 words with a valid checksum); a secret.
    Mnemonic,
    /// A JSON list of `{"times": N, "seconds": S}`.
    RateLimits,
    /// A query strategy (`top_n:N`, `best:N` or `uids:A,B`).
    Strategy,
    /// A hedge delay: `auto`, `off`, or milliseconds.
    Hedge,
    /// A subtensor network name (`finney`, `test`, `local`) or a `ws://` / `wss://` URL.
    Network,
    /// An optional filesystem path (empty text clears it).
    Path,
    /// An `http://` or `https://` base URL.
    Url,
    /// One of a fixed set of words.
    OneOf(&'static [&'static str]),
    /// A miner protocol: `synapse`, `btauth` or `epistula`.
    Protocol,
    /// An HTTP request path starting with `/` (query allowed, no spaces or control characters).
    UrlPath,
}

/// One configuration key: its name, kind, default, environment variable and help text.
#[derive(Debug)]
pub struct KeySpec {
    /// The name used in `config.json` and on the command line.
    pub name: &'static str,
    /// How values are parsed and checked.
    pub kind: Kind,
    /// The default as JSON text (`null` for "not set").
    pub default: &'static str,
    /// The environment variable that overrides the file.
    pub env: &'static str,
    /// One line of documentation, shown by `btvep config --help`.
    pub doc: &'static str,
}

/// Every configuration key btvep knows, in display order.
pub const KEYS: &[KeySpec] = &[
    KeySpec {
        name: "hotkey_mnemonic",
        kind: Kind::Mnemonic,
        default: "null",
        env: "HOTKEY_MNEMONIC",
        doc: "BIP39 mnemonic of the validator hotkey that signs miner queries (secret)",
    },
    KeySpec {
        name: "hotkey_mnemonic_file",
        kind: Kind::Path,
        default: "null",
        env: "BTVEP_HOTKEY_MNEMONIC_FILE",
        doc: "a file holding the hotkey mnemonic (e.g. a systemd credential), read when hotkey_mnemonic is unset",
    },
    KeySpec {
        name: "wallet_name",
        kind: Kind::Text,
        default: "null",
        env: "BTVEP_WALLET_NAME",
        doc: "Bittensor wallet name to load the hotkey from, instead of hotkey_mnemonic",
    },
    KeySpec {
        name: "wallet_hotkey",
        kind: Kind::Text,
        default: "\"default\"",
        env: "BTVEP_WALLET_HOTKEY",
        doc: "hotkey name inside the wallet (used with wallet_name)",
    },
    KeySpec {
        name: "wallet_path",
        kind: Kind::Path,
        default: "\"~/.bittensor/wallets\"",
        env: "BTVEP_WALLET_PATH",
        doc: "directory that holds Bittensor wallets",
    },
    KeySpec {
        name: "rate_limiting_enabled",
        kind: Kind::Bool,
        default: "false",
        env: "RATE_LIMITING_ENABLED",
        doc: "enforce rate limits (global_rate_limits, or a key's own limits)",
    },
    KeySpec {
        name: "global_rate_limits",
        kind: Kind::RateLimits,
        default: "[]",
        env: "GLOBAL_RATE_LIMITS",
        doc: "default limits for every key, JSON list of {\"times\": N, \"seconds\": S}",
    },
    KeySpec {
        name: "openai_filter_enabled",
        kind: Kind::Bool,
        default: "false",
        env: "OPENAI_FILTER_ENABLED",
        doc: "refuse prompts flagged by an OpenAI-compatible /v1/moderations endpoint",
    },
    KeySpec {
        name: "openai_api_key",
        kind: Kind::Secret,
        default: "null",
        env: "OPENAI_API_KEY",
        doc: "API key for the moderation endpoint (secret)",
    },
    KeySpec {
        name: "openai_base_url",
        kind: Kind::Url,
        default: "\"https://api.openai.com/v1\"",
        env: "BTVEP_OPENAI_BASE_URL",
        doc: "base URL of the OpenAI-compatible API used for moderation",
    },
    KeySpec {
        name: "netuid",
        kind: Kind::Int { min: 0, max: 65535 },
        default: "1",
        env: "BTVEP_NETUID",
        doc: "subnet to query",
    },
    KeySpec {
        name: "subtensor_network",
        kind: Kind::Network,
        default: "\"finney\"",
        env: "BTVEP_SUBTENSOR_NETWORK",
        doc: "where the metagraph comes from: finney, test, local, or a ws:// / wss:// URL",
    },
    KeySpec {
        name: "metagraph_file",
        kind: Kind::Path,
        default: "null",
        env: "BTVEP_METAGRAPH_FILE",
        doc: "read the metagraph from this JSON file instead of a subtensor node",
    },
    KeySpec {
        name: "metagraph_refresh_seconds",
        kind: Kind::Int {
            min: 1,
            max: 86_400,
        },
        default: "60",
        env: "BTVEP_METAGRAPH_REFRESH_SECONDS",
        doc: "how often the server refreshes the metagraph",
    },
    KeySpec {
        name: "default_query_strategy",
        kind: Kind::Strategy,
        default: "\"uids:0\"",
        env: "BTVEP_DEFAULT_QUERY_STRATEGY",
        doc: "miners queried when neither the request nor the key names any: top_n:N, best:N or uids:A,B",
    },
    KeySpec {
        name: "miner_timeout",
        kind: Kind::Int { min: 1, max: 600 },
        default: "12",
        env: "BTVEP_MINER_TIMEOUT",
        doc: "seconds to wait for one miner's answer",
    },
    KeySpec {
        name: "hedge_after_ms",
        kind: Kind::Hedge,
        default: "\"auto\"",
        env: "BTVEP_HEDGE_AFTER_MS",
        doc: "when the first miner asked (top_n, best) has not answered within this, ask the next one too and take \
              the first answer: auto (that miner's recent p90), off, or milliseconds",
    },
    KeySpec {
        name: "cooling_max_seconds",
        kind: Kind::Int { min: 1, max: 3600 },
        default: "60",
        env: "BTVEP_COOLING_MAX_SECONDS",
        doc: "longest cool-down of a failing miner (best:N skips it meanwhile; 1 s, doubled per failed probe, up to this)",
    },
    KeySpec {
        name: "max_miners_per_request",
        kind: Kind::Int { min: 1, max: 4096 },
        default: "256",
        env: "BTVEP_MAX_MINERS_PER_REQUEST",
        doc: "most miners one request may query (uids are de-duplicated first)",
    },
    KeySpec {
        name: "max_connections",
        kind: Kind::Int { min: 16, max: 1_000_000 },
        default: "8192",
        env: "BTVEP_MAX_CONNECTIONS",
        doc: "open client connections beyond which new ones get a 503 and are closed (also capped by the open-file limit)",
    },
    KeySpec {
        name: "header_timeout_seconds",
        kind: Kind::Int { min: 1, max: 600 },
        default: "10",
        env: "BTVEP_HEADER_TIMEOUT_SECONDS",
        doc: "seconds a client has to send a request's headers",
    },
    KeySpec {
        name: "body_timeout_seconds",
        kind: Kind::Int { min: 1, max: 600 },
        default: "30",
        env: "BTVEP_BODY_TIMEOUT_SECONDS",
        doc: "seconds a client has to send a request's body",
    },
    KeySpec {
        name: "idle_timeout_seconds",
        kind: Kind::Int { min: 1, max: 3600 },
        default: "60",
        env: "BTVEP_IDLE_TIMEOUT_SECONDS",
        doc: "seconds an idle keep-alive connection is kept open",
    },
    KeySpec {
        name: "log_retention_days",
        kind: Kind::Int { min: 0, max: 36_500 },
        default: "30",
        env: "BTVEP_LOG_RETENTION_DAYS",
        doc: "days the request log is kept; older records are pruned in the background (0 keeps everything)",
    },
    KeySpec {
        name: "log_max_mb",
        kind: Kind::Int { min: 0, max: 10_000_000 },
        default: "0",
        env: "BTVEP_LOG_MAX_MB",
        doc: "size cap of the request log in MiB; the oldest records beyond it are pruned (0: no cap)",
    },
    KeySpec {
        name: "charge_sync",
        kind: Kind::OneOf(&["os", "disk"]),
        default: "\"os\"",
        env: "BTVEP_CHARGE_SYNC",
        doc: "when an answer may be sent after its charge: os (the charge is written to the operating system first: \
              survives kill -9 and any crash of btvep; a power loss can lose about the last second of charges) or \
              disk (also synced to the disk first: survives power loss, costs a disk sync per group of requests); \
              read at start",
    },
    KeySpec {
        name: "log_store_text",
        kind: Kind::OneOf(&["full", "truncated", "none"]),
        default: "\"full\"",
        env: "BTVEP_LOG_STORE_TEXT",
        doc: "what the request log keeps of prompts and answers: full (up to 16 KiB), truncated (200 characters) or none",
    },
    KeySpec {
        name: "miner_protocol",
        kind: Kind::Protocol,
        default: "\"synapse\"",
        env: "BTVEP_MINER_PROTOCOL",
        doc: "how miners are asked: synapse (POST /Prompting, bittensor 6-10), btauth (OpenAI API signed with \
              bittensor 11's btauth/1) or epistula (OpenAI API signed with Epistula v2, SN1-style)",
    },
    KeySpec {
        name: "miner_path",
        kind: Kind::UrlPath,
        default: "\"/v1/chat/completions\"",
        env: "BTVEP_MINER_PATH",
        doc: "request path on btauth/epistula miners",
    },
    KeySpec {
        name: "miner_model",
        kind: Kind::Text,
        default: "\"bittensor\"",
        env: "BTVEP_MINER_MODEL",
        doc: "`model` sent to btauth/epistula miners",
    },
    KeySpec {
        name: "host",
        kind: Kind::Text,
        default: "\"0.0.0.0\"",
        env: "BTVEP_HOST",
        doc: "address `btvep start` listens on",
    },
    KeySpec {
        name: "port",
        kind: Kind::Int { min: 0, max: 65535 },
        default: "8000",
        env: "BTVEP_PORT",
        doc: "port `btvep start` listens on",
    },
    KeySpec {
        name: "cors_allowed_origins",
        kind: Kind::Text,
        default: "\"*\"",
        env: "BTVEP_CORS_ALLOWED_ORIGINS",
        doc: "origins allowed by CORS: * (any) or a comma-separated list",
    },
    KeySpec {
        name: "metrics_require_admin",
        kind: Kind::Bool,
        default: "false",
        env: "BTVEP_METRICS_REQUIRE_ADMIN",
        doc: "require the admin token (Authorization: Bearer) for GET /metrics",
    },
    KeySpec {
        name: "admin_api_key",
        kind: Kind::Secret,
        default: "null",
        env: "BTVEP_ADMIN_API_KEY",
        doc: "token for the /admin API and dashboard (secret)",
    },
];

/// Looks up a key by name.
pub fn spec(name: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == name)
}

/// The names of all keys, comma separated (for error messages).
pub fn key_names() -> String {
    KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// One rate-limit window: at most `times` requests per `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed in the window.
    pub times: u32,
    /// Window length in seconds.
    pub seconds: u32,
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.times, self.seconds)
    }
}

/// Parses a JSON list of rate limits and checks each window is positive.
///
/// # Errors
/// A message saying which entry is wrong.
pub fn parse_rate_limits(value: &Value) -> Result<Vec<RateLimit>, String> {
    let limits: Vec<RateLimit> = serde_json::from_value(value.clone())
        .map_err(|e| format!("expected a JSON list of {{\"times\": N, \"seconds\": S}}: {e}"))?;
    for (i, l) in limits.iter().enumerate() {
        if l.times == 0 || l.seconds == 0 {
            return Err(format!("entry {i}: times and seconds must be at least 1"));
        }
    }
    Ok(limits)
}

/// Checks that `phrase` is a BIP39 English mnemonic of 12/15/18/21/24 words with a valid checksum.
///
/// # Errors
/// A message that never repeats the phrase.
pub fn check_mnemonic(phrase: &str) -> Result<(), String> {
    let words = phrase.split_whitespace().count();
    if ![12, 15, 18, 21, 24].contains(&words) {
        return Err(format!(
            "a mnemonic has 12, 15, 18, 21 or 24 words, this one has {words}"
        ));
    }
    let normalized = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
    bip39::Mnemonic::parse_in(bip39::Language::English, &normalized).map_err(|e| match e {
        bip39::Error::InvalidChecksum => "invalid BIP39 checksum (is a word wrong?)".to_string(),
        bip39::Error::UnknownWord(i) => format!("word {} is not in the BIP39 English list", i + 1),
        other => format!("not a valid BIP39 mnemonic: {other}"),
    })?;
    Ok(())
}

impl Kind {
    /// Parses command-line / environment text into the JSON value stored in the file.
    ///
    /// # Errors
    /// A message explaining what was expected (never echoing secrets).
    pub fn parse_text(self, text: &str) -> Result<Value, String> {
        match self {
            Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
                _ => Err(format!("expected true or false, got '{text}'")),
            },
            Kind::Int { .. } => {
                let n: i64 = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("expected a whole number, got '{text}'"))?;
                self.check(&json!(n))?;
                Ok(json!(n))
            }
            Kind::RateLimits => {
                let v: Value = serde_json::from_str(text).map_err(|e| {
                    format!("expected a JSON list of {{\"times\": N, \"seconds\": S}}: {e}")
                })?;
                self.check(&v)?;
                Ok(v)
            }
            Kind::Mnemonic => {
                let normalized = text.split_whitespace().collect::<Vec<_>>().join(" ");
                check_mnemonic(&normalized)?;
                Ok(Value::String(normalized))
            }
            Kind::Path if text.trim().is_empty() => Ok(Value::Null),
            Kind::Secret if text.is_empty() => Ok(Value::Null),
            Kind::Text
            | Kind::Secret
            | Kind::Path
            | Kind::Strategy
            | Kind::Hedge
            | Kind::Network
            | Kind::Url
            | Kind::OneOf(_)
            | Kind::Protocol
            | Kind::UrlPath => {
                let v = Value::String(text.trim().to_string());
                self.check(&v)?;
                Ok(v)
            }
        }
    }

    /// Checks a JSON value (from the file or from [`Kind::parse_text`]) against the kind.
    ///
    /// # Errors
    /// A message explaining what was expected.
    pub fn check(self, v: &Value) -> Result<(), String> {
        if v.is_null() {
            return Ok(());
        }
        match self {
            Kind::Bool => v
                .as_bool()
                .map(|_| ())
                .ok_or_else(|| "expected true or false".into()),
            Kind::Int { min, max } => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(()),
                Some(n) => Err(format!("{n} is out of range {min}..={max}")),
                None => Err("expected a whole number".into()),
            },
            Kind::RateLimits => parse_rate_limits(v).map(|_| ()),
            Kind::Mnemonic => check_mnemonic(v.as_str().ok_or("expected a string")?),
            Kind::Text | Kind::Secret | Kind::Path => v
                .as_str()
                .map(|_| ())
                .ok_or_else(|| "expected a string".into()),
            Kind::Strategy => {
                let s = v.as_str().ok_or("expected a string")?;
                s.parse::<QueryStrategy>()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Kind::Hedge => crate::bittensor::hedge::HedgeAfter::from_json(v)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Kind::Network => {
                let s = v.as_str().ok_or("expected a string")?;
                if ["finney", "test", "local"].contains(&s)
                    || s.starts_with("ws://")
                    || s.starts_with("wss://")
                {
                    Ok(())
                } else {
                    Err(format!(
                        "'{s}' is not finney, test, local or a ws:// / wss:// URL"
                    ))
                }
            }
            Kind::Url => {
                let s = v.as_str().ok_or("expected a string")?;
                if s.starts_with("http://") || s.starts_with("https://") {
                    Ok(())
                } else {
                    Err(format!("'{s}' is not an http:// or https:// URL"))
                }
            }
            Kind::OneOf(words) => {
                let s = v.as_str().ok_or("expected a string")?;
                if words.contains(&s) {
                    Ok(())
                } else {
                    Err(format!("'{s}' is not one of {}", words.join(", ")))
                }
            }
            Kind::Protocol => {
                let s = v.as_str().ok_or("expected a string")?;
                s.parse::<crate::bittensor::protocol::MinerProtocol>()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Kind::UrlPath => {
                let s = v.as_str().ok_or("expected a string")?;
                if s.starts_with('/') && s.bytes().all(|b| b.is_ascii_graphic()) {
                    Ok(())
                } else {
                    Err(format!("'{s}' is not a request path starting with /"))
                }
            }
        }
    }

    /// Whether values of this kind are masked in output.
    pub fn is_secret(self) -> bool {
        matches!(self, Kind::Secret | Kind::Mnemonic)
    }
}
