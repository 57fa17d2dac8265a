//! Log retention: pruning old records (by age and by size) in small batches, and how much of a
//! prompt or an answer a record keeps.
//!
//! Records sort newest first (see the store's layout), so the oldest are the tail of the `logs` tree: a
//! prune walks from the cut-off to the end, a batch at a time, and removes each record together with its
//! index entries (record first, then index entries: a reader that meets an index entry without its
//! record skips it). Between batches it sleeps, so a server pruning millions of records keeps serving.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::logs::{micros, time_key};
use super::{LogRecord, Store, StoreError};

/// What a record keeps of the prompt and the answer (`log_store_text`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogText {
    /// Up to [`crate::store::LOG_TEXT_MAX_BYTES`] of each.
    #[default]
    Full,
    /// The first [`TRUNCATED_CHARS`] characters of each.
    Truncated,
    /// Neither (statistics and counters are unaffected).
    None,
}

/// How many characters `truncated` keeps.
pub const TRUNCATED_CHARS: usize = 200;

impl std::str::FromStr for LogText {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(LogText::Full),
            "truncated" => Ok(LogText::Truncated),
            "none" => Ok(LogText::None),
            other => Err(format!("'{other}' is not full, truncated or none")),
        }
    }
}

impl LogText {
    /// Applies the policy to a record before it is written.
    pub fn apply(self, r: &mut LogRecord) {
        match self {
            LogText::Full => {}
            LogText::None => {
                r.prompt = None;
                r.response = None;
            }
            LogText::Truncated => {
                for text in [&mut r.prompt, &mut r.response].into_iter().flatten() {
                    if let Some((cut, _)) = text.char_indices().nth(TRUNCATED_CHARS) {
                        text.truncate(cut);
                        text.push('…');
                    }
                }
            }
        }
    }
}

/// What to prune.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct PruneRequest {
    /// Remove records older than this (none: no age limit).
    pub older_than: Option<DateTime<Utc>>,
    /// Keep at most about this many bytes of records, newest first (none: no size cap).
    pub max_bytes: Option<u64>,
    /// Count what would go, remove nothing.
    pub dry_run: bool,
}

/// What a prune removed (or, dry, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneSummary {
    /// Records removed (or that would be).
    pub removed: u64,
    /// Records left.
    pub remaining: u64,
}

/// Records removed per batch.
pub const PRUNE_BATCH: usize = 250;
/// The pause between batches when a server prunes (on demand or in the background).
pub const PRUNE_PAUSE: Duration = Duration::from_millis(50);

/// Gives the calling thread the lowest CPU priority (nice 19; Linux only, best effort). Call it only
/// on a thread of your own: pool threads would keep it.
pub fn lower_this_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on this thread's own id changes only its scheduling priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

/// Runs `f` on a new thread at the lowest CPU priority (nice 19), so a long prune yields the CPU to
/// request handling, and returns its result.
///
/// # Errors
/// [`StoreError::Invalid`] when the thread cannot be started or panics.
pub fn run_low_priority<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let thread = std::thread::Builder::new()
        .name("btvep-log-prune".into())
        .spawn(move || {
            lower_this_thread_priority();
            f()
        })
        .map_err(|e| StoreError::Invalid(format!("starting the prune thread: {e}")))?;
    thread
        .join()
        .map_err(|_| StoreError::Invalid("the prune thread panicked".into()))?
}

