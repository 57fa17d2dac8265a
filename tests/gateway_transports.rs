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
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "plain answer"}, "finish_reason": "stop"}]
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
