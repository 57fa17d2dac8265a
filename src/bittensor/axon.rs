//! Axon-side (miner) verification of incoming `Prompting` requests, as the SDK's `AxonMiddleware` + `default_verify`
//! do it (spec §2.4–2.7), and the responses a miner must send (§2.9).
//!
//! Framework-agnostic: feed it method, path, header pairs and body bytes; it returns either a [`VerifiedPrompt`] or an
//! [`AxonError`], and [`success_response`] / [`error_response`] produce status, headers and body for any HTTP server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::body_hash::prompting_body_hash;
use super::keys;
use super::synapse::{self, PROMPTING};

/// The SDK's `ALLOWED_DELTA` (4 s) for the nonce freshness window.
pub const ALLOWED_DELTA_NS: u128 = 4_000_000_000;
/// Dendrite version from which the freshness window applies (`V_7_2_0`).
pub const V_7_2_0: u64 = 7_002_000;

/// A rejected request: the HTTP status (= axon status code) and message the SDK would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct AxonError {
    /// HTTP status and `bt_header_axon_status_code` (401, 404, 500, …).
    pub status: u16,
    /// `bt_header_axon_status_message` and the body's `message`.
    pub message: String,
    /// The synapse name for the `name` header (`Synapse` when the headers could not be parsed, like the SDK).
    pub synapse_name: String,
}

impl AxonError {
    fn new(status: u16, message: impl Into<String>, synapse_name: &str) -> Self {
        Self {
            status,
            message: message.into(),
            synapse_name: synapse_name.to_string(),
        }
    }
    fn not_verified(reason: impl std::fmt::Display) -> Self {
        Self::new(401, format!("Not Verified with error: {reason}"), PROMPTING)
    }
    fn internal(synapse_name: &str) -> Self {
        // The SDK hides the cause behind a random id (the log has the detail).
        Self::new(
            500,
            format!("Internal Server Error #{}", uuid::Uuid::new_v4()),
            synapse_name,
        )
    }
}

/// A request that passed route, header, signature, nonce and body-hash checks.
#[derive(Debug, Clone)]
pub struct VerifiedPrompt {
    /// Chat roles from the body.
    pub roles: Vec<String>,
    /// Chat messages from the body.
    pub messages: Vec<String>,
    /// The caller (validator) hotkey SS58.
    pub dendrite_hotkey: String,
    /// The caller's UUID.
    pub dendrite_uuid: String,
    /// The accepted nonce.
    pub nonce: u64,
    /// The `timeout` header in seconds (0 when absent).
    pub timeout_secs: f64,
    /// The request body object, echoed back (with `completion` and `axon.status_*` filled) on success.
    pub body: Map<String, Value>,
}

/// Last accepted nonce per `"{dendrite_hotkey}:{dendrite_uuid}"`, with the 10.5.0 rules (spec §2.6).
///
/// Entries are never evicted (as in the SDK); btvep's dendrite reuses a small, bounded set of UUIDs per axon.
#[derive(Debug, Default)]
pub struct NonceTracker {
    last: Mutex<HashMap<String, u64>>,
}

impl NonceTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Check `nonce` for `key` without recording it. Returns the SDK's error text on rejection.
    ///
    /// # Errors
    /// `Nonce is too old: …` (outside the freshness window, first request of a key, version ≥ 7002000) or
    /// `Nonce is too old, a newer one was last processed` / `Nonce is too small` (not strictly increasing).
    pub fn check(
        &self,
        key: &str,
        nonce: u64,
        version: Option<u64>,
        timeout_secs: f64,
        now_ns: u128,
    ) -> Result<(), String> {
        let map = self.last.lock().unwrap_or_else(|p| p.into_inner());
        check_locked(map.get(key).copied(), nonce, version, timeout_secs, now_ns)
    }

    /// Check and record an accepted nonce under one lock, so two concurrent copies of a request cannot both pass.
    ///
    /// # Errors
    /// As [`NonceTracker::check`].
    pub fn check_and_record(
        &self,
        key: &str,
        nonce: u64,
        version: Option<u64>,
        timeout_secs: f64,
        now_ns: u128,
    ) -> Result<(), String> {
        let mut map = self.last.lock().unwrap_or_else(|p| p.into_inner());
        check_locked(map.get(key).copied(), nonce, version, timeout_secs, now_ns)?;
        map.insert(key.to_string(), nonce);
        Ok(())
    }
}

