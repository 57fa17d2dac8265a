//! The request pipeline shared by every front end (`/chat`, `/v1/chat/completions`), in btvep's order:
//! key present → key known → enabled → not expired → credits → moderation → rate limit → query miners →
//! log → charge. Every request, refused or served, leaves log records.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use serde::Deserialize;

use super::error::{ApiError, FailedResponse};
use super::state::AppState;
use crate::bittensor::dendrite::{MinerResponse, QueryOptions};
use crate::bittensor::http_miner::Sampling;
use crate::bittensor::metagraph::Neuron;
use crate::bittensor::strategy::QueryStrategy;
use crate::ratelimit::Decision;
use crate::store::{ApiKey, LogRecord, Reservation};

/// The protocol version this gateway speaks (the dendrite's), recorded in the log.
pub const SRC_VERSION: u64 = 10_005_000;
/// Default number of miners queried at once.
pub const DEFAULT_IN_PARALLEL: usize = 16;
/// Longest per-request miner timeout a client may ask for, in seconds.
pub const MAX_TIMEOUT_SECS: f64 = 600.0;

/// A chat message role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System prompt.
    System,
    /// The user.
    User,
    /// An earlier answer.
    Assistant,
}

impl Role {
    /// The role's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

/// What to ask and whom, after the front end parsed its request.
#[derive(Debug, Clone, Default)]
pub struct ChatParams {
    /// The conversation.
    pub messages: Vec<Message>,
    /// Explicit strategy (from `uids`, `top_n` or the OpenAI `model` field).
    pub strategy: Option<QueryStrategy>,
    /// Batch size.
    pub in_parallel: Option<usize>,
    /// Stop at the first success (default true).
    pub respond_on_first_success: Option<bool>,
    /// Per-miner timeout in seconds.
    pub timeout: Option<f64>,
    /// OpenAI sampling fields the client sent (forwarded to btauth/Epistula miners only).
    pub sampling: Sampling,
}

impl ChatParams {
    /// Builds the strategy from btvep's `uids` / `top_n` request fields (uids win).
    ///
    /// # Errors
    /// [`ApiError::Invalid`] for an empty uid list or `top_n` ≤ 0.
    pub fn strategy_from(
        uids: Option<Vec<u16>>,
        top_n: Option<i64>,
    ) -> Result<Option<QueryStrategy>, ApiError> {
        if let Some(uids) = uids {
            if uids.is_empty() {
                return Err(ApiError::Invalid("uids must not be empty".into()));
            }
            // A uid listed twice is queried once: repeats must not multiply the work of one request.
            let mut seen = std::collections::HashSet::with_capacity(uids.len());
            let uids: Vec<u16> = uids.into_iter().filter(|u| seen.insert(*u)).collect();
            return Ok(Some(QueryStrategy::Uids(uids)));
        }
        match top_n {
            Some(n) if n <= 0 => Err(ApiError::Invalid(format!(
                "top_n must be at least 1, got {n}"
            ))),
            Some(n) => Ok(Some(QueryStrategy::TopN(
                usize::try_from(n).unwrap_or(usize::MAX),
            ))),
            None => Ok(None),
        }
    }

    /// Checks what serde could not.
    ///
    /// # Errors
    /// [`ApiError::Invalid`] naming the field.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.messages.is_empty() {
            return Err(ApiError::Invalid(
                "messages must contain at least one message".into(),
            ));
        }
        if let Some(t) = self.timeout {
            if !(t > 0.0 && t <= MAX_TIMEOUT_SECS) {
                return Err(ApiError::Invalid(format!(
                    "timeout must be between 0 and {MAX_TIMEOUT_SECS} seconds"
                )));
            }
        }
        if self.in_parallel == Some(0) {
            return Err(ApiError::Invalid("in_parallel must be at least 1".into()));
        }
        Ok(())
    }

    /// The prompt as logged: the last user message.
    pub fn prompt(&self) -> Option<String> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .or(self.messages.last())
            .map(|m| m.content.clone())
    }
}

