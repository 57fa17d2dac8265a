//! The OpenAI-compatible endpoint: exact response, chunk and error JSON from the real server.

mod common;

use std::time::Duration;

use btvep::bittensor::keys::Hotkey;
use common::fake_axon::{self, Behavior};
use common::gateway::{Gateway, Home};
use serde_json::{json, Value};

async fn one_miner(home: &Home, answer: &str) -> String {
    let hk = Hotkey::generate().unwrap().0.ss58().to_string();
    let a = fake_axon::spawn(Behavior::Verify(answer.into()), &hk).await;
    home.metagraph(&[(0, hk.clone(), a, 1.0)]);
    hk
}

fn completion(model: &str, stream: bool) -> Value {
    json!({
        "model": model, "stream": stream, "temperature": 0.2, "max_tokens": 50, "n": 1, "user": "u1",
        "some_future_field": {"x": 1},
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"}]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_completion_has_openai_shape() {
    let home = Home::new(json!({}));
    let hk = one_miner(&home, "Paris is the capital.").await;
    let key = home.create_key(&["-c", "5"]);
    let gw = Gateway::start(&home);
    gw.ready().await;

    let (status, headers, mut v) = gw
        .post(
            "/v1/chat/completions",
            Some(&key),
            &completion("bittensor", false),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(headers["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let id = v["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("chatcmpl-"));
    assert!(v["created"].as_i64().unwrap() > 1_700_000_000);
    assert!(v["choices"][0]["response_ms"].is_u64());
    v["id"] = json!("X");
    v["created"] = json!(0);
    v["choices"][0]["response_ms"] = json!(0);
    assert_eq!(
        v,
        json!({
            "id": "X", "object": "chat.completion", "created": 0, "model": "bittensor", "system_fingerprint": null,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris is the capital.", "refusal": null},
                         "finish_reason": "stop", "logprobs": null, "uid": 0, "responder_hotkey": hk, "response_ms": 0}],
            // prompt: ceil(9/4)+4 + ceil(30/4)+4 + 3 = 3+4+8+4+3 = 22; completion: ceil(21/4) = 6
            "usage": {"prompt_tokens": 22, "completion_tokens": 6, "total_tokens": 28},
            "failed_responses": []
        })
    );
    // the strategy can come from `model`; content parts and `developer` are accepted
    let body = json!({"model": "uids:0", "messages": [{"role": "developer", "content": "x"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}]});
    let (status, _, v) = gw.post("/v1/chat/completions", Some(&key), &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["model"], "uids:0");
    assert_eq!(home.cli_json(&["key", "show", "1", "--json"])["credits"], 3);
}

fn parse_sse(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            e.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.trim_start())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_completion_chunks() {
    let home = Home::new(json!({}));
    let hk = one_miner(&home, "The capital of France is Paris.").await;
    let key = home.create_key(&["-c", "5"]);
    let gw = Gateway::start(&home);
    gw.ready().await;

    let mut body = completion("bittensor", true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert!(resp.headers().contains_key("x-request-id"));
    let events = parse_sse(&resp.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    for c in &chunks {
        assert_eq!(c["id"], id);
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["created"], chunks[0]["created"]);
        assert_eq!(c["model"], "bittensor");
    }
    assert_eq!(
        chunks[0]["choices"],
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null, "logprobs": null, "uid": 0, "responder_hotkey": hk}])
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "The capital of France is Paris.");
    assert!(chunks.len() > 4, "content arrives in several deltas");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 22, "completion_tokens": 8, "total_tokens": 30})
    );
    assert_eq!(
        home.cli_json(&["key", "show", "1", "--json"])["credits"],
        4,
        "a delivered stream costs one credit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_have_openai_shape() {
    let home = Home::new(json!({}));
    let hk = Hotkey::generate().unwrap().0.ss58().to_string();
    let slow = fake_axon::spawn(Behavior::Sleep(Duration::from_secs(5)), &hk).await;
    home.metagraph(&[(0, hk, slow, 1.0)]);
    let key = home.create_key(&["-c", "1"]);
    let broke = home.create_key(&["-c", "0"]);
    let gw = Gateway::start(&home);
    gw.ready().await;

    let err = |msg: &str, kind: &str, code: Value| json!({"error": {"message": msg, "type": kind, "param": null, "code": code}});
    let body = completion("bittensor", false);
    let (s, _, v) = gw.post("/v1/chat/completions", None, &body).await;
    assert_eq!(
        (s, v),
        (
            401,
            err(
                "API key is missing: send it as 'Authorization: Bearer <key>'",
                "invalid_request_error",
                json!("invalid_api_key")
            )
        )
    );
    let (s, _, v) = gw
        .post("/v1/chat/completions", Some("sk-wrong"), &body)
        .await;
    assert_eq!(
        (s, v),
        (
            401,
            err(
                "Invalid API key",
                "invalid_request_error",
                json!("invalid_api_key")
            )
        )
    );
    let (s, _, v) = gw.post("/v1/chat/completions", Some(&broke), &body).await;
    assert_eq!(
        (s, v),
        (
            429,
            err(
                "Not enough credits",
                "insufficient_quota",
                json!("insufficient_quota")
            )
        )
    );
    let (s, _, v) = gw
        .post(
            "/v1/chat/completions",
            Some(&key),
            &completion("gpt-4", false),
        )
        .await;
    assert_eq!(
        (s, v),
        (404, err("The model 'gpt-4' does not exist: use 'bittensor' (the default strategy), 'best:N', 'top_n:N' or 'uids:A,B'", "invalid_request_error", json!("model_not_found")))
    );
    let (s, _, v) = gw
        .post(
            "/v1/chat/completions",
            Some(&key),
            &json!({"model": "bittensor", "messages": [{"role": "tool", "content": "x"}]}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let (s, _, v) = gw
        .post(
            "/v1/chat/completions",
            Some(&key),
            &json!({"model": "bittensor", "messages": []}),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            422,
            err(
                "messages must contain at least one message",
                "invalid_request_error",
                Value::Null
            )
        )
    );

    // all miners failed: 502, nothing charged, and the same for a stream (headers not yet sent)
    let mut body = completion("bittensor", false);
    body["timeout"] = json!(0.2);
    let (s, _, v) = gw.post("/v1/chat/completions", Some(&key), &body).await;
    assert_eq!(s, 502);
    assert_eq!(v["error"]["code"], "all_miners_failed");
    assert_eq!(v["failed_responses"][0]["status_code"], 408);
    body["stream"] = json!(true);
    let (s, _, v) = gw.post("/v1/chat/completions", Some(&key), &body).await;
    assert_eq!(s, 502, "{v}");
    assert_eq!(home.cli_json(&["key", "show", "1", "--json"])["credits"], 1);

    // rate limits: headers on success, 429 with Retry-After and rate_limit_exceeded
    assert!(home
        .cli(&["ratelimit", "add", "1", "60", "-k", "1"])
        .status
        .success());
    assert!(home.cli(&["ratelimit", "enable"]).status.success());
    let (s, h, _) = gw.post("/v1/chat/completions", Some(&key), &body).await;
    assert_eq!(s, 502);
    assert_eq!(h["x-ratelimit-limit-requests"], "1");
    assert_eq!(h["x-ratelimit-remaining-requests"], "0");
    let (s, h, v) = gw.post("/v1/chat/completions", Some(&key), &body).await;
    assert_eq!(s, 429);
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(v["error"]["type"], "requests");
    assert!(h.contains_key("retry-after") && h.contains_key("x-request-id"));
    assert_eq!(h["x-ratelimit-remaining-requests"], "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn models_are_listed() {
    let home = Home::new(json!({}));
    one_miner(&home, "ok").await;
    let key = home.create_key(&[]);
    let gw = Gateway::start(&home);
    gw.ready().await;
    let v: Value = gw
        .http
        .get(gw.url("/v1/models"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v,
        json!({"object": "list", "data": [
            {"id": "bittensor", "object": "model", "created": 0, "owned_by": "bittensor"},
            {"id": "best:1", "object": "model", "created": 0, "owned_by": "bittensor"},
            {"id": "top_n:1", "object": "model", "created": 0, "owned_by": "bittensor"},
            {"id": "uids:0", "object": "model", "created": 0, "owned_by": "bittensor"},
        ]})
    );
    let r = gw
        .http
        .get(gw.url("/v1/models/top_n%3A5"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], "top_n:5");
    let r = gw
        .http
        .get(gw.url("/v1/models/gpt-4"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = gw.http.get(gw.url("/v1/models")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_leaves_before_the_answer_is_not_charged() {
    let home = Home::new(json!({}));
    let hk = Hotkey::generate().unwrap().0.ss58().to_string();
    let slow = fake_axon::spawn(Behavior::Sleep(Duration::from_millis(1500)), &hk).await;
    home.metagraph(&[(0, hk, slow, 1.0)]);
    let key = home.create_key(&["-c", "1"]);
    let gw = Gateway::start(&home);
    gw.ready().await;
    for stream in [true, false] {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let r = client
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&completion("bittensor", stream))
            .send()
            .await;
        assert!(r.is_err(), "the client gave up");
        // the reservation is refunded once the server notices (bounded wait)
        let mut credits = 0;
        for _ in 0..100 {
            credits = home.cli_json(&["key", "show", "1", "--json"])["credits"]
                .as_i64()
                .unwrap();
            if credits == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            credits, 1,
            "stream={stream}: nothing delivered, nothing charged"
        );
    }
}