fn check_locked(
    last: Option<u64>,
    nonce: u64,
    version: Option<u64>,
    timeout_secs: f64,
    now_ns: u128,
) -> Result<(), String> {
    if version.is_some_and(|v| v >= V_7_2_0) {
        let timeout_ns = (timeout_secs.max(0.0) * 1e9) as u128;
        let window = ALLOWED_DELTA_NS + timeout_ns;
        if last.is_none() && (nonce as u128) <= now_ns.saturating_sub(window) {
            let age = (now_ns as f64 - nonce as f64) / 1e9;
            return Err(format!(
                "Nonce is too old: acceptable delta is {:.2} seconds but request was {:.2} seconds old",
                window as f64 / 1e9,
                age
            ));
        }
        if last.is_some_and(|l| nonce <= l) {
            return Err("Nonce is too old, a newer one was last processed".into());
        }
    } else if last.is_some_and(|l| nonce <= l) {
        return Err("Nonce is too small".into());
    }
    Ok(())
}

/// Verifies incoming `Prompting` requests for one axon hotkey.
#[derive(Debug)]
pub struct AxonVerifier {
    hotkey: String,
    nonces: NonceTracker,
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl AxonVerifier {
    /// A verifier for the axon whose own hotkey is `axon_hotkey_ss58` (signatures must be made for it).
    pub fn new(axon_hotkey_ss58: impl Into<String>) -> Self {
        Self {
            hotkey: axon_hotkey_ss58.into(),
            nonces: NonceTracker::new(),
        }
    }

    /// The axon hotkey this verifier checks signatures against.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    /// Run the SDK pipeline on a request at the current time. See [`AxonVerifier::verify_at`].
    ///
    /// # Errors
    /// See [`AxonVerifier::verify_at`].
    pub fn verify<'h, I>(
        &self,
        path: &str,
        headers: I,
        body: &[u8],
    ) -> Result<VerifiedPrompt, AxonError>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        self.verify_at(path, headers, body, now_ns())
    }

    /// Run the SDK pipeline on a request (header names are matched case-insensitively, as Starlette lowercases them):
    /// route (404), header synapse (500), `default_verify` (401: missing signature/nonce, nonce rules, signature over
    /// `{nonce}.{dendrite}.{OWN hotkey}.{uuid}.{computed_body_hash header}`), then body integrity (500).
    /// Blacklisting (403) and priority are the caller's business and belong before this call.
    ///
    /// # Errors
    /// [`AxonError`] with the SDK's status and message.
    pub fn verify_at<'h, I>(
        &self,
        path: &str,
        headers: I,
        body: &[u8],
        now_ns: u128,
    ) -> Result<VerifiedPrompt, AxonError>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        let headers: HashMap<String, &str> = headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let get = |k: &str| headers.get(k).copied();
        let ParsedHead {
            timeout_secs,
            version,
            nonce,
        } = parse_head(path, &headers)?;
        let header_hash = get("computed_body_hash").unwrap_or("");
        let uuid = get("bt_header_dendrite_uuid").unwrap_or("None");

        // default_verify.
        let signature = get("bt_header_dendrite_signature")
            .ok_or_else(|| AxonError::not_verified("Missing Signature"))?;
        let dendrite_hotkey = get("bt_header_dendrite_hotkey")
            .ok_or_else(|| AxonError::not_verified("Missing Hotkey"))?;
        let nonce = nonce.ok_or_else(|| AxonError::not_verified("Missing Nonce"))?;
        let key = format!("{dendrite_hotkey}:{uuid}");
        self.nonces
            .check(&key, nonce, version, timeout_secs, now_ns)
            .map_err(AxonError::not_verified)?;
        let message =
            synapse::signed_message(nonce, dendrite_hotkey, &self.hotkey, uuid, header_hash);
        match keys::verify(dendrite_hotkey, &message, signature) {
            Ok(true) => {}
            Ok(false) => {
                return Err(AxonError::not_verified(format!(
                    "Signature mismatch with {message} and {signature}"
                )))
            }
            Err(keys::KeyError::SignatureFormat(e)) => return Err(AxonError::not_verified(e)),
            Err(e) => return Err(AxonError::not_verified(e)),
        }
        self.nonces
            .check_and_record(&key, nonce, version, timeout_secs, now_ns)
            .map_err(AxonError::not_verified)?;

        // verify_body_integrity: the body must parse as Prompting and hash to the header value.
        let body: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            _ => return Err(AxonError::internal(PROMPTING)),
        };
        let list = |field: &str| -> Option<Vec<String>> {
            body.get(field)?
                .as_array()?
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let (Some(roles), Some(messages)) = (list("roles"), list("messages")) else {
            return Err(AxonError::internal(PROMPTING));
        };
        if prompting_body_hash(&messages) != header_hash {
            return Err(AxonError::internal(PROMPTING));
        }
        Ok(VerifiedPrompt {
            roles,
            messages,
            dendrite_hotkey: dendrite_hotkey.to_string(),
            dendrite_uuid: uuid.to_string(),
            nonce,
            timeout_secs,
            body,
        })
    }
}