/// btvep's query fields, shared by `/chat` bodies and (as extra fields) OpenAI bodies.
#[derive(Debug, Default, Deserialize)]
pub struct QueryFields {
    /// Query these uids.
    #[serde(default)]
    pub uids: Option<Vec<u16>>,
    /// Query the n miners with the highest incentive.
    #[serde(default)]
    pub top_n: Option<i64>,
    /// Batch size.
    #[serde(default)]
    pub in_parallel: Option<usize>,
    /// Stop at the first success (default true).
    #[serde(default)]
    pub respond_on_first_success: Option<bool>,
    /// Per-miner timeout, seconds.
    #[serde(default)]
    pub timeout: Option<f64>,
    /// OpenAI sampling fields (`temperature`, `max_tokens`, …).
    #[serde(flatten)]
    pub sampling: Sampling,
}

impl QueryFields {
    /// Builds the pipeline parameters; `uids`/`top_n` win over `fallback` (e.g. from the OpenAI `model`).
    ///
    /// # Errors
    /// As [`ChatParams::strategy_from`].
    pub fn into_params(
        self,
        messages: Vec<Message>,
        fallback: Option<QueryStrategy>,
    ) -> Result<ChatParams, ApiError> {
        Ok(ChatParams {
            strategy: ChatParams::strategy_from(self.uids, self.top_n)?.or(fallback),
            messages,
            in_parallel: self.in_parallel,
            respond_on_first_success: self.respond_on_first_success,
            timeout: self.timeout,
            sampling: self.sampling,
        })
    }
}

/// Per-request facts every stage needs.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// Returned as `x-request-id` and logged as `api_request_id`.
    pub request_id: String,
    /// The route, for the log.
    pub route: &'static str,
    /// The bearer token, if any.
    pub api_key: Option<String>,
    /// When the request arrived.
    pub started: Instant,
}

/// A request that passed authentication, credit, moderation and rate-limit checks.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The key.
    pub key: ApiKey,
    /// The rate-limit state (for `x-ratelimit-*` headers).
    pub rate: Decision,
}

/// A failure with the rate-limit state known at the time (for headers).
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Why.
    pub error: ApiError,
    /// The rate-limit state, when it was checked.
    pub rate: Option<Decision>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal { error, rate: None }
    }
}

fn base_record(meta: &RequestMeta, params: &ChatParams, key_id: Option<u64>) -> LogRecord {
    LogRecord {
        timestamp: Utc::now(),
        api_key_id: key_id,
        api_request_id: meta.request_id.clone(),
        route: Some(meta.route.to_string()),
        prompt: params.prompt(),
        src_version: Some(SRC_VERSION),
        ..Default::default()
    }
}

/// Logs a refused request (one record with btvep's `api_error` code).
pub fn log_refusal(
    state: &AppState,
    meta: &RequestMeta,
    params: &ChatParams,
    key_id: Option<u64>,
    e: &ApiError,
) {
    let mut r = base_record(meta, params, key_id);
    r.is_api_success = false;
    r.api_error = Some(e.log_code().to_string());
    state.settings().log_text.apply(&mut r);
    state.metrics.refusal(e.log_code());
    state.logs.records(vec![r]);
}

/// Logs and counts a request of a known key whose body could not be read or parsed.
pub fn log_malformed(state: &AppState, meta: &RequestMeta, key: &ApiKey, e: &ApiError) {
    log_refusal(state, meta, &ChatParams::default(), Some(key.id), e);
    state.logs.count(key.id, 1, 0);
}

/// The first admission stage, run before the body is read so that an unauthenticated client never
/// makes the server buffer a body: the bearer key must be present and known. Refusals are logged.
///
/// # Errors
/// [`ApiError::KeyMissing`], [`ApiError::KeyInvalid`], [`ApiError::Internal`] for a broken store.
pub fn authenticate(state: &AppState, meta: &RequestMeta) -> Result<ApiKey, ApiError> {
    let found = match meta.api_key.as_deref().filter(|k| !k.is_empty()) {
        None => Err(ApiError::KeyMissing),
        Some(token) => match state.store.key_by_secret(token) {
            Ok(Some(key)) => Ok(key),
            Ok(None) => Err(ApiError::KeyInvalid),
            Err(e) => Err(ApiError::from(e)),
        },
    };
    if let Err(e) = &found {
        log_refusal(state, meta, &ChatParams::default(), None, e);
    }
    found
}

