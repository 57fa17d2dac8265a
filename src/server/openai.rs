//! The OpenAI-compatible front end: `POST /v1/chat/completions` (plain and streamed), `GET /v1/models`,
//! `GET /v1/models/{id}`. Same pipeline as `/chat`; only the request and response shapes differ.
//!
//! The `model` field chooses the miners: `bittensor` (the key's or server's default strategy),
//! `best:N`, `top_n:N`, or `uids:A,B`. btvep's own fields (`uids`, `top_n`, `strategy`,
//! `in_parallel`, `respond_on_first_success`, `timeout`) may be sent as extra body fields and win
//! over `model`.

use std::sync::Arc;

use serde::Deserialize;

use super::error::ApiError;
use super::http::{
    finish, json_reply, new_request_id, parse_json, read_body, set_header, BodyStream, Reply,
};
use super::openai_types::{
    AssistantMessage, ChatCompletion, CompletionChoice, ErrorBody, ErrorDetail, Model, ModelList,
    Usage,
};
use super::pipeline::{
    self, Admitted, ChatParams, Message, QueryFields, Refusal, RequestMeta, Role,
};
use super::state::AppState;
use crate::bittensor::strategy::QueryStrategy;
use crate::ratelimit::Decision;

/// The model id meaning "the default strategy".
pub const DEFAULT_MODEL: &str = pipeline::DEFAULT_STRATEGY_NAME;

/// Message content: a string, or OpenAI's list of content parts (text parts are joined).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content parts; only `text` parts carry text for miners.
    Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Deserialize)]
pub struct ContentPart {
    /// Part type (`text`, `image_url`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default)]
    pub text: Option<String>,
}

/// An OpenAI chat message.
#[derive(Debug, Deserialize)]
pub struct OpenAiMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    /// The content (may be null for assistant tool calls, which btvep does not support).
    #[serde(default)]
    pub content: Option<Content>,
}

/// `stream_options`.
#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a final chunk with token usage.
    #[serde(default)]
    pub include_usage: bool,
}

/// The request body; OpenAI's sampling fields (temperature, max_tokens, n, stop, ...) are forwarded to
/// btauth/epistula miners (see [`QueryFields`]) and ignored by synapse miners; other fields are ignored.
#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
    /// Strategy selector.
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation.
    pub messages: Vec<OpenAiMessage>,
    /// Stream chunks.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Streaming options.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// btvep's query fields, as extra body fields.
    #[serde(flatten)]
    pub query: QueryFields,
}

/// Parses a model id into a strategy (`None` = default); see [`pipeline::parse_strategy_name`].
///
/// # Errors
/// [`ApiError::BadQuery`] for a malformed `best:`/`top_n:`/`uids:` id, [`ApiError::ModelNotFound`]
/// for any other unknown id.
pub fn parse_model(model: &str) -> Result<Option<QueryStrategy>, ApiError> {
    pipeline::parse_strategy_name(model)
}

fn to_params(req: CompletionRequest) -> Result<(ChatParams, String, bool, bool), ApiError> {
    let model = req
        .model
        .clone()
        .unwrap_or_else(|| DEFAULT_MODEL.to_string());
    let from_model = parse_model(&model)?;
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.into_iter().enumerate() {
        let role = match m.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(ApiError::Invalid(format!(
                    "messages[{i}].role: '{other}' is not supported (use system, developer, user or assistant)"
                )))
            }
        };
        let content = match m.content {
            Some(Content::Text(t)) => t,
            Some(Content::Parts(parts)) => parts
                .into_iter()
                .filter(|p| p.kind == "text")
                .filter_map(|p| p.text)
                .collect::<Vec<_>>()
                .join("\n"),
            None => String::new(),
        };
        messages.push(Message { role, content });
    }
    let stream = req.stream.unwrap_or(false);
    let include_usage = req.stream_options.map(|o| o.include_usage).unwrap_or(false);
    Ok((
        req.query.into_params(messages, from_model)?,
        model,
        stream,
        include_usage,
    ))
}

/// Estimated usage of `completions` answering `messages` (see [`pipeline::usage::estimate`]).
pub fn usage(messages: &[Message], completions: &[&str]) -> Usage {
    pipeline::usage::estimate(messages, completions)
}

/// Renders an error in OpenAI's shape, with its status and headers.
pub fn openai_error(e: &ApiError, request_id: &str, rate: Option<Decision>) -> Reply {
    let (kind, code) = e.openai_kind();
    let body = ErrorBody {
        error: ErrorDetail {
            message: e.to_string(),
            kind,
            param: None,
            code,
        },
        failed_responses: match e {
            ApiError::AllMinersFailed(failed) => Some(failed.clone()),
            _ => None,
        },
    };
    let mut r = json_reply(e.openai_status(), &body, request_id);
    super::http::add_retry_after(&mut r, e);
    if let Some(d) = rate {
        rate_headers(&mut r, d);
    }
    r
}

