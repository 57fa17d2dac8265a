//! The dendrite: sends signed `Prompting` requests to miners' axons and reports one [`MinerResponse`] per miner.
//!
//! One pooled HTTP client, per-request timeout, response size cap, concurrent signing and sending (each request runs
//! as its own tokio task, so 256 signatures use every core), btvep's batching and `respond_on_first_success`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::stream::{self, FuturesUnordered, Stream, StreamExt};

use super::http_miner::{HttpMiners, LiveStream, Sampling};
use super::keys::Hotkey;
use super::metagraph::Neuron;
use super::protocol::MinerProtocol;
use super::race::{self, AttemptEnd, AttemptObserver, RacePlan, Watch};
use super::synapse::{self, PromptingRequest, PROMPTING};

/// Default per-miner timeout (the SDK's and btvep's 12 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(12);
/// Default cap on a miner's response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Why the dendrite could not be created.
#[derive(Debug, thiserror::Error)]
pub enum DendriteError {
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// One miner's answer (or local failure), as btvep records it.
#[derive(Debug, Clone, PartialEq)]
pub struct MinerResponse {
    /// Miner uid.
    pub uid: u16,
    /// Miner hotkey SS58.
    pub hotkey: String,
    /// Axon status code (200 success; 401/403/404/500 from the axon; 408/422/503 local failures).
    pub status_code: u16,
    /// Status message (`Success`, `Empty response`, the axon's message, or the local failure text).
    pub status_message: String,
    /// The completion (`""` on failure).
    pub completion: String,
    /// Wall time of the exchange (the timeout on local timeouts).
    pub elapsed: Duration,
    /// Status 200 with a non-empty completion.
    pub is_success: bool,
    /// Token usage the miner reported (`prompt_tokens`, `completion_tokens`, `total_tokens`); only OpenAI-API
    /// miners report it, `None` means "estimate".
    pub usage: Option<serde_json::Value>,
}

impl MinerResponse {
    /// Elapsed time in milliseconds.
    pub fn elapsed_ms(&self) -> u128 {
        self.elapsed.as_millis()
    }

    /// A failed answer from `n`.
    pub(crate) fn failure(
        n: &Neuron,
        status_code: u16,
        message: String,
        elapsed: Duration,
    ) -> Self {
        Self {
            uid: n.uid,
            hotkey: n.hotkey.clone(),
            status_code,
            status_message: message,
            completion: String::new(),
            elapsed,
            is_success: false,
            usage: None,
        }
    }
}

/// btvep's query options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions {
    /// Per-miner timeout.
    pub timeout: Duration,
    /// Batch size: miners are queried `in_parallel` at a time (0 is treated as 1).
    pub in_parallel: usize,
    /// Return as soon as one miner succeeds, cancelling the rest of its batch.
    pub respond_on_first_success: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            in_parallel: 16,
            respond_on_first_success: true,
        }
    }
}

/// Per-axon UUID leases.
///
/// The axon keys nonces by `hotkey:uuid` and rejects a nonce ≤ the last one seen. Concurrent requests to one axon
/// with one UUID can arrive out of order, and the later-arriving smaller nonce would be rejected as a replay. Three
/// fixes exist: serialise per axon (a slow miner would then block every other request to it), a fresh UUID per
/// request (every request would leave a permanent entry in the miner's nonce table), or — chosen here — lease a
/// UUID exclusively per in-flight request from a small per-axon pool: requests sharing a UUID are strictly
/// sequential (so nonce order = arrival order), concurrency is unlimited, and each axon sees at most "peak concurrency
/// towards it" distinct UUIDs from this process. The first UUID of every pool is the process UUID.
#[derive(Debug)]
struct UuidPool {
    process_uuid: String,
    free: Mutex<HashMap<String, Vec<String>>>,
}

