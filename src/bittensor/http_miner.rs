//! The gateway's client for OpenAI-style miners (`btauth` and `epistula` protocols): each attempt POSTs an OpenAI
//! Chat Completions body to `http://{axon ip}:{axon port}{miner_path}`, freshly signed for the miner's hotkey.
//!
//! Miner answers are untrusted input: every answer is capped in size ([`HttpMiners::max_response_bytes`]) and time
//! (the per-miner timeout up to the first content chunk; [`STREAM_IDLE_MAX`] between later chunks;
//! [`STREAM_TOTAL_MAX`] for a whole stream), and anything malformed — bad JSON, a wrong content type, an oversized
//! line — is a failed attempt with a reason (422), never a panic or an unbounded buffer.

use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::dendrite::{MinerResponse, QueryOptions};
use super::keys::Hotkey;
use super::metagraph::Neuron;
use super::protocol::MinerProtocol;
use super::{btauth, epistula};

/// Default request path on the miner (config `miner_path`).
pub const DEFAULT_MINER_PATH: &str = "/v1/chat/completions";
/// Default `model` sent to miners (config `miner_model`).
pub const DEFAULT_MINER_MODEL: &str = "bittensor";
/// Longest silence between two chunks of a stream once it has started.
pub const STREAM_IDLE_MAX: Duration = Duration::from_secs(60);
/// Longest a whole streamed answer may take.
pub const STREAM_TOTAL_MAX: Duration = Duration::from_secs(600);
/// Longest single line of an event stream.
pub const MAX_STREAM_LINE: usize = 1024 * 1024;
/// Longest miner error text kept (for logs and `failed_responses`).
const MAX_ERROR_TEXT: usize = 200;

/// The OpenAI sampling fields a client may send; they reach the miner only when the client sent them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct Sampling {
    /// `temperature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Value>,
    /// `top_p`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Value>,
    /// `max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<Value>,
    /// `max_completion_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<Value>,
    /// `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Value>,
    /// `seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<Value>,
    /// `presence_penalty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<Value>,
    /// `frequency_penalty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<Value>,
    /// `n`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<Value>,
}

impl Sampling {
    fn merge_into(&self, body: &mut Map<String, Value>) {
        if let Ok(Value::Object(m)) = serde_json::to_value(self) {
            for (k, v) in m {
                if !v.is_null() {
                    body.insert(k, v);
                }
            }
        }
    }
}

/// What the miner said, one piece at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A `chat.completion.chunk` with choices (content, role or finish), as the miner sent it.
    Chunk(Value),
    /// The stream ended (`[DONE]` or the end of the body).
    Done,
    /// The miner failed mid-stream; the reason is safe to log and show.
    Failed(String),
}

/// A miner's streamed answer whose first content chunk has arrived.
#[derive(Debug)]
pub struct LiveStream {
    /// The miner.
    pub neuron: Neuron,
    /// When the attempt started.
    pub started: Instant,
    /// When the first content chunk arrived.
    pub first_chunk_at: Instant,
    /// Usage the miner reported, if any (the last usage object seen so far).
    pub usage: Option<Value>,
    /// Content received so far.
    pub text: String,
    pending: std::collections::VecDeque<Value>,
    reader: SseReader,
}

impl LiveStream {
    /// The next event: buffered chunks first, then the wire, bounded by [`STREAM_IDLE_MAX`] per chunk and
    /// [`STREAM_TOTAL_MAX`] overall.
    pub async fn next_event(&mut self) -> StreamEvent {
        if let Some(c) = self.pending.pop_front() {
            return StreamEvent::Chunk(c);
        }
        let left = STREAM_TOTAL_MAX.saturating_sub(self.started.elapsed());
        let wait = STREAM_IDLE_MAX.min(left);
        loop {
            match tokio::time::timeout(wait, self.reader.next_data()).await {
                Err(_) => return StreamEvent::Failed("stream stalled or too long".into()),
                Ok(Err(e)) => return StreamEvent::Failed(e),
                Ok(Ok(None)) => return StreamEvent::Done,
                Ok(Ok(Some(data))) => match classify(&data) {
                    Data::Done => return StreamEvent::Done,
                    Data::Error(e) => return StreamEvent::Failed(e),
                    Data::Chunk {
                        chunk,
                        content,
                        usage,
                    } => {
                        if usage.is_some() {
                            self.usage = usage;
                        }
                        if let Some(c) = chunk {
                            self.text.push_str(&content);
                            return StreamEvent::Chunk(c);
                        }
                    }
                },
            }
        }
    }
}

