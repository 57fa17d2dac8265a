//! The admin HTTP API behind the dashboard (`/admin/...`), the dashboard page itself and `/metrics`.
//!
//! Every `/admin` route requires `Authorization: Bearer <admin_api_key>`, compared in constant time. Key
//! operations go through the same [`crate::admin::Operation`]s as the CLI and the admin socket, so the three
//! ways of managing keys cannot drift apart. Documented in `docs/dashboard.md`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use warp::Filter;

use super::error::ApiError;
use super::http::{btvep_error, json_reply, new_request_id, parse_json, with_state, Reply};
use super::state::AppState;
use crate::admin::{ops, run_hooked, Operation};
use crate::config::{self, ConfigFile, RateLimit, KEYS};
use crate::store::values::{parse_strategy, Credits, Expiry};
use crate::store::{KeyPatch, LogFilter, NewKey};
use crate::timeparse;

/// The dashboard, embedded in the binary.
pub const DASHBOARD_HTML: &str = include_str!("dashboard/index.html");

/// Config keys the dashboard may change while the server runs (they take effect at once).
pub const EDITABLE: &[&str] = &[
    "rate_limiting_enabled",
    "global_rate_limits",
    "openai_filter_enabled",
    "openai_base_url",
    "default_query_strategy",
    "miner_timeout",
    "hedge_after_ms",
    "cooling_max_seconds",
    "metrics_require_admin",
];

/// Most log records one `/admin/logs` reply carries.
pub const ADMIN_MAX_LOG_LINES: usize = 1_000;

/// Compares two secrets in time independent of where they differ (both are hashed first, so the length
/// does not leak either).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.as_slice().ct_eq(y.as_slice()).into()
}

/// Whether the `Authorization` header carries the admin token.
pub fn is_admin(state: &AppState, authorization: Option<&str>) -> bool {
    match (
        state.settings().admin_api_key.as_deref(),
        super::http::bearer(authorization),
    ) {
        (Some(expected), Some(given)) => constant_time_eq(expected, &given),
        _ => false,
    }
}

fn unauthorized() -> ApiError {
    ApiError::AdminUnauthorized
}

/// All admin, dashboard and metrics routes.
pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Reply,), Error = warp::Rejection> + Clone {
    let auth = warp::header::optional::<String>("authorization");
    let dashboard = warp::path("dashboard")
        .and(warp::path::end().or(warp::path("index.html").and(warp::path::end())).unify())
        .and(warp::get())
        .map(|| {
            let mut r = warp::Reply::into_response(warp::reply::html(DASHBOARD_HTML));
            super::http::set_header(&mut r, "cache-control", "no-store");
            super::http::set_header(&mut r, "content-security-policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'");
            super::http::set_header(&mut r, "x-frame-options", "DENY");
            r
        });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(auth)
        .map(|s: Arc<AppState>, a: Option<String>| {
            if s.settings().metrics_require_admin && !is_admin(&s, a.as_deref()) {
                return btvep_error(&unauthorized(), &new_request_id());
            }
            let mg = s.metagraph().map(|m| {
                let age = (Utc::now() - m.fetched_at).num_milliseconds() as f64 / 1000.0;
                (
                    age,
                    m.neurons.len(),
                    m.neurons.iter().filter(|n| n.is_serving()).count(),
                )
            });
            let mut r = warp::Reply::into_response(s.metrics.render(mg));
            super::http::set_header(
                &mut r,
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            );
            r
        });
    let admin = warp::path("admin")
        .and(warp::method())
        .and(warp::path::tail())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(auth)
        .and(super::http::body_stream())
        .and(with_state(state))
        .then(
            |method: warp::http::Method,
             tail: warp::path::Tail,
             query: String,
             a: Option<String>,
             declared: Option<u64>,
             body: super::http::BodyStream,
             s: Arc<AppState>| async move {
                let id = new_request_id();
                // The token is checked before the body is read.
                if !is_admin(&s, a.as_deref()) {
                    return btvep_error(&unauthorized(), &id);
                }
                let body =
                    match super::http::read_body(declared, body, s.settings().body_timeout).await {
                        Ok(b) => b,
                        Err(e) => return btvep_error(&e, &id),
                    };
                let store_state = s.clone();
                let path = tail.as_str().trim_end_matches('/').to_string();
                let result = tokio::task::spawn_blocking(move || {
                    handle(&store_state, &method, &path, &query, &body)
                })
                .await
                .unwrap_or(Err(ApiError::Internal));
                match result {
                    Ok((status, v)) => json_reply(status, &v, &id),
                    Err(e) => btvep_error(&e, &id),
                }
            },
        );
    dashboard.or(metrics).unify().or(admin).unify()
}

