//! The admin operations, one type each with its own output type: the CLI, the admin socket and the
//! HTTP admin API all run these, so an operation behaves the same whichever way it arrives, and a
//! caller always gets the output type of the operation it sent — no reply to match.
//!
//! Values are checked when an operation is built (and again when one is read from the socket): see
//! [`crate::store::values`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{AdminError, Operation};
use crate::routing::report::MinerRow;
use crate::store::backup::BackupSummary;
use crate::store::retention::{PruneRequest, PruneSummary, PRUNE_PAUSE};
use crate::store::{ApiKey, KeyPatch, LogFilter, LogRecord, NewKey, Store, StoreError};

/// Liveness check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ping;

impl Operation for Ping {
    type Output = ();
    const NAME: &'static str = "ping";
    fn run(&self, _: &Store) -> Result<(), AdminError> {
        Ok(())
    }
}

/// A newly created key and its full secret (the only time it exists in clear).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Created {
    /// The stored record (without its hash).
    pub key: ApiKey,
    /// The full key.
    pub api_key: String,
}

/// Create a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateKey(pub NewKey);

impl Operation for CreateKey {
    type Output = Created;
    const NAME: &'static str = "create_key";
    const MUTATES: bool = true;
    fn run(&self, store: &Store) -> Result<Created, AdminError> {
        let (key, api_key) = store.create_key(&self.0)?;
        Ok(Created {
            key: key.public(),
            api_key,
        })
    }
}

/// All keys, by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListKeys;

impl Operation for ListKeys {
    type Output = Vec<ApiKey>;
    const NAME: &'static str = "list_keys";
    const READS_LOG_COUNTERS: bool = true;
    fn run(&self, store: &Store) -> Result<Vec<ApiKey>, AdminError> {
        Ok(store.list_keys()?.iter().map(ApiKey::public).collect())
    }
}

/// Find a key by id or full key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FindKey {
    /// Id or full key.
    pub query: String,
}

impl Operation for FindKey {
    type Output = ApiKey;
    const NAME: &'static str = "find_key";
    const READS_LOG_COUNTERS: bool = true;
    fn run(&self, store: &Store) -> Result<ApiKey, AdminError> {
        Ok(store.find_key(&self.query)?.public())
    }
}

/// Edit a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditKey {
    /// Key id.
    pub id: u64,
    /// The change.
    pub patch: KeyPatch,
}

impl Operation for EditKey {
    type Output = ApiKey;
    const NAME: &'static str = "edit_key";
    const MUTATES: bool = true;
    fn run(&self, store: &Store) -> Result<ApiKey, AdminError> {
        Ok(store.edit_key(self.id, &self.patch)?.public())
    }
}

/// Delete a key; returns what was deleted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteKey {
    /// Key id.
    pub id: u64,
}

impl Operation for DeleteKey {
    type Output = ApiKey;
    const NAME: &'static str = "delete_key";
    const MUTATES: bool = true;
    fn run(&self, store: &Store) -> Result<ApiKey, AdminError> {
        Ok(store.delete_key(self.id)?.public())
    }
}

/// Query the request log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryLogs(pub LogFilter);

impl Operation for QueryLogs {
    type Output = Vec<LogRecord>;
    const NAME: &'static str = "query_logs";
    const READS_LOG_COUNTERS: bool = true;
    fn run(&self, store: &Store) -> Result<Vec<LogRecord>, AdminError> {
        Ok(store.query_logs(&self.0)?)
    }
}

/// The config file changed; a running server reloads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigChanged;

impl Operation for ConfigChanged {
    type Output = ();
    const NAME: &'static str = "config_changed";
    fn run(&self, _: &Store) -> Result<(), AdminError> {
        Ok(())
    }
}

/// Remove old log records (on a thread of the lowest CPU priority).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PruneLogs(pub PruneRequest);

