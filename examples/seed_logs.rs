//! Fills a data dir's request log with old records, for the retention benchmark
//! (`scripts/bench_retention.sh`): `seed_logs DATA_DIR COUNT DAYS_OLD`.

use btvep::store::{LogRecord, Store};
use chrono::{Duration, Utc};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, count, days): (&str, usize, i64) = match args.as_slice() {
        [_, d, c, a] => (d, c.parse().expect("COUNT"), a.parse().expect("DAYS_OLD")),
        _ => {
            eprintln!("usage: seed_logs DATA_DIR COUNT DAYS_OLD");
            std::process::exit(2);
        }
    };
    let store = Store::open(std::path::Path::new(dir)).expect("open the store");
    let base = Utc::now() - Duration::days(days);
    let mut done = 0;
    while done < count {
        let n = (count - done).min(10_000);
        let mut batch: Vec<LogRecord> = (0..n)
            .map(|i| LogRecord {
                timestamp: base - Duration::milliseconds((done + i) as i64),
                api_key_id: Some(1 + ((done + i) % 100) as u64),
                api_request_id: format!("req_seed{}", done + i),
                route: Some("/chat".into()),
                prompt: Some("What is 1+1? ".repeat(8)),
                is_api_success: true,
                response: Some("2 ".repeat(40)),
                responder_hotkey: Some(format!("5Seed{:043}", (done + i) % 256)),
                uid: Some(((done + i) % 256) as u16),
                is_success: Some(true),
                return_code: Some(200),
                elapsed_ms: Some(12),
                ..Default::default()
            })
            .collect();
        store.append_logs(&mut batch).expect("append");
        done += n;
    }
    store.flush().expect("flush");
    println!("seeded {count} records {days} days old");
}
