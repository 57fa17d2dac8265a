//! Admission: who may ask. [`authenticate`] runs before the body is read; [`admit`] after it.

use chrono::Utc;

use super::record::log_refusal;
use super::{Admitted, ChatParams, Refusal, RequestMeta};
use crate::ratelimit::Decision;
use crate::server::error::ApiError;
use crate::server::state::AppState;
use crate::store::ApiKey;

/// Logs and counts a request of a known key whose body could not be read or parsed.
pub fn log_malformed(state: &AppState, meta: &RequestMeta, key: &ApiKey, e: &ApiError) {
    log_refusal(state, meta, &ChatParams::default(), Some(key.id), e);
    state.logs.count(key.id, 1, 0);
}

/// The first admission stage, run before the body is read so that an unauthenticated client never
/// makes the server buffer a body: the bearer key must be present and known. Refusals are logged.
///
/// # Errors
/// [`ApiError::KeyMissing`], [`ApiError::KeyInvalid`], [`ApiError::Internal`] for a broken store.
pub fn authenticate(state: &AppState, meta: &RequestMeta) -> Result<ApiKey, ApiError> {
    let found = match meta.api_key.as_deref().filter(|k| !k.is_empty()) {
        None => Err(ApiError::KeyMissing),
        Some(token) => match state.store.key_by_secret(token) {
            Ok(Some(key)) => Ok(key),
            Ok(None) => Err(ApiError::KeyInvalid),
            Err(e) => Err(ApiError::from(e)),
        },
    };
    if let Err(e) = &found {
        log_refusal(state, meta, &ChatParams::default(), None, e);
    }
    found
}

/// Runs the admission stages after [`authenticate`]. Refusals are logged and counted here.
///
/// # Errors
/// The first stage that refuses.
pub async fn admit(
    state: &AppState,
    meta: &RequestMeta,
    params: &ChatParams,
    key: ApiKey,
) -> Result<Admitted, Refusal> {
    let id = key.id;
    let result = admit_inner(state, params, key).await;
    if let Err((refusal, _)) = &result {
        log_refusal(state, meta, params, Some(id), &refusal.error);
        state.logs.count(id, 1, 0);
    }
    result.map_err(|(r, _)| r)
}

/// Whether a known key may be used at all: enabled and not expired.
///
/// # Errors
/// [`ApiError::KeyDisabled`], [`ApiError::KeyExpired`].
pub fn check_standing(key: &ApiKey) -> Result<(), ApiError> {
    if !key.enabled {
        return Err(ApiError::KeyDisabled);
    }
    if key.is_expired(Utc::now().timestamp()) {
        return Err(ApiError::KeyExpired);
    }
    Ok(())
}

async fn admit_inner(
    state: &AppState,
    params: &ChatParams,
    key: ApiKey,
) -> Result<Admitted, (Refusal, Option<u64>)> {
    let id = Some(key.id);
    check_standing(&key).map_err(|e| (e.into(), id))?;
    if key.credits == 0 {
        return Err((ApiError::NotEnoughCredits.into(), id));
    }
    let settings = state.settings();
    if let Err(e) = params.validate() {
        return Err((e.into(), id));
    }
    if settings.openai_filter_enabled
        && crate::server::moderation::is_flagged(state, &settings, &params.messages).await
    {
        return Err((ApiError::Flagged.into(), id));
    }
    let rate = if settings.rate_limiting_enabled {
        let windows = key
            .rate_limits
            .as_deref()
            .unwrap_or(&settings.global_rate_limits);
        state.limiters.check(key.id, windows)
    } else {
        Decision::Unlimited
    };
    if let Decision::Limited { limit, retry_after } = rate {
        return Err((
            Refusal {
                error: ApiError::rate_limited(limit, retry_after),
                rate: Some(rate),
            },
            id,
        ));
    }
    Ok(Admitted { key, rate })
}
