//! `btvep import`: bringing a Python btvep installation (its SQLite database, and its `config.json`)
//! over, with every customer's key still working.
//!
//! # Layout
//! - [`sqlite`]: opening the Python database read-only, checking its schema, streaming its rows.
//! - [`map`]: one Python row to one btvep record, and what makes a row bad or worth a warning.
//! - [`pyconfig`]: the Python `config.json` to btvep config values.
//! - this module: [`run`], which plans the import (ids, conflicts, bad rows) and applies it.
//!
//! # Atomicity
//! Everything is read and checked before anything is written: a bad row, an unreadable file or a
//! database that is not btvep's changes nothing. The keys are then committed in one sled transaction
//! (with the id counter and an in-progress marker), and the history in batches; if writing the history
//! fails, the history written so far and the keys are removed again, so a failed run leaves the store as
//! it was. If the process dies while the history is written, the keys are in, the marker stays, and
//! running the same import again completes it (keys are recognised by their hash, each log row lands on
//! the same entry — see [`map::log_id`]).
//!
//! # Secrets
//! The Python database holds every key in plaintext. Only its SHA-256 and hint are stored; plaintexts
//! live in memory for the run (to link the history) and never reach output, logs or errors.

pub mod map;
pub mod pyconfig;
pub mod sqlite;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::store::{ApiKey, ImportMarker, KeyImport, LogRecord, Store, StoreError, WrittenLog};
use sqlite::{Shape, Source};

/// Errors of an import. Every one means nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is missing, a directory, or not readable.
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is not an SQLite database.
    #[error("{} is not an SQLite database", .0.display())]
    NotSqlite(PathBuf),
    /// An SQLite database without btvep's tables or columns.
    #[error("{} is not a Python btvep database: {reason}", path.display())]
    NotBtvep {
        /// The file.
        path: PathBuf,
        /// Which table or column is missing.
        reason: String,
    },
    /// SQLite failed while reading.
    #[error("reading {} failed: {message}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's message.
        message: String,
    },
    /// Rows with impossible values, and `--skip-bad-rows` was not given.
    #[error("nothing imported: {count} row(s) with impossible values: {list}; fix them in the Python database or pass --skip-bad-rows to import the rest")]
    BadRows {
        /// How many.
        count: usize,
        /// The first few, as `table id: reason`.
        list: String,
    },
    /// The Python `config.json` cannot be used.
    #[error("Python config {}: {reason}", path.display())]
    PythonConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The btvep store failed (when writing, after which the import was rolled back).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How to import.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Options {
    /// Plan and report only; change nothing.
    pub dry_run: bool,
    /// Overwrite keys already present (same secret) with the Python values, instead of skipping them.
    pub update: bool,
    /// Import the good rows when some are bad, instead of importing nothing.
    pub skip_bad_rows: bool,
}

/// What happened to one Python key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Imported under its Python id.
    Imported,
    /// Imported under a new id (its Python id was taken).
    Renumbered,
    /// The same key was already in the store; left as it is.
    AlreadyPresent,
    /// The same key was already in the store; overwritten with the Python values (`--update`).
    Updated,
    /// A bad row, not imported (`--skip-bad-rows`).
    Bad,
}

/// One Python key's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyOutcome {
    /// `apikey.id` in the Python database.
    pub source_id: i64,
    /// Its id in btvep (none for a bad row).
    pub id: Option<u64>,
    /// What happened.
    pub status: KeyStatus,
}

/// Counts for the `apikey` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyCounts {
    /// Rows in the Python table.
    pub in_source: u64,
    /// Imported (under their own or a new id).
    pub imported: u64,
    /// Of those, imported under a new id.
    pub renumbered: u64,
    /// Already present and skipped.
    pub already_present: u64,
    /// Already present and overwritten (`--update`).
    pub updated: u64,
    /// Bad rows skipped.
    pub bad: u64,
}

