//! The miner's OpenAI API for the btauth/1 and Epistula transports: `POST /v1/chat/completions`, plain and
//! streamed, verified before any work.
//!
//! Order per request: route (404/405) → auth headers: shape (400), receiver (403), freshness (401) → body size cap
//! (413, from `Content-Length` before reading, then while reading) → signature over the raw body and the replay
//! check (401) → blacklist on the *verified* hotkey (403) → JSON body (400) → priority by stake (503 when the wait
//! outlasts the request's timeout) → the backend. Refusals are `{"error": {"type", "message"}}` and never echo a
//! signature. A streamed answer is relayed from the backend chunk by chunk as it arrives; the caller leaving
//! cancels the backend call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;
use warp::Filter;

use super::blacklist;
use super::model::builtin_answer;
use super::priority::PriorityGate;
use super::{
    MetagraphCell, MinerError, MinerProtocol, MinerSettings, ModelBackend, OpenAiSettings,
    MAX_BODY_BYTES, MAX_TIMEOUT_SECS,
};
use crate::bittensor::keys::Hotkey;
use crate::bittensor::{btauth, epistula};

/// The route served.
pub const CHAT_PATH: &str = "/v1/chat/completions";
/// Time allowed for queueing plus the backend's answer (or its first byte, when streaming) when the caller sends
/// no `X-Client-Timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest silence between two chunks of a streamed backend answer before the stream is ended with an error.
pub const STREAM_IDLE: Duration = Duration::from_secs(60);
/// Largest plain backend answer read.
pub const MAX_BACKEND_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Sampling fields a request may set; each overrides the miner's `--openai.*` default.
pub const SAMPLING_FIELDS: [&str; 9] = [
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "n",
];

enum Auth {
    Btauth(btauth::Verifier),
    Epistula(epistula::Verifier),
}

struct State {
    hotkey: Hotkey,
    auth: Auth,
    settings: MinerSettings,
    metagraph: Arc<MetagraphCell>,
    gate: Arc<PriorityGate>,
    client: reqwest::Client,
}

/// A refusal or failure: status, the JSON error type and a message safe to show.
#[derive(Debug)]
struct Refusal {
    status: u16,
    kind: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    fn into_response(self) -> warp::reply::Response {
        json_response(
            self.status,
            &json!({"error": {"type": self.kind, "message": self.message}}),
        )
    }
}

impl From<btauth::AuthError> for Refusal {
    fn from(e: btauth::AuthError) -> Self {
        Refusal::new(e.status(), e.kind(), e.to_string())
    }
}

impl From<epistula::EpistulaError> for Refusal {
    fn from(e: epistula::EpistulaError) -> Self {
        Refusal::new(e.status(), e.kind(), e.to_string())
    }
}

fn json_response(status: u16, v: &Value) -> warp::reply::Response {
    let mut resp = warp::reply::Response::new(v.to_string().into());
    *resp.status_mut() =
        warp::http::StatusCode::from_u16(status).unwrap_or(warp::http::StatusCode::BAD_GATEWAY);
    resp.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Serve the OpenAI API on `listener` until `shutdown`, then give requests in flight [`SHUTDOWN_GRACE`].
///
/// # Errors
/// [`MinerError::Settings`] for the synapse protocol, `max_concurrency` 0 or a bad base URL;
/// [`MinerError::Client`]; [`MinerError::Listener`].
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    settings: MinerSettings,
    hotkey: Hotkey,
    metagraph: Arc<MetagraphCell>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MinerError> {
    if settings.max_concurrency == 0 {
        return Err(MinerError::Settings(
            "--miner.max_concurrency must be at least 1".into(),
        ));
    }
    let auth = match settings.protocol {
        MinerProtocol::Btauth => Auth::Btauth(btauth::Verifier::new(hotkey.ss58())),
        MinerProtocol::Epistula => Auth::Epistula(epistula::Verifier::new(hotkey.ss58())),
        MinerProtocol::Synapse => {
            return Err(MinerError::Settings(
                "the OpenAI API serves btauth or epistula only".into(),
            ))
        }
    };
    let local = match &settings.backend {
        ModelBackend::OpenAi(o) => {
            let base = o.base_url.trim_end_matches('/');
            if !(base.starts_with("http://") || base.starts_with("https://"))
                || reqwest::Url::parse(base).is_err()
            {
                return Err(MinerError::Settings(format!(
                    "--openai.base_url must be an http:// or https:// URL, got '{}'",
                    o.base_url
                )));
            }
            super::is_local_base_url(base)
        }
        ModelBackend::Builtin => true,
    };
    let client = crate::tls::build_client(|b| {
        let b = b
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60));
        if local {
            b.no_proxy()
        } else {
            b
        }
    })
    .map_err(|e| MinerError::Client(e.to_string()))?;
    let addr = listener.local_addr()?;
    let state = Arc::new(State {
        auth,
        gate: PriorityGate::new(settings.max_concurrency),
        hotkey,
        settings,
        metagraph,
        client,
    });
    let protocol = state.settings.protocol;
    let st = Arc::clone(&state);
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let route = warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method: warp::http::Method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: warp::http::HeaderMap,
                  body| {
                let st = Arc::clone(&st);
                async move {
                    let target = if query.is_empty() {
                        path.as_str().to_string()
                    } else {
                        format!("{}?{query}", path.as_str())
                    };
                    handle(&st, &method, path.as_str(), &target, &headers, body).await
                }
            },
        );
    tracing::info!(%addr, hotkey = state.hotkey.ss58(), %protocol, "miner listening");
    // The same connection limits, timeouts and graceful stop as the synapse miner.
    super::server::serve_until(listener, warp::service(route), shutdown).await;
    Ok(())
}