/// Reads `data:` payloads from an event stream with line and size caps.
#[derive(Debug)]
struct SseReader {
    resp: reqwest::Response,
    buf: Vec<u8>,
    total: usize,
    cap: usize,
    ended: bool,
}

impl SseReader {
    /// The next `data:` payload, `None` at the end of the body.
    async fn next_data(&mut self) -> Result<Option<String>, String> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches(['\n', '\r']);
                if let Some(data) = line.strip_prefix("data:") {
                    return Ok(Some(data.trim_start().to_string()));
                }
                continue; // comments, event:, id:, blank separators
            }
            if self.ended {
                return Ok(None);
            }
            if self.buf.len() > MAX_STREAM_LINE {
                return Err("stream line too long".into());
            }
            match self.resp.chunk().await {
                Ok(Some(c)) => {
                    self.total += c.len();
                    if self.total > self.cap {
                        return Err(format!("answer larger than {} bytes", self.cap));
                    }
                    self.buf.extend_from_slice(&c);
                }
                Ok(None) => {
                    self.ended = true;
                    if !self.buf.is_empty() {
                        self.buf.push(b'\n');
                    }
                }
                Err(e) => return Err(format!("stream broken: {}", reqwest_text(&e))),
            }
        }
    }
}

enum Data {
    Done,
    Error(String),
    Chunk {
        /// The chunk, when it has a non-empty `choices` array.
        chunk: Option<Value>,
        /// Its `choices[0].delta.content` text ("" when none).
        content: String,
        usage: Option<Value>,
    },
}

fn classify(data: &str) -> Data {
    if data.trim() == "[DONE]" {
        return Data::Done;
    }
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return Data::Error("malformed stream chunk (not JSON)".into());
    };
    if let Some(e) = v.get("error") {
        return Data::Error(format!("miner error: {}", error_text(e)));
    }
    let usage = v.get("usage").filter(|u| u.is_object()).cloned();
    let has_choices = v
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    if !has_choices {
        if usage.is_none() && !v.is_object() {
            return Data::Error("malformed stream chunk".into());
        }
        return Data::Chunk {
            chunk: None,
            content: String::new(),
            usage,
        };
    }
    let content = v
        .pointer("/choices/0/delta/content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Data::Chunk {
        chunk: Some(v),
        content,
        usage,
    }
}

/// Text of an untrusted error value, printable and short.
fn error_text(e: &Value) -> String {
    let raw = e
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| e.as_str().map(str::to_string))
        .unwrap_or_else(|| "unspecified".to_string());
    sanitize(&raw)
}

fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_ERROR_TEXT)
        .collect()
}

fn reqwest_text(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        "connection broken".into()
    }
}

/// Signs and sends OpenAI requests to miners under one protocol (btauth or Epistula).
#[derive(Debug, Clone)]
pub struct HttpMiners {
    protocol: MinerProtocol,
    hotkey: Hotkey,
    client: reqwest::Client,
    path: String,
    model: String,
    max_response_bytes: usize,
}

impl HttpMiners {
    /// A client signing with `hotkey` under `protocol` (btauth or epistula), posting to `path` with `model`.
    pub fn new(
        protocol: MinerProtocol,
        hotkey: Hotkey,
        client: reqwest::Client,
        path: &str,
        model: &str,
        max_response_bytes: usize,
    ) -> Self {
        Self {
            protocol,
            hotkey,
            client,
            path: path.to_string(),
            model: model.to_string(),
            max_response_bytes,
        }
    }

    /// The protocol spoken.
    pub fn protocol(&self) -> MinerProtocol {
        self.protocol
    }

    /// The cap on one miner answer, in bytes.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// The JSON body for a conversation: `model`, `messages`, `stream` and the client's sampling fields.
    pub fn body(
        &self,
        roles: &[String],
        messages: &[String],
        sampling: &Sampling,
        stream: bool,
    ) -> Vec<u8> {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert(
            "messages".into(),
            Value::Array(
                roles
                    .iter()
                    .zip(messages)
                    .map(|(r, c)| json!({"role": r, "content": c}))
                    .collect(),
            ),
        );
        body.insert("stream".into(), json!(stream));
        sampling.merge_into(&mut body);
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
    }

