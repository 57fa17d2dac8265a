//! The request pipeline every front end shares, in btvep's order. A newcomer adding a front end or a
//! miner transport changes one place:
//!
//! 1. [`admission`]: [`authenticate`] (key present and known — before the body is read), then
//!    [`admit`] (enabled, not expired, has credits, body valid, moderation, rate limit).
//! 2. [`answer`]: [`answer::plan`] → [`charge::reserve`] (made durable while the miners work) → query
//!    (all answers, first success, or a stream) → [`charge`]'s settlement → [`record`]'s log records
//!    and counters. Front ends call [`whole`] or [`stream`] and only render what they get.
//! 3. [`record`]: every refusal and every miner answer becomes log records, in one place.
//!
//! Every request, refused or served, leaves log records; a refusal of a known key names the key.

use std::time::Instant;

use serde::Deserialize;

use super::error::ApiError;
use crate::bittensor::http_miner::Sampling;
use crate::bittensor::strategy::QueryStrategy;
use crate::ratelimit::Decision;
use crate::store::ApiKey;

pub mod admission;
pub mod answer;
pub mod charge;
pub mod record;
pub mod usage;

pub use admission::{admit, authenticate, check_standing, log_malformed};
pub use answer::{plan, stream, synapse_fields, whole, AnswerStream, Plan, Served, StreamEnd};
pub use charge::{durable_if, max_successes, reserve, settle, SettleGuard};
pub use record::{failed_responses, log_answers, log_refusal};

/// The protocol version this gateway speaks (the dendrite's), recorded in the log.
pub const SRC_VERSION: u64 = 10_005_000;
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
    /// Explicit strategy (from `uids`, `top_n`, `strategy` or the OpenAI `model` field).
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
    /// A strategy by name, as the OpenAI `model` field takes them (`best:N`, `top_n:N`, `uids:A,B`,
    /// `bittensor` / `default` for the default).
    #[serde(default)]
    pub strategy: Option<String>,
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
    /// Builds the pipeline parameters; `uids`, then `top_n`, then `strategy` win over `fallback` (e.g.
    /// from the OpenAI `model`).
    ///
    /// # Errors
    /// As [`ChatParams::strategy_from`]; [`ApiError::BadQuery`] for a `strategy` that is not a
    /// strategy name.
    pub fn into_params(
        self,
        messages: Vec<Message>,
        fallback: Option<QueryStrategy>,
    ) -> Result<ChatParams, ApiError> {
        let named = match self.strategy.as_deref() {
            Some(name) => parse_strategy_name(name).map_err(|e| match e {
                ApiError::ModelNotFound(m) => ApiError::BadQuery(format!(
                    "unknown strategy '{m}': use 'bittensor' (the default), 'best:N', 'top_n:N' or 'uids:A,B'"
                )),
                other => other,
            })?,
            None => None,
        };
        Ok(ChatParams {
            strategy: ChatParams::strategy_from(self.uids, self.top_n)?
                .or(named)
                .or(fallback),
            messages,
            in_parallel: self.in_parallel,
            respond_on_first_success: self.respond_on_first_success,
            timeout: self.timeout,
            sampling: self.sampling,
        })
    }
}

/// The name meaning "the default strategy" (the key's, else the server's).
pub const DEFAULT_STRATEGY_NAME: &str = "bittensor";

/// Reads a strategy name as the OpenAI `model` field and the `/chat` `strategy` field take them:
/// `bittensor`, `default` or empty (`None`: the default), `best:N`, `top_n:N`, `uids:A,B`.
///
/// # Errors
/// [`ApiError::BadQuery`] (400) for a malformed `best:`, `top_n:` or `uids:` name (e.g. `best:0`);
/// [`ApiError::ModelNotFound`] for any other name.
pub fn parse_strategy_name(name: &str) -> Result<Option<QueryStrategy>, ApiError> {
    let m = name.trim();
    if m.is_empty() || m == DEFAULT_STRATEGY_NAME || m == "default" {
        return Ok(None);
    }
    match m.parse::<QueryStrategy>() {
        Ok(s) => Ok(Some(s)),
        Err(e) => match m.split_once(':').map(|(k, _)| k.trim()) {
            Some("best" | "top_n" | "uids") => Err(ApiError::BadQuery(e.to_string())),
            _ => Err(ApiError::ModelNotFound(m.to_string())),
        },
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
