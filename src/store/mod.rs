//! The embedded sled database: API keys (with atomic credit operations) and the request log.
//!
//! # Layout
//! | tree | key | value |
//! |---|---|---|
//! | `keys` | key id, u64 big-endian | [`ApiKey`] as JSON |
//! | `key_hashes` | SHA-256 of the API key (32 bytes) | key id, u64 big-endian |
//! | `logs` | timestamp µs BE ‖ record id BE | [`LogRecord`] as JSON |
//! | `logs_by_key` | key id BE ‖ timestamp µs BE ‖ record id BE | empty |
//! | `logs_by_hotkey` | hotkey UTF-8 ‖ 0x00 ‖ timestamp µs BE ‖ record id BE | empty |
//! | `meta` | counter name (and `format_version`, see [`version`]) | u64 big-endian |
//! | `meta` | counter name | u64 big-endian |
//! | `meta` | `import_in_progress` | [`ImportMarker`] as JSON, while an import writes its history |
//! | `miner_health` | miner hotkey UTF-8 | [`MinerHealthRecord`] as JSON (absent in older stores = no health yet) |
//!
//! sled lets one process open a database at a time. While `btvep start` holds it, CLI commands reach it
//! through the server's local admin socket (see [`crate::admin`]); [`StoreError::Locked`] is how they learn
//! they must.

pub mod backup;
mod durable;
mod import;
pub mod journal;
mod keys;
mod logs;
pub mod miner_health;
pub mod retention;
pub mod values;
pub mod version;

pub use durable::GroupCommit;
pub use import::{ImportMarker, KeyImport, WrittenLog};
pub use keys::{generate_api_key, hash_api_key, ApiKey, KeyPatch, NewKey, Reservation, Spend};
pub use logs::{cap_log_text, LogCursor, LogFilter, LogRecord, LOG_TEXT_MAX_BYTES};
pub use miner_health::{FailureNote, HealthState, MinerHealthRecord};

use std::path::{Path, PathBuf};

/// Errors of the storage layer. *Not found* and *invalid input* are told apart from a broken store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (normally `btvep start`) holds the database lock.
    #[error("the database in {0} is in use by another process")]
    Locked(PathBuf),
    /// No record matches the query.
    #[error("{0}")]
    NotFound(String),
    /// The request is not valid (e.g. a bad argument).
    #[error("{0}")]
    Invalid(String),
    /// The store was written by a newer btvep.
    #[error("the database in {path} was written by a newer btvep (store format {found}); this btvep ({version}) reads store format {supported} at most: upgrade btvep", path = path.display(), version = env!("CARGO_PKG_VERSION"), supported = version::FORMAT_VERSION)]
    TooNew {
        /// The data directory.
        path: PathBuf,
        /// The format it records.
        found: u64,
    },
    /// The store changed under an operation that needed it unchanged (e.g. an import's plan); nothing
    /// was written, and the operation can be tried again.
    #[error("{0}")]
    Conflict(String),
    /// A stored record could not be decoded.
    #[error("corrupt record in the database: {0}")]
    Corrupt(String),
    /// The database itself failed.
    #[error("database error: {0}")]
    Db(#[from] sled::Error),
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => StoreError::Db(e),
        }
    }
}

