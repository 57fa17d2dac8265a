//! The API error type: every way a request can fail, mapped exhaustively to an HTTP status, btvep's
//! `api_error` log code, a client-facing message and OpenAI's error `type`/`code`.
//!
//! Internal details (store failures) are logged and never reach a client.

use std::time::Duration;

use serde::Serialize;

/// One miner's failed answer, as reported to clients.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedResponse {
    /// Position in `failed_responses`.
    pub index: usize,
    /// Miner uid.
    pub uid: u16,
    /// Miner hotkey.
    pub responder_hotkey: String,
    /// What went wrong.
    pub error: String,
    /// The miner's (or local) status code.
    pub status_code: u16,
    /// How long the miner took.
    pub response_ms: u64,
}

/// Why a request was not served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Bearer` key.
    #[error("API key is missing: send it as 'Authorization: Bearer <key>'")]
    KeyMissing,
    /// The key is not known.
    #[error("Invalid API key")]
    KeyInvalid,
    /// The key is disabled.
    #[error("API key is disabled")]
    KeyDisabled,
    /// The key has expired.
    #[error("API key has expired")]
    KeyExpired,
    /// The key has no credits left.
    #[error("Not enough credits")]
    NotEnoughCredits,
    /// The moderation filter flagged the prompt.
    #[error("The prompt was flagged by the moderation filter")]
    Flagged,
    /// A rate-limit window is exhausted.
    #[error(
        "Rate limit exceeded: at most {limit} requests per window; retry in {retry_after_secs} s"
    )]
    RateLimited {
        /// Requests allowed in the refusing window.
        limit: u32,
        /// Seconds until a slot frees (for `Retry-After`).
        retry_after_secs: u64,
    },
    /// The request body is not valid JSON.
    #[error("{0}")]
    BadRequest(String),
    /// The request is JSON but its fields are wrong.
    #[error("{0}")]
    Invalid(String),
    /// The query cannot be routed (unknown uid, `top_n` too large, ...).
    #[error("{0}")]
    BadQuery(String),
    /// The body is over the size limit.
    #[error("Request body is too large (limit {0} bytes)")]
    PayloadTooLarge(u64),
    /// Refused by policy (e.g. a CORS origin not allowed).
    #[error("{0}")]
    Forbidden(String),
    /// The OpenAI `model` is not one btvep serves.
    #[error("The model '{0}' does not exist: use 'bittensor' (the default strategy), 'best:N', 'top_n:N' or 'uids:A,B'")]
    ModelNotFound(String),
    /// The admin token is missing or wrong.
    #[error("Invalid admin token")]
    AdminUnauthorized,
    /// An admin request named something that does not exist.
    #[error("{0}")]
    AdminNotFound(String),
    /// No such route.
    #[error("Not Found")]
    NotFound,
    /// Wrong method for the route.
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    /// Unsupported content type.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// No metagraph has been loaded yet.
    #[error("The metagraph is not loaded yet; try again shortly")]
    MetagraphNotReady,
    /// Every miner failed.
    #[error("All miner responses have failed.")]
    AllMinersFailed(Vec<FailedResponse>),
    /// The request cannot be applied to the current state (e.g. the config file on disk is corrupt).
    #[error("{0}")]
    Conflict(String),
    /// The client did not send its body within the body-read timeout.
    #[error("Request body not received within {0} s")]
    BodyTimeout(u64),
    /// The client went away before its answer was sent (logged only; nobody reads the reply).
    #[error("The client closed the connection before the answer was sent")]
    ClientClosed,
    /// Something broke inside btvep (logged; the client gets a generic message).
    #[error("Internal server error")]
    Internal,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::KeyMissing
            | ApiError::KeyInvalid
            | ApiError::KeyDisabled
            | ApiError::KeyExpired
            | ApiError::NotEnoughCredits
            | ApiError::AdminUnauthorized => 401,
            ApiError::Flagged | ApiError::BadRequest(_) | ApiError::BadQuery(_) => 400,
            ApiError::RateLimited { .. } => 429,
            ApiError::Invalid(_) => 422,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound | ApiError::ModelNotFound(_) | ApiError::AdminNotFound(_) => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::UnsupportedMediaType => 415,
            ApiError::MetagraphNotReady => 503,
            ApiError::AllMinersFailed(_) => 502,
            ApiError::Conflict(_) => 409,
            ApiError::BodyTimeout(_) => 408,
            ApiError::ClientClosed => 499,
            ApiError::Internal => 500,
        }
    }

    /// btvep's `api_error` code for the request log.
    pub fn log_code(&self) -> &'static str {
        match self {
            ApiError::KeyMissing => "APIKeyMissing",
            ApiError::KeyInvalid => "APIKeyInvalid",
            ApiError::KeyDisabled => "APIKeyDisabled",
            ApiError::KeyExpired => "APIKeyExpired",
            ApiError::NotEnoughCredits => "APIKeyNotEnoughCredits",
            ApiError::Flagged => "FlaggedByOpenAIModerationFilter",
            ApiError::RateLimited { .. } => "RateLimitExceeded",
            ApiError::BadRequest(_) | ApiError::Invalid(_) | ApiError::PayloadTooLarge(_) => {
                "InvalidRequest"
            }
            ApiError::UnsupportedMediaType
            | ApiError::NotFound
            | ApiError::MethodNotAllowed
            | ApiError::Forbidden(_) => "InvalidRequest",
            ApiError::BadQuery(_) | ApiError::ModelNotFound(_) => "InvalidQuery",
            ApiError::AdminUnauthorized | ApiError::AdminNotFound(_) => "AdminRequest",
            ApiError::MetagraphNotReady => "MetagraphNotReady",
            ApiError::AllMinersFailed(_) => "AllMinersFailed",
            ApiError::Conflict(_) | ApiError::BodyTimeout(_) => "InvalidRequest",
            ApiError::ClientClosed => "ClientClosed",
            ApiError::Internal => "InternalError",
        }
    }

    /// OpenAI's error `type` and `code` for this error.
    pub fn openai_kind(&self) -> (&'static str, Option<&'static str>) {
        match self {
            ApiError::KeyMissing
            | ApiError::KeyInvalid
            | ApiError::KeyDisabled
            | ApiError::KeyExpired => ("invalid_request_error", Some("invalid_api_key")),
            ApiError::NotEnoughCredits => ("insufficient_quota", Some("insufficient_quota")),
            ApiError::RateLimited { .. } => ("requests", Some("rate_limit_exceeded")),
            ApiError::Flagged => ("invalid_request_error", Some("content_filter")),
            ApiError::BadRequest(_) | ApiError::Invalid(_) | ApiError::BadQuery(_) => {
                ("invalid_request_error", None)
            }
            ApiError::PayloadTooLarge(_) => ("invalid_request_error", Some("request_too_large")),
            ApiError::NotFound => ("invalid_request_error", Some("unknown_url")),
            ApiError::ModelNotFound(_) => ("invalid_request_error", Some("model_not_found")),
            ApiError::AdminUnauthorized => ("invalid_request_error", Some("invalid_api_key")),
            ApiError::AdminNotFound(_) => ("invalid_request_error", None),
            ApiError::MethodNotAllowed
            | ApiError::UnsupportedMediaType
            | ApiError::Forbidden(_) => ("invalid_request_error", None),
            ApiError::MetagraphNotReady => ("server_error", Some("service_unavailable")),
            ApiError::AllMinersFailed(_) => ("server_error", Some("all_miners_failed")),
            ApiError::Conflict(_) | ApiError::BodyTimeout(_) | ApiError::ClientClosed => {
                ("invalid_request_error", None)
            }
            ApiError::Internal => ("server_error", None),
        }
    }

    /// The HTTP status for OpenAI clients (exhausted credits are 429 `insufficient_quota` there).
    pub fn openai_status(&self) -> u16 {
        match self {
            ApiError::NotEnoughCredits => 429,
            other => other.status(),
        }
    }

    /// `Retry-After` seconds, for rate-limited requests.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The log level this error deserves: client mistakes are info, our failures warn/error.
    pub fn level(&self) -> tracing::Level {
        match self {
            ApiError::Internal => tracing::Level::ERROR,
            ApiError::AllMinersFailed(_) | ApiError::MetagraphNotReady | ApiError::Conflict(_) => {
                tracing::Level::WARN
            }
            ApiError::KeyMissing
            | ApiError::KeyInvalid
            | ApiError::KeyDisabled
            | ApiError::KeyExpired
            | ApiError::NotEnoughCredits
            | ApiError::Flagged
            | ApiError::RateLimited { .. }
            | ApiError::BadRequest(_)
            | ApiError::Invalid(_)
            | ApiError::BadQuery(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::NotFound
            | ApiError::ModelNotFound(_)
            | ApiError::AdminUnauthorized
            | ApiError::AdminNotFound(_)
            | ApiError::MethodNotAllowed
            | ApiError::Forbidden(_)
            | ApiError::UnsupportedMediaType
            | ApiError::BodyTimeout(_)
            | ApiError::ClientClosed => tracing::Level::INFO,
        }
    }

    /// The rate-limited error for a retry delay.
    pub fn rate_limited(limit: u32, retry_after: Duration) -> Self {
        ApiError::RateLimited {
            limit,
            retry_after_secs: crate::ratelimit::retry_after_secs(retry_after),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!("store failure: {e}");
        ApiError::Internal
    }
}
