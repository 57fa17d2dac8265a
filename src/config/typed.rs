//! The configuration as the program uses it: one validated [`Config`] with real types, resolved once
//! from the layered key/value [`Resolved`]. Every default, clamp and parse lives here; nothing else
//! reads config keys by name.

use std::path::PathBuf;
use std::time::Duration;

use super::{RateLimit, Resolved};
use crate::bittensor::hedge::HedgeAfter;
use crate::bittensor::http_miner::{DEFAULT_MINER_MODEL, DEFAULT_MINER_PATH};
use crate::bittensor::metagraph::MetagraphSource;
use crate::bittensor::protocol::MinerProtocol;
use crate::bittensor::strategy::QueryStrategy;
use crate::store::journal::ChargeSync;
use crate::store::retention::LogText;

/// Where the validator hotkey comes from, in the order btvep looks.
#[derive(Clone, PartialEq, Eq)]
pub enum HotkeySource {
    /// `hotkey_mnemonic` (secret).
    Mnemonic(String),
    /// `hotkey_mnemonic_file`: a file holding the mnemonic (e.g. a systemd credential).
    MnemonicFile(PathBuf),
    /// A Bittensor wallet on disk.
    Wallet {
        /// `wallet_name`.
        name: String,
        /// `wallet_hotkey`.
        hotkey: String,
        /// `wallet_path`.
        path: String,
    },
    /// Nothing configured.
    None,
}

impl std::fmt::Debug for HotkeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HotkeySource::Mnemonic(_) => f.write_str("Mnemonic(********)"),
            HotkeySource::MnemonicFile(p) => write!(f, "MnemonicFile({})", p.display()),
            HotkeySource::Wallet { name, hotkey, path } => {
                write!(f, "Wallet({name}/{hotkey} in {path})")
            }
            HotkeySource::None => f.write_str("None"),
        }
    }
}

/// The resolved, typed configuration. Secrets are masked in `Debug`.
#[derive(Clone)]
pub struct Config {
    /// The validator hotkey's source.
    pub hotkey: HotkeySource,
    /// Where Bittensor wallets live (`wallet_path`).
    pub wallet_path: String,
    /// Enforce rate limits.
    pub rate_limiting_enabled: bool,
    /// Limits for keys without their own.
    pub global_rate_limits: Vec<RateLimit>,
    /// Run the moderation filter.
    pub openai_filter_enabled: bool,
    /// Key for the moderation endpoint.
    pub openai_api_key: Option<String>,
    /// Base URL of the moderation endpoint (`.../v1`, no trailing slash).
    pub openai_base_url: String,
    /// Where the metagraph comes from.
    pub metagraph_source: MetagraphSource,
    /// How often the metagraph is refreshed.
    pub metagraph_refresh: Duration,
    /// Strategy when neither request nor key names one.
    pub default_query_strategy: QueryStrategy,
    /// Default per-miner timeout.
    pub miner_timeout: Duration,
    /// Most miners one request may query.
    pub max_miners_per_request: usize,
    /// When to ask the next miner too (`hedge_after_ms`).
    pub hedge_after: HedgeAfter,
    /// Longest cool-down of a failing miner (`cooling_max_seconds`).
    pub cooling_max: Duration,
    /// How miners are reached: the synapse, btauth/1 or Epistula.
    pub miner_protocol: MinerProtocol,
    /// The miners' HTTP path (btauth and Epistula).
    pub miner_path: String,
    /// The `model` sent to miners (btauth and Epistula).
    pub miner_model: String,
    /// Most open client connections.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a client has to send a request body.
    pub body_timeout: Duration,
    /// Time an idle connection is kept.
    pub idle_timeout: Duration,
    /// When an answer may be sent after its charge (`charge_sync`).
    pub charge_sync: ChargeSync,
    /// What log records keep of prompts and answers.
    pub log_text: LogText,
    /// Days of request log kept (0: everything).
    pub log_retention_days: u32,
    /// Size cap of the request log in MiB (0: none).
    pub log_max_mb: u64,
    /// Listen address.
    pub host: String,
    /// Listen port.
    pub port: u16,
    /// Allowed CORS origins (`*` or a comma-separated list).
    pub cors_allowed_origins: String,
    /// Token for `/admin` and the dashboard.
    pub admin_api_key: Option<String>,
    /// Whether `/metrics` requires the admin token.
    pub metrics_require_admin: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("hotkey", &self.hotkey)
            .field("wallet_path", &self.wallet_path)
            .field("rate_limiting_enabled", &self.rate_limiting_enabled)
            .field("global_rate_limits", &self.global_rate_limits)
            .field("openai_filter_enabled", &self.openai_filter_enabled)
            .field(
                "openai_api_key",
                &super::mask(self.openai_api_key.as_deref()),
            )
            .field("openai_base_url", &self.openai_base_url)
            .field("metagraph_source", &self.metagraph_source)
            .field("metagraph_refresh", &self.metagraph_refresh)
            .field("default_query_strategy", &self.default_query_strategy)
            .field("miner_timeout", &self.miner_timeout)
            .field("max_miners_per_request", &self.max_miners_per_request)
            .field("hedge_after", &self.hedge_after)
            .field("cooling_max", &self.cooling_max)
            .field("miner_protocol", &self.miner_protocol)
            .field("miner_path", &self.miner_path)
            .field("miner_model", &self.miner_model)
            .field("max_connections", &self.max_connections)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("log_text", &self.log_text)
            .field("log_retention_days", &self.log_retention_days)
            .field("log_max_mb", &self.log_max_mb)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("admin_api_key", &super::mask(self.admin_api_key.as_deref()))
            .field("metrics_require_admin", &self.metrics_require_admin)
            .finish()
    }
}

