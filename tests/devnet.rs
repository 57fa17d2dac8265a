//! `btvep start --devnet N`: gateway → in-process miners → model, end to end over the signed protocol.

mod common;

use common::gateway::{Gateway, Home};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn devnet_with_builtin_responder_answers_the_printed_curl_request() {
    let home = Home::new(json!({}));
    // no hotkey configured: the devnet generates a throwaway one
    std::fs::write(
        home.path("config.json"),
        json!({"subtensor_network": "ws://127.0.0.1:9"}).to_string(),
    )
    .unwrap();
    let gw = Gateway::start_with(&home, &["--devnet", "3"]);
    gw.ready().await;
    let log = gw.stderr.lock().unwrap().join("\n");
    assert!(
        log.contains("a throwaway key generated for --devnet"),
        "{log}"
    );
    assert!(log.contains("devnet:      3 miners answering with the built-in responder"));
    let curl = log
        .lines()
        .find(|l| l.trim_start().starts_with("curl http://"))
        .expect("a curl line");
    let key = curl
        .split("Bearer ")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();

    // the printed curl line, run for real
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{} -s", curl.trim()))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v["choices"][0]["uid"], 0);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "[btvep built-in responder, not a language model] You said: What is 1+1?"
    );

    // every miner answers over the signed protocol
    let (s, _, v) = gw.post("/chat", Some(&key), &json!({"top_n": 3, "respond_on_first_success": false, "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["choices"].as_array().unwrap().len(), 3);
    assert_eq!(v["failed_responses"], json!([]));
    let m = home.cli_json(&[
        "metagraph",
        "--json",
        "--set",
        &format!(
            "metagraph_file={}",
            home.path("data/devnet/metagraph.json").display()
        ),
    ]);
    assert_eq!(
        m["neurons"].as_array().unwrap().len(),
        4,
        "3 miners + the validator"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn devnet_miners_use_an_openai_compatible_model_server_and_reuse_the_key() {
    use warp::Filter;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let model_addr = listener.local_addr().unwrap();
    let route = warp::path!("v1" / "chat" / "completions").and(warp::body::json()).map(|body: Value| {
        let last = body["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
        warp::reply::json(&json!({
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("model {} says: {last}", body["model"].as_str().unwrap())}, "finish_reason": "stop"}]
        }))
    });
    tokio::spawn(warp::serve(route).incoming(listener).run());

    let home = Home::new(json!({}));
    let url = format!("http://{model_addr}/v1");
    let first_key;
    {
        let gw = Gateway::start_with(
            &home,
            &[
                "--devnet",
                "2",
                "--devnet-model-url",
                &url,
                "--devnet-model",
                "tiny",
            ],
        );
        gw.ready().await;
        let log = gw.stderr.lock().unwrap().join("\n");
        assert!(log.contains("created a new devnet API key"));
        first_key = std::fs::read_to_string(home.path("data/devnet/api_key"))
            .unwrap()
            .trim()
            .to_string();
        let (s, _, v) = gw
            .post(
                "/v1/chat/completions",
                Some(&first_key),
                &json!({"model": "uids:1", "messages": [{"role": "user", "content": "ping"}]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "model tiny says: ping"
        );
        assert_eq!(v["choices"][0]["uid"], 1);
    }
    // a restart reuses the saved key
    let gw = Gateway::start_with(&home, &["--devnet", "1", "--devnet-model-url", &url]);
    gw.ready().await;
    assert!(gw
        .stderr
        .lock()
        .unwrap()
        .join("\n")
        .contains("reusing the devnet API key"));
    let (s, _, _) = gw
        .post(
            "/chat",
            Some(&first_key),
            &json!({"messages": [{"role": "user", "content": "again"}]}),
        )
        .await;
    assert_eq!(s, 200);
}
