//! Racing miners for the first successful answer, and telling an observer how every attempt ended.
//!
//! [`first_success`] is the one loop behind every "first answer wins" query (whole answers and
//! streams, on every transport). It starts miners as a [`RacePlan`] says:
//! - **sliding** (the default): the first `primary` miners (at most `in_parallel`) at once; a failure
//!   starts the next candidate at once (failover); and when the miner asked has not answered within
//!   its hedge delay, the next candidate is asked too (**hedging**, at most once per race, and
//!   within the server's [`HedgeBudget`]). The first success wins and the others are cancelled.
//! - **batches** (`uids`, which ignore health): `in_parallel` miners at a time, the next batch only
//!   when a whole batch failed — btvep's original semantics.
//!
//! Each attempt runs as its own task. A cancelled attempt is aborted, except the one marked `learn`
//! (a probe of a miner leaving its cool-down, or an exploration): it runs to its end in the
//! background, because its outcome is what the gateway wants to learn.
//!
//! An [`AttemptObserver`] (the gateway's miner health) hears how each attempt ended — success,
//! failure, or cancelled — from [`Watch`], which reports a cancellation when the attempt is dropped
//! before it ended.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::task::JoinHandle;

use super::dendrite::MinerResponse;
use super::metagraph::Neuron;

/// How one attempt ended.
#[derive(Debug, Clone, Copy)]
pub struct AttemptEnd<'a> {
    /// A usable answer (for a stream: its first content chunk arrived).
    pub success: bool,
    /// Its status code (200 on success).
    pub status: u16,
    /// Its status message (the failure reason).
    pub message: &'a str,
    /// How long it took (for a stream: until its first content chunk).
    pub elapsed: Duration,
}

/// Hears about every attempt the dendrite makes.
pub trait AttemptObserver: Send + Sync + 'static {
    /// An attempt is about to be sent.
    fn started(&self, _neuron: &Neuron) {}
    /// An attempt ended, successfully or not.
    fn finished(&self, neuron: &Neuron, end: &AttemptEnd<'_>);
    /// An attempt was cancelled before it ended (another miner answered first, or the client left).
    fn cancelled(&self, neuron: &Neuron);
}

/// Reports one attempt to the observer: [`Watch::ended`] when it ends, a cancellation if it is
/// dropped before.
pub struct Watch<'a> {
    observer: Option<&'a dyn AttemptObserver>,
    neuron: &'a Neuron,
    done: bool,
}

impl<'a> Watch<'a> {
    /// Watches an attempt at `neuron`, which is about to be sent.
    pub fn new(observer: Option<&'a dyn AttemptObserver>, neuron: &'a Neuron) -> Self {
        if let Some(o) = observer {
            o.started(neuron);
        }
        Watch {
            observer,
            neuron,
            done: false,
        }
    }

    /// The attempt ended with `r`.
    pub fn ended(&mut self, r: &MinerResponse) {
        self.ended_with(&AttemptEnd {
            success: r.is_success,
            status: r.status_code,
            message: &r.status_message,
            elapsed: r.elapsed,
        });
    }

    /// The attempt ended as `end` says.
    pub fn ended_with(&mut self, end: &AttemptEnd<'_>) {
        self.done = true;
        if let Some(o) = self.observer {
            o.finished(self.neuron, end);
        }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if !self.done {
            if let Some(o) = self.observer {
                o.cancelled(self.neuron);
            }
        }
    }
}

/// Caps hedges at a share of requests ([`HedgeBudget::SHARE`], with a burst of
/// [`HedgeBudget::BURST`]), so that when everything slows down at once — the gateway's CPU, the
/// network, every miner — hedging cannot double the load that slowed it down. One per server.
#[derive(Debug)]
pub struct HedgeBudget {
    tokens: AtomicI64,
}

impl HedgeBudget {
    /// Requests per hedge, on average: at most one request in five hedges.
    pub const SHARE: i64 = 5;
    /// Hedges allowed in a burst.
    pub const BURST: i64 = 20;

    /// A full budget.
    pub fn new() -> Self {
        HedgeBudget {
            tokens: AtomicI64::new(Self::SHARE * Self::BURST),
        }
    }

