//! Keeps the server's metagraph fresh: loads it at start, refreshes it every `metagraph_refresh_seconds`,
//! keeps the last good snapshot on failure and retries with exponential backoff, logging either way.

use std::sync::Arc;
use std::time::Duration;

use super::state::AppState;
use crate::bittensor::metagraph::MetagraphSource;
use crate::config::Resolved;

/// How long one load may take.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The metagraph source the config selects: `metagraph_file` if set, else the subtensor node.
pub fn source_from(r: &Resolved) -> MetagraphSource {
    match r.str("metagraph_file") {
        Some(path) if !path.is_empty() => MetagraphSource::File(path.into()),
        _ => MetagraphSource::Subtensor {
            network: r.str("subtensor_network").unwrap_or("finney").to_string(),
            netuid: u16::try_from(r.int("netuid")).unwrap_or(1),
        },
    }
}

/// Describes a source for logs.
pub fn describe(source: &MetagraphSource) -> String {
    match source {
        MetagraphSource::File(p) => format!("file {}", p.display()),
        MetagraphSource::Subtensor { network, netuid } => {
            format!("subtensor {network}, netuid {netuid}")
        }
    }
}

/// Runs forever (abort the task to stop it).
pub async fn run(state: Arc<AppState>, source: MetagraphSource, refresh: Duration) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match source.load(LOAD_TIMEOUT).await {
            Ok(m) => {
                let serving = m.neurons.iter().filter(|n| n.is_serving()).count();
                tracing::info!(
                    neurons = m.neurons.len(),
                    serving,
                    netuid = m.netuid,
                    "metagraph loaded from {}",
                    describe(&source)
                );
                state.set_metagraph(m);
                backoff = Duration::from_secs(1);
                tokio::time::sleep(refresh).await;
            }
            Err(e) => {
                let kept = if state.metagraph().is_some() {
                    "keeping the last good one"
                } else {
                    "none loaded yet"
                };
                tracing::warn!(
                    "metagraph refresh from {} failed ({kept}); retrying in {backoff:?}: {e}",
                    describe(&source)
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(refresh.max(Duration::from_secs(1)));
            }
        }
    }
}
