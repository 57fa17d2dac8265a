//! Log query benchmark: fill a store with 1,000,000 log records (100 keys, 256 miners), then time
//! `btvep logs --key K --lines 100` (the real binary, end to end) and the store query behind it.
//!
//! Run: `cargo bench --bench logs` (record count: `BTVEP_BENCH_RECORDS`, default 1000000).

use std::process::Command;
use std::time::{Duration, Instant};

use btvep::store::{LogFilter, LogRecord, NewKey, Store};

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "min {:.2} ms, median {:.2} ms, p90 {:.2} ms, max {:.2} ms ({} runs)",
        ms(v[0]),
        ms(v[v.len() / 2]),
        ms(v[v.len() * 9 / 10]),
        ms(v[v.len() - 1]),
        v.len()
    )
}

fn main() {
    let n: usize = std::env::var("BTVEP_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = Instant::now();
    {
        let store = Store::open(&data).unwrap();
        for _ in 0..100 {
            store
                .create_key(&NewKey {
                    credits: btvep::store::values::Credits::UNLIMITED,
                    enabled: true,
                    valid_until: btvep::store::values::Expiry::Never,
                    ..Default::default()
                })
                .unwrap();
        }
        let start = 1_735_689_600i64; // 2025-01-01
        let mut batch = Vec::with_capacity(1000);
        for i in 0..n {
            batch.push(LogRecord {
                timestamp: chrono::DateTime::from_timestamp(start + (i as i64) * 2, 0).unwrap(),
                api_key_id: Some((i % 100) as u64 + 1),
                api_request_id: format!("{i:032x}"),
                route: Some("/chat".into()),
                prompt: Some("What is the capital of France? Answer in one word.".into()),
                is_api_success: true,
                response: Some("Paris.".into()),
                responder_hotkey: Some(format!("5Miner{:042}", i % 256)),
                uid: Some((i % 256) as u16),
                is_success: Some(true),
                return_code: Some(200),
                return_message: Some("Success".into()),
                elapsed_ms: Some(850),
                src_version: Some(10_005_000),
                ..Default::default()
            });
            if batch.len() == 1000 {
                store.append_logs(&mut batch).unwrap();
                batch.clear();
            }
        }
        store.append_logs(&mut batch).unwrap();
        store.flush().unwrap();
        println!(
            "filled {} records in {:.1} s",
            store.log_count(),
            t.elapsed().as_secs_f64()
        );

        let filter = LogFilter {
            key_id: Some(42),
            limit: 100,
            ..Default::default()
        };
        let runs = (0..50)
            .map(|_| {
                let t = Instant::now();
                assert_eq!(store.query_logs(&filter).unwrap().len(), 100);
                t.elapsed()
            })
            .collect();
        println!("store query  key=42 limit=100: {}", stats(runs));
        let filter = LogFilter {
            responder_hotkey: Some(format!("5Miner{:042}", 41)),
            limit: 100,
            ..Default::default()
        };
        let runs = (0..20)
            .map(|_| {
                let t = Instant::now();
                assert_eq!(store.query_logs(&filter).unwrap().len(), 100);
                t.elapsed()
            })
            .collect();
        println!("store query  hotkey=uid41 limit=100: {}", stats(runs));
    }
    let bin = env!("CARGO_BIN_EXE_btvep");
    let runs = (0..10)
        .map(|_| {
            let t = Instant::now();
            let out = Command::new(bin)
                .args(["logs", "--key", "42", "--lines", "100", "--json"])
                .env("BTVEP_DATA_DIR", &data)
                .env("BTVEP_CONFIG", dir.path().join("config.json"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                out.stdout
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count(),
                100
            );
            t.elapsed()
        })
        .collect();
    println!(
        "`btvep logs --key 42 --lines 100` (whole process, {n} records): {}",
        stats(runs)
    );
}
