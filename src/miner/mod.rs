//! `btvep miner`: a `Prompting` miner (axon) backed by an OpenAI-compatible model server, or by a clearly labelled
//! built-in responder for development.
//!
//! The server answers `POST /Prompting` (and GET, like the SDK's route) with the SDK axon's pipeline (spec §2.5):
//! route (404) → header synapse (500) → blacklist (403, [`blacklist`]) → signature over the miner's own hotkey and
//! nonce rules with replay rejection (401) → body hash (500) → priority by caller stake ([`priority`]; 408 when the
//! wait outlasts the request's `timeout`) → model call ([`model`]; failures are 500 with a clear message).
//! Answers use the 10.x shapes of §2.9 and are accepted by 6.x and 10.x dendrites.
//!
//! With [`MinerProtocol::Btauth`] or [`MinerProtocol::Epistula`] it serves an OpenAI `POST /v1/chat/completions`
//! instead (plain and streamed): auth headers (400/403/401) → size cap (413) → signature over the raw body and
//! replay (401) → blacklist (403) → priority → the backend call, relayed as it arrives.
//!
//! # Embedding (e.g. a local devnet)
//! Bind a listener, then run [`serve`] (or [`Miner::new`] + [`Miner::serve`] to observe the queue):
//! ```no_run
//! # async fn ex() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use btvep::bittensor::keys::Hotkey;
//! use btvep::miner::{serve, MetagraphCell, MinerSettings, ModelBackend};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (hotkey, _mnemonic) = Hotkey::generate()?;
//! let settings = MinerSettings { backend: ModelBackend::Builtin, ..MinerSettings::default() };
//! let metagraph = Arc::new(MetagraphCell::empty()); // or MetagraphCell::new(metagraph)
//! serve(listener, settings, hotkey, metagraph, std::future::pending()).await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::bittensor::metagraph::MetagraphSource;

pub mod blacklist;
pub mod model;
mod openai_api;
pub mod priority;
mod server;

pub use crate::bittensor::protocol::MinerProtocol;

pub use server::{serve, Miner, SHUTDOWN_GRACE};

/// Timeout assumed when a request has no usable `timeout` header (the SDK synapse's default, 12 s).
pub const DEFAULT_TIMEOUT_SECS: f64 = 12.0;
/// Upper bound on the `timeout` header honoured for queueing and the model call, so one caller cannot pin a slot
/// for hours.
pub const MAX_TIMEOUT_SECS: f64 = 300.0;
/// Largest request body read (larger ones get 413); a `Prompting` body is a chat transcript.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The label every built-in answer starts with, so nobody mistakes it for a model's output.
pub const BUILTIN_LABEL: &str = "[btvep built-in responder, not a language model]";

/// Errors that stop the miner from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    /// A setting is unusable (e.g. `max_concurrency` 0 or a bad base URL).
    #[error("invalid miner setting: {0}")]
    Settings(String),
    /// The HTTP client for the model server could not be built.
    #[error("cannot build the model-server HTTP client: {0}")]
    Client(String),
    /// The listener is unusable.
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
}

/// Everything the miner server needs besides its hotkey, listener and metagraph.
#[derive(Debug, Clone)]
pub struct MinerSettings {
    /// Where completions come from.
    pub backend: ModelBackend,
    /// Who may call (checked against the metagraph).
    pub blacklist: BlacklistSettings,
    /// Model calls in flight at most (`--miner.max_concurrency`); further callers wait, higher stake first.
    pub max_concurrency: usize,
    /// The protocol served (`--protocol`): the `Prompting` synapse, or an OpenAI API signed with btauth/Epistula.
    pub protocol: MinerProtocol,
}

impl Default for MinerSettings {
    fn default() -> Self {
        Self {
            backend: ModelBackend::OpenAi(OpenAiSettings::default()),
            blacklist: BlacklistSettings::default(),
            max_concurrency: 16,
            protocol: MinerProtocol::Synapse,
        }
    }
}

/// The model behind the miner.
#[derive(Debug, Clone)]
pub enum ModelBackend {
    /// An OpenAI-compatible `POST {base_url}/chat/completions` (OpenAI, vLLM, llama.cpp server, Ollama, …).
    OpenAi(OpenAiSettings),
    /// A development responder needing no model server; every answer starts with [`BUILTIN_LABEL`].
    Builtin,
}

