//! The background log pruner: applies `log_retention_days` and `log_max_mb` while the server runs.
//!
//! It wakes every [`INTERVAL`] (first shortly after start), reads the current settings (so a changed
//! retention applies without a restart) and prunes on a blocking thread in small batches with pauses
//! on a thread of the lowest CPU priority (see [`crate::store::retention`]), so requests keep being
//! served while millions of records go.

use std::sync::Arc;
use std::time::Duration;

use super::state::AppState;
use crate::store::retention::{PruneRequest, PRUNE_PAUSE};

/// How often the pruner runs.
pub const INTERVAL: Duration = Duration::from_secs(600);
/// The delay before its first run.
pub const FIRST_RUN: Duration = Duration::from_secs(30);

/// What the current settings ask to prune, if anything.
pub fn request(state: &AppState) -> Option<PruneRequest> {
    let s = state.settings();
    let older_than = (s.log_retention_days > 0)
        .then(|| chrono::Utc::now() - chrono::Duration::days(i64::from(s.log_retention_days)));
    let max_bytes = (s.log_max_mb > 0).then(|| s.log_max_mb.saturating_mul(1024 * 1024));
    (older_than.is_some() || max_bytes.is_some()).then_some(PruneRequest {
        older_than,
        max_bytes,
        dry_run: false,
    })
}

/// Runs forever (abort the task to stop it).
pub async fn run(state: Arc<AppState>) {
    tokio::time::sleep(FIRST_RUN).await;
    loop {
        if let Some(req) = request(&state) {
            let store = state.store.clone();
            let prune = move || {
                crate::store::retention::run_low_priority(move || {
                    store.prune_logs(&req, PRUNE_PAUSE)
                })
            };
            match tokio::task::spawn_blocking(prune).await {
                Ok(Ok(s)) if s.removed > 0 => tracing::info!(
                    removed = s.removed,
                    remaining = s.remaining,
                    "pruned the request log"
                ),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!("pruning the request log failed: {e}"),
                Err(e) => tracing::error!("the log pruner stopped: {e}"),
            }
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
