//! `btvep start --devnet N --devnet-protocol btauth|epistula`: gateway → signed OpenAI requests → btvep miners →
//! a stub model server that streams on command. Proves `/chat`, plain `/v1/chat/completions` (sampling fields
//! reach the model) and real streaming (the first chunk reaches the client while the model still holds the rest).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::gateway::{Gateway, Home};
use serde_json::{json, Value};
use tokio::sync::Notify;
use warp::Filter;

struct Stub {
    calls: Mutex<Vec<Value>>,
    release: Notify,
}

async fn spawn_stub() -> (std::net::SocketAddr, Arc<Stub>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stub = Arc::new(Stub {
        calls: Mutex::new(Vec::new()),
        release: Notify::new(),
    });
    let s = Arc::clone(&stub);
    let route = warp::path!("v1" / "chat" / "completions")
        .and(warp::body::json::<Value>())
        .then(move |body: Value| {
            let s = Arc::clone(&s);
            async move {
                s.calls.lock().unwrap().push(body.clone());
                if body["stream"] == true {
                    let s2 = Arc::clone(&s);
                    let events = futures_util::stream::unfold(0u8, move |i| {
                        let s2 = Arc::clone(&s2);
                        async move {
                            let c = |t: &str| json!({"id": "miner-id", "object": "chat.completion.chunk",
                                "created": 1, "model": "miner-model",
                                "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}]}).to_string();
                            let data = match i {
                                0 => c("Hello"),
                                1 => {
                                    s2.release.notified().await;
                                    c(" world")
                                }
                                2 => json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}).to_string(),
                                3 => "[DONE]".to_string(),
                                _ => return None,
                            };
                            Some((Ok::<_, std::convert::Infallible>(warp::sse::Event::default().data(data)), i + 1))
                        }
                    });
                    warp::reply::Reply::into_response(warp::sse::reply(events))
                } else {
                    warp::reply::Reply::into_response(warp::reply::json(&json!({
                        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "plain answer"}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}
                    })))
                }
            }
        });
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (addr, stub)
}

