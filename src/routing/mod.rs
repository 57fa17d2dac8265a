//! Routing by what the gateway observes: per-miner health ([`health`], all of it in [`book`]), the score `best:N` ranks by
//! ([`score`]), choosing miners ([`select`]), hedge delays ([`Router::hedge_delays`], under config
//! [`HedgeAfter`]) and the `btvep miners` view ([`report`]).
//!
//! One [`Router`] per server. The dendrite reports every attempt to the router's [`HealthBook`] (it
//! is the dendrite's [`crate::bittensor::race::AttemptObserver`]); the request pipeline asks
//! [`Router::select`] for the miners of each request; a background task writes the figures that
//! changed to the store every few seconds ([`Router::persist`]), and once more when the server
//! stops, so they survive a restart. Nothing here writes to the store on the request path.

pub mod book;
#[cfg(test)]
mod fixtures;
pub mod health;
pub mod report;
pub mod score;
pub mod select;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use crate::bittensor::hedge::HedgeAfter;
pub use book::HealthBook;
pub use health::{HealthPolicy, MinerHealth};
pub use select::Ranking;

use crate::bittensor::metagraph::Neuron;
use crate::bittensor::metagraph_cell::MetagraphSnapshot;
use crate::bittensor::race::HedgeBudget;
use crate::bittensor::strategy::{QueryStrategy, SelectError};
use crate::store::{HealthState, MinerHealthRecord, Store, StoreError};

/// Miners chosen for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// The miners asked (the strategy's N), in order.
    pub neurons: Vec<Neuron>,
    /// `best:N` only: the next best, asked after a failure or as the hedge.
    pub spares: Vec<Neuron>,
    /// Position (in `neurons` then `spares`) of the probe or exploration whose attempt runs to its
    /// end even when another miner answers first.
    pub learn: Option<usize>,
    /// `best:N` only: the hedge delay of each of `neurons` then `spares` (empty: none, or for
    /// `top_n`, see [`Router::hedge_delays`]).
    pub hedge_after: Vec<Option<Duration>>,
    /// `top_n` and `best`: race with failover and hedging; `uids` (which ignore health): btvep's
    /// batches.
    pub hedged: bool,
}

/// Health, ranking and selection for one server.
#[derive(Debug)]
pub struct Router {
    health: Arc<HealthBook>,
    ranking: RwLock<Option<Arc<Ranking>>>,
    rebuilding: Mutex<()>,
    selections: AtomicU64,
    /// Median p90 of the miners that have one, µs (`u64::MAX`: none yet).
    typical_p90_us: AtomicU64,
    persisting: Mutex<()>,
    hedges: Arc<HedgeBudget>,
}

impl Router {
    /// A router starting from `records` (as stored), cool-downs capped at `cool_max`.
    pub fn new(records: Vec<MinerHealthRecord>, cool_max: Duration) -> Self {
        let router = Router {
            health: Arc::new(HealthBook::new(records, cool_max)),
            ranking: RwLock::new(None),
            rebuilding: Mutex::new(()),
            selections: AtomicU64::new(0),
            typical_p90_us: AtomicU64::new(u64::MAX),
            persisting: Mutex::new(()),
            hedges: Arc::new(HedgeBudget::new()),
        };
        router.refresh_typical_p90();
        router
    }

    /// The health of every miner (the dendrite's observer).
    pub fn health(&self) -> &Arc<HealthBook> {
        &self.health
    }

    /// The server's hedge budget (a race that may hedge deposits into it first).
    pub fn hedge_budget(&self) -> &Arc<HedgeBudget> {
        &self.hedges
    }

    /// A miner's state, if it is known.
    pub fn state_of(&self, hotkey: &str) -> Option<HealthState> {
        self.health.get(hotkey).map(|m| m.state())
    }

