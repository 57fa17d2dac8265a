//! The admin HTTP API behind the dashboard, the dashboard page, and `/metrics`.

mod common;

use btvep::bittensor::keys::Hotkey;
use common::fake_axon::{self, Behavior};
use common::gateway::{Gateway, Home};
use serde_json::{json, Value};

async fn setup() -> (Home, Gateway, String) {
    let home = Home::new(json!({}));
    let hk = Hotkey::generate().unwrap().0.ss58().to_string();
    let a = fake_axon::spawn(Behavior::Verify("Paris".into()), &hk).await;
    home.metagraph(&[(0, hk, a, 1.0)]);
    let gw = Gateway::start(&home);
    gw.ready().await;
    let out = home.cli(&["config", "get", "admin_api_key", "--reveal"]);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("btvep-admin-"), "{token}");
    (home, gw, token)
}

async fn call(
    gw: &Gateway,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = gw.http.request(method.parse().unwrap(), gw.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_manages_keys_and_shows_logs_stats_and_config() {
    let (home, gw, token) = setup().await;
    let startup = gw.stderr.lock().unwrap().join("\n");
    assert!(
        startup.contains("btvep config get admin_api_key --reveal") && !startup.contains(&token)
    );

    for t in [None, Some("btvep-admin-wrong")] {
        let (s, v) = call(&gw, "GET", "/admin/keys", t, None).await;
        assert_eq!((s, v), (401, json!({"detail": "Invalid admin token"})));
    }

    let (s, created) = call(
        &gw,
        "POST",
        "/admin/keys",
        Some(&token),
        Some(json!({"name": "web", "credits": 3, "valid_until": "in 10 days"})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let key = created["api_key"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "web");
    assert_eq!(created["credits"], 3);
    assert!(created["valid_until"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    let (s, v) = call(
        &gw,
        "POST",
        "/admin/keys",
        Some(&token),
        Some(json!({"credits": -5})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = call(
        &gw,
        "POST",
        "/admin/keys",
        Some(&token),
        Some(json!({"valid_until": "whenever"})),
    )
    .await;
    assert_eq!(s, 400, "{v}");

    // the key works at once, and its request shows up in logs and stats
    assert_eq!(
        gw.post(
            "/chat",
            Some(&key),
            &json!({"messages": [{"role": "user", "content": "capital?"}]})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        gw.post(
            "/chat",
            Some("btvep-bad"),
            &json!({"messages": [{"role": "user", "content": "x"}]})
        )
        .await
        .0,
        401
    );
    let (s, logs) = call(&gw, "GET", "/admin/logs?key=1&lines=10", Some(&token), None).await;
    assert_eq!(s, 200);
    assert_eq!(logs.as_array().unwrap().len(), 1);
    assert_eq!(logs[0]["prompt"], "capital?");
    assert_eq!(logs[0]["response"], "Paris");
    let (s, v) = call(
        &gw,
        "GET",
        "/admin/logs?start=yesterday",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 400, "{v}");

    let (s, stats) = call(
        &gw,
        "GET",
        "/admin/stats?window=3600&buckets=12",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(stats["totals"]["requests"], 2);
    assert_eq!(stats["totals"]["served"], 1);
    assert_eq!(stats["totals"]["refused"], 1);
    assert_eq!(stats["totals"]["miner_successes"], 1);
    assert_eq!(stats["totals"]["success_rate"], 1.0);
    assert_eq!(stats["totals"]["credits_spent"], 1);
    assert_eq!(stats["refused_by_code"], json!({"APIKeyInvalid": 1}));
    assert_eq!(stats["series"].as_array().unwrap().len(), 12);
    assert_eq!(stats["series"][11]["requests"], 2);
    assert_eq!(stats["top_keys"][0]["key_id"], 1);
    assert_eq!(stats["top_keys"][0]["credits_spent"], 1);
    assert_eq!(stats["miners"][0]["uid"], 0);
    assert_eq!(stats["miners"][0]["success_rate"], 1.0);
    assert_eq!(stats["metagraph"]["serving"], 1);

    let (s, edited) = call(&gw, "PATCH", "/admin/keys/1", Some(&token), Some(json!({"credits": 10, "enabled": false, "rate_limits": [{"times": 5, "seconds": 60}], "default_query_strategy": "top_n:1"}))).await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(edited["credits"], 10);
    assert_eq!(edited["enabled"], false);
    assert_eq!(edited["rate_limits"], json!([{"times": 5, "seconds": 60}]));
    assert_eq!(
        gw.post(
            "/chat",
            Some(&key),
            &json!({"messages": [{"role": "user", "content": "x"}]})
        )
        .await
        .2["detail"],
        "API key is disabled"
    );
    let (s, v) = call(
        &gw,
        "PATCH",
        "/admin/keys/1",
        Some(&token),
        Some(json!({"colour": "red"})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = call(
        &gw,
        "PATCH",
        "/admin/keys/99",
        Some(&token),
        Some(json!({"credits": 1})),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        home.cli_json(&["key", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1,
        "the CLI sees the same keys"
    );

    // configuration: secrets masked, safe keys editable, applied at once
    let (s, cfg) = call(&gw, "GET", "/admin/config", Some(&token), None).await;
    assert_eq!(s, 200);
    let entry = |cfg: &Value, k: &str| {
        cfg["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(entry(&cfg, "hotkey_mnemonic")["value"], "********");
    assert_eq!(entry(&cfg, "admin_api_key")["value"], "********");
    assert_eq!(entry(&cfg, "hotkey_mnemonic")["editable"], false);
    assert!(!cfg.to_string().contains(&token) && !cfg.to_string().contains("pact photo"));
    let (s, cfg) = call(
        &gw,
        "PATCH",
        "/admin/config",
        Some(&token),
        Some(json!({"default_query_strategy": "top_n:1", "rate_limiting_enabled": true})),
    )
    .await;
    assert_eq!(s, 200, "{cfg}");
    assert_eq!(entry(&cfg, "default_query_strategy")["value"], "top_n:1");
    assert_eq!(entry(&cfg, "rate_limiting_enabled")["source"], "file");
    let (s, v) = call(
        &gw,
        "PATCH",
        "/admin/config",
        Some(&token),
        Some(json!({"hotkey_mnemonic": "x"})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = call(
        &gw,
        "PATCH",
        "/admin/config",
        Some(&token),
        Some(json!({"miner_timeout": "soon"})),
    )
    .await;
    assert_eq!(s, 400, "{v}");

    let (s, deleted) = call(&gw, "DELETE", "/admin/keys/1", Some(&token), None).await;
    assert_eq!((s, deleted["id"].clone()), (200, json!(1)));
    assert_eq!(
        gw.post(
            "/chat",
            Some(&key),
            &json!({"messages": [{"role": "user", "content": "x"}]})
        )
        .await
        .2["detail"],
        "Invalid API key"
    );

    // the dashboard page is served from the binary
    let r = gw.http.get(gw.url("/dashboard")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("btvep"));
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_in_prometheus_text_format() {
    let (home, gw, token) = setup().await;
    let metagraph: Value =
        serde_json::from_str(&std::fs::read_to_string(home.path("metagraph.json")).unwrap())
            .unwrap();
    let hotkey = metagraph["neurons"][0]["hotkey"]
        .as_str()
        .unwrap()
        .to_string();
    let key = home.create_key(&["-c", "5"]);
    assert_eq!(
        gw.post(
            "/chat",
            Some(&key),
            &json!({"messages": [{"role": "user", "content": "x"}]})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        gw.post(
            "/chat",
            None,
            &json!({"messages": [{"role": "user", "content": "x"}]})
        )
        .await
        .0,
        401
    );
    let r = gw.http.get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    for line in [
        "btvep_http_requests_total{route=\"/chat\",status=\"200\"} 1",
        "btvep_http_requests_total{route=\"/chat\",status=\"401\"} 1",
        "btvep_refusals_total{api_error=\"APIKeyMissing\"} 1",
        "btvep_miner_answers_total{uid=\"0\",status=\"200\"} 1",
        "btvep_miner_latency_seconds_count{uid=\"0\",hotkey=\"HOTKEY\"} 1",
        "btvep_credits_spent_total 1",
        "btvep_rate_limit_refusals_total 0",
        "btvep_metagraph_neurons{state=\"serving\"} 1",
    ] {
        let line = line.replace("HOTKEY", &hotkey);
        assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
    }
    // every sample line is `name{labels} value` with a declared TYPE
    let mut typed = std::collections::HashSet::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap().to_string());
        } else if !l.starts_with('#') {
            let (series, value) = l.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
            let name = series.split('{').next().unwrap();
            let base = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                typed.contains(name) || typed.contains(base),
                "{name} has no TYPE"
            );
        }
    }
    // optionally behind the admin token
    home.cli(&["config", "set", "metrics_require_admin", "true"]);
    let r = gw.http.get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = gw
        .http
        .get(gw.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
