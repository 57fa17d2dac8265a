//! The store seam: every key and log operation is an [`Operation`] type ([`ops`]) with its own output
//! type, run either on the database directly or, while `btvep start` holds the database, through the
//! server's local admin socket — the CLI, the socket and the HTTP admin API share the same operations.
//!
//! The socket is `<data dir>/admin.sock`, created by the process that owns the database, with mode 0600
//! inside a 0700 directory, so only the owning user can reach it. The protocol is one JSON line each way
//! per connection: `{"op": NAME, "args": …}`, answered by `{"ok": OUTPUT}` or `{"error": …}`. Because
//! both paths run the same [`Operation::run`], a CLI command behaves the same whether the server is
//! running or not, and the server sees the change at once.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::store::{Store, StoreError};

pub mod ops;

/// One admin operation: its arguments are the type's fields, its result is [`Operation::Output`].
pub trait Operation: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// What it returns.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// Its name on the socket and in logs (never its arguments, which may hold a key).
    const NAME: &'static str;
    /// It changes the store: flushed before it is acknowledged, so a crash cannot lose it.
    const MUTATES: bool = false;
    /// It reads what requests write in the background (log records, key counters): a server writes
    /// out its queue first.
    const READS_LOG_COUNTERS: bool = false;
    /// It may take minutes (no socket timeout).
    const LONG: bool = false;
    /// It reads the miners' health: a server writes its live figures to the store first.
    const READS_MINER_HEALTH: bool = false;

    /// Runs it on an open store.
    ///
    /// # Errors
    /// [`AdminError::NotFound`] / [`AdminError::Invalid`] for bad input, [`AdminError::Internal`] for
    /// a broken store.
    fn run(&self, store: &Store) -> Result<Self::Output, AdminError>;
}

/// Runs `op` on `store` with the server's hooks around it, flushing after a change.
///
/// # Errors
/// As [`Operation::run`], or a failed flush.
pub fn run_hooked<O: Operation>(
    op: &O,
    store: &Store,
    hooks: &Hooks,
) -> Result<O::Output, AdminError> {
    if O::READS_LOG_COUNTERS {
        (hooks.barrier)();
    }
    if O::READS_MINER_HEALTH {
        (hooks.miner_health)();
    }
    let out = op.run(store)?;
    // A change an operator was told about must survive a crash of the server.
    if O::MUTATES {
        store.flush()?;
    }
    if O::NAME == ops::ConfigChanged::NAME {
        (hooks.config_changed)();
    }
    tracing::debug!(op = O::NAME, "admin request applied");
    Ok(out)
}

/// Errors of the admin layer, as a CLI sees them.
#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", content = "message", rename_all = "snake_case")]
pub enum AdminError {
    /// Nothing matched.
    #[error("{0}")]
    NotFound(String),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// The store or the channel failed.
    #[error("{0}")]
    Internal(String),
}