impl RequestMeta {
    /// The facts of a request that just arrived on `route`.
    pub fn new(route: &'static str, authorization: Option<&str>) -> Self {
        RequestMeta {
            request_id: super::http::new_request_id(),
            route,
            api_key: super::http::bearer(authorization),
            started: Instant::now(),
        }
    }
}

/// Runs the admission stages after [`authenticate`]. Refusals are logged and counted here.
///
/// # Errors
/// The first stage that refuses.
pub async fn admit(
    state: &AppState,
    meta: &RequestMeta,
    params: &ChatParams,
    key: ApiKey,
) -> Result<Admitted, Refusal> {
    let id = key.id;
    let result = admit_inner(state, params, key).await;
    if let Err((refusal, _)) = &result {
        log_refusal(state, meta, params, Some(id), &refusal.error);
        state.logs.count(id, 1, 0);
    }
    result.map_err(|(r, _)| r)
}

async fn admit_inner(
    state: &AppState,
    params: &ChatParams,
    key: ApiKey,
) -> Result<Admitted, (Refusal, Option<u64>)> {
    let id = Some(key.id);
    if !key.enabled {
        return Err((ApiError::KeyDisabled.into(), id));
    }
    if key.is_expired(Utc::now().timestamp()) {
        return Err((ApiError::KeyExpired.into(), id));
    }
    if key.credits == 0 {
        return Err((ApiError::NotEnoughCredits.into(), id));
    }
    let settings = state.settings();
    if let Err(e) = params.validate() {
        return Err((e.into(), id));
    }
    if settings.openai_filter_enabled
        && super::moderation::is_flagged(state, &settings, &params.messages).await
    {
        return Err((ApiError::Flagged.into(), id));
    }
    let rate = if settings.rate_limiting_enabled {
        let windows = key
            .rate_limits
            .as_deref()
            .unwrap_or(&settings.global_rate_limits);
        state.limiters.check(key.id, windows)
    } else {
        Decision::Unlimited
    };
    if let Decision::Limited { limit, retry_after } = rate {
        return Err((
            Refusal {
                error: ApiError::rate_limited(limit, retry_after),
                rate: Some(rate),
            },
            id,
        ));
    }
    Ok(Admitted { key, rate })
}

/// The miners chosen for a request and how to query them.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Miners, in query order.
    pub neurons: Vec<Neuron>,
    /// Dendrite options.
    pub options: QueryOptions,
}

/// Picks the miners: request strategy, else the key's, else the server's default.
///
/// # Errors
/// [`ApiError::MetagraphNotReady`] before the first metagraph, [`ApiError::BadQuery`] for a strategy
/// that cannot be served.
pub fn plan(state: &AppState, key: &ApiKey, params: &ChatParams) -> Result<Plan, ApiError> {
    let settings = state.settings();
    let metagraph = state.metagraph().ok_or(ApiError::MetagraphNotReady)?;
    let strategy = params
        .strategy
        .clone()
        .or_else(|| {
            key.default_query_strategy
                .as_deref()
                .and_then(|s| s.parse().ok())
        })
        .unwrap_or_else(|| settings.default_query_strategy.clone());
    let neurons = strategy
        .select(&metagraph)
        .map_err(|e| ApiError::BadQuery(e.to_string()))?;
    if neurons.len() > settings.max_miners_per_request {
        return Err(ApiError::BadQuery(format!(
            "this request would query {} miners; at most {} may be queried per request (max_miners_per_request)",
            neurons.len(),
            settings.max_miners_per_request
        )));
    }
    let timeout = params
        .timeout
        .map(std::time::Duration::from_secs_f64)
        .unwrap_or(settings.miner_timeout);
    Ok(Plan {
        options: QueryOptions {
            timeout,
            in_parallel: params.in_parallel.unwrap_or(DEFAULT_IN_PARALLEL).max(1),
            respond_on_first_success: params.respond_on_first_success.unwrap_or(true),
        },
        neurons,
    })
}

/// How many successful answers a plan can produce (the credits to reserve).
pub fn max_successes(plan: &Plan) -> i64 {
    if plan.options.respond_on_first_success {
        1
    } else {
        i64::try_from(plan.neurons.len()).unwrap_or(i64::MAX)
    }
}

