//! The server's life: [`start`] builds the shared state, starts the background tasks (metagraph
//! refresher, limiter pruning, log retention, memory trimming, miner health persister, the admin
//! socket) and serves on a listener the caller bound; [`ServerHandle`] stops it in order — stop
//! accepting, drain requests in flight, stop the background tasks, write out the log queue and the
//! miner health, flush the database.
//!
//! `btvep start` is a thin caller (it adds the banner and the devnet); tests can run the whole server
//! in process on a port-0 listener.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::listener::Limits;
use super::state::{AppState, ConfigSource};
use crate::bittensor::dendrite::Dendrite;
use crate::bittensor::keys::Hotkey;
use crate::bittensor::metagraph_cell;
use crate::config::Config;
use crate::routing::Router;
use crate::store::{Store, StoreError};

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listener has no local address.
    #[error("the listener has no address: {0}")]
    Listener(#[from] std::io::Error),
    /// An HTTP client (moderation, miners) could not be built.
    #[error("building an HTTP client failed: {0}")]
    Client(String),
    /// The final flush failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a server is made of, besides its listener.
#[derive(Debug)]
pub struct ServerParts {
    /// The typed configuration in force at start.
    pub config: Config,
    /// Where a reload reads the configuration (none: never reloaded).
    pub config_source: Option<ConfigSource>,
    /// The database, owned by this process.
    pub store: Arc<Store>,
    /// The validator hotkey that signs miner queries.
    pub hotkey: Hotkey,
    /// Where to serve the admin socket (none: no socket).
    pub admin_socket: Option<PathBuf>,
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    state: Arc<AppState>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl ServerHandle {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its shared state.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops it now (as its shutdown future would) and waits until it has stopped.
    ///
    /// # Errors
    /// As [`ServerHandle::wait`].
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }

    /// Waits until the server has stopped (its shutdown future resolved, requests drained, database
    /// flushed).
    ///
    /// # Errors
    /// [`ServerError::Store`] when the final flush failed.
    pub async fn wait(self) -> Result<(), ServerError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(ServerError::Listener(std::io::Error::other(e.to_string()))),
        }
    }
}

/// Starts the server on `listener`; it stops when `shutdown` resolves or [`ServerHandle::shutdown`]
/// is called. Must be called inside a Tokio runtime.
///
/// # Errors
/// [`ServerError::Listener`], [`ServerError::Client`], [`ServerError::Store`] when the credit journal
/// cannot be created.
pub async fn start(
    parts: ServerParts,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<ServerHandle, ServerError> {
    let addr = listener.local_addr()?;
    let config = parts.config;
    // Charges become durable through the credit journal (one append and sync per group of requests)
    // rather than a flush of the whole database.
    parts.store.start_credit_journal(config.charge_sync)?;
    let dendrite = Dendrite::with_protocol(
        parts.hotkey,
        config.miner_protocol,
        &config.miner_path,
        &config.miner_model,
    )
    .map_err(|e| ServerError::Client(e.to_string()))?;
    let router = Arc::new(Router::new(
        parts.store.list_miner_health()?,
        config.cooling_max,
    ));
    let state = Arc::new(
        AppState::new(
            parts.store.clone(),
            config.clone(),
            parts.config_source,
            dendrite,
            router,
        )
        .map_err(|e| ServerError::Client(e.to_string()))?,
    );
    let mut tasks = vec![
        metagraph_cell::spawn_refresh(
            config.metagraph_source.clone(),
            state.metagraph.clone(),
            config.metagraph_refresh,
        ),
        tokio::spawn(prune_limiters(state.clone())),
        tokio::spawn(super::log_retention::run(state.clone())),
        tokio::spawn(super::memory::trim_periodically()),
        tokio::spawn(super::health_persister::run(state.clone())),
    ];
    let (stop_admin, admin_stopped) = oneshot::channel::<()>();
    let admin_task = parts
        .admin_socket
        .map(|socket| tokio::spawn(serve_admin(state.clone(), socket, admin_stopped)));
    let (stop, stopped) = oneshot::channel::<()>();
    let limits = Limits::from_config(&config);
    let serve_state = state.clone();
    let task = tokio::spawn(async move {
        let signal = async move {
            tokio::select! {
                () = shutdown => {}
                _ = stopped => {}
            }
        };
        super::serve(
            listener,
            serve_state.clone(),
            &config.cors_allowed_origins,
            limits,
            signal,
        )
        .await;
        for t in tasks.drain(..) {
            t.abort();
        }
        let _ = stop_admin.send(());
        if let Some(t) = admin_task {
            let _ = t.await;
        }
        serve_state.logs.close();
        let last = serve_state.clone();
        let _ = tokio::task::spawn_blocking(move || last.persist_health()).await;
        serve_state.store.flush()?;
        Ok(())
    });
    Ok(ServerHandle {
        state,
        addr,
        stop: Some(stop),
        task,
    })
}

/// Drops idle keys' rate-limiter state every minute, so memory stays bounded.
async fn prune_limiters(state: Arc<AppState>) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        state.limiters.prune();
    }
}

/// Serves the admin socket: reads see every earlier request's log records (the log queue is written
/// out first), and a config-changed notice reloads the configuration.
async fn serve_admin(state: Arc<AppState>, socket: PathBuf, stopped: oneshot::Receiver<()>) {
    let barrier_state = state.clone();
    let reload_state = state.clone();
    let health_state = state.clone();
    let hooks = crate::admin::Hooks {
        barrier: Arc::new(move || barrier_state.logs.barrier()),
        config_changed: Arc::new(move || reload_state.reload_config()),
        miner_health: Arc::new(move || health_state.persist_health()),
    };
    if let Err(e) = crate::admin::serve(state.store.clone(), &socket, hooks, async {
        let _ = stopped.await;
    })
    .await
    {
        tracing::error!("admin socket {} failed: {e}", socket.display());
    }
}
