//! The server's shared state and the settings it reads on every request.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::logsink::LogSink;
use crate::bittensor::dendrite::Dendrite;
use crate::bittensor::metagraph_cell::{MetagraphCell, MetagraphSnapshot};
use crate::config::{Config, ConfigFile, Resolved};
use crate::ratelimit::RateLimiters;
use crate::routing::Router;
use crate::store::Store;

/// The request-time settings: the typed config, replaced whole on reload.
pub type Settings = Config;

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
        Ok(Resolved::resolve(
            &file,
            crate::config::process_env,
            &self.flags,
        )?)
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
    /// Signs and sends miner queries; reports every attempt to `router`'s health.
    pub dendrite: Dendrite,
    /// Per-miner health, `best:N` selection and hedging (persisted by a background task).
    pub router: Arc<Router>,
    /// The last good metagraph (kept fresh by the refresher the server starts).
    pub metagraph: Arc<MetagraphCell>,
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
    /// Builds the state; `router` (loaded from the store's miner health) observes `dendrite`'s
    /// attempts from now on.
    ///
    /// # Errors
    /// When no HTTP client for the moderation endpoint can be built.
    pub fn new(
        store: Arc<Store>,
        settings: Settings,
        config_source: Option<ConfigSource>,
        dendrite: Dendrite,
        router: Arc<Router>,
    ) -> reqwest::Result<Self> {
        dendrite.observe(router.health().clone());
        Ok(AppState {
            router,
            store: store.clone(),
            settings: RwLock::new(Arc::new(settings)),
            config_source,
            dendrite,
            metagraph: Arc::new(MetagraphCell::empty()),
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
        self.router.health().set_cool_max(s.cooling_max);
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
    }

    /// Writes the miners' live health figures to the store (before an admin operation reads them).
    pub fn persist_health(&self) {
        if let Err(e) = self.router.persist(&self.store) {
            tracing::error!("writing miner health failed: {e}");
        }
    }

    /// Re-reads the config file; on error keeps the current settings and logs why.
    pub fn reload_config(&self) {
        let Some(src) = &self.config_source else {
            return;
        };
        match src.load() {
            Ok(r) => {
                self.set_settings(Config::from_resolved(&r));
                tracing::info!("configuration reloaded from {}", src.path.display());
            }
            Err(e) => {
                tracing::error!("configuration not reloaded, keeping the previous one: {e:#}")
            }
        }
    }

    /// The last good metagraph, if any.
    pub fn metagraph(&self) -> Option<Arc<MetagraphSnapshot>> {
        self.metagraph.snapshot()
    }
}
