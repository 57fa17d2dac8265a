//! Real token streaming for `POST /v1/chat/completions` with `stream: true` when miners speak an OpenAI API
//! (btauth or Epistula): the chosen miners are asked to stream, the **first whose first content chunk arrives**
//! is relayed chunk by chunk as it comes (the others are cancelled at once), and only `id`, `model` and `created`
//! are rewritten to btvep's.
//!
//! Failures before the first chunk move on to the next miner (like the plain path); when none starts, the client
//! gets the usual 502 with `failed_responses`. A miner failing mid-stream ends the stream with an OpenAI-style
//! `{"error": …}` event. Credits: one is reserved; it is kept once the miner's answer has started (its first
//! content chunk is relayed), even if the client leaves mid-stream, and refunded when no miner started or the
//! miner broke off mid-stream. The log record is written when the stream ends (or the client leaves).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use warp::hyper::body::Bytes;

use super::error::ApiError;
use super::http::{set_header, Reply};
use super::openai::usage;
use super::pipeline::{self, Admitted, ChatParams, RequestMeta, SettleGuard};
use super::state::AppState;
use crate::bittensor::dendrite::MinerResponse;
use crate::bittensor::http_miner::{valid_usage, HttpMiners, LiveStream, StreamEvent};
use crate::store::{ApiKey, Reservation};

/// Streams the first miner to start answering; see the module docs.
///
/// # Errors
/// As [`pipeline::plan`] and [`pipeline::reserve`]; [`ApiError::AllMinersFailed`] when no miner started.
pub async fn relay(
    state: &Arc<AppState>,
    http: &HttpMiners,
    meta: &RequestMeta,
    params: &ChatParams,
    admitted: &Admitted,
    model: String,
    include_usage: bool,
) -> Result<Reply, ApiError> {
    let key = &admitted.key;
    let refused = |e: ApiError| {
        pipeline::log_refusal(state, meta, params, Some(key.id), &e);
        state.logs.count(key.id, 1, 0);
        e
    };
    let plan = pipeline::plan(state, key, params).map_err(refused)?;
    let reservation = pipeline::reserve(state, key, 1).map_err(refused)?;
    // Dropped with this future if the client leaves first: refunds and logs `ClientClosed`.
    let mut guard = SettleGuard::new(state, key, reservation, meta, params);
    let (roles, messages) = pipeline::synapse_fields(&params.messages);
    // The reservation is made durable while the miners start: no chunk is sent before it is on disk.
    let ((live, failures), durable) = tokio::join!(
        http.stream_first(
            &plan.neurons,
            &roles,
            &messages,
            &params.sampling,
            plan.options,
        ),
        pipeline::durable_if(state, matches!(reservation, Reservation::Reserved(_)))
    );
    let Some(live) = live.filter(|_| durable.is_ok()) else {
        pipeline::log_answers(state, meta, params, key, &failures);
        guard.finish(0);
        durable?;
        return Err(ApiError::AllMinersFailed(pipeline::failed_responses(
            &failures,
        )));
    };
    // From here the relay writes the request's record itself, whenever the stream ends.
    guard.answered();
    let (tx, rx) = mpsc::channel(16);
    let job = Relay {
        state: state.clone(),
        meta: meta.clone(),
        params: params.clone(),
        key: key.clone(),
        model,
        include_usage,
        failures,
    };
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(job.run(live, guard, tx, started_tx));
    // Hand the answer to the connection only once its first event is queued, so the headers and the first chunk
    // leave together (headers alone first would let Nagle's algorithm hold the chunk for the client's delayed ACK).
    let _ = started_rx.await;
    let mut reply = warp::Reply::into_response(warp::reply::stream(ChannelBody(rx)));
    set_header(&mut reply, "content-type", "text/event-stream");
    set_header(&mut reply, "x-request-id", &meta.request_id);
    set_header(&mut reply, "cache-control", "no-cache");
    Ok(reply)
}