/// Runs an admin operation as the socket would (queued log records written out first for reads,
/// changes flushed before they are acknowledged).
fn admin_call<O: Operation>(state: &AppState, op: O) -> Result<O::Output, ApiError> {
    if O::READS_LOG_COUNTERS {
        state.logs.barrier();
    }
    if O::READS_MINER_HEALTH {
        state.persist_health();
    }
    run_hooked(&op, &state.store, &crate::admin::Hooks::default()).map_err(|e| match e {
        crate::admin::AdminError::NotFound(m) => ApiError::AdminNotFound(m),
        crate::admin::AdminError::Invalid(m) => ApiError::BadRequest(m),
        crate::admin::AdminError::Internal(m) => {
            tracing::error!("admin request failed: {m}");
            ApiError::Internal
        }
    })
}

fn handle(
    state: &AppState,
    method: &warp::http::Method,
    path: &str,
    query: &str,
    body: &[u8],
) -> Result<(u16, Value), ApiError> {
    use warp::http::Method;
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match (method, parts.as_slice()) {
        (&Method::GET, ["stats"]) => {
            let q = super::stats::StatsQuery::from_query(&parse_query(query));
            Ok((200, json!(super::stats::stats(state, q)?)))
        }
        (&Method::GET, ["keys"]) => Ok((200, json!(admin_call(state, ops::ListKeys)?))),
        (&Method::GET, ["miners"]) => Ok((200, json!(admin_call(state, ops::ListMiners)?))),
        (&Method::POST, ["keys"]) => {
            let new = admin_json::<CreateKeyBody>(body)?.into_new_key()?;
            let ops::Created { key, api_key } = admin_call(state, ops::CreateKey(new))?;
            let mut v = json!(key);
            v["api_key"] = json!(api_key);
            Ok((201, v))
        }
        (m, ["keys", id]) if m == Method::PATCH || m == Method::DELETE => {
            let id: u64 = id
                .parse()
                .map_err(|_| ApiError::AdminNotFound(format!("no API key with id {id}")))?;
            let key = if m == Method::DELETE {
                admin_call(state, ops::DeleteKey { id })?
            } else {
                let patch = admin_json::<PatchKeyBody>(body)?.into_patch()?;
                admin_call(state, ops::EditKey { id, patch })?
            };
            Ok((200, json!(key)))
        }
        (&Method::GET, ["logs"]) => {
            let q = parse_query(query);
            let filter = log_filter(&q)?;
            Ok((200, json!(admin_call(state, ops::QueryLogs(filter))?)))
        }
        (&Method::GET, ["config"]) => Ok((200, config_view(state)?)),
        (&Method::PATCH, ["config"]) => {
            let changes: BTreeMap<String, Value> = parse_json(body)?;
            update_config(state, &changes)?;
            Ok((200, config_view(state)?))
        }
        _ => Err(ApiError::NotFound),
    }
}

/// `POST /admin/keys` body (values checked as they are read).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyBody {
    /// Name.
    pub name: Option<String>,
    /// Credits (-1 unlimited).
    pub credits: Option<Credits>,
    /// Expiry: text as on the CLI, or a number.
    pub valid_until: Option<ExpiryInput>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// Default strategy (`none` or empty: the server's).
    pub default_query_strategy: Option<String>,
}

impl CreateKeyBody {
    fn into_new_key(self) -> Result<NewKey, ApiError> {
        Ok(NewKey {
            name: self.name.filter(|n| !n.is_empty()),
            valid_until: self.valid_until.map_or(Expiry::Never, |e| e.0),
            credits: self.credits.unwrap_or(Credits::UNLIMITED),
            enabled: self.enabled.unwrap_or(true),
            default_query_strategy: match self.default_query_strategy {
                Some(s) => parse_strategy(&s).map_err(|e| ApiError::BadRequest(e.0))?,
                None => None,
            },
        })
    }
}

/// `PATCH /admin/keys/{id}` body: absent fields stay; `null` clears a name, a strategy or a key's own
/// rate limits.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchKeyBody {
    /// New name (`null` or empty clears it).
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    /// New request count.
    pub request_count: Option<u64>,
    /// New balance.
    pub credits: Option<Credits>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New expiry: text as on the CLI, or a number.
    pub valid_until: Option<ExpiryInput>,
    /// New default strategy (`null`, empty or `none` clears it).
    #[serde(default, deserialize_with = "present")]
    pub default_query_strategy: Option<Option<String>>,
    /// The key's own rate limits (`null` or `[]`: the global ones).
    #[serde(default, deserialize_with = "present")]
    pub rate_limits: Option<Option<Value>>,
}

