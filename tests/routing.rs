//! Routing by observed health (issue #14), on the real binary in front of a test subnet of fake
//! synapse miners on 127.0.0.1 with known behaviour:
//!
//! - `best:1` routes around a flaky top-incentive miner (A: half its answers fail), a slow one
//!   (C: 200 ms) and a dead one (D: never answers), where `top_n:1` gets A's 50 %;
//! - D's circuit breaker: `cooling` after its first timeouts, not asked again until its cool-down
//!   ends, one probe per cool-down, back to `ok` once it answers; `uids` ignore health;
//! - hedging cuts the p99 of a miner that is slow on one request in twenty;
//! - health survives a restart, an unknown miner is explored, `btvep miners` reads live figures,
//!   backups carry health, `/metrics` has per-miner latency.
//!
//! Statistical figures are printed (`cargo test --test routing -- --nocapture`).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use btvep::bittensor::keys::Hotkey;
use chrono::{DateTime, Utc};
use common::fake_axon::{self, Behavior, Script, Step};
use common::gateway::{Gateway, Home};
use serde_json::{json, Value};

const MS: fn(u64) -> Duration = Duration::from_millis;

/// A fake miner and the times it was asked.
struct Miner {
    hotkey: String,
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<DateTime<Utc>>>>,
}

impl Miner {
    async fn spawn(script: impl Fn(u64) -> Step + Send + Sync + 'static) -> Self {
        let hotkey = Hotkey::generate().unwrap().0.ss58().to_string();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        let addr = fake_axon::spawn(
            Behavior::Scripted(Script::new(move |n| {
                seen.lock().unwrap().push(Utc::now());
                script(n)
            })),
            &hotkey,
        )
        .await;
        Miner { hotkey, addr, hits }
    }

    fn hits(&self) -> Vec<DateTime<Utc>> {
        self.hits.lock().unwrap().clone()
    }
}

/// One request's outcome, as the client saw it.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    ok: bool,
    ms: f64,
    uid: Option<u64>,
}