async fn handle<S, B>(
    st: &State,
    method: &warp::http::Method,
    path: &str,
    target: &str,
    headers: &warp::http::HeaderMap,
    body: S,
) -> warp::reply::Response
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: warp::Buf,
{
    let start = Instant::now();
    let mut caller: Option<String> = None;
    let result = pipeline(st, method, path, target, headers, body, start, &mut caller).await;
    let ms = start.elapsed().as_millis() as u64;
    let caller = caller.as_deref().unwrap_or("-");
    match result {
        Ok((resp, streamed)) => {
            tracing::info!(caller, elapsed_ms = ms, status = 200, streamed, "answered");
            resp
        }
        Err(r) => {
            if r.status >= 500 {
                tracing::warn!(caller, elapsed_ms = ms, status = r.status, outcome = %r.message, "failed");
            } else {
                tracing::info!(caller, elapsed_ms = ms, status = r.status, outcome = %r.message, "refused");
            }
            r.into_response()
        }
    }
}

enum Pending {
    Btauth(btauth::CheckedHeaders),
    Epistula(epistula::CheckedHeaders),
}

#[allow(clippy::too_many_arguments)]
async fn pipeline<S, B>(
    st: &State,
    method: &warp::http::Method,
    path: &str,
    target: &str,
    headers: &warp::http::HeaderMap,
    body: S,
    start: Instant,
    caller: &mut Option<String>,
) -> Result<(warp::reply::Response, bool), Refusal>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: warp::Buf,
{
    if path != CHAT_PATH {
        return Err(Refusal::new(404, "not_found", format!("no route {path}")));
    }
    if method != warp::http::Method::POST {
        return Err(Refusal::new(
            405,
            "method_not_allowed",
            "use POST /v1/chat/completions",
        ));
    }
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    // Headers first: nothing is read or computed for a request that is malformed, misaddressed or stale.
    let pending = match &st.auth {
        Auth::Btauth(v) => Pending::Btauth(v.check_headers(&pairs, btauth::now_ns())?),
        Auth::Epistula(v) => Pending::Epistula(v.check_headers(&pairs, epistula::now_ms())?),
    };
    let too_big = || {
        Refusal::new(
            413,
            "payload_too_large",
            format!("request body larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(warp::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_big());
    }
    let body = super::server::read_capped(body, MAX_BODY_BYTES)
        .await
        .ok_or_else(too_big)?;
    // The signature covers the raw body: verify it, then record the nonce/uuid.
    let hotkey = match (&st.auth, pending) {
        (Auth::Btauth(v), Pending::Btauth(p)) => {
            v.verify_body(p, method.as_str(), target, &body, btauth::now_ns())?
                .hotkey
        }
        (Auth::Epistula(v), Pending::Epistula(p)) => {
            v.verify_body(p, &body, epistula::now_ms())?.hotkey
        }
        _ => return Err(Refusal::new(500, "internal_error", "auth state mismatch")),
    };
    *caller = Some(hotkey.clone());
    let snapshot = st.metagraph.snapshot();
    let admission = blacklist::check(
        &st.settings.blacklist,
        snapshot.as_deref(),
        Some(hotkey.as_str()),
    )
    .map_err(|reason| {
        Refusal::new(
            403,
            "forbidden",
            format!("Forbidden. Key is blacklisted: {reason}."),
        )
    })?;
    let request: Value = serde_json::from_slice(&body).map_err(|e| {
        Refusal::new(
            400,
            "invalid_request_error",
            format!("body is not JSON: {e}"),
        )
    })?;
    let request = request
        .as_object()
        .ok_or_else(|| Refusal::new(400, "invalid_request_error", "body must be a JSON object"))?;
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty() && m.iter().all(Value::is_object))
        .ok_or_else(|| {
            Refusal::new(
                400,
                "invalid_request_error",
                "messages must be a non-empty array of objects",
            )
        })?;
    let stream = request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let timeout = headers
        .get("x-client-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t > 0.0)
        .map_or(DEFAULT_TIMEOUT, |t| {
            Duration::from_secs_f64(t.min(MAX_TIMEOUT_SECS))
        });
    let deadline = start + timeout;
    let slot = st
        .gate
        .acquire(admission.stake, deadline)
        .await
        .map_err(|_| {
            Refusal::new(
                503,
                "overloaded",
                format!("no model slot free within {:.1}s", timeout.as_secs_f64()),
            )
        })?;
    match &st.settings.backend {
        ModelBackend::Builtin => Ok((builtin(messages, stream), stream)),
        ModelBackend::OpenAi(o) => {
            let backend_body = backend_request(o, request, messages, stream);
            let mut req = st
                .client
                .post(format!(
                    "{}/chat/completions",
                    o.base_url.trim_end_matches('/')
                ))
                .json(&backend_body);
            if let Some(key) = &o.api_key {
                req = req.bearer_auth(key);
            }
            let resp = tokio::time::timeout_at(deadline, req.send())
                .await
                .map_err(|_| backend_failure("timed out"))?
                .map_err(|e| backend_failure(&transport_text(&e)))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(backend_failure(&format!("HTTP {}", status.as_u16())));
            }
            if stream {
                Ok((relay_stream(resp, slot, deadline).await?, true))
            } else {
                let v = read_plain(resp, deadline, o.suffix.as_deref()).await?;
                drop(slot);
                Ok((json_response(200, &v), false))
            }
        }
    }
}

fn backend_failure(what: &str) -> Refusal {
    Refusal::new(502, "backend_error", format!("model server error: {what}"))
}

/// The backend request: the caller's messages and sampling fields over the miner's `--openai.*` defaults, the
/// miner's model name, and `stream` as asked.
pub(crate) fn backend_request(
    o: &OpenAiSettings,
    request: &Map<String, Value>,
    messages: &[Value],
    stream: bool,
) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(o.model_name));
    body.insert("messages".into(), Value::Array(messages.to_vec()));
    body.insert("stream".into(), json!(stream));
    body.insert("temperature".into(), json!(o.temperature));
    body.insert("top_p".into(), json!(o.top_p));
    body.insert("n".into(), json!(o.n));
    body.insert("presence_penalty".into(), json!(o.presence_penalty));
    body.insert("frequency_penalty".into(), json!(o.frequency_penalty));
    if !request.contains_key("max_completion_tokens") {
        body.insert("max_tokens".into(), json!(o.max_tokens));
    }
    for field in SAMPLING_FIELDS {
        if let Some(v) = request.get(field).filter(|v| !v.is_null()) {
            body.insert(field.into(), v.clone());
        }
    }
    Value::Object(body)
}

