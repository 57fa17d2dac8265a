//! The request log: one record per API request outcome and per miner answer (btvep's `Request` table).
//!
//! Records are keyed by time, so a time range is one range scan; two index trees (by API key id and by
//! responder hotkey) make the common filters a prefix scan that touches only matching records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// One log record (btvep's `Request` fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LogRecord {
    /// Unique id (assigned on append).
    #[serde(default)]
    pub id: u64,
    /// When the record was written.
    pub timestamp: DateTime<Utc>,
    /// The API key used, when it was known.
    pub api_key_id: Option<u64>,
    /// Id shared by every record of one API request.
    pub api_request_id: String,
    /// The route (`/chat`, `/v1/chat/completions`).
    #[serde(default)]
    pub route: Option<String>,
    /// The prompt (last user message).
    pub prompt: Option<String>,
    /// Whether the API request got past authentication, credits, moderation and rate limits.
    pub is_api_success: bool,
    /// btvep's error code when it did not (`APIKeyInvalid`, `RateLimitExceeded`, ...).
    pub api_error: Option<String>,
    /// The miner's completion.
    pub response: Option<String>,
    /// The miner's hotkey.
    pub responder_hotkey: Option<String>,
    /// The miner's uid.
    pub uid: Option<u16>,
    /// Whether the miner answered successfully.
    pub is_success: Option<bool>,
    /// The miner's status message.
    pub return_message: Option<String>,
    /// The miner's status code.
    pub return_code: Option<u16>,
    /// How long the miner took, in milliseconds.
    pub elapsed_ms: Option<u64>,
    /// Our (dendrite) protocol version.
    pub src_version: Option<u64>,
    /// The miner's (axon) protocol version, when it reported one.
    pub dest_version: Option<u64>,
}

/// A log query; every filter combines with every other.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogFilter {
    /// Only records of this API key id.
    pub key_id: Option<u64>,
    /// Only records answered by this hotkey.
    pub responder_hotkey: Option<String>,
    /// Only records at or after this time.
    pub start: Option<DateTime<Utc>>,
    /// Only records at or before this time.
    pub end: Option<DateTime<Utc>>,
    /// At most this many records.
    pub limit: usize,
    /// Follow mode: only records strictly after this record id's position, oldest first.
    /// Without it, the newest records come first.
    pub after: Option<LogCursor>,
}

/// A position in the log (time, id), used to continue a `--follow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCursor {
    /// Timestamp in microseconds.
    pub micros: u64,
    /// Record id.
    pub id: u64,
}

impl LogRecord {
    /// This record's position in the log.
    pub fn cursor(&self) -> LogCursor {
        LogCursor {
            micros: micros(self.timestamp),
            id: self.id,
        }
    }
}

pub(super) fn micros(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp_micros()).unwrap_or(0)
}

/// The log key of a record: time and id, both inverted, so that the newest record sorts first.
///
/// Newest-first listings are then forward scans: sled 0.34's reverse range iteration was seen to skip
/// entries (see `docs/benchmarks.md`), so btvep never iterates backwards.
pub(super) fn time_key(micros: u64, id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&(u64::MAX - micros).to_be_bytes());
    k[8..].copy_from_slice(&(u64::MAX - id).to_be_bytes());
    k
}

