//! The health of every miner the gateway knows, by hotkey ([`HealthBook`]): the dendrite's
//! [`AttemptObserver`], what selection reads, and what the persister writes.
//!
//! The map of miners is read-locked per attempt and write-locked only for a miner seen for the first
//! time (and when miners not heard of for [`FORGET_AFTER`] are dropped).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::health::{millis, mono_ms, wall_ms, HealthPolicy, MinerHealth};
use crate::bittensor::metagraph::Neuron;
use crate::bittensor::race::{AttemptEnd, AttemptObserver};
use crate::store::MinerHealthRecord;

/// The health of every miner the gateway knows, by hotkey; the dendrite's [`AttemptObserver`].
#[derive(Debug)]
pub struct HealthBook {
    miners: RwLock<HashMap<String, Arc<MinerHealth>>>,
    cool_max_ms: AtomicU64,
    /// Set when a miner changes state (selection rebuilds its ranking).
    changed: AtomicBool,
}

impl Default for HealthBook {
    fn default() -> Self {
        Self::new(Vec::new(), HealthPolicy::default().cool_max)
    }
}

/// Records not heard of for this long are forgotten when the book is persisted.
pub const FORGET_AFTER: Duration = Duration::from_secs(30 * 86_400);

impl HealthBook {
    /// A book holding `records` (as loaded from the store), with cool-downs capped at `cool_max`.
    pub fn new(records: Vec<MinerHealthRecord>, cool_max: Duration) -> Self {
        let (now, wall) = (mono_ms(), wall_ms());
        let miners = records
            .iter()
            .map(|r| {
                (
                    r.hotkey.clone(),
                    Arc::new(MinerHealth::from_record(r, now, wall)),
                )
            })
            .collect();
        HealthBook {
            miners: RwLock::new(miners),
            cool_max_ms: AtomicU64::new(millis(cool_max)),
            changed: AtomicBool::new(true),
        }
    }

    /// Changes the cool-down cap (a configuration reload).
    pub fn set_cool_max(&self, cool_max: Duration) {
        self.cool_max_ms.store(millis(cool_max), Ordering::Relaxed);
    }

    /// The circuit breaker's settings in force.
    pub fn policy(&self) -> HealthPolicy {
        HealthPolicy {
            cool_max: Duration::from_millis(self.cool_max_ms.load(Ordering::Relaxed).max(1)),
            ..HealthPolicy::default()
        }
    }

    /// The miner with `hotkey`, if known.
    pub fn get(&self, hotkey: &str) -> Option<Arc<MinerHealth>> {
        self.miners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(hotkey)
            .cloned()
    }

    /// The miner with `hotkey`, added (never asked) if unknown.
    pub fn entry(&self, hotkey: &str, uid: u16) -> Arc<MinerHealth> {
        if let Some(m) = self.get(hotkey) {
            return m;
        }
        self.miners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(hotkey.to_string())
            .or_insert_with(|| Arc::new(MinerHealth::new(hotkey, uid)))
            .clone()
    }

    /// Whether a miner changed state since the last call (and clears the mark).
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::AcqRel)
    }

    /// Whether a miner changed state since [`HealthBook::take_changed`] (without clearing it).
    pub fn changed(&self) -> bool {
        self.changed.load(Ordering::Acquire)
    }

    /// Marks that the ranking must be rebuilt.
    pub fn mark_changed(&self) {
        self.changed.store(true, Ordering::Release);
    }

    /// Every miner that was asked at least once, as stored.
    pub fn records(&self) -> Vec<MinerHealthRecord> {
        let (now, wall) = (mono_ms(), wall_ms());
        let miners: Vec<Arc<MinerHealth>> = self
            .miners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut out: Vec<MinerHealthRecord> = miners
            .iter()
            .map(|m| m.to_record(now, wall))
            .filter(|r| r.requests > 0 || r.cancelled > 0)
            .collect();
        out.sort_by(|a, b| a.hotkey.cmp(&b.hotkey));
        out
    }

    /// The records changed since the last call (to write), and the hotkeys not heard of for
    /// [`FORGET_AFTER`] (dropped from the book, to delete from the store).
    pub fn take_changes(&self) -> (Vec<MinerHealthRecord>, Vec<String>) {
        let (now, wall) = (mono_ms(), wall_ms());
        let forget_before = wall - i64::try_from(FORGET_AFTER.as_millis()).unwrap_or(i64::MAX);
        let miners: Vec<Arc<MinerHealth>> = self
            .miners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut changed = Vec::new();
        let mut forget = Vec::new();
        for m in &miners {
            if m.take_dirty() {
                changed.push(m.to_record(now, wall));
            } else if m.last_seen_wall_ms().is_some_and(|t| t < forget_before) {
                forget.push(m.hotkey().to_string());
            }
        }
        if !forget.is_empty() {
            let mut map = self.miners.write().unwrap_or_else(|p| p.into_inner());
            for h in &forget {
                map.remove(h);
            }
        }
        (changed, forget)
    }

    /// Marks these miners as changed again (after a failed write, so the next one retries them).
    pub fn mark_dirty(&self, records: &[MinerHealthRecord]) {
        for r in records {
            if let Some(m) = self.get(&r.hotkey) {
                m.dirty.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl AttemptObserver for HealthBook {
    fn started(&self, neuron: &Neuron) {
        if let Some(m) = self.get(&neuron.hotkey) {
            m.attempt_started();
        }
    }

    fn finished(&self, neuron: &Neuron, end: &AttemptEnd<'_>) {
        let policy = self.policy();
        if self
            .entry(&neuron.hotkey, neuron.uid)
            .record(neuron.uid, end, &policy, mono_ms())
        {
            self.mark_changed();
        }
    }

    fn cancelled(&self, neuron: &Neuron) {
        if let Some(m) = self.get(&neuron.hotkey) {
            if m.cancelled(mono_ms()) {
                self.mark_changed();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::fixtures::{fail, ok};

    #[test]
    fn the_book_observes_and_hands_out_changes() {
        let book = HealthBook::default();
        let n = Neuron::new(7, "5N", "1.1.1.1", 1);
        book.take_changed();
        book.finished(&n, &ok(10));
        assert!(!book.changed());
        for _ in 0..3 {
            book.finished(&n, &fail(10));
        }
        assert!(book.take_changed());
        let (changed, forget) = book.take_changes();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].uid, 7);
        assert!(forget.is_empty());
        assert!(book.take_changes().0.is_empty());
        assert_eq!(book.records().len(), 1);
        // a cancellation of an unknown miner is ignored
        book.cancelled(&Neuron::new(8, "5M", "1.1.1.1", 1));
        assert_eq!(book.records().len(), 1);
    }
}
