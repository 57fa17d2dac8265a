//! `btvep miner --protocol btauth|epistula` end to end on 127.0.0.1: the real binary, requests signed with btvep's
//! own btauth/Epistula signers, and a local OpenAI-compatible stub backend that streams on command.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use btvep::bittensor::keys::Hotkey;
use btvep::bittensor::metagraph::Metagraph;
use btvep::bittensor::{btauth, epistula};
use serde_json::{json, Value};
use tokio::sync::Notify;
use warp::Filter;

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(90), f)
        .await
        .expect("test took longer than 90 s")
}

/// The stub backend: records bodies; a streamed answer sends `first` at once and the rest after `release`.
struct Stub {
    calls: Mutex<Vec<Value>>,
    release: Notify,
}

async fn spawn_stub() -> (SocketAddr, Arc<Stub>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stub = Arc::new(Stub {
        calls: Mutex::new(Vec::new()),
        release: Notify::new(),
    });
    let s = Arc::clone(&stub);
    let route = warp::post()
        .and(warp::path!("v1" / "chat" / "completions"))
        .and(warp::body::json::<Value>())
        .then(move |body: Value| {
            let s = Arc::clone(&s);
            async move {
                s.calls.lock().unwrap().push(body.clone());
                let chunk = |c: &str| {
                    json!({"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "stub",
                        "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": null}]})
                    .to_string()
                };
                if body["stream"] == true {
                    let s2 = Arc::clone(&s);
                    let events = futures_util::stream::unfold(0u8, move |i| {
                        let s2 = Arc::clone(&s2);
                        async move {
                            let data = match i {
                                0 => chunk("first"),
                                1 => {
                                    s2.release.notified().await;
                                    chunk(" second")
                                }
                                2 => "[DONE]".to_string(),
                                _ => return None,
                            };
                            Some((
                                Ok::<_, std::convert::Infallible>(
                                    warp::sse::Event::default().data(data),
                                ),
                                i + 1,
                            ))
                        }
                    });
                    warp::reply::Reply::into_response(warp::sse::reply(events))
                } else {
                    let v = json!({"id": "x", "object": "chat.completion", "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": "stub answer"}, "finish_reason": "stop"}]});
                    warp::reply::Reply::into_response(warp::reply::json(&v))
                }
            }
        });
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (addr, stub)
}

/// The miner process, killed and reaped when the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `btvep miner --protocol {protocol}` on port 0 with `validator` registered; returns its address.
async fn start_miner(
    dir: &std::path::Path,
    protocol: &str,
    miner_phrase: &str,
    metagraph: &Metagraph,
    stub: SocketAddr,
) -> (SocketAddr, KillOnDrop) {
    let mg = dir.join("metagraph.json");
    std::fs::write(&mg, metagraph.to_file_json()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_btvep"))
        .args(["--config", dir.join("config.json").to_str().unwrap()])
        .args(["--data-dir", dir.join("data").to_str().unwrap()])
        .args(["miner", "--protocol", protocol])
        .args(["--axon.ip", "127.0.0.1", "--axon.port", "0"])
        .args(["--openai.base_url", &format!("http://{stub}/v1")])
        .args(["--openai.max_tokens", "33"])
        .arg("--metagraph-file")
        .arg(&mg)
        .env("MINER_HOTKEY_MNEMONIC", miner_phrase)
        .env_remove("OPENAI_API_KEY")
        .env("RUST_LOG", "btvep=warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn btvep miner");
    let stderr = child.stderr.take().unwrap();
    let guard = KillOnDrop(child);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let addr = loop {
        let line = rx.recv().await.expect("miner exited before listening");
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.trim().parse().unwrap();
        }
    };
    // Keep draining stderr.
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    (addr, guard)
}

fn metagraph(miner: &Hotkey, validator: &Hotkey) -> Metagraph {
    let v = json!({"netuid": 1, "neurons": [
        {"uid": 0, "hotkey": miner.ss58(), "ip": "127.0.0.1", "port": 1},
        {"uid": 1, "hotkey": validator.ss58(), "ip": "0.0.0.0", "port": 0, "stake": 5.0, "validator_permit": true},
    ]});
    Metagraph::from_json_str(&v.to_string()).unwrap()
}

/// Sign `body` for `receiver` under `protocol`, at `offset_ms` from now.
fn sign(
    protocol: &str,
    caller: &Hotkey,
    receiver: &str,
    body: &[u8],
    offset_ms: i64,
) -> Vec<(&'static str, String)> {
    match protocol {
        "btauth" => btauth::sign(
            caller,
            "POST",
            "/v1/chat/completions",
            body,
            receiver,
            btauth::now_ns() + i128::from(offset_ms) * 1_000_000,
        ),
        _ => epistula::sign(
            caller,
            body,
            receiver,
            (epistula::now_ms() + offset_ms) as u64,
            &uuid::Uuid::new_v4().to_string(),
        ),
    }
}

