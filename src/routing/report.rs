//! What `btvep miners` (and `GET /admin/miners`) shows: one [`MinerRow`] per known miner, sorted by
//! score, built from the health records (a running server writes its live figures first).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::score;
use crate::store::{FailureNote, HealthState, MinerHealthRecord};

/// One miner as `btvep miners` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinerRow {
    /// The uid it was last asked under.
    pub uid: u16,
    /// Its hotkey.
    pub hotkey: String,
    /// `ok`, `cooling` or `probing`.
    pub state: HealthState,
    /// Attempts that ended (successes and failures).
    pub requests: u64,
    /// Successful attempts.
    pub successes: u64,
    /// Failed attempts.
    pub failures: u64,
    /// Attempts cancelled because another miner answered first.
    pub cancelled: u64,
    /// Recent success rate (the decaying average, 0–1).
    pub success_rate: f64,
    /// Median of the latest successful answer times, ms.
    pub p50_ms: Option<f64>,
    /// 90th percentile of the latest successful answer times, ms.
    pub p90_ms: Option<f64>,
    /// Recent time per attempt (the decaying average, successes and failures), ms.
    pub latency_ms: f64,
    /// The score: expected time to a successful answer, ms (lower is better).
    pub expected_ms: f64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// When its cool-down ends (while cooling).
    pub cooling_until: Option<DateTime<Utc>>,
    /// The latest failure.
    pub last_failure: Option<FailureNote>,
    /// When an attempt last ended.
    pub last_seen: Option<DateTime<Utc>>,
}

/// The rows of `records`, best score first (ties: lower uid).
pub fn rows(records: &[MinerHealthRecord]) -> Vec<MinerRow> {
    let l0 = score::prior_latency_ms(records.iter().map(|r| (r.requests, r.latency_ewma_ms)));
    let ms = |us: Option<u32>| us.map(|v| f64::from(v) / 1000.0);
    let mut rows: Vec<MinerRow> = records
        .iter()
        .map(|r| MinerRow {
            uid: r.uid,
            hotkey: r.hotkey.clone(),
            state: r.state,
            requests: r.requests,
            successes: r.successes,
            failures: r.failures,
            cancelled: r.cancelled,
            success_rate: r.success_ewma,
            p50_ms: ms(score::percentile(&r.recent_us, 0.5)),
            p90_ms: ms(score::percentile(&r.recent_us, 0.9)),
            latency_ms: r.latency_ewma_ms,
            expected_ms: score::expected_ms(r.requests, r.success_ewma, r.latency_ewma_ms, l0),
            consecutive_failures: r.consecutive_failures,
            cooling_until: r.cooling_until,
            last_failure: r.last_failures.last().cloned(),
            last_seen: r.last_seen,
        })
        .collect();
    rows.sort_by(|a, b| {
        a.expected_ms
            .total_cmp(&b.expected_ms)
            .then(a.uid.cmp(&b.uid))
    });
    rows
}

/// A hotkey shortened for a table: its first 6 and last 4 characters.
pub fn short_hotkey(hotkey: &str) -> String {
    let chars: Vec<char> = hotkey.chars().collect();
    if chars.len() <= 12 {
        return hotkey.to_string();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sort_by_score() {
        let mut good = MinerHealthRecord::new("5Good", 1);
        good.requests = 10;
        good.successes = 10;
        good.success_ewma = 1.0;
        good.latency_ewma_ms = 20.0;
        good.recent_us = vec![20_000; 10];
        let mut bad = MinerHealthRecord::new("5Bad", 0);
        bad.requests = 10;
        bad.failures = 10;
        bad.latency_ewma_ms = 500.0;
        bad.state = HealthState::Cooling;
        let rows = rows(&[bad, good]);
        assert_eq!(rows[0].hotkey, "5Good");
        assert_eq!(rows[0].p90_ms, Some(20.0));
        assert_eq!(rows[1].state, HealthState::Cooling);
        assert_eq!(rows[1].p50_ms, None);
        assert_eq!(
            short_hotkey("5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4"),
            "5DSaCV…FjY4"
        );
    }
}