/// The usage of a plain answer: the miner's own when there is exactly one answer and it reported valid counts.
pub fn reported_usage(answers: &[MinerResponse]) -> Option<Value> {
    match answers {
        [a] => a.usage.clone(),
        _ => None,
    }
}

/// A response body fed by a channel (warp needs a `Sync` stream); the relay learns the client left when a send
/// fails.
struct ChannelBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_util::Stream for ChannelBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

struct Relay {
    state: Arc<AppState>,
    meta: RequestMeta,
    params: ChatParams,
    key: ApiKey,
    model: String,
    include_usage: bool,
    failures: Vec<MinerResponse>,
}

fn event(v: &Value) -> Result<Bytes, std::io::Error> {
    Ok(Bytes::from(format!("data: {v}\n\n")))
}

impl Relay {
    async fn run(
        self,
        mut live: LiveStream,
        mut guard: SettleGuard,
        tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
        started: tokio::sync::oneshot::Sender<()>,
    ) {
        let mut started = Some(started);
        let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
        let created = chrono::Utc::now().timestamp();
        let (uid, hotkey) = (live.neuron.uid, live.neuron.hotkey.clone());
        // The miner's answer has started (its first content chunk is here): the credit is kept from now on.
        guard.used = 1;
        let mut failure: Option<String> = None;
        let mut client_gone = false;
        loop {
            match live.next_event().await {
                StreamEvent::Chunk(mut c) => {
                    if let Some(obj) = c.as_object_mut() {
                        obj.insert("id".into(), json!(id));
                        obj.insert("model".into(), json!(self.model));
                        obj.insert("created".into(), json!(created));
                        obj.insert("object".into(), json!("chat.completion.chunk"));
                        obj.remove("usage");
                    }
                    if let Some(choices) = c.get_mut("choices").and_then(Value::as_array_mut) {
                        for ch in choices.iter_mut().filter_map(Value::as_object_mut) {
                            ch.insert("uid".into(), json!(uid));
                            ch.insert("responder_hotkey".into(), json!(hotkey));
                        }
                    }
                    if tx.send(event(&c)).await.is_err() {
                        client_gone = true;
                        break;
                    }
                    if let Some(s) = started.take() {
                        let _ = s.send(());
                    }
                }
                StreamEvent::Done => break,
                StreamEvent::Failed(reason) => {
                    tracing::warn!(uid, hotkey = %hotkey, %reason, "miner failed mid-stream");
                    let _ = tx
                        .send(event(&json!({"error": {
                            "message": format!("the miner failed mid-stream: {reason}"),
                            "type": "miner_error", "param": Value::Null, "code": "miner_failed"}})))
                        .await;
                    failure = Some(reason);
                    break;
                }
            }
        }
        if failure.is_none() && !client_gone {
            if self.include_usage {
                let u = valid_usage(live.usage.as_ref())
                    .unwrap_or_else(|| usage(&self.params.messages, &[live.text.as_str()]));
                let _ = tx
                    .send(event(&json!({
                        "id": id, "object": "chat.completion.chunk", "created": created, "model": self.model,
                        "system_fingerprint": Value::Null, "choices": [], "usage": u,
                    })))
                    .await;
            }
            let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
        }
        if failure.is_some() {
            guard.used = 0; // the miner broke off: not the client's answer
        }
        let ok = failure.is_none() && !live.text.is_empty();
        let winner = MinerResponse {
            uid,
            hotkey,
            status_code: if failure.is_some() { 422 } else { 200 },
            status_message: failure.unwrap_or_else(|| {
                if client_gone {
                    "Success (client left mid-stream)".into()
                } else {
                    "Success".into()
                }
            }),
            completion: live.text.clone(),
            elapsed: live.started.elapsed(),
            is_success: ok,
            usage: valid_usage(live.usage.as_ref()),
        };
        let mut answers = self.failures;
        answers.push(winner);
        pipeline::log_answers(&self.state, &self.meta, &self.params, &self.key, &answers);
        drop(guard);
    }
}
