//! Choosing miners for `best:N`: a ranking snapshot of the serving miners by [`super::score`],
//! rebuilt at most every [`RANKING_TTL_MS`] (or when a miner changed state), then per request a walk
//! from the best that skips cooling miners, gives a probe to a miner whose cool-down is over, and
//! every [`EXPLORE_EVERY`]th request explores.

use std::sync::Arc;
use std::time::Duration;

use super::book::HealthBook;
use super::health::MinerHealth;
use super::score;
use crate::bittensor::metagraph::Neuron;
use crate::bittensor::metagraph_cell::MetagraphSnapshot;
use crate::store::HealthState;

/// Spare miners a `best:N` request keeps for failover and the hedge.
pub const SPARES: usize = 2;
/// One request in this many explores (5 %).
pub const EXPLORE_EVERY: u64 = 20;
/// Miners with fewer ended attempts than this are explored first.
pub const EXPLORE_SAMPLES: u64 = 10;
/// Longest a ranking is used before it is rebuilt.
pub const RANKING_TTL_MS: u64 = 100;

/// One serving miner in a ranking.
#[derive(Debug, Clone)]
pub struct Ranked {
    /// Its position in the metagraph's neuron list.
    pub index: usize,
    /// Its health.
    pub health: Arc<MinerHealth>,
    /// Its expected time to a successful answer, ms.
    pub score: f64,
    /// Its ended attempts when the ranking was built.
    pub requests: u64,
    /// Its p90 answer time when the ranking was built.
    pub p90: Option<Duration>,
}

/// The serving miners of one metagraph, best first.
#[derive(Debug)]
pub struct Ranking {
    /// The metagraph ranked.
    pub metagraph: Arc<MetagraphSnapshot>,
    /// When it was built (monotonic ms).
    pub built_ms: u64,
    /// Serving miners, best (lowest score) first; ties: higher incentive, then lower uid.
    pub entries: Vec<Ranked>,
    /// Entries that were not `ok` when it was built (probe candidates).
    pub not_ok: Vec<usize>,
    /// The median p90 of the miners that have one (the hedge delay of miners without their own).
    pub typical_p90: Option<Duration>,
}