impl From<crate::import::ImportError> for AdminError {
    fn from(e: crate::import::ImportError) -> Self {
        match e {
            crate::import::ImportError::Store(e) => e.into(),
            other => AdminError::Invalid(other.to_string()),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => AdminError::NotFound(m),
            StoreError::Invalid(m) => AdminError::Invalid(m),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

/// Writes a backup to a new file with mode 0600, fsynced; a partly written file is removed.
pub(crate) fn write_backup_file(
    store: &Store,
    path: &Path,
    with_logs: bool,
) -> Result<crate::store::backup::BackupSummary, AdminError> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| AdminError::Invalid(format!("{}: {e}", path.display()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    let mut out = std::io::BufWriter::new(file);
    let written = store.write_backup(&mut out, with_logs).and_then(|summary| {
        out.into_inner()
            .map_err(|e| StoreError::Invalid(e.to_string()))?
            .sync_all()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(summary)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    Ok(written?)
}

/// How CLI commands reach the store: directly, or through a running server's admin socket.
#[derive(Debug)]
pub enum Backend {
    /// This process opened the database.
    Local(Store),
    /// A server holds the database; requests go through its socket.
    Remote(PathBuf),
}

impl Backend {
    /// Opens the database in `data_dir`, or falls back to `socket` when another process holds it.
    ///
    /// # Errors
    /// When the database cannot be opened and no server answers on the socket.
    pub fn open(data_dir: &Path, socket: &Path) -> Result<Self, AdminError> {
        match Store::open(data_dir) {
            Ok(s) => Ok(Backend::Local(s)),
            Err(StoreError::Locked(db)) => {
                let backend = Backend::Remote(socket.to_path_buf());
                backend.call(&ops::Ping).map_err(|e| {
                    AdminError::Internal(format!(
                        "the database {} is locked by another process, and no btvep server answers on {}: {e}",
                        db.display(),
                        socket.display()
                    ))
                })?;
                Ok(backend)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs one operation and returns its output.
    ///
    /// # Errors
    /// As [`Operation::run`]; for the remote case also when the socket cannot be used.
    pub fn call<O: Operation>(&self, op: &O) -> Result<O::Output, AdminError> {
        match self {
            Backend::Local(store) => {
                let out = op.run(store)?;
                store.flush()?;
                Ok(out)
            }
            Backend::Remote(socket) => call_socket(socket, op),
        }
    }

    /// Whether requests go to a running server.
    pub fn is_remote(&self) -> bool {
        matches!(self, Backend::Remote(_))
    }
}

/// What the socket sends back: the output, or the error.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer<T> {
    Ok(T),
    Error(AdminError),
}

/// One request line on the socket.
#[derive(Serialize, Deserialize)]
struct Envelope<A> {
    op: String,
    args: A,
}

fn call_socket<O: Operation>(socket: &Path, op: &O) -> Result<O::Output, AdminError> {
    let io =
        |e: std::io::Error| AdminError::Internal(format!("admin socket {}: {e}", socket.display()));
    let mut stream = UnixStream::connect(socket).map_err(io)?;
    // Backups, prunes and imports of large stores take as long as they take; everything else answers
    // in well under 30 s.
    let timeout = (!O::LONG).then(|| Duration::from_secs(30));
    stream.set_read_timeout(timeout).map_err(io)?;
    let mut line = serde_json::to_vec(&Envelope {
        op: O::NAME.to_string(),
        args: op,
    })
    .map_err(|e| AdminError::Internal(e.to_string()))?;
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).map_err(io)?;
    match serde_json::from_str::<Answer<O::Output>>(&reply)
        .map_err(|e| AdminError::Internal(format!("bad reply from the admin socket: {e}")))?
    {
        Answer::Ok(out) => Ok(out),
        Answer::Error(e) => Err(e),
    }
}

/// What a server does around admin operations (run on a blocking thread).
#[derive(Clone)]
pub struct Hooks {
    /// Before an operation that reads log records or key counters: write out the queued ones.
    pub barrier: Arc<dyn Fn() + Send + Sync>,
    /// After [`ops::ConfigChanged`]: reload the configuration.
    pub config_changed: Arc<dyn Fn() + Send + Sync>,
    /// Before an operation that reads miner health: write the live figures to the store.
    pub miner_health: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").finish_non_exhaustive()
    }
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            barrier: Arc::new(|| {}),
            config_changed: Arc::new(|| {}),
            miner_health: Arc::new(|| {}),
        }
    }
}

/// Serves the admin socket at `socket` until `shutdown` resolves. The caller owns the database.
///
/// Any stale socket file is replaced (only the process holding the database lock calls this).
///
/// # Errors
/// When the socket cannot be bound.
pub async fn serve(
    store: Arc<Store>,
    socket: &Path,
    hooks: Hooks,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let _ = std::fs::remove_file(socket);
    let listener = tokio::net::UnixListener::bind(socket)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    }
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("admin socket accept failed: {e}");
                        continue;
                    }
                };
                let store = store.clone();
                let hooks = hooks.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle(stream, store, hooks).await {
                        tracing::warn!("admin connection failed: {e}");
                    }
                });
            }
        }
    }
    let _ = std::fs::remove_file(socket);
    Ok(())
}

async fn handle(
    stream: tokio::net::UnixStream,
    store: Arc<Store>,
    hooks: Hooks,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    tokio::io::BufReader::new(read).read_line(&mut line).await?;
    let answer = match serde_json::from_str::<Envelope<serde_json::Value>>(&line) {
        Ok(env) => {
            tokio::task::spawn_blocking(move || ops::dispatch(&env.op, env.args, &store, &hooks))
                .await
                .unwrap_or_else(|e| Err(AdminError::Internal(format!("admin task failed: {e}"))))
        }
        Err(e) => Err(AdminError::Invalid(format!("bad admin request: {e}"))),
    };
    let answer = match answer {
        Ok(v) => Answer::Ok(v),
        Err(e) => Answer::Error(e),
    };
    let mut out = serde_json::to_vec(&answer).expect("answers always serialize");
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}
