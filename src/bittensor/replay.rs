//! A bounded, time-windowed "seen before?" set for request identifiers (btauth nonces, Epistula uuids).
//!
//! Keys are `(sender, id)` pairs recorded by the verifiers only after a signature verified, so a forger cannot burn
//! a real sender's identifier. Entries expire after the window the verifier promises (time is passed in by the
//! caller, in nanoseconds since the Unix epoch, so tests are deterministic).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Most entries held at once; when the window holds more live entries than this, new requests are refused
/// rather than letting memory grow without bound.
pub const DEFAULT_MAX_ENTRIES: usize = 200_000;

/// The outcome of [`ReplayGuard::check_and_record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time inside the window; now recorded.
    Fresh,
    /// Already recorded and not yet expired: a replay.
    Replayed,
    /// The store is full of live entries; the request cannot be checked and must be refused.
    Full,
}

/// `(sender, id)` pairs seen inside the last `ttl`; see the module docs.
#[derive(Debug)]
pub struct ReplayGuard {
    ttl_ns: i128,
    max_entries: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// `(sender, id)` → expiry (ns since the epoch).
    seen: HashMap<(String, String), i128>,
    /// Purge expired entries when the map reaches this size (doubles with the live set; amortised O(1)).
    purge_at: usize,
}

impl ReplayGuard {
    /// A guard that remembers each pair for `ttl` and at most `max_entries` pairs.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl_ns: ttl.as_nanos() as i128,
            max_entries,
            state: Mutex::new(State {
                seen: HashMap::new(),
                purge_at: 1024,
            }),
        }
    }

    /// How long each pair is remembered.
    pub fn ttl(&self) -> Duration {
        Duration::from_nanos(self.ttl_ns as u64)
    }

    /// Record `(sender, id)` at `now_ns`, saying whether it was fresh, a replay, or could not be recorded.
    pub fn check_and_record(&self, sender: &str, id: &str, now_ns: i128) -> Seen {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let key = (sender.to_string(), id.to_string());
        if let Some(&expiry) = st.seen.get(&key) {
            if expiry > now_ns {
                return Seen::Replayed;
            }
        }
        if st.seen.len() >= st.purge_at || st.seen.len() >= self.max_entries {
            st.seen.retain(|_, expiry| *expiry > now_ns);
            st.purge_at = (st.seen.len() * 2).max(1024);
        }
        if st.seen.len() >= self.max_entries && !st.seen.contains_key(&key) {
            return Seen::Full;
        }
        st.seen.insert(key, now_ns + self.ttl_ns);
        Seen::Fresh
    }

    /// Pairs currently held (expired ones included until the next purge).
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .seen
            .len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_cap() {
        let g = ReplayGuard::new(Duration::from_secs(10), 3);
        let s = 1_000_000_000i128;
        assert_eq!(g.check_and_record("a", "1", 0), Seen::Fresh);
        assert_eq!(g.check_and_record("a", "1", 5 * s), Seen::Replayed);
        assert_eq!(g.check_and_record("b", "1", 5 * s), Seen::Fresh);
        assert_eq!(g.check_and_record("a", "1", 10 * s), Seen::Fresh);
        assert_eq!(g.check_and_record("c", "1", 10 * s), Seen::Fresh);
        assert_eq!(g.check_and_record("d", "1", 10 * s), Seen::Full);
    }
}