/// Renders a rejection in OpenAI's shape.
pub async fn recover_openai(r: warp::Rejection) -> Result<Reply, std::convert::Infallible> {
    Ok(openai_error(
        &super::http::rejection_error(&r),
        &new_request_id(),
        None,
    ))
}

/// OpenAI-style duration text: `1s`, `6m0s`, `1h2m3s` (rounded up to whole seconds).
pub fn format_reset(d: std::time::Duration) -> String {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, m, sec) => format!("{h}h{m}m{sec}s"),
    }
}

/// Adds `x-ratelimit-*-requests` headers for a rate-limited key.
pub fn rate_headers(r: &mut Reply, d: Decision) {
    match d {
        Decision::Unlimited => {}
        Decision::Allowed {
            limit,
            remaining,
            reset,
        } => {
            set_header(r, "x-ratelimit-limit-requests", &limit.to_string());
            set_header(r, "x-ratelimit-remaining-requests", &remaining.to_string());
            set_header(r, "x-ratelimit-reset-requests", &format_reset(reset));
        }
        Decision::Limited { limit, retry_after } => {
            set_header(r, "x-ratelimit-limit-requests", &limit.to_string());
            set_header(r, "x-ratelimit-remaining-requests", "0");
            set_header(r, "x-ratelimit-reset-requests", &format_reset(retry_after));
        }
    }
}

fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
}

/// Handles `POST /v1/chat/completions`.
pub async fn chat_completions(
    state: Arc<AppState>,
    authorization: Option<String>,
    declared: Option<u64>,
    body: BodyStream,
) -> Reply {
    let meta = RequestMeta::new("/v1/chat/completions", authorization.as_deref());
    match run(&state, &meta, declared, body).await {
        Ok((r, k)) => finish(&state, &meta, Some(k), None, r),
        Err((refusal, k)) => {
            let reply = openai_error(&refusal.error, &meta.request_id, refusal.rate);
            finish(&state, &meta, k, Some(&refusal.error), reply)
        }
    }
}

async fn run(
    state: &Arc<AppState>,
    meta: &RequestMeta,
    declared: Option<u64>,
    body: BodyStream,
) -> Result<(Reply, u64), (Refusal, Option<u64>)> {
    let key = pipeline::authenticate(state, meta).map_err(|e| (e.into(), None))?;
    let key_id = key.id;
    let timeout = state.settings().body_timeout;
    let parsed = match read_body(declared, body, timeout).await {
        Ok(body) => parse_json::<CompletionRequest>(&body).and_then(to_params),
        Err(e) => Err(e),
    };
    let (params, model, stream, include_usage) = match parsed {
        Ok(p) => p,
        Err(e) => {
            pipeline::log_malformed(state, meta, &key, &e);
            return Err((e.into(), Some(key_id)));
        }
    };
    let admitted = pipeline::admit(state, meta, &params, key)
        .await
        .map_err(|r| (r, Some(key_id)))?;
    let with_rate = |e: ApiError| {
        (
            Refusal {
                error: e,
                rate: Some(admitted.rate),
            },
            Some(key_id),
        )
    };
    let mut reply = if stream {
        stream_reply(state, meta, &params, &admitted, model, include_usage)
            .await
            .map_err(with_rate)?
    } else {
        let served = pipeline::whole(state, meta, &params, &admitted)
            .await
            .map_err(with_rate)?;
        let completions: Vec<&str> = served
            .answers
            .iter()
            .map(|a| a.completion.as_str())
            .collect();
        let body = ChatCompletion {
            id: completion_id(),
            object: "chat.completion",
            created: chrono::Utc::now().timestamp(),
            model,
            system_fingerprint: None,
            choices: served
                .answers
                .iter()
                .enumerate()
                .map(|(index, a)| CompletionChoice {
                    index,
                    message: AssistantMessage {
                        role: "assistant",
                        content: a.completion.clone(),
                        refusal: None,
                    },
                    finish_reason: "stop",
                    logprobs: None,
                    uid: a.uid,
                    responder_hotkey: a.hotkey.clone(),
                    response_ms: u64::try_from(a.elapsed.as_millis()).unwrap_or(u64::MAX),
                })
                .collect(),
            usage: super::openai_stream::reported_usage(&served.answers)
                .and_then(|u| serde_json::from_value(u).ok())
                .unwrap_or_else(|| usage(&params.messages, &completions)),
            failed_responses: pipeline::failed_responses(&served.failures),
        };
        json_reply(200, &body, &meta.request_id)
    };
    rate_headers(&mut reply, admitted.rate);
    Ok((reply, key_id))
}