async fn read_plain(
    mut resp: reqwest::Response,
    deadline: Instant,
    suffix: Option<&str>,
) -> Result<Value, Refusal> {
    let read = async {
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| backend_failure(&transport_text(&e)))?
        {
            if bytes.len() + chunk.len() > MAX_BACKEND_ANSWER_BYTES {
                return Err(backend_failure("answer too large"));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    let bytes = tokio::time::timeout_at(deadline, read)
        .await
        .map_err(|_| backend_failure("timed out"))??;
    let mut v: Value =
        serde_json::from_slice(&bytes).map_err(|_| backend_failure("answer is not JSON"))?;
    let content = v
        .pointer_mut("/choices/0/message/content")
        .ok_or_else(|| backend_failure("no choices[0].message.content"))?;
    if let (Some(suffix), Value::String(text)) = (suffix, content) {
        text.push_str(suffix);
    }
    Ok(v)
}

/// A response body fed by a channel (Send + Sync, as warp needs), so a task can relay into it and learn that the
/// caller left when sending fails.
struct ChannelBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_util::Stream for ChannelBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

fn sse_response(rx: mpsc::Receiver<Result<Bytes, std::io::Error>>) -> warp::reply::Response {
    let mut resp = warp::reply::Reply::into_response(warp::reply::stream(ChannelBody(rx)));
    let h = resp.headers_mut();
    h.insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        warp::http::header::CACHE_CONTROL,
        warp::http::HeaderValue::from_static("no-cache"),
    );
    resp
}

/// Relay the backend's event stream as it arrives, holding the model slot until it ends. A backend that breaks or
/// falls silent for [`STREAM_IDLE`] ends the stream with an OpenAI-style error event.
///
/// The answer's headers wait for the backend's first bytes (before `deadline`), so they leave in one packet with
/// them: sending the headers alone first would let Nagle's algorithm hold the first chunk back until the caller's
/// delayed ACK (~40 ms of time to first token).
///
/// # Errors
/// A 502 refusal when the backend sends nothing before `deadline` or breaks before its first bytes.
async fn relay_stream(
    mut resp: reqwest::Response,
    slot: super::priority::Slot,
    deadline: Instant,
) -> Result<warp::reply::Response, Refusal> {
    let first = tokio::time::timeout_at(deadline, resp.chunk())
        .await
        .map_err(|_| backend_failure("timed out"))?
        .map_err(|e| backend_failure(&transport_text(&e)))?;
    let (tx, rx) = mpsc::channel(32);
    match first {
        Some(first) => {
            let _ = tx.try_send(Ok(first));
        }
        None => return Ok(sse_response(rx)),
    }
    tokio::spawn(async move {
        let _slot = slot;
        loop {
            let failure = match tokio::time::timeout(STREAM_IDLE, resp.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    if tx.send(Ok(chunk)).await.is_err() {
                        tracing::info!("caller left mid-stream; backend call cancelled");
                        return;
                    }
                    continue;
                }
                Ok(Ok(None)) => return,
                Ok(Err(e)) => transport_text(&e),
                Err(_) => "backend stream stalled".to_string(),
            };
            tracing::warn!(outcome = %failure, "backend stream failed");
            let event = json!({"error": {"type": "backend_error", "message": format!("model server error: {failure}")}});
            let _ = tx.send(Ok(Bytes::from(format!("data: {event}\n\n")))).await;
            return;
        }
    });
    Ok(sse_response(rx))
}

