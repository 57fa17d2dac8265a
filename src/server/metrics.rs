//! Prometheus metrics, kept in process and rendered as the text exposition format at `GET /metrics`.
//!
//! Counters are plain atomics or small maps behind a mutex (cardinality is bounded: routes × statuses,
//! uids × statuses, uids × the hotkeys that held them), so recording costs next to nothing on the
//! request path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the miner latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// One miner's latency histogram.
#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Per bucket (not cumulative).
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum_micros: u64,
}

/// Per miner: counts by status and the latency histogram.
#[derive(Debug, Default)]
struct MinerFigures {
    /// Answers by `(uid, status)`.
    answers: BTreeMap<(u16, u16), u64>,
    /// Latency by uid, then by the hotkeys that answered under it (usually one).
    latency: BTreeMap<u16, Vec<(String, Histogram)>>,
}

/// All metrics of a server.
#[derive(Debug, Default)]
pub struct Metrics {
    http: Mutex<BTreeMap<(String, u16), u64>>,
    miners: Mutex<MinerFigures>,
    credits_spent: AtomicU64,
    rate_limited: AtomicU64,
    api_errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Counts a finished HTTP request.
    pub fn http_request(&self, route: &str, status: u16) {
        *self
            .http
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((route.to_string(), status))
            .or_default() += 1;
    }

    /// Counts one miner answer and its latency.
    pub fn miner_answer(&self, uid: u16, hotkey: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|b| secs <= *b);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let mut m = self.miners.lock().unwrap_or_else(|p| p.into_inner());
        *m.answers.entry((uid, status)).or_default() += 1;
        let per_uid = m.latency.entry(uid).or_default();
        let h = match per_uid.iter().position(|(k, _)| k == hotkey) {
            Some(i) => &mut per_uid[i].1,
            None => {
                per_uid.push((hotkey.to_string(), Histogram::default()));
                &mut per_uid.last_mut().expect("just pushed").1
            }
        };
        if let Some(b) = bucket {
            h.buckets[b] += 1;
        }
        h.count += 1;
        h.sum_micros = h.sum_micros.saturating_add(micros);
    }

    /// Counts credits taken from keys.
    pub fn credits_spent(&self, n: u64) {
        self.credits_spent.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a refusal by its btvep `api_error` code.
    pub fn refusal(&self, code: &'static str) {
        if code == "RateLimitExceeded" {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        *self
            .api_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(code)
            .or_default() += 1;
    }

    /// Renders everything in the Prometheus text format. `metagraph` is `(age seconds, neurons, serving)`.
    pub fn render(&self, metagraph: Option<(f64, usize, usize)>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP btvep_build_info btvep version.\n# TYPE btvep_build_info gauge"
        );
        let _ = writeln!(
            out,
            "btvep_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );

        let _ = writeln!(
            out,
            "# HELP btvep_http_requests_total API requests by route and HTTP status."
        );
        let _ = writeln!(out, "# TYPE btvep_http_requests_total counter");
        for ((route, status), n) in self.http.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "btvep_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }

        let _ = writeln!(out, "# HELP btvep_refusals_total Requests refused before reaching miners, by btvep api_error code.");
        let _ = writeln!(out, "# TYPE btvep_refusals_total counter");
        for (code, n) in self
            .api_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "btvep_refusals_total{{api_error=\"{code}\"}} {n}");
        }

        let _ = writeln!(
            out,
            "# HELP btvep_rate_limit_refusals_total Requests refused by a rate limit."
        );
        let _ = writeln!(out, "# TYPE btvep_rate_limit_refusals_total counter");
        let _ = writeln!(
            out,
            "btvep_rate_limit_refusals_total {}",
            self.rate_limited.load(Ordering::Relaxed)
        );

        let miners = self.miners.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "# HELP btvep_miner_answers_total Miner answers by uid and status code (200 = success).");
        let _ = writeln!(out, "# TYPE btvep_miner_answers_total counter");
        for ((uid, status), n) in &miners.answers {
            let _ = writeln!(
                out,
                "btvep_miner_answers_total{{uid=\"{uid}\",status=\"{status}\"}} {n}"
            );
        }

        let _ = writeln!(
            out,
            "# HELP btvep_miner_latency_seconds Time miners took to answer, by uid and hotkey."
        );
        let _ = writeln!(out, "# TYPE btvep_miner_latency_seconds histogram");
        for (uid, per_hotkey) in &miners.latency {
            for (hotkey, h) in per_hotkey {
                let labels = format!("uid=\"{uid}\",hotkey=\"{}\"", escape(hotkey));
                let mut cumulative = 0;
                for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                    cumulative += h.buckets[i];
                    let _ = writeln!(
                        out,
                        "btvep_miner_latency_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    out,
                    "btvep_miner_latency_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "btvep_miner_latency_seconds_sum{{{labels}}} {}",
                    h.sum_micros as f64 / 1e6
                );
                let _ = writeln!(
                    out,
                    "btvep_miner_latency_seconds_count{{{labels}}} {}",
                    h.count
                );
            }
        }
        drop(miners);

        let _ = writeln!(out, "# HELP btvep_credits_spent_total Credits taken from API keys (successful answers on metered keys).");
        let _ = writeln!(out, "# TYPE btvep_credits_spent_total counter");
        let _ = writeln!(
            out,
            "btvep_credits_spent_total {}",
            self.credits_spent.load(Ordering::Relaxed)
        );

        let _ = writeln!(out, "# HELP btvep_metagraph_age_seconds Seconds since the metagraph was last loaded (absent before the first load).");
        let _ = writeln!(out, "# TYPE btvep_metagraph_age_seconds gauge");
        let _ = writeln!(
            out,
            "# HELP btvep_metagraph_neurons Neurons in the metagraph, and those serving an axon."
        );
        let _ = writeln!(out, "# TYPE btvep_metagraph_neurons gauge");
        if let Some((age, neurons, serving)) = metagraph {
            let _ = writeln!(out, "btvep_metagraph_age_seconds {age}");
            let _ = writeln!(
                out,
                "btvep_metagraph_neurons{{state=\"registered\"}} {neurons}"
            );
            let _ = writeln!(
                out,
                "btvep_metagraph_neurons{{state=\"serving\"}} {serving}"
            );
        }
        out
    }
}

