//! The store seam: every key and log operation as a [`Request`], run either on the database directly or,
//! while `btvep start` holds the database, through the server's local admin socket.
//!
//! The socket is `<data dir>/admin.sock`, created by the process that owns the database, with mode 0600
//! inside a 0700 directory, so only the owning user can reach it. The protocol is one JSON request line and
//! one JSON reply line per connection. Because both paths call [`execute`], a CLI command behaves the same
//! whether the server is running or not, and the server sees the change at once.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::store::{ApiKey, KeyPatch, LogFilter, LogRecord, NewKey, Store, StoreError};

/// An operation on the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", content = "args", rename_all = "snake_case")]
pub enum Request {
    /// Liveness check.
    Ping,
    /// Create a key.
    CreateKey(NewKey),
    /// List all keys.
    ListKeys,
    /// Find a key by id or full key.
    FindKey {
        /// Id or full key.
        query: String,
    },
    /// Edit a key.
    EditKey {
        /// Key id.
        id: u64,
        /// The change.
        patch: KeyPatch,
    },
    /// Delete a key.
    DeleteKey {
        /// Key id.
        id: u64,
    },
    /// Query the request log.
    QueryLogs(LogFilter),
    /// The config file changed; a running server reloads it.
    ConfigChanged,
    /// Remove old log records.
    PruneLogs(crate::store::retention::PruneRequest),
    /// Write a consistent backup of the store to a file (created with mode 0600; must not exist).
    Backup {
        /// Where to write it (absolute: the server may run elsewhere in the file system).
        path: PathBuf,
        /// Include the request log.
        with_logs: bool,
    },
    /// Import a Python btvep database (the process that owns the store reads the file).
    Import {
        /// The Python database, an absolute path.
        path: PathBuf,
        /// How.
        options: crate::import::Options,
    },
}

