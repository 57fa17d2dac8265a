//! The store's side of `btvep import`: keys written in one transaction with their preset ids, log records
//! written under preset (deterministic) ids, an in-progress marker, and the undo of both.
//!
//! An import commits its keys first, atomically (every key, its hash index entry, the id counter and the
//! in-progress marker in one sled transaction), then its history in batches, then removes the marker.
//! If the process dies while the history is written, the marker stays and a new run of the same import
//! completes it: the keys are found by their hash, and every log record lands on the same entry again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{abort, ConflictableTransactionError};
use sled::Transactional;

use super::logs::{micros, time_key};
use super::{be_u64, ApiKey, LogRecord, Store, StoreError};

/// The meta entry naming an import whose history is not completely written.
const MARKER: &[u8] = b"import_in_progress";
/// The key id counter (shared with `create_key`).
const KEY_COUNTER: &[u8] = b"next_key_id";

/// What an import changes in the key trees, applied by [`Store::commit_key_import`].
#[derive(Clone, Default)]
pub struct KeyImport {
    /// New keys, with their final ids and `api_key_hash` set.
    pub insert: Vec<ApiKey>,
    /// Replacements for keys already present (same id and hash), for `--update`.
    pub update: Vec<ApiKey>,
    /// The key id counter the ids were allocated against; the commit fails if it moved.
    pub expected_counter: u64,
    /// The counter after the import (the highest id ever used).
    pub new_counter: u64,
    /// What the in-progress marker says (where the import came from).
    pub marker: ImportMarker,
}

impl std::fmt::Debug for KeyImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyImport")
            .field("insert", &self.insert.len())
            .field("update", &self.update.len())
            .finish_non_exhaustive()
    }
}

/// The in-progress marker of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportMarker {
    /// The source database.
    pub source: String,
    /// When the import started.
    pub started: Option<DateTime<Utc>>,
}

/// A log entry an import wrote, enough to remove it again.
#[derive(Debug, Clone)]
pub struct WrittenLog {
    tk: [u8; 16],
    key_id: Option<u64>,
    hotkey: Option<String>,
}

type TxError = ConflictableTransactionError<StoreError>;

fn encode(k: &ApiKey) -> Vec<u8> {
    serde_json::to_vec(k).expect("an ApiKey always serializes")
}

/// A key record written by an import, with a version newer than any credit-journal entry.
fn encode_versioned(k: &ApiKey, version: u64) -> Vec<u8> {
    encode(&ApiKey {
        version,
        ..k.clone()
    })
}