/// One `/v1/chat/completions` request with `model`, per-miner timeout 0.5 s.
async fn ask(gw: &Gateway, key: &str, model: &str) -> (Outcome, Value) {
    let t = Instant::now();
    let (status, _, v) = gw
        .post(
            "/v1/chat/completions",
            Some(key),
            &json!({"model": model, "timeout": 0.5,
                    "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    assert!(status == 200 || status == 502, "{model}: {status} {v}");
    let uid = v["choices"][0]["uid"].as_u64();
    (
        Outcome {
            ok: status == 200,
            ms,
            uid,
        },
        v,
    )
}

async fn ask_n(gw: &Gateway, key: &str, model: &str, n: usize) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(ask(gw, key, model).await.0);
    }
    out
}

fn quantile(outcomes: &[Outcome], q: f64) -> f64 {
    let mut ms: Vec<f64> = outcomes.iter().map(|o| o.ms).collect();
    ms.sort_by(f64::total_cmp);
    let rank = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
    ms[rank]
}

fn successes(outcomes: &[Outcome]) -> usize {
    outcomes.iter().filter(|o| o.ok).count()
}

/// `btvep miners --json`, by hotkey.
fn miners(home: &Home) -> Vec<Value> {
    home.cli_json(&["miners", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn miner(home: &Home, hotkey: &str) -> Value {
    miners(home)
        .into_iter()
        .find(|m| m["hotkey"] == hotkey)
        .unwrap_or_else(|| panic!("{hotkey} not in btvep miners"))
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// Polls `btvep miners` until `hotkey` is in `state` (bounded).
async fn wait_state(home: &Home, hotkey: &str, state: &str) -> Value {
    for _ in 0..60 {
        let m = miner(home, hotkey);
        if m["state"] == state {
            return m;
        }
        tokio::time::sleep(MS(50)).await;
    }
    panic!("{hotkey} never became {state}: {}", miner(home, hotkey));
}

/// Sends `best:1` requests one after another until `until`; all must succeed.
async fn best_until(gw: &Gateway, key: &str, until: DateTime<Utc>) -> usize {
    let mut n = 0;
    while Utc::now() < until {
        let (o, v) = ask(gw, key, "best:1").await;
        assert!(o.ok, "best:1 failed: {v}");
        n += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_routes_around_flaky_slow_and_dead_miners_and_cools_the_dead_one() {
    let d_alive = Arc::new(AtomicBool::new(false));
    let alive = d_alive.clone();
    let a = Miner::spawn(|n| {
        if n % 2 == 1 {
            Step::Fail(MS(20))
        } else {
            Step::Answer(MS(20))
        }
    })
    .await;
    let b = Miner::spawn(|_| Step::Answer(MS(20))).await;
    let c = Miner::spawn(|_| Step::Answer(MS(200))).await;
    let d = Miner::spawn(move |_| {
        if alive.load(Ordering::SeqCst) {
            Step::Answer(MS(20))
        } else {
            Step::Hang
        }
    })
    .await;
    let home = Home::new(json!({"cooling_max_seconds": 2}));
    home.metagraph(&[
        (0, a.hotkey.clone(), a.addr, 1.0),
        (1, b.hotkey.clone(), b.addr, 0.5),
        (2, c.hotkey.clone(), c.addr, 0.3),
        (3, d.hotkey.clone(), d.addr, 0.2),
    ]);
    let key = home.create_key(&[]);
    let gw = Gateway::start(&home);
    gw.ready().await;

    // Warm-up, then the measured run.
    let warm = ask_n(&gw, &key, "best:1", 50).await;
    let best = ask_n(&gw, &key, "best:1", 200).await;
    // B's own latency through the same gateway, and top_n:1 (A, the highest incentive).
    let own_b = ask_n(&gw, &key, "uids:1", 50).await;
    let top = ask_n(&gw, &key, "top_n:1", 100).await;

    let by_uid = |o: &[Outcome], uid| o.iter().filter(|x| x.uid == Some(uid)).count();
    println!(
        "warm-up best:1: {}/50 ok; best:1: {}/200 ok, median {:.1} ms, p90 {:.1} ms, answered by A/B/C/D {}/{}/{}/{}; \
         B alone (uids:1): median {:.1} ms; top_n:1: {}/100 ok",
        successes(&warm),
        successes(&best),
        quantile(&best, 0.5),
        quantile(&best, 0.9),
        by_uid(&best, 0),
        by_uid(&best, 1),
        by_uid(&best, 2),
        by_uid(&best, 3),
        quantile(&own_b, 0.5),
        successes(&top)
    );
    assert!(successes(&best) >= 198, "best:1 must succeed ≥ 99 %");
    assert!(
        quantile(&best, 0.5) <= 1.25 * quantile(&own_b, 0.5),
        "best:1's median must be within 25 % of B's own"
    );
    assert!(
        (40..=60).contains(&successes(&top)),
        "top_n:1 asks A alone: about half fail"
    );
    assert_eq!(successes(&own_b), 50);

    // D's first timeouts send it cooling (it may already be, from explorations).
    let mut asked = 0;
    while miner(&home, &d.hotkey)["state"] == "ok" {
        let (o, v) = ask(&gw, &key, "uids:3").await;
        assert!(!o.ok);
        assert_eq!(v["failed_responses"][0]["status_code"], 408, "{v}");
        asked += 1;
        assert!(asked <= 3, "D still ok after 3 timeouts in a row");
    }
    // `uids` ignore health: a cooling D is still asked when named.
    let before = d.hits().len();
    let (o, _) = ask(&gw, &key, "uids:3").await;
    assert!(!o.ok);
    assert_eq!(d.hits().len(), before + 1, "uids must ask a cooling miner");

    // Two cool-downs under continuous best:1 traffic: D is not asked until each ends, then probed
    // exactly once (the probe times out, so D cools again for twice as long, capped at 2 s).
    let mut previous_probe: Option<DateTime<Utc>> = None;
    for cycle in 0..2 {
        let m = wait_state(&home, &d.hotkey, "cooling").await;
        let until = time(&m["cooling_until"]);
        let hits_before = d.hits().len();
        let sent = best_until(&gw, &key, until + chrono::Duration::milliseconds(300)).await;
        let new: Vec<DateTime<Utc>> = d.hits()[hits_before..].to_vec();
        println!(
            "cool-down {cycle}: {sent} best:1 requests until {until} + 300 ms, D asked at {new:?}"
        );
        assert_eq!(new.len(), 1, "exactly one probe per cool-down");
        assert!(
            new[0] >= until - chrono::Duration::milliseconds(50),
            "D was asked at {} before its cool-down ended at {until}",
            new[0]
        );
        if let Some(p) = previous_probe {
            // 0.5 s timeout + the doubled cool-down (2 s) without a single request to D.
            assert!(
                new[0] - p >= chrono::Duration::milliseconds(2400),
                "{p} → {}",
                new[0]
            );
        }
        previous_probe = Some(new[0]);
    }

    // D recovers: its next probe succeeds and it is ok again.
    d_alive.store(true, Ordering::SeqCst);
    let m = wait_state(&home, &d.hotkey, "cooling").await;
    best_until(
        &gw,
        &key,
        time(&m["cooling_until"]) + chrono::Duration::milliseconds(300),
    )
    .await;
    let m = wait_state(&home, &d.hotkey, "ok").await;
    assert!(m["successes"].as_u64().unwrap() >= 1, "{m}");
    assert!(m["last_failure"]["status"] == 408, "{m}");
    let a_row = miner(&home, &a.hotkey);
    assert!(a_row["failures"].as_u64().unwrap() >= 45, "{a_row}");
    let table = home.cli(&["miners"]);
    println!("btvep miners:\n{}", String::from_utf8_lossy(&table.stdout));
    let stderr = gw.stderr.lock().unwrap().join("\n");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hedging_cuts_the_tail_of_an_occasionally_slow_miner() {
    // Each miner answers in 10 ms, except every twentieth request: 400 ms.
    let slow_one_in_20 = |n: u64| {
        if n % 20 == 19 {
            Step::Answer(MS(400))
        } else {
            Step::Answer(MS(10))
        }
    };
    let m0 = Miner::spawn(slow_one_in_20).await;
    let m1 = Miner::spawn(slow_one_in_20).await;
    let home = Home::new(json!({}));
    home.metagraph(&[
        (0, m0.hotkey.clone(), m0.addr, 1.0),
        (1, m1.hotkey.clone(), m1.addr, 0.5),
    ]);
    let key = home.create_key(&[]);
    let gw = Gateway::start(&home);
    gw.ready().await;

    ask_n(&gw, &key, "best:1", 40).await;
    let hedged = ask_n(&gw, &key, "best:1", 200).await;
    let out = home.cli(&["config", "set", "hedge_after_ms", "off"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = ask_n(&gw, &key, "best:1", 200).await;
    let p90 = miners(&home)
        .iter()
        .map(|m| m["p90_ms"].as_f64().unwrap())
        .fold(0.0, f64::max);
    println!(
        "hedge_after_ms auto: p50 {:.1} ms, p99 {:.1} ms; off: p50 {:.1} ms, p99 {:.1} ms; miners' p90 ≤ {p90:.1} ms",
        quantile(&hedged, 0.5),
        quantile(&hedged, 0.99),
        quantile(&plain, 0.5),
        quantile(&plain, 0.99)
    );
    assert_eq!(successes(&hedged), 200);
    assert_eq!(successes(&plain), 200);
    assert!(
        p90 < 100.0,
        "the slow answers lost their hedges: the p90 stays fast"
    );
    assert!(
        quantile(&plain, 0.99) >= 2.0 * quantile(&hedged, 0.99),
        "hedging must cut the p99 at least in half"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_survives_a_restart_and_unknown_miners_are_explored() {
    let b = Miner::spawn(|_| Step::Answer(MS(10))).await;
    let f = Miner::spawn(|_| Step::Fail(MS(5))).await;
    let home = Home::new(json!({}));
    home.metagraph(&[
        (0, b.hotkey.clone(), b.addr, 1.0),
        (1, f.hotkey.clone(), f.addr, 0.5),
    ]);
    let key = home.create_key(&[]);
    let mut gw = Gateway::start(&home);
    gw.ready().await;
    ask_n(&gw, &key, "best:1", 20).await;
    for _ in 0..3 {
        ask(&gw, &key, "uids:1").await;
    }

    // Live figures through the running server.
    let live = miners(&home);
    let row = |rows: &[Value], hk: &str| rows.iter().find(|m| m["hotkey"] == hk).cloned().unwrap();
    let (live_b, live_f) = (row(&live, &b.hotkey), row(&live, &f.hotkey));
    assert_eq!(live[0]["hotkey"], b.hotkey, "sorted by score: {live:?}");
    assert!(live_b["requests"].as_u64().unwrap() >= 19, "{live_b}");
    assert_eq!(live_f["state"], "cooling", "{live_f}");
    assert_eq!(live_f["last_failure"]["status"], 500, "{live_f}");
    let table = home.cli(&["miners"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("cooling") && text.contains(&b.hotkey[..6]),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&table.stderr).contains("live"));

    // /metrics: per-miner latency histograms; the dashboard's stats: the miners' states.
    let metrics = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!(
        "btvep_miner_latency_seconds_count{{uid=\"0\",hotkey=\"{}\"}}",
        b.hotkey
    );
    assert!(metrics.contains(&series), "{metrics}");
    let out = home.cli(&["config", "get", "admin_api_key", "--reveal"]);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let stats: Value = gw
        .http
        .get(gw.url("/admin/stats"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let f_stats = stats["miners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["uid"] == 1)
        .unwrap();
    assert_eq!(f_stats["state"], "cooling", "{stats}");
    let admin: Value = gw
        .http
        .get(gw.url("/admin/miners"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin.as_array().unwrap().len(), 2, "{admin}");

    // Backups carry the health.
    let file = home.path("backup.jsonl");
    let out = home.cli(&["backup", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["btvep_backup"], 2);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.get("miner_health").is_some())
            .count(),
        2
    );
    assert_eq!(lines.last().unwrap()["end"]["miners"], 2);

    // Stopped: the store holds what the server knew.
    assert!(gw.terminate().success());
    let stored = miners(&home);
    assert_eq!(row(&stored, &b.hotkey)["requests"], live_b["requests"]);
    assert_eq!(row(&stored, &f.hotkey)["state"], "cooling");
    assert_eq!(row(&stored, &f.hotkey)["failures"], live_f["failures"]);
    let table = home.cli(&["miners"]);
    assert!(String::from_utf8_lossy(&table.stderr).contains("last saved"));

    // Restarted with a new miner E in the subnet: the old figures are back, and E is explored.
    let e = Miner::spawn(|_| Step::Answer(MS(10))).await;
    home.metagraph(&[
        (0, b.hotkey.clone(), b.addr, 1.0),
        (1, f.hotkey.clone(), f.addr, 0.5),
        (2, e.hotkey.clone(), e.addr, 0.1),
    ]);
    let gw = Gateway::start(&home);
    gw.ready().await;
    let again = miners(&home);
    assert_eq!(row(&again, &b.hotkey)["requests"], live_b["requests"]);
    assert_eq!(row(&again, &f.hotkey)["failures"], live_f["failures"]);
    let answers = ask_n(&gw, &key, "best:1", 60).await;
    assert_eq!(successes(&answers), 60);
    assert!(!e.hits().is_empty(), "an unknown miner must be explored");
    let e_row = miner(&home, &e.hotkey);
    assert!(e_row["successes"].as_u64().unwrap() >= 1, "{e_row}");
    println!(
        "after the restart: E asked {} times in 60 best:1 requests; B {}",
        e.hits().len(),
        answers.iter().filter(|o| o.uid == Some(0)).count()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_strategy_names_are_clear_errors() {
    let b = Miner::spawn(|_| Step::Answer(MS(1))).await;
    let home = Home::new(json!({}));
    home.metagraph(&[(0, b.hotkey.clone(), b.addr, 1.0)]);
    let key = home.create_key(&[]);
    let gw = Gateway::start(&home);
    gw.ready().await;
    let msgs = json!([{"role": "user", "content": "hi"}]);
    for model in ["best:0", "best:x", "best:"] {
        let (s, _, v) = gw
            .post(
                "/v1/chat/completions",
                Some(&key),
                &json!({"model": model, "messages": msgs}),
            )
            .await;
        assert_eq!(s, 400, "{model}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("best:N"),
            "{v}"
        );
    }
    let (s, _, v) = gw
        .post(
            "/v1/chat/completions",
            Some(&key),
            &json!({"model": "best:2", "messages": msgs}),
        )
        .await;
    assert_eq!(s, 400, "more than serve: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("best:2 asks for 2 miners"),
        "{v}"
    );
    for strategy in ["best:0", "nope"] {
        let (s, _, v) = gw
            .post(
                "/chat",
                Some(&key),
                &json!({"strategy": strategy, "messages": msgs}),
            )
            .await;
        assert_eq!(s, 400, "{strategy}: {v}");
    }
    let (s, _, v) = gw
        .post(
            "/chat",
            Some(&key),
            &json!({"strategy": "best:1", "messages": msgs}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["choices"][0]["uid"], 0);
    let models: Value = gw
        .http
        .get(gw.url("/v1/models"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "best:1"),
        "{models}"
    );
    for (args, what) in [
        (
            &["key", "create", "--default-query-strategy", "best:0"][..],
            "best:0",
        ),
        (
            &["config", "set", "default_query_strategy", "best:x"][..],
            "best:x",
        ),
        (&["config", "set", "hedge_after_ms", "soon"][..], "soon"),
    ] {
        let out = home.cli(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(what) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}
