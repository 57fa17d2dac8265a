//! `btvep start --devnet N`: a complete local subnet in one process, for trying btvep on one machine.
//!
//! N miners run in-process on loopback ports with throwaway hotkeys, answering through the configured
//! OpenAI-compatible model server or the built-in (clearly labelled) responder. A metagraph file lists
//! them and the validator hotkey, and the gateway reads it like any other metagraph file. Every query
//! still travels over the real signed protocol: the synapse (dendrite→axon) by default, or btauth/Epistula
//! with `--devnet-protocol`.
//!
//! State lives in `<data dir>/devnet/`: `metagraph.json` (rewritten on every start, since ports change)
//! and `api_key` (mode 0600), the devnet's own API key, reused across restarts while it stays valid.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::bittensor::keys::Hotkey;
use crate::bittensor::metagraph::{Metagraph, Neuron};
use crate::miner::{self, MetagraphCell, MinerProtocol, MinerSettings, ModelBackend};
use crate::store::{NewKey, Store};

/// The devnet's state directory inside a data directory.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("devnet")
}

/// The metagraph file the devnet writes.
pub fn metagraph_path(data_dir: &Path) -> PathBuf {
    dir(data_dir).join("metagraph.json")
}

/// Running devnet miners.
pub struct Devnet {
    /// `(uid, hotkey, address)` of each miner.
    pub miners: Vec<(u16, String, SocketAddr)>,
    stop: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("miners", &self.miners)
            .finish_non_exhaustive()
    }
}

/// Starts `n` miners on 127.0.0.1 and writes the metagraph (miners as uids 0..n with falling incentive,
/// the validator as uid n with a validator permit and stake, so miners accept its queries).
///
/// # Errors
/// When a port cannot be bound or the metagraph file cannot be written.
pub async fn launch(
    data_dir: &Path,
    n: usize,
    validator_ss58: &str,
    backend: ModelBackend,
) -> anyhow::Result<Devnet> {
    launch_with(data_dir, n, validator_ss58, backend, MinerProtocol::Synapse).await
}

/// [`launch`] with miners speaking `protocol` (the gateway must use the same `miner_protocol`).
///
/// # Errors
/// As [`launch`].
pub async fn launch_with(
    data_dir: &Path,
    n: usize,
    validator_ss58: &str,
    backend: ModelBackend,
    protocol: MinerProtocol,
) -> anyhow::Result<Devnet> {
    anyhow::ensure!(
        (1..=256).contains(&n),
        "--devnet takes 1 to 256 miners, got {n}"
    );
    crate::store::create_private_dir(&dir(data_dir))?;
    let mut listeners = Vec::with_capacity(n);
    let mut neurons = Vec::with_capacity(n + 1);
    let mut hotkeys = Vec::with_capacity(n);
    for uid in 0..n {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a devnet miner port")?;
        let addr = listener.local_addr()?;
        let (hotkey, _mnemonic) = Hotkey::generate()?;
        let uid16 = u16::try_from(uid).unwrap_or(u16::MAX);
        let mut neuron = Neuron::new(uid16, hotkey.ss58(), addr.ip().to_string(), addr.port());
        neuron.incentive = 1.0 - (uid as f64) / (n as f64 + 1.0);
        neuron.stake = 10.0;
        neuron.active = true;
        neurons.push(neuron);
        listeners.push((listener, addr));
        hotkeys.push(hotkey);
    }
    let mut validator = Neuron::new(
        u16::try_from(n).unwrap_or(u16::MAX),
        validator_ss58,
        "0.0.0.0",
        0,
    );
    validator.validator_permit = true;
    validator.stake = 1000.0;
    validator.active = true;
    neurons.push(validator);
    let metagraph = Metagraph {
        netuid: 1,
        neurons,
        block: None,
        fetched_at: chrono::Utc::now(),
    };
    let path = metagraph_path(data_dir);
    std::fs::write(&path, metagraph.to_file_json())
        .with_context(|| format!("writing {}", path.display()))?;

    let cell = Arc::new(MetagraphCell::new(metagraph.clone()));
    let mut devnet = Devnet {
        miners: Vec::new(),
        stop: Vec::new(),
        tasks: Vec::new(),
    };
    for ((listener, addr), hotkey) in listeners.into_iter().zip(hotkeys) {
        let uid = devnet.miners.len() as u16;
        devnet.miners.push((uid, hotkey.ss58().to_string(), addr));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let settings = MinerSettings {
            backend: backend.clone(),
            protocol,
            ..Default::default()
        };
        let cell = cell.clone();
        devnet.tasks.push(tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = miner::serve(listener, settings, hotkey, cell, shutdown).await {
                tracing::error!(uid, "devnet miner stopped: {e}");
            }
        }));
        devnet.stop.push(tx);
    }
    Ok(devnet)
}

impl Devnet {
    /// Stops the miners (they finish in-flight requests first).
    pub async fn stop(self) {
        for tx in self.stop {
            let _ = tx.send(());
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The devnet's API key: the saved one if it is still usable, else a new unlimited key (saved, 0600).
///
/// # Errors
/// When the store or the key file fails.
pub fn api_key(store: &Store, data_dir: &Path) -> anyhow::Result<(String, bool)> {
    let file = dir(data_dir).join("api_key");
    if let Ok(saved) = std::fs::read_to_string(&file) {
        let saved = saved.trim().to_string();
        if let Some(k) = store.key_by_secret(&saved)? {
            if k.enabled && !k.is_expired(chrono::Utc::now().timestamp()) && k.credits != 0 {
                return Ok((saved, true));
            }
        }
    }
    let (_, secret) = store.create_key(&NewKey {
        name: Some("devnet".into()),
        valid_until: crate::store::values::Expiry::Never,
        credits: crate::store::values::Credits::UNLIMITED,
        enabled: true,
        default_query_strategy: None,
    })?;
    store.flush()?;
    crate::store::create_private_dir(&dir(data_dir))?;
    write_private(&file, &secret)?;
    Ok((secret, false))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "{text}")?;
    Ok(())
}
