//! Protocol conformance: spec vectors and SDK captures, plus dendrite ↔ fake-axon end-to-end tests on 127.0.0.1.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use btvep::bittensor::axon::AxonVerifier;
use btvep::bittensor::body_hash::{prompting_body_hash, py_str_list, sha3_256_hex};
use btvep::bittensor::dendrite::{Dendrite, QueryOptions};
use btvep::bittensor::keys::{self, Hotkey};
use btvep::bittensor::metagraph::{Metagraph, Neuron};
use btvep::bittensor::synapse::{self, PromptingRequest};
use common::fake_axon::{self, Behavior};
use futures_util::StreamExt;
use serde_json::Value;

const DENDRITE_MNEMONIC: &str =
    "pact photo material cake neck asset home broken decade jealous piece pistol";
const AXON_MNEMONIC: &str =
    "depend slender expect flag illness lecture rose tray unveil bracket uniform tornado";
const AXON_SS58: &str = "5ELTaxoucN2THxQwJzpXaKBx9daaciprmB6VRb4MQqE7iCcS";

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture JSON")
}

/// A raw HTTP/1.1 capture split into start line, headers (original case) and body.
struct Capture {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Capture {
    fn load(name: &str) -> Self {
        let raw = std::fs::read(fixture_path(name)).expect("capture");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| (p, 4));
        let (pos, sep) = split
            .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)))
            .expect("head/body");
        let head = String::from_utf8_lossy(&raw[..pos]).into_owned();
        let mut lines = head.lines();
        let start = lines.next().unwrap_or_default().trim().to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Self {
            start,
            headers,
            body: raw[pos + sep..].to_vec(),
        }
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    fn path(&self) -> &str {
        self.start.split(' ').nth(1).unwrap_or("")
    }
    fn status(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line")
    }
}

// ---------------------------------------------------------------- keys

#[test]
fn key_vectors() {
    let doc = fixture_json("keys.json");
    for key in doc["keys"].as_array().unwrap() {
        let ss58 = key["ss58"].as_str().unwrap();
        let public =
            hex::decode(key["public_key"].as_str().unwrap().trim_start_matches("0x")).unwrap();
        assert_eq!(keys::ss58_decode(ss58).unwrap().to_vec(), public);
        assert_eq!(keys::ss58_encode(&public.clone().try_into().unwrap()), ss58);
        let Some(mnemonic) = key["mnemonic"].as_str() else {
            continue;
        }; // //Alice: address vector only
        let hk = Hotkey::from_mnemonic(mnemonic).unwrap();
        assert_eq!(hk.ss58(), ss58);
        assert_eq!(hk.public_bytes().to_vec(), public);
        let seed = hex::decode(
            key["mini_secret"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
        )
        .unwrap();
        assert_eq!(Hotkey::from_seed(&seed).unwrap().ss58(), ss58);
        for v in key["verify_vectors"].as_array().into_iter().flatten() {
            let msg = v["message_utf8"].as_str().unwrap();
            assert!(
                keys::verify(ss58, msg, v["signature"].as_str().unwrap()).unwrap(),
                "{ss58} {msg}"
            );
            assert!(!keys::verify(ss58, "other", v["signature"].as_str().unwrap()).unwrap());
        }
        let ours = hk.sign("signed in rust");
        assert!(keys::verify(ss58, "signed in rust", &ours).unwrap());
    }
}

// ---------------------------------------------------------------- body hash

#[test]
fn body_hash_vectors() {
    let doc = fixture_json("body_hash_vectors.json");
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 13);
    for v in vectors {
        let messages: Vec<String> = serde_json::from_value(v["messages"].clone()).unwrap();
        assert_eq!(
            py_str_list(&messages),
            v["python_str"].as_str().unwrap(),
            "{messages:?}"
        );
        assert_eq!(
            sha3_256_hex(py_str_list(&messages).as_bytes()),
            v["sha3_256_of_str"].as_str().unwrap()
        );
        assert_eq!(
            prompting_body_hash(&messages),
            v["computed_body_hash"].as_str().unwrap(),
            "{messages:?}"
        );
    }
}

// ---------------------------------------------------------------- requests

