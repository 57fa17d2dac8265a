//! The credit journal: what makes a charge durable before its answer is sent, for the price of one
//! small append and one `fdatasync` per group of requests.
//!
//! Flushing the whole sled database for every group of charged requests costs several thread
//! hand-offs and writes of whatever else is dirty (log records, index pages). Instead, every change of
//! a key's balance made by a server is also written here as a 32-byte entry — key id, the key record's
//! version after the change, the balance after it — and the group commit ([`super::GroupCommit`])
//! appends the entries waiting and syncs the file. sled persists the records themselves on its own
//! flushes; a checkpoint thread makes that explicit every [`CHECKPOINT_EVERY`]: it starts a new
//! journal file, flushes the database (so every entry of the older files is in it) and deletes the
//! older files.
//!
//! After a crash, [`super::Store::open`] reads the files ([`read_all`]) and applies, per key, the entry with the highest
//! version when it is newer than the version sled kept, then flushes and removes the files. Versions
//! grow with every change of a key record, so an entry never overrides a later change that did reach
//! the disk (an admin edit, which is flushed at once, or a newer charge).
//!
//! Entry layout (little endian): `id u64 · version u64 · credits i64 · crc32 of the first 24 bytes u32 ·
//! 4 zero bytes`. A torn entry at the end of a file (a crash mid-write) fails its checksum and ends the
//! replay of that file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::StoreError;

/// How often the checkpoint thread retires journal files.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// The size of one entry.
pub const ENTRY_BYTES: usize = 32;
/// The journal directory inside the data directory.
pub const DIR: &str = "credit-journal";

/// When a charge counts as durable (`charge_sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChargeSync {
    /// Written to the operating system (no disk sync): survives `kill -9` and any crash of btvep; a
    /// power loss can lose the charges since the last checkpoint (about a second).
    #[default]
    Os,
    /// Also synced to the disk, one `fdatasync` per group of requests: survives power loss.
    Disk,
}

impl std::str::FromStr for ChargeSync {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "os" => Ok(ChargeSync::Os),
            "disk" => Ok(ChargeSync::Disk),
            other => Err(format!("'{other}' is not os or disk")),
        }
    }
}

/// One balance change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The key's id.
    pub id: u64,
    /// The key record's version after the change.
    pub version: u64,
    /// The balance after the change.
    pub credits: i64,
}

impl Entry {
    fn encode(self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.credits.to_le_bytes());
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
    }

    fn decode(b: &[u8]) -> Option<Entry> {
        if b.len() != ENTRY_BYTES {
            return None;
        }
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            w
        };
        let crc = u32::from_le_bytes([b[24], b[25], b[26], b[27]]);
        (crc32fast::hash(&b[..24]) == crc).then(|| Entry {
            id: u64::from_le_bytes(word(0)),
            version: u64::from_le_bytes(word(8)),
            credits: i64::from_le_bytes(word(16)),
        })
    }
}

/// The journal of one open store: entries waiting to be written, and the current file.
pub struct Journal {
    dir: PathBuf,
    sync: ChargeSync,
    pending: Mutex<Vec<u8>>,
    file: Mutex<(u64, File)>,
    dirty: AtomicBool,
    stop: Mutex<Option<Sender<()>>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Db(sled::Error::Io(e))
}

fn file_name(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.journal"))
}

/// The journal files in `dir` with their sequence numbers, oldest first.
fn files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(e)),
    };
    for entry in entries {
        let path = entry.map_err(io)?.path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".journal"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            out.push((seq, path));
        }
    }
    out.sort();
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

fn create(dir: &Path, seq: u64) -> Result<File, StoreError> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(file_name(dir, seq))
        .map_err(io)?;
    sync_dir(dir)?;
    Ok(f)
}