/// What the header synapse tells before any verification: enough for the blacklist and priority steps that the SDK
/// runs before `default_verify` (spec §2.5 steps 1–3).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestHead {
    /// `bt_header_dendrite_hotkey`, unverified (the caller's claim until the signature is checked).
    pub dendrite_hotkey: Option<String>,
    /// The `timeout` header in seconds, `None` when absent.
    pub timeout_secs: Option<f64>,
}

/// Route lookup and header-synapse construction (spec §2.5 steps 1–2) without any verification, so that a server
/// can blacklist (step 3) before [`AxonVerifier::verify`], which repeats these checks.
///
/// # Errors
/// 404 for an unknown synapse path; 500 `Internal Server Error #…` when the header synapse cannot be built (missing
/// `bt_header_input_obj_*`, non-numeric `timeout`/nonce/version).
pub fn precheck<'h, I>(path: &str, headers: I) -> Result<RequestHead, AxonError>
where
    I: IntoIterator<Item = (&'h str, &'h str)>,
{
    let headers: HashMap<String, &str> = headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    parse_head(path, &headers)?;
    Ok(RequestHead {
        dendrite_hotkey: headers
            .get("bt_header_dendrite_hotkey")
            .map(|h| h.to_string()),
        timeout_secs: headers
            .get("timeout")
            .and_then(|t| t.trim().parse::<f64>().ok()),
    })
}

struct ParsedHead {
    timeout_secs: f64,
    version: Option<u64>,
    nonce: Option<u64>,
}

/// Route (404) and header synapse (500) checks on lowercased headers.
fn parse_head(path: &str, headers: &HashMap<String, &str>) -> Result<ParsedHead, AxonError> {
    let name = path.trim_start_matches('/');
    if name != PROMPTING {
        return Err(AxonError::new(
            404,
            format!("Synapse name '{name}' not found. Available synapses ['Synapse', 'Prompting']"),
            "Synapse",
        ));
    }
    let get = |k: &str| headers.get(k).copied();
    // Header synapse construction: required input_obj headers and well-typed numbers, else 500 "Synapse".
    if get("bt_header_input_obj_roles").is_none() || get("bt_header_input_obj_messages").is_none() {
        return Err(AxonError::internal("Synapse"));
    }
    let timeout_secs = match get("timeout") {
        None => 0.0,
        Some(t) => t
            .trim()
            .parse::<f64>()
            .map_err(|_| AxonError::internal("Synapse"))?,
    };
    let parse_u64 = |k: &str| -> Result<Option<u64>, AxonError> {
        get(k)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| AxonError::internal("Synapse"))
            })
            .transpose()
    };
    Ok(ParsedHead {
        timeout_secs,
        version: parse_u64("bt_header_dendrite_version")?,
        nonce: parse_u64("bt_header_dendrite_nonce")?,
    })
}

/// An HTTP response for any server framework.
#[derive(Debug, Clone, PartialEq)]
pub struct AxonResponse {
    /// HTTP status.
    pub status: u16,
    /// Header pairs (lowercase names), including `content-type: application/json`.
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Vec<u8>,
}