    /// Chooses the miners for one request.
    ///
    /// * `top_n` and `uids`: as [`QueryStrategy::select`] says — health plays no part in *which*
    ///   miners (`top_n` is still raced with hedging, `uids` in btvep's batches).
    /// * `best:N`: see [`select::Ranking::choose`].
    ///
    /// # Errors
    /// As [`QueryStrategy::select`].
    pub fn select(
        &self,
        strategy: &QueryStrategy,
        metagraph: &Arc<MetagraphSnapshot>,
        hedge: HedgeAfter,
    ) -> Result<Selection, SelectError> {
        let QueryStrategy::BestN(n) = *strategy else {
            return Ok(Selection {
                neurons: strategy.select(metagraph)?,
                hedged: matches!(strategy, QueryStrategy::TopN(_)),
                ..Selection::default()
            });
        };
        if n == 0 {
            return Err(SelectError::ZeroN);
        }
        let now = health::mono_ms();
        let ranking = self.ranking(metagraph, now);
        if n > ranking.entries.len() {
            return Err(SelectError::TooFewServing {
                strategy: strategy.to_string(),
                n,
                serving: ranking.entries.len(),
                netuid: metagraph.netuid,
            });
        }
        let count = self.selections.fetch_add(1, Ordering::Relaxed);
        let (chosen, learn) = ranking.choose(n, count, now);
        let mut neurons: Vec<Neuron> = chosen.iter().map(|&i| ranking.neuron(i).clone()).collect();
        let spares = neurons.split_off(n.min(neurons.len()));
        let hedge_after = if spares.is_empty() {
            Vec::new() // every candidate starts at once: nothing to hedge to
        } else {
            chosen
                .iter()
                .map(|&i| hedge.delay(ranking.entries[i].p90, ranking.typical_p90))
                .collect()
        };
        Ok(Selection {
            neurons,
            spares,
            learn,
            hedge_after,
            hedged: true,
        })
    }

    /// The hedge delay of each miner, under `hedge`: its own recent p90 when it has one, else the
    /// median p90 of the miners that do (`auto`); the fixed delay; or none (`off`).
    pub fn hedge_delays(&self, miners: &[&Neuron], hedge: HedgeAfter) -> Vec<Option<Duration>> {
        let typical = match self.typical_p90_us.load(Ordering::Relaxed) {
            u64::MAX => None,
            us => Some(Duration::from_micros(us)),
        };
        miners
            .iter()
            .map(|n| match hedge {
                HedgeAfter::Auto => hedge.delay(
                    self.health.get(&n.hotkey).and_then(|m| m.figure().p90),
                    typical,
                ),
                other => other.delay(None, None),
            })
            .collect()
    }

    /// The ranking of `metagraph`'s serving miners: the current one while it is fresh (same
    /// metagraph, younger than [`select::RANKING_TTL_MS`], no miner changed state), else rebuilt by
    /// one caller while the others keep using the previous one.
    pub fn ranking(&self, metagraph: &Arc<MetagraphSnapshot>, now: u64) -> Arc<Ranking> {
        let current = self
            .ranking
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let same = |r: &Arc<Ranking>| Arc::ptr_eq(&r.metagraph, metagraph);
        if let Some(r) = &current {
            if same(r) && now < r.built_ms + select::RANKING_TTL_MS && !self.health.changed() {
                return r.clone();
            }
        }
        let _rebuilding = match self.rebuilding.try_lock() {
            Ok(g) => g,
            Err(_) => match current {
                Some(r) if same(&r) => return r,
                _ => {
                    let g = self.rebuilding.lock().unwrap_or_else(|p| p.into_inner());
                    // Whoever held the lock may just have built what this caller needs.
                    let built = self
                        .ranking
                        .read()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone();
                    if let Some(r) = built.filter(|r| same(r)) {
                        return r;
                    }
                    g
                }
            },
        };
        self.health.take_changed();
        let fresh = Arc::new(Ranking::build(&self.health, metagraph.clone(), now));
        self.set_typical(fresh.typical_p90);
        *self.ranking.write().unwrap_or_else(|p| p.into_inner()) = Some(fresh.clone());
        fresh
    }