impl PatchKeyBody {
    fn into_patch(self) -> Result<KeyPatch, ApiError> {
        let strategy = match self.default_query_strategy {
            None => None,
            Some(s) => Some(
                parse_strategy(s.as_deref().unwrap_or(""))
                    .map_err(|e| ApiError::BadRequest(e.0))?,
            ),
        };
        let rate_limits = match self.rate_limits {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => {
                let l: Vec<RateLimit> =
                    config::parse_rate_limits(&v).map_err(ApiError::BadRequest)?;
                Some(Some(l).filter(|l| !l.is_empty()))
            }
        };
        Ok(KeyPatch {
            name: self.name.map(|n| n.filter(|n| !n.is_empty())),
            request_count: self.request_count,
            credits: self.credits,
            enabled: self.enabled,
            valid_until: self.valid_until.map(|e| e.0),
            default_query_strategy: strategy,
            rate_limits,
        })
    }
}

/// Tells a field that is present (even as `null`) from one that is absent.
fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An expiry as the dashboard sends it: a number, CLI text (`2025-01-01`, `1 month`, …), or
/// `false`/`null` for never.
#[derive(Debug)]
pub struct ExpiryInput(pub Expiry);

impl<'de> Deserialize<'de> for ExpiryInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = match Value::deserialize(d)? {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s,
            Value::Bool(false) | Value::Null => "-1".into(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "valid_until: unexpected value {other}"
                )))
            }
        };
        timeparse::parse_expiry(&text, timeparse::today())
            .map(ExpiryInput)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses an admin body; every problem is a 400 naming the field.
fn admin_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))
}

fn parse_query(q: &str) -> HashMap<String, String> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn log_filter(q: &HashMap<String, String>) -> Result<LogFilter, ApiError> {
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let time = |k: &str, is_end: bool| -> Result<Option<DateTime<Utc>>, ApiError> {
        get(k)
            .map(|t| {
                timeparse::log_bound(t, is_end)
                    .map_err(|e| ApiError::BadRequest(format!("{k}: {e}")))
            })
            .transpose()
    };
    let end = time("end", true)?;
    Ok(LogFilter {
        key_id: get("key")
            .map(|k| {
                k.parse()
                    .map_err(|_| ApiError::BadRequest(format!("key: '{k}' is not a key id")))
            })
            .transpose()?,
        responder_hotkey: get("responder_hotkey").map(String::from),
        start: time("start", false)?,
        end,
        limit: get("lines")
            .map(|l| {
                l.parse()
                    .map_err(|_| ApiError::BadRequest("lines: expected a whole number".into()))
            })
            .transpose()?
            .unwrap_or(100)
            .clamp(1, ADMIN_MAX_LOG_LINES),
        after: None,
    })
}

fn config_view(state: &AppState) -> Result<Value, ApiError> {
    let src = state.config_source.as_ref().ok_or(ApiError::Internal)?;
    let r = src.load().map_err(|e| {
        tracing::error!("reading the config failed: {e:#}");
        ApiError::Internal
    })?;
    let keys: Vec<Value> = KEYS
        .iter()
        .map(|k| {
            json!({
                "key": k.name,
                "value": r.display_json(k.name, false),
                "source": r.source(k.name),
                "secret": k.kind.is_secret(),
                "editable": EDITABLE.contains(&k.name),
                "doc": k.doc,
            })
        })
        .collect();
    Ok(json!({"path": src.path, "keys": keys}))
}

fn update_config(state: &AppState, changes: &BTreeMap<String, Value>) -> Result<(), ApiError> {
    let src = state.config_source.as_ref().ok_or(ApiError::Internal)?;
    let mut parsed = Vec::with_capacity(changes.len());
    for (key, value) in changes {
        let spec = config::spec(key)
            .ok_or_else(|| ApiError::BadRequest(format!("unknown config key '{key}'")))?;
        if !EDITABLE.contains(&spec.name) {
            return Err(ApiError::BadRequest(format!(
                "{key} cannot be changed from the dashboard; use `btvep config set`"
            )));
        }
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let v = spec
            .kind
            .parse_text(&text)
            .map_err(|reason| ApiError::BadRequest(format!("invalid value for {key}: {reason}")))?;
        parsed.push((key.as_str(), v));
    }
    // One locked read-modify-write for all changes: concurrent PATCHes and CLI writers never lose each
    // other's changes, and a file that no longer parses is left alone (and reported) rather than replaced.
    ConfigFile::update(&src.path, |file| {
        for (key, v) in parsed {
            file.set(key, v)?;
        }
        Ok::<_, config::ConfigError>(())
    })
    .map_err(|e| {
        tracing::error!("writing the config failed: {e}");
        match e {
            config::ConfigError::Corrupt { .. } => ApiError::Conflict(
                "the config file on disk is corrupt; fix it with `btvep config` first".into(),
            ),
            _ => ApiError::Internal,
        }
    })?;
    state.reload_config();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn query_decoding() {
        let q = parse_query("start=2025-01-01%2010%3A00%3A00&lines=5&responder_hotkey=5F+x");
        assert_eq!(q["start"], "2025-01-01 10:00:00");
        assert_eq!(q["lines"], "5");
        assert_eq!(q["responder_hotkey"], "5F x");
    }
}
