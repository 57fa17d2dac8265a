//! Per-miner health, kept for every miner the gateway asks: decaying averages of success and
//! latency, the latest successful answer times, the latest failure reasons, and the circuit breaker
//! (`ok` → `cooling` → `probing` → `ok`).
//!
//! # The circuit breaker
//! - `ok`: asked normally. After [`HealthPolicy::fails_to_cool`] failures in a row (timeouts and
//!   errors; a cancelled attempt is neither a success nor a failure) the miner goes `cooling`.
//! - `cooling`: skipped by `best:N` until its cool-down ends. The first cool-down lasts
//!   [`HealthPolicy::cool_base`]; each failed probe doubles it, up to [`HealthPolicy::cool_max`].
//! - `probing`: once the cool-down has ended, exactly one request claims the probe
//!   ([`MinerHealth::claim_probe`]) and asks the miner. Its success makes the miner `ok` again (and
//!   resets the cool-down); its failure sends it back to `cooling` for twice as long. A probe
//!   cancelled before it ended, or claimed by a request that never sent it (refused for credits,
//!   say) within [`PROBE_START_GRACE_MS`], makes the probe available again.
//!
//! A success from any request (e.g. `uids`, which ignores health) also makes a miner `ok`.
//!
//! # Cost
//! Recording an answer takes one uncontended mutex for a few arithmetic operations and a ring-buffer
//! write; [`MinerHealth::state`] is an atomic read, so choosing miners locks nothing per candidate.
//! Every miner's health is kept in the [`super::book::HealthBook`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};

use crate::bittensor::race::AttemptEnd;
use crate::store::miner_health::KEPT_FAILURES;
use crate::store::{FailureNote, HealthState, MinerHealthRecord};

/// Weight of the newest sample in the decaying averages.
pub const ALPHA: f64 = 0.1;
/// Successful answer times kept per miner (for p50/p90).
pub const RECENT: usize = 64;
/// Successful answer times needed before a miner's own p90 is used.
pub const MIN_P90_SAMPLES: usize = 5;
/// Longest failure reason kept.
const MAX_REASON: usize = 200;
/// A claimed probe whose attempt has not started within this (its request was refused, or ended
/// before reaching it) can be claimed again.
pub const PROBE_START_GRACE_MS: u64 = 5_000;
/// A started probe not heard of for this long (longer than any miner timeout) can be claimed again.
const PROBE_STALE_MS: u64 = 15 * 60 * 1000;

/// The circuit breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Failures in a row that send a miner `cooling`.
    pub fails_to_cool: u32,
    /// The first cool-down.
    pub cool_base: Duration,
    /// The longest cool-down (config `cooling_max_seconds`).
    pub cool_max: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            fails_to_cool: 3,
            cool_base: Duration::from_secs(1),
            cool_max: Duration::from_secs(60),
        }
    }
}

impl HealthPolicy {
    /// The cool-down after `level` failed probes: `cool_base × 2^level`, at most `cool_max`.
    pub fn cool_down(&self, level: u32) -> Duration {
        let factor = 1u32.checked_shl(level.min(31)).unwrap_or(u32::MAX);
        self.cool_base
            .checked_mul(factor)
            .unwrap_or(self.cool_max)
            .min(self.cool_max)
    }
}