/// Reserves credits for a plan.
///
/// # Errors
/// [`ApiError::NotEnoughCredits`] when the balance ran out meanwhile.
pub fn reserve(state: &AppState, key: &ApiKey, want: i64) -> Result<Reservation, ApiError> {
    match state.store.reserve_credits(key.id, want)? {
        Reservation::Insufficient => Err(ApiError::NotEnoughCredits),
        r => Ok(r),
    }
}

/// Gives back what a reservation did not use (`used` successful answers delivered); returns whether
/// anything was given back.
pub fn settle(state: &AppState, key: &ApiKey, reservation: Reservation, used: usize) -> bool {
    if let Reservation::Reserved(n) = reservation {
        let spent = i64::try_from(used).unwrap_or(i64::MAX).min(n);
        state
            .metrics
            .credits_spent(u64::try_from(spent).unwrap_or(0));
        let unused = n - spent;
        if unused > 0 {
            if let Err(e) = state.store.refund_credits(key.id, unused) {
                tracing::error!(key_id = key.id, unused, "refunding credits failed: {e}");
            }
            return true;
        }
    }
    false
}

/// Writes one log record per miner answer and bumps the key's counters.
pub fn log_answers(
    state: &AppState,
    meta: &RequestMeta,
    params: &ChatParams,
    key: &ApiKey,
    answers: &[MinerResponse],
) {
    for a in answers {
        state.metrics.miner_answer(a.uid, a.status_code, a.elapsed);
    }
    let mut records: Vec<LogRecord> = answers
        .iter()
        .map(|a| {
            let mut r = base_record(meta, params, Some(key.id));
            r.is_api_success = true;
            r.responder_hotkey = Some(a.hotkey.clone());
            r.uid = Some(a.uid);
            r.response = Some(a.completion.clone()).filter(|c| !c.is_empty());
            r.is_success = Some(a.is_success);
            r.return_code = Some(a.status_code);
            r.return_message = Some(a.status_message.clone());
            r.elapsed_ms = Some(u64::try_from(a.elapsed.as_millis()).unwrap_or(u64::MAX));
            r
        })
        .collect();
    if records.is_empty() {
        records.push(base_record(meta, params, Some(key.id)));
        records[0].is_api_success = true;
    }
    let text = state.settings().log_text;
    for r in &mut records {
        text.apply(r);
    }
    state.logs.records(records);
    state.logs.count(key.id, 1, answers.len() as u64);
}

/// The result of a served (non-streaming) request.
#[derive(Debug, Clone)]
pub struct Served {
    /// Successful answers, in arrival order, at most what the credits paid for.
    pub answers: Vec<MinerResponse>,
    /// Failed answers, in arrival order.
    pub failures: Vec<MinerResponse>,
}

