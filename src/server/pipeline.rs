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
    state.metrics.refusal(e.log_code());
    state.logs.records(vec![r]);
}

/// Logs a request whose body could not be parsed (with the key, when it is known); returns the key id.
pub fn log_malformed(state: &AppState, meta: &RequestMeta, e: &ApiError) -> Option<u64> {
    let key_id = meta
        .api_key
        .as_deref()
        .and_then(|k| state.store.key_by_secret(k).ok().flatten())
        .map(|k| k.id);
    log_refusal(state, meta, &ChatParams::default(), key_id, e);
    key_id
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

/// Runs the admission stages. Refusals are logged here.
///
/// # Errors
/// The first stage that refuses.
pub async fn admit(
    state: &AppState,
    meta: &RequestMeta,
    params: &ChatParams,
) -> Result<Admitted, Refusal> {
    let result = admit_inner(state, meta, params).await;
    if let Err((refusal, key_id)) = &result {
        log_refusal(state, meta, params, *key_id, &refusal.error);
        if let Some(id) = key_id {
            state.logs.count(*id, 1, 0);
        }
    }
    result.map_err(|(r, _)| r)
}

async fn admit_inner(
    state: &AppState,
    meta: &RequestMeta,
    params: &ChatParams,
) -> Result<Admitted, (Refusal, Option<u64>)> {
    let token = meta
        .api_key
        .as_deref()
        .filter(|k| !k.is_empty())
        .ok_or((ApiError::KeyMissing.into(), None))?;
    let key = state
        .store
        .key_by_secret(token)
        .map_err(|e| (ApiError::from(e).into(), None))?
        .ok_or((ApiError::KeyInvalid.into(), None))?;
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

/// Gives back what a reservation did not use (`used` successful answers delivered).
pub fn settle(state: &AppState, key: &ApiKey, reservation: Reservation, used: usize) {
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
        }
    }
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
/// # Errors
/// As [`plan`] and [`reserve`]; [`ApiError::AllMinersFailed`] when no miner answered.
pub async fn serve(
    state: &Arc<AppState>,
    meta: &RequestMeta,
    params: &ChatParams,
    admitted: &Admitted,
) -> Result<Served, ApiError> {
    let key = &admitted.key;
    let plan = match plan(state, key, params) {
        Ok(p) => p,
        Err(e) => {
            log_refusal(state, meta, params, Some(key.id), &e);
            state.logs.count(key.id, 1, 0);
            return Err(e);
        }
    };
    let reservation = match reserve(state, key, max_successes(&plan)) {
        Ok(r) => r,
        Err(e) => {
            log_refusal(state, meta, params, Some(key.id), &e);
            state.logs.count(key.id, 1, 0);
            return Err(e);
        }
    };
    let (roles, messages) = synapse_fields(&params.messages);
    let capacity = reservation.capacity();
    // If the client goes away, the future is dropped here: the guard refunds the whole reservation.
    let guard = SettleGuard {
        state: state.clone(),
        key: key.clone(),
        reservation,
        used: 0,
        armed: true,
    };
    let responses = state
        .dendrite
        .query_with(
            &plan.neurons,
            &roles,
            &messages,
            &params.sampling,
            plan.options,
        )
        .await;
    let mut guard = guard;
    let (mut answers, failures): (Vec<_>, Vec<_>) =
        responses.iter().cloned().partition(|r| r.is_success);
    answers.truncate(capacity);
    guard.used = answers.len();
    log_answers(state, meta, params, key, &responses);
    drop(guard);
    if answers.is_empty() {
        return Err(ApiError::AllMinersFailed(failed_responses(&failures)));
    }
    Ok(Served { answers, failures })
}

/// Settles a reservation when dropped, so a cancelled request never keeps credits it did not use.
pub struct SettleGuard {
    /// Shared state.
    pub state: Arc<AppState>,
    /// The key charged.
    pub key: ApiKey,
    /// What was reserved.
    pub reservation: Reservation,
    /// Successful answers delivered so far.
    pub used: usize,
    /// Whether to settle on drop.
    pub armed: bool,
}

impl Drop for SettleGuard {
    fn drop(&mut self) {
        if self.armed {
            settle(&self.state, &self.key, self.reservation, self.used);
        }
    }
}
