//! `stream: true` on `POST /v1/chat/completions`: renders a [`AnswerStream`] — a miner's
//! real token stream (btauth, Epistula) or a synapse answer cut into deltas — as server-sent events.
//! The stream's credit and log record are the pipeline's business ([`super::pipeline::answer`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use warp::hyper::body::Bytes;

use super::http::{set_header, Reply};
use super::pipeline::{AnswerStream, RequestMeta, StreamEnd};
use crate::bittensor::dendrite::MinerResponse;
use crate::bittensor::http_miner::StreamEvent;

/// Renders an answer stream as server-sent events: each chunk gets btvep's `id`, `model` and
/// `created` (and the miner's `uid` and `responder_hotkey` in each choice); then the usage event when
/// asked for, then `[DONE]`. A miner failing mid-stream ends the stream with an OpenAI-style `error`
/// event. The stream settles and logs itself when it ends (or when the client leaves).
pub async fn render(
    answer: AnswerStream,
    meta: &RequestMeta,
    model: String,
    include_usage: bool,
) -> Reply {
    let (tx, rx) = mpsc::channel(16);
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(relay(answer, model, include_usage, tx, started_tx));
    // Hand the answer to the connection only once its first event is queued, so the headers and the first chunk
    // leave together (headers alone first would let Nagle's algorithm hold the chunk for the client's delayed ACK).
    let _ = started_rx.await;
    let mut reply = warp::Reply::into_response(warp::reply::stream(ChannelBody(rx)));
    set_header(&mut reply, "content-type", "text/event-stream");
    set_header(&mut reply, "x-request-id", &meta.request_id);
    set_header(&mut reply, "cache-control", "no-cache");
    reply
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

fn event(v: &Value) -> Result<Bytes, std::io::Error> {
    Ok(Bytes::from(format!("data: {v}\n\n")))
}

async fn relay(
    mut answer: AnswerStream,
    model: String,
    include_usage: bool,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    started: tokio::sync::oneshot::Sender<()>,
) {
    let mut started = Some(started);
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = chrono::Utc::now().timestamp();
    let (uid, hotkey) = {
        let (u, h) = answer.miner();
        (u, h.to_string())
    };
    let end = loop {
        match answer.next_event().await {
            StreamEvent::Chunk(mut c) => {
                if let Some(obj) = c.as_object_mut() {
                    obj.insert("id".into(), json!(id));
                    obj.insert("object".into(), json!("chat.completion.chunk"));
                    obj.insert("created".into(), json!(created));
                    obj.insert("model".into(), json!(model));
                    obj.entry("system_fingerprint").or_insert(Value::Null);
                    obj.remove("usage");
                }
                if let Some(choices) = c.get_mut("choices").and_then(Value::as_array_mut) {
                    for ch in choices.iter_mut().filter_map(Value::as_object_mut) {
                        ch.insert("uid".into(), json!(uid));
                        ch.insert("responder_hotkey".into(), json!(hotkey));
                    }
                }
                if tx.send(event(&c)).await.is_err() {
                    break StreamEnd::ClientGone;
                }
                answer.chunk_sent();
                if let Some(s) = started.take() {
                    let _ = s.send(());
                }
            }
            StreamEvent::Done => {
                if include_usage {
                    let u = json!({
                        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                        "system_fingerprint": Value::Null, "choices": [], "usage": answer.usage(),
                    });
                    let _ = tx.send(event(&u)).await;
                }
                let gone = tx
                    .send(Ok(Bytes::from_static(b"data: [DONE]\n\n")))
                    .await
                    .is_err();
                break if gone {
                    StreamEnd::ClientGone
                } else {
                    StreamEnd::Done
                };
            }
            StreamEvent::Failed(reason) => {
                tracing::warn!(uid, hotkey = %hotkey, %reason, "miner failed mid-stream");
                let _ = tx
                    .send(event(&json!({"error": {
                        "message": format!("the miner failed mid-stream: {reason}"),
                        "type": "miner_error", "param": Value::Null, "code": "miner_failed"}})))
                    .await;
                break StreamEnd::Failed(reason);
            }
        }
    };
    drop(started);
    answer.end(end);
}