/// The database page cache size. Small on purpose: the hot data (keys, the newest log pages) is a
/// few megabytes, and every cached page is resident memory (docs/benchmarks.md, "One core, two hops").
pub const CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// An open btvep database.
pub struct Store {
    db: sled::Db,
    keys: sled::Tree,
    key_hashes: sled::Tree,
    logs: sled::Tree,
    logs_by_key: sled::Tree,
    logs_by_hotkey: sled::Tree,
    meta: sled::Tree,
    miner_health: sled::Tree,
    /// Key writes hold it shared; a backup holds it exclusively while it reads the keys, so the balances
    /// it saves are those of one instant.
    key_gate: std::sync::RwLock<()>,
    /// Started on first use: the CLI never needs it, the server does on every charged request.
    group_commit: std::sync::OnceLock<GroupCommit>,
    /// The credit journal, when a server started it ([`Store::start_credit_journal`]).
    journal: std::sync::OnceLock<std::sync::Arc<journal::Journal>>,
    data_dir: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`; the directory is created with mode 0700.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process has it open, [`StoreError::Db`] otherwise.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        create_private_dir(data_dir).map_err(|e| StoreError::Db(sled::Error::Io(e)))?;
        let db_path = data_dir.join("db");
        let db = sled::Config::new()
            .path(&db_path)
            .mode(sled::Mode::HighThroughput)
            // sled's default page cache is 1 GiB; a long-running server should not grow that far.
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if is_lock_error(io) => StoreError::Locked(db_path.clone()),
                other => StoreError::Db(other),
            })?;
        Ok(Store {
            keys: db.open_tree("keys")?,
            key_hashes: db.open_tree("key_hashes")?,
            logs: db.open_tree("logs")?,
            logs_by_key: db.open_tree("logs_by_key")?,
            logs_by_hotkey: db.open_tree("logs_by_hotkey")?,
            meta: db.open_tree("meta")?,
            miner_health: db.open_tree("miner_health")?,
            group_commit: std::sync::OnceLock::new(),
            journal: std::sync::OnceLock::new(),
            key_gate: std::sync::RwLock::new(()),
            data_dir: data_dir.to_path_buf(),
            db,
        })
        .and_then(|store| {
            version::check_and_upgrade(&store, data_dir)?;
            store.replay_credit_journal()?;
            Ok(store)
        })
    }

    /// Applies the balances a crashed server left in the credit journal (see [`journal`]), then
    /// flushes and removes the journal files.
    fn replay_credit_journal(&self) -> Result<(), StoreError> {
        let entries = journal::read_all(&self.data_dir)?;
        if entries.is_empty() {
            return journal::remove_all(&self.data_dir);
        }
        let mut applied = 0usize;
        for e in &entries {
            if self.apply_journal_entry(e)? {
                applied += 1;
            }
        }
        self.db.flush()?;
        journal::remove_all(&self.data_dir)?;
        if applied > 0 {
            tracing::warn!(
                applied,
                "restored balances the last run had charged but not yet written (credit journal)"
            );
        }
        Ok(())
    }

    /// Makes balance changes go through the credit journal: [`Store::durable`] then appends the
    /// journal (with [`journal::ChargeSync::Disk`], and syncs it in a group commit) instead of flushing
    /// the database. Servers call it once at start.
    ///
    /// # Errors
    /// [`StoreError::Db`] when the journal file cannot be created.
    pub fn start_credit_journal(&self, sync: journal::ChargeSync) -> Result<(), StoreError> {
        if self.journal.get().is_some() {
            return Ok(());
        }
        let j = journal::Journal::start(&self.data_dir, self.db.clone(), sync)?;
        let flusher = j.clone();
        if self.journal.set(j).is_ok() && sync == journal::ChargeSync::Disk {
            let _ = self
                .group_commit
                .set(GroupCommit::start(move || flusher.write_pending()));
        }
        Ok(())
    }

    /// Writes everything to disk; call before exiting.
    ///
    /// # Errors
    /// [`StoreError::Db`] when the flush fails.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Waits until every write made before the call is durable. With a credit journal (a server), that
    /// means the balance changes: written to the journal (`charge_sync = os`), or written and synced
    /// in a group commit shared with every caller waiting at the same time (`disk`). Without one, the
    /// whole database is flushed in a group commit (see [`GroupCommit`]).
    ///
    /// # Errors
    /// [`StoreError::Db`] when the flush fails.
    pub async fn durable(&self) -> Result<(), StoreError> {
        if let Some(j) = self.journal.get() {
            if j.sync() == journal::ChargeSync::Os {
                // a write of a few entries to the operating system: no thread hand-off needed
                return j.write_pending();
            }
        }
        self.group_commit
            .get_or_init(|| {
                let db = self.db.clone();
                GroupCommit::start(move || {
                    db.flush()?;
                    Ok(())
                })
            })
            .durable()
            .await
    }

    /// Atomically increments a named counter and returns the new value (starting at 1).
    fn next_id(&self, counter: &str) -> Result<u64, StoreError> {
        let v = self.meta.update_and_fetch(counter, |old| {
            let n = old.map(be_u64).unwrap_or(0) + 1;
            Some(n.to_be_bytes().to_vec())
        })?;
        Ok(v.as_deref().map(be_u64).unwrap_or(1))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(j) = self.journal.get() {
            j.stop();
        }
        match self.db.flush() {
            // everything the journal holds is now in the database
            Ok(_) if self.journal.get().is_some() => {
                if let Err(e) = journal::remove_all(&self.data_dir) {
                    tracing::error!("removing the credit journal failed: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!("flushing the database failed: {e}"),
        }
    }
}

/// Decodes a big-endian u64 from the first 8 bytes (0 when shorter).
pub(crate) fn be_u64(b: &[u8]) -> u64 {
    b.get(..8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

fn is_lock_error(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("lock")
}

/// Creates `dir` (and parents) and restricts it to the owner, because it holds keys and the admin socket.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