/// Milliseconds on the process's monotonic clock (cool-downs are timed on it).
pub fn mono_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn wall_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn to_wall(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

const OK: u8 = 0;
const COOLING: u8 = 1;
const PROBING: u8 = 2;

fn encode(s: HealthState) -> u8 {
    match s {
        HealthState::Ok => OK,
        HealthState::Cooling => COOLING,
        HealthState::Probing => PROBING,
    }
}

fn decode(s: u8) -> HealthState {
    match s {
        COOLING => HealthState::Cooling,
        PROBING => HealthState::Probing,
        _ => HealthState::Ok,
    }
}

/// The figures behind a miner's mutex.
#[derive(Debug, Clone)]
struct Figures {
    uid: u16,
    requests: u64,
    successes: u64,
    failures: u64,
    cancelled: u64,
    success_ewma: f64,
    latency_ewma_ms: f64,
    /// Successful answer times in µs, a ring of [`RECENT`].
    recent: Vec<u32>,
    recent_next: usize,
    p90_us: Option<u32>,
    consecutive_failures: u32,
    cool_level: u32,
    /// Monotonic ms when the cool-down ends (cooling) or the probe was claimed (probing).
    state_since: u64,
    cool_until: u64,
    last_failures: VecDeque<FailureNote>,
    last_seen_wall_ms: Option<i64>,
}

/// What selection needs to know about a miner, read under one lock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    /// Attempts that ended.
    pub requests: u64,
    /// Decaying success average.
    pub success_ewma: f64,
    /// Decaying latency average, ms.
    pub latency_ewma_ms: f64,
    /// p90 of the recent successful answer times, once there are [`MIN_P90_SAMPLES`].
    pub p90: Option<Duration>,
}

/// One miner's health (see the module doc).
#[derive(Debug)]
pub struct MinerHealth {
    hotkey: String,
    state: AtomicU8,
    cool_until: AtomicU64,
    /// The claimed probe's attempt has started.
    probe_started: AtomicBool,
    pub(super) dirty: AtomicBool,
    figures: Mutex<Figures>,
}

impl MinerHealth {
    /// A miner never asked.
    pub fn new(hotkey: &str, uid: u16) -> Self {
        Self::from_record(&MinerHealthRecord::new(hotkey, uid), mono_ms(), wall_ms())
    }

    /// A miner as stored, on the clocks `now` (monotonic ms) and `wall` (unix ms). A probe in flight
    /// when the record was written is claimable again.
    pub fn from_record(r: &MinerHealthRecord, now: u64, wall: i64) -> Self {
        let mut recent: Vec<u32> = r.recent_us.iter().rev().take(RECENT).copied().collect();
        recent.reverse();
        let recent_next = recent.len() % RECENT;
        let (state, cool_until) = match r.state {
            HealthState::Ok => (HealthState::Ok, 0),
            HealthState::Cooling | HealthState::Probing => {
                let left = r
                    .cooling_until
                    .map(|t| t.timestamp_millis() - wall)
                    .unwrap_or(0)
                    .max(0);
                (HealthState::Cooling, now + u64::try_from(left).unwrap_or(0))
            }
        };
        let mut f = Figures {
            uid: r.uid,
            requests: r.requests,
            successes: r.successes,
            failures: r.failures,
            cancelled: r.cancelled,
            success_ewma: r.success_ewma.clamp(0.0, 1.0),
            latency_ewma_ms: r.latency_ewma_ms.max(0.0),
            recent,
            recent_next,
            p90_us: None,
            consecutive_failures: r.consecutive_failures,
            cool_level: r.cool_level,
            state_since: now,
            cool_until,
            last_failures: r
                .last_failures
                .iter()
                .rev()
                .take(KEPT_FAILURES)
                .rev()
                .cloned()
                .collect(),
            last_seen_wall_ms: r.last_seen.map(|t| t.timestamp_millis()),
        };
        f.p90_us = p90_of(&f.recent);
        MinerHealth {
            hotkey: r.hotkey.clone(),
            state: AtomicU8::new(encode(state)),
            cool_until: AtomicU64::new(cool_until),
            probe_started: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            figures: Mutex::new(f),
        }
    }

    /// The miner's hotkey.
    pub fn hotkey(&self) -> &str {
        &self.hotkey
    }

    /// Its state (an atomic read).
    pub fn state(&self) -> HealthState {
        decode(self.state.load(Ordering::Acquire))
    }

    fn figures(&self) -> std::sync::MutexGuard<'_, Figures> {
        self.figures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What selection needs, under one lock.
    pub fn figure(&self) -> Figure {
        let f = self.figures();
        Figure {
            requests: f.requests,
            success_ewma: f.success_ewma,
            latency_ewma_ms: f.latency_ewma_ms,
            p90: f.p90_us.map(|us| Duration::from_micros(u64::from(us))),
        }
    }

