//! A streaming OpenAI-compatible model stub for benchmarks: `POST /v1/chat/completions` answers after
//! `FIRST_MS` (default 200, the "prefill"), then streams `CHUNKS` (default 20) content chunks `DELAY_MS` (default
//! 50) apart; a plain request gets the whole text after `FIRST_MS`.
//!
//! Run: `cargo run --release --example stream_model` — prints `listening on ADDR`.

use std::time::Duration;

use serde_json::{json, Value};
use warp::Filter;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let first = Duration::from_millis(env_u64("FIRST_MS", 200));
    let delay = Duration::from_millis(env_u64("DELAY_MS", 50));
    let chunks = env_u64("CHUNKS", 20);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let route = warp::path!("v1" / "chat" / "completions")
        .and(warp::body::json::<Value>())
        .then(move |body: Value| async move {
            tokio::time::sleep(first).await;
            if body["stream"] == true {
                let events = futures_util::stream::unfold(0u64, move |i| async move {
                    if i > chunks {
                        return None;
                    }
                    if i > 0 {
                        tokio::time::sleep(delay).await;
                    }
                    let data = if i == chunks {
                        "[DONE]".to_string()
                    } else {
                        json!({"id": "stub", "object": "chat.completion.chunk", "created": 0, "model": "stub",
                               "choices": [{"index": 0, "delta": {"content": format!("tok{i} ")}, "finish_reason": null}]})
                        .to_string()
                    };
                    Some((
                        Ok::<_, std::convert::Infallible>(warp::sse::Event::default().data(data)),
                        i + 1,
                    ))
                });
                warp::reply::Reply::into_response(warp::sse::reply(events))
            } else {
                let text: String = (0..chunks).map(|i| format!("tok{i} ")).collect();
                warp::reply::Reply::into_response(warp::reply::json(&json!({
                    "id": "stub", "object": "chat.completion", "created": 0, "model": "stub",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
                })))
            }
        });
    println!("listening on {addr}");
    tokio::select! {
        () = warp::serve(route).incoming(listener).run() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
