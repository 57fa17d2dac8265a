//! `btvep miner` end to end on 127.0.0.1: btvep's own dendrite (and raw signed requests) → the miner → a local
//! OpenAI-compatible stub model server. Every test is bounded in time; nothing sleeps "to let it start".

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use btvep::bittensor::dendrite::{Dendrite, MinerResponse};
use btvep::bittensor::keys::Hotkey;
use btvep::bittensor::metagraph::{Metagraph, Neuron};
use btvep::bittensor::synapse::{self, PromptingRequest};
use btvep::miner::{
    BlacklistSettings, MetagraphCell, Miner, MinerSettings, ModelBackend, OpenAiSettings,
    BUILTIN_LABEL,
};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Notify};
use warp::Filter;

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test took longer than 60 s")
}

// ------------------------------------------------------------------ stub model server

/// A recorded chat-completions call: the JSON body and the Authorization header.
#[derive(Debug, Clone)]
struct Call {
    body: Value,
    auth: Option<String>,
}

/// An OpenAI-compatible stub; the last message selects the behaviour:
/// `fail500`, `empty`, `garbage`, `sleep` (30 s), `block…` (waits for `release`), otherwise `stub says: {last}`.
struct Stub {
    calls: Mutex<Vec<Call>>,
    release: Notify,
}

