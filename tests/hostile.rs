//! The server under hostile operators and clients: racing config writers, `kill -9` under load,
//! connection floods, amplification, cancelled requests and a malformed-request fuzz. Everything runs
//! the real binary on 127.0.0.1.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use btvep::bittensor::keys::Hotkey;
use common::fake_axon::{self, Behavior};
use common::gateway::{Gateway, Home};
use serde_json::{json, Value};

fn user(content: &str) -> Value {
    json!({"messages": [{"role": "user", "content": content}]})
}

fn admin_token(home: &Home) -> String {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(home.path("config.json")).unwrap()).unwrap();
    v["admin_api_key"].as_str().unwrap().to_string()
}

fn key_json(home: &Home, id: u64) -> Value {
    home.cli_json(&["key", "show", &id.to_string(), "--json"])
}

fn key_id(home: &Home, secret: &str) -> u64 {
    home.cli_json(&["key", "show", secret, "--json"])["id"]
        .as_u64()
        .unwrap()
}

/// Raises this test process's open-file limit (it holds thousands of client sockets).
fn raise_own_fd_limit() {
    let _ = btvep::server::listener::raise_open_file_limit();
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_config_writers_lose_nothing_and_never_break_the_server() {
    let home = Home::new(json!({
        "rate_limiting_enabled": true,
        "global_rate_limits": [{"times": 3, "seconds": 3600}],
    }));
    let gw = Gateway::start_with(&home, &["--devnet", "1"]);
    gw.ready().await;
    let token = admin_token(&home);
    let cli_keys = [
        ("wallet_name", "w"),
        ("wallet_hotkey", "h"),
        ("cors_allowed_origins", "https://o"),
        ("metagraph_refresh_seconds", ""),
        ("body_timeout_seconds", ""),
        ("idle_timeout_seconds", ""),
        ("header_timeout_seconds", ""),
        ("max_connections", ""),
        ("max_miners_per_request", ""),
        ("netuid", ""),
    ];
    let admin_keys = ["miner_timeout", "openai_base_url", "default_query_strategy"];
    for round in 0..3u64 {
        // acknowledged values per key
        let mut acked: std::collections::HashMap<String, Vec<Value>> = Default::default();
        let mut admin = Vec::new();
        for i in 0..20u64 {
            let key = admin_keys[i as usize % admin_keys.len()];
            let value = match key {
                "miner_timeout" => json!(20 + round * 20 + i),
                "openai_base_url" => json!(format!("https://m{round}-{i}.example/v1")),
                _ => json!(if i % 2 == 0 { "top_n:1" } else { "uids:0" }),
            };
            let (http, url, token) = (gw.http.clone(), gw.url("/admin/config"), token.clone());
            let body = json!({ key: value });
            admin.push(tokio::spawn(async move {
                let r = http
                    .patch(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (key, value, r.status().as_u16())
            }));
        }
        let mut procs = Vec::new();
        for i in 0..20u64 {
            let (key, prefix) = cli_keys[i as usize % cli_keys.len()];
            let value = if prefix.is_empty() {
                (20 + round * 40 + i).to_string()
            } else {
                format!("{prefix}{round}x{i}")
            };
            let child = home
                .command(&["config", "set", key, &value])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            procs.push((key, value, child));
        }
        for (key, value, child) in procs {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "config set {key}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v = if value.parse::<i64>().is_ok() {
                json!(value.parse::<i64>().unwrap())
            } else {
                json!(value)
            };
            acked.entry(key.to_string()).or_default().push(v);
        }
        for h in admin {
            let (key, value, status) = h.await.unwrap();
            assert_eq!(status, 200, "PATCH {key}");
            acked.entry(key.to_string()).or_default().push(value);
        }
        let text = std::fs::read_to_string(home.path("config.json")).unwrap();
        let file: Value = serde_json::from_str(&text).expect("config.json always parses");
        for (key, values) in &acked {
            assert!(
                values.contains(&file[key.as_str()]),
                "round {round}: {key} = {} is none of the acknowledged {values:?}",
                file[key.as_str()]
            );
        }
        assert_eq!(file["admin_api_key"], json!(token));
        assert_eq!(
            file["hotkey_mnemonic"],
            json!(common::gateway::VALIDATOR_MNEMONIC)
        );
        assert_eq!(file["rate_limiting_enabled"], json!(true));
        // the admin token still works, and the server still runs on the file's settings
        let r = gw
            .http
            .get(gw.url("/admin/config"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // rate limits are still enforced
    let key = home.create_key(&[]);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(gw.post("/chat", Some(&key), &user("hi")).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let stderr = gw.stderr.lock().unwrap().join("\n");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_of_an_empty_or_corrupt_file_keeps_the_running_config() {
    let home = Home::new(
        json!({"rate_limiting_enabled": true, "global_rate_limits": [{"times": 1, "seconds": 3600}]}),
    );
    let gw = Gateway::start_with(&home, &["--devnet", "1"]);
    gw.ready().await;
    let token = admin_token(&home);
    let good = std::fs::read_to_string(home.path("config.json")).unwrap();
    for bad in ["", "{\"port\": 1} trailing"] {
        std::fs::write(home.path("config.json"), bad).unwrap();
        // the socket's config-changed notice makes the server reload
        let out = home.cli(&["ratelimit", "status"]);
        let _ = out;
        let (s, _, _) = gw.post("/chat", Some("nope"), &user("x")).await;
        assert_eq!(s, 401);
        let r = gw
            .http
            .get(gw.url("/admin/stats"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "the admin token keeps working");
    }
    std::fs::write(home.path("config.json"), good).unwrap();
    let key = home.create_key(&[]);
    assert_eq!(gw.post("/chat", Some(&key), &user("a")).await.0, 200);
    assert_eq!(gw.post("/chat", Some(&key), &user("b")).await.0, 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_keeps_every_delivered_answer_charged() {
    let home = Home::new(json!({}));
    let mut gw = Gateway::start_with(&home, &["--devnet", "2"]);
    gw.ready().await;
    let key = home.create_key(&["-c", "100000"]);
    let id = key_id(&home, &key);
    let other = home.create_key(&["-n", "before"]);
    let other_id = key_id(&home, &other);
    let answered = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..24 {
        let (http, url, key) = (gw.http.clone(), gw.url("/chat"), key.clone());
        let (answered, sent, stop) = (answered.clone(), sent.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::SeqCst);
                let r = http
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&user("count me"))
                    .send()
                    .await;
                let Ok(r) = r else { break };
                if r.status() == 200 && r.bytes().await.is_ok() {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    // an acknowledged admin change in the middle of the load
    while answered.load(Ordering::SeqCst) < 300 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = home.cli(&["key", "edit", &other_id.to_string(), "-n", "after"]);
    assert!(out.status.success());
    while answered.load(Ordering::SeqCst) < 1500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = gw.child.kill(); // SIGKILL
    let _ = gw.child.wait();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let answered = answered.load(Ordering::SeqCst);
    let sent = sent.load(Ordering::SeqCst);
    let k = key_json(&home, id);
    let charged = 100_000 - k["credits"].as_i64().unwrap();
    eprintln!(
        "answered {answered}, sent {sent}, charged {charged}, logged requests {}",
        k["api_request_count"]
    );
    assert!(
        charged as u64 >= answered,
        "{answered} answers delivered but only {charged} charged"
    );
    assert!(
        charged as u64 <= sent,
        "charged {charged} for {sent} requests"
    );
    assert_eq!(key_json(&home, other_id)["name"], "after");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slowloris_floods_do_not_stop_new_requests() {
    raise_own_fd_limit();
    let home = Home::new(json!({"idle_timeout_seconds": 30, "header_timeout_seconds": 30}));
    // The server runs with a low open-file limit: 1,024 descriptors in all (3,000 connections follow).
    let mut cmd = Command::new("prlimit");
    cmd.args(["--nofile=1024:1024", "--"]);
    let inner = home.command(&[
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--devnet",
        "1",
    ]);
    cmd.arg(inner.get_program());
    cmd.args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let gw = Gateway::spawn(cmd);
    gw.ready().await;
    let key = gw
        .stderr
        .lock()
        .unwrap()
        .iter()
        .find_map(|l| {
            l.split("Bearer ")
                .nth(1)
                .map(|s| s.split('\'').next().unwrap().to_string())
        })
        .unwrap();
    let addr = gw.addr;
    let held = tokio::task::spawn_blocking(move || {
        let mut held = Vec::new();
        for i in 0..3000 {
            let Ok(mut s) = TcpStream::connect(addr) else {
                continue;
            };
            match i % 3 {
                0 => {} // idle: says nothing
                1 => {
                    // slowloris: headers that never end
                    let _ = s.write_all(b"POST /chat HTTP/1.1\r\nHost: x\r\nX-Slow: ");
                }
                _ => {
                    // an unauthenticated client announcing a 1 MiB body and stalling
                    let _ = s.write_all(
                        b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{\"messages\":",
                    );
                }
            }
            held.push(s);
        }
        held
    })
    .await
    .unwrap();
    assert!(held.len() > 2000, "only {} connections made", held.len());
    let (status, _, v) = tokio::time::timeout(
        Duration::from_secs(15),
        gw.post("/chat", Some(&key), &user("still there?")),
    )
    .await
    .expect("a new request is served while thousands of connections are held");
    let log = gw.stderr.lock().unwrap().join("\n");
    let tail: String = log
        .chars()
        .rev()
        .take(3000)
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    assert_eq!(status, 200, "{v}\n{tail}");
    let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", gw.child.id()))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:").map(|v| {
                v.trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap()
            })
        })
        .unwrap();
    // prlimit execs the server in place, so the child's pid is the server's
    assert!(rss_kib < 200 * 1024, "server RSS {rss_kib} KiB");
    drop(held);
    let stderr = gw.stderr.lock().unwrap().join("\n");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_request_cannot_fan_out_beyond_the_cap_or_its_credits() {
    let home = Home::new(json!({}));
    let gw = Gateway::start_with(&home, &["--devnet", "2"]);
    gw.ready().await;
    // uids repeated 10,000 times are de-duplicated: two answers, two credits, two log rows
    let key = home.create_key(&["-c", "5"]);
    let id = key_id(&home, &key);
    let uids: Vec<u16> = (0..10_000).flat_map(|_| [0u16, 1]).collect();
    let body = json!({"uids": uids, "respond_on_first_success": false, "messages": [{"role": "user", "content": "x"}]});
    let (s, _, v) = gw.post("/chat", Some(&key), &body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["choices"].as_array().unwrap().len(), 2);
    let k = key_json(&home, id);
    assert_eq!(k["credits"], 3);
    assert_eq!(k["request_count"], 2);
    let logs = home.cli_json_lines(&["logs", "--key", &id.to_string(), "--json"]);
    assert_eq!(logs.len(), 2);
    // a key with one credit is served one answer, and only one miner is asked
    let poor = home.create_key(&["-c", "1"]);
    let poor_id = key_id(&home, &poor);
    let body = json!({"uids": [0, 1], "respond_on_first_success": false, "messages": [{"role": "user", "content": "x"}]});
    let (s, _, v) = gw.post("/chat", Some(&poor), &body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["choices"].as_array().unwrap().len(), 1);
    let k = key_json(&home, poor_id);
    assert_eq!(
        (k["credits"].as_i64(), k["request_count"].as_i64()),
        (Some(0), Some(1))
    );
    // more miners than max_miners_per_request: refused before any query
    let out = home.cli(&["config", "set", "max_miners_per_request", "1"]);
    assert!(out.status.success());
    let (s, _, v) = gw.post("/chat", Some(&key), &body).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("max_miners_per_request"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_abandoned_by_its_client_is_logged_counted_and_refunded() {
    let home = Home::new(json!({}));
    let hk = Hotkey::generate().unwrap().0.ss58().to_string();
    let slow = fake_axon::spawn(Behavior::Sleep(Duration::from_secs(5)), &hk).await;
    home.metagraph(&[(0, hk, slow, 1.0)]);
    let key = home.create_key(&["-c", "3"]);
    let id = key_id(&home, &key);
    let gw = Gateway::start(&home);
    gw.ready().await;
    for path in ["/chat", "/v1/chat/completions"] {
        let mut body = user("are you there?");
        if path != "/chat" {
            body["stream"] = json!(path.len() % 2 == 0);
        }
        let r = gw
            .http
            .post(gw.url(path))
            .bearer_auth(&key)
            .json(&body)
            .timeout(Duration::from_millis(500))
            .send()
            .await;
        assert!(r.is_err(), "the client gave up");
    }
    // bounded wait for both records (written when the server notices the closed connections)
    let mut closed = Vec::new();
    for _ in 0..200 {
        closed = home
            .cli_json_lines(&["logs", "--key", &id.to_string(), "--json"])
            .into_iter()
            .filter(|r| r["api_error"] == "ClientClosed")
            .collect();
        if closed.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(closed.len(), 2, "{closed:?}");
    let k = key_json(&home, id);
    assert_eq!(k["credits"], 3, "reservations released");
    assert_eq!(k["api_request_count"], 2);
    let stderr = gw.stderr.lock().unwrap().join("\n");
    assert!(stderr.contains("closed the connection"), "{stderr}");
}

/// A deterministic generator (xorshift) so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn fuzz_body(rng: &mut Rng) -> Vec<u8> {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        br#"{"messages": "hi"}"#.to_vec(),
        br#"{"messages": [{"role": "user", "content": 5}]}"#.to_vec(),
        br#"{"messages": [{"role": "wizard", "content": "x"}]}"#.to_vec(),
        br#"{"messages": [], "model": "uids:"}"#.to_vec(),
        br#"{"messages": [{"role": "user", "content": "x"}], "top_n": 1e309}"#.to_vec(),
        br#"{"messages": [{"role": "user", "content": "x"}], "top_n": -9223372036854775809}"#
            .to_vec(),
        br#"{"messages": [{"role": "user", "content": "x"}], "uids": [70000]}"#.to_vec(),
        br#"{"messages": [{"role": "user", "content": "x"}], "timeout": -1}"#.to_vec(),
        br#"{"messages": [{"role": "user", "content": "x"}], "in_parallel": 0}"#.to_vec(),
        br#"{"messages": [{"role": "user", "content": "x"}], "model": "top_n:99999999999999999999"}"#
            .to_vec(),
        br#"{"messages": [{"role": "user", "content": "\ud800"}]}"#.to_vec(),
        "{\"messages\": [{\"role\": \"user\", \"content\": \"h\u{e9}\u{1F600}\"}], \"uids\": [0]}"
            .as_bytes()
            .to_vec(),
        vec![0xff, 0xfe, 0x00, 0x7b],
        deep(5000).into_bytes(),
        format!("{{\"a\":{}}}", deep(200)).into_bytes(),
        br#"{"credits": "lots", "name": 7}"#.to_vec(),
        br#"{"miner_timeout": 99999999999999999999, "netuid": []}"#.to_vec(),
        br#"{"rate_limiting_enabled": "maybe"}"#.to_vec(),
        vec![b'x'; 1024 * 1024 + 10],
    ];
    rng.pick(&bodies).clone()
}

/// Sends one raw request on a fresh connection and returns the response's status (None: no reply).
fn raw_request(addr: SocketAddr, head: &[u8], body: &[u8], chunked: bool) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut w = s.try_clone().ok()?;
    let head = head.to_vec();
    let body = body.to_vec();
    // Write on another thread so a response sent before the body is read is never missed.
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&head);
        if chunked {
            for part in body.chunks(64 * 1024) {
                let _ = w.write_all(format!("{:x}\r\n", part.len()).as_bytes());
                let _ = w.write_all(part);
                let _ = w.write_all(b"\r\n");
            }
            let _ = w.write_all(b"0\r\n\r\n");
        } else {
            let _ = w.write_all(&body);
        }
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 12 {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&buf);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_malformed_requests_get_clean_errors() {
    let home = Home::new(json!({}));
    let gw = Gateway::start_with(&home, &["--devnet", "2"]);
    gw.ready().await;
    let key = home.create_key(&["-c", "100000"]);
    let token = admin_token(&home);
    let addr = gw.addr;
    let fuzz_key = key.clone();
    let results = tokio::task::spawn_blocking(move || {
        let key = fuzz_key;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let paths: &[&[u8]] = &[
            b"/chat",
            b"/v1/chat/completions",
            b"/v1/models",
            b"/v1/models/%a\xc3\xa9",
            b"/v1/models/%ff%fe",
            b"/v1/models/uids%3A0%2C1",
            b"/v1/models/%",
            b"/v1/models/top_n:1%zz",
            b"/admin/keys",
            b"/admin/keys/1",
            b"/admin/keys/%e9",
            b"/admin/logs?lines=99999999999&key=%ff&start=%zz",
            b"/admin/stats?window=-5&buckets=99999999999999999999",
            b"/admin/config",
            b"/dashboard",
            b"/metrics",
            b"/healthz",
            b"/readyz",
            b"/\xc3\xa9/\xff",
            b"/chat/../../etc/passwd",
            b"//v1//models",
        ];
        let methods = [
            "GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "HEAD", "BREW",
        ];
        let mut results = Vec::new();
        for i in 0..2200u32 {
            let path = rng.pick(paths);
            let method = rng.pick(&methods).to_string();
            let body = fuzz_body(&mut rng);
            let chunked = rng.next().is_multiple_of(4);
            let mut head = Vec::new();
            head.extend_from_slice(method.as_bytes());
            head.push(b' ');
            head.extend_from_slice(path);
            head.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
            match rng.next() % 4 {
                0 => head.extend_from_slice(format!("Authorization: Bearer {key}\r\n").as_bytes()),
                1 => {
                    head.extend_from_slice(format!("Authorization: Bearer {token}\r\n").as_bytes())
                }
                2 => head.extend_from_slice(b"Authorization: Bearer \xc3\xa9\xff\r\n"),
                _ => {}
            }
            match rng.next() % 6 {
                0 => {
                    head.extend_from_slice(format!("X-Long: {}\r\n", "a".repeat(70_000)).as_bytes())
                }
                1 => {
                    for h in 0..150 {
                        head.extend_from_slice(format!("X-H{h}: v\r\n").as_bytes());
                    }
                }
                2 => head.extend_from_slice(b"Content-Type: text/plain\r\n"),
                3 => head.extend_from_slice(b"Content-Length: 99999999999999999999999\r\n"),
                _ => head.extend_from_slice(b"Content-Type: application/json\r\n"),
            }
            if chunked {
                head.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            } else if !head.windows(15).any(|w| w == b"Content-Length:") {
                head.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
            }
            head.extend_from_slice(b"\r\n");
            let status = raw_request(addr, &head, &body, chunked);
            results.push((
                i,
                method,
                String::from_utf8_lossy(path).into_owned(),
                status,
            ));
        }
        results
    })
    .await
    .unwrap();
    let mut bad = Vec::new();
    for (i, method, path, status) in &results {
        match status {
            None => bad.push(format!("#{i} {method} {path}: no reply")),
            Some(s) if *s >= 500 && *s != 502 && *s != 504 => {
                bad.push(format!("#{i} {method} {path}: {s}"))
            }
            _ => {}
        }
    }
    assert!(
        bad.is_empty(),
        "{} bad replies: {:?}",
        bad.len(),
        &bad[..bad.len().min(20)]
    );
    assert!(results.len() >= 2000);
    // a well-formed request still works afterwards
    assert_eq!(gw.post("/chat", Some(&key), &user("ok?")).await.0, 200);
    let stderr = gw.stderr.lock().unwrap().join("\n");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_cannot_be_framed() {
    let home = Home::new(json!({}));
    let gw = Gateway::start(&home);
    let r = gw.http.get(gw.url("/dashboard")).send().await.unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}
