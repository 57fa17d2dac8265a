//! Backups: a consistent snapshot of the store as one portable JSON Lines file, and restoring one.
//!
//! # Format (`btvep backup FILE`)
//! UTF-8 JSON Lines, one object per line:
//! 1. a header: `{"btvep_backup": 1, "store_format": N, "btvep_version": "…", "created_at": "…",
//!    "with_logs": bool}`;
//! 2. the store's counters: `{"meta": "next_key_id", "value": 12}`;
//! 3. every API key as stored, hash included (so restored keys authenticate):
//!    `{"key": {"id": 1, "api_key_hint": "...abcd", "credits": 10, …, "api_key_hash": "…"}}`;
//! 4. every miner's health (format 2): `{"miner_health": {"hotkey": "5…", "uid": 3, "state": "ok", …}}`;
//! 5. with `--with-logs`, every log record: `{"log": {"id": …, "timestamp": …, …}}`;
//! 6. a trailer with the counts, so a truncated file is detected:
//!    `{"end": {"keys": K, "logs": L, "miners": M}}`.
//!
//! Format 2 is format 1 plus the `miner_health` lines; a backup without any (a store whose server never
//! asked a miner) is stamped format 1, so older btveps can still restore it.
//!
//! The keys are read while credit changes wait (a short exclusive section of the key gate), so every
//! balance in the file is the balance of the same instant; log records are appended afterwards without
//! blocking requests (a log record is never changed once written).

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiKey, LogRecord, MinerHealthRecord, Store, StoreError};

/// The backup file format's version (the newest this btvep writes and reads).
pub const BACKUP_FORMAT: u64 = 2;

/// What a backup or a restore wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    /// API keys.
    pub keys: u64,
    /// Log records.
    pub logs: u64,
    /// Miner health records (absent from format 1 backups).
    #[serde(default)]
    pub miners: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    btvep_backup: u64,
    store_format: u64,
    btvep_version: String,
    created_at: chrono::DateTime<chrono::Utc>,
    with_logs: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Meta {
        meta: String,
        value: u64,
    },
    Key {
        key: Box<ApiKey>,
    },
    Log {
        log: Box<LogRecord>,
    },
    Miner {
        miner_health: Box<MinerHealthRecord>,
    },
    End {
        end: BackupSummary,
    },
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Invalid(format!("writing the backup failed: {e}"))
}

fn line(out: &mut impl Write, value: &impl Serialize) -> Result<(), StoreError> {
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| StoreError::Invalid(format!("writing the backup failed: {e}")))?;
    out.write_all(b"\n").map_err(io)
}