    fn set_typical(&self, p90: Option<Duration>) {
        let us = p90.map_or(u64::MAX, |d| {
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX - 1)
        });
        self.typical_p90_us.store(us, Ordering::Relaxed);
    }

    fn refresh_typical_p90(&self) {
        let mut p90s: Vec<f64> = self
            .health
            .records()
            .iter()
            .filter_map(|r| {
                score::percentile(&r.recent_us, 0.9)
                    .filter(|_| r.recent_us.len() >= health::MIN_P90_SAMPLES)
            })
            .map(f64::from)
            .collect();
        self.set_typical(score::median(&mut p90s).map(|us| Duration::from_micros(us as u64)));
    }

    /// Writes the miners whose figures changed since the last call to `store` (and forgets those
    /// not heard of for [`book::FORGET_AFTER`]); returns how many were written. Runs on a
    /// background thread, never on the request path.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails (the miners are written again next time).
    pub fn persist(&self, store: &Store) -> Result<usize, StoreError> {
        let _one_at_a_time = self.persisting.lock().unwrap_or_else(|p| p.into_inner());
        self.refresh_typical_p90();
        let (changed, forget) = self.health.take_changes();
        if changed.is_empty() && forget.is_empty() {
            return Ok(0);
        }
        store
            .put_miner_health(&changed, &forget)
            .inspect_err(|_| self.health.mark_dirty(&changed))?;
        Ok(changed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bittensor::race::{AttemptEnd, AttemptObserver};
    use crate::routing::fixtures::snapshot;

    #[test]
    fn best_keeps_spares_and_top_n_and_uids_ignore_health() {
        let router = Router::new(Vec::new(), Duration::from_secs(60));
        let mg = snapshot(3);
        for _ in 0..3 {
            router.health().finished(
                &mg.neurons[0],
                &AttemptEnd {
                    success: false,
                    status: 408,
                    message: "timeout",
                    elapsed: Duration::from_millis(500),
                },
            );
        }
        assert_eq!(router.state_of("5hk0"), Some(HealthState::Cooling));
        let s = router
            .select(&QueryStrategy::BestN(1), &mg, HedgeAfter::Auto)
            .unwrap();
        assert_eq!(s.neurons.iter().map(|n| n.uid).collect::<Vec<_>>(), vec![1]);
        assert_eq!(s.spares.iter().map(|n| n.uid).collect::<Vec<_>>(), vec![2]);
        assert!(s.hedged);
        let s = router
            .select(&QueryStrategy::TopN(1), &mg, HedgeAfter::Auto)
            .unwrap();
        assert_eq!(s.neurons[0].uid, 0);
        assert!(s.spares.is_empty() && s.hedged);
        let s = router
            .select(&QueryStrategy::Uids(vec![0]), &mg, HedgeAfter::Auto)
            .unwrap();
        assert_eq!(s.neurons[0].uid, 0);
        assert!(!s.hedged);
        let e = router
            .select(&QueryStrategy::BestN(4), &mg, HedgeAfter::Auto)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("best:4 asks for 4 miners"), "{e}");
    }

    #[test]
    fn persisting_writes_only_what_changed_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let router = Router::new(Vec::new(), Duration::from_secs(60));
        let n = Neuron::new(4, "5hk4", "1.1.1.1", 1);
        for ms in [10, 20, 30, 40, 50] {
            router.health().finished(
                &n,
                &AttemptEnd {
                    success: true,
                    status: 200,
                    message: "Success",
                    elapsed: Duration::from_millis(ms),
                },
            );
        }
        assert_eq!(router.persist(&store).unwrap(), 1);
        assert_eq!(router.persist(&store).unwrap(), 0);
        let stored = store.list_miner_health().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].requests, 5);
        let again = Router::new(stored, Duration::from_secs(60));
        assert_eq!(again.health().records()[0].recent_us.len(), 5);
        assert_eq!(
            again.hedge_delays(&[&n], HedgeAfter::Auto),
            vec![Some(Duration::from_millis(50))]
        );
        assert_eq!(again.hedge_delays(&[&n], HedgeAfter::Off), vec![None]);
    }
}
