//! Shared fixtures of the routing unit tests: attempt outcomes and a small subnet.

use std::sync::Arc;
use std::time::Duration;

use crate::bittensor::metagraph::{Metagraph, Neuron};
use crate::bittensor::metagraph_cell::MetagraphSnapshot;
use crate::bittensor::race::AttemptEnd;

/// A successful attempt that took `ms`.
pub fn ok(ms: u64) -> AttemptEnd<'static> {
    AttemptEnd {
        success: true,
        status: 200,
        message: "Success",
        elapsed: Duration::from_millis(ms),
    }
}

/// A timed-out attempt that took `ms`.
pub fn fail(ms: u64) -> AttemptEnd<'static> {
    AttemptEnd {
        success: false,
        status: 408,
        message: "Request timeout after 0.5 seconds",
        elapsed: Duration::from_millis(ms),
    }
}

/// A subnet of `n` miners (hotkeys `5hk<uid>`), incentive falling with the uid.
pub fn snapshot(n: u16) -> Arc<MetagraphSnapshot> {
    let neurons = (0..n)
        .map(|uid| {
            let mut x = Neuron::new(uid, format!("5hk{uid}"), "1.1.1.1", 1000 + uid);
            x.incentive = 1.0 - f64::from(uid) / 10.0;
            x
        })
        .collect();
    Arc::new(MetagraphSnapshot::new(Metagraph {
        netuid: 1,
        neurons,
        block: None,
        fetched_at: chrono::Utc::now(),
    }))
}
