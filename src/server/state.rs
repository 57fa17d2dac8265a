//! The server's shared state and the settings it reads on every request.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::logsink::LogSink;
use crate::bittensor::dendrite::Dendrite;
use crate::bittensor::metagraph::Metagraph;
use crate::bittensor::strategy::QueryStrategy;
use crate::config::{ConfigFile, RateLimit, Resolved};
use crate::ratelimit::RateLimiters;
use crate::store::Store;

/// The request-time settings, derived from the resolved config; replaced whole on reload.
#[derive(Clone)]
pub struct Settings {
    /// Enforce rate limits.
    pub rate_limiting_enabled: bool,
    /// Limits for keys without their own.
    pub global_rate_limits: Vec<RateLimit>,
    /// Run the moderation filter.
    pub openai_filter_enabled: bool,
    /// Key for the moderation endpoint.
    pub openai_api_key: Option<String>,
    /// Base URL of the moderation endpoint (`.../v1`).
    pub openai_base_url: String,
    /// Strategy when neither request nor key names one.
    pub default_query_strategy: QueryStrategy,
    /// Default per-miner timeout.
    pub miner_timeout: Duration,
    /// Most miners one request may query.
    pub max_miners_per_request: usize,
    /// Time a client has to send a request body.
    pub body_timeout: Duration,
    /// What log records keep of prompts and answers.
    pub log_text: crate::store::retention::LogText,
    /// Days of request log kept (0: everything).
    pub log_retention_days: u32,
    /// Size cap of the request log in MiB (0: none).
    pub log_max_mb: u64,
    /// Token for `/admin` and the dashboard.
    pub admin_api_key: Option<String>,
    /// Whether `/metrics` requires the admin token.
    pub metrics_require_admin: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("rate_limiting_enabled", &self.rate_limiting_enabled)
            .field("global_rate_limits", &self.global_rate_limits)
            .field("openai_filter_enabled", &self.openai_filter_enabled)
            .field(
                "openai_api_key",
                &crate::config::mask(self.openai_api_key.as_deref()),
            )
            .field("openai_base_url", &self.openai_base_url)
            .field("default_query_strategy", &self.default_query_strategy)
            .field("miner_timeout", &self.miner_timeout)
            .field("max_miners_per_request", &self.max_miners_per_request)
            .field("body_timeout", &self.body_timeout)
            .field("log_text", &self.log_text)
            .field("log_retention_days", &self.log_retention_days)
            .field("log_max_mb", &self.log_max_mb)
            .field(
                "admin_api_key",
                &crate::config::mask(self.admin_api_key.as_deref()),
            )
            .field("metrics_require_admin", &self.metrics_require_admin)
            .finish()
    }
}

impl Settings {
    /// Derives the settings from a resolved config.
    pub fn from_resolved(r: &Resolved) -> Self {
        Settings {
            rate_limiting_enabled: r.bool("rate_limiting_enabled"),
            global_rate_limits: r.global_rate_limits(),
            openai_filter_enabled: r.bool("openai_filter_enabled"),
            openai_api_key: r.str("openai_api_key").map(String::from),
            openai_base_url: r
                .str("openai_base_url")
                .unwrap_or("https://api.openai.com/v1")
                .trim_end_matches('/')
                .to_string(),
            default_query_strategy: r.default_query_strategy(),
            miner_timeout: Duration::from_secs(r.int("miner_timeout").clamp(1, 600) as u64),
            max_miners_per_request: r.int("max_miners_per_request").clamp(1, 4096) as usize,
            body_timeout: Duration::from_secs(r.int("body_timeout_seconds").clamp(1, 600) as u64),
            log_text: r
                .str("log_store_text")
                .and_then(|s| s.parse().ok())
                .unwrap_or_default(),
            log_retention_days: r.int("log_retention_days").clamp(0, 36_500) as u32,
            log_max_mb: r.int("log_max_mb").max(0) as u64,
            admin_api_key: r
                .str("admin_api_key")
                .filter(|k| !k.is_empty())
                .map(String::from),
            metrics_require_admin: r.bool("metrics_require_admin"),
        }
    }
}

/// How to re-read the configuration when an operator changes it.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// The config file.
    pub path: PathBuf,
    /// Command-line overrides, re-applied on every reload.
    pub flags: Vec<(String, String)>,
}

impl ConfigSource {
    /// Reads and resolves the config again.
    ///
    /// # Errors
    /// A corrupt file or invalid value.
    pub fn load(&self) -> anyhow::Result<Resolved> {
        let file = ConfigFile::load_for_reload(&self.path)?;
        Ok(Resolved::resolve(&file, crate::cli::env, &self.flags)?)
    }
}

/// Everything the request handlers share.
pub struct AppState {
    /// The database (owned by this process).
    pub store: Arc<Store>,
    /// Current settings.
    settings: RwLock<Arc<Settings>>,
    /// Where settings come from.
    pub config_source: Option<ConfigSource>,
    /// Signs and sends miner queries.
    pub dendrite: Dendrite,
    /// The last good metagraph.
    metagraph: RwLock<Option<Arc<Metagraph>>>,
    /// Per-key rate limiters.
    pub limiters: RateLimiters,
    /// Batched writer of the request log and request counters.
    pub logs: LogSink,
    /// Prometheus metrics.
    pub metrics: super::metrics::Metrics,
    /// HTTP client for the moderation endpoint.
    pub http: reqwest::Client,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.settings())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state.
    ///
    /// # Errors
    /// When no HTTP client for the moderation endpoint can be built.
    pub fn new(
        store: Arc<Store>,
        settings: Settings,
        config_source: Option<ConfigSource>,
        dendrite: Dendrite,
    ) -> reqwest::Result<Self> {
        Ok(AppState {
            store: store.clone(),
            settings: RwLock::new(Arc::new(settings)),
            config_source,
            dendrite,
            metagraph: RwLock::new(None),
            limiters: RateLimiters::new(),
            logs: LogSink::new(store.clone()),
            metrics: super::metrics::Metrics::default(),
            http: crate::tls::build_client(|b| b.timeout(Duration::from_secs(5)))?,
        })
    }

    /// The current settings.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the settings.
    pub fn set_settings(&self, s: Settings) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
    }

    /// Re-reads the config file; on error keeps the current settings and logs why.
    pub fn reload_config(&self) {
        let Some(src) = &self.config_source else {
            return;
        };
        match src.load() {
            Ok(r) => {
                self.set_settings(Settings::from_resolved(&r));
                tracing::info!("configuration reloaded from {}", src.path.display());
            }
            Err(e) => {
                tracing::error!("configuration not reloaded, keeping the previous one: {e:#}")
            }
        }
    }

    /// The last good metagraph, if any.
    pub fn metagraph(&self) -> Option<Arc<Metagraph>> {
        self.metagraph
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Installs a new metagraph snapshot.
    pub fn set_metagraph(&self, m: Metagraph) {
        *self.metagraph.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(m));
    }
}
