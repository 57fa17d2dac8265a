//! The request log's records of the pipeline: one per refusal, one per miner answer.

use chrono::Utc;

use super::{ChatParams, RequestMeta, SRC_VERSION};
use crate::bittensor::dendrite::MinerResponse;
use crate::server::error::{ApiError, FailedResponse};
use crate::server::state::AppState;
use crate::store::{ApiKey, LogRecord};

/// A record with the request's common fields.
pub(crate) fn base_record(
    meta: &RequestMeta,
    params: &ChatParams,
    key_id: Option<u64>,
) -> LogRecord {
    LogRecord {
        timestamp: Utc::now(),
        api_key_id: key_id,
        api_request_id: meta.request_id.clone(),
        route: Some(meta.route.to_string()),
        prompt: params.prompt(),
        src_version: Some(SRC_VERSION),
        ..Default::default()
    }
}

/// Logs a refused request (one record with btvep's `api_error` code).
pub fn log_refusal(
    state: &AppState,
    meta: &RequestMeta,
    params: &ChatParams,
    key_id: Option<u64>,
    e: &ApiError,
) {
    let mut r = base_record(meta, params, key_id);
    r.is_api_success = false;
    r.api_error = Some(e.log_code().to_string());
    state.settings().log_text.apply(&mut r);
    state.metrics.refusal(e.log_code());
    state.logs.records(vec![r]);
}

/// Writes one log record per miner answer and bumps the key's counters.
pub fn log_answers(
    state: &AppState,
    meta: &RequestMeta,
    params: &ChatParams,
    key: &ApiKey,
    answers: &[MinerResponse],
) {
    for a in answers {
        state
            .metrics
            .miner_answer(a.uid, &a.hotkey, a.status_code, a.elapsed);
    }
    let mut records: Vec<LogRecord> = answers
        .iter()
        .map(|a| {
            let mut r = base_record(meta, params, Some(key.id));
            r.is_api_success = true;
            r.responder_hotkey = Some(a.hotkey.clone());
            r.uid = Some(a.uid);
            r.response = Some(a.completion.clone()).filter(|c| !c.is_empty());
            r.is_success = Some(a.is_success);
            r.return_code = Some(a.status_code);
            r.return_message = Some(a.status_message.clone());
            r.elapsed_ms = Some(u64::try_from(a.elapsed.as_millis()).unwrap_or(u64::MAX));
            r
        })
        .collect();
    if records.is_empty() {
        records.push(base_record(meta, params, Some(key.id)));
        records[0].is_api_success = true;
    }
    let text = state.settings().log_text;
    for r in &mut records {
        text.apply(r);
    }
    state.logs.records(records);
    state.logs.count(key.id, 1, answers.len() as u64);
}

/// Converts failed miner answers to the client shape.
pub fn failed_responses(failures: &[MinerResponse]) -> Vec<FailedResponse> {
    failures
        .iter()
        .enumerate()
        .map(|(index, f)| FailedResponse {
            index,
            uid: f.uid,
            responder_hotkey: f.hotkey.clone(),
            error: f.status_message.clone(),
            status_code: f.status_code,
            response_ms: u64::try_from(f.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
        .collect()
}
