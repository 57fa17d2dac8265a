//! The miner's HTTP server: the SDK axon pipeline (spec §2.5) on warp.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::time::Instant;
use warp::Filter;

use super::blacklist::{self, Admission};
use super::model::Model;
use super::priority::PriorityGate;
use super::{
    MetagraphCell, MinerError, MinerSettings, DEFAULT_TIMEOUT_SECS, MAX_BODY_BYTES,
    MAX_TIMEOUT_SECS,
};
use crate::bittensor::axon::{self, AxonResponse, AxonVerifier};
use crate::bittensor::keys::Hotkey;
use crate::bittensor::synapse::{py_float, PROMPTING};

/// How long a caller has to send a request body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`Miner::serve`] lets requests in flight finish after the shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// A miner: verification state (nonces), the priority gate and the model client. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct Miner {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    hotkey: Hotkey,
    verifier: AxonVerifier,
    settings: MinerSettings,
    metagraph: Arc<MetagraphCell>,
    gate: Arc<PriorityGate>,
    model: Model,
}

/// Run a miner on `listener` until `shutdown` completes; see [`Miner::new`] and [`Miner::serve`]. With
/// `settings.protocol` btauth or epistula it serves the OpenAI API instead of the synapse.
///
/// # Errors
/// As [`Miner::new`] and [`Miner::serve`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: MinerSettings,
    hotkey: Hotkey,
    metagraph: Arc<MetagraphCell>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MinerError> {
    if settings.protocol.is_openai() {
        return super::openai_api::serve(listener, settings, hotkey, metagraph, shutdown).await;
    }
    Miner::new(settings, hotkey, metagraph)?
        .serve(listener, shutdown)
        .await
}

fn effective_timeout(header: Option<f64>) -> f64 {
    match header {
        Some(t) if t.is_finite() && t > 0.0 => t.min(MAX_TIMEOUT_SECS),
        _ => DEFAULT_TIMEOUT_SECS,
    }
}