fn status_headers(
    name: &str,
    status: u16,
    message: &str,
    process_time: f64,
) -> Vec<(String, String)> {
    vec![
        ("name".into(), name.to_string()),
        ("bt_header_axon_status_code".into(), status.to_string()),
        ("bt_header_axon_status_message".into(), message.to_string()),
        (
            "bt_header_axon_process_time".into(),
            format!("{process_time}"),
        ),
        ("content-type".into(), "application/json".into()),
    ]
}

/// The success answer of §2.9: HTTP 200, the request JSON echoed with `completion` set and `axon.status_code=200`,
/// lowercase `bt_header_axon_status_*` headers. Works for both 6.x and 10.x dendrites.
pub fn success_response(
    req: &VerifiedPrompt,
    axon_hotkey: &str,
    completion: &str,
    process_time: f64,
) -> AxonResponse {
    let mut body = req.body.clone();
    body.insert("completion".into(), Value::String(completion.to_string()));
    let mut axon = match body.remove("axon") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    axon.insert("status_code".into(), Value::from(200));
    axon.insert("status_message".into(), Value::from("Success"));
    axon.insert("process_time".into(), Value::from(process_time));
    axon.insert("hotkey".into(), Value::from(axon_hotkey));
    body.insert("axon".into(), Value::Object(axon));
    let mut headers = status_headers(PROMPTING, 200, "Success", process_time);
    headers.push(("timeout".into(), synapse::py_float(req.timeout_secs)));
    headers.push(("bt_header_axon_hotkey".into(), axon_hotkey.to_string()));
    headers.push((
        "bt_header_dendrite_hotkey".into(),
        req.dendrite_hotkey.clone(),
    ));
    headers.push(("bt_header_dendrite_uuid".into(), req.dendrite_uuid.clone()));
    headers.push(("bt_header_dendrite_nonce".into(), req.nonce.to_string()));
    headers.push((
        "bt_header_input_obj_roles".into(),
        synapse::INPUT_OBJ_EMPTY_LIST.into(),
    ));
    headers.push((
        "bt_header_input_obj_messages".into(),
        synapse::INPUT_OBJ_EMPTY_LIST.into(),
    ));
    headers.push((
        "computed_body_hash".into(),
        prompting_body_hash(&req.messages),
    ));
    let body = serde_json::to_vec(&Value::Object(body)).unwrap_or_else(|_| b"{}".to_vec());
    AxonResponse {
        status: 200,
        headers,
        body,
    }
}

/// The 10.x error answer: HTTP status = axon status, body `{"message": …}`, lowercase status headers.
pub fn error_response(err: &AxonError, process_time: f64) -> AxonResponse {
    error_response_with(&err.synapse_name, err.status, &err.message, process_time)
}

/// Like [`error_response`] for an arbitrary status/message (e.g. a blacklist 403 or a forward failure 500).
pub fn error_response_with(
    synapse_name: &str,
    status: u16,
    message: &str,
    process_time: f64,
) -> AxonResponse {
    let body = serde_json::to_vec(&serde_json::json!({ "message": message }))
        .unwrap_or_else(|_| b"{}".to_vec());
    AxonResponse {
        status,
        headers: status_headers(synapse_name, status, message, process_time),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_rules() {
        let t = NonceTracker::new();
        let now: u128 = 1_800_000_000_000_000_000;
        let v = Some(10_005_000);
        // 20 s old, window 16 s.
        let old = (now - 20_150_000_000) as u64;
        let e = t.check("k", old, v, 12.0, now).unwrap_err();
        assert_eq!(
            e,
            "Nonce is too old: acceptable delta is 16.00 seconds but request was 20.15 seconds old"
        );
        // Old versions: only monotonic.
        t.check_and_record("k", 12345, None, 12.0, now).unwrap();
        assert_eq!(
            t.check_and_record("k", 12345, None, 12.0, now).unwrap_err(),
            "Nonce is too small"
        );
        let n = now as u64;
        t.check_and_record("k2", n, v, 12.0, now).unwrap();
        assert_eq!(
            t.check_and_record("k2", n, v, 12.0, now).unwrap_err(),
            "Nonce is too old, a newer one was last processed"
        );
        // Future nonces are fine.
        t.check_and_record("k3", n + 10_000_000_000, v, 12.0, now)
            .unwrap();
    }
}