fn secs(r: &Resolved, key: &str, max: i64) -> Duration {
    Duration::from_secs(r.int(key).clamp(1, max) as u64)
}

fn text(r: &Resolved, key: &str) -> Option<String> {
    r.str(key).filter(|s| !s.is_empty()).map(str::to_string)
}

impl Config {
    /// Types the resolved values (every value was already checked against its key's kind).
    pub fn from_resolved(r: &Resolved) -> Self {
        let wallet_path = text(r, "wallet_path")
            .unwrap_or_else(|| crate::bittensor::keys::DEFAULT_WALLET_PATH.into());
        let hotkey = if let Some(m) = text(r, "hotkey_mnemonic") {
            HotkeySource::Mnemonic(m)
        } else if let Some(p) = text(r, "hotkey_mnemonic_file") {
            HotkeySource::MnemonicFile(p.into())
        } else if let Some(name) = text(r, "wallet_name") {
            HotkeySource::Wallet {
                name,
                hotkey: text(r, "wallet_hotkey").unwrap_or_else(|| "default".into()),
                path: wallet_path.clone(),
            }
        } else {
            HotkeySource::None
        };
        let metagraph_source = match text(r, "metagraph_file") {
            Some(path) => MetagraphSource::File(path.into()),
            None => MetagraphSource::Subtensor {
                network: text(r, "subtensor_network").unwrap_or_else(|| "finney".into()),
                netuid: u16::try_from(r.int("netuid")).unwrap_or(1),
            },
        };
        Config {
            hotkey,
            wallet_path,
            rate_limiting_enabled: r.bool("rate_limiting_enabled"),
            global_rate_limits: r.global_rate_limits(),
            openai_filter_enabled: r.bool("openai_filter_enabled"),
            openai_api_key: text(r, "openai_api_key"),
            openai_base_url: text(r, "openai_base_url")
                .unwrap_or_else(|| "https://api.openai.com/v1".into())
                .trim_end_matches('/')
                .to_string(),
            metagraph_source,
            metagraph_refresh: secs(r, "metagraph_refresh_seconds", 86_400),
            default_query_strategy: r.default_query_strategy(),
            miner_timeout: secs(r, "miner_timeout", 600),
            max_miners_per_request: r.int("max_miners_per_request").clamp(1, 4096) as usize,
            hedge_after: HedgeAfter::from_json(r.get("hedge_after_ms")).unwrap_or_default(),
            cooling_max: secs(r, "cooling_max_seconds", 3600),
            miner_protocol: r
                .str("miner_protocol")
                .and_then(|s| s.parse().ok())
                .unwrap_or_default(),
            miner_path: text(r, "miner_path").unwrap_or_else(|| DEFAULT_MINER_PATH.into()),
            miner_model: text(r, "miner_model").unwrap_or_else(|| DEFAULT_MINER_MODEL.into()),
            max_connections: r.int("max_connections").clamp(16, 1_000_000) as usize,
            header_timeout: secs(r, "header_timeout_seconds", 600),
            body_timeout: secs(r, "body_timeout_seconds", 600),
            idle_timeout: secs(r, "idle_timeout_seconds", 3600),
            charge_sync: r
                .str("charge_sync")
                .and_then(|s| s.parse().ok())
                .unwrap_or_default(),
            log_text: r
                .str("log_store_text")
                .and_then(|s| s.parse().ok())
                .unwrap_or_default(),
            log_retention_days: r.int("log_retention_days").clamp(0, 36_500) as u32,
            log_max_mb: r.int("log_max_mb").max(0) as u64,
            host: text(r, "host").unwrap_or_else(|| "0.0.0.0".into()),
            port: u16::try_from(r.int("port")).unwrap_or(8000),
            cors_allowed_origins: text(r, "cors_allowed_origins").unwrap_or_else(|| "*".into()),
            admin_api_key: text(r, "admin_api_key"),
            metrics_require_admin: r.bool("metrics_require_admin"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigFile;
    use serde_json::json;

    #[test]
    fn defaults_are_typed_in_one_place() {
        let c = Config::from_resolved(
            &Resolved::resolve(&ConfigFile::default(), |_| None, &[]).unwrap(),
        );
        assert_eq!(c.miner_timeout, Duration::from_secs(12));
        assert_eq!(c.port, 8000);
        assert_eq!(c.host, "0.0.0.0");
        assert_eq!(c.max_miners_per_request, 256);
        assert_eq!(c.hedge_after, HedgeAfter::Auto);
        assert_eq!(c.cooling_max, Duration::from_secs(60));
        assert_eq!(c.log_text, LogText::Full);
        assert_eq!(c.log_retention_days, 30);
        assert!(matches!(c.hotkey, HotkeySource::None));
        assert!(matches!(
            c.metagraph_source,
            MetagraphSource::Subtensor { ref network, netuid: 1 } if network == "finney"
        ));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let file = ConfigFile {
            path: "c.json".into(),
            values: json!({
                "hotkey_mnemonic": "pact photo material cake neck asset home broken decade jealous piece pistol",
                "admin_api_key": "btvep-admin-secret",
                "openai_api_key": "sk-secret",
            })
            .as_object()
            .unwrap()
            .clone(),
        };
        let c = Config::from_resolved(&Resolved::resolve(&file, |_| None, &[]).unwrap());
        let text = format!("{c:?}");
        assert!(!text.contains("pact") && !text.contains("secret"), "{text}");
    }
}