    /// A request that may hedge adds its share.
    pub fn deposit(&self) {
        if self.tokens.load(Ordering::Relaxed) < Self::SHARE * Self::BURST {
            self.tokens.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes one hedge from the budget, if there is one.
    pub fn try_take(&self) -> bool {
        if self.tokens.fetch_sub(Self::SHARE, Ordering::Relaxed) >= Self::SHARE {
            true
        } else {
            self.tokens.fetch_add(Self::SHARE, Ordering::Relaxed);
            false
        }
    }
}

impl Default for HedgeBudget {
    fn default() -> Self {
        Self::new()
    }
}

/// How a race starts its candidates (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct RacePlan {
    /// Candidates started at once (at most `in_parallel`; at least 1). The others wait for a failure
    /// or the hedge.
    pub primary: usize,
    /// Most attempts started up front or per batch.
    pub in_parallel: usize,
    /// Per candidate (missing = none): ask the next candidate too when this one has not answered
    /// within it. Sliding races only.
    pub hedge_after: Vec<Option<Duration>>,
    /// The candidate whose attempt runs to its end even when another miner wins.
    pub learn: Option<usize>,
    /// Batches of `in_parallel` instead of sliding (no hedging).
    pub batches: bool,
    /// The hedges left to the server (none: hedge whenever the delay passes).
    pub budget: Option<Arc<HedgeBudget>>,
}

impl RacePlan {
    /// btvep's batches: `in_parallel` at a time, no hedging.
    pub fn batches(in_parallel: usize) -> Self {
        RacePlan {
            primary: in_parallel,
            in_parallel,
            batches: true,
            ..Default::default()
        }
    }

    fn hedge_delay(&self, i: usize) -> Option<Duration> {
        if self.batches {
            return None;
        }
        self.hedge_after.get(i).copied().flatten()
    }
}

/// One started attempt: aborted when dropped unless it is the learning one.
struct Attempt<T> {
    index: usize,
    handle: JoinHandle<Result<T, MinerResponse>>,
    detach: bool,
}

impl<T> Drop for Attempt<T> {
    fn drop(&mut self) {
        if !self.detach {
            self.handle.abort();
        }
    }
}

impl<T> Future for Attempt<T> {
    type Output = (
        usize,
        Result<Result<T, MinerResponse>, tokio::task::JoinError>,
    );
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let index = self.index;
        Pin::new(&mut self.handle).poll(cx).map(|r| (index, r))
    }
}

