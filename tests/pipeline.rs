//! The pipeline's fixed bugs, end to end on the real binary: a non-ASCII model path is a 404, a
//! streamed request refused before any miner is counted, and the access log names a refused known key.

mod common;

use common::gateway::{Gateway, Home};
use serde_json::{json, Value};

fn key_id(home: &Home, secret: &str) -> u64 {
    home.cli_json(&["key", "show", secret, "--json"])["id"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_counted_logged_with_their_key_and_never_panic() {
    let home = Home::new(json!({}));
    let gw = Gateway::start_with(&home, &["--devnet", "1"]);
    gw.ready().await;
    let key = home.create_key(&["-c", "5"]);
    let id = key_id(&home, &key);

    // a percent followed by non-ASCII bytes: 404 in OpenAI's shape
    let r = gw
        .http
        .get(format!("http://{}/v1/models/%a%C3%A9", gw.addr))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found", "{v}");

    // a streamed request refused at planning (no such uid) is logged and counted
    let body =
        json!({"model": "uids:99", "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let (s, _, v) = gw.post("/v1/chat/completions", Some(&key), &body).await;
    assert_eq!(s, 400, "{v}");
    let k = home.cli_json(&["key", "show", &id.to_string(), "--json"]);
    assert_eq!(k["api_request_count"], 1);
    assert_eq!(k["credits"], 5);
    let logs = home.cli_json_lines(&["logs", "--key", &id.to_string(), "--json"]);
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["api_error"], "InvalidQuery");

    // a refused known key is named in the access log
    let out = home.cli(&["key", "edit", &id.to_string(), "--disable"]);
    assert!(out.status.success());
    let (s, _, _) = gw
        .post(
            "/chat",
            Some(&key),
            &json!({"messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(s, 401);
    let mut named = false;
    for _ in 0..100 {
        named = gw
            .stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(&format!("key_id={id}")) && l.contains("APIKeyDisabled"));
        if named {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(named, "{:?}", gw.stderr.lock().unwrap());
    let stderr = gw.stderr.lock().unwrap().join("\n");
    assert!(!stderr.contains("panicked"));
}
