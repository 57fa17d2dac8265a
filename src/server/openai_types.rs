//! The OpenAI API's response objects as btvep sends them (Chat Completions, models, errors), typed, so
//! the shape is written once and checked by the compiler. btvep's extra fields (`uid`,
//! `responder_hotkey`, `response_ms`, `failed_responses`) sit beside OpenAI's; clients ignore them.

use serde::Serialize;

use super::error::FailedResponse;

pub use super::pipeline::usage::Usage;

/// `chat.completion`.
#[derive(Debug, Serialize)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// Always `chat.completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// The model asked for.
    pub model: String,
    /// Always null.
    pub system_fingerprint: Option<String>,
    /// One per successful miner answer.
    pub choices: Vec<CompletionChoice>,
    /// Token counts (the miner's when it reported them, else estimated).
    pub usage: Usage,
    /// Miners that failed (btvep's).
    pub failed_responses: Vec<FailedResponse>,
}

/// One answer of a `chat.completion`.
#[derive(Debug, Serialize)]
pub struct CompletionChoice {
    /// Position.
    pub index: usize,
    /// The answer.
    pub message: AssistantMessage,
    /// Always `stop`.
    pub finish_reason: &'static str,
    /// Always null.
    pub logprobs: Option<()>,
    /// The miner's uid (btvep's).
    pub uid: u16,
    /// The miner's hotkey (btvep's).
    pub responder_hotkey: String,
    /// How long the miner took (btvep's).
    pub response_ms: u64,
}

/// An assistant message.
#[derive(Debug, Serialize)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: &'static str,
    /// The answer's text.
    pub content: String,
    /// Always null.
    pub refusal: Option<String>,
}

/// A model of `GET /v1/models`.
#[derive(Debug, Serialize)]
pub struct Model {
    /// Its id (`bittensor`, `top_n:N`, `uids:…`).
    pub id: String,
    /// Always `model`.
    pub object: &'static str,
    /// Always 0.
    pub created: i64,
    /// Always `bittensor`.
    pub owned_by: &'static str,
}

impl Model {
    /// The model named `id`.
    pub fn new(id: &str) -> Self {
        Model {
            id: id.to_string(),
            object: "model",
            created: 0,
            owned_by: "bittensor",
        }
    }
}

/// `GET /v1/models`.
#[derive(Debug, Serialize)]
pub struct ModelList {
    /// Always `list`.
    pub object: &'static str,
    /// The models.
    pub data: Vec<Model>,
}

/// An error in OpenAI's shape.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
    /// Miners that failed, when all did (btvep's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_responses: Option<Vec<FailedResponse>>,
}

/// The error's fields.
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    /// What went wrong.
    pub message: String,
    /// OpenAI's error type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Always null.
    pub param: Option<String>,
    /// OpenAI's error code.
    pub code: Option<&'static str>,
}