/// Converts failed miner answers to the client shape.
pub fn failed_responses(failures: &[MinerResponse]) -> Vec<FailedResponse> {
    failures
        .iter()
        .enumerate()
        .map(|(index, f)| FailedResponse {
            index,
            uid: f.uid,
            responder_hotkey: f.hotkey.clone(),
            error: f.status_message.clone(),
            status_code: f.status_code,
            response_ms: u64::try_from(f.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
        .collect()
}

/// The roles and message texts of a conversation, as the Prompting synapse carries them.
pub fn synapse_fields(messages: &[Message]) -> (Vec<String>, Vec<String>) {
    messages
        .iter()
        .map(|m| (m.role.as_str().to_string(), m.content.clone()))
        .unzip()
}

/// Plans, reserves, queries, logs and charges a whole (non-streaming) request.
///
/// The reservation is made durable while the miners are queried, and any refund before the answers
/// are returned: an answer is only handed back once what it costs is on disk.
///
/// # Errors
/// As [`plan`] and [`reserve`]; [`ApiError::AllMinersFailed`] when no miner answered.
pub async fn serve(
    state: &Arc<AppState>,
    meta: &RequestMeta,
    params: &ChatParams,
    admitted: &Admitted,
) -> Result<Served, ApiError> {
    let key = &admitted.key;
    let refused = |e: ApiError| {
        log_refusal(state, meta, params, Some(key.id), &e);
        state.logs.count(key.id, 1, 0);
        e
    };
    let mut plan = plan(state, key, params).map_err(refused)?;
    let reservation = reserve(state, key, max_successes(&plan)).map_err(refused)?;
    let capacity = reservation.capacity();
    if !plan.options.respond_on_first_success {
        // Never ask more miners than the key can pay answers for.
        plan.neurons.truncate(capacity);
    }
    let (roles, messages) = synapse_fields(&params.messages);
    // If the client goes away, the future is dropped here: the guard refunds the whole reservation
    // and logs the request as closed by the client.
    let mut guard = SettleGuard::new(state, key, reservation, meta, params);
    let (responses, durable) = tokio::join!(
        state.dendrite.query_with(
            &plan.neurons,
            &roles,
            &messages,
            &params.sampling,
            plan.options
        ),
        durable_if(state, matches!(reservation, Reservation::Reserved(_))),
    );
    let (mut answers, failures): (Vec<_>, Vec<_>) =
        responses.iter().cloned().partition(|r| r.is_success);
    answers.truncate(capacity);
    log_answers(state, meta, params, key, &responses);
    if durable.is_err() {
        guard.finish(0);
        return Err(ApiError::Internal);
    }
    let refunded = guard.finish(answers.len());
    if durable_if(state, refunded).await.is_err() {
        return Err(ApiError::Internal);
    }
    if answers.is_empty() {
        return Err(ApiError::AllMinersFailed(failed_responses(&failures)));
    }
    Ok(Served { answers, failures })
}

/// Waits for the store's group commit when `needed` (logged on failure).
///
/// # Errors
/// [`ApiError::Internal`] when the flush failed.
pub async fn durable_if(state: &AppState, needed: bool) -> Result<(), ApiError> {
    if !needed {
        return Ok(());
    }
    state.store.durable().await.map_err(|e| {
        tracing::error!("making a charge durable failed: {e}");
        ApiError::Internal
    })
}

/// Settles a reservation when dropped, so a cancelled request never keeps credits it did not use; a
/// request dropped before [`SettleGuard::finish`] (the client went away) is also logged and counted
/// as `ClientClosed`.
pub struct SettleGuard {
    state: Arc<AppState>,
    key: ApiKey,
    reservation: Reservation,
    /// Successful answers delivered so far.
    pub used: usize,
    /// The record written if the request is dropped before it finished.
    closed: Option<LogRecord>,
    request_id: String,
}

impl SettleGuard {
    /// Guards `reservation` for the request `meta`.
    pub fn new(
        state: &Arc<AppState>,
        key: &ApiKey,
        reservation: Reservation,
        meta: &RequestMeta,
        params: &ChatParams,
    ) -> Self {
        let mut closed = base_record(meta, params, Some(key.id));
        closed.is_api_success = false;
        closed.api_error = Some(ApiError::ClientClosed.log_code().to_string());
        state.settings().log_text.apply(&mut closed);
        SettleGuard {
            state: state.clone(),
            key: key.clone(),
            reservation,
            used: 0,
            closed: Some(closed),
            request_id: meta.request_id.clone(),
        }
    }

    /// The request's outcome is known and logged: settles with `used` answers delivered and disarms.
    /// Returns whether credits were given back (a write that may need to be made durable).
    pub fn finish(&mut self, used: usize) -> bool {
        self.closed = None;
        self.used = used;
        let refunded = settle(&self.state, &self.key, self.reservation, used);
        self.reservation = Reservation::Unlimited;
        refunded
    }

    /// Marks the request as answered (its outcome logged) without settling yet; dropping the guard
    /// then settles with [`SettleGuard::used`] and logs nothing more.
    pub fn answered(&mut self) {
        self.closed = None;
    }
}

impl Drop for SettleGuard {
    fn drop(&mut self) {
        settle(&self.state, &self.key, self.reservation, self.used);
        if let Some(record) = self.closed.take() {
            tracing::info!(
                request_id = self.request_id,
                key_id = self.key.id,
                "the client closed the connection before the answer was sent"
            );
            self.state
                .metrics
                .refusal(ApiError::ClientClosed.log_code());
            self.state.logs.records(vec![record]);
            self.state.logs.count(self.key.id, 1, 0);
        }
    }
}
