//! Credits: reserving before the miners are asked, making the charge durable (group commit), settling
//! what was used, and the guard that settles a request its client abandoned.

use std::sync::Arc;

use super::answer::Plan;
use super::record::base_record;
use super::{ChatParams, RequestMeta};
use crate::server::error::ApiError;
use crate::server::state::AppState;
use crate::store::{ApiKey, LogRecord, Reservation};

/// How many successful answers a plan can produce (the credits to reserve): one for the first
/// success, else one per miner the strategy chose (spares are only asked for a first success).
pub fn max_successes(plan: &Plan) -> i64 {
    if plan.options.respond_on_first_success {
        1
    } else {
        i64::try_from(plan.asked.min(plan.neurons.len())).unwrap_or(i64::MAX)
    }
}

/// Reserves credits for a plan.
///
/// # Errors
/// [`ApiError::NotEnoughCredits`] when the balance ran out meanwhile.
pub fn reserve(state: &AppState, key: &ApiKey, want: i64) -> Result<Reservation, ApiError> {
    match state.store.reserve_credits(key.id, want)? {
        Reservation::Insufficient => Err(ApiError::NotEnoughCredits),
        r => Ok(r),
    }
}

/// Gives back what a reservation did not use (`used` successful answers delivered); returns whether
/// anything was given back.
pub fn settle(state: &AppState, key: &ApiKey, reservation: Reservation, used: usize) -> bool {
    if let Reservation::Reserved(n) = reservation {
        let spent = i64::try_from(used).unwrap_or(i64::MAX).min(n);
        state
            .metrics
            .credits_spent(u64::try_from(spent).unwrap_or(0));
        let unused = n - spent;
        if unused > 0 {
            if let Err(e) = state.store.refund_credits(key.id, unused) {
                tracing::error!(key_id = key.id, unused, "refunding credits failed: {e}");
            }
            return true;
        }
    }
    false
}

/// Waits for the store's group commit when `needed` (logged on failure).
///
/// # Errors
/// [`ApiError::Internal`] when the flush failed.
pub async fn durable_if(state: &AppState, needed: bool) -> Result<(), ApiError> {
    if !needed {
        return Ok(());
    }
    state.store.durable().await.map_err(|e| {
        tracing::error!("making a charge durable failed: {e}");
        ApiError::Internal
    })
}

/// Settles a reservation when dropped, so a cancelled request never keeps credits it did not use; a
/// request dropped before [`SettleGuard::finish`] (the client went away) is also logged and counted
/// as `ClientClosed`.
pub struct SettleGuard {
    state: Arc<AppState>,
    key: ApiKey,
    reservation: Reservation,
    /// Successful answers delivered so far.
    pub used: usize,
    /// The record written if the request is dropped before it finished.
    closed: Option<LogRecord>,
    request_id: String,
}

impl std::fmt::Debug for SettleGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettleGuard")
            .field("key_id", &self.key.id)
            .field("reservation", &self.reservation)
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

impl SettleGuard {
    /// Guards `reservation` for the request `meta`.
    pub fn new(
        state: &Arc<AppState>,
        key: &ApiKey,
        reservation: Reservation,
        meta: &RequestMeta,
        params: &ChatParams,
    ) -> Self {
        let mut closed = base_record(meta, params, Some(key.id));
        closed.is_api_success = false;
        closed.api_error = Some(ApiError::ClientClosed.log_code().to_string());
        state.settings().log_text.apply(&mut closed);
        SettleGuard {
            state: state.clone(),
            key: key.clone(),
            reservation,
            used: 0,
            closed: Some(closed),
            request_id: meta.request_id.clone(),
        }
    }

    /// The request's outcome is known and logged: settles with `used` answers delivered and disarms.
    /// Returns whether credits were given back (a write that may need to be made durable).
    pub fn finish(&mut self, used: usize) -> bool {
        self.closed = None;
        self.used = used;
        let refunded = settle(&self.state, &self.key, self.reservation, used);
        self.reservation = Reservation::Unlimited;
        refunded
    }

    /// Marks the request as answered (its outcome logged) without settling yet; dropping the guard
    /// then settles with [`SettleGuard::used`] and logs nothing more.
    pub fn answered(&mut self) {
        self.closed = None;
    }
}

impl Drop for SettleGuard {
    fn drop(&mut self) {
        settle(&self.state, &self.key, self.reservation, self.used);
        if let Some(record) = self.closed.take() {
            tracing::info!(
                request_id = self.request_id,
                key_id = self.key.id,
                "the client closed the connection before the answer was sent"
            );
            self.state
                .metrics
                .refusal(ApiError::ClientClosed.log_code());
            self.state.logs.records(vec![record]);
            self.state.logs.count(self.key.id, 1, 0);
        }
    }
}