impl Operation for PruneLogs {
    type Output = PruneSummary;
    const NAME: &'static str = "prune_logs";
    const READS_LOG_COUNTERS: bool = true;
    const LONG: bool = true;
    fn run(&self, store: &Store) -> Result<PruneSummary, AdminError> {
        let req = &self.0;
        let pruned = std::thread::scope(|s| {
            s.spawn(|| {
                crate::store::retention::lower_this_thread_priority();
                store.prune_logs(req, PRUNE_PAUSE)
            })
            .join()
            .unwrap_or_else(|_| Err(StoreError::Invalid("the prune thread panicked".into())))
        })?;
        Ok(pruned)
    }
}

/// Write a consistent backup of the store to a new file (mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backup {
    /// Where (absolute: the server may run elsewhere in the file system).
    pub path: PathBuf,
    /// Include the request log.
    pub with_logs: bool,
}

impl Operation for Backup {
    type Output = BackupSummary;
    const NAME: &'static str = "backup";
    const READS_LOG_COUNTERS: bool = true;
    const READS_MINER_HEALTH: bool = true;
    const LONG: bool = true;
    fn run(&self, store: &Store) -> Result<BackupSummary, AdminError> {
        super::write_backup_file(store, &self.path, self.with_logs)
    }
}

/// Import a Python btvep database (the process that owns the store reads the file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Import {
    /// The Python database, an absolute path.
    pub path: PathBuf,
    /// How.
    pub options: crate::import::Options,
}

impl Operation for Import {
    type Output = Box<crate::import::Summary>;
    const NAME: &'static str = "import";
    const MUTATES: bool = true;
    const LONG: bool = true;
    fn run(&self, store: &Store) -> Result<Self::Output, AdminError> {
        Ok(Box::new(crate::import::run(
            store,
            &self.path,
            &self.options,
        )?))
    }
}

/// Every known miner's health, best score first (`btvep miners`). A running server writes its live
/// figures first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListMiners;

impl Operation for ListMiners {
    type Output = Vec<MinerRow>;
    const NAME: &'static str = "list_miners";
    const READS_MINER_HEALTH: bool = true;
    fn run(&self, store: &Store) -> Result<Vec<MinerRow>, AdminError> {
        Ok(crate::routing::report::rows(&store.list_miner_health()?))
    }
}

/// Runs the operation named `name` with JSON `args` (as read from the socket), returning its JSON
/// output; the one place that maps names to operations.
///
/// # Errors
/// [`AdminError::Invalid`] for an unknown name or bad arguments; the operation's own errors.
pub fn dispatch(
    name: &str,
    args: serde_json::Value,
    store: &Store,
    hooks: &super::Hooks,
) -> Result<serde_json::Value, AdminError> {
    fn run<O: Operation>(
        args: serde_json::Value,
        store: &Store,
        hooks: &super::Hooks,
    ) -> Result<serde_json::Value, AdminError> {
        let op: O = serde_json::from_value(args)
            .map_err(|e| AdminError::Invalid(format!("bad {} request: {e}", O::NAME)))?;
        let out = super::run_hooked(&op, store, hooks)?;
        serde_json::to_value(out).map_err(|e| AdminError::Internal(e.to_string()))
    }
    match name {
        Ping::NAME => run::<Ping>(args, store, hooks),
        CreateKey::NAME => run::<CreateKey>(args, store, hooks),
        ListKeys::NAME => run::<ListKeys>(args, store, hooks),
        FindKey::NAME => run::<FindKey>(args, store, hooks),
        EditKey::NAME => run::<EditKey>(args, store, hooks),
        DeleteKey::NAME => run::<DeleteKey>(args, store, hooks),
        QueryLogs::NAME => run::<QueryLogs>(args, store, hooks),
        ConfigChanged::NAME => run::<ConfigChanged>(args, store, hooks),
        PruneLogs::NAME => run::<PruneLogs>(args, store, hooks),
        Backup::NAME => run::<Backup>(args, store, hooks),
        Import::NAME => run::<Import>(args, store, hooks),
        ListMiners::NAME => run::<ListMiners>(args, store, hooks),
        other => Err(AdminError::Invalid(format!(
            "unknown admin operation '{other}'"
        ))),
    }
}
