//! Mapping Python btvep rows to btvep records, and judging them: what is impossible (a bad row), what is
//! odd but kept as stored (a warning), and how SQLite's loose types are read.
//!
//! The rules follow how the Python btvep really wrote its rows (`python-btvep-db.md`): dates are integer
//! unix seconds even in `DATETIME` columns (a `'YYYY-MM-DD HH:MM:SS'` text is read as UTC), booleans are
//! 0/1, prompts are JSON with `\uXXXX` escapes, and `rate_limits_enabled` is ignored because the Python
//! server never read it.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use rusqlite::types::Value;
use sha2::{Digest, Sha256};

use super::sqlite::{RawKey, RawRequest};
use crate::bittensor::strategy::QueryStrategy;
use crate::config::{parse_rate_limits, RateLimit};
use crate::store::{hash_api_key, ApiKey, LogRecord};

/// A key row that passed the checks.
#[derive(Clone)]
pub struct MappedKey {
    /// `apikey.id` in the Python database.
    pub source_id: i64,
    /// The record to store; `id` is still the Python id until ids are allocated.
    pub record: ApiKey,
    /// SHA-256 of the plaintext key.
    pub hash: [u8; 32],
    /// Things the operator should look at (the key is imported as stored).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for MappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedKey")
            .field("id", &self.record.id)
            .finish_non_exhaustive()
    }
}

/// `valid_until` values below this (but not -1) come from the Python `key edit --disable/--enable` bug.
const CLI_BUG_VALID_UNTIL: i64 = 2;
/// A `request_count` above this is almost surely a timestamp written by the `key edit -u` bug.
const TIMESTAMP_LIKE: i64 = 1_000_000_000;

/// Reads an integer stored as INTEGER, an integral REAL or integer TEXT.
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(n) => Some(*n),
        Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Some(*f as i64),
        Value::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a date: unix seconds (how peewee stored every upstream date), or a `YYYY-MM-DD[ HH:MM:SS[.f]]`