    /// Whether a probe can be claimed now: cooling with its cool-down over, or a claimed probe that
    /// never started (within [`PROBE_START_GRACE_MS`]) or was lost.
    pub fn probe_due(&self, now: u64) -> bool {
        match self.state.load(Ordering::Acquire) {
            COOLING => self.cool_until.load(Ordering::Acquire) <= now,
            PROBING => self.probe_lost(self.figures().state_since, now),
            _ => false,
        }
    }

    fn probe_lost(&self, claimed: u64, now: u64) -> bool {
        let grace = if self.probe_started.load(Ordering::Acquire) {
            PROBE_STALE_MS
        } else {
            PROBE_START_GRACE_MS
        };
        claimed + grace <= now
    }

    /// Claims the one trial request of a miner whose cool-down is over; `true` for exactly one caller.
    pub fn claim_probe(&self, now: u64) -> bool {
        if !self.probe_due(now) {
            return false;
        }
        let mut f = self.figures();
        // Re-checked under the lock: only one caller moves it to probing.
        let due = match self.state.load(Ordering::Acquire) {
            COOLING => f.cool_until <= now,
            PROBING => self.probe_lost(f.state_since, now),
            _ => false,
        };
        if due {
            f.state_since = now;
            self.probe_started.store(false, Ordering::Release);
            self.state.store(PROBING, Ordering::Release);
            self.dirty.store(true, Ordering::Relaxed);
        }
        due
    }

    /// An attempt at the miner is being sent (marks a claimed probe as under way).
    pub fn attempt_started(&self) {
        if self.state.load(Ordering::Acquire) == PROBING {
            self.probe_started.store(true, Ordering::Release);
        }
    }