impl Stub {
    fn last_messages(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| {
                c.body["messages"]
                    .as_array()
                    .and_then(|m| m.last())
                    .and_then(|m| m["content"].as_str())
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }
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
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::json::<Value>())
        .then(move |auth: Option<String>, body: Value| {
            let s = Arc::clone(&s);
            async move {
                let last = body["messages"]
                    .as_array()
                    .and_then(|m| m.last())
                    .and_then(|m| m["content"].as_str())
                    .unwrap_or("")
                    .to_string();
                s.calls.lock().unwrap().push(Call { body, auth });
                let ok = |content: &str| {
                    let v = json!({"id": "x", "object": "chat.completion", "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]});
                    warp::http::Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .body(v.to_string())
                        .unwrap()
                };
                match last.as_str() {
                    "fail500" => warp::http::Response::builder()
                        .status(500)
                        .header("content-type", "application/json")
                        .body(r#"{"error":{"message":"the stub exploded"}}"#.to_string())
                        .unwrap(),
                    "empty" => ok(""),
                    "garbage" => warp::http::Response::builder()
                        .status(200)
                        .body("<html>not json".to_string())
                        .unwrap(),
                    "sleep" => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        ok("too late")
                    }
                    m if m.starts_with("block") => {
                        s.release.notified().await;
                        ok("released")
                    }
                    m => ok(&format!("stub says: {m}")),
                }
            }
        });
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (addr, stub)
}

// ------------------------------------------------------------------ miner and callers

fn key() -> Hotkey {
    Hotkey::generate().expect("generate").0
}

/// A registered caller: (hotkey, stake, validator_permit).
fn metagraph(miner: &Hotkey, callers: &[(&Hotkey, f64, bool)]) -> Metagraph {
    let mut neurons = vec![json!({"uid": 0, "hotkey": miner.ss58(), "ip": "127.0.0.1", "port": 1})];
    for (i, (h, stake, permit)) in callers.iter().enumerate() {
        neurons.push(
            json!({"uid": i + 1, "hotkey": h.ss58(), "ip": "0.0.0.0", "port": 0,
                            "stake": stake, "validator_permit": permit}),
        );
    }
    Metagraph::from_json_str(&json!({"netuid": 1, "neurons": neurons}).to_string())
        .expect("metagraph")
}

fn openai(stub: SocketAddr) -> OpenAiSettings {
    OpenAiSettings {
        base_url: format!("http://{stub}/v1"),
        ..OpenAiSettings::default()
    }
}

struct Running {
    addr: SocketAddr,
    miner: Miner,
    hotkey: Hotkey,
    _stop: oneshot::Sender<()>,
}

impl Running {
    fn neuron(&self) -> Neuron {
        Neuron::new(0, self.hotkey.ss58(), "127.0.0.1", self.addr.port())
    }

    async fn ask(&self, caller: &Hotkey, message: &str, timeout: Duration) -> MinerResponse {
        let d = Dendrite::new(caller.clone()).expect("dendrite");
        let roles = vec!["system".to_string(), "user".to_string()];
        let messages = vec!["Be brief.".to_string(), message.to_string()];
        d.query_one(&self.neuron(), &roles, &messages, timeout)
            .await
    }
}

async fn start(settings: MinerSettings, hotkey: Hotkey, metagraph: Option<Metagraph>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cell = Arc::new(match metagraph {
        Some(m) => MetagraphCell::new(m),
        None => MetagraphCell::empty(),
    });
    let miner = Miner::new(settings, hotkey.clone(), cell).expect("miner");
    let (tx, rx) = oneshot::channel::<()>();
    let m = miner.clone();
    tokio::spawn(async move {
        m.serve(listener, async {
            let _ = rx.await;
        })
        .await
    });
    Running {
        addr,
        miner,
        hotkey,
        _stop: tx,
    }
}

/// One signed request, sent raw (so it can be replayed byte for byte).
fn signed(
    caller: &Hotkey,
    miner: &Running,
    timeout_secs: f64,
    message: &str,
) -> synapse::SynapseRequest {
    let roles = vec!["user".to_string()];
    let messages = vec![message.to_string()];
    let hash = synapse::body_hash_for(&messages);
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    PromptingRequest {
        roles: &roles,
        messages: &messages,
        body_hash: &hash,
        timeout_secs,
        dendrite_ip: "127.0.0.1",
        uuid: "11111111-2222-3333-4444-555555555555",
        nonce,
        axon_ip: "127.0.0.1",
        axon_port: miner.addr.port(),
        axon_hotkey: miner.hotkey.ss58(),
    }
    .build(caller)
}

async fn send(
    miner: &Running,
    req: &synapse::SynapseRequest,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut r = client
        .post(format!("http://{}{}", miner.addr, req.path))
        .timeout(Duration::from_secs(30))
        .body(req.body.clone());
    for (k, v) in &req.headers {
        r = r.header(k, v);
    }
    let resp = r.send().await.expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body: Value = resp.json().await.expect("json body");
    (status, headers, body)
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_maps_messages_and_parameters() {
    bounded(async {
        let (stub_addr, stub) = spawn_stub().await;
        let validator = key();
        let mk = key();
        let settings = MinerSettings {
            backend: ModelBackend::OpenAi(OpenAiSettings {
                api_key: Some("sk-test-key".into()),
                model_name: "stub-model".into(),
                max_tokens: 7,
                temperature: 0.3,
                top_p: 0.9,
                n: 2,
                presence_penalty: 0.5,
                frequency_penalty: -0.25,
                suffix: Some(" [end]".into()),
                ..openai(stub_addr)
            }),
            ..MinerSettings::default()
        };
        let m = metagraph(&mk, &[(&validator, 10.0, true)]);
        let miner = start(settings, mk, Some(m)).await;
        let r = miner
            .ask(
                &validator,
                "Say \"hi\" — it's a test ✓",
                Duration::from_secs(12),
            )
            .await;
        assert!(r.is_success, "{r:?}");
        assert_eq!(r.status_code, 200);
        assert_eq!(r.completion, "stub says: Say \"hi\" — it's a test ✓ [end]");

        let calls = stub.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 1);
        let b = &calls[0].body;
        assert_eq!(
            b["messages"],
            json!([{"role": "system", "content": "Be brief."},
                   {"role": "user", "content": "Say \"hi\" — it's a test ✓"}])
        );
        assert_eq!(b["model"], "stub-model");
        assert_eq!(b["max_tokens"], 7);
        assert_eq!(b["temperature"], 0.3);
        assert_eq!(b["top_p"], 0.9);
        assert_eq!(b["n"], 2);
        assert_eq!(b["presence_penalty"], 0.5);
        assert_eq!(b["frequency_penalty"], -0.25);
        assert_eq!(calls[0].auth.as_deref(), Some("Bearer sk-test-key"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_shape_and_replay_rejected() {
    bounded(async {
        let (stub_addr, _stub) = spawn_stub().await;
        let validator = key();
        let mk = key();
        let settings = MinerSettings {
            backend: ModelBackend::OpenAi(openai(stub_addr)),
            ..MinerSettings::default()
        };
        let miner = start(
            settings,
            mk.clone(),
            Some(metagraph(&mk, &[(&validator, 1.0, false)])),
        )
        .await;
        let req = signed(&validator, &miner, 12.0, "hello");
        let (status, headers, body) = send(&miner, &req).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["bt_header_axon_status_code"], "200");
        assert_eq!(headers["bt_header_axon_status_message"], "Success");
        assert!(headers.contains_key("bt_header_axon_process_time"));
        assert_eq!(body["completion"], "stub says: hello");
        assert_eq!(body["roles"], json!(["user"]));
        assert_eq!(body["messages"], json!(["hello"]));
        assert_eq!(body["axon"]["status_code"], 200);

        // The exact same signed request again: the nonce was used.
        let (status, headers, body) = send(&miner, &req).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(headers["bt_header_axon_status_code"], "401");
        assert_eq!(headers["content-type"], "application/json");
        let msg = body["message"].as_str().unwrap();
        assert!(
            msg.starts_with("Not Verified with error: Nonce is too old"),
            "{msg}"
        );

        // Unknown synapse: 404 in the 10.x shape.
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = client
            .post(format!("http://{}/Foo", miner.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
        let v: Value = r.json().await.unwrap();
        assert!(v["message"].as_str().unwrap().contains("'Foo' not found"));
        // Tampered body (hash mismatch) after a valid signature: 500.
        let mut bad = signed(&validator, &miner, 12.0, "hello");
        bad.body = String::from_utf8(bad.body)
            .unwrap()
            .replace("hello", "HELLO")
            .into_bytes();
        let (status, _, body) = send(&miner, &bad).await;
        assert_eq!(status, 500, "{body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blacklist_rules() {
    bounded(async {
        let mk = key();
        let (registered, poor, no_permit, outsider, banned, friend) =
            (key(), key(), key(), key(), key(), key());
        let m = metagraph(
            &mk,
            &[
                (&registered, 10.0, true),
                (&poor, 0.5, true),
                (&no_permit, 10.0, false),
                (&banned, 99.0, true),
            ],
        );
        let t = Duration::from_secs(12);

        // Defaults: registered only.
        let settings = MinerSettings {
            backend: ModelBackend::Builtin,
            blacklist: BlacklistSettings {
                whitelist: vec![friend.ss58().to_string()],
                blacklist: vec![banned.ss58().to_string()],
                ..BlacklistSettings::default()
            },
            ..MinerSettings::default()
        };
        let miner = start(settings.clone(), mk.clone(), Some(m.clone())).await;
        assert!(miner.ask(&registered, "x", t).await.is_success);
        let r = miner.ask(&outsider, "x", t).await;
        assert_eq!(r.status_code, 403, "{r:?}");
        assert_eq!(
            r.status_message,
            format!(
                "Forbidden. Key is blacklisted: Unrecognized hotkey {}.",
                outsider.ss58()
            )
        );
        let r = miner.ask(&banned, "x", t).await;
        assert_eq!(r.status_code, 403, "{r:?}");
        assert!(r.status_message.contains("Blacklisted hotkey"), "{r:?}");
        let r = miner.ask(&friend, "x", t).await;
        assert!(r.is_success, "whitelisted but unregistered: {r:?}");

        // Permit and stake.
        let strict = MinerSettings {
            blacklist: BlacklistSettings {
                force_validator_permit: true,
                minimum_stake_requirement: 1.0,
                ..BlacklistSettings::default()
            },
            ..settings.clone()
        };
        let miner = start(strict, mk.clone(), Some(m.clone())).await;
        assert!(miner.ask(&registered, "x", t).await.is_success);
        let r = miner.ask(&no_permit, "x", t).await;
        assert_eq!(r.status_code, 403);
        assert!(r.status_message.contains("Non-validator hotkey"), "{r:?}");
        let r = miner.ask(&poor, "x", t).await;
        assert_eq!(r.status_code, 403);
        assert!(
            r.status_message.contains("below the minimum 1 TAO"),
            "{r:?}"
        );

        // No metagraph yet: refused with a clear message; allow_non_registered lets anyone in.
        let miner = start(settings.clone(), mk.clone(), None).await;
        let r = miner.ask(&registered, "x", t).await;
        assert_eq!(r.status_code, 403);
        assert!(r.status_message.contains("no metagraph yet"), "{r:?}");
        let open = MinerSettings {
            blacklist: BlacklistSettings {
                allow_non_registered: true,
                ..BlacklistSettings::default()
            },
            ..settings
        };
        let miner = start(open, mk, None).await;
        assert!(miner.ask(&outsider, "x", t).await.is_success);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_failures_become_axon_errors() {
    bounded(async {
        let (stub_addr, _stub) = spawn_stub().await;
        let validator = key();
        let mk = key();
        let m = metagraph(&mk, &[(&validator, 1.0, true)]);
        let settings = MinerSettings {
            backend: ModelBackend::OpenAi(openai(stub_addr)),
            ..MinerSettings::default()
        };
        let miner = start(settings, mk.clone(), Some(m.clone())).await;
        let t = Duration::from_secs(12);
        for (msg, want) in [
            ("fail500", "model server error: HTTP 500"),
            ("empty", "model server returned an empty completion"),
            ("garbage", "model server answer unusable: not JSON"),
        ] {
            let r = miner.ask(&validator, msg, t).await;
            assert_eq!(r.status_code, 500, "{msg}: {r:?}");
            assert!(r.status_message.starts_with(want), "{msg}: {r:?}");
            assert!(!r.is_success);
        }
        // A hanging model server: the miner answers before the caller's 3 s deadline.
        let started = Instant::now();
        let r = miner.ask(&validator, "sleep", Duration::from_secs(3)).await;
        assert_eq!(r.status_code, 500, "{r:?}");
        assert!(
            r.status_message.starts_with("model server timed out after"),
            "{r:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );

        // Nothing listening at the base URL.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead = closed.local_addr().unwrap();
        drop(closed);
        let settings = MinerSettings {
            backend: ModelBackend::OpenAi(openai(dead)),
            ..MinerSettings::default()
        };
        let miner = start(settings, mk, Some(m)).await;
        let r = miner.ask(&validator, "hi", t).await;
        assert_eq!(r.status_code, 500, "{r:?}");
        assert!(
            r.status_message
                .starts_with("model server unreachable: cannot connect"),
            "{r:?}"
        );
        assert!(
            !r.status_message.contains(&dead.port().to_string()),
            "no server address: {r:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_responder_is_labelled() {
    bounded(async {
        let validator = key();
        let mk = key();
        let settings = MinerSettings {
            backend: ModelBackend::Builtin,
            ..MinerSettings::default()
        };
        let miner = start(
            settings,
            mk.clone(),
            Some(metagraph(&mk, &[(&validator, 0.0, false)])),
        )
        .await;
        let r = miner.ask(&validator, "ping", Duration::from_secs(12)).await;
        assert!(r.is_success, "{r:?}");
        assert_eq!(r.completion, format!("{BUILTIN_LABEL} You said: ping"));
        assert!(r
            .completion
            .starts_with("[btvep built-in responder, not a language model]"));
    })
    .await;
}

/// Waits (bounded) until `cond` holds, polling; used to observe queue state, not to guess start-up times.
async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturation_serves_higher_stake_first_and_times_out_waiters() {
    bounded(async {
        let (stub_addr, stub) = spawn_stub().await;
        let mk = key();
        let (blocker, low, high, impatient) = (key(), key(), key(), key());
        let m = metagraph(
            &mk,
            &[
                (&blocker, 0.0, true),
                (&low, 1.0, true),
                (&high, 100.0, true),
                (&impatient, 1000.0, true),
            ],
        );
        let settings = MinerSettings {
            backend: ModelBackend::OpenAi(openai(stub_addr)),
            max_concurrency: 1,
            ..MinerSettings::default()
        };
        let miner = Arc::new(start(settings, mk, Some(m)).await);
        let t = Duration::from_secs(30);

        let ask = |who: Hotkey, msg: &'static str| {
            let miner = Arc::clone(&miner);
            tokio::spawn(async move { miner.ask(&who, msg, t).await })
        };
        let first = ask(blocker, "block");
        until("the blocker to reach the model", || {
            stub.calls.lock().unwrap().len() == 1
        })
        .await;
        let low_task = ask(low, "low");
        until("low to queue", || miner.miner.waiting() == 1).await;
        let high_task = ask(high, "high");
        until("high to queue", || miner.miner.waiting() == 2).await;

        // A waiter whose timeout passes while saturated gets the SDK's priority timeout.
        let req = signed(&impatient, &miner, 1.0, "impatient");
        let (status, headers, body) = send(&miner, &req).await;
        assert_eq!(status, 408, "{body}");
        assert_eq!(body["message"], "Response timeout after: 1.0s");
        assert_eq!(headers["bt_header_axon_status_code"], "408");

        stub.release.notify_one();
        for task in [first, high_task, low_task] {
            let r = task.await.unwrap();
            assert!(r.is_success, "{r:?}");
        }
        assert_eq!(stub.last_messages(), ["block", "high", "low"]);
    })
    .await;
}

// ------------------------------------------------------------------ the real binary

/// Kills the child by pid if the test fails before it stopped (`kill -KILL`, ignored if already gone).
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let Some(pid) = self.0 else { return };
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn write_metagraph(dir: &std::path::Path, m: &Metagraph) -> std::path::PathBuf {
    let path = dir.join("metagraph.json");
    std::fs::write(&path, m.to_file_json()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_and_stops_on_sigterm() {
    bounded(async {
        let (stub_addr, _stub) = spawn_stub().await;
        let dir = tempfile::tempdir().unwrap();
        let (mk, phrase) = Hotkey::generate().unwrap();
        let validator = key();
        let outsider = key();
        let mg = write_metagraph(dir.path(), &metagraph(&mk, &[(&validator, 1.0, true)]));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_btvep"))
            .args(["--config", dir.path().join("config.json").to_str().unwrap()])
            .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
            .args(["miner", "--axon.ip", "127.0.0.1", "--axon.port", "0"])
            .args(["--openai.base_url", &format!("http://{stub_addr}/v1")])
            .args(["--openai.suffix", "!"])
            .arg("--metagraph-file")
            .arg(&mg)
            .env("MINER_HOTKEY_MNEMONIC", &phrase)
            .env_remove("OPENAI_API_KEY")
            .env("RUST_LOG", "btvep=info")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn btvep miner");
        let mut guard = KillOnDrop(Some(child.id()));
        // Read stderr on a thread (it also keeps the pipe drained) and hand lines over.
        let stderr = child.stderr.take().unwrap();
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
        let mut banner = String::new();
        let addr: SocketAddr = loop {
            let line = rx.recv().await.expect("miner exited before listening");
            banner.push_str(&line);
            banner.push('\n');
            if let Some(a) = line.strip_prefix("listening on ") {
                break a.trim().parse().unwrap();
            }
        };
        assert!(banner.contains(mk.ss58()), "{banner}");
        assert!(
            banner.contains(&format!("model gpt-3.5-turbo at http://{stub_addr}/v1")),
            "{banner}"
        );
        assert!(banner.contains("allow_non_registered=false"), "{banner}");

        let running = Running {
            addr,
            miner: Miner::new(
                MinerSettings::default(),
                mk.clone(),
                Arc::new(MetagraphCell::empty()),
            )
            .unwrap(),
            hotkey: mk,
            _stop: oneshot::channel().0,
        };
        let r = running.ask(&validator, "hi", Duration::from_secs(12)).await;
        assert!(r.is_success, "{r:?}");
        assert_eq!(r.completion, "stub says: hi!");
        let r = running.ask(&outsider, "hi", Duration::from_secs(12)).await;
        assert_eq!(r.status_code, 403, "{r:?}");

        let killed = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        guard.0 = None; // reaped: the pid may be reused now
        let mut log = String::new();
        while let Some(l) = rx.recv().await {
            log.push_str(&l);
            log.push('\n');
        }
        assert!(status.success(), "{status:?}\n{log}");
        assert!(log.contains("miner stopped"), "{log}");
        assert!(
            log.contains(validator.ss58()),
            "requests are logged with the caller: {log}"
        );
    })
    .await;
}

#[test]
fn binary_refuses_remote_model_without_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_btvep"))
        .args(["--config", dir.path().join("config.json").to_str().unwrap()])
        .args(["miner", "--openai.base_url", "https://api.openai.com/v1"])
        .env_remove("OPENAI_API_KEY")
        .env("MINER_HOTKEY_MNEMONIC", Hotkey::generate().unwrap().1)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("OPENAI_API_KEY is not set"), "{err}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_btvep"))
        .args(["--config", dir.path().join("config.json").to_str().unwrap()])
        .args(["miner", "--builtin"])
        .env_remove("MINER_HOTKEY_MNEMONIC")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no miner hotkey"));
}