/// Counts for the `request` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogCounts {
    /// Rows in the Python table.
    pub in_source: u64,
    /// Written to the btvep log.
    pub imported: u64,
    /// Already in the btvep log (an earlier import) and skipped.
    pub already_present: u64,
    /// Of the imported, rows whose key no longer exists in the Python database (imported without a key).
    pub without_key: u64,
    /// Rows of keys skipped as bad rows, not imported.
    pub of_bad_keys: u64,
    /// Bad rows skipped.
    pub bad: u64,
}

/// A row that cannot be imported.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BadRow {
    /// `apikey` or `request`.
    pub table: String,
    /// The row's id.
    pub id: i64,
    /// What is wrong.
    pub reason: String,
}

/// Something imported as stored that the operator should look at.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Warning {
    /// The key's id in btvep.
    pub id: u64,
    /// Its id in the Python database.
    pub source_id: i64,
    /// What and how to fix it.
    pub message: String,
}

/// The result of an import (or of a dry run: what an import would do).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// The Python database.
    pub source: String,
    /// Its schema.
    pub shape: Shape,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// The source of an earlier import that was interrupted (this run completed it, unless dry).
    pub resumed: Option<String>,
    /// `apikey` counts.
    pub keys: KeyCounts,
    /// `request` counts.
    pub requests: LogCounts,
    /// Rows of `user` (chat-UI accounts), which have no counterpart and are not imported.
    pub users_not_imported: u64,
    /// Every key's outcome, by Python id.
    pub key_ids: Vec<KeyOutcome>,
    /// Bad rows (at most [`MAX_LISTED`]); `bad_rows_total` has the count.
    pub bad_rows: Vec<BadRow>,
    /// How many bad rows there were.
    pub bad_rows_total: u64,
    /// Keys imported as stored but worth a look.
    pub warnings: Vec<Warning>,
}

/// At most this many bad rows are listed in a [`Summary`].
pub const MAX_LISTED: usize = 1000;

/// Log records are written in batches of this many.
const BATCH: usize = 20_000;