    /// Records an attempt that ended, at `now` (monotonic ms). Returns whether the state changed.
    pub fn record(&self, uid: u16, end: &AttemptEnd<'_>, policy: &HealthPolicy, now: u64) -> bool {
        let wall = wall_ms();
        let ms = end.elapsed.as_secs_f64() * 1000.0;
        let mut f = self.figures();
        f.uid = uid;
        f.requests += 1;
        f.last_seen_wall_ms = Some(wall);
        let x = if end.success { 1.0 } else { 0.0 };
        if f.requests == 1 {
            f.success_ewma = x;
            f.latency_ewma_ms = ms;
        } else {
            f.success_ewma += ALPHA * (x - f.success_ewma);
            f.latency_ewma_ms += ALPHA * (ms - f.latency_ewma_ms);
        }
        let before = self.state.load(Ordering::Acquire);
        let mut after = before;
        if end.success {
            f.successes += 1;
            let us = u32::try_from(end.elapsed.as_micros()).unwrap_or(u32::MAX);
            if f.recent.len() < RECENT {
                f.recent.push(us);
            } else {
                let i = f.recent_next;
                f.recent[i] = us;
            }
            f.recent_next = (f.recent_next + 1) % RECENT;
            f.p90_us = p90_of(&f.recent);
            f.consecutive_failures = 0;
            if before != OK {
                after = OK;
                f.cool_level = 0;
            }
        } else {
            f.failures += 1;
            f.consecutive_failures += 1;
            if f.last_failures.len() >= KEPT_FAILURES {
                f.last_failures.pop_front();
            }
            f.last_failures.push_back(FailureNote {
                at: to_wall(wall).unwrap_or_else(Utc::now),
                status: end.status,
                // Miner text: no control characters (it reaches terminals through `btvep miners`).
                message: end
                    .message
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_REASON)
                    .collect(),
            });
            let cool = |f: &mut Figures, level: u32| {
                f.cool_level = level;
                f.cool_until = now + millis(policy.cool_down(level));
                f.state_since = now;
            };
            match before {
                OK if f.consecutive_failures >= policy.fails_to_cool => {
                    cool(&mut f, 0);
                    after = COOLING;
                }
                PROBING => {
                    let level = f.cool_level.saturating_add(1);
                    cool(&mut f, level);
                    after = COOLING;
                }
                _ => {} // still ok, or already cooling (asked anyway, e.g. through `uids`)
            }
        }
        if after != before {
            self.cool_until.store(f.cool_until, Ordering::Release);
            self.state.store(after, Ordering::Release);
        }
        self.dirty.store(true, Ordering::Relaxed);
        after != before
    }

    /// Records an attempt cancelled before it ended (not a failure). A cancelled probe makes the
    /// probe available again. Returns whether the state changed.
    pub fn cancelled(&self, now: u64) -> bool {
        let mut f = self.figures();
        f.cancelled += 1;
        self.dirty.store(true, Ordering::Relaxed);
        if self.state.load(Ordering::Acquire) == PROBING {
            f.cool_until = now;
            f.state_since = now;
            self.cool_until.store(now, Ordering::Release);
            self.state.store(COOLING, Ordering::Release);
            return true;
        }
        false
    }

    /// The miner as stored, on the clocks `now` (monotonic ms) and `wall` (unix ms).
    pub fn to_record(&self, now: u64, wall: i64) -> MinerHealthRecord {
        let f = self.figures();
        let state = self.state();
        let mut recent_us = Vec::with_capacity(f.recent.len());
        if f.recent.len() == RECENT {
            recent_us.extend_from_slice(&f.recent[f.recent_next..]);
            recent_us.extend_from_slice(&f.recent[..f.recent_next]);
        } else {
            recent_us.extend_from_slice(&f.recent);
        }
        let cooling_until = (state == HealthState::Cooling).then(|| {
            let left = i64::try_from(f.cool_until.saturating_sub(now)).unwrap_or(i64::MAX / 2);
            to_wall(wall + left).unwrap_or_else(Utc::now)
        });
        MinerHealthRecord {
            hotkey: self.hotkey.clone(),
            uid: f.uid,
            state,
            requests: f.requests,
            successes: f.successes,
            failures: f.failures,
            cancelled: f.cancelled,
            success_ewma: f.success_ewma,
            latency_ewma_ms: f.latency_ewma_ms,
            recent_us,
            consecutive_failures: f.consecutive_failures,
            cool_level: f.cool_level,
            cooling_until,
            last_failures: f.last_failures.iter().cloned().collect(),
            last_seen: f.last_seen_wall_ms.and_then(to_wall),
        }
    }

    /// Clears the changed-since-persisted mark, returning it.
    pub(super) fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::AcqRel)
    }

    pub(super) fn last_seen_wall_ms(&self) -> Option<i64> {
        self.figures().last_seen_wall_ms
    }
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The p90 (nearest rank) of `samples`, once there are [`MIN_P90_SAMPLES`].
fn p90_of(samples: &[u32]) -> Option<u32> {
    if samples.len() < MIN_P90_SAMPLES {
        return None;
    }
    super::score::percentile(samples, 0.9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::fixtures::{fail, ok};

    #[test]
    fn cool_downs_double_up_to_the_cap() {
        let p = HealthPolicy {
            cool_max: Duration::from_secs(5),
            ..Default::default()
        };
        let secs: Vec<u64> = (0..5).map(|l| p.cool_down(l).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 5, 5]);
        assert_eq!(p.cool_down(200), Duration::from_secs(5));
    }

    #[test]
    fn three_failures_cool_then_one_probe_decides() {
        let p = HealthPolicy::default();
        let m = MinerHealth::new("5D", 3);
        let t = 1_000_000;
        assert!(!m.record(3, &fail(500), &p, t));
        assert!(!m.record(3, &fail(500), &p, t));
        assert_eq!(m.state(), HealthState::Ok);
        assert!(m.record(3, &fail(500), &p, t));
        assert_eq!(m.state(), HealthState::Cooling);
        // not before the cool-down ends
        assert!(!m.claim_probe(t + 999));
        // exactly one probe
        assert!(m.claim_probe(t + 1000));
        assert!(!m.claim_probe(t + 1000));
        assert_eq!(m.state(), HealthState::Probing);
        // a failed probe: twice as long
        assert!(m.record(3, &fail(500), &p, t + 1500));
        assert_eq!(m.state(), HealthState::Cooling);
        assert!(!m.claim_probe(t + 1500 + 1999));
        assert!(m.claim_probe(t + 1500 + 2000));
        // a cancelled probe is claimable again at once
        assert!(m.cancelled(t + 3600));
        assert!(m.claim_probe(t + 3600));
        // a successful probe: ok, cool-down reset
        assert!(m.record(3, &ok(20), &p, t + 3700));
        assert_eq!(m.state(), HealthState::Ok);
        let r = m.to_record(t + 3700, 0);
        assert_eq!(
            (r.requests, r.failures, r.successes, r.cancelled),
            (5, 4, 1, 1)
        );
        assert_eq!(r.cool_level, 0);
        assert_eq!(r.last_failures.len(), KEPT_FAILURES);
        assert_eq!(r.last_failures[2].status, 408);
    }

    #[test]
    fn a_probe_that_never_starts_is_claimable_again() {
        let p = HealthPolicy::default();
        let m = MinerHealth::new("5D", 3);
        for _ in 0..3 {
            m.record(3, &fail(500), &p, 0);
        }
        assert!(m.claim_probe(1000));
        // its request was refused: after the grace another request may probe
        assert!(!m.claim_probe(1000 + PROBE_START_GRACE_MS - 1));
        assert!(m.claim_probe(1000 + PROBE_START_GRACE_MS));
        // a started probe is waited for
        m.attempt_started();
        assert!(!m.claim_probe(1000 + 3 * PROBE_START_GRACE_MS));
        assert_eq!(m.state(), HealthState::Probing);
    }

    #[test]
    fn decaying_averages_and_p90() {
        let p = HealthPolicy::default();
        let m = MinerHealth::new("5B", 1);
        m.record(1, &ok(20), &p, 0);
        let f = m.figure();
        assert_eq!((f.success_ewma, f.latency_ewma_ms), (1.0, 20.0));
        assert_eq!(f.p90, None);
        m.record(1, &fail(120), &p, 0);
        let f = m.figure();
        assert!((f.success_ewma - 0.9).abs() < 1e-9);
        assert!((f.latency_ewma_ms - 30.0).abs() < 1e-9);
        for i in 0..100 {
            m.record(1, &ok(if i % 10 == 0 { 500 } else { 20 }), &p, 0);
        }
        // 64 kept; one in ten is slow, so the p90 is the fast time
        assert_eq!(m.figure().p90, Some(Duration::from_millis(20)));
        assert_eq!(m.to_record(0, 0).recent_us.len(), RECENT);
    }

    #[test]
    fn records_survive_a_round_trip_including_the_cool_down() {
        let p = HealthPolicy::default();
        let m = MinerHealth::new("5D", 3);
        for _ in 0..3 {
            m.record(3, &fail(500), &p, 10_000);
        }
        for _ in 0..6 {
            m.cancelled(10_000);
        }
        let r = m.to_record(10_400, 1_700_000_000_000);
        assert_eq!(r.state, HealthState::Cooling);
        assert_eq!(
            r.cooling_until.unwrap().timestamp_millis(),
            1_700_000_000_600
        );
        // restored 100 ms later (wall) on a fresh monotonic clock: 500 ms left
        let back = MinerHealth::from_record(&r, 50, 1_700_000_000_100);
        assert_eq!(back.state(), HealthState::Cooling);
        assert!(!back.claim_probe(549));
        assert!(back.claim_probe(550));
        let again = back.to_record(550, 1_700_000_000_600);
        assert_eq!(again.requests, 3);
        assert_eq!(again.cancelled, 6);
        // a record written while probing comes back claimable
        let probing = MinerHealth::from_record(&again, 0, 1_700_000_000_600);
        assert_eq!(probing.state(), HealthState::Cooling);
        assert!(probing.claim_probe(0));
    }
}
