//! Time to first token of a streamed chat completion, for benchmarks.
//!
//! `ttft URL N [--bearer KEY] [--btauth-receiver SS58]` sends N sequential `stream: true` requests to URL
//! (`/v1/chat/completions` of btvep, or of a btauth miner directly — then signed with the hotkey whose mnemonic is in
//! `BENCH_MNEMONIC`) and prints the median and p90 time to the first content chunk and to the end of the stream.

use std::time::{Duration, Instant};

use btvep::bittensor::btauth;
use btvep::bittensor::keys::Hotkey;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .expect("usage: ttft URL N [--bearer KEY] [--btauth-receiver SS58]");
    let n: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(20);
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let bearer = flag("--bearer");
    let receiver = flag("--btauth-receiver");
    let hotkey = receiver.as_ref().map(|_| {
        Hotkey::from_mnemonic(&std::env::var("BENCH_MNEMONIC").expect("BENCH_MNEMONIC"))
            .expect("mnemonic")
    });
    let path = reqwest::Url::parse(url).expect("URL").path().to_string();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let body = br#"{"model": "bittensor", "stream": true, "messages": [{"role": "user", "content": "count"}]}"#;
    let (mut firsts, mut totals) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(b) = &bearer {
            req = req.bearer_auth(b);
        }
        if let (Some(hk), Some(r)) = (&hotkey, &receiver) {
            for (k, v) in btauth::sign(hk, "POST", &path, body, r, btauth::now_ns()) {
                req = req.header(k, v);
            }
        }
        let start = Instant::now();
        let mut resp = req.send().await.expect("send");
        assert!(resp.status().is_success(), "HTTP {}", resp.status());
        let mut first = None;
        let mut seen = String::new();
        while let Some(c) = resp.chunk().await.expect("chunk") {
            seen.push_str(&String::from_utf8_lossy(&c));
            if first.is_none() && seen.contains("\"content\":\"tok") {
                first = Some(start.elapsed());
            }
        }
        firsts.push(first.expect("no content chunk"));
        totals.push(start.elapsed());
    }
    println!(
        "ttft p50 {:.1} ms p90 {:.1} ms; whole stream p50 {:.1} ms ({n} requests)",
        pct(&mut firsts, 0.5).as_secs_f64() * 1e3,
        pct(&mut firsts, 0.9).as_secs_f64() * 1e3,
        pct(&mut totals, 0.5).as_secs_f64() * 1e3,
    );
}