/// Races `neurons` as `plan` says; `start(i)` spawns the attempt at `neurons[i]` (an `Err` is a
/// failed attempt). Returns the first success and the failures seen before it, in the order they
/// ended; dropping the future cancels every attempt but the learning one.
pub async fn first_success<T, F>(
    neurons: &[Neuron],
    plan: &RacePlan,
    mut start: F,
) -> (Option<T>, Vec<MinerResponse>)
where
    T: Send + 'static,
    F: FnMut(usize) -> JoinHandle<Result<T, MinerResponse>>,
{
    let width = plan.in_parallel.max(1);
    let mut failures = Vec::new();
    let mut running = FuturesUnordered::new();
    let mut next = 0usize;
    let mut launch = |i: usize, running: &mut FuturesUnordered<Attempt<T>>| {
        running.push(Attempt {
            index: i,
            handle: start(i),
            detach: plan.learn == Some(i),
        });
    };
    let first = if plan.batches {
        width
    } else {
        plan.primary.clamp(1, width)
    };
    while next < first.min(neurons.len()) {
        launch(next, &mut running);
        next += 1;
    }
    let mut hedged = false;
    let mut timer = plan.hedge_delay(0).map(|d| Box::pin(tokio::time::sleep(d)));
    loop {
        if running.is_empty() {
            if next >= neurons.len() {
                return (None, failures);
            }
            // A whole batch failed (or, sliding, nothing is left in flight): start the next ones.
            let upto = if plan.batches { next + width } else { next + 1 };
            while next < upto.min(neurons.len()) {
                launch(next, &mut running);
                next += 1;
            }
        }
        let can_hedge = !hedged && next < neurons.len() && timer.is_some();
        tokio::select! {
            biased;
            Some((i, r)) = running.next() => {
                let failed = match r {
                    Ok(Ok(t)) => return (Some(t), failures),
                    Ok(Err(f)) => f,
                    Err(e) => MinerResponse::failure(
                        &neurons[i],
                        500,
                        format!("internal error: {e}"),
                        Duration::ZERO,
                    ),
                };
                failures.push(failed);
                if !plan.batches && next < neurons.len() {
                    // Failover: the next candidate at once, with its own hedge delay.
                    launch(next, &mut running);
                    if !hedged {
                        timer = plan.hedge_delay(next).map(|d| Box::pin(tokio::time::sleep(d)));
                    }
                    next += 1;
                }
            }
            () = async { if let Some(t) = timer.as_mut() { t.await } }, if can_hedge => {
                hedged = true;
                timer = None;
                if plan.budget.as_ref().is_none_or(|b| b.try_take()) {
                    launch(next, &mut running);
                    next += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::time::Instant;

    /// A fake attempt: answers (or fails) after a delay; records starts and ends.
    #[derive(Clone, Copy)]
    enum Fake {
        Ok(u64),
        Fail(u64),
    }

    /// The winner, the failures, who started when (ms) and who finished.
    type Ran = (
        Option<u16>,
        Vec<u16>,
        Vec<(u16, u128)>,
        Arc<Mutex<Vec<u16>>>,
    );

    fn run(fakes: Vec<Fake>, plan: RacePlan) -> Ran {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async move {
            let neurons: Vec<Neuron> = (0..fakes.len() as u16)
                .map(|u| Neuron::new(u, "5X", "1.1.1.1", 1))
                .collect();
            let t0 = Instant::now();
            let started = Arc::new(Mutex::new(Vec::new()));
            let finished = Arc::new(Mutex::new(Vec::new()));
            let (win, fails) = first_success(&neurons, &plan, |i| {
                let n = neurons[i].clone();
                let f = fakes[i];
                started
                    .lock()
                    .unwrap()
                    .push((n.uid, t0.elapsed().as_millis()));
                let finished = finished.clone();
                tokio::spawn(async move {
                    let (ms, ok) = match f {
                        Fake::Ok(ms) => (ms, true),
                        Fake::Fail(ms) => (ms, false),
                    };
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    finished.lock().unwrap().push(n.uid);
                    let r = MinerResponse::failure(&n, 500, "x".into(), Duration::ZERO);
                    if ok {
                        Ok(n.uid)
                    } else {
                        Err(r)
                    }
                })
            })
            .await;
            // Let detached attempts finish.
            tokio::time::sleep(Duration::from_secs(5)).await;
            let started = started.lock().unwrap().clone();
            (
                win,
                fails.iter().map(|f| f.uid).collect(),
                started,
                finished,
            )
        })
    }

    fn sliding(primary: usize, hedge: &[Option<u64>]) -> RacePlan {
        RacePlan {
            primary,
            in_parallel: 16,
            hedge_after: hedge.iter().map(|h| h.map(Duration::from_millis)).collect(),
            learn: None,
            batches: false,
            budget: None,
        }
    }

    #[test]
    fn failover_is_immediate_and_spares_wait() {
        let (win, fails, started, _) = run(
            vec![Fake::Fail(10), Fake::Ok(20), Fake::Ok(1)],
            sliding(1, &[]),
        );
        assert_eq!(win, Some(1));
        assert_eq!(fails, vec![0]);
        // the spare (uid 1) starts when uid 0 fails, uid 2 never
        assert_eq!(started, vec![(0, 0), (1, 10)]);
    }

    #[test]
    fn a_slow_first_miner_is_hedged_once() {
        let (win, fails, started, finished) = run(
            vec![Fake::Ok(1000), Fake::Ok(20), Fake::Ok(5)],
            sliding(1, &[Some(30), Some(30), Some(30)]),
        );
        assert_eq!(win, Some(1));
        assert!(fails.is_empty());
        assert_eq!(started, vec![(0, 0), (1, 30)]);
        // the loser was cancelled (never finished)
        assert_eq!(*finished.lock().unwrap(), vec![1]);
    }

    #[test]
    fn without_a_hedge_delay_the_first_miner_is_waited_for() {
        let (win, _, started, _) = run(vec![Fake::Ok(1000), Fake::Ok(20)], sliding(1, &[]));
        assert_eq!(win, Some(0));
        assert_eq!(started, vec![(0, 0)]);
    }

    #[test]
    fn the_learning_attempt_runs_to_its_end() {
        let mut plan = sliding(1, &[Some(30)]);
        plan.learn = Some(0);
        let (win, _, _, finished) = run(vec![Fake::Ok(1000), Fake::Ok(20)], plan);
        assert_eq!(win, Some(1));
        assert_eq!(*finished.lock().unwrap(), vec![1, 0]);
    }

    #[test]
    fn batches_wait_for_the_whole_batch() {
        let (win, fails, started, _) = run(
            vec![Fake::Fail(10), Fake::Fail(50), Fake::Ok(5)],
            RacePlan::batches(2),
        );
        assert_eq!(win, Some(2));
        assert_eq!(fails, vec![0, 1]);
        assert_eq!(started, vec![(0, 0), (1, 0), (2, 50)]);
    }

    #[test]
    fn an_empty_budget_stops_hedging() {
        let budget = Arc::new(HedgeBudget::new());
        for _ in 0..HedgeBudget::BURST {
            assert!(budget.try_take());
        }
        assert!(!budget.try_take());
        let mut plan = sliding(1, &[Some(30)]);
        plan.budget = Some(budget.clone());
        let (win, _, started, _) = run(vec![Fake::Ok(1000), Fake::Ok(20)], plan);
        assert_eq!(win, Some(0));
        assert_eq!(started, vec![(0, 0)]);
        for _ in 0..HedgeBudget::SHARE {
            budget.deposit();
        }
        assert!(budget.try_take());
    }

    #[test]
    fn all_failing_returns_every_failure() {
        let (win, fails, _, _) = run(vec![Fake::Fail(1), Fake::Fail(2)], sliding(1, &[]));
        assert_eq!(win, None);
        assert_eq!(fails, vec![0, 1]);
    }
}