/// The successful result of a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", content = "data", rename_all = "snake_case")]
pub enum Reply {
    /// Answer to [`Request::Ping`] and [`Request::ConfigChanged`].
    Ok,
    /// A newly created key and its full secret.
    Created {
        /// The stored record.
        key: ApiKey,
        /// The full key, shown once.
        api_key: String,
    },
    /// One key.
    Key(ApiKey),
    /// Several keys.
    Keys(Vec<ApiKey>),
    /// Log records.
    Logs(Vec<LogRecord>),
    /// What a prune removed.
    Pruned(crate::store::retention::PruneSummary),
    /// What a backup holds.
    Backup(crate::store::backup::BackupSummary),
    /// What an import did (or would do).
    Imported(Box<crate::import::Summary>),
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

/// Runs a request on an open store.
///
/// # Errors
/// [`AdminError::NotFound`] / [`AdminError::Invalid`] for bad queries, [`AdminError::Internal`] for a
/// broken store.
pub fn execute(store: &Store, req: &Request) -> Result<Reply, AdminError> {
    Ok(match req {
        Request::Ping | Request::ConfigChanged => Reply::Ok,
        Request::CreateKey(new) => {
            let (key, api_key) = store.create_key(new)?;
            Reply::Created {
                key: key.public(),
                api_key,
            }
        }
        Request::ListKeys => Reply::Keys(store.list_keys()?.iter().map(ApiKey::public).collect()),
        Request::FindKey { query } => Reply::Key(store.find_key(query)?.public()),
        Request::EditKey { id, patch } => Reply::Key(store.edit_key(*id, patch)?.public()),
        Request::DeleteKey { id } => Reply::Key(store.delete_key(*id)?.public()),
        Request::QueryLogs(filter) => Reply::Logs(store.query_logs(filter)?),
        Request::PruneLogs(req) => Reply::Pruned(std::thread::scope(|s| {
            // A thread of its own at the lowest CPU priority: requests keep the CPU meanwhile.
            s.spawn(|| {
                crate::store::retention::lower_this_thread_priority();
                store.prune_logs(req, crate::store::retention::PRUNE_PAUSE)
            })
            .join()
            .unwrap_or_else(|_| Err(StoreError::Invalid("the prune thread panicked".into())))
        })?),
        Request::Backup { path, with_logs } => {
            Reply::Backup(write_backup_file(store, path, *with_logs)?)
        }
        Request::Import { path, options } => {
            Reply::Imported(Box::new(crate::import::run(store, path, options)?))
        }
    })
}

/// Writes a backup to a new file with mode 0600, fsynced; a partly written file is removed.
fn write_backup_file(
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
                backend.call(&Request::Ping).map_err(|e| {
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

    /// Runs one request.
    ///
    /// # Errors
    /// As [`execute`]; for the remote case also when the socket cannot be used.
    pub fn call(&self, req: &Request) -> Result<Reply, AdminError> {
        match self {
            Backend::Local(store) => {
                let reply = execute(store, req)?;
                store.flush()?;
                Ok(reply)
            }
            Backend::Remote(socket) => call_socket(socket, req),
        }
    }

    /// Whether requests go to a running server.
    pub fn is_remote(&self) -> bool {
        matches!(self, Backend::Remote(_))
    }
}

fn call_socket(socket: &Path, req: &Request) -> Result<Reply, AdminError> {
    let io =
        |e: std::io::Error| AdminError::Internal(format!("admin socket {}: {e}", socket.display()));
    let mut stream = UnixStream::connect(socket).map_err(io)?;
    // Backups, prunes and imports of large stores take as long as they take; everything else answers
    // in well under 30 s.
    let timeout = match req {
        Request::Backup { .. } | Request::PruneLogs(_) | Request::Import { .. } => None,
        _ => Some(Duration::from_secs(30)),
    };
    stream.set_read_timeout(timeout).map_err(io)?;
    let mut line = serde_json::to_vec(req).expect("requests always serialize");
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).map_err(io)?;
    let result: Result<Reply, AdminError> = serde_json::from_str(&reply)
        .map_err(|e| AdminError::Internal(format!("bad reply from the admin socket: {e}")))?;
    result
}

/// Called by the server after each successful request, so it can apply changes at once.
pub type OnChange = Arc<dyn Fn(&Request, &Reply) + Send + Sync>;

/// Called (on a blocking thread) before each request runs, e.g. to write out queued log records so that
/// a read sees every earlier request.
pub type BeforeRequest = Arc<dyn Fn(&Request) + Send + Sync>;

/// The server's hooks around admin requests.
#[derive(Clone)]
pub struct Hooks {
    /// Before each request.
    pub before: BeforeRequest,
    /// After each successful request.
    pub after: OnChange,
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            before: Arc::new(|_| {}),
            after: Arc::new(|_, _| {}),
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
    let result = match serde_json::from_str::<Request>(&line) {
        Ok(req) => {
            let store = store.clone();
            let req2 = req.clone();
            let before = hooks.before.clone();
            let result = tokio::task::spawn_blocking(move || {
                before(&req2);
                let result = execute(&store, &req2);
                // A change an operator was told about must survive a crash of the server.
                if result.is_ok() && is_mutation(&req2) {
                    store.flush()?;
                }
                result
            })
            .await
            .unwrap_or_else(|e| Err(AdminError::Internal(format!("admin task failed: {e}"))));
            if let Ok(reply) = &result {
                tracing::debug!(op = op_name(&req), "admin request applied");
                (hooks.after)(&req, reply);
            }
            result
        }
        Err(e) => Err(AdminError::Invalid(format!("bad admin request: {e}"))),
    };
    let mut out = serde_json::to_vec(&result).expect("replies always serialize");
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

/// Whether a request changes the store.
pub fn is_mutation(req: &Request) -> bool {
    matches!(
        req,
        Request::CreateKey(_)
            | Request::EditKey { .. }
            | Request::DeleteKey { .. }
            | Request::Import { .. }
    )
}

/// A short name of a request for logs (never its arguments, which may hold a key).
pub fn op_name(req: &Request) -> &'static str {
    match req {
        Request::Ping => "ping",
        Request::CreateKey(_) => "create_key",
        Request::ListKeys => "list_keys",
        Request::FindKey { .. } => "find_key",
        Request::EditKey { .. } => "edit_key",
        Request::DeleteKey { .. } => "delete_key",
        Request::QueryLogs(_) => "query_logs",
        Request::ConfigChanged => "config_changed",
        Request::Backup { .. } => "backup",
        Request::PruneLogs(_) => "prune_logs",
        Request::Import { .. } => "import",
    }
}