impl Store {
    /// Appends records (assigning ids), with their index entries, in one batch per tree.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn append_logs(&self, records: &mut [LogRecord]) -> Result<(), StoreError> {
        let mut main = sled::Batch::default();
        let mut by_key = sled::Batch::default();
        let mut by_hotkey = sled::Batch::default();
        for r in records.iter_mut() {
            r.id = self.db.generate_id()?;
            let tk = time_key(micros(r.timestamp), r.id);
            main.insert(
                &tk,
                serde_json::to_vec(r).expect("a LogRecord always serializes"),
            );
            if let Some(k) = r.api_key_id {
                let mut ik = k.to_be_bytes().to_vec();
                ik.extend_from_slice(&tk);
                by_key.insert(ik, &[]);
            }
            if let Some(h) = &r.responder_hotkey {
                let mut ik = h.as_bytes().to_vec();
                ik.push(0);
                ik.extend_from_slice(&tk);
                by_hotkey.insert(ik, &[]);
            }
        }
        // Index entries first: a reader that finds an index entry before its record skips it.
        self.logs_by_key.apply_batch(by_key)?;
        self.logs_by_hotkey.apply_batch(by_hotkey)?;
        self.logs.apply_batch(main)?;
        Ok(())
    }

    /// Runs a log query: newest first, or, after a cursor (follow mode), every newer record oldest first.
    ///
    /// The most selective index is scanned (key, then hotkey, then time) and the remaining filters are
    /// applied to each record, so `--key K --lines 100` reads about 100 records whatever the log size.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn query_logs(&self, f: &LogFilter) -> Result<Vec<LogRecord>, StoreError> {
        let lo = f.start.map(micros).unwrap_or(0);
        let hi = f.end.map(micros).unwrap_or(u64::MAX);
        // Keys sort newest first: the range runs from `hi` (first) down to `lo` (last).
        let first = time_key(hi, u64::MAX);
        let mut last = time_key(lo, 0);
        let mut last_inclusive = true;
        if let Some(c) = f.after {
            let cut = time_key(c.micros, c.id);
            if cut <= last {
                last = cut;
                last_inclusive = false;
            }
        }
        if first > last || (first == last && !last_inclusive) {
            return Ok(Vec::new());
        }
        let limit = if f.limit == 0 || f.after.is_some() {
            usize::MAX
        } else {
            f.limit
        };

        let (index, prefix): (Option<&sled::Tree>, Vec<u8>) = if let Some(k) = f.key_id {
            (Some(&self.logs_by_key), k.to_be_bytes().to_vec())
        } else if let Some(h) = &f.responder_hotkey {
            let mut p = h.as_bytes().to_vec();
            p.push(0);
            (Some(&self.logs_by_hotkey), p)
        } else {
            (None, Vec::new())
        };
        let with_prefix = |k: &[u8]| [prefix.as_slice(), k].concat();
        let (from, to) = (with_prefix(&first), with_prefix(&last));
        let range = if last_inclusive {
            index.unwrap_or(&self.logs).range(from..=to)
        } else {
            index.unwrap_or(&self.logs).range(from..to)
        };
        let mut out = Vec::new();
        for item in range {
            let (k, v) = item?;
            let bytes = if index.is_some() {
                match self.logs.get(&k[prefix.len()..])? {
                    Some(b) => b,
                    None => continue,
                }
            } else {
                v
            };
            let r: LogRecord = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("log record: {e}")))?;
            if f.key_id.is_some_and(|k| r.api_key_id != Some(k))
                || f.responder_hotkey
                    .as_ref()
                    .is_some_and(|h| r.responder_hotkey.as_ref() != Some(h))
            {
                continue;
            }
            out.push(r);
            if out.len() >= limit {
                break;
            }
        }
        if f.after.is_some() {
            out.reverse();
        }
        Ok(out)
    }

    /// Number of log records stored.
    pub fn log_count(&self) -> usize {
        self.logs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rec(sec: i64, key: Option<u64>, hotkey: Option<&str>) -> LogRecord {
        LogRecord {
            timestamp: Utc.timestamp_opt(sec, 0).unwrap(),
            api_key_id: key,
            responder_hotkey: hotkey.map(String::from),
            api_request_id: format!("req-{sec}"),
            is_api_success: true,
            ..Default::default()
        }
    }

    #[test]
    fn filters_combine_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut recs = vec![
            rec(100, Some(1), Some("A")),
            rec(200, Some(2), Some("A")),
            rec(300, Some(1), Some("B")),
            rec(400, Some(1), Some("A")),
            rec(500, None, None),
        ];
        s.append_logs(&mut recs).unwrap();
        let q = |f: LogFilter| -> Vec<i64> {
            s.query_logs(&f)
                .unwrap()
                .iter()
                .map(|r| r.timestamp.timestamp())
                .collect()
        };
        assert_eq!(q(LogFilter::default()), vec![500, 400, 300, 200, 100]);
        assert_eq!(
            q(LogFilter {
                limit: 2,
                ..Default::default()
            }),
            vec![500, 400]
        );
        assert_eq!(
            q(LogFilter {
                key_id: Some(1),
                ..Default::default()
            }),
            vec![400, 300, 100]
        );
        assert_eq!(
            q(LogFilter {
                key_id: Some(1),
                responder_hotkey: Some("A".into()),
                ..Default::default()
            }),
            vec![400, 100]
        );
        assert_eq!(
            q(LogFilter {
                responder_hotkey: Some("A".into()),
                start: Some(Utc.timestamp_opt(150, 0).unwrap()),
                end: Some(Utc.timestamp_opt(400, 0).unwrap()),
                ..Default::default()
            }),
            vec![400, 200]
        );
        let all = s.query_logs(&LogFilter::default()).unwrap();
        let after = all[2].cursor(); // the record at 300
        assert_eq!(
            q(LogFilter {
                after: Some(after),
                ..Default::default()
            }),
            vec![400, 500]
        );
    }
}
