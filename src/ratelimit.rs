//! In-process rate limiting with governor: per API key, every configured window enforced.
//!
//! One keyed GCRA limiter exists per distinct window (`times` per `seconds`), keyed by API key id, so a
//! key's own list and the global list share state structure and changing a key's limits takes effect on the
//! next request. A window of `times` per `seconds` allows a burst of `times` and refills one request every
//! `seconds / times`. [`RateLimiters::prune`] drops idle keys' state so memory stays bounded with many keys.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::RateLimit;

type KeyedLimiter =
    RateLimiter<u64, DefaultKeyedStateStore<u64>, DefaultClock, StateInformationMiddleware>;

/// The outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No window applies.
    Unlimited,
    /// Allowed; figures describe the tightest window (for `x-ratelimit-*` headers).
    Allowed {
        /// Requests allowed in the tightest window.
        limit: u32,
        /// Requests still available in it right now.
        remaining: u32,
        /// Time until it is full again.
        reset: Duration,
    },
    /// Refused by at least one window.
    Limited {
        /// Requests allowed in the refusing window.
        limit: u32,
        /// Time until a request would be allowed.
        retry_after: Duration,
    },
}

/// All limiters of a server.
#[derive(Default)]
pub struct RateLimiters {
    clock: DefaultClock,
    limiters: Mutex<HashMap<RateLimit, Arc<KeyedLimiter>>>,
}

impl std::fmt::Debug for RateLimiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiters").finish_non_exhaustive()
    }
}

fn quota(w: RateLimit) -> Quota {
    let times = NonZeroU32::new(w.times.max(1)).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs_f64(f64::from(w.seconds.max(1)) / f64::from(times.get()));
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .expect("period is positive")
        .allow_burst(times)
}

impl RateLimiters {
    /// Creates an empty set of limiters.
    pub fn new() -> Self {
        Self::default()
    }

    fn limiter(&self, w: RateLimit) -> Arc<KeyedLimiter> {
        let mut map = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(w)
            .or_insert_with(|| {
                Arc::new(
                    RateLimiter::keyed(quota(w)).with_middleware::<StateInformationMiddleware>(),
                )
            })
            .clone()
    }

    /// Checks (and counts) one request of `key_id` against every window in `windows`.
    ///
    /// A request is allowed only when every window allows it. (A refused request may still have used a
    /// slot in the windows checked before the refusing one; GCRA cannot give it back.)
    pub fn check(&self, key_id: u64, windows: &[RateLimit]) -> Decision {
        let mut tightest: Option<(u32, u32, Duration)> = None;
        for &w in windows {
            let limiter = self.limiter(w);
            match limiter.check_key(&key_id) {
                Ok(snapshot) => {
                    let remaining = snapshot.remaining_burst_capacity();
                    let per =
                        Duration::from_secs_f64(f64::from(w.seconds) / f64::from(w.times.max(1)));
                    let reset = per * (w.times - remaining.min(w.times));
                    if tightest.is_none_or(|(_, r, _)| remaining < r) {
                        tightest = Some((w.times, remaining, reset));
                    }
                }
                Err(not_until) => {
                    return Decision::Limited {
                        limit: w.times,
                        retry_after: not_until.wait_time_from(self.clock.now()),
                    }
                }
            }
        }
        match tightest {
            None => Decision::Unlimited,
            Some((limit, remaining, reset)) => Decision::Allowed {
                limit,
                remaining,
                reset,
            },
        }
    }

    /// Forgets the state of keys whose windows have fully refilled, and releases the memory.
    pub fn prune(&self) {
        let limiters: Vec<_> = self
            .limiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for l in limiters {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Number of (window, key) states held (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.limiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|l| l.len())
            .sum()
    }
}

/// Seconds for a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0).max(u64::from(d.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_window_is_enforced_per_key() {
        let l = RateLimiters::new();
        let windows = [
            RateLimit {
                times: 3,
                seconds: 60,
            },
            RateLimit {
                times: 100,
                seconds: 3600,
            },
        ];
        for i in 0..3 {
            match l.check(1, &windows) {
                Decision::Allowed {
                    limit, remaining, ..
                } => assert_eq!((limit, remaining), (3, 2 - i)),
                other => panic!("{other:?}"),
            }
        }
        match l.check(1, &windows) {
            Decision::Limited { limit, retry_after } => {
                assert_eq!(limit, 3);
                assert!(
                    retry_after > Duration::from_secs(10) && retry_after <= Duration::from_secs(20)
                );
            }
            other => panic!("{other:?}"),
        }
        // another key has its own budget
        assert!(matches!(l.check(2, &windows), Decision::Allowed { .. }));
        assert_eq!(l.check(3, &[]), Decision::Unlimited);
    }

    #[test]
    fn prune_bounds_memory() {
        let l = RateLimiters::new();
        let w = [RateLimit {
            times: 1000,
            seconds: 1,
        }];
        for k in 0..10_000 {
            l.check(k, &w);
        }
        assert_eq!(l.tracked(), 10_000);
        std::thread::sleep(Duration::from_millis(30));
        l.prune();
        assert!(l.tracked() < 10_000, "idle keys are forgotten");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2500)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
