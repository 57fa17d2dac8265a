//! The current metagraph, shared by whoever needs it (the API server, the miner), and the one refresher
//! that keeps it fresh.
//!
//! A [`MetagraphCell`] holds an immutable [`MetagraphSnapshot`] (the metagraph, indexed by hotkey);
//! readers take an `Arc` of the current one, so a request in flight keeps the snapshot it started with.
//! [`spawn_refresh`] loads the metagraph at once and then every `every`; a failed load keeps the last
//! good snapshot and is retried with exponential backoff (1 s, 2 s, … up to `every`), logged either way.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::metagraph::{Metagraph, MetagraphSource, Neuron};

/// How long one load may take.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// A metagraph with a hotkey index. Derefs to the [`Metagraph`].
#[derive(Debug)]
pub struct MetagraphSnapshot {
    /// The neurons.
    pub metagraph: Metagraph,
    by_hotkey: HashMap<String, usize>,
}

impl MetagraphSnapshot {
    /// Index `metagraph` by hotkey (the first uid wins if a file lists a hotkey twice).
    pub fn new(metagraph: Metagraph) -> Self {
        let mut by_hotkey = HashMap::with_capacity(metagraph.neurons.len());
        for (i, n) in metagraph.neurons.iter().enumerate() {
            by_hotkey.entry(n.hotkey.clone()).or_insert(i);
        }
        Self {
            metagraph,
            by_hotkey,
        }
    }

    /// The neuron registered with `hotkey`, if any.
    pub fn neuron(&self, hotkey: &str) -> Option<&Neuron> {
        self.by_hotkey
            .get(hotkey)
            .and_then(|&i| self.metagraph.neurons.get(i))
    }
}

impl std::ops::Deref for MetagraphSnapshot {
    type Target = Metagraph;
    fn deref(&self) -> &Metagraph {
        &self.metagraph
    }
}

/// The current view of the subnet; empty until loaded.
#[derive(Debug, Default)]
pub struct MetagraphCell {
    current: RwLock<Option<Arc<MetagraphSnapshot>>>,
}

impl MetagraphCell {
    /// No metagraph yet.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A cell holding `metagraph`.
    pub fn new(metagraph: Metagraph) -> Self {
        let cell = Self::default();
        cell.set(metagraph);
        cell
    }

    /// Replaces the snapshot (requests in flight keep the one they started with).
    pub fn set(&self, metagraph: Metagraph) {
        let snap = Arc::new(MetagraphSnapshot::new(metagraph));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(snap);
    }

    /// The current snapshot, if one was loaded.
    pub fn snapshot(&self) -> Option<Arc<MetagraphSnapshot>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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

/// Keeps `cell` fresh from `source` (see the module doc). Abort the handle to stop.
pub fn spawn_refresh(
    source: MetagraphSource,
    cell: Arc<MetagraphCell>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = every.max(Duration::from_secs(1));
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
                    cell.set(m);
                    backoff = Duration::from_secs(1);
                    tokio::time::sleep(every).await;
                }
                Err(e) => {
                    let kept = if cell.snapshot().is_some() {
                        "keeping the last good one"
                    } else {
                        "none loaded yet"
                    };
                    tracing::warn!(
                        "metagraph refresh from {} failed ({kept}); retrying in {backoff:?}: {e}",
                        describe(&source)
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(every);
                }
            }
        }
    })
}
