//! The dashboard's overview: the request log of a recent window aggregated into totals, a time
//! series, the busiest keys and per-miner figures. Records are read without their prompts and answers
//! ([`crate::store::Store::query_log_summaries`]), at most [`STATS_MAX_RECORDS`] of them.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::ApiError;
use super::state::AppState;
use crate::store::{ApiKey, LogFilter, LogRecord};

/// Most log records a stats query reads.
pub const STATS_MAX_RECORDS: usize = 100_000;

/// What to aggregate: the last `window` seconds in `buckets` time buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsQuery {
    /// Seconds, 1 to 90 days (default one hour).
    pub window: i64,
    /// Buckets, 1 to 1,000 (default 60).
    pub buckets: i64,
}

impl StatsQuery {
    /// From `window` and `buckets` query parameters (bad or missing values take the defaults).
    pub fn from_query(q: &HashMap<String, String>) -> Self {
        let get = |k: &str, default: i64, max: i64| {
            q.get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|v| *v > 0)
                .unwrap_or(default)
                .min(max)
        };
        StatsQuery {
            window: get("window", 3600, 90 * 86_400),
            buckets: get("buckets", 60, 1000),
        }
    }
}

/// The overview.
#[derive(Debug, Serialize)]
pub struct Stats {
    /// The window asked for, seconds.
    pub window: i64,
    /// Seconds per bucket.
    pub bucket_seconds: i64,
    /// Whether more than [`STATS_MAX_RECORDS`] records fell in the window (the rest were not read).
    pub truncated: bool,
    /// Totals over the window.
    pub totals: Totals,
    /// Refused requests by `api_error` code.
    pub refused_by_code: BTreeMap<String, u64>,
    /// The time series, oldest bucket first.
    pub series: Vec<Bucket>,
    /// The ten keys with the most requests.
    pub top_keys: Vec<TopKey>,
    /// Per miner, by uid.
    pub miners: Vec<MinerStats>,
    /// The metagraph in use, when loaded.
    pub metagraph: Option<MetagraphStats>,
}

/// Totals over the window.
#[derive(Debug, Serialize)]
pub struct Totals {
    /// API requests.
    pub requests: u64,
    /// Requests admitted and sent to miners.
    pub served: u64,
    /// Requests refused before any miner was asked.
    pub refused: u64,
    /// Miner answers (successful or not).
    pub miner_answers: u64,
    /// Successful miner answers.
    pub miner_successes: u64,
    /// Served requests with at least one successful answer, over served requests.
    pub success_rate: f64,
    /// Credits spent by metered keys.
    pub credits_spent: u64,
}

/// One time bucket.
#[derive(Debug, Serialize)]
pub struct Bucket {
    /// Its start, RFC 3339.
    pub start: String,
    /// API requests.
    pub requests: u64,
    /// Served requests.
    pub served: u64,
    /// Refused requests.
    pub refused: u64,
    /// Successful miner answers.
    pub miner_successes: u64,
}

/// A busy key.
#[derive(Debug, Serialize)]
pub struct TopKey {
    /// Its id.
    pub key_id: u64,
    /// Its name.
    pub name: Option<String>,
    /// Its hint (`...abcd`).
    pub hint: Option<String>,
    /// API requests.
    pub requests: u64,
    /// Credits spent.
    pub credits_spent: u64,
}

/// One miner's figures.
#[derive(Debug, Serialize)]
pub struct MinerStats {
    /// Uid.
    pub uid: u16,
    /// Hotkey.
    pub hotkey: String,
    /// Answers.
    pub answers: u64,
    /// Successful answers.
    pub successes: u64,
    /// Successes over answers.
    pub success_rate: f64,
    /// Mean answer time, ms.
    pub avg_ms: f64,
    /// Median answer time, ms.
    pub p50_ms: u64,
    /// The gateway's current view of it (`ok`, `cooling`, `probing`), when it has one.
    pub state: Option<crate::store::HealthState>,
}

/// The metagraph in use.
#[derive(Debug, Serialize)]
pub struct MetagraphStats {
    /// Neurons.
    pub neurons: usize,
    /// Neurons serving an axon.
    pub serving: usize,
    /// Seconds since it was loaded.
    pub age_seconds: i64,
}

/// Reads the window's records (after the queued ones are written) and aggregates them.
///
/// # Errors
/// [`ApiError::Internal`] when the store fails.
pub fn stats(state: &AppState, q: StatsQuery) -> Result<Stats, ApiError> {
    let bucket_seconds = (q.window + q.buckets - 1) / q.buckets;
    let now = Utc::now();
    let start = now - chrono::Duration::seconds(bucket_seconds * q.buckets);
    state.logs.barrier();
    let records = state.store.query_log_summaries(&LogFilter {
        start: Some(start),
        limit: STATS_MAX_RECORDS,
        ..Default::default()
    })?;
    let keys: HashMap<u64, ApiKey> = state
        .store
        .list_keys()?
        .into_iter()
        .map(|k| (k.id, k))
        .collect();
    let mut s = aggregate(&records, &keys, start, bucket_seconds, q.buckets);
    s.window = q.window;
    for m in &mut s.miners {
        m.state = state.router.state_of(&m.hotkey);
    }
    s.metagraph = state.metagraph().map(|m| MetagraphStats {
        neurons: m.neurons.len(),
        serving: m.neurons.iter().filter(|n| n.is_serving()).count(),
        age_seconds: (now - m.fetched_at).num_seconds(),
    });
    Ok(s)
}

