//! Black-box tests of `btvep start`: the real binary on 127.0.0.1:0, fake miners that speak the real
//! signed protocol, and the CLI run as a second process against the running server.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use btvep::bittensor::keys::Hotkey;
use common::fake_axon::{self, Behavior};
use common::gateway::{Gateway, Home};
use serde_json::{json, Value};

fn hotkey() -> String {
    Hotkey::generate().unwrap().0.ss58().to_string()
}

/// A port with nothing listening (bound, then released).
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn user(content: &str) -> Value {
    json!({"messages": [{"role": "user", "content": content}]})
}

/// uid 0 answers "Paris", uid 1 is slow (3 s), uid 2 refuses connections, uid 3 answers "Lyon".
async fn subnet(home: &Home) -> Vec<String> {
    let hk: Vec<String> = (0..4).map(|_| hotkey()).collect();
    let a0 = fake_axon::spawn(Behavior::Verify("Paris".into()), &hk[0]).await;
    let a1 = fake_axon::spawn(Behavior::Sleep(Duration::from_secs(3)), &hk[1]).await;
    let a3 = fake_axon::spawn(Behavior::Verify("Lyon".into()), &hk[3]).await;
    home.metagraph(&[
        (0, hk[0].clone(), a0, 0.5),
        (1, hk[1].clone(), a1, 0.1),
        (2, hk[2].clone(), closed_port(), 0.2),
        (3, hk[3].clone(), a3, 0.9),
    ]);
    hk
}