fn nonce_of(c: &Capture) -> u128 {
    c.header("bt_header_dendrite_nonce")
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn sdk_request_captures_verify() {
    for name in [
        "request.txt",
        "http/v6.0.1_request.txt",
        "http/v10.5.0_request_classvar_variant.txt",
    ] {
        let c = Capture::load(name);
        let body: Value = serde_json::from_slice(&c.body).unwrap();
        let messages: Vec<String> = serde_json::from_value(body["messages"].clone()).unwrap();
        let hash = c.header("computed_body_hash").unwrap();
        assert_eq!(prompting_body_hash(&messages), hash, "{name}");
        let msg = synapse::signed_message(
            nonce_of(&c) as u64,
            c.header("bt_header_dendrite_hotkey").unwrap(),
            AXON_SS58,
            c.header("bt_header_dendrite_uuid").unwrap(),
            hash,
        );
        let sig = c.header("bt_header_dendrite_signature").unwrap();
        assert!(
            keys::verify(c.header("bt_header_dendrite_hotkey").unwrap(), &msg, sig).unwrap(),
            "{name}"
        );
        let verifier = AxonVerifier::new(AXON_SS58);
        let ok = verifier
            .verify_at(c.path(), c.pairs(), &c.body, nonce_of(&c))
            .unwrap();
        assert_eq!(ok.messages, messages);
        // Same request again: replay.
        let e = verifier
            .verify_at(c.path(), c.pairs(), &c.body, nonce_of(&c))
            .unwrap_err();
        assert_eq!(e.status, 401);
        // Wrong axon hotkey: signature mismatch.
        let other = AxonVerifier::new("5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4");
        let e = other
            .verify_at(c.path(), c.pairs(), &c.body, nonce_of(&c))
            .unwrap_err();
        assert_eq!(e.status, 401);
        assert!(
            e.message
                .starts_with("Not Verified with error: Signature mismatch with "),
            "{}",
            e.message
        );
    }
}

#[test]
fn our_request_matches_sdk_shape_and_verifies() {
    let sdk = Capture::load("request.txt");
    let dendrite = Hotkey::from_mnemonic(DENDRITE_MNEMONIC).unwrap();
    let roles = vec!["system".to_string(), "user".to_string()];
    let messages = vec![
        "You are a helpful assistant.".to_string(),
        "Say \"hi\" \u{2014} it's a test \u{2713}".to_string(),
    ];
    let hash = prompting_body_hash(&messages);
    assert_eq!(hash, sdk.header("computed_body_hash").unwrap());
    let nonce = 1_795_303_296_698_612_881u64;
    let req = PromptingRequest {
        roles: &roles,
        messages: &messages,
        body_hash: &hash,
        timeout_secs: 12.0,
        dendrite_ip: "127.0.0.2",
        uuid: "4c2483ee-e602-11f1-b3e4-9d16bee04881",
        nonce,
        axon_ip: "127.0.0.1",
        axon_port: 18092,
        axon_hotkey: AXON_SS58,
    }
    .build(&dendrite);
    assert_eq!(req.path, "/Prompting");
    // Same header names, same order, as the SDK (minus the HTTP client's own headers).
    let sdk_names: Vec<&str> = sdk
        .headers
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.chars().all(|c| !c.is_ascii_uppercase()))
        .collect();
    let our_names: Vec<&str> = req
        .headers
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "content-type")
        .collect();
    assert_eq!(our_names, sdk_names);
    for (k, v) in &req.headers {
        if !matches!(
            k.as_str(),
            "bt_header_dendrite_signature" | "header_size" | "total_size" | "content-type"
        ) {
            assert_eq!(Some(v.as_str()), sdk.header(k), "{k}");
        }
    }
    // Body has the SDK's keys and values (except signature and sizes).
    let ours: Value = serde_json::from_slice(&req.body).unwrap();
    let theirs: Value = serde_json::from_slice(&sdk.body).unwrap();
    for key in [
        "name",
        "timeout",
        "computed_body_hash",
        "required_hash_fields",
        "roles",
        "messages",
        "completion",
    ] {
        assert_eq!(ours[key], theirs[key], "{key}");
    }
    for key in ["ip", "version", "nonce", "uuid", "hotkey"] {
        assert_eq!(
            ours["dendrite"][key], theirs["dendrite"][key],
            "dendrite.{key}"
        );
    }
    assert_eq!(ours["axon"], theirs["axon"]);
    let keys_of = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys_of(&ours), keys_of(&theirs));
    // The axon accepts it.
    let verifier = AxonVerifier::new(AXON_SS58);
    let pairs = req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    verifier
        .verify_at("/Prompting", pairs, &req.body, nonce as u128)
        .unwrap();
}

