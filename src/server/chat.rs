//! `POST /chat`: btvep's own API, unchanged for existing clients.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::{ApiError, FailedResponse};
use super::http::{btvep_error, finish, json_reply, parse_json, read_body, BodyStream, Reply};
use super::pipeline::{self, ChatParams, Message, QueryFields, RequestMeta};
use super::state::AppState;

/// The `/chat` request body.
#[derive(Debug, Deserialize)]
pub struct ChatBody {
    /// The conversation.
    pub messages: Vec<Message>,
    /// btvep's query fields.
    #[serde(flatten)]
    pub query: QueryFields,
}

/// One answer in the `/chat` response.
#[derive(Debug, Serialize)]
pub struct Choice {
    /// Position in `choices`.
    pub index: usize,
    /// Miner uid.
    pub uid: u16,
    /// Miner hotkey.
    pub responder_hotkey: String,
    /// The answer.
    pub message: AssistantMessage,
    /// How long the miner took.
    pub response_ms: u64,
}

/// An assistant message.
#[derive(Debug, Serialize)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: &'static str,
    /// The completion.
    pub content: String,
}

/// The `/chat` response.
#[derive(Debug, Serialize)]
pub struct ChatResponse {
    /// Successful answers.
    pub choices: Vec<Choice>,
    /// Failed answers.
    pub failed_responses: Vec<FailedResponse>,
}

/// Handles `POST /chat`: the key is checked before the body is read.
pub async fn handle(
    state: Arc<AppState>,
    authorization: Option<String>,
    declared: Option<u64>,
    body: BodyStream,
) -> Reply {
    let meta = RequestMeta::new("/chat", authorization.as_deref());
    match run(&state, &meta, declared, body).await {
        Ok((r, k)) => finish(
            &state,
            &meta,
            Some(k),
            None,
            json_reply(200, &r, &meta.request_id),
        ),
        Err((e, k)) => {
            let reply = btvep_error(&e, &meta.request_id);
            finish(&state, &meta, k, Some(&e), reply)
        }
    }
}

async fn run(
    state: &Arc<AppState>,
    meta: &RequestMeta,
    declared: Option<u64>,
    body: BodyStream,
) -> Result<(ChatResponse, u64), (ApiError, Option<u64>)> {
    let key = pipeline::authenticate(state, meta).map_err(|e| (e, None))?;
    let key_id = key.id;
    let timeout = state.settings().body_timeout;
    let parsed: Result<ChatParams, ApiError> = match read_body(declared, body, timeout).await {
        Ok(body) => {
            parse_json::<ChatBody>(&body).and_then(|b| b.query.into_params(b.messages, None))
        }
        Err(e) => Err(e),
    };
    let params = match parsed {
        Ok(p) => p,
        Err(e) => {
            pipeline::log_malformed(state, meta, &key, &e);
            return Err((e, Some(key_id)));
        }
    };
    let admitted = pipeline::admit(state, meta, &params, key)
        .await
        .map_err(|r| (r.error, Some(key_id)))?;
    let served = pipeline::whole(state, meta, &params, &admitted)
        .await
        .map_err(|e| (e, Some(key_id)))?;
    let choices = served
        .answers
        .into_iter()
        .enumerate()
        .map(|(index, a)| Choice {
            index,
            uid: a.uid,
            responder_hotkey: a.hotkey,
            message: AssistantMessage {
                role: "assistant",
                content: a.completion,
            },
            response_ms: u64::try_from(a.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
        .collect();
    Ok((
        ChatResponse {
            choices,
            failed_responses: pipeline::failed_responses(&served.failures),
        },
        key_id,
    ))
}