impl UuidPool {
    fn lease(self: &Arc<Self>, axon_key: &str) -> UuidLease {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let uuid = match free.get_mut(axon_key).and_then(Vec::pop) {
            Some(u) => u,
            None if !free.contains_key(axon_key) => {
                // First lease for this axon: the process UUID; mark the pool as existing.
                free.insert(axon_key.to_string(), Vec::new());
                self.process_uuid.clone()
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        UuidLease {
            pool: Arc::clone(self),
            axon_key: axon_key.to_string(),
            uuid,
        }
    }
}

/// Returns its UUID to the pool on drop (also when the request future is cancelled).
struct UuidLease {
    pool: Arc<UuidPool>,
    axon_key: String,
    uuid: String,
}

impl Drop for UuidLease {
    fn drop(&mut self) {
        let mut free = self.pool.free.lock().unwrap_or_else(|p| p.into_inner());
        free.entry(std::mem::take(&mut self.axon_key))
            .or_default()
            .push(std::mem::take(&mut self.uuid));
    }
}

struct Inner {
    hotkey: Hotkey,
    client: reqwest::Client,
    uuids: Arc<UuidPool>,
    last_nonce: AtomicU64,
    dendrite_ip: String,
    max_response_bytes: usize,
    /// Set when miners speak an OpenAI API (btauth/Epistula) instead of the synapse.
    http: Option<Arc<HttpMiners>>,
    /// Hears how every attempt ended (the gateway's miner health); set once.
    observer: OnceLock<Arc<dyn AttemptObserver>>,
}

/// A dendrite bound to one validator hotkey. Cheap to clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct Dendrite {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dendrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dendrite")
            .field("hotkey", &self.inner.hotkey.ss58())
            .field("uuid", &self.inner.uuids.process_uuid)
            .finish_non_exhaustive()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Aborts the spawned task when dropped, so cancelling a query really cancels the miner requests.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl Dendrite {
    /// A dendrite signing with `hotkey`, with the default 4 MiB response cap.
    ///
    /// # Errors
    /// [`DendriteError::Client`] if the HTTP client cannot be built.
    pub fn new(hotkey: Hotkey) -> Result<Self, DendriteError> {
        Self::with_max_response_bytes(hotkey, DEFAULT_MAX_RESPONSE_BYTES)
    }

    /// Like [`Dendrite::new`] with a custom response body cap (larger bodies count as 422).
    ///
    /// # Errors
    /// [`DendriteError::Client`] if the HTTP client cannot be built.
    pub fn with_max_response_bytes(
        hotkey: Hotkey,
        max_response_bytes: usize,
    ) -> Result<Self, DendriteError> {
        let client = crate::tls::build_client(|b| {
            // Miners are addressed by IP; a proxy from the environment must not intercept them.
            b.no_proxy()
                .tcp_nodelay(true)
                .pool_idle_timeout(Duration::from_secs(60))
                .connect_timeout(Duration::from_secs(10))
        })
        .map_err(|e| DendriteError::Client(e.to_string()))?;
        let process_uuid = uuid::Uuid::new_v4().to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                hotkey,
                client,
                uuids: Arc::new(UuidPool {
                    process_uuid,
                    free: Mutex::new(HashMap::new()),
                }),
                last_nonce: AtomicU64::new(0),
                dendrite_ip: "0.0.0.0".to_string(),
                max_response_bytes,
                http: None,
                observer: OnceLock::new(),
            }),
        })
    }

    /// A dendrite speaking `protocol` to miners: the synapse (like [`Dendrite::new`]), or an OpenAI API at
    /// `miner_path` with `miner_model`, signed with btauth/1 or Epistula v2 (see [`HttpMiners`]).
    ///
    /// # Errors
    /// [`DendriteError::Client`] if the HTTP client cannot be built.
    pub fn with_protocol(
        hotkey: Hotkey,
        protocol: MinerProtocol,
        miner_path: &str,
        miner_model: &str,
    ) -> Result<Self, DendriteError> {
        let mut d = Self::new(hotkey)?;
        if protocol.is_openai() {
            let inner = Arc::get_mut(&mut d.inner).expect("fresh dendrite");
            inner.http = Some(Arc::new(HttpMiners::new(
                protocol,
                inner.hotkey.clone(),
                inner.client.clone(),
                miner_path,
                miner_model,
                inner.max_response_bytes,
            )));
        }
        Ok(d)
    }

    /// The protocol spoken to miners.
    pub fn protocol(&self) -> MinerProtocol {
        self.inner
            .http
            .as_ref()
            .map_or(MinerProtocol::Synapse, |h| h.protocol())
    }

    /// The OpenAI-API client when miners speak btauth or Epistula (real streaming goes through it).
    pub fn http(&self) -> Option<&HttpMiners> {
        self.inner.http.as_deref()
    }

    /// Reports every attempt of this dendrite (and its clones) to `observer` from now on. Only the
    /// first observer is kept; returns whether this one was.
    pub fn observe(&self, observer: Arc<dyn AttemptObserver>) -> bool {
        self.inner.observer.set(observer).is_ok()
    }

    fn observer(&self) -> Option<&dyn AttemptObserver> {
        self.inner.observer.get().map(|o| &**o)
    }

    /// The validator hotkey address.
    pub fn hotkey_ss58(&self) -> &str {
        self.inner.hotkey.ss58()
    }

    /// The process UUID (the first UUID used towards every axon).
    pub fn uuid(&self) -> &str {
        &self.inner.uuids.process_uuid
    }

    /// Next nonce: `max(time_ns, last + 1)`, strictly increasing across threads.
    pub fn next_nonce(&self) -> u64 {
        let now = now_ns();
        let mut last = self.inner.last_nonce.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.inner.last_nonce.compare_exchange_weak(
                last,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }

    /// Query one miner. Never fails: local problems become 408 (timeout), 503 (refused/closed) or 422 (unparsable
    /// or over the size cap) responses. `body_hash` defaults to the hash of `messages`.
    pub async fn query_one(
        &self,
        neuron: &Neuron,
        roles: &[String],
        messages: &[String],
        timeout: Duration,
    ) -> MinerResponse {
        let body_hash = synapse::body_hash_for(messages);
        self.query_one_hashed(
            neuron,
            roles,
            messages,
            &body_hash,
            &Sampling::default(),
            timeout,
        )
        .await
    }

    async fn query_one_hashed(
        &self,
        neuron: &Neuron,
        roles: &[String],
        messages: &[String],
        body_hash: &str,
        sampling: &Sampling,
        timeout: Duration,
    ) -> MinerResponse {
        if let Some(http) = &self.inner.http {
            return http
                .query_one(neuron, roles, messages, sampling, timeout)
                .await;
        }
        let start = Instant::now();
        let endpoint = format!("{}/{PROMPTING}", neuron.socket_addr_text());
        if !neuron.is_serving() {
            return MinerResponse::failure(
                neuron,
                503,
                format!("Service unavailable at {endpoint} (not serving)"),
                start.elapsed(),
            );
        }
        let lease =
            self.inner
                .uuids
                .lease(&format!("{}@{}", neuron.hotkey, neuron.socket_addr_text()));
        let req = PromptingRequest {
            roles,
            messages,
            body_hash,
            timeout_secs: timeout.as_secs_f64(),
            dendrite_ip: &self.inner.dendrite_ip,
            uuid: &lease.uuid,
            nonce: self.next_nonce(),
            axon_ip: &neuron.ip,
            axon_port: neuron.port,
            axon_hotkey: &neuron.hotkey,
        }
        .build(&self.inner.hotkey);
        let url = format!("http://{}{}", neuron.socket_addr_text(), req.path);
        let exchange = self.exchange(&url, req);
        let result = tokio::time::timeout(timeout, exchange).await;
        let elapsed = start.elapsed();
        drop(lease);
        let (status, headers, body) = match result {
            Err(_) => {
                return MinerResponse::failure(
                    neuron,
                    408,
                    format!("Request timeout after {} seconds", timeout.as_secs_f64()),
                    timeout,
                )
            }
            Ok(Err(local)) => {
                let (code, message) = match local {
                    LocalError::Connect => (503, format!("Service unavailable at {endpoint}")),
                    LocalError::Disconnected(e) => {
                        (503, format!("Service disconnected at {endpoint}: {e}"))
                    }
                    LocalError::Timeout => (
                        408,
                        format!("Request timeout after {} seconds", timeout.as_secs_f64()),
                    ),
                    LocalError::TooLarge => (
                        422,
                        format!(
                            "Failed to parse response: body exceeds {} bytes",
                            self.inner.max_response_bytes
                        ),
                    ),
                };
                return MinerResponse::failure(neuron, code, message, elapsed);
            }
            Ok(Ok(parts)) => parts,
        };
        let header_refs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        match synapse::parse_prompting_response(status, header_refs, &body) {
            Err(e) => MinerResponse::failure(neuron, 422, e.to_string(), elapsed),
            Ok(parsed) => {
                let Some(code) = parsed.status_code else {
                    return MinerResponse::failure(
                        neuron,
                        422,
                        "Failed to parse response: no axon status code".into(),
                        elapsed,
                    );
                };
                let mut message = parsed.status_message.unwrap_or_default();
                let is_success = code == 200 && !parsed.completion.is_empty();
                if code == 200 && parsed.completion.is_empty() {
                    // btvep's rule: a 200 without text is a failure.
                    message = "Empty response".into();
                }
                MinerResponse {
                    uid: neuron.uid,
                    hotkey: neuron.hotkey.clone(),
                    status_code: code,
                    status_message: message,
                    completion: if is_success {
                        parsed.completion
                    } else {
                        String::new()
                    },
                    elapsed,
                    is_success,
                    usage: None,
                }
            }
        }
    }

    /// The HTTP exchange: send, then read the body up to the cap.
    async fn exchange(
        &self,
        url: &str,
        req: synapse::SynapseRequest,
    ) -> Result<(u16, Vec<(String, String)>, Vec<u8>), LocalError> {
        let mut builder = self.inner.client.post(url);
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let mut resp = builder
            .body(req.body)
            .send()
            .await
            .map_err(LocalError::from_reqwest)?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let cap = self.inner.max_response_bytes;
        if resp.content_length().is_some_and(|n| n > cap as u64) {
            return Err(LocalError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(LocalError::from_reqwest)? {
            if body.len() + chunk.len() > cap {
                return Err(LocalError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, body))
    }

    /// Query `neurons` with btvep's semantics and collect the responses: batches of `in_parallel`, each batch fanned
    /// out concurrently; with `respond_on_first_success`, returns right after the first success (cancelling the
    /// rest of that batch and skipping later batches). Responses are in completion order within each batch.
    pub async fn query(
        &self,
        neurons: &[Neuron],
        roles: &[String],
        messages: &[String],
        opts: QueryOptions,
    ) -> Vec<MinerResponse> {
        self.query_with(neurons, roles, messages, &Sampling::default(), opts)
            .await
    }

    /// [`Dendrite::query`] with the client's OpenAI sampling fields (sent to OpenAI-API miners; the synapse has
    /// no place for them).
    pub async fn query_with(
        &self,
        neurons: &[Neuron],
        roles: &[String],
        messages: &[String],
        sampling: &Sampling,
        opts: QueryOptions,
    ) -> Vec<MinerResponse> {
        let mut out = Vec::with_capacity(neurons.len());
        let mut responses = std::pin::pin!(self.query_stream_with(
            neurons.to_vec(),
            roles.to_vec(),
            messages.to_vec(),
            sampling.clone(),
            opts
        ));
        while let Some(r) = responses.next().await {
            let success = r.is_success;
            out.push(r);
            if success && opts.respond_on_first_success {
                break; // dropping the stream aborts the in-flight requests
            }
        }
        out
    }

    /// The responses as a stream in completion order (batch by batch), for streaming front ends.
    ///
    /// Dropping the stream cancels every in-flight request. `respond_on_first_success` is the consumer's decision
    /// (stop polling); this stream always continues with later batches when polled.
    pub fn query_stream(
        &self,
        neurons: Vec<Neuron>,
        roles: Vec<String>,
        messages: Vec<String>,
        opts: QueryOptions,
    ) -> impl Stream<Item = MinerResponse> + Send + 'static {
        self.query_stream_with(neurons, roles, messages, Sampling::default(), opts)
    }

    /// [`Dendrite::query_stream`] with the client's OpenAI sampling fields.
    pub fn query_stream_with(
        &self,
        neurons: Vec<Neuron>,
        roles: Vec<String>,
        messages: Vec<String>,
        sampling: Sampling,
        opts: QueryOptions,
    ) -> impl Stream<Item = MinerResponse> + Send + 'static {
        let sampling = Arc::new(sampling);
        let batch = opts.in_parallel.max(1);
        let body_hash: Arc<str> = synapse::body_hash_for(&messages).into();
        let roles: Arc<[String]> = roles.into();
        let messages: Arc<[String]> = messages.into();
        let batches: Vec<Vec<Neuron>> = neurons.chunks(batch).map(<[Neuron]>::to_vec).collect();
        let this = self.clone();
        stream::iter(batches).flat_map(move |batch| {
            let tasks: FuturesUnordered<_> = batch
                .into_iter()
                .map(|neuron| {
                    let (this, roles, messages, body_hash, sampling) = (
                        this.clone(),
                        Arc::clone(&roles),
                        Arc::clone(&messages),
                        Arc::clone(&body_hash),
                        Arc::clone(&sampling),
                    );
                    let fallback = neuron.clone();
                    let handle = tokio::spawn(async move {
                        let mut watch = Watch::new(this.observer(), &neuron);
                        let r = this
                            .query_one_hashed(
                                &neuron,
                                &roles,
                                &messages,
                                &body_hash,
                                &sampling,
                                opts.timeout,
                            )
                            .await;
                        watch.ended(&r);
                        r
                    });
                    let guarded = AbortOnDrop(handle);
                    async move {
                        match guarded.await {
                            Ok(r) => r,
                            Err(e) => MinerResponse::failure(
                                &fallback,
                                500,
                                format!("internal error: {e}"),
                                Duration::ZERO,
                            ),
                        }
                    }
                })
                .collect();
            tasks
        })
    }
}

impl Dendrite {
    /// Races `neurons` for the first successful answer as `plan` says (failover, hedging, batches:
    /// see [`race`]); returns it with the failures seen before it. Every attempt is reported to the
    /// observer; dropping the future cancels every attempt but `plan.learn`.
    pub async fn race(
        &self,
        neurons: &[Neuron],
        plan: &RacePlan,
        roles: &[String],
        messages: &[String],
        sampling: &Sampling,
        timeout: Duration,
    ) -> (Option<MinerResponse>, Vec<MinerResponse>) {
        let body_hash: Arc<str> = synapse::body_hash_for(messages).into();
        let roles: Arc<[String]> = roles.into();
        let messages: Arc<[String]> = messages.into();
        let sampling = Arc::new(sampling.clone());
        race::first_success(neurons, plan, |i| {
            let (this, neuron) = (self.clone(), neurons[i].clone());
            let (roles, messages, body_hash, sampling) = (
                Arc::clone(&roles),
                Arc::clone(&messages),
                Arc::clone(&body_hash),
                Arc::clone(&sampling),
            );
            tokio::spawn(async move {
                let mut watch = Watch::new(this.observer(), &neuron);
                let r = this
                    .query_one_hashed(&neuron, &roles, &messages, &body_hash, &sampling, timeout)
                    .await;
                watch.ended(&r);
                if r.is_success {
                    Ok(r)
                } else {
                    Err(r)
                }
            })
        })
        .await
    }

    /// Races OpenAI-API miners (btauth, Epistula) for the first content chunk of a streamed answer,
    /// as [`Dendrite::race`] does for whole answers; the winner's stream is returned. An attempt
    /// counts as a success for the observer when its first content chunk arrives.
    ///
    /// Every attempt fails (503) on a synapse dendrite, which cannot stream.
    pub async fn stream_race(
        &self,
        neurons: &[Neuron],
        plan: &RacePlan,
        roles: &[String],
        messages: &[String],
        sampling: &Sampling,
        timeout: Duration,
    ) -> (Option<LiveStream>, Vec<MinerResponse>) {
        let roles: Arc<[String]> = roles.into();
        let messages: Arc<[String]> = messages.into();
        let sampling = Arc::new(sampling.clone());
        race::first_success(neurons, plan, |i| {
            let (this, neuron) = (self.clone(), neurons[i].clone());
            let (roles, messages, sampling) = (
                Arc::clone(&roles),
                Arc::clone(&messages),
                Arc::clone(&sampling),
            );
            tokio::spawn(async move {
                let Some(http) = this.inner.http.as_ref() else {
                    return Err(MinerResponse::failure(
                        &neuron,
                        503,
                        "the synapse protocol cannot stream".into(),
                        Duration::ZERO,
                    ));
                };
                let mut watch = Watch::new(this.observer(), &neuron);
                let r = http
                    .open_stream(&neuron, &roles, &messages, &sampling, timeout)
                    .await;
                match &r {
                    Ok(live) => watch.ended_with(&AttemptEnd {
                        success: true,
                        status: 200,
                        message: "Success",
                        elapsed: live.first_chunk_at.duration_since(live.started),
                    }),
                    Err(f) => watch.ended(f),
                }
                r
            })
        })
        .await
    }
}

enum LocalError {
    Connect,
    Disconnected(String),
    Timeout,
    TooLarge,
}

impl LocalError {
    fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            LocalError::Timeout
        } else if e.is_connect() {
            LocalError::Connect
        } else {
            // Reset, closed mid-response, or bytes that are not HTTP: the miner's slot fails, nothing else.
            let mut text = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                text.push_str(": ");
                text.push_str(&s.to_string());
                src = s.source();
            }
            LocalError::Disconnected(text)
        }
    }
}
