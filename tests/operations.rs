//! Running btvep for months: backups taken under load and restored, store format upgrades and refusals,
//! the mnemonic read from a credential file. The real binary, on 127.0.0.1.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::gateway::{Gateway, Home};
use serde_json::{json, Value};

fn user(content: &str) -> Value {
    json!({"messages": [{"role": "user", "content": content}]})
}

fn backup_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_under_load_restores_the_same_keys_and_balances() {
    let home = Home::new(json!({}));
    let gw = Gateway::start_with(&home, &["--devnet", "2"]);
    gw.ready().await;
    let mut keys = Vec::new();
    for i in 0..8 {
        let secret = home.create_key(&["-c", "1000", "-n", &format!("customer {i}")]);
        keys.push(secret);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for k in keys.clone() {
        let (http, url, stop) = (gw.http.clone(), gw.url("/chat"), stop.clone());
        load.push(tokio::spawn(async move {
            let mut ok = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let r = http
                    .post(&url)
                    .bearer_auth(&k)
                    .json(&user("hi"))
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status() == 200) {
                    ok += 1;
                }
            }
            ok
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let file = home.path("backup.jsonl");
    let out = home.cli(&["backup", file.to_str().unwrap(), "--with-logs"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut served = 0;
    for l in load {
        served += l.await.unwrap();
    }
    assert!(served > 0);
    let lines = backup_lines(&file);
    // the devnet's miners answered: their health is in the backup (format 2)
    assert_eq!(lines[0]["btvep_backup"], 2);
    assert!(lines.iter().any(|l| l.get("miner_health").is_some()));
    let backed: Vec<&Value> = lines.iter().filter_map(|l| l.get("key")).collect();
    // eight customers and the devnet's own key
    assert_eq!(backed.len(), 9);
    let end = lines.last().unwrap()["end"].clone();
    assert_eq!(end["keys"], 9);
    // the snapshot lies between the start (1000 each) and the end of the load
    let now: Vec<Value> = home
        .cli_json(&["key", "list", "--json"])
        .as_array()
        .unwrap()
        .clone();
    for k in &backed {
        let live = now.iter().find(|n| n["id"] == k["id"]).unwrap();
        let (snap, last) = (
            k["credits"].as_i64().unwrap(),
            live["credits"].as_i64().unwrap(),
        );
        assert!(
            (last..=1000).contains(&snap),
            "key {}: {snap} not in {last}..=1000",
            k["id"]
        );
    }
    // no secret or plaintext key in the file beyond the hashes the store keeps
    let text = std::fs::read_to_string(&file).unwrap();
    for k in &keys {
        assert!(!text.contains(k.as_str()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // the backup cannot be restored while the server runs
    let out = home.cli(&["restore", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop it before restoring"));
    drop(gw);

    // restore into a fresh data dir: the same keys answer, with the snapshot's balances
    let fresh = Home::new(json!({}));
    let out = fresh.cli(&["restore", file.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["keys"], 9);
    // … and the miners' health
    let miners = lines
        .iter()
        .filter(|l| l.get("miner_health").is_some())
        .count();
    assert_eq!(summary["miners"], miners);
    assert_eq!(
        fresh
            .cli_json(&["miners", "--json"])
            .as_array()
            .unwrap()
            .len(),
        miners
    );
    let restored: Vec<Value> = fresh
        .cli_json(&["key", "list", "--json"])
        .as_array()
        .unwrap()
        .clone();
    for k in &backed {
        let r = restored.iter().find(|n| n["id"] == k["id"]).unwrap();
        for field in [
            "credits",
            "name",
            "valid_until",
            "enabled",
            "rate_limits",
            "api_request_count",
        ] {
            assert_eq!(r[field], k[field], "{field} of key {}", k["id"]);
        }
    }
    let first = restored
        .iter()
        .find(|n| n["name"] == "customer 0")
        .unwrap()
        .clone();
    let gw = Gateway::start_with(&fresh, &["--devnet", "1"]);
    gw.ready().await;
    let (s, _, v) = gw.post("/chat", Some(&keys[0]), &user("restored?")).await;
    assert_eq!(s, 200, "{v}");
    let after = fresh.cli_json(&["key", "show", &first["id"].to_string(), "--json"]);
    assert_eq!(
        after["credits"].as_i64().unwrap(),
        first["credits"].as_i64().unwrap() - 1
    );
    let logs = fresh.cli_json_lines(&["logs", "--lines", "100000", "--json"]);
    assert!(logs.len() as u64 >= end["logs"].as_u64().unwrap());
    drop(gw);

    let before = fresh.cli_json(&["key", "list", "--json"]);
    // a second restore into the now non-empty dir needs --force; a truncated file is refused whole
    let out = fresh.cli(&["restore", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let cut = fresh.path("cut.jsonl");
    let all = std::fs::read_to_string(&file).unwrap();
    let keep: Vec<&str> = all.lines().take(5).collect();
    std::fs::write(&cut, keep.join("\n")).unwrap();
    let out = fresh.cli(&["restore", cut.to_str().unwrap(), "--force"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated"), "{err}");
    // and the store is as it was
    assert_eq!(fresh.cli_json(&["key", "list", "--json"]), before);
}

#[test]
fn an_older_store_is_upgraded_with_a_backup_and_a_newer_one_refused() {
    let home = Home::new(json!({}));
    let id = home.cli_json(&["key", "create", "-c", "5", "--json"])["id"]
        .as_u64()
        .unwrap();
    let db_path = home.path("data").join("db");
    // make it a format-1 store: written before the version was recorded
    {
        let db = sled::open(&db_path).unwrap();
        let meta = db.open_tree("meta").unwrap();
        assert!(meta.remove("format_version").unwrap().is_some());
        db.flush().unwrap();
    }
    let out = home.cli(&["key", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(keys[0]["id"], id);
    assert!(String::from_utf8_lossy(&out.stderr).contains("from format 1 to 2"));
    let backups: Vec<_> = std::fs::read_dir(home.path("data").join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1);
    let lines = backup_lines(&backups[0]);
    assert_eq!(lines.iter().filter(|l| l.get("key").is_some()).count(), 1);
    {
        let db = sled::open(&db_path).unwrap();
        let meta = db.open_tree("meta").unwrap();
        let v = meta.get("format_version").unwrap().unwrap();
        assert_eq!(u64::from_be_bytes(v.as_ref().try_into().unwrap()), 2);
        // now pretend a future btvep wrote it
        meta.insert("format_version", &99u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let out = home.cli(&["key", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("store format 99") && err.contains("store format 2 at most"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mnemonic_can_come_from_a_credential_file() {
    let home = Home::new(json!({}));
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(home.path("config.json")).unwrap()).unwrap();
    let phrase = config["hotkey_mnemonic"].as_str().unwrap().to_string();
    config.as_object_mut().unwrap().remove("hotkey_mnemonic");
    std::fs::write(home.path("config.json"), config.to_string()).unwrap();
    std::fs::write(home.path("mnemonic"), format!("{phrase}\n")).unwrap();
    let mut cmd = home.command(&["start", "--host", "127.0.0.1", "--port", "0"]);
    cmd.env("BTVEP_HOTKEY_MNEMONIC_FILE", home.path("mnemonic"));
    let gw = Gateway::spawn(cmd);
    let log = gw.stderr.lock().unwrap().join("\n");
    assert!(log.contains("(from hotkey_mnemonic_file"), "{log}");
    assert!(!log.contains(&phrase));
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_prune_goes_through_the_running_server_and_text_policy_applies() {
    let home = Home::new(json!({"log_store_text": "none"}));
    let gw = Gateway::start_with(&home, &["--devnet", "1"]);
    gw.ready().await;
    let key = home.create_key(&[]);
    for _ in 0..3 {
        assert_eq!(gw.post("/chat", Some(&key), &user("private")).await.0, 200);
    }
    let logs = home.cli_json_lines(&["logs", "--key", &key, "--json"]);
    assert_eq!(logs.len(), 3);
    assert!(logs
        .iter()
        .all(|r| r["prompt"].is_null() && r["response"].is_null()));
    assert!(logs.iter().all(|r| r["is_success"] == true));
    // records become older than 1 s
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let dry = home.cli_json(&["logs", "prune", "--older-than", "1s", "--dry-run", "--json"]);
    assert_eq!(dry["removed"], 3);
    assert_eq!(home.cli_json_lines(&["logs", "--json"]).len(), 3);
    let done = home.cli_json(&["logs", "prune", "--older-than", "1s", "--json"]);
    assert_eq!(done, json!({"removed": 3, "remaining": 0}));
    assert!(home
        .cli_json_lines(&["logs", "--key", &key, "--json"])
        .is_empty());
    let out = home.cli(&["logs", "prune", "--older-than", "soon"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot understand the age"));
}