/// Reads every journal file under `data_dir` and returns, per key id, the entry with the highest
/// version (files that do not exist: nothing).
///
/// # Errors
/// [`StoreError::Db`] when a file cannot be read.
pub fn read_all(data_dir: &Path) -> Result<Vec<Entry>, StoreError> {
    let mut latest: std::collections::HashMap<u64, Entry> = std::collections::HashMap::new();
    for (_, path) in files(&data_dir.join(DIR))? {
        let bytes = std::fs::read(&path).map_err(io)?;
        for chunk in bytes.chunks(ENTRY_BYTES) {
            let Some(e) = Entry::decode(chunk) else {
                break; // a torn or short entry ends the file
            };
            let slot = latest.entry(e.id).or_insert(e);
            if e.version > slot.version {
                *slot = e;
            }
        }
    }
    let mut out: Vec<Entry> = latest.into_values().collect();
    out.sort_by_key(|e| e.id);
    Ok(out)
}

/// Removes every journal file under `data_dir` (after their entries are in the database).
///
/// # Errors
/// [`StoreError::Db`] when a file cannot be removed.
pub fn remove_all(data_dir: &Path) -> Result<(), StoreError> {
    let dir = data_dir.join(DIR);
    for (_, path) in files(&dir)? {
        std::fs::remove_file(&path).map_err(io)?;
    }
    Ok(())
}