async fn exercise(protocol: &str) {
    let (model_addr, stub) = spawn_stub().await;
    let home = Home::new(json!({}));
    let url = format!("http://{model_addr}/v1");
    let gw = Gateway::start_with(
        &home,
        &[
            "--devnet",
            "2",
            "--devnet-protocol",
            protocol,
            "--devnet-model-url",
            &url,
        ],
    );
    gw.ready().await;
    let log = gw.stderr.lock().unwrap().join("\n");
    assert!(
        log.lines()
            .any(|l| l.contains("miner_protocol") && l.contains(protocol)),
        "{log}"
    );
    let key = std::fs::read_to_string(home.path("data/devnet/api_key"))
        .unwrap()
        .trim()
        .to_string();

    // /chat, both miners.
    let (s, _, v) = gw
        .post(
            "/chat",
            Some(&key),
            &json!({"top_n": 2, "respond_on_first_success": false, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(s, 200, "{protocol}: {v}");
    assert_eq!(v["choices"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["choices"][0]["message"]["content"], "plain answer");

    // Plain OpenAI: the client's sampling fields reach the model; btvep's routing fields do not.
    let (s, _, v) = gw
        .post(
            "/v1/chat/completions",
            Some(&key),
            &json!({"model": "uids:1", "temperature": 0.25, "seed": 9,
                    "messages": [{"role": "user", "content": "ping"}]}),
        )
        .await;
    assert_eq!(s, 200, "{protocol}: {v}");
    assert_eq!(v["choices"][0]["uid"], 1);
    assert_eq!(v["usage"]["total_tokens"], 13, "the miner's usage: {v}");
    let call = stub.calls.lock().unwrap().last().cloned().unwrap();
    assert_eq!(call["temperature"], 0.25, "{call}");
    assert_eq!(call["seed"], 9, "{call}");

    // Streamed: the first chunk arrives while the model still holds the rest.
    let mut resp = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(
            &json!({"model": "uids:0", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "stream please"}]}),
        )
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut seen = String::new();
    while !seen.contains("Hello") {
        let c = resp.chunk().await.unwrap().expect("stream ended early");
        seen.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(!seen.contains("world"), "buffered? {seen}");
    stub.release.notify_one();
    while let Some(c) = resp.chunk().await.unwrap() {
        seen.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(
        seen.contains(" world") && seen.ends_with("data: [DONE]\n\n"),
        "{seen}"
    );
    let chunks: Vec<Value> = seen
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    for c in &chunks {
        assert!(c["id"].as_str().unwrap().starts_with("chatcmpl-"), "{c}");
        assert_eq!(c["model"], "uids:0", "{c}");
    }
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        usage["total_tokens"], 7,
        "the miner's usage is passed on: {usage}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn btauth_devnet_serves_chat_plain_and_real_streams() {
    tokio::time::timeout(Duration::from_secs(120), exercise("btauth"))
        .await
        .expect("timed out");
}

#[tokio::test(flavor = "multi_thread")]
async fn epistula_devnet_serves_chat_plain_and_real_streams() {
    tokio::time::timeout(Duration::from_secs(120), exercise("epistula"))
        .await
        .expect("timed out");
}

// ------------------------------------------------------------------ hostile miners (library level)

use btvep::bittensor::dendrite::{Dendrite, QueryOptions};
use btvep::bittensor::http_miner::{Sampling, StreamEvent};
use btvep::bittensor::keys::Hotkey;
use btvep::bittensor::metagraph::Neuron;
use btvep::bittensor::protocol::MinerProtocol;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A raw HTTP "miner" that reads the request and then writes `script` (bytes, then a pause) and closes.
async fn raw_miner(script: Vec<(Vec<u8>, Duration)>) -> Neuron {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let script = script.clone();
            tokio::spawn(async move {
                // Read the head and the declared body.
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    let n = sock.read(&mut tmp).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                for (bytes, pause) in script {
                    if sock.write_all(&bytes).await.is_err() {
                        return;
                    }
                    let _ = sock.flush().await;
                    tokio::time::sleep(pause).await;
                }
            });
        }
    });
    let (hk, _) = Hotkey::generate().unwrap();
    Neuron::new(0, hk.ss58(), "127.0.0.1", addr.port())
}

fn head(ctype: &str, extra: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\nconnection: close\r\n{extra}\r\n")
        .into_bytes()
}

fn sse(data: &str) -> Vec<u8> {
    format!("data: {data}\n\n").into_bytes()
}

const CHUNK: &str = r#"{"choices":[{"index":0,"delta":{"content":"hi"}}]}"#;

#[tokio::test(flavor = "multi_thread")]
async fn hostile_miners_are_clean_failed_attempts() {
    let (hk, _) = Hotkey::generate().unwrap();
    let d = Dendrite::with_protocol(
        hk,
        MinerProtocol::Btauth,
        "/v1/chat/completions",
        "bittensor",
    )
    .unwrap();
    let http = d.http().unwrap().clone();
    let roles = vec!["user".to_string()];
    let msgs = vec!["hi".to_string()];
    let none = Sampling::default();
    let t = Duration::from_secs(2);
    let ms = Duration::from_millis;

    // Plain answers.
    let html = raw_miner(vec![(
        [head("text/html", ""), b"<html>".to_vec()].concat(),
        ms(0),
    )])
    .await;
    let r = d.query_one(&html, &roles, &msgs, t).await;
    assert_eq!((r.status_code, r.is_success), (422, false), "{r:?}");
    let bad_json = raw_miner(vec![(
        [head("application/json", ""), b"{oops".to_vec()].concat(),
        ms(0),
    )])
    .await;
    let r = d.query_one(&bad_json, &roles, &msgs, t).await;
    assert_eq!(r.status_code, 422, "{r:?}");
    let huge = raw_miner(vec![(
        [
            head("application/json", ""),
            vec![b' '; http.max_response_bytes() + 10],
        ]
        .concat(),
        ms(0),
    )])
    .await;
    let r = d.query_one(&huge, &roles, &msgs, t).await;
    assert_eq!(r.status_code, 422, "{r:?}");
    assert!(r.status_message.contains("too large"), "{r:?}");
    let boom = raw_miner(vec![(
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"error\":{\"message\":\"boom\\u0007\"}}".to_vec(),
        ms(0),
    )])
    .await;
    let r = d.query_one(&boom, &roles, &msgs, t).await;
    assert_eq!(
        (r.status_code, r.status_message.as_str()),
        (500, "boom"),
        "{r:?}"
    );
    // A trickle (a byte every 100 ms, never done) is cut at the timeout.
    let mut trickle = vec![(head("application/json", ""), ms(100))];
    trickle.extend((0..100).map(|_| (b" ".to_vec(), ms(100))));
    let trickle = raw_miner(trickle).await;
    let r = d
        .query_one(&trickle, &roles, &msgs, Duration::from_millis(800))
        .await;
    assert_eq!(r.status_code, 408, "{r:?}");

    // Streams.
    let opts = |timeout| QueryOptions {
        timeout,
        in_parallel: 8,
        respond_on_first_success: true,
    };
    let keepalive_only = {
        let mut s = vec![(head("text/event-stream", ""), ms(50))];
        s.extend((0..100).map(|_| (b": keepalive\n\n".to_vec(), ms(50))));
        raw_miner(s).await
    };
    let not_json = raw_miner(vec![(
        [head("text/event-stream", ""), sse("{not json")].concat(),
        ms(0),
    )])
    .await;
    let (live, failures) = http
        .stream_first(
            &[keepalive_only.clone(), not_json.clone(), html.clone()],
            &roles,
            &msgs,
            &none,
            opts(Duration::from_millis(800)),
        )
        .await;
    assert!(live.is_none());
    let mut codes: Vec<u16> = failures.iter().map(|f| f.status_code).collect();
    codes.sort_unstable();
    assert_eq!(codes, [408, 422, 422], "{failures:?}");

    // The first miner to start wins even next to a slow one; a mid-stream drop is a Failed event.
    let slow = raw_miner(vec![
        (head("text/event-stream", ""), ms(1500)),
        (sse(CHUNK), ms(0)),
    ])
    .await;
    let drops = raw_miner(vec![(
        [
            head("text/event-stream", ""),
            sse(CHUNK),
            b"data: {\"choi".to_vec(),
        ]
        .concat(),
        ms(0),
    )])
    .await;
    let (live, failures) = http
        .stream_first(&[slow, drops], &roles, &msgs, &none, opts(t))
        .await;
    assert!(failures.is_empty(), "{failures:?}");
    let mut live = live.expect("the fast miner starts");
    assert_eq!(live.text, "hi");
    assert!(matches!(live.next_event().await, StreamEvent::Chunk(_)));
    assert!(
        matches!(live.next_event().await, StreamEvent::Failed(_)),
        "a truncated stream is a failure"
    );
}
