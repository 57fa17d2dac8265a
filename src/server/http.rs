//! HTTP plumbing shared by the front ends: request ids, body parsing with clear errors, JSON replies,
//! rejection rendering, CORS.

use std::convert::Infallible;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use warp::http::{HeaderValue, Response, StatusCode};
use warp::hyper::body::Bytes;
use warp::Filter;

use super::error::ApiError;
use super::pipeline::RequestMeta;
use super::state::AppState;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// A complete HTTP reply.
pub type Reply = warp::reply::Response;

/// A request body not read yet: handlers read it with [`read_body`] once the key has been checked.
pub type BodyStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, warp::Error>> + Send>>;

/// The request body, unread, with its declared length (absent for chunked bodies).
pub fn body_stream(
) -> impl Filter<Extract = (Option<u64>, BodyStream), Error = warp::Rejection> + Clone {
    warp::header::optional::<u64>("content-length").and(warp::body::stream().map(boxed_body))
}

fn boxed_body<S, B>(s: S) -> BodyStream
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: warp::Buf,
{
    use futures_util::TryStreamExt;
    Box::pin(s.map_ok(|mut b| b.copy_to_bytes(b.remaining())))
}

/// Reads a body of at most [`MAX_BODY_BYTES`] (sized or chunked) within `timeout`.
///
/// # Errors
/// [`ApiError::PayloadTooLarge`] as soon as the declared or received size passes the limit,
/// [`ApiError::BodyTimeout`] when the client is too slow, [`ApiError::BadRequest`] when the
/// connection breaks mid-body.
pub async fn read_body(
    declared: Option<u64>,
    mut body: BodyStream,
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    use futures_util::StreamExt;
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let read = async {
        let mut buf = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("Reading the body failed: {e}")))?;
            if (buf.len() + chunk.len()) as u64 > MAX_BODY_BYTES {
                return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(ApiError::BodyTimeout(timeout.as_secs())))
}

/// Passes the shared state into handlers.
pub fn with_state(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Arc<AppState>,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// A new request id (`req_` + 24 hex digits).
pub fn new_request_id() -> String {
    format!("req_{}", &uuid::Uuid::new_v4().simple().to_string()[..24])
}

/// The bearer token of an `Authorization` header (`Bearer KEY`, case-insensitive scheme).
pub fn bearer(header: Option<&str>) -> Option<String> {
    let h = header?.trim();
    let (scheme, token) = h.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_string())
}

/// Parses a JSON body: syntax errors are 400, wrong fields or types 422, both with serde's explanation.
///
/// # Errors
/// [`ApiError::BadRequest`] or [`ApiError::Invalid`].
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::Invalid(format!("Invalid request body: {e}"))
        }
        _ => ApiError::BadRequest(format!("Malformed JSON body: {e}")),
    })
}

/// A JSON reply with a status and the request id.
pub fn json_reply<T: Serialize>(status: u16, body: &T, request_id: &str) -> Reply {
    let bytes = serde_json::to_vec(body).expect("replies always serialize");
    let mut r = warp::Reply::into_response(Response::new(bytes));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    set_header(&mut r, "x-request-id", request_id);
    r
}

/// Sets a header from text (ignored when not a valid header value).
pub fn set_header(r: &mut Reply, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// Adds `Retry-After` for rate-limited errors.
pub fn add_retry_after(r: &mut Reply, e: &ApiError) {
    if let Some(s) = e.retry_after() {
        set_header(r, "retry-after", &s.to_string());
    }
}

/// Counts and logs a finished request (never the API key) at its error's level (info when served),
/// then returns its reply.
pub fn finish(
    state: &AppState,
    meta: &RequestMeta,
    key_id: Option<u64>,
    error: Option<&ApiError>,
    reply: Reply,
) -> Reply {
    let status = reply.status().as_u16();
    state.metrics.http_request(meta.route, status);
    let key_id = key_id.map_or(-1, |k| k as i64);
    let ms = meta.started.elapsed().as_millis() as u64;
    let (route, request_id) = (meta.route, meta.request_id.as_str());
    let outcome = error.map_or("served", ApiError::log_code);
    macro_rules! log_at {
        ($level:expr) => {
            tracing::event!($level, route, request_id, key_id, status, ms, outcome, "request")
        };
    }
    match error.map_or(tracing::Level::INFO, ApiError::level) {
        tracing::Level::ERROR => log_at!(tracing::Level::ERROR),
        tracing::Level::WARN => log_at!(tracing::Level::WARN),
        _ => log_at!(tracing::Level::INFO),
    }
    reply
}

/// Maps a warp rejection (no route, wrong method, body too large, ...) to an [`ApiError`].
pub fn rejection_error(r: &warp::Rejection) -> ApiError {
    if r.is_not_found() {
        ApiError::NotFound
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge(MAX_BODY_BYTES)
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if r.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::BadRequest("Content-Length is required".into())
    } else if r.find::<warp::reject::UnsupportedMediaType>().is_some() {
        ApiError::UnsupportedMediaType
    } else if let Some(e) = r.find::<warp::filters::cors::CorsForbidden>() {
        ApiError::Forbidden(e.to_string())
    } else if let Some(e) = r.find::<warp::reject::InvalidHeader>() {
        ApiError::BadRequest(format!("Invalid header: {}", e.name()))
    } else {
        tracing::error!("unhandled rejection: {r:?}");
        ApiError::Internal
    }
}

/// Renders an error in btvep's shape: `{"detail": "..."}` (plus `failed_responses` when miners failed).
pub fn btvep_error(e: &ApiError, request_id: &str) -> Reply {
    let mut body = serde_json::json!({ "detail": e.to_string() });
    if let ApiError::AllMinersFailed(failed) = e {
        body["failed_responses"] = serde_json::to_value(failed).unwrap_or_default();
    }
    let mut r = json_reply(e.status(), &body, request_id);
    add_retry_after(&mut r, e);
    r
}

/// Renders a rejection in btvep's shape.
pub async fn recover_btvep(r: warp::Rejection) -> Result<Reply, Infallible> {
    Ok(btvep_error(&rejection_error(&r), &new_request_id()))
}

/// The CORS policy: any origin unless `cors_allowed_origins` lists some.
pub fn cors(origins: &str) -> warp::cors::Builder {
    let base = warp::cors()
        .allow_methods(["GET", "POST", "OPTIONS", "DELETE", "PATCH"])
        .allow_headers([
            "authorization",
            "content-type",
            "endpoint-version",
            "x-request-id",
            "openai-organization",
            "openai-project",
        ])
        .expose_headers([
            "x-request-id",
            "retry-after",
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
        ]);
    let list: Vec<&str> = origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect();
    if list.is_empty() || list.contains(&"*") {
        base.allow_any_origin()
    } else {
        base.allow_origins(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc".into()));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc".into()));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
