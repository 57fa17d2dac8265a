//! Miner health as persisted: one [`MinerHealthRecord`] per miner hotkey in the `miner_health` tree.
//!
//! The server keeps the live figures in memory ([`crate::routing`]) and writes the miners that changed
//! here every few seconds from a background task (and once more when it stops), never on the request
//! path. A store without the tree (written by an older btvep) simply has no health yet.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// Most failure reasons kept per miner.
pub const KEPT_FAILURES: usize = 3;

/// Where the gateway stands with a miner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// Asked normally.
    #[default]
    Ok,
    /// Skipped until its cool-down ends (after several failures in a row).
    Cooling,
    /// Its cool-down ended and one trial request is (or is about to be) in flight.
    Probing,
}

impl HealthState {
    /// The state's name (`ok`, `cooling`, `probing`).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Ok => "ok",
            HealthState::Cooling => "cooling",
            HealthState::Probing => "probing",
        }
    }
}

impl std::fmt::Display for HealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed attempt, as remembered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureNote {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Its status code (408 timeout, 503 unreachable, 422 unusable answer, or the miner's own).
    pub status: u16,
    /// Its reason.
    pub message: String,
}

/// A miner's health as stored (and as `btvep miners --json` builds on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinerHealthRecord {
    /// The miner's hotkey (the record's identity: a uid that changes owner starts afresh).
    pub hotkey: String,
    /// The uid it was last asked under.
    pub uid: u16,
    /// Its state.
    pub state: HealthState,
    /// Attempts that ended (successes and failures; cancelled ones are not counted).
    pub requests: u64,
    /// Successful attempts.
    pub successes: u64,
    /// Failed attempts (timeouts and errors).
    pub failures: u64,
    /// Attempts cancelled because another miner answered first (or the client left).
    pub cancelled: u64,
    /// Decaying average of success (1) and failure (0), recent attempts weighing more.
    pub success_ewma: f64,
    /// Decaying average of the time an attempt took (successes and failures), in milliseconds.
    pub latency_ewma_ms: f64,
    /// The latest successful answer times, oldest first, in microseconds (at most 64).
    #[serde(default)]
    pub recent_us: Vec<u32>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// How many cool-downs in a row (each one twice as long as the last, up to the cap).
    pub cool_level: u32,
    /// When the current cool-down ends (set while cooling).
    #[serde(default)]
    pub cooling_until: Option<DateTime<Utc>>,
    /// The latest failures, newest last (at most [`KEPT_FAILURES`]).
    #[serde(default)]
    pub last_failures: Vec<FailureNote>,
    /// When an attempt last ended.
    #[serde(default)]
    pub last_seen: Option<DateTime<Utc>>,
}

impl MinerHealthRecord {
    /// A miner never asked.
    pub fn new(hotkey: &str, uid: u16) -> Self {
        MinerHealthRecord {
            hotkey: hotkey.to_string(),
            uid,
            state: HealthState::Ok,
            requests: 0,
            successes: 0,
            failures: 0,
            cancelled: 0,
            success_ewma: 0.0,
            latency_ewma_ms: 0.0,
            recent_us: Vec::new(),
            consecutive_failures: 0,
            cool_level: 0,
            cooling_until: None,
            last_failures: Vec::new(),
            last_seen: None,
        }
    }
}

impl Store {
    /// Every stored miner health record, by hotkey.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for an undecodable record, [`StoreError::Db`].
    pub fn list_miner_health(&self) -> Result<Vec<MinerHealthRecord>, StoreError> {
        self.miner_health
            .iter()
            .map(|item| {
                let (_, v) = item?;
                serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Corrupt(format!("miner health record: {e}")))
            })
            .collect()
    }

    /// Writes (replacing) these records and removes the records of `forget` (hotkeys), one by one
    /// (each record stands alone; a sled batch would take the database-wide write lock that stalls
    /// every request, see `store::logs`).
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn put_miner_health(
        &self,
        records: &[MinerHealthRecord],
        forget: &[String],
    ) -> Result<(), StoreError> {
        for r in records {
            self.miner_health.insert(
                r.hotkey.as_bytes(),
                serde_json::to_vec(r).expect("a health record always serializes"),
            )?;
        }
        for h in forget {
            self.miner_health.remove(h.as_bytes())?;
        }
        Ok(())
    }

    /// Replaces every miner health record (a restore).
    pub(crate) fn replace_miner_health(
        &self,
        records: &[MinerHealthRecord],
    ) -> Result<(), StoreError> {
        self.miner_health.clear()?;
        self.put_miner_health(records, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_forget() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.list_miner_health().unwrap().is_empty());
        let mut a = MinerHealthRecord::new("5A", 1);
        a.requests = 3;
        a.state = HealthState::Cooling;
        let b = MinerHealthRecord::new("5B", 2);
        store
            .put_miner_health(&[a.clone(), b.clone()], &[])
            .unwrap();
        assert_eq!(store.list_miner_health().unwrap(), vec![a.clone(), b]);
        store.put_miner_health(&[], &["5B".to_string()]).unwrap();
        assert_eq!(store.list_miner_health().unwrap(), vec![a]);
        // An older record without the optional fields still reads.
        let old = r#"{"hotkey":"5C","uid":0,"state":"ok","requests":1,"successes":1,"failures":0,"cancelled":0,
            "success_ewma":1.0,"latency_ewma_ms":20.0,"consecutive_failures":0,"cool_level":0}"#;
        let r: MinerHealthRecord = serde_json::from_str(old).unwrap();
        assert!(r.recent_us.is_empty() && r.cooling_until.is_none());
    }
}
