//! Runs the real `btvep start` binary on 127.0.0.1:0 against a temp config/data dir, with helpers to
//! call its API and its CLI (which reaches the running server's database through the admin socket).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// The validator hotkey used by the gateway in tests (spec's throwaway key).
pub const VALIDATOR_MNEMONIC: &str =
    "pact photo material cake neck asset home broken decade jealous piece pistol";

/// A temp config file and data dir.
pub struct Home {
    /// Holds the temp dir.
    pub dir: tempfile::TempDir,
}

impl Home {
    /// A fresh home whose config has the validator mnemonic and `extra` keys.
    pub fn new(extra: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Never the real network: the subtensor fallback points at a closed loopback port.
        let mut config = json!({
            "hotkey_mnemonic": VALIDATOR_MNEMONIC,
            "metagraph_refresh_seconds": 3600,
            "subtensor_network": "ws://127.0.0.1:9",
        });
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        Home { dir }
    }

    /// Path of a file in the home.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a metagraph file of `(uid, hotkey, addr, incentive)` and returns its path.
    pub fn metagraph(&self, neurons: &[(u16, String, SocketAddr, f64)]) -> PathBuf {
        let list: Vec<Value> = neurons
            .iter()
            .map(|(uid, hotkey, addr, incentive)| {
                json!({"uid": uid, "hotkey": hotkey, "ip": addr.ip().to_string(), "port": addr.port(), "incentive": incentive})
            })
            .collect();
        let p = self.path("metagraph.json");
        std::fs::write(&p, json!({"netuid": 1, "neurons": list}).to_string()).unwrap();
        let cfg = self.path("config.json");
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
        config["metagraph_file"] = json!(p);
        std::fs::write(&cfg, config.to_string()).unwrap();
        p
    }

    /// A `btvep` command against this home.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_btvep"));
        c.args(args)
            .env("BTVEP_CONFIG", self.path("config.json"))
            .env("BTVEP_DATA_DIR", self.path("data"))
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn,btvep=info");
        for spec in btvep::config::KEYS {
            c.env_remove(spec.env);
        }
        c
    }

    /// Runs the CLI and returns its output.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Runs the CLI, expects success and parses stdout as JSON.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "btvep {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Runs the CLI and returns its JSON Lines output.
    pub fn cli_json_lines(&self, args: &[&str]) -> Vec<Value> {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "btvep {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Creates a key with the CLI and returns its secret.
    pub fn create_key(&self, args: &[&str]) -> String {
        let mut a = vec!["key", "create", "--json"];
        a.extend_from_slice(args);
        self.cli_json(&a)["api_key"].as_str().unwrap().to_string()
    }
}

/// A running `btvep start`.
pub struct Gateway {
    /// The child process (killed on drop).
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Everything it printed on stderr so far.
    pub stderr: Arc<Mutex<Vec<String>>>,
    /// An HTTP client.
    pub http: reqwest::Client,
}

impl Gateway {
    /// Starts the server and waits for its "listening on" line (no sleeps).
    pub fn start(home: &Home) -> Self {
        Self::start_with(home, &[])
    }

    /// Starts the server with extra `start` arguments.
    pub fn start_with(home: &Home, extra: &[&str]) -> Self {
        let mut args = vec!["start", "--host", "127.0.0.1", "--port", "0"];
        args.extend_from_slice(extra);
        Self::spawn(home.command(&args))
    }

    /// Starts a prepared `btvep start` command and waits for its "listening on" line.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("server did not start: {:?}", lines.lock().unwrap()));
        Gateway {
            child,
            addr,
            stderr: lines,
            http: reqwest::Client::new(),
        }
    }

    /// The URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs JSON with an optional bearer key; returns status, headers and JSON body.
    pub async fn post(
        &self,
        path: &str,
        key: Option<&str>,
        body: &Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, v)
    }

    /// Waits until the server has loaded its metagraph (polls /readyz; bounded).
    pub async fn ready(&self) {
        for _ in 0..300 {
            if let Ok(r) = self.http.get(self.url("/readyz")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!(
            "server never became ready: {:?}",
            self.stderr.lock().unwrap()
        );
    }

    /// Sends SIGTERM and waits for exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