impl Journal {
    /// Opens a new journal file under `data_dir` (after any older ones) and starts the checkpoint
    /// thread, which flushes `db` and retires files every [`CHECKPOINT_EVERY`] until [`Journal::stop`].
    ///
    /// # Errors
    /// [`StoreError::Db`] when the directory or file cannot be created.
    pub fn start(
        data_dir: &Path,
        db: sled::Db,
        sync: ChargeSync,
    ) -> Result<Arc<Journal>, StoreError> {
        let dir = data_dir.join(DIR);
        super::create_private_dir(&dir).map_err(io)?;
        let seq = files(&dir)?.last().map_or(1, |(s, _)| s + 1);
        let file = create(&dir, seq)?;
        let (tx, rx) = channel::<()>();
        let journal = Arc::new(Journal {
            dir,
            sync,
            pending: Mutex::new(Vec::with_capacity(64 * ENTRY_BYTES)),
            file: Mutex::new((seq, file)),
            dirty: AtomicBool::new(false),
            stop: Mutex::new(Some(tx)),
        });
        let j = journal.clone();
        std::thread::Builder::new()
            .name("btvep-checkpoint".into())
            .spawn(move || loop {
                match rx.recv_timeout(CHECKPOINT_EVERY) {
                    Err(RecvTimeoutError::Timeout) => {
                        if let Err(e) = j.checkpoint(&db) {
                            tracing::error!("checkpointing the credit journal failed: {e}");
                        }
                    }
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            })
            .map_err(io)?;
        Ok(journal)
    }

    /// Queues a balance change (written by the next [`Journal::write_pending`]).
    pub fn note(&self, e: Entry) {
        e.encode(&mut self.pending.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// How this journal makes entries durable.
    pub fn sync(&self) -> ChargeSync {
        self.sync
    }

    /// Appends the queued entries to the current file, and with [`ChargeSync::Disk`] syncs it (the
    /// group commit's flush).
    ///
    /// # Errors
    /// [`StoreError::Db`] when the write or the sync fails (the entries are then kept for the next try).
    pub fn write_pending(&self) -> Result<(), StoreError> {
        // The file lock first, held until the entries are written: a caller that finds the queue
        // empty because another took its entry then waits here until that other has written it.
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return Ok(());
        }
        let written = file.1.write_all(&batch).and_then(|()| match self.sync {
            ChargeSync::Disk => file.1.sync_data(),
            ChargeSync::Os => Ok(()),
        });
        if let Err(e) = written {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let newer = std::mem::replace(&mut *pending, batch);
            pending.extend_from_slice(&newer);
            return Err(io(e));
        }
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Starts a new file, flushes the database (every entry of the older files is then in it) and
    /// removes the older files. Does nothing when nothing was written since the last checkpoint.
    ///
    /// # Errors
    /// [`StoreError::Db`] when a file operation or the flush fails.
    pub fn checkpoint(&self, db: &sled::Db) -> Result<(), StoreError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let next = self.file.lock().unwrap_or_else(|p| p.into_inner()).0 + 1;
        let file = create(&self.dir, next)?; // created (and the directory synced) outside the lock
        let old = std::mem::replace(
            &mut *self.file.lock().unwrap_or_else(|p| p.into_inner()),
            (next, file),
        );
        drop(old);
        db.flush()?;
        for (seq, path) in files(&self.dir)? {
            if seq < next {
                std::fs::remove_file(&path).map_err(io)?;
            }
        }
        Ok(())
    }

    /// Stops the checkpoint thread (the files stay until the store's final flush removes them).
    pub fn stop(&self) {
        self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_torn_tails_end_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let j = Journal::start(dir.path(), db, ChargeSync::Disk).unwrap();
        for (version, credits) in [(1, 10), (3, 8), (2, 9)] {
            j.note(Entry {
                id: 7,
                version,
                credits,
            });
        }
        j.note(Entry {
            id: 9,
            version: 1,
            credits: -1,
        });
        j.write_pending().unwrap();
        let path = files(&dir.path().join(DIR)).unwrap()[0].1.clone();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[1, 2, 3, 4, 5]).unwrap(); // a torn entry
        let got = read_all(dir.path()).unwrap();
        assert_eq!(
            got,
            vec![
                Entry {
                    id: 7,
                    version: 3,
                    credits: 8
                },
                Entry {
                    id: 9,
                    version: 1,
                    credits: -1
                }
            ]
        );
        j.stop();
    }

    #[test]
    fn a_reopened_store_applies_newer_entries_only_and_removes_the_journal() {
        use crate::store::values::{Credits, Expiry};
        use crate::store::{NewKey, Store};
        let dir = tempfile::tempdir().unwrap();
        let new = NewKey {
            credits: Credits::new(10).unwrap(),
            enabled: true,
            valid_until: Expiry::Never,
            ..Default::default()
        };
        let (a, b) = {
            let s = Store::open(dir.path()).unwrap();
            (s.create_key(&new).unwrap().0, s.create_key(&new).unwrap().0)
        };
        // a crashed server's journal: `a` was charged after its last flush; the entry for `b` is older
        // than its record (a later admin change reached the disk) and must not apply
        let jdir = dir.path().join(DIR);
        std::fs::create_dir_all(&jdir).unwrap();
        let mut bytes = Vec::new();
        Entry {
            id: a.id,
            version: a.version + 1_000_000,
            credits: 7,
        }
        .encode(&mut bytes);
        Entry {
            id: b.id,
            version: b.version - 1,
            credits: 1,
        }
        .encode(&mut bytes);
        std::fs::write(file_name(&jdir, 3), bytes).unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.key_by_id(a.id).unwrap().credits, 7);
        assert_eq!(s.key_by_id(b.id).unwrap().credits, 10);
        assert!(files(&jdir).unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_durable_charge_is_in_the_journal_in_both_modes() {
        use crate::store::values::{Credits, Expiry};
        use crate::store::{NewKey, Store};
        for sync in [ChargeSync::Os, ChargeSync::Disk] {
            let dir = tempfile::tempdir().unwrap();
            let s = Store::open(dir.path()).unwrap();
            let (k, _) = s
                .create_key(&NewKey {
                    credits: Credits::new(5).unwrap(),
                    enabled: true,
                    valid_until: Expiry::Never,
                    ..Default::default()
                })
                .unwrap();
            s.start_credit_journal(sync).unwrap();
            s.journal.get().unwrap().stop(); // no checkpoint may fold the entry away meanwhile
            s.reserve_credits(k.id, 2).unwrap();
            s.durable().await.unwrap();
            let got = read_all(dir.path()).unwrap();
            assert_eq!(got.len(), 1, "{sync:?}");
            assert_eq!((got[0].id, got[0].credits), (k.id, 3), "{sync:?}");
            assert!(got[0].version > k.version, "{sync:?}");
            drop(s); // a clean close folds the journal into the database and removes it
            assert!(read_all(dir.path()).unwrap().is_empty(), "{sync:?}");
        }
    }
}