fn to_http(r: AxonResponse) -> warp::http::Response<Vec<u8>> {
    let mut builder = warp::http::Response::builder().status(r.status);
    for (k, v) in &r.headers {
        // Status messages are built from our own text; a value that is not a valid header (control characters
        // from a hostile hotkey claim) is skipped rather than failing the whole answer.
        if warp::http::HeaderValue::from_str(v).is_ok() {
            builder = builder.header(k.as_str(), v.as_str());
        }
    }
    builder.body(r.body).unwrap_or_else(|_| {
        let mut resp =
            warp::http::Response::new(br#"{"message":"Internal Server Error"}"#.to_vec());
        *resp.status_mut() = warp::http::StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}

impl Miner {
    /// A miner answering for `hotkey` (signatures must be made for its SS58), admitting callers per
    /// `settings.blacklist` against `metagraph` (which may be refreshed concurrently, or stay empty).
    ///
    /// # Errors
    /// [`MinerError::Settings`] for `max_concurrency` 0 or a bad base URL; [`MinerError::Client`].
    pub fn new(
        settings: MinerSettings,
        hotkey: Hotkey,
        metagraph: Arc<MetagraphCell>,
    ) -> Result<Self, MinerError> {
        if settings.max_concurrency == 0 {
            return Err(MinerError::Settings(
                "--miner.max_concurrency must be at least 1".into(),
            ));
        }
        let model = Model::new(settings.backend.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                verifier: AxonVerifier::new(hotkey.ss58()),
                hotkey,
                gate: PriorityGate::new(settings.max_concurrency),
                settings,
                metagraph,
                model,
            }),
        })
    }

    /// The miner's hotkey SS58 (callers sign for it).
    pub fn hotkey_ss58(&self) -> &str {
        self.inner.hotkey.ss58()
    }

    /// Requests currently queued for a model slot (saturation; expired waiters count until skipped).
    pub fn waiting(&self) -> usize {
        self.inner.gate.waiting()
    }

    /// Serve HTTP on `listener` until `shutdown` completes, then stop accepting and give requests in flight up to
    /// [`SHUTDOWN_GRACE`] to finish.
    ///
    /// # Errors
    /// [`MinerError::Listener`] when the listener has no local address.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), MinerError> {
        let addr = listener.local_addr()?;
        let miner = self.clone();
        let route = warp::method()
            .and(warp::path::full())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .then(
                move |method: warp::http::Method,
                      path: warp::path::FullPath,
                      headers: warp::http::HeaderMap,
                      body| {
                    let miner = miner.clone();
                    async move {
                        let start = Instant::now();
                        let pairs: Vec<(&str, &str)> = headers
                            .iter()
                            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
                            .collect();
                        // The body is read only once the route, the caller's hotkey, the blacklist and
                        // the presence of the signature headers have passed.
                        let body = async {
                            let read = read_capped(body, MAX_BODY_BYTES);
                            match tokio::time::timeout(BODY_TIMEOUT, read).await {
                                Ok(Some(b)) => Ok(b),
                                Ok(None) => Err(Failure::new(
                                    413,
                                    format!("Request body larger than {MAX_BODY_BYTES} bytes"),
                                    PROMPTING,
                                )),
                                Err(_) => Err(Failure::new(
                                    408,
                                    format!(
                                        "Request body not received within {}s",
                                        BODY_TIMEOUT.as_secs()
                                    ),
                                    PROMPTING,
                                )),
                            }
                        };
                        let resp = miner
                            .respond(method.as_str(), path.as_str(), &pairs, body, start)
                            .await;
                        to_http(resp)
                    }
                },
            );
        tracing::info!(%addr, hotkey = self.hotkey_ss58(), "miner listening");
        serve_until(listener, warp::service(route), shutdown).await;
        Ok(())
    }

    /// Answer one request (framework-agnostic): method, path, header pairs, body bytes; `start` is when it arrived.
    /// Never fails: every outcome is an [`AxonResponse`], logged with the caller, its uid, the time and the outcome.
    pub async fn handle(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        start: Instant,
    ) -> AxonResponse {
        self.respond(method, path, headers, async { Ok(body.to_vec()) }, start)
            .await
    }

    /// As [`Miner::handle`], with the body still to be read: `body` is awaited only after the checks
    /// that need no body passed.
    async fn respond(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Future<Output = Result<Vec<u8>, Failure>>,
        start: Instant,
    ) -> AxonResponse {
        let mut caller: Option<String> = None;
        let mut uid: Option<u16> = None;
        let outcome = self
            .pipeline(method, path, headers, body, start, &mut caller, &mut uid)
            .await;
        let elapsed = start.elapsed();
        let caller = caller.as_deref().unwrap_or("-");
        let ms = elapsed.as_millis() as u64;
        match outcome {
            Ok((resp, chars)) => {
                tracing::info!(
                    caller,
                    ?uid,
                    elapsed_ms = ms,
                    status = 200,
                    completion_chars = chars,
                    "answered"
                );
                resp
            }
            Err(Failure {
                status,
                message,
                synapse,
                detail,
            }) => {
                if status >= 500 {
                    tracing::warn!(caller, ?uid, elapsed_ms = ms, status, outcome = %message, detail, "failed");
                } else {
                    tracing::info!(caller, ?uid, elapsed_ms = ms, status, outcome = %message, "refused");
                }
                axon::error_response_with(synapse, status, &message, elapsed.as_secs_f64())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn pipeline(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Future<Output = Result<Vec<u8>, Failure>>,
        start: Instant,
        caller: &mut Option<String>,
        uid: &mut Option<u16>,
    ) -> Result<(AxonResponse, usize), Failure> {
        let inner = &self.inner;
        // The SDK's route accepts GET and POST only.
        if method != "GET" && method != "POST" {
            return Err(Failure::new(405, "Method Not Allowed", PROMPTING));
        }
        // 1–2: route and header synapse.
        let head = axon::precheck(path, headers.iter().copied()).map_err(Failure::from)?;
        caller.clone_from(&head.dendrite_hotkey);
        // 3: blacklist, before any signature work (the SDK order).
        let snapshot = inner.metagraph.snapshot();
        let admission: Admission = blacklist::check(
            &inner.settings.blacklist,
            snapshot.as_deref(),
            head.dendrite_hotkey.as_deref(),
        )
        .map_err(|reason| {
            Failure::new(
                403,
                format!("Forbidden. Key is blacklisted: {reason}."),
                PROMPTING,
            )
        })?;
        *uid = admission.uid;
        // Without a signature the request fails verification whatever its body: refuse it unread.
        let signed = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("bt_header_dendrite_signature"))
            && headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("bt_header_dendrite_nonce"));
        let body = if signed { body.await? } else { Vec::new() };
        // 4 and 6: signature over our own hotkey, nonce (replays), then body integrity.
        let req = inner
            .verifier
            .verify(path, headers.iter().copied(), &body)
            .map_err(Failure::from)?;
        // 5: priority by stake, bounded by the request's timeout.
        let timeout = effective_timeout(head.timeout_secs);
        let deadline = start + Duration::from_secs_f64(timeout);
        let _slot = inner
            .gate
            .acquire(admission.stake, deadline)
            .await
            .map_err(|_| {
                Failure::new(
                    408,
                    format!("Response timeout after: {}s", py_float(timeout)),
                    PROMPTING,
                )
            })?;
        // Answer a little before the caller's own deadline so it reads our error instead of timing out.
        let margin = Duration::from_secs_f64((timeout * 0.25).min(1.0));
        let budget = deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(margin);
        let completion = inner
            .model
            .complete(&req.roles, &req.messages, budget)
            .await
            .map_err(|e| Failure {
                status: 500,
                message: e.to_string(),
                synapse: PROMPTING,
                detail: e.detail().to_string(),
            })?;
        let resp = axon::success_response(
            &req,
            inner.hotkey.ss58(),
            &completion,
            start.elapsed().as_secs_f64(),
        );
        Ok((resp, completion.chars().count()))
    }
}