impl Ranking {
    /// Ranks the serving miners of `metagraph` by what `book` knows (miners never seen are added).
    pub fn build(book: &HealthBook, metagraph: Arc<MetagraphSnapshot>, now: u64) -> Self {
        let serving: Vec<(usize, Arc<MinerHealth>)> = metagraph
            .neurons
            .iter()
            .enumerate()
            .filter(|(_, n)| n.is_serving())
            .map(|(i, n)| (i, book.entry(&n.hotkey, n.uid)))
            .collect();
        let figures: Vec<_> = serving.iter().map(|(_, h)| h.figure()).collect();
        let l0 = score::prior_latency_ms(figures.iter().map(|f| (f.requests, f.latency_ewma_ms)));
        let mut entries: Vec<Ranked> = serving
            .into_iter()
            .zip(&figures)
            .map(|((index, health), f)| Ranked {
                index,
                health,
                score: score::expected_ms(f.requests, f.success_ewma, f.latency_ewma_ms, l0),
                requests: f.requests,
                p90: f.p90,
            })
            .collect();
        let neurons = &metagraph.neurons;
        entries.sort_by(|a, b| {
            let (na, nb) = (&neurons[a.index], &neurons[b.index]);
            a.score
                .total_cmp(&b.score)
                .then(nb.incentive.total_cmp(&na.incentive))
                .then(na.uid.cmp(&nb.uid))
        });
        let not_ok = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.health.state() != HealthState::Ok)
            .map(|(i, _)| i)
            .collect();
        let mut p90s: Vec<f64> = entries
            .iter()
            .filter_map(|e| e.p90)
            .map(|d| d.as_secs_f64())
            .collect();
        let typical_p90 = score::median(&mut p90s).map(Duration::from_secs_f64);
        Ranking {
            metagraph,
            built_ms: now,
            entries,
            not_ok,
            typical_p90,
        }
    }

    /// The neuron of an entry.
    pub fn neuron(&self, entry: usize) -> &Neuron {
        &self.metagraph.neurons[self.entries[entry].index]
    }

    /// Chooses `n` entries (at most [`SPARES`] more as spares) for request number `count`: the best
    /// `ok` ones; cooling ones only when fewer than `n` are `ok`. The last of the `n` slots goes to
    /// a miner whose cool-down is over (its probe) or, on every [`EXPLORE_EVERY`]th request, to an
    /// exploration; that slot is returned as the learning one. `n` must not exceed the entries.
    pub fn choose(&self, n: usize, count: u64, now: u64) -> (Vec<usize>, Option<usize>) {
        let want = n + SPARES;
        let mut chosen: Vec<usize> = Vec::with_capacity(want + 1);
        for (i, e) in self.entries.iter().enumerate() {
            if e.health.state() == HealthState::Ok {
                chosen.push(i);
                if chosen.len() == want {
                    break;
                }
            }
        }
        if chosen.len() < n {
            // Too few miners are not cooling: the best cooling ones fill the slots rather than refuse.
            for i in 0..self.entries.len() {
                if !chosen.contains(&i) {
                    chosen.push(i);
                    if chosen.len() == n {
                        break;
                    }
                }
            }
        }
        let primaries = n.min(chosen.len());
        let probe =
            self.not_ok.iter().copied().find(|i| {
                !chosen[..primaries].contains(i) && self.entries[*i].health.claim_probe(now)
            });
        let extra = probe.or_else(|| {
            (count % EXPLORE_EVERY == EXPLORE_EVERY - 1)
                .then(|| self.explore(&chosen[..primaries], count))
                .flatten()
        });
        let mut learn = None;
        if let Some(x) = extra {
            chosen.retain(|&i| i != x);
            chosen.insert(primaries.saturating_sub(1).min(chosen.len()), x);
            learn = Some(primaries.saturating_sub(1));
        }
        chosen.truncate(want);
        (chosen, learn)
    }

    /// An `ok` miner outside `primaries` to explore: among those with fewer than
    /// [`EXPLORE_SAMPLES`] ended attempts if any, else among all; in turn.
    fn explore(&self, primaries: &[usize], count: u64) -> Option<usize> {
        let pool = |few: bool| {
            self.entries.iter().enumerate().filter(move |(i, e)| {
                !primaries.contains(i)
                    && e.health.state() == HealthState::Ok
                    && (!few || e.requests < EXPLORE_SAMPLES)
            })
        };
        let few = pool(true).count() > 0;
        let len = pool(few).count();
        if len == 0 {
            return None;
        }
        let turn = usize::try_from(count / EXPLORE_EVERY).unwrap_or(0) % len;
        pool(few).nth(turn).map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bittensor::race::{AttemptEnd, AttemptObserver};
    use crate::routing::fixtures::snapshot;

    fn feed(
        book: &HealthBook,
        mg: &MetagraphSnapshot,
        uid: usize,
        ok: bool,
        ms: u64,
        times: usize,
    ) {
        for _ in 0..times {
            book.finished(
                &mg.neurons[uid],
                &AttemptEnd {
                    success: ok,
                    status: if ok { 200 } else { 500 },
                    message: "x",
                    elapsed: Duration::from_millis(ms),
                },
            );
        }
    }

    fn uids(r: &Ranking, chosen: &[usize]) -> Vec<u16> {
        chosen.iter().map(|&i| r.neuron(i).uid).collect()
    }

    #[test]
    fn unknown_miners_rank_by_incentive_then_by_what_they_did() {
        let book = HealthBook::default();
        let mg = snapshot(4);
        let r = Ranking::build(&book, mg.clone(), 0);
        assert_eq!(uids(&r, &r.choose(1, 0, 0).0), vec![0, 1, 2]);
        // A (0) fails half, B (1) 20 ms, C (2) 200 ms, D (3) dead
        for _ in 0..20 {
            feed(&book, &mg, 0, true, 20, 1);
            feed(&book, &mg, 0, false, 20, 1);
        }
        feed(&book, &mg, 1, true, 20, 40);
        feed(&book, &mg, 2, true, 200, 40);
        feed(&book, &mg, 3, false, 500, 3);
        let r = Ranking::build(&book, mg.clone(), 0);
        let order: Vec<u16> = r.entries.iter().map(|e| mg.neurons[e.index].uid).collect();
        assert_eq!(order, vec![1, 0, 2, 3]);
        // p90s: A 20, B 20, C 200 (D has no successful answer)
        assert_eq!(r.typical_p90, Some(Duration::from_millis(20)));
    }

    #[test]
    fn cooling_miners_are_skipped_then_probed_once() {
        let book = HealthBook::default();
        let mg = snapshot(3);
        feed(&book, &mg, 0, false, 500, 3);
        feed(&book, &mg, 1, true, 20, 5);
        feed(&book, &mg, 2, true, 30, 5);
        let now = super::super::health::mono_ms();
        let r = Ranking::build(&book, mg.clone(), now);
        assert_eq!(r.not_ok.len(), 1);
        let (c, learn) = r.choose(1, 0, now);
        assert_eq!((uids(&r, &c), learn), (vec![1, 2], None));
        // the cool-down (1 s) is over: the next request probes uid 0 first, the best is its spare
        let (c, learn) = r.choose(1, 1, now + 1000);
        assert_eq!((uids(&r, &c), learn), (vec![0, 1, 2], Some(0)));
        let (c, learn) = r.choose(1, 2, now + 1000);
        assert_eq!((uids(&r, &c), learn), (vec![1, 2], None));
    }

    #[test]
    fn every_twentieth_request_explores_the_least_known_first() {
        let book = HealthBook::default();
        let mg = snapshot(4);
        feed(&book, &mg, 0, true, 20, 30);
        feed(&book, &mg, 1, true, 40, 30);
        feed(&book, &mg, 2, true, 50, 30);
        // uid 3 never asked
        let r = Ranking::build(&book, mg.clone(), 0);
        for count in 0..19 {
            assert_eq!(r.choose(1, count, 0).1, None);
        }
        let (c, learn) = r.choose(1, 19, 0);
        assert_eq!((uids(&r, &c), learn), (vec![3, 0, 1], Some(0)));
        // with best:2 the first slot keeps the best miner
        let (c, learn) = r.choose(2, 39, 0);
        assert_eq!((uids(&r, &c), learn), (vec![0, 3, 1, 2], Some(1)));
    }

    #[test]
    fn too_few_ok_miners_fill_with_cooling_ones() {
        let book = HealthBook::default();
        let mg = snapshot(2);
        feed(&book, &mg, 0, false, 10, 3);
        feed(&book, &mg, 1, false, 10, 3);
        let now = super::super::health::mono_ms();
        let r = Ranking::build(&book, mg, now);
        let (c, _) = r.choose(2, 0, now);
        assert_eq!(c.len(), 2);
    }
}