fn credits(home: &Home, id: u64) -> i64 {
    home.cli_json(&["key", "show", &id.to_string(), "--json"])["credits"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_answers_in_btvep_shape_and_charges_per_success() {
    let home = Home::new(json!({}));
    let hk = subnet(&home).await;
    let key = home.create_key(&["-c", "10"]);
    let gw = Gateway::start(&home);
    gw.ready().await;

    // btvep's documented request, with its Endpoint-Version header
    let resp = gw
        .http
        .post(gw.url("/chat"))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {key}"))
        .header("Endpoint-Version", "2023-05-19")
        .body(r#"{"messages": [{"role": "user", "content": "What is 1+1?"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let mut v: Value = resp.json().await.unwrap();
    assert!(v["choices"][0]["response_ms"].is_u64());
    v["choices"][0]["response_ms"] = json!(0);
    assert_eq!(
        v,
        json!({"choices": [{"index": 0, "uid": 0, "responder_hotkey": hk[0], "message": {"role": "assistant", "content": "Paris"}, "response_ms": 0}], "failed_responses": []})
    );
    assert_eq!(credits(&home, 1), 9);

    // explicit uids, all queried: one refused connection, one success; charged once
    let (status, _, v) = gw
        .post("/chat", Some(&key), &json!({"uids": [2, 3], "respond_on_first_success": false, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["choices"].as_array().unwrap().len(), 1);
    assert_eq!(v["choices"][0]["uid"], 3);
    assert_eq!(v["choices"][0]["message"]["content"], "Lyon");
    assert_eq!(v["failed_responses"][0]["uid"], 2);
    assert_eq!(v["failed_responses"][0]["status_code"], 503);
    assert_eq!(credits(&home, 1), 8);

    // top_n picks by incentive: uid 3 (0.9) then uid 0 (0.5); two successes cost two credits
    let (status, _, v) = gw
        .post("/chat", Some(&key), &json!({"top_n": 2, "respond_on_first_success": false, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(status, 200, "{v}");
    let uids: Vec<i64> = v["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uid"].as_i64().unwrap())
        .collect();
    assert_eq!(uids.len(), 2);
    assert!(uids.contains(&3) && uids.contains(&0));
    assert_eq!(credits(&home, 1), 6);

    // a miner that times out: 502 with the failure, nothing charged
    let (status, _, v) = gw
        .post(
            "/chat",
            Some(&key),
            &json!({"uids": [1], "timeout": 0.3, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(status, 502);
    assert_eq!(v["detail"], "All miner responses have failed.");
    assert_eq!(v["failed_responses"][0]["uid"], 1);
    assert_eq!(v["failed_responses"][0]["status_code"], 408);
    assert_eq!(credits(&home, 1), 6);

    // counters and per-miner log records
    let k = home.cli_json(&["key", "show", "1", "--json"]);
    assert_eq!(k["api_request_count"], 4);
    assert_eq!(k["request_count"], 1 + 2 + 2 + 1);
    let logs = home.cli_json_lines(&["logs", "--json", "-k", "1"]);
    assert_eq!(logs.len(), 6);
    let timeout = &logs[0];
    assert_eq!(timeout["uid"], 1);
    assert_eq!(timeout["is_success"], false);
    assert_eq!(timeout["return_code"], 408);
    assert_eq!(timeout["is_api_success"], true);
    let first = logs.last().unwrap();
    assert_eq!(first["prompt"], "What is 1+1?");
    assert_eq!(first["response"], "Paris");
    assert_eq!(first["responder_hotkey"], hk[0]);
    assert_eq!(first["return_code"], 200);
    assert_eq!(first["src_version"], 10_005_000);
    assert_eq!(
        home.cli_json_lines(&["logs", "--json", "-r", &hk[3]]).len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_have_btvep_statuses_and_are_logged() {
    let home = Home::new(json!({}));
    subnet(&home).await;
    let key = home.create_key(&["-c", "1"]);
    let disabled = home.create_key(&["-d"]);
    let expired = home.create_key(&["-v", "2020-01-01"]);
    let gw = Gateway::start(&home);
    gw.ready().await;

    let cases: Vec<(Option<&str>, Value, u16, &str)> = vec![
        (
            None,
            user("hi"),
            401,
            "API key is missing: send it as 'Authorization: Bearer <key>'",
        ),
        (Some("btvep-nope"), user("hi"), 401, "Invalid API key"),
        (Some(&disabled), user("hi"), 401, "API key is disabled"),
        (Some(&expired), user("hi"), 401, "API key has expired"),
        (
            Some(&key),
            json!({"messages": []}),
            422,
            "messages must contain at least one message",
        ),
        (
            Some(&key),
            json!({"top_n": 0, "messages": [{"role": "user", "content": "x"}]}),
            422,
            "top_n must be at least 1, got 0",
        ),
        (
            Some(&key),
            json!({"uids": [42], "messages": [{"role": "user", "content": "x"}]}),
            400,
            "uid 42 is not in the metagraph of subnet 1 (4 neurons)",
        ),
        (
            Some(&key),
            json!({"timeout": -1, "messages": [{"role": "user", "content": "x"}]}),
            422,
            "timeout must be between 0 and 600 seconds",
        ),
    ];
    for (k, body, status, detail) in cases {
        let (s, h, v) = gw.post("/chat", k, &body).await;
        assert_eq!(
            (s, v["detail"].as_str().unwrap()),
            (status, detail),
            "{body}"
        );
        assert!(h.contains_key("x-request-id"));
    }
    let (s, _, v) = gw
        .post(
            "/chat",
            Some(&key),
            &json!({"messages": [{"role": "robot", "content": "x"}]}),
        )
        .await;
    assert_eq!(s, 422);
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("unknown variant `robot`"),
        "{v}"
    );
    let (s, _, v) = gw
        .post("/chat", Some(&key), &json!({"messages": "hi"}))
        .await;
    assert_eq!(s, 422, "{v}");
    let raw = gw
        .http
        .post(gw.url("/chat"))
        .bearer_auth(&key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert!(raw.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .starts_with("Malformed JSON body"));
    let big = "x".repeat(1024 * 1024 + 1);
    // Its own client: the server answers 413 without reading the body and closes that connection, which
    // must not be reused for the next request.
    let raw = reqwest::Client::new()
        .post(gw.url("/chat"))
        .bearer_auth(&key)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 413);
    assert!(raw.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .contains("too large"));
    let raw = gw.http.get(gw.url("/chat")).send().await.unwrap();
    assert_eq!(raw.status(), 405);
    let raw = gw.http.get(gw.url("/nowhere")).send().await.unwrap();
    assert_eq!(raw.status(), 404);
    assert_eq!(
        raw.json::<Value>().await.unwrap(),
        json!({"detail": "Not Found"})
    );

    // the one credit is spent, then the key is refused
    let (s, _, _) = gw.post("/chat", Some(&key), &user("hi")).await;
    assert_eq!(s, 200);
    let (s, _, v) = gw.post("/chat", Some(&key), &user("hi")).await;
    assert_eq!(
        (s, v["detail"].as_str().unwrap()),
        (401, "Not enough credits")
    );
    assert_eq!(credits(&home, 1), 0);

    let codes: Vec<String> = home
        .cli_json_lines(&["logs", "--json"])
        .iter()
        .filter_map(|r| r["api_error"].as_str().map(String::from))
        .collect();
    for code in [
        "APIKeyMissing",
        "APIKeyInvalid",
        "APIKeyDisabled",
        "APIKeyExpired",
        "APIKeyNotEnoughCredits",
        "InvalidRequest",
        "InvalidQuery",
    ] {
        assert!(
            codes.iter().any(|c| c == code),
            "{code} not logged: {codes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_never_overspend_credits() {
    let home = Home::new(json!({}));
    let hk = hotkey();
    let a = fake_axon::spawn(Behavior::Verify("ok".into()), &hk).await;
    home.metagraph(&[(0, hk, a, 1.0)]);
    let key = home.create_key(&["-c", "7"]);
    let gw = Gateway::start(&home);
    gw.ready().await;
    let body = user("hi");
    let futures: Vec<_> = (0..40)
        .map(|_| gw.post("/chat", Some(&key), &body))
        .collect();
    let results = futures_util::future::join_all(futures).await;
    let ok = results.iter().filter(|(s, _, _)| *s == 200).count();
    let refused = results
        .iter()
        .filter(|(s, _, v)| *s == 401 && v["detail"] == "Not enough credits")
        .count();
    assert_eq!((ok, refused), (7, 33));
    assert_eq!(credits(&home, 1), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_and_live_administration_from_a_second_process() {
    let home = Home::new(json!({}));
    let hk = hotkey();
    let a = fake_axon::spawn(Behavior::Verify("ok".into()), &hk).await;
    home.metagraph(&[(0, hk, a, 1.0)]);
    let gw = Gateway::start(&home);
    gw.ready().await;

    // a key created while the server runs works at once
    let key = home.create_key(&[]);
    assert_eq!(gw.post("/chat", Some(&key), &user("hi")).await.0, 200);

    // a rate limit added and enabled from the CLI applies on the next request
    assert!(home
        .cli(&["ratelimit", "add", "2", "60", "-k", "1"])
        .status
        .success());
    assert!(home.cli(&["ratelimit", "enable"]).status.success());
    assert_eq!(gw.post("/chat", Some(&key), &user("hi")).await.0, 200);
    assert_eq!(gw.post("/chat", Some(&key), &user("hi")).await.0, 200);
    let (s, h, v) = gw.post("/chat", Some(&key), &user("hi")).await;
    assert_eq!(s, 429, "{v}");
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert!(v["detail"]
        .as_str()
        .unwrap()
        .starts_with("Rate limit exceeded"));
    // the global list does not apply to a key with its own; another key uses the global (none)
    let other = home.create_key(&[]);
    for _ in 0..4 {
        assert_eq!(gw.post("/chat", Some(&other), &user("hi")).await.0, 200);
    }
    // disabling rate limiting lifts it
    assert!(home.cli(&["ratelimit", "disable"]).status.success());
    assert_eq!(gw.post("/chat", Some(&key), &user("hi")).await.0, 200);

    // disabling and deleting keys take effect immediately
    assert!(home
        .cli(&["key", "edit", "1", "--disable"])
        .status
        .success());
    assert_eq!(
        gw.post("/chat", Some(&key), &user("hi")).await.2["detail"],
        "API key is disabled"
    );
    assert!(home
        .cli(&["key", "delete", &other, "--yes"])
        .status
        .success());
    assert_eq!(
        gw.post("/chat", Some(&other), &user("hi")).await.2["detail"],
        "Invalid API key"
    );

    let logs = home.cli_json_lines(&["logs", "--json", "-k", "1"]);
    assert!(logs.iter().any(|r| r["api_error"] == "RateLimitExceeded"));
}

#[tokio::test(flavor = "multi_thread")]
async fn moderation_refuses_flagged_prompts_and_fails_open() {
    use warp::Filter;
    // a stub /v1/moderations: flags inputs containing "forbidden", fails with 500 on "boom"
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let route = warp::path!("v1" / "moderations")
        .and(warp::header::<String>("authorization"))
        .and(warp::body::json())
        .map(|auth: String, body: Value| {
            assert_eq!(auth, "Bearer sk-test");
            let text = body["input"].to_string();
            if text.contains("boom") {
                return warp::reply::with_status(
                    warp::reply::json(&json!({"error": "down"})),
                    warp::http::StatusCode::INTERNAL_SERVER_ERROR,
                );
            }
            let flagged = text.contains("forbidden");
            warp::reply::with_status(
                warp::reply::json(&json!({"results": [{"flagged": flagged}]})),
                warp::http::StatusCode::OK,
            )
        });
    tokio::spawn(warp::serve(route).incoming(listener).run());

    let home = Home::new(
        json!({"openai_filter_enabled": true, "openai_api_key": "sk-test", "openai_base_url": format!("http://{addr}/v1")}),
    );
    let hk = hotkey();
    let a = fake_axon::spawn(Behavior::Verify("ok".into()), &hk).await;
    home.metagraph(&[(0, hk, a, 1.0)]);
    let key = home.create_key(&[]);
    let gw = Gateway::start(&home);
    gw.ready().await;
    assert_eq!(gw.post("/chat", Some(&key), &user("hello")).await.0, 200);
    let (s, _, v) = gw
        .post("/chat", Some(&key), &user("something forbidden"))
        .await;
    assert_eq!(
        (s, v["detail"].as_str().unwrap()),
        (400, "The prompt was flagged by the moderation filter")
    );
    assert_eq!(
        gw.post("/chat", Some(&key), &user("boom")).await.0,
        200,
        "moderation outage fails open"
    );
    let logs = home.cli_json_lines(&["logs", "--json"]);
    assert!(logs
        .iter()
        .any(|r| r["api_error"] == "FlaggedByOpenAIModerationFilter"));
    let out = format!("{:?}", gw.stderr.lock().unwrap());
    assert!(!out.contains("sk-test"), "secret leaked to the server log");
}

#[tokio::test(flavor = "multi_thread")]
async fn not_ready_without_metagraph_health_and_graceful_shutdown() {
    let home = Home::new(json!({"metagraph_file": "/nonexistent/metagraph.json"}));
    let key = home.create_key(&[]);
    let mut gw = Gateway::start(&home);
    let r = gw.http.get(gw.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = gw.http.get(gw.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let (s, _, v) = gw.post("/chat", Some(&key), &user("hi")).await;
    assert_eq!(
        (s, v["detail"].as_str().unwrap()),
        (503, "The metagraph is not loaded yet; try again shortly")
    );
    // the startup summary masks the mnemonic and names the hotkey
    let startup = gw.stderr.lock().unwrap().join("\n");
    assert!(startup.contains("5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4"));
    assert!(startup.contains("********") && !startup.contains("pact photo"));
    assert!(!startup.contains(&key));
    let status = gw.terminate();
    assert!(status.success(), "{status:?}");
    // stderr is drained by a thread; wait for it to see EOF (bounded)
    for _ in 0..100 {
        if gw
            .stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("database flushed"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gw
        .stderr
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("database flushed")));
    // the database is free again for the CLI
    assert_eq!(
        home.cli_json(&["key", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn start_refuses_without_hotkey_and_when_already_running() {
    let home = Home::new(json!({}));
    std::fs::write(home.path("config.json"), "{}").unwrap();
    let out = home.cli(&["start", "--port", "0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no validator hotkey configured"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_is_open_by_default_and_configurable() {
    let home = Home::new(json!({}));
    let hk = hotkey();
    let a = fake_axon::spawn(Behavior::Verify("ok".into()), &hk).await;
    home.metagraph(&[(0, hk, a, 1.0)]);
    let preflight = |gw: &Gateway, origin: &'static str| {
        gw.http
            .request(reqwest::Method::OPTIONS, gw.url("/chat"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
    };
    {
        let gw = Gateway::start(&home);
        let r = preflight(&gw, "https://app.example").await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://app.example"
        );
    }
    assert!(home
        .cli(&[
            "config",
            "set",
            "cors_allowed_origins",
            "https://ok.example"
        ])
        .status
        .success());
    let gw = Gateway::start(&home);
    let r = preflight(&gw, "https://ok.example").await.unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://ok.example"
    );
    let r = preflight(&gw, "https://evil.example").await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.headers().contains_key("access-control-allow-origin"));
}
