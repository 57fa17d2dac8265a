//! The miner health persister: writes the miners whose health changed to the store every
//! [`INTERVAL`], on a blocking thread, so a restart keeps what the gateway learned and no request
//! ever waits for a health write. The server writes once more when it stops.

use std::sync::Arc;
use std::time::Duration;

use super::state::AppState;

/// How often changed health is written.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// Runs forever (abort the task to stop it).
pub async fn run(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate
    loop {
        tick.tick().await;
        let s = state.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || s.persist_health()).await {
            tracing::error!("the miner health persister failed: {e}");
        }
    }
}