impl ModelBackend {
    /// One line for logs and the start banner (never includes the API key).
    pub fn describe(&self) -> String {
        match self {
            ModelBackend::OpenAi(o) => format!("model {} at {}", o.model_name, o.base_url),
            ModelBackend::Builtin => "built-in responder (not a language model)".to_string(),
        }
    }
}

/// The seed `OpenAIMiner.add_args` options (same defaults) plus the server address and key.
#[derive(Clone, PartialEq)]
pub struct OpenAiSettings {
    /// Base URL up to the API version, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// Bearer token (`OPENAI_API_KEY`); `None` sends no `Authorization` header (local servers).
    pub api_key: Option<String>,
    /// `--openai.model_name` (`gpt-3.5-turbo`).
    pub model_name: String,
    /// `--openai.max_tokens` (100).
    pub max_tokens: u32,
    /// `--openai.temperature` (0.4).
    pub temperature: f64,
    /// `--openai.top_p` (1).
    pub top_p: f64,
    /// `--openai.n` (1); the completion is always `choices[0]`.
    pub n: u32,
    /// `--openai.presence_penalty` (0.1).
    pub presence_penalty: f64,
    /// `--openai.frequency_penalty` (0.1).
    pub frequency_penalty: f64,
    /// `--openai.suffix`: text appended to every completion (the chat API has no `suffix` parameter).
    pub suffix: Option<String>,
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".to_string(),
            api_key: None,
            model_name: "gpt-3.5-turbo".to_string(),
            max_tokens: 100,
            temperature: 0.4,
            top_p: 1.0,
            n: 1,
            presence_penalty: 0.1,
            frequency_penalty: 0.1,
            suffix: None,
        }
    }
}

impl fmt::Debug for OpenAiSettings {
    // The API key is a secret: show only whether one is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("base_url", &self.base_url)
            .field(
                "api_key",
                &self.api_key.as_ref().map(|_| crate::config::MASK),
            )
            .field("model_name", &self.model_name)
            .field("max_tokens", &self.max_tokens)
            .field("temperature", &self.temperature)
            .field("top_p", &self.top_p)
            .field("n", &self.n)
            .field("presence_penalty", &self.presence_penalty)
            .field("frequency_penalty", &self.frequency_penalty)
            .field("suffix", &self.suffix)
            .finish()
    }
}

/// The base miner's blacklist options (`--miner.blacklist.*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlacklistSettings {
    /// Hotkeys always allowed (checked first; no metagraph needed).
    pub whitelist: Vec<String>,
    /// Hotkeys always refused.
    pub blacklist: Vec<String>,
    /// Allow callers that are not registered in the metagraph (default false).
    pub allow_non_registered: bool,
    /// Require a validator permit (default false).
    pub force_validator_permit: bool,
    /// Minimum caller stake in TAO (default 0.0).
    pub minimum_stake_requirement: f64,
}

/// Whether `base_url` points at this machine (127.0.0.0/8, `localhost`, `::1`): such servers need no API key.
pub fn is_local_base_url(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // IPv6 hosts come bracketed (`[::1]`).
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

pub use crate::bittensor::metagraph_cell::{MetagraphCell, MetagraphSnapshot};

/// Reloads the metagraph from `source` every `every` in the background — the one refresher the server
/// uses too ([`crate::bittensor::metagraph_cell::spawn_refresh`]). Abort the returned handle to stop.
pub fn spawn_metagraph_refresh(
    source: MetagraphSource,
    cell: Arc<MetagraphCell>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    crate::bittensor::metagraph_cell::spawn_refresh(source, cell, every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_urls() {
        for u in [
            "http://127.0.0.1:8000/v1",
            "http://127.3.2.1/v1",
            "http://localhost:11434/v1",
            "http://LOCALHOST/v1",
            "http://[::1]:8080/v1",
        ] {
            assert!(is_local_base_url(u), "{u}");
        }
        for u in [
            "https://api.openai.com/v1",
            "http://10.0.0.1/v1",
            "http://localhost.evil.com/v1",
            "not a url",
        ] {
            assert!(!is_local_base_url(u), "{u}");
        }
    }

    #[test]
    fn api_key_not_in_debug() {
        let o = OpenAiSettings {
            api_key: Some("sk-secret".into()),
            ..OpenAiSettings::default()
        };
        assert!(!format!("{o:?}").contains("sk-secret"));
    }
}