#[test]
fn handbuilt_captures_get_the_sdk_verdict() {
    let cases = [
        "handbuilt_01_ok_minimal_body",
        "handbuilt_02_replay_same_nonce",
        "handbuilt_03_stale_nonce_20s",
        "handbuilt_07_sig_without_0x",
        "handbuilt_08_body_hash_mismatch",
        "handbuilt_09_no_input_obj_headers",
        "handbuilt_10_unknown_synapse_route",
        "handbuilt_minimal_headers",
    ];
    for case in cases {
        let req = Capture::load(&format!("http/{case}_request.txt"));
        let resp = Capture::load(&format!("http/{case}_response.txt"));
        let verifier = AxonVerifier::new(AXON_SS58);
        let nonce = req
            .header("bt_header_dendrite_nonce")
            .and_then(|n| n.parse::<u128>().ok())
            .unwrap_or(0);
        let mut now = nonce;
        if case.contains("replay") {
            verifier
                .verify_at(req.path(), req.pairs(), &req.body, now)
                .expect("first copy accepted");
        }
        if case.contains("stale") {
            now = nonce + 20_150_000_000;
        }
        let got = verifier.verify_at(req.path(), req.pairs(), &req.body, now);
        let expected_status = resp.status();
        let expected_message = resp.header("bt_header_axon_status_message").unwrap();
        match got {
            Ok(_) => assert_eq!(expected_status, 200, "{case}"),
            Err(e) => {
                assert_eq!(e.status, expected_status, "{case}: {}", e.message);
                if expected_message.starts_with("Internal Server Error #") {
                    assert!(e.message.starts_with("Internal Server Error #"), "{case}");
                } else {
                    assert_eq!(e.message, expected_message, "{case}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------- responses

fn parse_capture(name: &str) -> Result<synapse::ParsedResponse, synapse::ResponseParseError> {
    let c = Capture::load(name);
    synapse::parse_prompting_response(c.status(), c.pairs(), &c.body)
}

#[test]
fn sdk_response_captures_parse_like_the_sdk() {
    let r = parse_capture("response.txt").unwrap();
    assert_eq!(
        (r.status_code, r.status_message.as_deref()),
        (Some(200), Some("Success"))
    );
    assert_eq!(r.completion, "Hello from the Python axon");
    let r = parse_capture("http/v6.0.1_response.txt").unwrap();
    assert_eq!(
        (r.status_code, r.completion.as_str()),
        (Some(200), "Hello from the Python 6.0.1 axon")
    );
    let r = parse_capture("http/v6.0.1_response_blacklisted.txt").unwrap();
    assert_eq!(r.status_code, Some(403));
    assert_eq!(
        r.status_message.as_deref(),
        Some("Forbidden. Key is blacklisted: test blacklist.")
    );
    assert_eq!(r.completion, "");
    let r = parse_capture("http/v10.5.0_response_403_blacklist.txt").unwrap();
    assert_eq!(r.status_code, Some(403));
    let r = parse_capture("http/v10.5.0_response_500_forward_raised.txt").unwrap();
    assert_eq!(r.status_code, Some(500));
    assert!(r
        .status_message
        .unwrap()
        .starts_with("Internal Server Error #"));
    // Streaming answers are not JSON: the non-streaming dendrite reports 422, like the SDK's Prompting dendrite.
    assert!(parse_capture("http/v10.5.0_stream_response.txt").is_err());
    // Every handbuilt answer: status = header status, message = header message.
    for entry in std::fs::read_dir(fixture_path("http")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !(name.starts_with("handbuilt_") && name.ends_with("_response.txt")) {
            continue;
        }
        let c = Capture::load(&format!("http/{name}"));
        let r = parse_capture(&format!("http/{name}")).unwrap();
        assert_eq!(
            r.status_code.map(|s| s.to_string()).as_deref(),
            c.header("bt_header_axon_status_code"),
            "{name}"
        );
        assert_eq!(
            r.status_message.as_deref(),
            c.header("bt_header_axon_status_message"),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------- metagraph

fn check_against_fixture(mg: &Metagraph) {
    let doc = fixture_json("neurons_lite.json");
    let expected = doc["decoded_normalised"].as_array().unwrap();
    assert_eq!(mg.neurons.len(), expected.len());
    for (n, e) in mg.neurons.iter().zip(expected) {
        let ctx = format!("uid {}", n.uid);
        assert_eq!(Value::from(n.uid), e["uid"], "{ctx}");
        assert_eq!(Value::from(n.netuid), e["netuid"], "{ctx}");
        assert_eq!(Value::from(n.active), e["active"], "{ctx}");
        assert_eq!(n.hotkey, e["hotkey_ss58"].as_str().unwrap(), "{ctx}");
        assert_eq!(n.coldkey, e["coldkey_ss58"].as_str().unwrap(), "{ctx}");
        assert_eq!(n.ip, e["axon"]["ip"].as_str().unwrap(), "{ctx}");
        assert_eq!(Value::from(n.port), e["axon"]["port"], "{ctx}");
        assert_eq!(Value::from(n.ip_type), e["axon"]["ip_type"], "{ctx}");
        assert_eq!(Value::from(n.protocol), e["axon"]["protocol"], "{ctx}");
        assert_eq!(Value::from(n.axon_version), e["axon"]["version"], "{ctx}");
        assert_eq!(n.stake, e["total_stake_tao"].as_f64().unwrap(), "{ctx}");
        for (got, key) in [
            (n.rank, "rank"),
            (n.emission, "emission"),
            (n.incentive, "incentive"),
            (n.consensus, "consensus"),
            (n.trust, "trust"),
            (n.validator_trust, "validator_trust"),
            (n.dividends, "dividends"),
        ] {
            assert_eq!(got, e[key].as_f64().unwrap(), "{ctx} {key}");
        }
        assert_eq!(Value::from(n.last_update), e["last_update"], "{ctx}");
        assert_eq!(
            Value::from(n.validator_permit),
            e["validator_permit"],
            "{ctx}"
        );
        assert_eq!(Value::from(n.pruning_score), e["pruning_score"], "{ctx}");
    }
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    hex::decode(fixture(name).trim().trim_start_matches("0x")).unwrap()
}

#[test]
fn neurons_lite_both_forms_decode_to_the_fixture() {
    for name in ["neurons_lite.hex", "neurons_lite_vec_u8.hex"] {
        let mg = Metagraph::from_neurons_lite_bytes(1, &fixture_bytes(name)).unwrap();
        check_against_fixture(&mg);
    }
    let mut truncated = fixture_bytes("neurons_lite.hex");
    truncated.truncate(300);
    assert!(Metagraph::from_neurons_lite_bytes(1, &truncated).is_err());
}

/// A local WebSocket JSON-RPC server answering `chain_getHeader` and `state_call` with the fixture.
async fn spawn_fake_subtensor(result_hex: String) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let result_hex = result_hex.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    let Ok(text) = msg.to_text() else { continue };
                    let Ok(req) = serde_json::from_str::<Value>(text) else {
                        continue;
                    };
                    let result = match req["method"].as_str() {
                        Some("chain_getHeader") => serde_json::json!({"number": "0x1e240"}),
                        Some("state_call") => {
                            assert_eq!(req["params"][0], "NeuronInfoRuntimeApi_get_neurons_lite");
                            assert_eq!(req["params"][1], "0x0100");
                            Value::from(result_hex.clone())
                        }
                        _ => continue,
                    };
                    // An unrelated notification first, to prove the client matches ids.
                    let noise =
                        serde_json::json!({"jsonrpc": "2.0", "method": "noise", "params": {}});
                    let answer =
                        serde_json::json!({"jsonrpc": "2.0", "id": req["id"], "result": result});
                    use futures_util::SinkExt;
                    let _ = ws
                        .send(tokio_tungstenite::tungstenite::Message::text(
                            noise.to_string(),
                        ))
                        .await;
                    let _ = ws
                        .send(tokio_tungstenite::tungstenite::Message::text(
                            answer.to_string(),
                        ))
                        .await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn metagraph_over_websocket_rpc() {
    for name in ["neurons_lite.hex", "neurons_lite_vec_u8.hex"] {
        let addr = spawn_fake_subtensor(format!(
            "0x{}",
            fixture(name).trim().trim_start_matches("0x")
        ))
        .await;
        let mg = Metagraph::fetch(&format!("ws://{addr}"), 1, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(mg.block, Some(123_456));
        assert_eq!(mg.netuid, 1);
        check_against_fixture(&mg);
        // The file format round-trips the fields it carries.
        let again = Metagraph::from_json_str(&mg.to_file_json()).unwrap();
        assert_eq!(
            again
                .neurons
                .iter()
                .map(|n| (n.uid, &n.hotkey, &n.ip, n.port))
                .collect::<Vec<_>>(),
            mg.neurons
                .iter()
                .map(|n| (n.uid, &n.hotkey, &n.ip, n.port))
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn wss_against_a_plain_socket_fails_cleanly() {
    // Exercises the TLS client setup (crypto provider) without leaving the machine: the handshake must fail, not panic.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    let err = Metagraph::fetch(&format!("wss://{addr}"), 1, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("connect"), "{err}");
    let refused = Metagraph::fetch("ws://127.0.0.1:1", 1, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("subtensor RPC"), "{refused}");
}

// ---------------------------------------------------------------- dendrite ↔ fake axon

#[test]
fn capture_keys_are_the_spec_keys() {
    assert_eq!(
        Hotkey::from_mnemonic(AXON_MNEMONIC).unwrap().ss58(),
        AXON_SS58
    );
}

fn dendrite() -> Dendrite {
    Dendrite::new(Hotkey::from_mnemonic(DENDRITE_MNEMONIC).unwrap()).unwrap()
}

fn neuron(uid: u16, addr: std::net::SocketAddr, hotkey: &str) -> Neuron {
    Neuron::new(uid, hotkey, addr.ip().to_string(), addr.port())
}

fn prompt() -> (Vec<String>, Vec<String>) {
    (
        vec!["system".into(), "user".into()],
        vec![
            "Be brief.".into(),
            "Say \"hi\" \u{2014} it's a test \u{2713}".into(),
        ],
    )
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test took too long")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_success_and_failures() {
    bounded(async {
        let d = dendrite();
        let (roles, messages) = prompt();
        let t = Duration::from_secs(5);

        let ok = fake_axon::spawn(Behavior::Verify("echo: {messages}".into()), AXON_SS58).await;
        let r = d
            .query_one(&neuron(7, ok, AXON_SS58), &roles, &messages, t)
            .await;
        assert!(r.is_success, "{r:?}");
        assert_eq!(
            (r.uid, r.status_code, r.status_message.as_str()),
            (7, 200, "Success")
        );
        assert_eq!(r.completion, format!("echo: {}", messages[1]));
        assert_eq!(r.hotkey, AXON_SS58);

        // Wrong axon hotkey in our metagraph: the axon verifies against its own key ⇒ 401.
        let other = Hotkey::generate().unwrap().0;
        let wrong = fake_axon::spawn(Behavior::Verify("x".into()), other.ss58()).await;
        let r = d
            .query_one(&neuron(1, wrong, AXON_SS58), &roles, &messages, t)
            .await;
        assert_eq!(r.status_code, 401, "{r:?}");
        assert!(
            r.status_message
                .starts_with("Not Verified with error: Signature mismatch"),
            "{r:?}"
        );
        assert!(!r.is_success);

        let slow = fake_axon::spawn(Behavior::Sleep(Duration::from_secs(20)), AXON_SS58).await;
        let r = d
            .query_one(
                &neuron(2, slow, AXON_SS58),
                &roles,
                &messages,
                Duration::from_millis(300),
            )
            .await;
        assert_eq!(r.status_code, 408, "{r:?}");
        assert_eq!(r.status_message, "Request timeout after 0.3 seconds");

        let closed = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let r = d
            .query_one(&neuron(3, closed, AXON_SS58), &roles, &messages, t)
            .await;
        assert_eq!(r.status_code, 503, "{r:?}");

        let garbage = fake_axon::spawn(Behavior::Garbage, AXON_SS58).await;
        let r = d
            .query_one(&neuron(4, garbage, AXON_SS58), &roles, &messages, t)
            .await;
        assert_eq!(r.status_code, 422, "{r:?}");
        assert!(r.status_message.starts_with("Failed to parse response"));

        let empty = fake_axon::spawn(Behavior::Empty, AXON_SS58).await;
        let r = d
            .query_one(&neuron(5, empty, AXON_SS58), &roles, &messages, t)
            .await;
        assert_eq!(
            (r.status_code, r.status_message.as_str(), r.is_success),
            (200, "Empty response", false)
        );

        let six = fake_axon::spawn(Behavior::SixX403, AXON_SS58).await;
        let r = d
            .query_one(&neuron(6, six, AXON_SS58), &roles, &messages, t)
            .await;
        assert_eq!(r.status_code, 403, "{r:?}");
        assert_eq!(r.status_message, "Forbidden. Key is blacklisted: test.");

        let huge = fake_axon::spawn(Behavior::Huge(64 * 1024), AXON_SS58).await;
        let small = Dendrite::with_max_response_bytes(
            Hotkey::from_mnemonic(DENDRITE_MNEMONIC).unwrap(),
            1024,
        )
        .unwrap();
        let r = small
            .query_one(&neuron(8, huge, AXON_SS58), &roles, &messages, t)
            .await;
        assert_eq!(r.status_code, 422, "{r:?}");

        let mut not_serving = neuron(9, ok, AXON_SS58);
        not_serving.ip = "0.0.0.0".into();
        assert_eq!(
            d.query_one(&not_serving, &roles, &messages, t)
                .await
                .status_code,
            503
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_100_concurrent_queries_to_one_axon_are_all_accepted() {
    bounded(async {
        let d = dendrite();
        let (roles, messages) = prompt();
        let addr = fake_axon::spawn(Behavior::Verify("ok".into()), AXON_SS58).await;
        let n = neuron(0, addr, AXON_SS58);
        let futures = (0..100).map(|_| d.query_one(&n, &roles, &messages, Duration::from_secs(20)));
        let results = futures_util::future::join_all(futures).await;
        let failures: Vec<_> = results.iter().filter(|r| !r.is_success).collect();
        assert!(
            failures.is_empty(),
            "{} failed, e.g. {:?}",
            failures.len(),
            failures.first()
        );
        // Also through query() with one batch of 100 copies of the same neuron.
        let many = vec![n; 100];
        let opts = QueryOptions {
            timeout: Duration::from_secs(20),
            in_parallel: 100,
            respond_on_first_success: false,
        };
        let results = d.query(&many, &roles, &messages, opts).await;
        assert_eq!(results.len(), 100);
        assert!(results.iter().all(|r| r.is_success));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_respond_on_first_success_returns_early() {
    bounded(async {
        let d = dendrite();
        let (roles, messages) = prompt();
        let slow = fake_axon::spawn(Behavior::Sleep(Duration::from_secs(20)), AXON_SS58).await;
        let fast = fake_axon::spawn(Behavior::Verify("fast".into()), AXON_SS58).await;
        let neurons = vec![
            neuron(0, slow, AXON_SS58),
            neuron(1, slow, AXON_SS58),
            neuron(2, fast, AXON_SS58),
            neuron(3, slow, AXON_SS58),
        ];
        let opts = QueryOptions {
            timeout: Duration::from_secs(15),
            in_parallel: 4,
            respond_on_first_success: true,
        };
        let start = std::time::Instant::now();
        let results = d.query(&neurons, &roles, &messages, opts).await;
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "took {:?}",
            start.elapsed()
        );
        assert_eq!(results.len(), 1);
        assert_eq!(
            (results[0].uid, results[0].completion.as_str()),
            (2, "fast")
        );

        // Batches: in_parallel 1, the first (fast) miner succeeds ⇒ later batches are never sent.
        let neurons = vec![neuron(2, fast, AXON_SS58), neuron(0, slow, AXON_SS58)];
        let opts = QueryOptions {
            timeout: Duration::from_secs(15),
            in_parallel: 1,
            respond_on_first_success: true,
        };
        let results = d.query(&neurons, &roles, &messages, opts).await;
        assert_eq!(results.iter().map(|r| r.uid).collect::<Vec<_>>(), vec![2]);

        // Without respond_on_first_success everybody answers (timeouts included), batch by batch.
        let neurons = vec![
            neuron(2, fast, AXON_SS58),
            neuron(0, slow, AXON_SS58),
            neuron(5, fast, AXON_SS58),
        ];
        let opts = QueryOptions {
            timeout: Duration::from_millis(400),
            in_parallel: 2,
            respond_on_first_success: false,
        };
        let results = d.query(&neurons, &roles, &messages, opts).await;
        assert_eq!(
            results
                .iter()
                .map(|r| (r.uid, r.status_code))
                .collect::<Vec<_>>(),
            vec![(2, 200), (0, 408), (5, 200)]
        );

        // The stream yields in completion order.
        let stream = d.query_stream(
            vec![neuron(0, slow, AXON_SS58), neuron(2, fast, AXON_SS58)],
            roles.clone(),
            messages.clone(),
            opts,
        );
        let order: Vec<u16> = stream.map(|r| r.uid).collect().await;
        assert_eq!(order, vec![2, 0]);
    })
    .await;
}

// ---------------------------------------------------------------- real SDK interop (scripts/interop.sh)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real bittensor 10.5.0 axon; run scripts/interop.sh"]
async fn interop_real_python_axon() {
    let addr: std::net::SocketAddr = std::env::var("BTVEP_INTEROP_AXON")
        .expect("BTVEP_INTEROP_AXON=127.0.0.1:PORT")
        .parse()
        .expect("BTVEP_INTEROP_AXON is ip:port");
    bounded(async {
        let d = dendrite();
        let (roles, messages) = prompt();
        let t = Duration::from_secs(12);
        let miner = neuron(0, addr, AXON_SS58);

        let r = d.query_one(&miner, &roles, &messages, t).await;
        println!("interop success case: {r:?}");
        assert!(r.is_success, "{r:?}");
        assert_eq!(r.status_code, 200);
        assert_eq!(
            r.completion,
            format!("Hello from the Python axon: {}", messages[1])
        );

        let wrong = neuron(0, addr, d.hotkey_ss58());
        let r = d.query_one(&wrong, &roles, &messages, t).await;
        println!("interop wrong-hotkey case: {r:?}");
        assert_eq!(r.status_code, 401, "{r:?}");
        assert!(r.status_message.contains("Signature mismatch"), "{r:?}");

        let many = vec![miner.clone(); 20];
        let opts = QueryOptions {
            timeout: t,
            in_parallel: 20,
            respond_on_first_success: false,
        };
        let results = d.query(&many, &roles, &messages, opts).await;
        let bad: Vec<_> = results.iter().filter(|r| !r.is_success).collect();
        println!(
            "interop 20 concurrent: {} ok, {} failed",
            results.len() - bad.len(),
            bad.len()
        );
        assert!(bad.is_empty(), "{bad:?}");

        let opts = QueryOptions {
            timeout: t,
            in_parallel: 2,
            respond_on_first_success: true,
        };
        let results = d.query(&[wrong, miner], &roles, &messages, opts).await;
        assert!(results.last().is_some_and(|r| r.is_success), "{results:?}");
    })
    .await;
}

/// Reverse interop: the real Python 10.5.0 dendrite queries an axon built on `btvep::bittensor::axon`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs bittensor 10.5.0 in a venv; run scripts/interop.sh"]
async fn interop_python_dendrite_to_rust_axon() {
    let python =
        std::env::var("BTVEP_INTEROP_PYTHON").expect("BTVEP_INTEROP_PYTHON=path/to/venv/python");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/interop_dendrite.py");
    let run = |port: u16, hotkey: &'static str| {
        let (python, script) = (python.clone(), script.clone());
        tokio::task::spawn_blocking(move || {
            let wallets = tempfile::tempdir().expect("tempdir");
            let out = std::process::Command::new(python)
                .arg(script)
                .arg(port.to_string())
                .arg(hotkey)
                .arg(wallets.path())
                .output()
                .expect("run python dendrite");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "python failed: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .collect::<Vec<_>>()
        })
    };
    bounded(async {
        let addr = fake_axon::spawn(
            Behavior::Verify("Hello from the Rust axon: {messages}".into()),
            AXON_SS58,
        )
        .await;
        let answers = run(addr.port(), AXON_SS58).await.expect("join");
        println!("python dendrite -> rust axon: {answers:?}");
        assert_eq!(answers.len(), 2);
        for a in &answers {
            assert_eq!(a["status_code"], 200, "{a}");
            assert_eq!(
                a["completion"],
                "Hello from the Rust axon: Say \"hi\" \u{2014} it's a test \u{2713}"
            );
        }
        // A dendrite that signs for another hotkey gets the SDK's 401 from our axon.
        let answers = run(
            addr.port(),
            "5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4",
        )
        .await
        .expect("join");
        println!("python dendrite -> rust axon (wrong hotkey): {answers:?}");
        assert!(
            answers.iter().all(|a| a["status_code"] == 401),
            "{answers:?}"
        );
    })
    .await;
}

/// Runs `btvep metagraph` (the real binary) with a temp config and extra args.
fn btvep_metagraph(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_btvep"));
    c.arg("metagraph")
        .args(args)
        .env("BTVEP_CONFIG", dir.join("config.json"))
        .env("BTVEP_DATA_DIR", dir.join("data"))
        .env("NO_COLOR", "1");
    for spec in btvep::config::KEYS {
        c.env_remove(spec.env);
    }
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn btvep_metagraph_command_from_websocket_node_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let addr = spawn_fake_subtensor(format!(
        "0x{}",
        fixture("neurons_lite.hex").trim().trim_start_matches("0x")
    ))
    .await;
    let net = format!("subtensor_network=ws://{addr}");
    let out = btvep_metagraph(dir.path(), &["--set", &net, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_node = Metagraph::from_json_str(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    let expected = fixture_json("neurons_lite.json");
    let expected = expected["decoded_normalised"].as_array().unwrap();
    assert_eq!(from_node.neurons.len(), expected.len());
    for (n, e) in from_node.neurons.iter().zip(expected) {
        assert_eq!(n.hotkey, e["hotkey_ss58"].as_str().unwrap());
        assert_eq!(n.port, e["axon"]["port"].as_u64().unwrap() as u16);
    }
    // the table, sorted by uid, names each miner's axon
    let out = btvep_metagraph(dir.path(), &["--set", &net]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains(expected[0]["hotkey_ss58"].as_str().unwrap()),
        "{table}"
    );
    assert!(table.contains("127.0.0.1:8091"), "{table}");

    // the same neurons from a metagraph file
    let file = dir.path().join("mg.json");
    std::fs::write(&file, from_node.to_file_json()).unwrap();
    let set_file = format!("metagraph_file={}", file.display());
    let out = btvep_metagraph(dir.path(), &["--set", &set_file, "--json"]);
    assert!(out.status.success());
    let from_file = Metagraph::from_json_str(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    assert_eq!(from_file.neurons.len(), from_node.neurons.len());

    // an invalid file: one line naming the field
    std::fs::write(
        &file,
        r#"{"netuid": 1, "neurons": [{"uid": 0, "hotkey": "5x", "ip": "1.2.3.4"}]}"#,
    )
    .unwrap();
    let out = btvep_metagraph(dir.path(), &["--set", &set_file]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("neurons[0]") && err.trim().lines().count() == 1,
        "{err}"
    );
    // an unreachable node: a clear error, no panic
    let out = btvep_metagraph(dir.path(), &["--set", "subtensor_network=ws://127.0.0.1:9"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