#[cfg(test)]
thread_local! {
    /// Test failpoint: fail right after the first history batch was written (exercises the rollback).
    static FAIL_AFTER_LOG_BATCH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Test failpoint: stop dead after the keys were committed, as a killed process would.
    static DIE_AFTER_KEYS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One import at a time per process (the server may get two through its socket).
static RUNNING: Mutex<()> = Mutex::new(());

/// Imports the Python btvep database at `path` into `store` (or, with `dry_run`, reports what it would do).
///
/// # Errors
/// See [`ImportError`]; on any error the store is as before.
pub fn run(store: &Store, path: &Path, opts: &Options) -> Result<Summary, ImportError> {
    let _one_at_a_time = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let src = Source::open(path)?;
    let resumed = store.import_marker()?.map(|m| m.source);
    let logs_before = store.has_logs();

    // 1. Keys: map and judge every row.
    let raw_keys = src.keys(path)?;
    let mut bad_rows = Vec::new();
    let mut mapped: Vec<map::MappedKey> = Vec::new();
    // plaintext -> index into `mapped` (None: the key is a bad row). Never leaves this function.
    let mut by_plaintext: HashMap<String, Option<usize>> = HashMap::with_capacity(raw_keys.len());
    let mut outcomes = Vec::with_capacity(raw_keys.len());
    for raw in &raw_keys {
        let plaintext = map::text(&raw.api_key);
        let result = match &plaintext {
            Some(p) if by_plaintext.contains_key(p) => {
                Err(vec!["its api_key is the same as another row's".to_string()])
            }
            _ => map::key(raw),
        };
        match result {
            Ok(m) => {
                if let Some(p) = plaintext {
                    by_plaintext.insert(p, Some(mapped.len()));
                }
                mapped.push(m);
            }
            Err(reasons) => {
                if let Some(p) = plaintext {
                    by_plaintext.entry(p).or_insert(None);
                }
                bad_rows.push(BadRow {
                    table: "apikey".into(),
                    id: raw.id,
                    reason: reasons.join("; "),
                });
                outcomes.push(KeyOutcome {
                    source_id: raw.id,
                    id: None,
                    status: KeyStatus::Bad,
                });
            }
        }
    }
    drop(raw_keys);

    // 2. History, first pass: judge every row and count; nothing is kept.
    let mut logs = LogCounts {
        in_source: src.request_count(path)?,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    src.for_each_request(path, false, |raw| {
        let record = match map::request(&raw) {
            Ok(r) => r,
            Err(reasons) => {
                logs.bad += 1;
                bad_rows.push(BadRow {
                    table: "request".into(),
                    id: raw.id,
                    reason: reasons.join("; "),
                });
                return Ok(());
            }
        };
        match linked(&by_plaintext, &raw) {
            Link::BadKey => logs.of_bad_keys += 1,
            link => {
                if logs_before && store.has_log(&record)? {
                    logs.already_present += 1;
                } else {
                    logs.imported += 1;
                    if matches!(link, Link::None) {
                        logs.without_key += 1;
                    }
                }
            }
        }
        Ok(())
    })?;
    tracing::debug!(
        "import: {} keys and {} request rows read and checked in {:.1} s",
        mapped.len(),
        logs.in_source,
        started.elapsed().as_secs_f64()
    );
    if !bad_rows.is_empty() && !opts.skip_bad_rows {
        let list = bad_rows
            .iter()
            .take(5)
            .map(|b| format!("{} {}: {}", b.table, b.id, b.reason))
            .collect::<Vec<_>>()
            .join(", ");
        let more = bad_rows.len().saturating_sub(5);
        return Err(ImportError::BadRows {
            count: bad_rows.len(),
            list: if more > 0 {
                format!("{list} and {more} more")
            } else {
                list
            },
        });
    }

    // 3. Ids and conflicts, then the keys in one transaction (planned again if the store moved).
    let mut attempt = 0;
    let (plan, key_outcomes, store_ids, replaced) = loop {
        attempt += 1;
        let (plan, key_outcomes, store_ids) = plan_keys(store, &mapped, opts, path)?;
        if opts.dry_run {
            break (plan, key_outcomes, store_ids, Vec::new());
        }
        match store.commit_key_import(&plan) {
            Ok(replaced) => break (plan, key_outcomes, store_ids, replaced),
            Err(StoreError::Conflict(_)) if attempt < 5 => continue,
            Err(e) => return Err(e.into()),
        }
    };
    outcomes.extend(key_outcomes);
    outcomes.sort_by_key(|o| o.source_id);
    tracing::debug!(
        "import: keys planned{} at {:.1} s",
        if opts.dry_run { "" } else { " and committed" },
        started.elapsed().as_secs_f64()
    );

    #[cfg(test)]
    if !opts.dry_run && DIE_AFTER_KEYS.with(|f| f.get()) {
        return Err(StoreError::Invalid("injected death".into()).into());
    }

    // 4. History, second pass: write it, linked to the keys' btvep ids.
    if !opts.dry_run {
        let mut written: Vec<WrittenLog> = Vec::new();
        let mut batch: Vec<LogRecord> = Vec::with_capacity(BATCH);
        let flush = |batch: &mut Vec<LogRecord>, written: &mut Vec<WrittenLog>| {
            let (w, _) = store.import_logs(batch, logs_before)?;
            written.extend(w);
            batch.clear();
            #[cfg(test)]
            if FAIL_AFTER_LOG_BATCH.with(|f| f.get()) {
                return Err(StoreError::Invalid("injected failure".into()).into());
            }
            Ok::<_, ImportError>(())
        };
        let result = src
            .for_each_request(path, true, |raw| {
                let Ok(mut record) = map::request(&raw) else {
                    return Ok(());
                };
                record.api_key_id = match linked(&by_plaintext, &raw) {
                    Link::BadKey => return Ok(()),
                    Link::None => None,
                    Link::Key(i) => store_ids[i],
                };
                batch.push(record);
                if batch.len() >= BATCH {
                    flush(&mut batch, &mut written)?;
                }
                Ok(())
            })
            .and_then(|()| flush(&mut batch, &mut written))
            .and_then(|()| store.clear_import_marker().map_err(ImportError::from))
            .and_then(|()| store.flush().map_err(ImportError::from));
        tracing::debug!(
            "import: history written at {:.1} s",
            started.elapsed().as_secs_f64()
        );
        if let Err(e) = result {
            tracing::error!("import failed while writing the history ({e}); rolling back");
            if let Err(undo) = store
                .remove_imported_logs(&written)
                .and_then(|()| store.undo_key_import(&plan, &replaced))
            {
                tracing::error!("rolling the import back failed too: {undo}");
            }
            return Err(e);
        }
    }

    let counts = |s: KeyStatus| outcomes.iter().filter(|o| o.status == s).count() as u64;
    let keys = KeyCounts {
        in_source: outcomes.len() as u64,
        imported: counts(KeyStatus::Imported) + counts(KeyStatus::Renumbered),
        renumbered: counts(KeyStatus::Renumbered),
        already_present: counts(KeyStatus::AlreadyPresent),
        updated: counts(KeyStatus::Updated),
        bad: counts(KeyStatus::Bad),
    };
    let mut warnings = Vec::new();
    for (m, id) in mapped.iter().zip(&store_ids) {
        let Some(id) = *id else { continue };
        for w in &m.warnings {
            warnings.push(Warning {
                id,
                source_id: m.source_id,
                message: w.replace("key edit ID", &format!("key edit {id}")),
            });
        }
    }
    let bad_rows_total = bad_rows.len() as u64;
    bad_rows.truncate(MAX_LISTED);
    Ok(Summary {
        source: path.display().to_string(),
        shape: src.shape,
        dry_run: opts.dry_run,
        resumed,
        keys,
        requests: logs,
        users_not_imported: src.users,
        key_ids: outcomes,
        bad_rows,
        bad_rows_total,
        warnings,
    })
}

/// How a request row is linked to a Python key.
enum Link {
    /// To the key at this index of the mapped keys.
    Key(usize),
    /// To a key that is a bad row.
    BadKey,
    /// To no key that exists (deleted, or a chat-UI token).
    None,
}

fn linked(by_plaintext: &HashMap<String, Option<usize>>, raw: &sqlite::RawRequest) -> Link {
    for candidate in map::link(raw).into_iter().flatten() {
        match by_plaintext.get(candidate) {
            Some(Some(i)) => return Link::Key(*i),
            Some(None) => return Link::BadKey,
            None => {}
        }
    }
    Link::None
}

type Planned = (KeyImport, Vec<KeyOutcome>, Vec<Option<u64>>);

/// Allocates btvep ids: a key already present (same secret) keeps its btvep id and is skipped or
/// updated; otherwise its Python id is kept when btvep never handed it out (above the id counter, so
/// no deleted key's history is attached to it); the rest get new ids after the highest one.
fn plan_keys(
    store: &Store,
    mapped: &[map::MappedKey],
    opts: &Options,
    path: &Path,
) -> Result<Planned, ImportError> {
    let counter = store.key_id_counter()?;
    let mut ids: Vec<Option<u64>> = vec![None; mapped.len()];
    let mut status = vec![KeyStatus::Imported; mapped.len()];
    let mut kept = HashSet::new();
    let mut plan = KeyImport {
        expected_counter: counter,
        marker: ImportMarker {
            source: path.display().to_string(),
            started: Some(Utc::now()),
        },
        ..Default::default()
    };
    for (i, m) in mapped.iter().enumerate() {
        if let Some(id) = store.key_id_by_hash(&m.hash)? {
            ids[i] = Some(id);
            if opts.update {
                status[i] = KeyStatus::Updated;
                plan.update.push(ApiKey {
                    id,
                    ..m.record.clone()
                });
            } else {
                status[i] = KeyStatus::AlreadyPresent;
            }
        } else if m.source_id > 0 && m.source_id as u64 > counter && kept.insert(m.source_id) {
            ids[i] = Some(m.source_id as u64);
        }
    }
    let mut next = kept
        .iter()
        .map(|&k| k as u64)
        .max()
        .unwrap_or(0)
        .max(counter);
    for (i, m) in mapped.iter().enumerate() {
        if status[i] != KeyStatus::Imported {
            continue;
        }
        let id = match ids[i] {
            Some(id) => id,
            None => {
                next += 1;
                status[i] = KeyStatus::Renumbered;
                ids[i] = Some(next);
                next
            }
        };
        plan.insert.push(ApiKey {
            id,
            ..m.record.clone()
        });
    }
    plan.new_counter = next;
    let outcomes = mapped
        .iter()
        .enumerate()
        .map(|(i, m)| KeyOutcome {
            source_id: m.source_id,
            id: ids[i],
            status: status[i],
        })
        .collect();
    Ok((plan, outcomes, ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewKey;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python-btvep.db")
    }

    /// A store with a key and a log record of its own, so "as before" is not just "empty".
    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let (k, _) = s
            .create_key(&NewKey {
                credits: crate::store::values::Credits::new(3).unwrap(),
                enabled: true,
                valid_until: crate::store::values::Expiry::Never,
                ..Default::default()
            })
            .unwrap();
        s.append_logs(&mut [LogRecord {
            timestamp: Utc::now(),
            api_key_id: Some(k.id),
            api_request_id: "own".into(),
            is_api_success: true,
            responder_hotkey: Some("5Own".into()),
            ..Default::default()
        }])
        .unwrap();
        (dir, s)
    }

    #[test]
    fn a_failure_while_writing_the_history_leaves_the_store_as_before() {
        let (_d, s) = store();
        let before = s.dump();
        FAIL_AFTER_LOG_BATCH.with(|f| f.set(true));
        let r = run(&s, &fixture(), &Options::default());
        FAIL_AFTER_LOG_BATCH.with(|f| f.set(false));
        assert!(r.is_err());
        assert_eq!(s.dump(), before, "exactly as before");
        // and the import then works
        let sum = run(&s, &fixture(), &Options::default()).unwrap();
        assert_eq!(sum.keys.imported, 9);
        assert_eq!(sum.keys.renumbered, 1, "id 1 is taken");
        assert_eq!(sum.requests.imported, 51);
        assert_eq!(s.import_marker().unwrap(), None);
    }

    #[test]
    fn an_import_that_died_half_way_is_completed_by_running_it_again() {
        let (_d, s) = store();
        DIE_AFTER_KEYS.with(|f| f.set(true));
        assert!(run(&s, &fixture(), &Options::default()).is_err());
        DIE_AFTER_KEYS.with(|f| f.set(false));
        assert!(s.import_marker().unwrap().is_some(), "the marker says so");
        assert_eq!(s.list_keys().unwrap().len(), 10, "the keys went in at once");
        let dry = run(
            &s,
            &fixture(),
            &Options {
                dry_run: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(dry.resumed.is_some());
        let sum = run(&s, &fixture(), &Options::default()).unwrap();
        assert!(sum.resumed.is_some());
        assert_eq!(sum.keys.already_present, 9);
        assert_eq!(sum.requests.imported, 51);
        assert_eq!(s.import_marker().unwrap(), None);
        assert_eq!(s.log_count(), 52);
        let again = run(&s, &fixture(), &Options::default()).unwrap();
        assert_eq!(again.requests.already_present, 51);
        assert_eq!(s.log_count(), 52);
    }
}