impl Store {
    /// The key id counter: the highest id `create_key` ever handed out (ids are never reused).
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn key_id_counter(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .get(KEY_COUNTER)?
            .as_deref()
            .map(be_u64)
            .unwrap_or(0))
    }

    /// The id of the key whose SHA-256 is `hash`, if one is stored.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn key_id_by_hash(&self, hash: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        Ok(self.key_hashes.get(hash)?.as_deref().map(be_u64))
    }

    /// Whether a log record with this record's time and id is stored.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn has_log(&self, r: &LogRecord) -> Result<bool, StoreError> {
        Ok(self
            .logs
            .contains_key(time_key(micros(r.timestamp), r.id))?)
    }

    /// Whether any log record is stored.
    pub fn has_logs(&self) -> bool {
        !self.logs.is_empty()
    }

    /// The marker of an import whose history was not completely written (the process died), if any.
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Corrupt`].
    pub fn import_marker(&self) -> Result<Option<ImportMarker>, StoreError> {
        match self.meta.get(MARKER)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("import marker: {e}"))),
        }
    }

    /// Removes the in-progress marker: the import's history is completely written.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn clear_import_marker(&self) -> Result<(), StoreError> {
        self.meta.remove(MARKER)?;
        Ok(())
    }

    /// Writes every key of an import, the id counter and the in-progress marker in one transaction.
    /// Returns the records the updates replaced (for [`Store::undo_key_import`]).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the store changed since the plan was made (a key was created, or
    /// one of the keys appeared): nothing was written, plan again. [`StoreError::Db`].
    pub fn commit_key_import(&self, plan: &KeyImport) -> Result<Vec<ApiKey>, StoreError> {
        let marker = serde_json::to_vec(&plan.marker).expect("a marker always serializes");
        let version = self.db.generate_id()?;
        let before =
            (&self.keys, &self.key_hashes, &self.meta).transaction(|(keys, hashes, meta)| {
                let counter = meta.get(KEY_COUNTER)?.as_deref().map(be_u64).unwrap_or(0);
                if counter != plan.expected_counter {
                    return abort(StoreError::Conflict(
                        "keys were created while the import was planned".into(),
                    ));
                }
                for k in &plan.insert {
                    let hash = hex::decode(&k.api_key_hash).unwrap_or_default();
                    if keys.get(k.id.to_be_bytes())?.is_some() || hashes.get(&hash)?.is_some() {
                        return abort(StoreError::Conflict(format!(
                            "key id {} or its key appeared while the import was planned",
                            k.id
                        )));
                    }
                    keys.insert(&k.id.to_be_bytes(), encode_versioned(k, version))?;
                    hashes.insert(hash, &k.id.to_be_bytes())?;
                }
                let mut before = Vec::with_capacity(plan.update.len());
                for k in &plan.update {
                    let Some(old) = keys.get(k.id.to_be_bytes())? else {
                        return abort(StoreError::Conflict(format!(
                            "key {} was deleted while the import was planned",
                            k.id
                        )));
                    };
                    let old: ApiKey = match serde_json::from_slice(&old) {
                        Ok(o) => o,
                        Err(e) => return abort(StoreError::Corrupt(format!("api key: {e}"))),
                    };
                    if old.api_key_hash != k.api_key_hash {
                        return abort(StoreError::Conflict(format!(
                            "key {} changed while the import was planned",
                            k.id
                        )));
                    }
                    keys.insert(&k.id.to_be_bytes(), encode_versioned(k, version))?;
                    before.push(old);
                }
                meta.insert(KEY_COUNTER, &plan.new_counter.to_be_bytes())?;
                meta.insert(MARKER, marker.as_slice())?;
                Ok::<_, TxError>(before)
            })?;
        Ok(before)
    }

    /// Undoes [`Store::commit_key_import`]: removes the inserted keys, restores the replaced records,
    /// the counter (unless keys were created since) and removes the marker, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn undo_key_import(&self, plan: &KeyImport, replaced: &[ApiKey]) -> Result<(), StoreError> {
        (&self.keys, &self.key_hashes, &self.meta).transaction(|(keys, hashes, meta)| {
            for k in &plan.insert {
                keys.remove(&k.id.to_be_bytes())?;
                hashes.remove(hex::decode(&k.api_key_hash).unwrap_or_default())?;
            }
            for k in replaced {
                keys.insert(&k.id.to_be_bytes(), encode(k))?;
            }
            let counter = meta.get(KEY_COUNTER)?.as_deref().map(be_u64).unwrap_or(0);
            if counter == plan.new_counter {
                if plan.expected_counter == 0 {
                    meta.remove(KEY_COUNTER)?;
                } else {
                    meta.insert(KEY_COUNTER, &plan.expected_counter.to_be_bytes())?;
                }
            }
            meta.remove(MARKER)?;
            Ok::<_, TxError>(())
        })?;
        Ok(())
    }

    /// Writes imported log records under their preset ids, with their index entries. With
    /// `skip_existing`, a record whose entry exists is left alone and counted. Returns what was written
    /// and how many were skipped.
    ///
    /// The three trees are written by three threads at once (an import is mostly sled time, and plain
    /// inserts, unlike batches, do not take sled's global write lock). Until all three are done a filtered
    /// query may miss some of these records; the caller removes them again on an error.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn import_logs(
        &self,
        records: &[LogRecord],
        skip_existing: bool,
    ) -> Result<(Vec<WrittenLog>, u64), StoreError> {
        let mut todo: Vec<(&LogRecord, [u8; 16])> = Vec::with_capacity(records.len());
        let mut skipped = 0;
        for r in records {
            let tk = time_key(micros(r.timestamp), r.id);
            if skip_existing && self.logs.contains_key(tk)? {
                skipped += 1;
            } else {
                todo.push((r, tk));
            }
        }
        let written: Vec<WrittenLog> = todo
            .iter()
            .map(|(r, tk)| WrittenLog {
                tk: *tk,
                key_id: r.api_key_id,
                hotkey: r.responder_hotkey.clone(),
            })
            .collect();
        let todo = &todo;
        let result = std::thread::scope(|s| {
            let by_key = s.spawn(|| -> Result<(), sled::Error> {
                for (r, tk) in todo {
                    if let Some(k) = r.api_key_id {
                        self.logs_by_key.insert(index_key(k, tk), &[])?;
                    }
                }
                Ok(())
            });
            let by_hotkey = s.spawn(|| -> Result<(), sled::Error> {
                for (r, tk) in todo {
                    if let Some(h) = &r.responder_hotkey {
                        self.logs_by_hotkey.insert(hotkey_key(h, tk), &[])?;
                    }
                }
                Ok(())
            });
            let main = todo.iter().try_for_each(|(r, tk)| {
                let bytes = serde_json::to_vec(r).expect("a LogRecord always serializes");
                self.logs.insert(tk, bytes).map(|_| ())
            });
            let by_key = by_key.join().expect("an insert loop never panics");
            let by_hotkey = by_hotkey.join().expect("an insert loop never panics");
            main.and(by_key).and(by_hotkey)
        });
        if let Err(e) = result {
            // This batch is not in the caller's list yet: take back what of it was written.
            let _ = self.remove_imported_logs(&written);
            return Err(e.into());
        }
        Ok((written, skipped))
    }

    /// Removes log records written by [`Store::import_logs`] (records first, then their index entries).
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn remove_imported_logs(&self, written: &[WrittenLog]) -> Result<(), StoreError> {
        for chunk in written.chunks(50_000) {
            let mut main = sled::Batch::default();
            let mut by_key = sled::Batch::default();
            let mut by_hotkey = sled::Batch::default();
            for w in chunk {
                main.remove(&w.tk);
                if let Some(k) = w.key_id {
                    by_key.remove(index_key(k, &w.tk).as_slice());
                }
                if let Some(h) = &w.hotkey {
                    by_hotkey.remove(hotkey_key(h, &w.tk));
                }
            }
            self.logs.apply_batch(main)?;
            self.logs_by_key.apply_batch(by_key)?;
            self.logs_by_hotkey.apply_batch(by_hotkey)?;
        }
        Ok(())
    }
}

/// A tree's name and entries.
#[cfg(test)]
pub(crate) type TreeDump = (String, Vec<(Vec<u8>, Vec<u8>)>);

#[cfg(test)]
impl Store {
    /// Every entry of every tree, for tests that compare a whole store before and after.
    pub(crate) fn dump(&self) -> Vec<TreeDump> {
        [
            ("keys", &self.keys),
            ("key_hashes", &self.key_hashes),
            ("logs", &self.logs),
            ("logs_by_key", &self.logs_by_key),
            ("logs_by_hotkey", &self.logs_by_hotkey),
            ("meta", &self.meta),
        ]
        .into_iter()
        .map(|(name, t)| {
            let entries = t
                .iter()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    (k.to_vec(), v.to_vec())
                })
                .collect();
            (name.to_string(), entries)
        })
        .collect()
    }
}

fn index_key(key_id: u64, tk: &[u8; 16]) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&key_id.to_be_bytes());
    k[8..].copy_from_slice(tk);
    k
}

fn hotkey_key(hotkey: &str, tk: &[u8; 16]) -> Vec<u8> {
    let mut k = Vec::with_capacity(hotkey.len() + 17);
    k.extend_from_slice(hotkey.as_bytes());
    k.push(0);
    k.extend_from_slice(tk);
    k
}
