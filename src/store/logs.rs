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

/// The most bytes of a prompt or a response a log record keeps; longer texts are cut at a character
/// boundary and end with a marker saying how long they were.
pub const LOG_TEXT_MAX_BYTES: usize = 16 * 1024;

/// Cuts `text` to [`LOG_TEXT_MAX_BYTES`] (plus a marker) when it is longer.
pub fn cap_log_text(text: &mut String) {
    if text.len() <= LOG_TEXT_MAX_BYTES {
        return;
    }
    let total = text.len();
    let mut cut = LOG_TEXT_MAX_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&format!(" […truncated: {total} bytes in all]"));
}

/// A log record decoded without its texts (see [`Store::query_log_summaries`]).
#[derive(Deserialize)]
struct LogSummary {
    #[serde(default)]
    id: u64,
    timestamp: DateTime<Utc>,
    api_key_id: Option<u64>,
    api_request_id: String,
    #[serde(default)]
    route: Option<String>,
    is_api_success: bool,
    api_error: Option<String>,
    responder_hotkey: Option<String>,
    uid: Option<u16>,
    is_success: Option<bool>,
    return_code: Option<u16>,
    elapsed_ms: Option<u64>,
    src_version: Option<u64>,
    dest_version: Option<u64>,
}

impl From<LogSummary> for LogRecord {
    fn from(s: LogSummary) -> Self {
        LogRecord {
            id: s.id,
            timestamp: s.timestamp,
            api_key_id: s.api_key_id,
            api_request_id: s.api_request_id,
            route: s.route,
            prompt: None,
            is_api_success: s.is_api_success,
            api_error: s.api_error,
            response: None,
            responder_hotkey: s.responder_hotkey,
            uid: s.uid,
            is_success: s.is_success,
            return_message: None,
            return_code: s.return_code,
            elapsed_ms: s.elapsed_ms,
            src_version: s.src_version,
            dest_version: s.dest_version,
        }
    }
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

pub(crate) fn micros(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp_micros()).unwrap_or(0)
}

/// The log key of a record: time and id, both inverted, so that the newest record sorts first.
///
/// Newest-first listings are then forward scans: sled 0.34's reverse range iteration was seen to skip
/// entries (see `docs/benchmarks.md`), so btvep never iterates backwards.
pub(crate) fn time_key(micros: u64, id: u64) -> [u8; 16] {
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
        for r in records.iter_mut() {
            r.id = self.db.generate_id()?;
            for text in [&mut r.prompt, &mut r.response].into_iter().flatten() {
                cap_log_text(text);
            }
        }
        self.insert_logs(records)
    }

    /// Writes records as they are (ids included) with their index entries.
    ///
    /// Entry by entry, not as sled batches: a batch (like a transaction) takes a database-wide write
    /// lock that every other write and read then waits for, so a large log batch or prune would
    /// stall the requests charging credits. Index entries go first: a reader that finds an index
    /// entry before its record skips it, and a crash can leave at most such skipped entries.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub(crate) fn insert_logs(&self, records: &[LogRecord]) -> Result<(), StoreError> {
        let mut index_key = Vec::with_capacity(96);
        let mut value = Vec::with_capacity(512);
        for r in records {
            let tk = time_key(micros(r.timestamp), r.id);
            if let Some(k) = r.api_key_id {
                index_key.clear();
                index_key.extend_from_slice(&k.to_be_bytes());
                index_key.extend_from_slice(&tk);
                self.logs_by_key.insert(index_key.as_slice(), &[])?;
            }
            if let Some(h) = &r.responder_hotkey {
                index_key.clear();
                index_key.extend_from_slice(h.as_bytes());
                index_key.push(0);
                index_key.extend_from_slice(&tk);
                self.logs_by_hotkey.insert(index_key.as_slice(), &[])?;
            }
        }
        for r in records {
            value.clear();
            serde_json::to_writer(&mut value, r).expect("a LogRecord always serializes");
            self.logs
                .insert(time_key(micros(r.timestamp), r.id), value.as_slice())?;
        }
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
        self.scan_logs::<LogRecord>(f)
    }

    /// As [`Store::query_logs`], without the texts: `prompt`, `response` and `return_message` are
    /// skipped while decoding (never allocated), for statistics over many records.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`], [`StoreError::Db`].
    pub fn query_log_summaries(&self, f: &LogFilter) -> Result<Vec<LogRecord>, StoreError> {
        self.scan_logs::<LogSummary>(f)
    }

    fn scan_logs<T>(&self, f: &LogFilter) -> Result<Vec<LogRecord>, StoreError>
    where
        T: serde::de::DeserializeOwned + Into<LogRecord>,
    {
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
            let r: LogRecord = serde_json::from_slice::<T>(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("log record: {e}")))?
                .into();
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

    #[test]
    fn long_texts_are_capped_with_a_marker() {
        let mut t = "é".repeat(LOG_TEXT_MAX_BYTES); // 2 bytes each
        cap_log_text(&mut t);
        assert!(t.len() < LOG_TEXT_MAX_BYTES + 64);
        assert!(t.ends_with(&format!(
            "[…truncated: {} bytes in all]",
            2 * LOG_TEXT_MAX_BYTES
        )));
        let mut short = "short".to_string();
        cap_log_text(&mut short);
        assert_eq!(short, "short");
    }

    #[test]
    fn summaries_skip_the_texts() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut r = vec![LogRecord {
            prompt: Some("p".repeat(100_000)),
            response: Some("r".into()),
            ..rec(10, Some(1), Some("hk"))
        }];
        s.append_logs(&mut r).unwrap();
        let full = s.query_logs(&LogFilter::default()).unwrap();
        assert!(full[0].prompt.as_ref().unwrap().len() < LOG_TEXT_MAX_BYTES + 64);
        let lite = s.query_log_summaries(&LogFilter::default()).unwrap();
        assert_eq!(
            (lite[0].prompt.as_ref(), lite[0].response.as_ref()),
            (None, None)
        );
        assert_eq!(lite[0].api_key_id, Some(1));
    }

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