impl Store {
    /// Removes old records (and their index entries) in batches of [`PRUNE_BATCH`], pausing `pause`
    /// between batches.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn prune_logs(
        &self,
        req: &PruneRequest,
        pause: Duration,
    ) -> Result<PruneSummary, StoreError> {
        let cut = self.prune_cut(req)?;
        let mut summary = PruneSummary::default();
        if let Some(start) = cut {
            loop {
                let batch: Vec<(sled::IVec, sled::IVec)> = self
                    .logs
                    .range(start.clone()..)
                    .take(PRUNE_BATCH)
                    .collect::<Result<_, _>>()?;
                if batch.is_empty() {
                    break;
                }
                summary.removed += batch.len() as u64;
                if req.dry_run {
                    // Nothing removed: count the rest without decoding it.
                    summary.removed += self
                        .logs
                        .range(batch.last().expect("non-empty").0.clone()..)
                        .count() as u64
                        - 1;
                    break;
                }
                self.remove_records(&batch)?;
                if !pause.is_zero() {
                    std::thread::sleep(pause);
                }
            }
        }
        summary.remaining =
            (self.logs.len() as u64).saturating_sub(if req.dry_run { summary.removed } else { 0 });
        Ok(summary)
    }

    /// The first log key to remove: the later of the age cut-off and the size cut-off.
    fn prune_cut(&self, req: &PruneRequest) -> Result<Option<Vec<u8>>, StoreError> {
        // Older than `t` ⇔ key ≥ time_key(t − 1 µs, MAX) (keys invert time).
        let by_age = req
            .older_than
            .map(|t| time_key(micros(t).saturating_sub(1), u64::MAX).to_vec());
        let by_size = match req.max_bytes {
            None => None,
            Some(cap) => {
                let mut total = 0u64;
                let mut cut = None;
                for item in self.logs.iter() {
                    let (k, v) = item?;
                    // the record, its key and up to two index entries
                    total += (v.len() + 3 * k.len() + 64) as u64;
                    if total > cap {
                        cut = Some(k.to_vec());
                        break;
                    }
                }
                cut
            }
        };
        Ok(match (by_age, by_size) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Removes records, then their index entries, entry by entry (no sled batch: its database-wide
    /// write lock, held by this low-priority thread, would stall the requests).
    fn remove_records(&self, batch: &[(sled::IVec, sled::IVec)]) -> Result<(), StoreError> {
        #[derive(Deserialize)]
        struct Indexed {
            api_key_id: Option<u64>,
            responder_hotkey: Option<String>,
        }
        for (k, _) in batch {
            self.logs.remove(k)?;
        }
        let mut ik = Vec::with_capacity(96);
        for (k, v) in batch {
            // A record that does not decode is still removed; its index entries (if any) are then
            // skipped by readers, as for any index entry without a record.
            let Ok(r) = serde_json::from_slice::<Indexed>(v) else {
                continue;
            };
            if let Some(id) = r.api_key_id {
                ik.clear();
                ik.extend_from_slice(&id.to_be_bytes());
                ik.extend_from_slice(k);
                self.logs_by_key.remove(ik.as_slice())?;
            }
            if let Some(h) = r.responder_hotkey {
                ik.clear();
                ik.extend_from_slice(h.as_bytes());
                ik.push(0);
                ik.extend_from_slice(k);
                self.logs_by_hotkey.remove(ik.as_slice())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rec(sec: i64, key: u64) -> LogRecord {
        LogRecord {
            timestamp: Utc.timestamp_opt(sec, 0).unwrap(),
            api_key_id: Some(key),
            api_request_id: format!("r{sec}"),
            responder_hotkey: Some("hk".into()),
            prompt: Some("x".repeat(100)),
            ..Default::default()
        }
    }

    #[test]
    fn prunes_by_age_and_size_keeping_indexes_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut records: Vec<LogRecord> = (0..2_500)
            .map(|i| rec(1_000 + i, 1 + i as u64 % 3))
            .collect();
        s.append_logs(&mut records).unwrap();
        let cut = Utc.timestamp_opt(1_000 + 1_200, 0).unwrap();
        let dry = s
            .prune_logs(
                &PruneRequest {
                    older_than: Some(cut),
                    max_bytes: None,
                    dry_run: true,
                },
                Duration::ZERO,
            )
            .unwrap();
        assert_eq!(
            dry,
            PruneSummary {
                removed: 1_200,
                remaining: 1_300
            }
        );
        assert_eq!(s.log_count(), 2_500);
        let done = s
            .prune_logs(
                &PruneRequest {
                    older_than: Some(cut),
                    max_bytes: None,
                    dry_run: false,
                },
                Duration::ZERO,
            )
            .unwrap();
        assert_eq!(
            done,
            PruneSummary {
                removed: 1_200,
                remaining: 1_300
            }
        );
        let all = s.query_logs(&crate::store::LogFilter::default()).unwrap();
        assert!(all.iter().all(|r| r.timestamp >= cut));
        assert_eq!(s.logs_by_key.len(), 1_300);
        assert_eq!(s.logs_by_hotkey.len(), 1_300);
        let by_key = s
            .query_logs(&crate::store::LogFilter {
                key_id: Some(2),
                ..Default::default()
            })
            .unwrap();
        assert!(!by_key.is_empty() && by_key.iter().all(|r| r.timestamp >= cut));
        // a size cap keeps the newest records only
        let capped = s
            .prune_logs(
                &PruneRequest {
                    older_than: None,
                    max_bytes: Some(100 * 400),
                    dry_run: false,
                },
                Duration::ZERO,
            )
            .unwrap();
        assert!(
            capped.remaining < 1_300 && capped.remaining > 0,
            "{capped:?}"
        );
        let newest = s
            .query_logs(&crate::store::LogFilter {
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            newest[0].timestamp,
            Utc.timestamp_opt(1_000 + 2_499, 0).unwrap()
        );
    }

    #[test]
    fn text_policies() {
        let mut r = LogRecord {
            prompt: Some("é".repeat(500)),
            response: Some("ok".into()),
            ..Default::default()
        };
        LogText::Truncated.apply(&mut r);
        assert_eq!(
            r.prompt.as_ref().unwrap().chars().count(),
            TRUNCATED_CHARS + 1
        );
        assert_eq!(r.response.as_deref(), Some("ok"));
        LogText::None.apply(&mut r);
        assert_eq!((r.prompt, r.response), (None, None));
    }
}
