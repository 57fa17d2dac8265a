//! The saturation queue: at most `capacity` requests hold a slot; waiters are served highest priority (stake) first,
//! FIFO among equals, and give up at their deadline.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio::time::Instant;

/// A bounded set of slots handed to the highest-priority waiter when one is released.
#[derive(Debug)]
pub struct PriorityGate {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    available: usize,
    waiters: BinaryHeap<Waiter>,
    seq: u64,
}

#[derive(Debug)]
struct Waiter {
    priority: f64,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    // Max-heap: higher priority first, then the earlier arrival (smaller seq).
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .total_cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A held slot; dropping it hands the slot to the best waiter (or frees it).
#[derive(Debug)]
pub struct Slot {
    gate: Arc<PriorityGate>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.release();
    }
}

/// The wait ended at the deadline without a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired;

impl PriorityGate {
    /// A gate with `capacity` slots (at least 1).
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                available: capacity.max(1),
                waiters: BinaryHeap::new(),
                seq: 0,
            }),
        })
    }

    /// Callers currently waiting for a slot.
    pub fn waiting(&self) -> usize {
        self.lock().waiters.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take a slot, waiting behind higher-priority callers until `deadline`.
    ///
    /// # Errors
    /// [`Expired`] when the deadline passes first.
    pub async fn acquire(
        self: &Arc<Self>,
        priority: f64,
        deadline: Instant,
    ) -> Result<Slot, Expired> {
        let mut rx = {
            let mut st = self.lock();
            if st.available > 0 && st.waiters.is_empty() {
                st.available -= 1;
                return Ok(Slot {
                    gate: Arc::clone(self),
                });
            }
            let (tx, rx) = oneshot::channel();
            st.seq += 1;
            let seq = st.seq;
            st.waiters.push(Waiter {
                priority: if priority.is_nan() { 0.0 } else { priority },
                seq,
                wake: tx,
            });
            rx
        };
        match tokio::time::timeout_at(deadline, &mut rx).await {
            Ok(Ok(())) => Ok(Slot {
                gate: Arc::clone(self),
            }),
            // The sender is only dropped by a release that skips us, which cannot happen while we listen; treat
            // it like expiry rather than panic.
            Ok(Err(_)) => Err(Expired),
            Err(_) => {
                // A release may have handed us the slot just as the deadline hit: close first so no new hand-off
                // can land, then pass on one that already did.
                rx.close();
                if rx.try_recv().is_ok() {
                    self.release();
                }
                Err(Expired)
            }
        }
    }

    fn release(&self) {
        let mut st = self.lock();
        while let Some(w) = st.waiters.pop() {
            if w.wake.send(()).is_ok() {
                return;
            }
            // That waiter gave up; try the next one.
        }
        st.available += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn highest_priority_first_and_expiry() {
        let gate = PriorityGate::new(1);
        let far = Instant::now() + Duration::from_secs(10);
        let held = gate.acquire(0.0, far).await.expect("free slot");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (p, name) in [(1.0, "low"), (100.0, "high"), (1.0, "low2")] {
            let (g, o) = (Arc::clone(&gate), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let _s = g.acquire(p, far).await.expect("slot");
                o.lock().unwrap().push(name);
            }));
            while gate.waiting() < tasks.len() {
                tokio::task::yield_now().await;
            }
        }
        // One that expires while waiting must not lose the slot.
        let expired = gate.acquire(1000.0, Instant::now()).await;
        assert_eq!(expired.unwrap_err(), Expired);
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["high", "low", "low2"]);
        let _again = gate.acquire(0.0, far).await.expect("slot is free again");
        assert_eq!(gate.waiting(), 0);
    }
}