struct Failure {
    status: u16,
    message: String,
    synapse: &'static str,
    detail: String,
}

impl Failure {
    fn new(status: u16, message: impl Into<String>, synapse: &'static str) -> Self {
        Self {
            status,
            message: message.into(),
            synapse,
            detail: String::new(),
        }
    }
}

impl From<axon::AxonError> for Failure {
    fn from(e: axon::AxonError) -> Self {
        Self {
            status: e.status,
            message: e.message,
            synapse: if e.synapse_name == PROMPTING {
                PROMPTING
            } else {
                "Synapse"
            },
            detail: String::new(),
        }
    }
}

/// Serves `service` on `listener` with the server's connection limits and timeouts until `shutdown`
/// completes, then stops accepting and gives requests in flight up to [`SHUTDOWN_GRACE`] to finish.
/// Every miner protocol's server runs through here.
pub(super) async fn serve_until<S>(
    listener: tokio::net::TcpListener,
    service: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    S: tower_service::Service<
            warp::hyper::Request<warp::hyper::body::Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = crate::server::listener::serve(
        listener,
        service,
        crate::server::listener::Limits::default(),
        async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        },
    );
    let mut server = tokio::spawn(server);
    tokio::select! {
        _ = &mut server => return,
        () = shutdown => {}
    }
    tracing::info!("miner shutting down");
    let _ = stop_tx.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {SHUTDOWN_GRACE:?}; stopping anyway");
        server.abort();
    }
}

/// The whole body, or `None` when it exceeds `cap` (or the connection breaks mid-body).
pub(super) async fn read_capped<S, B>(body: S, cap: usize) -> Option<Vec<u8>>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: warp::Buf,
{
    let mut body = std::pin::pin!(body);
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.ok()?;
        while chunk.has_remaining() {
            let part = chunk.chunk();
            if out.len() + part.len() > cap {
                return None;
            }
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(effective_timeout(None), 12.0);
        assert_eq!(effective_timeout(Some(0.0)), 12.0);
        assert_eq!(effective_timeout(Some(f64::NAN)), 12.0);
        assert_eq!(effective_timeout(Some(3.5)), 3.5);
        assert_eq!(effective_timeout(Some(1e9)), MAX_TIMEOUT_SECS);
    }
}