/// Streams the first miner's answer as `chat.completion.chunk` events (see [`super::openai_stream`]).
///
/// Headers are sent only once a miner has started answering, so a request where every miner fails still
/// gets a proper 502 error.
async fn stream_reply(
    state: &Arc<AppState>,
    meta: &RequestMeta,
    params: &ChatParams,
    admitted: &Admitted,
    model: String,
    include_usage: bool,
) -> Result<Reply, ApiError> {
    let answer = pipeline::stream(state, meta, params, admitted).await?;
    Ok(super::openai_stream::render(answer, meta, model, include_usage).await)
}

/// The models `GET /v1/models` lists: the default, some `best:N` and `top_n:N`, and `uids:U` for every
/// serving uid.
pub fn model_ids(state: &AppState) -> Vec<String> {
    let mut ids = vec![DEFAULT_MODEL.to_string()];
    if let Some(m) = state.metagraph() {
        let serving: Vec<u16> = m
            .neurons
            .iter()
            .filter(|n| n.is_serving())
            .map(|n| n.uid)
            .collect();
        for kind in ["best", "top_n"] {
            for n in [1usize, 3, 5, 10] {
                if n <= serving.len() {
                    ids.push(format!("{kind}:{n}"));
                }
            }
        }
        ids.extend(serving.iter().map(|u| format!("uids:{u}")));
    }
    ids
}

/// The admission `/v1/models` needs: a known key in good standing (the same stages as a chat
/// request's, without credits and rate limits); refusals are logged like any other.
fn check_key(
    state: &AppState,
    route: &'static str,
    authorization: Option<&str>,
) -> Result<(), ApiError> {
    let meta = RequestMeta::new(route, authorization);
    let key = pipeline::authenticate(state, &meta)?;
    pipeline::check_standing(&key).inspect_err(|e| {
        pipeline::log_refusal(state, &meta, &ChatParams::default(), Some(key.id), e);
    })
}

/// Handles `GET /v1/models`.
pub fn list_models(state: Arc<AppState>, authorization: Option<String>) -> Reply {
    let id = new_request_id();
    if let Err(e) = check_key(&state, "/v1/models", authorization.as_deref()) {
        return openai_error(&e, &id, None);
    }
    let data = model_ids(&state).iter().map(|m| Model::new(m)).collect();
    json_reply(
        200,
        &ModelList {
            object: "list",
            data,
        },
        &id,
    )
}

/// Handles `GET /v1/models/{id}`.
pub fn get_model(model: String, state: Arc<AppState>, authorization: Option<String>) -> Reply {
    let id = new_request_id();
    if let Err(e) = check_key(&state, "/v1/models/{id}", authorization.as_deref()) {
        return openai_error(&e, &id, None);
    }
    let Some(model) = percent_decode(&model) else {
        return openai_error(&ApiError::ModelNotFound(model), &id, None);
    };
    match parse_model(&model) {
        Ok(_) => json_reply(200, &Model::new(model.trim()), &id),
        Err(e) => openai_error(&e, &id, None),
    }
}

/// Decodes `%XX` escapes in a path segment (model ids contain `:` and `,`, which clients may escape).
///
/// `None` when the decoded bytes are not UTF-8 (no model has such a name).
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_parse() {
        assert_eq!(parse_model("bittensor").unwrap(), None);
        assert_eq!(
            parse_model("top_n:5").unwrap(),
            Some(QueryStrategy::TopN(5))
        );
        assert_eq!(
            parse_model("uids:3,7").unwrap(),
            Some(QueryStrategy::Uids(vec![3, 7]))
        );
        assert_eq!(
            parse_model("best:2").unwrap(),
            Some(QueryStrategy::BestN(2))
        );
        assert!(matches!(
            parse_model("gpt-4"),
            Err(ApiError::ModelNotFound(_))
        ));
        for bad in ["best:0", "best:x", "top_n:0", "uids:"] {
            let e = parse_model(bad).unwrap_err();
            assert!(matches!(e, ApiError::BadQuery(_)), "{bad}: {e:?}");
        }
    }

    #[test]
    fn reset_format() {
        assert_eq!(format_reset(std::time::Duration::from_millis(1500)), "2s");
        assert_eq!(format_reset(std::time::Duration::from_secs(360)), "6m0s");
        assert_eq!(format_reset(std::time::Duration::from_secs(3723)), "1h2m3s");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("uids%3A3%2C7").as_deref(), Some("uids:3,7"));
        assert_eq!(percent_decode("top_n:5").as_deref(), Some("top_n:5"));
        assert_eq!(percent_decode("bad%zz").as_deref(), Some("bad%zz"));
        assert_eq!(percent_decode("%a\u{e9}").as_deref(), Some("%a\u{e9}"));
        assert_eq!(percent_decode("%ff"), None);
    }
}