    /// A request to `neuron` carrying `body`, signed now (a fresh nonce/uuid per attempt).
    fn request(&self, neuron: &Neuron, body: Vec<u8>) -> reqwest::RequestBuilder {
        let url = format!("http://{}{}", neuron.socket_addr_text(), self.path);
        let headers = match self.protocol {
            MinerProtocol::Epistula => epistula::sign(
                &self.hotkey,
                &body,
                &neuron.hotkey,
                u64::try_from(epistula::now_ms()).unwrap_or(0),
                &uuid::Uuid::new_v4().to_string(),
            ),
            _ => btauth::sign(
                &self.hotkey,
                "POST",
                &self.path,
                &body,
                &neuron.hotkey,
                btauth::now_ns(),
            ),
        };
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.body(body)
    }

    /// One plain (non-streamed) completion from `neuron` within `timeout`. Never fails: problems become failed
    /// [`MinerResponse`]s (408 timeout, 503 unreachable, 422 unusable answer, or the miner's own status).
    pub async fn query_one(
        &self,
        neuron: &Neuron,
        roles: &[String],
        messages: &[String],
        sampling: &Sampling,
        timeout: Duration,
    ) -> MinerResponse {
        let start = Instant::now();
        let fail = |code: u16, msg: String| MinerResponse {
            uid: neuron.uid,
            hotkey: neuron.hotkey.clone(),
            status_code: code,
            status_message: msg,
            completion: String::new(),
            elapsed: start.elapsed(),
            is_success: false,
            usage: None,
        };
        if !neuron.is_serving() {
            return fail(503, "Service unavailable (not serving)".into());
        }
        let body = self.body(roles, messages, sampling, false);
        let exchange = async {
            let mut resp = self
                .request(neuron, body)
                .send()
                .await
                .map_err(|e| (503, format!("Service unavailable: {}", reqwest_text(&e))))?;
            let status = resp.status().as_u16();
            let ctype = content_type(&resp);
            if resp
                .content_length()
                .is_some_and(|n| n > self.max_response_bytes as u64)
            {
                return Err((422, "answer too large".to_string()));
            }
            let mut bytes = Vec::new();
            while let Some(c) = resp
                .chunk()
                .await
                .map_err(|e| (503, format!("Service disconnected: {}", reqwest_text(&e))))?
            {
                if bytes.len() + c.len() > self.max_response_bytes {
                    return Err((422, "answer too large".to_string()));
                }
                bytes.extend_from_slice(&c);
            }
            Ok((status, ctype, bytes))
        };
        let (status, ctype, bytes) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                let mut r = fail(
                    408,
                    format!("Request timeout after {} seconds", timeout.as_secs_f64()),
                );
                r.elapsed = timeout;
                return r;
            }
            Ok(Err((code, msg))) => return fail(code, msg),
            Ok(Ok(parts)) => parts,
        };
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !(200..300).contains(&status) {
            let msg = parsed
                .as_ref()
                .and_then(|v| v.get("error"))
                .map(error_text)
                .unwrap_or_else(|| format!("HTTP {status}"));
            return fail(status, msg);
        }
        if ctype.starts_with("text/event-stream") {
            // A miner that always streams (SN1-style): the whole stream is the answer.
            return match collect_sse(&bytes) {
                Err(e) => fail(422, e),
                Ok((text, _)) if text.is_empty() => fail(200, "Empty response".into()),
                Ok((text, usage)) => MinerResponse {
                    uid: neuron.uid,
                    hotkey: neuron.hotkey.clone(),
                    status_code: 200,
                    status_message: "Success".into(),
                    completion: text,
                    elapsed: start.elapsed(),
                    is_success: true,
                    usage: valid_usage(usage.as_ref()),
                },
            };
        }
        if !ctype.contains("json") {
            return fail(422, "wrong content type (expected JSON)".into());
        }
        let Some(v) = parsed else {
            return fail(422, "malformed answer (not JSON)".into());
        };
        let Some(text) = v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
        else {
            return fail(
                422,
                "malformed answer (no choices[0].message.content)".into(),
            );
        };
        if text.is_empty() {
            return fail(200, "Empty response".into());
        }
        MinerResponse {
            uid: neuron.uid,
            hotkey: neuron.hotkey.clone(),
            status_code: 200,
            status_message: "Success".into(),
            completion: text.to_string(),
            elapsed: start.elapsed(),
            is_success: true,
            usage: valid_usage(v.get("usage")),
        }
    }

    /// Ask `neuron` for a streamed answer and wait (up to `timeout`) for its first content chunk.
    ///
    /// # Errors
    /// The failed attempt as a [`MinerResponse`] (status and reason), like [`Self::query_one`].
    pub async fn open_stream(
        &self,
        neuron: &Neuron,
        roles: &[String],
        messages: &[String],
        sampling: &Sampling,
        timeout: Duration,
    ) -> Result<LiveStream, MinerResponse> {
        let start = Instant::now();
        let fail = |code: u16, msg: String| MinerResponse {
            uid: neuron.uid,
            hotkey: neuron.hotkey.clone(),
            status_code: code,
            status_message: msg,
            completion: String::new(),
            elapsed: start.elapsed(),
            is_success: false,
            usage: None,
        };
        if !neuron.is_serving() {
            return Err(fail(503, "Service unavailable (not serving)".into()));
        }
        let body = self.body(roles, messages, sampling, true);
        let opening = async {
            let resp = self
                .request(neuron, body)
                .send()
                .await
                .map_err(|e| (503, format!("Service unavailable: {}", reqwest_text(&e))))?;
            let status = resp.status().as_u16();
            let ctype = content_type(&resp);
            if !(200..300).contains(&status) {
                let mut resp = resp;
                let mut bytes = Vec::new();
                while let Ok(Some(c)) = resp.chunk().await {
                    if bytes.len() + c.len() > 64 * 1024 {
                        break;
                    }
                    bytes.extend_from_slice(&c);
                }
                let msg = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("error").map(error_text))
                    .unwrap_or_else(|| format!("HTTP {status}"));
                return Err((status, msg));
            }
            let mut live = LiveStream {
                neuron: neuron.clone(),
                started: start,
                first_chunk_at: start,
                usage: None,
                text: String::new(),
                pending: Default::default(),
                reader: SseReader {
                    resp,
                    buf: Vec::new(),
                    total: 0,
                    cap: self.max_response_bytes,
                    ended: false,
                },
            };
            if ctype.contains("json") {
                // A miner that ignores `stream` and answers in one piece: one chunk with the whole text.
                let mut bytes = Vec::new();
                while let Some(c) = live
                    .reader
                    .resp
                    .chunk()
                    .await
                    .map_err(|e| (503, format!("Service disconnected: {}", reqwest_text(&e))))?
                {
                    if bytes.len() + c.len() > self.max_response_bytes {
                        return Err((422, "answer too large".into()));
                    }
                    bytes.extend_from_slice(&c);
                }
                let v: Value = serde_json::from_slice(&bytes)
                    .map_err(|_| (422, "malformed answer (not JSON)".to_string()))?;
                let text = v
                    .pointer("/choices/0/message/content")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or((422, "malformed answer (no content)".to_string()))?
                    .to_string();
                live.usage = v.get("usage").filter(|u| u.is_object()).cloned();
                live.pending.push_back(json!({"object": "chat.completion.chunk", "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}));
                live.text = text;
                live.reader.ended = true;
                live.first_chunk_at = Instant::now();
                return Ok(live);
            }
            if !ctype.starts_with("text/event-stream") {
                return Err((
                    422,
                    "wrong content type (expected text/event-stream)".into(),
                ));
            }
            // Read until the first chunk with content; earlier chunks (the role) are kept for the client.
            loop {
                match live.reader.next_data().await.map_err(|e| (422, e))? {
                    None => return Err((200, "Empty response".into())),
                    Some(data) => match classify(&data) {
                        Data::Done => return Err((200, "Empty response".into())),
                        Data::Error(e) => return Err((422, e)),
                        Data::Chunk {
                            chunk,
                            content,
                            usage,
                        } => {
                            if usage.is_some() {
                                live.usage = usage;
                            }
                            if let Some(c) = chunk {
                                if live.pending.len() >= 64 {
                                    return Err((422, "too many chunks without content".into()));
                                }
                                live.pending.push_back(c);
                                if !content.is_empty() {
                                    live.text.push_str(&content);
                                    live.first_chunk_at = Instant::now();
                                    return Ok(live);
                                }
                            }
                        }
                    },
                }
            }
        };
        match tokio::time::timeout(timeout, opening).await {
            Err(_) => {
                let mut r = fail(
                    408,
                    format!(
                        "Request timeout after {} seconds (no first chunk)",
                        timeout.as_secs_f64()
                    ),
                );
                r.elapsed = timeout;
                Err(r)
            }
            Ok(Err((code, msg))) => Err(fail(code, msg)),
            Ok(Ok(live)) => Ok(live),
        }
    }

    /// Race `neurons` (batches of `in_parallel`) for the first content chunk; the winner's stream is returned and
    /// the others are cancelled at once. Returns the failed attempts seen before the winner either way.
    pub async fn stream_first(
        &self,
        neurons: &[Neuron],
        roles: &[String],
        messages: &[String],
        sampling: &Sampling,
        opts: QueryOptions,
    ) -> (Option<LiveStream>, Vec<MinerResponse>) {
        let mut failures = Vec::new();
        for batch in neurons.chunks(opts.in_parallel.max(1)) {
            let mut attempts: FuturesUnordered<_> = batch
                .iter()
                .map(|n| self.open_stream(n, roles, messages, sampling, opts.timeout))
                .collect();
            while let Some(r) = attempts.next().await {
                match r {
                    Ok(live) => return (Some(live), failures), // dropping `attempts` cancels the rest
                    Err(f) => failures.push(f),
                }
            }
        }
        (None, failures)
    }
}

/// A miner's `usage` object reduced to the three OpenAI counters, when all three are whole numbers.
pub fn valid_usage(u: Option<&Value>) -> Option<Value> {
    let u = u?;
    let get = |k: &str| u.get(k).and_then(Value::as_u64);
    Some(json!({
        "prompt_tokens": get("prompt_tokens")?,
        "completion_tokens": get("completion_tokens")?,
        "total_tokens": get("total_tokens")?,
    }))
}

/// The content and last usage of a whole event stream already read (capped by the caller).
fn collect_sse(bytes: &[u8]) -> Result<(String, Option<Value>), String> {
    let mut text = String::new();
    let mut usage = None;
    for line in String::from_utf8_lossy(bytes).lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        match classify(data.trim_start()) {
            Data::Done => break,
            Data::Error(e) => return Err(e),
            Data::Chunk {
                content, usage: u, ..
            } => {
                text.push_str(&content);
                if u.is_some() {
                    usage = u;
                }
            }
        }
    }
    Ok((text, usage))
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_chunks() {
        assert!(matches!(classify("[DONE]"), Data::Done));
        assert!(matches!(classify("{oops"), Data::Error(_)));
        assert!(
            matches!(classify(r#"{"error":{"message":"boom\u0007"}}"#), Data::Error(e) if e == "miner error: boom")
        );
        match classify(r#"{"choices":[{"index":0,"delta":{"content":"hi"}}]}"#) {
            Data::Chunk { chunk, content, .. } => {
                assert!(chunk.is_some());
                assert_eq!(content, "hi");
            }
            _ => panic!("chunk"),
        }
        match classify(r#"{"choices":[],"usage":{"total_tokens":3}}"#) {
            Data::Chunk { chunk, usage, .. } => {
                assert!(chunk.is_none());
                assert_eq!(usage.unwrap()["total_tokens"], 3);
            }
            _ => panic!("usage"),
        }
    }

    #[test]
    fn whole_streams_collect() {
        let s = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n: ping\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\ndata: [DONE]\n\n";
        assert_eq!(collect_sse(s).unwrap().0, "ab");
        assert!(collect_sse(b"data: {\"error\":\"x\"}\n\n").is_err());
    }

    #[test]
    fn body_carries_only_sent_sampling_fields() {
        let (hk, _) = Hotkey::generate().unwrap();
        let m = HttpMiners::new(
            MinerProtocol::Btauth,
            hk,
            reqwest::Client::new(),
            DEFAULT_MINER_PATH,
            DEFAULT_MINER_MODEL,
            1024,
        );
        let s = Sampling {
            temperature: Some(json!(0.2)),
            ..Sampling::default()
        };
        let b: Value =
            serde_json::from_slice(&m.body(&["user".into()], &["hi".into()], &s, true)).unwrap();
        assert_eq!(
            b,
            json!({"model": "bittensor", "messages": [{"role": "user", "content": "hi"}], "stream": true,
                   "temperature": 0.2})
        );
    }
}
