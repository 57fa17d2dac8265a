//! Import benchmark: generate a Python btvep database (repository shape, the exact peewee DDL) with
//! 100,000 keys and 1,000,000 request rows, then time `btvep import` of it with the real binary into a
//! fresh data dir, a second (idempotent) run, and a dry run.
//!
//! Run: `cargo bench --bench import` (sizes: `BTVEP_BENCH_KEYS`, `BTVEP_BENCH_REQUESTS`).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const DDL: &str = r#"
CREATE TABLE "user" ("id" TEXT NOT NULL PRIMARY KEY, "request_count" INTEGER NOT NULL, "is_admin" INTEGER NOT NULL,
  "api_request_count" INTEGER NOT NULL, "enabled" INTEGER NOT NULL, "created_at" DATETIME NOT NULL,
  "updated_at" DATETIME NOT NULL);
CREATE TABLE "apikey" ("id" INTEGER NOT NULL PRIMARY KEY, "api_key" TEXT NOT NULL, "api_key_hint" TEXT NOT NULL,
  "name" TEXT, "user_id" TEXT, "request_count" INTEGER NOT NULL, "api_request_count" INTEGER NOT NULL,
  "valid_until" DATETIME NOT NULL, "credits" INTEGER NOT NULL, "enabled" INTEGER NOT NULL, "rate_limits" TEXT,
  "rate_limits_enabled" INTEGER NOT NULL, "default_query_strategy" TEXT, "created_at" DATETIME NOT NULL,
  "updated_at" DATETIME NOT NULL, FOREIGN KEY ("user_id") REFERENCES "user" ("id"));
CREATE UNIQUE INDEX "apikey_api_key" ON "apikey" ("api_key");
CREATE TABLE "request" ("id" INTEGER NOT NULL PRIMARY KEY, "api_key_id" TEXT, "user_id" TEXT,
  "timestamp" INTEGER NOT NULL, "prompt" TEXT NOT NULL, "is_api_success" INTEGER NOT NULL, "api_error" TEXT,
  "api_request_id" TEXT NOT NULL, "response" TEXT, "responder_hotkey" TEXT, "is_success" INTEGER,
  "return_message" TEXT, "elapsed_time" REAL, "src_version" INTEGER, "dest_version" INTEGER, "return_code" TEXT,
  FOREIGN KEY ("api_key_id") REFERENCES "apikey" ("api_key"), FOREIGN KEY ("user_id") REFERENCES "user" ("id"));
CREATE INDEX "request_api_key_id" ON "request" ("api_key_id");
CREATE INDEX "request_user_id" ON "request" ("user_id");
"#;

/// A 64-character url-safe key, like `secrets.token_urlsafe(48)`, derived from `i`.
fn key(i: usize) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(i.to_be_bytes());
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..64)
        .map(|j| alphabet[(d[j % 32] as usize + j * 7) % 64] as char)
        .collect()
}

fn generate(path: &Path, keys: usize, requests: usize) {
    let mut c = rusqlite::Connection::open(path).unwrap();
    // As peewee left it: foreign keys not enforced (the bundled SQLite enforces them by default).
    c.execute_batch("PRAGMA foreign_keys = OFF; PRAGMA synchronous = OFF;")
        .unwrap();
    c.execute_batch(DDL).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut ins = tx
            .prepare("INSERT INTO apikey VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")
            .unwrap();
        for i in 1..=keys {
            let k = key(i);
            let limits = (i % 10 == 0).then_some(r#"[{"times": 10, "seconds": 60}]"#);
            ins.execute(rusqlite::params![
                i as i64,
                k,
                format!("...{}", &k[60..]),
                format!("customer {i}"),
                (i * 10) as i64,
                (i * 9) as i64,
                if i % 7 == 0 { 1_700_000_000i64 } else { -1 },
                if i % 3 == 0 { -1 } else { 1000 + i as i64 },
                (i % 50 != 0) as i64,
                limits,
                limits.is_some() as i64,
                (i % 5 == 0).then_some("top_n:3"),
                1_690_000_000i64 + i as i64,
                1_690_000_000i64 + i as i64,
            ])
            .unwrap();
        }
        let mut ins = tx
            .prepare(
                "INSERT INTO request VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 601, 601, ?14)",
            )
            .unwrap();
        for i in 1..=requests {
            let k = key(i % keys + 1);
            let limited = i % 20 == 0;
            ins.execute(rusqlite::params![
                i as i64,
                limited.then_some(&k),
                (!limited).then_some(&k),
                1_693_000_000i64 + i as i64,
                r#"[{"role": "user", "content": "Qu'est-ce que la vie ? R\u00e9ponds."}]"#,
                (!limited) as i64,
                limited.then_some("RateLimitExceeded"),
                format!("{:08x}-0000-4000-8000-{:012x}", i, i),
                (!limited).then_some("La vie est une question ouverte."),
                (!limited).then(|| format!("5Miner{:042}", i % 256)),
                (!limited).then_some(1i64),
                (!limited).then_some("Success"),
                (!limited).then_some(0.85f64),
                (!limited).then_some("Success"),
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn btvep(data: &Path, args: &[&str]) -> f64 {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_btvep"))
        .args(args)
        .env("BTVEP_DATA_DIR", data)
        .env("BTVEP_CONFIG", data.with_file_name("config.json"))
        .env("RUST_LOG", "warn,btvep::import=debug")
        .output()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "btvep {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        println!("    {line}");
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v["database"];
    println!(
        "  btvep {}: {secs:.1} s (keys imported {}, already present {}; rows imported {}, already present {})",
        args.join(" "),
        d["keys"]["imported"],
        d["keys"]["already_present"],
        d["requests"]["imported"],
        d["requests"]["already_present"]
    );
    secs
}

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let keys = env("BTVEP_BENCH_KEYS", 100_000);
    let requests = env("BTVEP_BENCH_REQUESTS", 1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("btvep.db");
    let t = Instant::now();
    generate(&db, keys, requests);
    println!(
        "generated {} keys and {} request rows in {:.1} s ({} MB)",
        keys,
        requests,
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&db).unwrap().len() / 1_000_000
    );
    let data = dir.path().join("data");
    let db = db.to_str().unwrap();
    let dry = btvep(&data, &["import", db, "--dry-run", "--json"]);
    let first = btvep(&data, &["import", db, "--json"]);
    let second = btvep(&data, &["import", db, "--json"]);
    println!("dry run {dry:.1} s, import {first:.1} s, second run {second:.1} s (target: import under 60 s)");
    assert!(first < 60.0, "the import took {first:.1} s");
}
