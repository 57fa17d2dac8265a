//! Black-box tests of the operator CLI: the real `btvep` binary against a temp config file and data dir.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use serde_json::Value;

const MNEMONIC: &str =
    "pact photo material cake neck asset home broken decade jealous piece pistol";

/// A temp config file + data dir, and a way to run the binary against them.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_btvep"));
        c.args(args)
            .env("BTVEP_CONFIG", self.config_path())
            .env("BTVEP_DATA_DIR", self.data_dir())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG");
        for spec in btvep::config::KEYS {
            c.env_remove(spec.env);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = self.command(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdin(Stdio::null()).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "btvep {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("btvep {args:?}: not JSON ({e}): {out}"))
    }

    /// Runs and expects a one-line error with a non-zero exit; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "btvep {args:?} should fail");
        one_line_error(&out)
    }
}

fn one_line_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "error should be one line: {err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    err
}

#[test]
fn config_lists_every_key_with_its_source() {
    let env = Env::new();
    let v = env.json(&["config", "--json"]);
    for spec in btvep::config::KEYS {
        assert_eq!(v[spec.name]["source"], "default", "{}", spec.name);
    }
    assert_eq!(v["netuid"]["value"], 1);
    assert_eq!(v["default_query_strategy"]["value"], "uids:0");
    assert_eq!(v["miner_timeout"]["value"], 12);
    assert_eq!(v["subtensor_network"]["value"], "finney");
    let table = env.ok(&["config"]);
    assert!(
        table.contains("| netuid") && table.contains("default"),
        "{table}"
    );
    assert!(!table.contains('─'), "no box drawing when piped");
}