/// Escapes a label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.http_request("/chat", 200);
        m.http_request("/chat", 200);
        m.miner_answer(3, "5Abc", 200, Duration::from_millis(80));
        m.miner_answer(3, "5Abc", 408, Duration::from_secs(12));
        m.miner_answer(3, "5New", 200, Duration::from_millis(8));
        m.credits_spent(1);
        m.refusal("RateLimitExceeded");
        let text = m.render(Some((4.0, 10, 8)));
        assert!(text.contains("btvep_http_requests_total{route=\"/chat\",status=\"200\"} 2"));
        assert!(text.contains("btvep_miner_answers_total{uid=\"3\",status=\"408\"} 1"));
        assert!(text.contains(
            "btvep_miner_latency_seconds_bucket{uid=\"3\",hotkey=\"5Abc\",le=\"0.05\"} 0"
        ));
        assert!(text.contains(
            "btvep_miner_latency_seconds_bucket{uid=\"3\",hotkey=\"5Abc\",le=\"0.1\"} 1"
        ));
        assert!(text.contains(
            "btvep_miner_latency_seconds_bucket{uid=\"3\",hotkey=\"5Abc\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("btvep_miner_latency_seconds_count{uid=\"3\",hotkey=\"5New\"} 1"));
        assert!(text.contains(
            "btvep_miner_latency_seconds_bucket{uid=\"3\",hotkey=\"5New\",le=\"0.01\"} 1"
        ));
        assert!(text.contains("btvep_rate_limit_refusals_total 1"));
        assert!(text.contains("btvep_credits_spent_total 1"));
        assert!(text.contains("btvep_metagraph_neurons{state=\"serving\"} 8"));
    }
}