impl Store {
    /// Writes a consistent snapshot of the store to `out` (see the module doc for the format).
    ///
    /// # Errors
    /// [`StoreError::Invalid`] when `out` fails, [`StoreError::Corrupt`] / [`StoreError::Db`] when the
    /// store does.
    pub fn write_backup(
        &self,
        out: &mut impl Write,
        with_logs: bool,
    ) -> Result<BackupSummary, StoreError> {
        let mut summary = BackupSummary::default();
        let miners = self.list_miner_health()?;
        line(
            out,
            &Header {
                btvep_backup: if miners.is_empty() { 1 } else { BACKUP_FORMAT },
                store_format: super::version::FORMAT_VERSION,
                btvep_version: env!("CARGO_PKG_VERSION").to_string(),
                created_at: chrono::Utc::now(),
                with_logs,
            },
        )?;
        {
            // Keys and counters of one instant: key changes wait for this section.
            let _frozen = self.key_gate.write().unwrap_or_else(|p| p.into_inner());
            for item in self.meta.iter() {
                let (k, v) = item?;
                if v.len() != 8 {
                    continue; // not a counter (e.g. an import's in-progress marker)
                }
                let name = String::from_utf8_lossy(&k).into_owned();
                line(
                    out,
                    &Line::Meta {
                        meta: name,
                        value: super::be_u64(&v),
                    },
                )?;
            }
            for key in self.list_keys()? {
                line(out, &Line::Key { key: Box::new(key) })?;
                summary.keys += 1;
            }
        }
        for m in miners {
            line(
                out,
                &Line::Miner {
                    miner_health: Box::new(m),
                },
            )?;
            summary.miners += 1;
        }
        if with_logs {
            for item in self.logs.iter() {
                let (_, v) = item?;
                let log: LogRecord = serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Corrupt(format!("log record: {e}")))?;
                line(out, &Line::Log { log: Box::new(log) })?;
                summary.logs += 1;
            }
        }
        line(out, &Line::End { end: summary })?;
        out.flush().map_err(io)?;
        Ok(summary)
    }

    /// Whether the store holds no keys and no log records.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.logs.is_empty()
    }

    /// Loads a backup written by [`Store::write_backup`] into this store, replacing its keys,
    /// counters and miner health (and its log, when the backup has one). The whole file is checked before anything is
    /// written; the writes end with a flush.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a file that is not a complete btvep backup (or is of a newer format),
    /// [`StoreError::Db`] when the store fails.
    pub fn restore_backup(&self, input: impl BufRead) -> Result<BackupSummary, StoreError> {
        let bad = |n: usize, why: String| StoreError::Invalid(format!("line {n}: {why}"));
        let mut lines = input.lines().enumerate();
        let header: Header = match lines.next() {
            Some((_, Ok(text))) => serde_json::from_str(&text)
                .map_err(|_| StoreError::Invalid("not a btvep backup (no header line)".into()))?,
            Some((_, Err(e))) => return Err(StoreError::Invalid(format!("reading: {e}"))),
            None => return Err(StoreError::Invalid("the file is empty".into())),
        };
        if header.btvep_backup > BACKUP_FORMAT
            || header.store_format > super::version::FORMAT_VERSION
        {
            return Err(StoreError::Invalid(format!(
                "the backup was written by a newer btvep ({}, backup format {}, store format {}); this one reads backup format {BACKUP_FORMAT}, store format {} at most",
                header.btvep_version,
                header.btvep_backup,
                header.store_format,
                super::version::FORMAT_VERSION
            )));
        }
        let (mut meta, mut keys, mut logs, mut miners, mut end) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), None);
        for (i, text) in lines {
            let n = i + 1;
            let text = text.map_err(|e| bad(n, e.to_string()))?;
            if text.trim().is_empty() {
                continue;
            }
            if end.is_some() {
                return Err(bad(n, "data after the end line".into()));
            }
            match serde_json::from_str::<Line>(&text).map_err(|e| bad(n, e.to_string()))? {
                Line::Meta { meta: m, value } => meta.push((m, value)),
                Line::Key { key } => keys.push(*key),
                Line::Log { log } => logs.push(*log),
                Line::Miner { miner_health } => miners.push(*miner_health),
                Line::End { end: e } => end = Some(e),
            }
        }
        let found = BackupSummary {
            keys: keys.len() as u64,
            logs: logs.len() as u64,
            miners: miners.len() as u64,
        };
        match end {
            Some(e) if e == found => {}
            Some(e) => {
                return Err(StoreError::Invalid(format!(
                    "the backup is damaged: its end line counts {} keys, {} log records and {} miners, the file holds {}, {} and {}",
                    e.keys, e.logs, e.miners, found.keys, found.logs, found.miners
                )))
            }
            None => {
                return Err(StoreError::Invalid(
                    "the backup is truncated (no end line)".into(),
                ))
            }
        }
        for k in &keys {
            if hex::decode(&k.api_key_hash).map(|h| h.len()) != Ok(32) {
                return Err(StoreError::Invalid(format!(
                    "key {} has no valid hash; it could never authenticate",
                    k.id
                )));
            }
        }
        // Everything checked: replace.
        self.keys.clear()?;
        self.key_hashes.clear()?;
        for k in &keys {
            let hash = hex::decode(&k.api_key_hash).expect("checked above");
            self.keys.insert(
                k.id.to_be_bytes(),
                serde_json::to_vec(k).expect("an ApiKey always serializes"),
            )?;
            self.key_hashes.insert(hash, &k.id.to_be_bytes())?;
        }
        for (name, value) in &meta {
            if name != super::version::VERSION_KEY {
                self.meta.insert(name.as_bytes(), &value.to_be_bytes())?;
            }
        }
        self.replace_miner_health(&miners)?;
        if header.with_logs {
            self.logs.clear()?;
            self.logs_by_key.clear()?;
            self.logs_by_hotkey.clear()?;
            self.insert_logs(&logs)?;
        }
        self.db.flush()?;
        Ok(found)
    }
}

/// The header of a backup file, for `btvep restore` to describe what it is about to load.
///
/// # Errors
/// [`StoreError::Invalid`] when the first line is not a backup header.
pub fn describe_backup(first_line: &str) -> Result<Value, StoreError> {
    let h: Header = serde_json::from_str(first_line)
        .map_err(|_| StoreError::Invalid("not a btvep backup (no header line)".into()))?;
    Ok(serde_json::to_value(&h).unwrap_or_default())
}