#[test]
fn precedence_default_file_env_flag() {
    let env = Env::new();
    std::fs::write(
        env.config_path(),
        r#"{"netuid": 3, "miner_timeout": 20, "port": 9000}"#,
    )
    .unwrap();
    let get = |key: &str, extra: &[&str], vars: &[(&str, &str)]| -> Value {
        let mut args = vec!["config", "get", key, "--json"];
        args.extend_from_slice(extra);
        let out = env.run_env(&args, vars);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = get("metagraph_refresh_seconds", &[], &[]);
    assert_eq!(
        (v["value"].clone(), v["source"].clone()),
        (60.into(), "default".into())
    );
    let v = get("netuid", &[], &[]);
    assert_eq!(
        (v["value"].clone(), v["source"].clone()),
        (3.into(), "file".into())
    );
    let v = get("miner_timeout", &[], &[("BTVEP_MINER_TIMEOUT", "30")]);
    assert_eq!(
        (v["value"].clone(), v["source"].clone()),
        (30.into(), "env".into())
    );
    let v = get("port", &["--set", "port=9200"], &[("BTVEP_PORT", "9100")]);
    assert_eq!(
        (v["value"].clone(), v["source"].clone()),
        (9200.into(), "flag".into())
    );
    // btvep's own environment names
    let v = get(
        "rate_limiting_enabled",
        &[],
        &[("RATE_LIMITING_ENABLED", "true")],
    );
    assert_eq!(v["value"], true);
    let v = get(
        "global_rate_limits",
        &[],
        &[("GLOBAL_RATE_LIMITS", r#"[{"times":2,"seconds":5}]"#)],
    );
    assert_eq!(v["value"], serde_json::json!([{"times": 2, "seconds": 5}]));
    // a bad env value names the variable
    let out = env.run_env(&["config"], &[("OPENAI_FILTER_ENABLED", "perhaps")]);
    assert!(one_line_error(&out).contains("OPENAI_FILTER_ENABLED"));
}

#[test]
fn config_set_type_checks_and_validates() {
    let env = Env::new();
    env.ok(&["config", "set", "rate_limiting_enabled", "true"]);
    env.ok(&["config", "set", "netuid", "18"]);
    env.ok(&[
        "config",
        "set",
        "global_rate_limits",
        r#"[{"times": 10, "seconds": 60}]"#,
    ]);
    env.ok(&["config", "set", "default_query_strategy", "top_n:5"]);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(env.config_path()).unwrap()).unwrap();
    assert_eq!(file["rate_limiting_enabled"], true);
    assert_eq!(file["netuid"], 18);
    assert_eq!(file["default_query_strategy"], "top_n:5");

    assert!(env
        .fails(&["config", "set", "netuid", "eighteen"])
        .contains("whole number"));
    assert!(env
        .fails(&["config", "set", "netuid", "70000"])
        .contains("out of range"));
    assert!(env
        .fails(&["config", "set", "rate_limiting_enabled", "maybe"])
        .contains("true or false"));
    assert!(env
        .fails(&[
            "config",
            "set",
            "global_rate_limits",
            "[{\"times\": 0, \"seconds\": 1}]"
        ])
        .contains("at least 1"));
    assert!(env
        .fails(&["config", "set", "default_query_strategy", "best:0"])
        .contains("invalid query strategy"));
    assert!(env
        .fails(&["config", "set", "default_query_strategy", "fastest:3"])
        .contains("invalid query strategy"));
    env.ok(&["config", "set", "default_query_strategy", "best:3"]);
    assert!(env
        .fails(&["config", "set", "hedge_after_ms", "soon"])
        .contains("invalid hedge_after_ms"));
    env.ok(&["config", "set", "hedge_after_ms", "off"]);
    env.ok(&["config", "set", "hedge_after_ms", "250"]);
    assert!(env
        .fails(&["config", "set", "subtensor_network", "mars"])
        .contains("ws://"));
    let err = env.fails(&["config", "set", "no_such_key", "1"]);
    assert!(
        err.contains("unknown config key 'no_such_key'") && err.contains("hotkey_mnemonic"),
        "{err}"
    );
    let err = env.fails(&["config", "get", "no_such_key"]);
    assert!(err.contains("valid keys"), "{err}");
}

#[test]
fn mnemonic_is_validated_masked_and_file_is_private() {
    let env = Env::new();
    let bad = "pact photo material cake neck asset home broken decade jealous piece piece";
    let err = env.fails(&["config", "set", "hotkey_mnemonic", bad]);
    assert!(err.contains("checksum") && !err.contains("pact"), "{err}");
    assert!(env
        .fails(&["config", "set", "hotkey_mnemonic", "pact photo"])
        .contains("12, 15, 18, 21 or 24 words"));

    let out = env.run(&["config", "set", "hotkey_mnemonic", MNEMONIC]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("pact"));
    for args in [
        vec!["config"],
        vec!["config", "--json"],
        vec!["config", "get", "hotkey_mnemonic"],
    ] {
        let shown = env.ok(&args);
        assert!(
            shown.contains("********") && !shown.contains("pact"),
            "{args:?}: {shown}"
        );
    }
    assert_eq!(
        env.ok(&["config", "get", "hotkey_mnemonic", "--reveal"])
            .trim(),
        MNEMONIC
    );

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.config_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn mnemonic_can_come_from_stdin() {
    let env = Env::new();
    let mut child = env
        .command(&["config", "set", "hotkey_mnemonic"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("  {MNEMONIC}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.ok(&["config", "get", "hotkey_mnemonic", "--reveal"])
            .trim(),
        MNEMONIC
    );
    env.ok(&["config", "unset", "hotkey_mnemonic"]);
    assert_eq!(
        env.json(&["config", "get", "hotkey_mnemonic", "--json"])["source"],
        "default"
    );
}

#[test]
fn corrupt_config_file_is_one_line_error_naming_it() {
    let env = Env::new();
    std::fs::write(env.config_path(), "{ this is not json").unwrap();
    let err = env.fails(&["config"]);
    assert!(
        err.contains(&env.config_path().display().to_string()) && err.contains("corrupt"),
        "{err}"
    );
    assert!(env.fails(&["ratelimit", "status"]).contains("corrupt"));
    std::fs::write(env.config_path(), r#"{"netuid": "one"}"#).unwrap();
    let err = env.fails(&["config"]);
    assert!(err.contains("netuid"), "{err}");
}

#[test]
fn keys_create_list_edit_delete() {
    let env = Env::new();
    let created = env.json(&["key", "create", "-n", "alice", "-c", "10", "--json"]);
    let secret = created["api_key"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("btvep-") && secret.len() == 6 + 64,
        "{secret}"
    );
    assert_eq!(created["id"], 1);
    assert_eq!(created["name"], "alice");
    assert_eq!(created["credits"], 10);
    assert_eq!(created["valid_until"], -1);
    assert_eq!(created["enabled"], true);
    assert_eq!(
        created["api_key_hint"],
        format!("...{}", &secret[secret.len() - 4..])
    );

    let quiet = env.ok(&[
        "key",
        "create",
        "-q",
        "-d",
        "--default-query-strategy",
        "uids:1,2",
    ]);
    let second = quiet.trim();
    assert!(second.starts_with("btvep-"));

    let list = env.json(&["key", "list", "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let text = serde_json::to_string(list).unwrap();
    assert!(
        !text.contains(&secret) && !text.contains("api_key_hash") && !text.contains("\"api_key\"")
    );
    for field in [
        "id",
        "api_key_hint",
        "name",
        "request_count",
        "api_request_count",
        "valid_until",
        "credits",
        "enabled",
        "rate_limits",
        "default_query_strategy",
        "created_at",
        "updated_at",
    ] {
        assert!(list[0].get(field).is_some(), "missing {field}");
    }
    assert_eq!(list[1]["enabled"], false);
    assert_eq!(list[1]["default_query_strategy"], "uids:1,2");

    let table = env.ok(&["key", "list"]);
    assert!(
        table.contains("alice")
            && table.contains(&created["api_key_hint"].as_str().unwrap().to_string())
    );
    assert!(!table.contains(&secret));

    // edit by full key and by id
    let edited = env.json(&[
        "key",
        "edit",
        &secret,
        "--name",
        "bob",
        "--credits",
        "-1",
        "--disable",
        "--request-count",
        "7",
        "--valid-until",
        "2030-01-01",
        "--default-query-strategy",
        "top_n:4",
        "--json",
    ]);
    assert_eq!(edited["name"], "bob");
    assert_eq!(edited["credits"], -1);
    assert_eq!(edited["enabled"], false);
    assert_eq!(edited["request_count"], 7);
    assert_eq!(edited["valid_until"], 1_893_456_000);
    assert_eq!(edited["default_query_strategy"], "top_n:4");
    let edited = env.json(&[
        "key",
        "edit",
        "1",
        "--enable",
        "--default-query-strategy",
        "none",
        "--valid-until",
        "false",
        "--json",
    ]);
    assert_eq!(edited["enabled"], true);
    assert_eq!(edited["default_query_strategy"], Value::Null);
    assert_eq!(edited["valid_until"], -1);

    // natural-language expiry, printed as understood
    let out = env.run(&["key", "edit", "1", "-v", "tomorrow", "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(v["valid_until"], tomorrow.timestamp());
    assert!(String::from_utf8_lossy(&out.stderr).contains("valid until: "));
    let v = env.json(&["key", "edit", "1", "-v", "in 10 days", "--json"]);
    assert_eq!(v["valid_until"], tomorrow.timestamp() + 9 * 86_400);

    // error paths
    assert!(env
        .fails(&["key", "edit", "1", "-v", "whenever"])
        .contains("cannot understand the date"));
    assert!(env
        .fails(&["key", "create", "-c", "-5"])
        .contains("credits"));
    assert!(env
        .fails(&["key", "create", "--default-query-strategy", "top_n:0"])
        .contains("invalid query strategy"));
    assert!(env
        .fails(&["key", "delete", "99", "--yes"])
        .contains("no API key with id 99"));
    let err = env.fails(&["key", "delete", "btvep-0000", "--yes"]);
    assert!(err.contains("no API key matches"), "{err}");
    assert!(
        env.fails(&["key", "delete", "1"]).contains("--yes"),
        "no TTY: refuse without --yes"
    );

    env.ok(&["key", "delete", &secret, "--yes"]);
    env.ok(&["key", "delete", "2", "--yes"]);
    assert_eq!(env.json(&["key", "list", "--json"]), serde_json::json!([]));
    assert!(env.fails(&["key", "show", "1"]).contains("no API key"));
}

#[test]
fn ratelimit_settings_global_and_per_key() {
    let env = Env::new();
    env.ok(&["key", "create", "-q"]);
    let status = env.json(&["ratelimit", "status", "--json"]);
    assert_eq!(
        status,
        serde_json::json!({"enabled": false, "global_rate_limits": []})
    );
    env.ok(&["ratelimit", "enable"]);
    env.ok(&["ratelimit", "add", "10", "60"]);
    env.ok(&["ratelimit", "add", "100", "3600"]);
    let status = env.json(&["ratelimit", "status", "--json"]);
    assert_eq!(status["enabled"], true);
    assert_eq!(
        status["global_rate_limits"],
        serde_json::json!([{"times": 10, "seconds": 60}, {"times": 100, "seconds": 3600}])
    );
    env.ok(&["ratelimit", "delete", "0"]);
    assert_eq!(
        env.json(&["ratelimit", "--json"])["rate_limits"],
        serde_json::json!([{"times": 100, "seconds": 3600}])
    );
    assert!(env
        .fails(&["ratelimit", "delete", "5"])
        .contains("no rate limit at index 5"));
    assert!(env
        .fails(&["ratelimit", "add", "0", "5"])
        .contains("at least 1"));

    // a key's own limits replace the global ones
    let shown = env.json(&["ratelimit", "show", "-k", "1", "--json"]);
    assert_eq!(
        shown["rate_limits"],
        serde_json::json!([{"times": 100, "seconds": 3600}])
    );
    assert!(shown["scope"].as_str().unwrap().contains("global"));
    env.ok(&["ratelimit", "add", "2", "1", "-k", "1"]);
    let shown = env.json(&["ratelimit", "show", "-k", "1", "--json"]);
    assert_eq!(
        shown["rate_limits"],
        serde_json::json!([{"times": 2, "seconds": 1}])
    );
    assert_eq!(
        env.json(&["key", "show", "1", "--json"])["rate_limits"],
        serde_json::json!([{"times": 2, "seconds": 1}])
    );
    env.ok(&["ratelimit", "clear", "-k", "1"]);
    assert_eq!(
        env.json(&["key", "show", "1", "--json"])["rate_limits"],
        Value::Null
    );
    assert!(env
        .fails(&["ratelimit", "add", "1", "1", "-k", "42"])
        .contains("no API key with id 42"));
    env.ok(&["ratelimit", "disable"]);
    assert_eq!(
        env.json(&["ratelimit", "status", "--json"])["enabled"],
        false
    );
}

fn record(
    sec: i64,
    key: Option<u64>,
    hotkey: Option<&str>,
    prompt: &str,
) -> btvep::store::LogRecord {
    btvep::store::LogRecord {
        timestamp: chrono::DateTime::from_timestamp(sec, 0).unwrap(),
        api_key_id: key,
        responder_hotkey: hotkey.map(String::from),
        api_request_id: format!("req-{sec}"),
        prompt: Some(prompt.into()),
        is_api_success: key.is_some(),
        api_error: key.is_none().then(|| "APIKeyMissing".to_string()),
        is_success: hotkey.map(|_| true),
        uid: hotkey.map(|_| 3),
        return_code: hotkey.map(|_| 200),
        ..Default::default()
    }
}

#[test]
fn logs_filter_combine_and_json_lines() {
    let env = Env::new();
    let secret = env.ok(&["key", "create", "-q"]).trim().to_string();
    env.ok(&["key", "create", "-q"]);
    {
        let store = btvep::store::Store::open(&env.data_dir()).unwrap();
        // 2025-01-01T00:00:00Z = 1735689600
        let day = 1_735_689_600;
        let mut recs = vec![
            record(day + 10, Some(1), Some("5HotA"), "one"),
            record(day + 20, Some(2), Some("5HotA"), "two"),
            record(day + 86_400 + 5, Some(1), Some("5HotB"), "three"),
            record(day + 2 * 86_400, Some(1), Some("5HotA"), "four"),
            record(day + 2 * 86_400 + 1, None, None, "five"),
        ];
        store.append_logs(&mut recs).unwrap();
    }
    let prompts = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["logs", "--json"];
        a.extend_from_slice(args);
        env.ok(&a)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["prompt"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(prompts(&[]), ["five", "four", "three", "two", "one"]);
    assert_eq!(prompts(&["-l", "2"]), ["five", "four"]);
    assert_eq!(prompts(&["-k", "1"]), ["four", "three", "one"]);
    assert_eq!(prompts(&["--key", &secret, "-r", "5HotA"]), ["four", "one"]);
    assert_eq!(
        prompts(&["-r", "5HotA", "-s", "2025-01-01 00:00:15"]),
        ["four", "two"]
    );
    assert_eq!(
        prompts(&["-k", "1", "-s", "2025-01-02", "-e", "2025-01-02"]),
        ["three"]
    );
    assert_eq!(prompts(&["-e", "2025-01-01T00:00:10"]), ["one"]);
    assert_eq!(prompts(&["-k", "2", "-r", "5HotB"]), Vec::<String>::new());

    let table = env.ok(&["logs", "-l", "3"]);
    assert!(
        table.contains("APIKeyMissing") && table.contains("five") && !table.contains("two"),
        "{table}"
    );

    assert!(env
        .fails(&["logs", "-s", "01/02/2025"])
        .contains("cannot understand the time"));
    assert!(env
        .fails(&["logs", "-k", "77"])
        .contains("no API key with id 77"));
    assert!(env
        .fails(&["logs", "-s", "2025-02-01", "-e", "2025-01-01"])
        .contains("after"));
}

/// A stand-in for `btvep start`: this process holds the database and serves the admin socket.
struct Server {
    store: Arc<btvep::store::Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(env: &Env) -> Self {
        let store = Arc::new(btvep::store::Store::open(&env.data_dir()).unwrap());
        let socket = env.data_dir().join("admin.sock");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let s = store.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                // bind happens inside serve; signal readiness once the socket file exists
                let serve =
                    btvep::admin::serve(s, &socket, btvep::admin::Hooks::default(), async {
                        let _ = stopped.await;
                    });
                let watch = async {
                    while !socket.exists() {
                        tokio::task::yield_now().await;
                    }
                    ready_tx.send(()).unwrap();
                    std::future::pending::<()>().await
                };
                tokio::select! { r = serve => r.unwrap(), _ = watch => {} }
            });
        });
        ready_rx.recv().unwrap();
        Server {
            store,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.thread.take().unwrap().join();
    }
}

#[test]
fn cli_reaches_a_running_servers_database_through_the_admin_socket() {
    let env = Env::new();
    let server = Server::start(&env);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.data_dir().join("admin.sock"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    // the database is locked by this process, so the CLI must go through the socket
    let created = env.json(&["key", "create", "-c", "3", "--json"]);
    let secret = created["api_key"].as_str().unwrap();
    // the server sees the key at once
    let k = server.store.key_by_secret(secret).unwrap().unwrap();
    assert_eq!(k.credits, 3);
    env.ok(&["key", "edit", "1", "--disable"]);
    assert!(!server.store.key_by_id(1).unwrap().enabled);
    env.ok(&["ratelimit", "add", "5", "10", "-k", "1"]);
    assert_eq!(
        server
            .store
            .key_by_id(1)
            .unwrap()
            .rate_limits
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        env.json(&["key", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(env
        .fails(&["key", "delete", "9", "--yes"])
        .contains("no API key with id 9"));

    // logs, including --follow picking up a record written by the server
    server
        .store
        .append_logs(&mut [record(1_735_689_600, Some(1), Some("5HotA"), "before")])
        .unwrap();
    assert!(env.ok(&["logs", "--json"]).contains("before"));
    let mut child = env
        .command(&["logs", "-f", "--json", "-l", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("before"));
    server
        .store
        .append_logs(&mut [record(1_735_689_700, Some(1), None, "after")])
        .unwrap();
    let next = lines.next().unwrap().unwrap();
    assert!(next.contains("after"), "{next}");
    child.kill().unwrap();
    let _ = child.wait();

    env.ok(&["key", "delete", "1", "--yes"]);
    assert!(server.store.key_by_id(1).is_err());
    drop(server);
    // with the server gone the CLI opens the database itself again
    assert_eq!(env.json(&["key", "list", "--json"]), serde_json::json!([]));
}

#[test]
fn database_locked_without_a_server_is_a_clear_error() {
    let env = Env::new();
    let _store = btvep::store::Store::open(&env.data_dir()).unwrap();
    let err = env.fails(&["key", "list"]);
    assert!(
        err.contains("locked by another process") && err.contains("admin.sock"),
        "{err}"
    );
}

#[test]
fn completions_and_docs_are_fresh() {
    use clap_complete::Shell;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bless = std::env::var_os("BTVEP_BLESS").is_some();
    let mut files: Vec<(PathBuf, Vec<u8>)> =
        [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell]
            .into_iter()
            .map(|s| {
                (
                    root.join("completions")
                        .join(btvep::cli::completions::file_name(s)),
                    btvep::cli::completions::script(s),
                )
            })
            .collect();
    files.push((
        root.join("docs/cli.md"),
        btvep::cli::docs::markdown().into_bytes(),
    ));
    for (path, want) in files {
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run `BTVEP_BLESS=1 cargo test --test cli completions_and_docs_are_fresh`",
            path.display()
        );
    }
    // the binary prints the same script
    let out = Env::new().ok(&["completions", "bash"]);
    assert_eq!(
        out.as_bytes(),
        btvep::cli::completions::script(Shell::Bash).as_slice()
    );
}

#[test]
fn help_documents_every_config_key() {
    let help = Env::new().ok(&["config", "--help"]);
    for spec in btvep::config::KEYS {
        assert!(
            help.contains(spec.name) && help.contains(spec.env),
            "{} missing from config --help",
            spec.name
        );
    }
}