/// Aggregates `records` (newest first or in any order) into `buckets` buckets from `start`.
pub fn aggregate(
    records: &[LogRecord],
    keys: &HashMap<u64, ApiKey>,
    start: DateTime<Utc>,
    bucket_seconds: i64,
    buckets: i64,
) -> Stats {
    let metered = |id: Option<u64>| {
        id.and_then(|i| keys.get(&i))
            .is_some_and(|k| k.credits != -1)
    };
    let mut series: Vec<[u64; 4]> = vec![[0; 4]; buckets as usize];
    let bucket_of = |r: &LogRecord| {
        (((r.timestamp - start).num_seconds() / bucket_seconds).clamp(0, buckets - 1)) as usize
    };
    // One API request = its records sharing `api_request_id`.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut served_ids: HashSet<&str> = HashSet::new();
    let mut successful_ids: HashSet<&str> = HashSet::new();
    let mut refused_by_code: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_key: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut per_miner: BTreeMap<u16, (String, u64, u64, Vec<u64>)> = BTreeMap::new();
    let (mut answers, mut successes, mut credits_spent) = (0u64, 0u64, 0u64);
    for r in records {
        let b = bucket_of(r);
        if seen.insert(r.api_request_id.as_str()) {
            series[b][0] += 1;
            if let Some(k) = r.api_key_id {
                per_key.entry(k).or_default().0 += 1;
            }
            if r.is_api_success {
                series[b][1] += 1;
            } else {
                series[b][2] += 1;
                *refused_by_code
                    .entry(r.api_error.clone().unwrap_or_default())
                    .or_default() += 1;
            }
        }
        if r.is_api_success {
            served_ids.insert(r.api_request_id.as_str());
        }
        if let Some(ok) = r.is_success {
            answers += 1;
            let m = per_miner.entry(r.uid.unwrap_or(0)).or_insert_with(|| {
                (
                    r.responder_hotkey.clone().unwrap_or_default(),
                    0,
                    0,
                    Vec::new(),
                )
            });
            m.1 += 1;
            if let Some(ms) = r.elapsed_ms {
                m.3.push(ms);
            }
            if ok {
                m.2 += 1;
                successes += 1;
                series[b][3] += 1;
                successful_ids.insert(r.api_request_id.as_str());
                if metered(r.api_key_id) {
                    credits_spent += 1;
                    if let Some(k) = r.api_key_id {
                        per_key.entry(k).or_default().1 += 1;
                    }
                }
            }
        }
    }
    let requests = seen.len() as u64;
    let served = served_ids.len() as u64;
    let mut top: Vec<(u64, (u64, u64))> = per_key.into_iter().collect();
    top.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    top.truncate(10);
    Stats {
        window: bucket_seconds * buckets,
        bucket_seconds,
        truncated: records.len() >= STATS_MAX_RECORDS,
        totals: Totals {
            requests,
            served,
            refused: requests - served.min(requests),
            miner_answers: answers,
            miner_successes: successes,
            success_rate: if served == 0 {
                0.0
            } else {
                successful_ids.len() as f64 / served as f64
            },
            credits_spent,
        },
        refused_by_code,
        series: buckets_from(&series, start, bucket_seconds),
        top_keys: top
            .iter()
            .map(|(id, (req, spent))| TopKey {
                key_id: *id,
                name: keys.get(id).and_then(|k| k.name.clone()),
                hint: keys.get(id).map(|k| k.api_key_hint.clone()),
                requests: *req,
                credits_spent: *spent,
            })
            .collect(),
        miners: per_miner.into_iter().map(miner_stats).collect(),
        metagraph: None,
    }
}

fn buckets_from(series: &[[u64; 4]], start: DateTime<Utc>, bucket_seconds: i64) -> Vec<Bucket> {
    series
        .iter()
        .enumerate()
        .map(|(i, b)| Bucket {
            start: (start + chrono::Duration::seconds(bucket_seconds * i as i64))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            requests: b[0],
            served: b[1],
            refused: b[2],
            miner_successes: b[3],
        })
        .collect()
}

fn miner_stats((uid, (hotkey, n, ok, mut ms)): (u16, (String, u64, u64, Vec<u64>))) -> MinerStats {
    ms.sort_unstable();
    MinerStats {
        uid,
        hotkey,
        answers: n,
        successes: ok,
        success_rate: if n == 0 { 0.0 } else { ok as f64 / n as f64 },
        avg_ms: if ms.is_empty() {
            0.0
        } else {
            ms.iter().sum::<u64>() as f64 / ms.len() as f64
        },
        p50_ms: ms.get(ms.len() / 2).copied().unwrap_or(0),
        state: None,
    }
}