fn last_user_text(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// The built-in responder as an OpenAI answer (a labelled echo), plain or as an event stream.
fn builtin(messages: &[Value], stream: bool) -> warp::reply::Response {
    let text = builtin_answer(&last_user_text(messages));
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = chrono::Utc::now().timestamp();
    if !stream {
        return json_response(
            200,
            &json!({
                "id": id, "object": "chat.completion", "created": created, "model": "btvep-builtin",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            }),
        );
    }
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let chunk = |delta: Value, finish: Value| {
            let v = json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": "btvep-builtin",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            });
            Ok(Bytes::from(format!("data: {v}\n\n")))
        };
        let mut events = vec![chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        )];
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let cut = rest[1..].find(' ').map_or(rest.len(), |i| i + 1);
            events.push(chunk(json!({"content": &rest[..cut]}), Value::Null));
            rest = &rest[cut..];
        }
        events.push(chunk(json!({}), json!("stop")));
        events.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
        for e in events {
            if tx.send(e).await.is_err() {
                return;
            }
        }
    });
    sse_response(rx)
}

fn transport_text(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        "broken answer".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_fields_override_defaults() {
        let o = OpenAiSettings::default();
        let req: Value = json!({"model": "x", "messages": [{"role":"user","content":"hi"}], "temperature": 0.9,
            "seed": 7, "user": "routing-field"});
        let req = req.as_object().unwrap();
        let msgs = req["messages"].as_array().unwrap();
        let b = backend_request(&o, req, msgs, true);
        assert_eq!(b["model"], o.model_name);
        assert_eq!(b["temperature"], 0.9);
        assert_eq!(b["seed"], 7);
        assert_eq!(b["max_tokens"], 100);
        assert_eq!(b["stream"], true);
        assert!(b.get("user").is_none());
        let req2: Value = json!({"messages": [], "max_completion_tokens": 5});
        let b = backend_request(&o, req2.as_object().unwrap(), &[], false);
        assert!(b.get("max_tokens").is_none());
        assert_eq!(b["max_completion_tokens"], 5);
    }
}