/// text (a Python `datetime`, taken as UTC).
pub fn date(v: &Value) -> Option<i64> {
    if let Some(n) = int(v) {
        return Some(n);
    }
    if let Value::Real(f) = v {
        return f.is_finite().then_some(f.floor() as i64);
    }
    let Value::Text(s) = v else { return None };
    let s = s.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// Reads a boolean stored as 0/1 (or `true`/`false` text).
pub fn boolean(v: &Value) -> Option<bool> {
    if let Some(n) = int(v) {
        return Some(n != 0);
    }
    match v {
        Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Reads text; numbers are rendered, NULL and BLOBs are `None`.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.clone()),
        Value::Integer(n) => Some(n.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Null | Value::Blob(_) => None,
    }
}

fn time(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

/// The hint btvep shows for a key: `...` and its last 4 characters.
pub fn hint(api_key: &str) -> String {
    let chars: Vec<char> = api_key.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("...{tail}")
}

/// Maps one `apikey` row, or says everything impossible about it.
///
/// # Errors
/// The reasons the row cannot be imported (never containing the key itself).
pub fn key(raw: &RawKey) -> Result<MappedKey, Vec<String>> {
    let mut bad = Vec::new();
    let mut warnings = Vec::new();
    let api_key = match &raw.api_key {
        Value::Text(s) if !s.trim().is_empty() => s.clone(),
        _ => {
            bad.push("api_key is empty or not text".to_string());
            String::new()
        }
    };
    let mut count = |col: &str, v: &Value| -> u64 {
        match int(v) {
            Some(n) if n >= 0 => {
                if col == "request_count" && n > TIMESTAMP_LIKE {
                    warnings.push(format!(
                        "request_count {n} looks like a timestamp (the Python `key edit -u` bug); fix it with `btvep key edit ID --request-count N`"
                    ));
                }
                n as u64
            }
            Some(n) => {
                bad.push(format!("{col} {n} is negative"));
                0
            }
            None => {
                bad.push(format!("{col} is not a whole number"));
                0
            }
        }
    };
    let request_count = count("request_count", &raw.request_count);
    let api_request_count = count("api_request_count", &raw.api_request_count);
    let valid_until = match date(&raw.valid_until) {
        Some(v) => {
            if v < -1 {
                warnings.push(format!(
                    "valid_until is {v}, before 1970: the key stays refused as expired, as it was; fix it with `btvep key edit ID --valid-until -1` if it should work"
                ));
            }
            v
        }
        None => {
            bad.push("valid_until is not a date".into());
            -1
        }
    };
    if (0..CLI_BUG_VALID_UNTIL).contains(&valid_until) {
        warnings.push(format!(
            "valid_until is {valid_until} (written by the Python `key edit --disable/--enable` bug): the key stays refused as expired, as it was; fix it with `btvep key edit ID --valid-until -1` (and `--disable` if that was meant)"
        ));
    }
    let credits = match int(&raw.credits) {
        Some(c) if c >= -1 => c,
        Some(c) => {
            bad.push(format!("credits {c} is below -1"));
            0
        }
        None => {
            bad.push("credits is not a whole number".into());
            0
        }
    };
    let enabled = boolean(&raw.enabled).unwrap_or_else(|| {
        bad.push("enabled is not 0 or 1".into());
        false
    });
    let rate_limits: Option<Vec<RateLimit>> = match &raw.rate_limits {
        Value::Null => None,
        Value::Text(s) if s.trim().is_empty() || s.trim() == "null" => None,
        Value::Text(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(v) => match parse_rate_limits(&v) {
                Ok(l) => Some(l),
                Err(e) => {
                    bad.push(format!("rate_limits: {e}"));
                    None
                }
            },
            Err(e) => {
                bad.push(format!("rate_limits is not JSON: {e}"));
                None
            }
        },
        _ => {
            bad.push("rate_limits is not JSON text".into());
            None
        }
    };
    let default_query_strategy = match text(&raw.default_query_strategy) {
        None => None,
        Some(s) if s.trim().is_empty() => None,
        Some(s) => match s.parse::<QueryStrategy>() {
            Ok(q) => Some(q.to_string()),
            Err(e) => {
                bad.push(format!("default_query_strategy: {e}"));
                None
            }
        },
    };
    let mut when = |col: &str, v: &Value| -> DateTime<Utc> {
        match date(v).and_then(time) {
            Some(t) => t,
            None => {
                bad.push(format!("{col} is not a date"));
                DateTime::<Utc>::UNIX_EPOCH
            }
        }
    };
    let created_at = when("created_at", &raw.created_at);
    let updated_at = when("updated_at", &raw.updated_at);
    if !bad.is_empty() {
        return Err(bad);
    }
    let hint = hint(&api_key);
    if let Some(stored) = text(&raw.api_key_hint) {
        if stored != hint {
            warnings.push(format!(
                "its api_key_hint was '{}' (the Python `key edit --name` bug wrote the name there); the hint was recomputed and the name kept — set the intended name with `btvep key edit ID --name`",
                crate::output::truncate(&stored, 40)
            ));
        }
    }
    let hash = hash_api_key(&api_key);
    Ok(MappedKey {
        source_id: raw.id,
        record: ApiKey {
            id: u64::try_from(raw.id).unwrap_or(0),
            api_key_hint: hint,
            name: text(&raw.name),
            request_count,
            api_request_count,
            valid_until,
            credits,
            enabled,
            rate_limits,
            default_query_strategy,
            created_at,
            updated_at,
            api_key_hash: hex::encode(hash),
            version: 0,
        },
        hash,
        warnings,
    })
}

/// The plaintext key a request row belongs to: `user_id` for answers, `api_key_id` for 429 rows.
pub fn link(raw: &RawRequest) -> [Option<&str>; 2] {
    fn s(v: &Value) -> Option<&str> {
        match v {
            Value::Text(s) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        }
    }
    [s(&raw.user_id), s(&raw.api_key_id)]
}

/// The log record id of an imported row: derived from the row itself, so a second import of the same row
/// lands on the same log entry instead of a copy. Ids are in `[2^52, 2^53)`: above any id sled's
/// `generate_id` hands out, and still exact as a JSON number in a browser.
pub fn log_id(raw: &RawRequest) -> u64 {
    let mut h = Sha256::new();
    h.update(b"btvep-import\0");
    h.update(raw.id.to_be_bytes());
    h.update(b"\0");
    h.update(text(&raw.api_request_id).unwrap_or_default().as_bytes());
    h.update(b"\0");
    h.update(int(&raw.timestamp).unwrap_or(0).to_be_bytes());
    let d = h.finalize();
    let n = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
    (n & ((1 << 52) - 1)) | (1 << 52)
}

/// The logged prompt: the last user message of the decoded JSON (as btvep logs its own requests); the
/// decoded text when the JSON is a string; the stored text when it is not JSON.
pub fn prompt(v: &Value) -> Option<String> {
    let raw = text(v)?;
    let Ok(parsed) = serde_json::from_str::<serde_json::Value>(&raw) else {
        return Some(raw);
    };
    match &parsed {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(messages) => {
            fn content(m: &serde_json::Value) -> Option<&str> {
                m.get("content").and_then(|c| c.as_str())
            }
            messages
                .iter()
                .rev()
                .find(|m| m.get("role").and_then(|r| r.as_str()) == Some("user"))
                .or_else(|| messages.last())
                .and_then(content)
                .map(str::to_string)
                .or(Some(raw))
        }
        _ => Some(raw),
    }
}

/// Maps one `request` row to a log record (without its key, which the caller links).
///
/// # Errors
/// The reasons the row cannot be imported.
pub fn request(raw: &RawRequest) -> Result<LogRecord, Vec<String>> {
    let mut bad = Vec::new();
    let timestamp = match date(&raw.timestamp).and_then(time) {
        Some(t) if t.timestamp() >= 0 => t,
        _ => {
            bad.push("timestamp is not a date".to_string());
            DateTime::<Utc>::UNIX_EPOCH
        }
    };
    let is_api_success = boolean(&raw.is_api_success).unwrap_or_else(|| {
        bad.push("is_api_success is not 0 or 1".into());
        false
    });
    let is_success = match &raw.is_success {
        Value::Null => None,
        v => match boolean(v) {
            Some(b) => Some(b),
            None => {
                bad.push("is_success is not 0, 1 or NULL".into());
                None
            }
        },
    };
    if !bad.is_empty() {
        return Err(bad);
    }
    let return_code_text = text(&raw.return_code);
    let return_code = return_code_text
        .as_deref()
        .and_then(|s| s.trim().parse::<u16>().ok());
    let return_message = text(&raw.return_message).or_else(|| {
        // 0.2.0 wrote code_to_string(return_code) into return_code: keep it as the message.
        return_code_text.filter(|s| s.trim().parse::<u16>().is_err())
    });
    let elapsed_ms = match &raw.elapsed_time {
        Value::Real(f) if f.is_finite() && *f >= 0.0 => Some((f * 1000.0).round() as u64),
        v => int(v).and_then(|n| u64::try_from(n).ok()).map(|s| s * 1000),
    };
    let version = |v: &Value| int(v).and_then(|n| u64::try_from(n).ok());
    Ok(LogRecord {
        id: log_id(raw),
        timestamp,
        api_key_id: None,
        api_request_id: text(&raw.api_request_id).unwrap_or_else(|| format!("python-{}", raw.id)),
        route: None,
        prompt: prompt(&raw.prompt),
        is_api_success,
        api_error: text(&raw.api_error),
        response: text(&raw.response),
        responder_hotkey: text(&raw.responder_hotkey).filter(|h| !h.is_empty()),
        uid: None,
        is_success,
        return_message,
        return_code,
        elapsed_ms,
        src_version: version(&raw.src_version),
        dest_version: version(&raw.dest_version),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_every_stored_form() {
        assert_eq!(date(&Value::Integer(1693853922)), Some(1693853922));
        assert_eq!(date(&Value::Integer(-1)), Some(-1));
        assert_eq!(
            date(&Value::Text("2025-01-01 00:00:00".into())),
            Some(1735689600)
        );
        assert_eq!(date(&Value::Text("2025-01-01".into())), Some(1735689600));
        assert_eq!(date(&Value::Text("soon".into())), None);
    }

    #[test]
    fn prompts_are_decoded() {
        let p = Value::Text(
            r#"[{"role": "system", "content": "x"}, {"role": "user", "content": "R\u00e9ponds \ud83e\udd80"}]"#
                .into(),
        );
        assert_eq!(prompt(&p).as_deref(), Some("Réponds 🦀"));
        assert_eq!(
            prompt(&Value::Text("not json".into())).as_deref(),
            Some("not json")
        );
    }

    #[test]
    fn hints_use_characters() {
        assert_eq!(hint("abcdef"), "...cdef");
        assert_eq!(hint("ab"), "...ab");
    }
}
