//! `btvep import`: the real binary imports the Python btvep fixture databases (written by the Python
//! btvep's own code, see tests/fixtures/python-btvep.expected.json) and the imported keys work on a real
//! `btvep start --devnet 2` on 127.0.0.1.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::gateway::{Gateway, Home};
use serde_json::{json, Value};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("python-btvep.expected.json")).unwrap())
        .unwrap()
}

/// The plaintext of the Python key with this id.
fn plaintext(id: u64) -> String {
    expected()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string()
}

fn import(home: &Home, args: &[&str]) -> Value {
    let mut a = vec!["import", "--json"];
    a.extend_from_slice(args);
    home.cli_json(&a)
}

/// Runs the CLI, expects a non-zero exit with one `error:` line and no panic; returns that line.
fn fails(home: &Home, args: &[&str]) -> String {
    let out: Output = home.cli(args);
    assert!(!out.status.success(), "btvep {args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "one error line: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "only one line: {err}");
    lines[0].to_string()
}

fn keys(home: &Home) -> Vec<Value> {
    home.cli_json(&["key", "list", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn logs(home: &Home, extra: &[&str]) -> Vec<Value> {
    let mut a = vec!["logs", "--json", "--lines", "100000"];
    a.extend_from_slice(extra);
    home.cli_json_lines(&a)
}

fn chat_body(text: &str) -> Value {
    json!({"uids": [0], "messages": [{"role": "user", "content": text}]})
}

/// Every column of every key, as the Python btvep stored it, is what btvep now holds.
fn assert_keys_match_expected(home: &Home) {
    let stored = keys(home);
    let exp = expected();
    for e in exp["keys"].as_array().unwrap() {
        let k = stored
            .iter()
            .find(|k| k["id"] == e["id"])
            .unwrap_or_else(|| panic!("key {} missing", e["id"]));
        for f in [
            "name",
            "credits",
            "valid_until",
            "enabled",
            "request_count",
            "api_request_count",
            "rate_limits",
            "default_query_strategy",
        ] {
            assert_eq!(k[f], e[f], "key {} field {f}", e["id"]);
        }
        for f in ["created_at", "updated_at"] {
            let t = chrono::DateTime::parse_from_rfc3339(k[f].as_str().unwrap()).unwrap();
            assert_eq!(t.timestamp(), e[f].as_i64().unwrap(), "key {} {f}", e["id"]);
        }
        let secret = e["api_key"].as_str().unwrap();
        assert_eq!(
            k["api_key_hint"],
            format!("...{}", &secret[secret.len() - 4..]),
            "the hint is recomputed"
        );
        let text = k.to_string();
        assert!(!text.contains(secret), "no plaintext is stored or shown");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_keys_work_on_a_devnet_as_before() {
    let home = Home::new(json!({}));
    let s = import(
        &home,
        &[
            fixture("python-btvep.db").to_str().unwrap(),
            "--python-config",
            fixture("python-btvep.config.json").to_str().unwrap(),
        ],
    );
    let db = &s["database"];
    assert_eq!(db["shape"], "repository");
    assert_eq!(db["keys"]["imported"], 9);
    assert_eq!(db["keys"]["renumbered"], 0);
    assert_eq!(db["requests"]["imported"], 51);
    assert_eq!(db["requests"]["without_key"], 0);
    assert_eq!(db["users_not_imported"], 2);
    let warned: Vec<u64> = db["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_u64().unwrap())
        .collect();
    assert_eq!(warned, vec![8, 9], "the key-edit bug victims are listed");
    let cfg = &s["config"];
    let changed: Vec<&str> = cfg["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert!(changed.contains(&"rate_limiting_enabled"), "{cfg}");
    assert!(changed.contains(&"global_rate_limits"), "{cfg}");
    let ignored: Vec<&str> = cfg["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert!(ignored.contains(&"redis_url") && ignored.contains(&"auth0_domain"));
    let printed = s.to_string();
    assert!(
        !printed.contains("pact photo"),
        "the mnemonic is never printed"
    );
    for e in expected()["keys"].as_array().unwrap() {
        assert!(!printed.contains(e["api_key"].as_str().unwrap()));
    }
    assert_keys_match_expected(&home);
    assert_eq!(
        home.cli_json(&["config", "get", "rate_limiting_enabled", "--json"])["value"],
        json!(true)
    );

    let gw = Gateway::start_with(&home, &["--devnet", "2"]);
    gw.ready().await;

    // An unlimited key answers on /chat and on /v1.
    let k1 = plaintext(1);
    let (st, _, v) = gw.post("/chat", Some(&k1), &chat_body("hello")).await;
    assert_eq!(st, 200, "{v}");
    let (st, _, v) = gw
        .post(
            "/v1/chat/completions",
            Some(&k1),
            &json!({"model": "uids:1", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(v["choices"][0]["message"]["content"].is_string(), "{v}");

    // Disabled, expired, and "disabled" by the Python CLI bug (valid_until 0): refused as before.
    for (id, code) in [
        (5, "API key is disabled"),
        (3, "API key has expired"),
        (9, "API key has expired"),
    ] {
        let (st, _, v) = gw
            .post("/chat", Some(&plaintext(id)), &chat_body("x"))
            .await;
        assert_eq!(st, 401, "key {id}: {v}");
        assert!(v.to_string().contains(code), "key {id}: {v}");
    }

    // Credits are debited from the imported balance.
    let (st, _, v) = gw
        .post("/chat", Some(&plaintext(2)), &chat_body("pay"))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        home.cli_json(&["key", "show", "2", "--json"])["credits"],
        989
    );

    // The key's own limits (10 per 60 s) apply, not the global 100 per 60 s.
    let k6 = plaintext(6);
    for i in 0..10 {
        let (st, _, v) = gw.post("/chat", Some(&k6), &chat_body("again")).await;
        assert_eq!(st, 200, "request {i}: {v}");
    }
    let (st, headers, v) = gw.post("/chat", Some(&k6), &chat_body("too many")).await;
    assert_eq!(st, 429, "{v}");
    assert!(headers.contains_key("retry-after"));

    // The imported history is found by key and by miner, next to the new records.
    let hist = logs(&home, &["--key", "1"]);
    let old: Vec<&Value> = hist
        .iter()
        .filter(|r| r["timestamp"].as_str().unwrap() < "2024")
        .collect();
    assert_eq!(old.len(), 15, "{hist:?}");
    assert!(hist.len() > 15, "new records too");
    assert!(old.iter().all(|r| r["api_key_id"] == 1));
    assert!(
        old.iter()
            .any(|r| r["prompt"] == "¿Cuál es la capital de Australia?"),
        "prompts are decoded: {old:?}"
    );
    let by_key6 = logs(&home, &["--key", &k6, "--end", "2024-01-01"]);
    assert_eq!(by_key6.len(), 6, "4 answers + 2 429 rows");
    assert_eq!(
        by_key6
            .iter()
            .filter(|r| r["api_error"] == "RateLimitExceeded")
            .count(),
        2
    );
    let hot = logs(
        &home,
        &[
            "--responder-hotkey",
            "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV",
            "--key",
            "2",
        ],
    );
    assert_eq!(hot.len(), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_goes_through_a_running_server_and_works_at_once() {
    let home = Home::new(json!({}));
    let gw = Gateway::start_with(&home, &["--devnet", "2"]);
    gw.ready().await;
    // The devnet created its own key (id 1), so the Python key 1 gets a new id.
    let s = import(&home, &[fixture("python-btvep.db").to_str().unwrap()]);
    let db = &s["database"];
    assert_eq!(db["keys"]["imported"], 9);
    assert!(db["keys"]["renumbered"].as_u64().unwrap() >= 1, "{db}");
    let new_id = db["key_ids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["source_id"] == 1)
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    assert_ne!(new_id, 1);
    assert_eq!(db["key_ids"][1]["status"], "imported", "{db}");
    let (st, _, v) = gw
        .post("/chat", Some(&plaintext(1)), &chat_body("right away"))
        .await;
    assert_eq!(st, 200, "{v}");
    let hist = logs(&home, &["--key", &new_id.to_string()]);
    assert_eq!(hist.len(), 16, "15 imported + this one");
    // A second run through the server imports nothing twice.
    let again = import(&home, &[fixture("python-btvep.db").to_str().unwrap()]);
    assert_eq!(again["database"]["keys"]["already_present"], 9);
    assert_eq!(again["database"]["requests"]["already_present"], 51);
    assert_eq!(again["database"]["requests"]["imported"], 0);
    assert_eq!(keys(&home).len(), 10);
}

#[test]
fn dry_run_changes_nothing_and_a_second_run_imports_nothing_twice() {
    let home = Home::new(json!({}));
    let db = fixture("python-btvep.db");
    let db = db.to_str().unwrap();
    let cfg = fixture("python-btvep.config.json");
    let before_cfg = std::fs::read_to_string(home.path("config.json")).unwrap();
    let dry = import(
        &home,
        &[db, "--dry-run", "--python-config", cfg.to_str().unwrap()],
    );
    assert_eq!(dry["database"]["dry_run"], true);
    assert_eq!(dry["database"]["keys"]["imported"], 9);
    assert_eq!(dry["database"]["requests"]["imported"], 51);
    assert!(!dry["config"]["changed"].as_array().unwrap().is_empty());
    assert!(keys(&home).is_empty());
    assert!(logs(&home, &[]).is_empty());
    assert_eq!(
        std::fs::read_to_string(home.path("config.json")).unwrap(),
        before_cfg
    );
    let out = home.cli(&["import", db, "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("nothing was changed") && text.contains("ids 1-9"),
        "{text}"
    );

    let first = import(&home, &[db]);
    assert_eq!(first["database"]["keys"]["imported"], 9);
    let second = import(&home, &[db]);
    assert_eq!(second["database"]["keys"]["imported"], 0);
    assert_eq!(second["database"]["keys"]["already_present"], 9);
    assert_eq!(second["database"]["requests"]["imported"], 0);
    assert_eq!(second["database"]["requests"]["already_present"], 51);
    assert_eq!(keys(&home).len(), 9);
    assert_eq!(logs(&home, &[]).len(), 51);

    // --update overwrites a key that changed since, instead of skipping it.
    home.cli_json(&["key", "edit", "2", "--credits", "5", "--json"]);
    let kept = import(&home, &[db]);
    assert_eq!(kept["database"]["keys"]["already_present"], 9);
    assert_eq!(home.cli_json(&["key", "show", "2", "--json"])["credits"], 5);
    let updated = import(&home, &[db, "--update"]);
    assert_eq!(updated["database"]["keys"]["updated"], 9);
    assert_eq!(
        home.cli_json(&["key", "show", "2", "--json"])["credits"],
        990
    );
    assert_keys_match_expected(&home);
    assert_eq!(logs(&home, &[]).len(), 51);
}

#[test]
fn taken_ids_are_renumbered_and_reported() {
    let home = Home::new(json!({}));
    home.create_key(&["--name", "mine"]);
    home.create_key(&["--name", "mine too"]);
    let s = import(&home, &[fixture("python-btvep.db").to_str().unwrap()]);
    let ids: Vec<(i64, u64, String)> = s["database"]["key_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["source_id"].as_i64().unwrap(),
                o["id"].as_u64().unwrap(),
                o["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ids[0], (1, 10, "renumbered".into()));
    assert_eq!(ids[1], (2, 11, "renumbered".into()));
    assert_eq!(ids[2], (3, 3, "imported".into()));
    assert_eq!(logs(&home, &["--key", "10"]).len(), 15);
    assert_eq!(logs(&home, &["--key", "1"]).len(), 0);
    let out = home.cli(&[
        "import",
        fixture("python-btvep.db").to_str().unwrap(),
        "--dry-run",
    ]);
    assert!(out.status.success());
    // a new key after the import gets an id no imported key has
    let created = home.cli_json(&["key", "create", "--json"]);
    assert_eq!(created["id"], 12);
}

#[test]
fn the_released_0_2_0_database_imports() {
    let home = Home::new(json!({}));
    let s = import(&home, &[fixture("python-btvep-0.2.0.db").to_str().unwrap()]);
    assert_eq!(s["database"]["shape"], "release020");
    assert_eq!(s["database"]["keys"]["imported"], 2);
    let k = home.cli_json(&["key", "show", "1", "--json"]);
    assert_eq!(k["credits"], 120);
    assert_eq!(k["rate_limits"], json!([{"times": 20, "seconds": 60}]));
    assert_eq!(k["default_query_strategy"], Value::Null);
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("python-btvep-0.2.0.expected.json")).unwrap(),
    )
    .unwrap();
    let secret = exp["keys"][0]["api_key"].as_str().unwrap();
    assert_eq!(home.cli_json(&["key", "show", secret, "--json"])["id"], 1);
    assert_eq!(
        home.cli_json(&["key", "show", "2", "--json"])["valid_until"],
        exp["keys"][1]["valid_until"]
    );
}

/// A copy of the fixture database, changed by `sql`.
fn altered(dir: &Path, sql: &str) -> PathBuf {
    let p = dir.join("altered.db");
    std::fs::copy(fixture("python-btvep.db"), &p).unwrap();
    let mut perm = std::fs::metadata(&p).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&p, perm).unwrap();
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(sql).unwrap();
    p
}

#[test]
fn bad_input_gets_one_line_and_changes_nothing() {
    let home = Home::new(json!({}));
    let dir = tempfile::tempdir().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();

    let missing = dir.path().join("nope.db");
    let e = fails(&home, &["import", &s(&missing)]);
    assert!(e.contains("cannot read") && e.contains("nope.db"), "{e}");

    let e = fails(&home, &["import", &s(dir.path())]);
    assert!(e.contains("is a directory"), "{e}");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "this is not a database\n").unwrap();
    let e = fails(&home, &["import", &s(&text)]);
    assert!(e.contains("is not an SQLite database"), "{e}");
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let e = fails(&home, &["import", &s(&empty)]);
    assert!(e.contains("is not an SQLite database"), "{e}");

    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER);")
        .unwrap();
    let e = fails(&home, &["import", &s(&other)]);
    assert!(
        e.contains("is not a Python btvep database") && e.contains("no 'apikey' table"),
        "{e}"
    );

    let no_credits = altered(dir.path(), "ALTER TABLE apikey DROP COLUMN credits;");
    let e = fails(&home, &["import", &s(&no_credits)]);
    assert!(e.contains("table 'apikey' has no 'credits' column"), "{e}");
    let no_request = altered(dir.path(), "DROP TABLE request;");
    let e = fails(&home, &["import", &s(&no_request)]);
    assert!(e.contains("no 'request' table"), "{e}");

    // Unreadable (skipped when running as root, who reads anything).
    let locked = dir.path().join("locked.db");
    std::fs::copy(fixture("python-btvep.db"), &locked).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    if std::fs::read(&locked).is_err() {
        let e = fails(&home, &["import", &s(&locked)]);
        assert!(e.contains("cannot read"), "{e}");
    }

    // Impossible values: every bad row is named, nothing is imported...
    let bad = altered(
        dir.path(),
        "UPDATE apikey SET credits = -5 WHERE id = 2;
         UPDATE apikey SET rate_limits = '[{\"times\": 10' WHERE id = 4;
         UPDATE request SET timestamp = 'yesterday' WHERE id = 1;",
    );
    let e = fails(&home, &["import", &s(&bad)]);
    assert!(e.contains("3 row(s)"), "{e}");
    assert!(e.contains("apikey 2: credits -5 is below -1"), "{e}");
    assert!(e.contains("apikey 4: rate_limits is not JSON"), "{e}");
    assert!(e.contains("request 1: timestamp"), "{e}");
    assert!(e.contains("--skip-bad-rows"), "{e}");
    let e = fails(&home, &["import", &s(&bad), "--dry-run"]);
    assert!(e.contains("3 row(s)"), "{e}");

    // A bad Python config stops the run before the database is read.
    let cfg = dir.path().join("config.json");
    std::fs::write(
        &cfg,
        r#"{"global_rate_limits": "[{\"times\": 0, \"seconds\": 9}]"}"#,
    )
    .unwrap();
    let e = fails(
        &home,
        &[
            "import",
            &s(&fixture("python-btvep.db")),
            "--python-config",
            &s(&cfg),
        ],
    );
    assert!(e.contains("invalid value for global_rate_limits"), "{e}");
    std::fs::write(&cfg, "{not json").unwrap();
    let e = fails(
        &home,
        &[
            "import",
            &s(&fixture("python-btvep.db")),
            "--python-config",
            &s(&cfg),
        ],
    );
    assert!(e.contains("not JSON"), "{e}");
    std::fs::write(
        &cfg,
        r#"{"hotkey_mnemonic": "pact photo material cake neck asset home broken decade jealous piece piece"}"#,
    )
    .unwrap();
    let e = fails(
        &home,
        &[
            "import",
            &s(&fixture("python-btvep.db")),
            "--python-config",
            &s(&cfg),
        ],
    );
    assert!(e.contains("hotkey_mnemonic") && !e.contains("pact"), "{e}");

    assert!(keys(&home).is_empty(), "nothing was imported");
    assert!(logs(&home, &[]).is_empty());

    // ...unless --skip-bad-rows: the rest is imported, with the rows of the bad keys left out.
    let s = import(&home, &[&s(&bad), "--skip-bad-rows"]);
    let db = &s["database"];
    assert_eq!(db["keys"]["imported"], 7);
    assert_eq!(db["keys"]["bad"], 2);
    assert_eq!(db["bad_rows_total"], 3);
    assert_eq!(db["requests"]["bad"], 1);
    assert_eq!(db["requests"]["of_bad_keys"], 13 + 5);
    assert_eq!(db["requests"]["imported"], 51 - 1 - 18);
    assert_eq!(keys(&home).len(), 7);
    assert!(home
        .cli(&["key", "show", &plaintext(2), "--json"])
        .status
        .code()
        .is_some_and(|c| c != 0));
}

#[test]
fn history_of_deleted_keys_is_imported_without_a_key() {
    let home = Home::new(json!({}));
    let dir = tempfile::tempdir().unwrap();
    let db = altered(dir.path(), "DELETE FROM apikey WHERE id = 7;");
    let s = import(&home, &[db.to_str().unwrap()]);
    assert_eq!(s["database"]["keys"]["imported"], 8);
    assert_eq!(s["database"]["requests"]["imported"], 51);
    assert_eq!(s["database"]["requests"]["without_key"], 8);
    let out = home.cli(&["import", db.to_str().unwrap(), "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 would be imported") || text.contains("already present"),
        "{text}"
    );
    let all = logs(&home, &[]);
    assert_eq!(all.iter().filter(|r| r["api_key_id"].is_null()).count(), 8);
}
