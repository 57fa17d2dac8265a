//! The score `best:N` ranks miners by: their **expected time to a successful answer**, in
//! milliseconds (lower is better).
//!
//! For a miner with `n` ended attempts, success average `s` and latency average `l` (decaying
//! averages, [`super::health::ALPHA`] = 0.1):
//!
//! ```text
//! w = min(n, 20)                                  weight of the miner's own figures
//! p = (2 × 0.9 + w × s) / (2 + w)                 success probability, prior 0.9 worth 2 attempts
//! L = (2 × L0 + w × l) / (2 + w)                  latency, prior L0 worth 2 attempts
//! expected_ms = L / max(p, 0.02)
//! ```
//!
//! `L0` is the median latency average of the miners being ranked that have ended at least one
//! attempt (1,000 ms when none has). A miner never asked thus scores `L0 / 0.9`: about a typical
//! miner, so it is tried as a spare, and exploration gives it traffic of its own. `L / p` is the
//! expected time when every failure costs another attempt like the first one. Ties go to the higher
//! incentive, then the lower uid.

/// Prior success probability of a miner never asked.
pub const PRIOR_SUCCESS: f64 = 0.9;
/// How many attempts the priors weigh.
pub const PRIOR_WEIGHT: f64 = 2.0;
/// Most attempts a miner's own figures weigh (the decaying averages forget older ones anyway).
pub const MAX_WEIGHT: f64 = 20.0;
/// Floor of the success probability (a dead miner scores 50 × its latency, not infinity).
pub const MIN_SUCCESS: f64 = 0.02;
/// The prior latency when no miner has ended an attempt yet.
pub const DEFAULT_PRIOR_LATENCY_MS: f64 = 1000.0;

/// The expected time to a successful answer, in ms (see the module doc).
pub fn expected_ms(
    requests: u64,
    success_ewma: f64,
    latency_ewma_ms: f64,
    prior_latency_ms: f64,
) -> f64 {
    let w = (requests as f64).min(MAX_WEIGHT);
    let p = (PRIOR_WEIGHT * PRIOR_SUCCESS + w * success_ewma) / (PRIOR_WEIGHT + w);
    let l = (PRIOR_WEIGHT * prior_latency_ms + w * latency_ewma_ms) / (PRIOR_WEIGHT + w);
    l / p.max(MIN_SUCCESS)
}

/// The prior latency `L0`: the median of the latency averages of miners with at least one ended
/// attempt, given as `(requests, latency_ewma_ms)`.
pub fn prior_latency_ms(figures: impl Iterator<Item = (u64, f64)>) -> f64 {
    let mut known: Vec<f64> = figures.filter(|(n, _)| *n > 0).map(|(_, l)| l).collect();
    median(&mut known).unwrap_or(DEFAULT_PRIOR_LATENCY_MS)
}

/// The median of `values` (mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// The `q` quantile (0..=1) of `samples` by nearest rank: the smallest sample with at least `q` of
/// them at or below it.
pub fn percentile(samples: &[u32], q: f64) -> Option<u32> {
    if samples.is_empty() {
        return None;
    }
    let mut buf = [0u32; super::health::RECENT];
    let sorted: &mut [u32] = if samples.len() <= buf.len() {
        buf[..samples.len()].copy_from_slice(samples);
        &mut buf[..samples.len()]
    } else {
        return percentile_owned(samples.to_vec(), q);
    };
    let rank = rank_of(sorted.len(), q);
    Some(*sorted.select_nth_unstable(rank).1)
}

fn percentile_owned(mut v: Vec<u32>, q: f64) -> Option<u32> {
    let rank = rank_of(v.len(), q);
    Some(*v.select_nth_unstable(rank).1)
}

fn rank_of(len: usize, q: f64) -> usize {
    let r = (q.clamp(0.0, 1.0) * len as f64).ceil() as usize;
    r.clamp(1, len) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_subnet_ranks_b_then_a_then_c_then_d() {
        // A: 20 ms, half fail; B: 20 ms; C: 200 ms; D: 500 ms timeouts.
        let figures = [
            (40, 0.5, 20.0),
            (40, 1.0, 20.0),
            (40, 1.0, 200.0),
            (3, 0.0, 500.0),
        ];
        let l0 = prior_latency_ms(figures.iter().map(|f| (f.0, f.2)));
        assert_eq!(l0, 110.0);
        let s: Vec<f64> = figures
            .iter()
            .map(|f| expected_ms(f.0, f.1, f.2, l0))
            .collect();
        assert!(s[1] < s[0] && s[0] < s[2] && s[2] < s[3], "{s:?}");
        // a miner never asked sits between the known good and the known bad
        let unknown = expected_ms(0, 0.0, 0.0, l0);
        assert!((unknown - l0 / PRIOR_SUCCESS).abs() < 1e-9);
        assert!(s[1] < unknown && unknown < s[3]);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u32> = (1..=10).collect();
        assert_eq!(percentile(&v, 0.9), Some(9));
        assert_eq!(percentile(&v, 0.5), Some(5));
        assert_eq!(percentile(&v, 1.0), Some(10));
        assert_eq!(percentile(&[7], 0.9), Some(7));
        assert_eq!(percentile(&[], 0.9), None);
        let big: Vec<u32> = (1..=100).rev().collect();
        assert_eq!(percentile(&big, 0.9), Some(90));
        assert_eq!(median(&mut [3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }
}