async fn post(
    addr: SocketAddr,
    headers: &[(&'static str, String)],
    body: &[u8],
) -> reqwest::Response {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut r = client
        .post(format!("http://{addr}/v1/chat/completions"))
        .timeout(Duration::from_secs(30))
        .header("content-type", "application/json")
        // The reference Epistula client copies body fields into headers: unknown headers are ignored.
        .header("task", "InferenceTask")
        .header("seed", "42")
        .body(body.to_vec());
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.send().await.expect("send")
}

async fn refusal(resp: reqwest::Response, headers: &[(&'static str, String)]) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    for (_, v) in headers {
        if v.starts_with("0x") && v.len() == 130 {
            assert!(
                !text.contains(&v[2..]),
                "a refusal echoed a signature: {text}"
            );
        }
    }
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert!(
        v["error"]["type"].is_string() && v["error"]["message"].is_string(),
        "{v}"
    );
    (status, v)
}

async fn exercise(protocol: &str) {
    let (stub_addr, stub) = spawn_stub().await;
    let dir = tempfile::tempdir().unwrap();
    let (miner, phrase) = Hotkey::generate().unwrap();
    let validator = Hotkey::generate().unwrap().0;
    let outsider = Hotkey::generate().unwrap().0;
    let (addr, _guard) = start_miner(
        dir.path(),
        protocol,
        &phrase,
        &metagraph(&miner, &validator),
        stub_addr,
    )
    .await;
    let me = miner.ss58();

    // Plain: the request's sampling fields override the defaults, the miner's max_tokens is the default.
    let body = json!({"model": "bittensor", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.9, "seed": 3})
        .to_string();
    let h = sign(protocol, &validator, me, body.as_bytes(), 0);
    let resp = post(addr, &h, body.as_bytes()).await;
    assert_eq!(resp.status(), 200, "{protocol} plain");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "stub answer");
    let call = stub.calls.lock().unwrap().last().cloned().unwrap();
    assert_eq!(call["temperature"], 0.9);
    assert_eq!(call["seed"], 3);
    assert_eq!(call["max_tokens"], 33);
    assert_eq!(call["model"], "gpt-3.5-turbo");

    // Replay of the very same request: 401.
    let (status, _) = refusal(post(addr, &h, body.as_bytes()).await, &h).await;
    assert_eq!(status, 401, "{protocol} replay");

    // Streamed: the first chunk reaches us while the backend still holds the rest.
    let sbody = json!({"model": "bittensor", "messages": [{"role": "user", "content": "hi"}], "stream": true})
        .to_string();
    let h = sign(protocol, &validator, me, sbody.as_bytes(), 0);
    let resp = post(addr, &h, sbody.as_bytes()).await;
    assert_eq!(resp.status(), 200, "{protocol} stream");
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut resp = resp;
    let mut seen = String::new();
    while !seen.contains("first") {
        let c = resp.chunk().await.unwrap().expect("stream ended early");
        seen.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(
        !seen.contains("second"),
        "relayed before the backend sent it?"
    );
    stub.release.notify_one();
    while let Some(c) = resp.chunk().await.unwrap() {
        seen.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(
        seen.contains(" second") && seen.contains("[DONE]"),
        "{seen}"
    );

    // Stale, wrong receiver, tampered body, missing headers, outsider.
    let h = sign(protocol, &validator, me, body.as_bytes(), -30_000);
    let (status, _) = refusal(post(addr, &h, body.as_bytes()).await, &h).await;
    assert_eq!(status, 401, "{protocol} stale");
    let h = sign(protocol, &validator, outsider.ss58(), body.as_bytes(), 0);
    let (status, _) = refusal(post(addr, &h, body.as_bytes()).await, &h).await;
    assert_eq!(status, 403, "{protocol} wrong receiver");
    let h = sign(protocol, &validator, me, body.as_bytes(), 0);
    let tampered = body.replace("hi", "ho");
    let (status, v) = refusal(post(addr, &h, tampered.as_bytes()).await, &h).await;
    assert_eq!(status, 401, "{protocol} tampered: {v}");
    let (status, _) = refusal(post(addr, &[], body.as_bytes()).await, &[]).await;
    assert_eq!(status, 400, "{protocol} no headers");
    let h = sign(protocol, &outsider, me, body.as_bytes(), 0);
    let (status, v) = refusal(post(addr, &h, body.as_bytes()).await, &h).await;
    assert_eq!(status, 403, "{protocol} unregistered caller: {v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("blacklisted"));
    // Not JSON after a valid signature: 400.
    let h = sign(protocol, &validator, me, b"not json", 0);
    let (status, _) = refusal(post(addr, &h, b"not json").await, &h).await;
    assert_eq!(status, 400, "{protocol} bad body");
    // Oversized declared body: refused before reading.
    let big = vec![b' '; 5 * 1024 * 1024];
    let h = sign(protocol, &validator, me, &big, 0);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut r = client
        .post(format!("http://{addr}/v1/chat/completions"))
        .body(big);
    for (k, v) in &h {
        r = r.header(*k, v);
    }
    // The miner answers 413 from Content-Length and closes; the client may see that or a broken pipe.
    if let Ok(resp) = r.send().await {
        assert_eq!(resp.status(), 413, "{protocol} oversized");
    }
    // Still serving afterwards.
    let h = sign(protocol, &validator, me, body.as_bytes(), 0);
    assert_eq!(post(addr, &h, body.as_bytes()).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn btauth_miner_serves_and_refuses() {
    bounded(exercise("btauth")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epistula_miner_serves_and_refuses() {
    bounded(exercise("epistula")).await;
}
