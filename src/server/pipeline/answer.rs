//! Getting answers from miners, once the request is admitted: plan → reserve → query → settle → log →
//! count, for every front end and every miner transport.
//!
//! [`whole`] returns all the answers the request asked for; [`stream`] returns the first miner's
//! answer as a stream of OpenAI chunks ([`AnswerStream`]): real token streaming when miners
//! speak an OpenAI API (btauth, Epistula), the first successful synapse answer cut into deltas
//! otherwise. A stream owns its settlement: it is charged once its first chunk is handed to the client
//! (even if the client then leaves), refunded if the miner breaks off, and logged when it ends. A new
//! miner transport plugs in at [`crate::bittensor::dendrite`] and in [`stream`]'s `match`.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::{json, Value};

use super::charge::{durable_if, max_successes, reserve, SettleGuard};
use super::record::{failed_responses, log_answers, log_refusal};
use super::usage::{self, Usage};
use super::{Admitted, ChatParams, RequestMeta};
use crate::bittensor::dendrite::{MinerResponse, QueryOptions};
use crate::bittensor::http_miner::{valid_usage, LiveStream, StreamEvent};
use crate::bittensor::metagraph::Neuron;
use crate::bittensor::race::RacePlan;
use crate::server::error::ApiError;
use crate::server::state::AppState;
use crate::store::{ApiKey, Reservation};

/// The result of a served (non-streaming) request.
#[derive(Debug, Clone)]
pub struct Served {
    /// Successful answers, in arrival order, at most what the credits paid for.
    pub answers: Vec<MinerResponse>,
    /// Failed answers, in arrival order.
    pub failures: Vec<MinerResponse>,
}

/// The miners chosen for a request and how to query them.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Miners, in query order: the strategy's N, then (`best:N`) spares, asked only after a failure
    /// or as the hedge.
    pub neurons: Vec<Neuron>,
    /// How many of `neurons` the strategy chose (the rest are spares).
    pub asked: usize,
    /// How a first-answer query races them (failover, hedging, or btvep's batches for `uids`).
    pub race: RacePlan,
    /// Dendrite options.
    pub options: QueryOptions,
}

/// Default number of miners queried at once.
pub const DEFAULT_IN_PARALLEL: usize = 16;

/// Picks the miners: request strategy, else the key's, else the server's default; `best:N` through
/// the router (health), the others by the metagraph alone.
///
/// # Errors
/// [`ApiError::MetagraphNotReady`] before the first metagraph, [`ApiError::BadQuery`] for a strategy
/// that cannot be served or that would query more than `max_miners_per_request` miners.
pub fn plan(state: &AppState, key: &ApiKey, params: &ChatParams) -> Result<Plan, ApiError> {
    let settings = state.settings();
    let metagraph = state.metagraph().ok_or(ApiError::MetagraphNotReady)?;
    let strategy = params
        .strategy
        .clone()
        .or_else(|| {
            key.default_query_strategy
                .as_deref()
                .and_then(|s| s.parse().ok())
        })
        .unwrap_or_else(|| settings.default_query_strategy.clone());
    let selection = state
        .router
        .select(&strategy, &metagraph, settings.hedge_after)
        .map_err(|e| ApiError::BadQuery(e.to_string()))?;
    let asked = selection.neurons.len();
    if asked > settings.max_miners_per_request {
        return Err(ApiError::BadQuery(format!(
            "this request would query {asked} miners; at most {} may be queried per request (max_miners_per_request)",
            settings.max_miners_per_request
        )));
    }
    let mut neurons = selection.neurons;
    neurons.extend(
        selection
            .spares
            .into_iter()
            .take(settings.max_miners_per_request - asked),
    );
    let timeout = params
        .timeout
        .map(std::time::Duration::from_secs_f64)
        .unwrap_or(settings.miner_timeout);
    let in_parallel = params.in_parallel.unwrap_or(DEFAULT_IN_PARALLEL).max(1);
    let race = if selection.hedged {
        // Hedge delays matter only when some candidate is not started up front.
        let hedge_after = if neurons.len() <= asked.min(in_parallel) {
            Vec::new()
        } else if selection.hedge_after.is_empty() {
            let all: Vec<&Neuron> = neurons.iter().collect();
            state.router.hedge_delays(&all, settings.hedge_after)
        } else {
            selection.hedge_after
        };
        let budget = hedge_after.iter().any(Option::is_some).then(|| {
            let budget = state.router.hedge_budget();
            budget.deposit();
            budget.clone()
        });
        RacePlan {
            primary: asked,
            in_parallel,
            hedge_after,
            learn: selection.learn,
            batches: false,
            budget,
        }
    } else {
        RacePlan::batches(in_parallel)
    };
    Ok(Plan {
        options: QueryOptions {
            timeout,
            in_parallel,
            respond_on_first_success: params.respond_on_first_success.unwrap_or(true),
        },
        neurons,
        asked,
        race,
    })
}

/// The roles and message texts of a conversation, as the Prompting synapse carries them.
pub fn synapse_fields(messages: &[super::Message]) -> (Vec<String>, Vec<String>) {
    messages
        .iter()
        .map(|m| (m.role.as_str().to_string(), m.content.clone()))
        .unzip()
}

/// A request whose miners are chosen and whose credits are reserved.
struct Started {
    plan: Plan,
    reservation: Reservation,
    guard: SettleGuard,
    roles: Vec<String>,
    messages: Vec<String>,
}

/// Plans and reserves `want` credits; refusals are logged and counted. From here, if the caller's
/// future is dropped (the client left), the guard refunds and logs the request as `ClientClosed`.
fn start(
    state: &Arc<AppState>,
    meta: &RequestMeta,
    params: &ChatParams,
    key: &ApiKey,
    stream: bool,
) -> Result<Started, ApiError> {
    let refused = |e: ApiError| {
        log_refusal(state, meta, params, Some(key.id), &e);
        state.logs.count(key.id, 1, 0);
        e
    };
    let mut plan = plan(state, key, params).map_err(refused)?;
    let want = if stream { 1 } else { max_successes(&plan) };
    let reservation = reserve(state, key, want).map_err(refused)?;
    if !plan.options.respond_on_first_success {
        // Every answer is wanted: no spares, and never more miners than the key can pay answers for.
        plan.neurons
            .truncate(plan.asked.min(reservation.capacity()));
    }
    let guard = SettleGuard::new(state, key, reservation, meta, params);
    let (roles, messages) = synapse_fields(&params.messages);
    Ok(Started {
        plan,
        reservation,
        guard,
        roles,
        messages,
    })
}

/// Every answer the request asked for ([`Served`]). The reservation is made durable while the miners
/// work and any refund before returning, so nothing is handed back before what it costs is on disk.
///
/// # Errors
/// [`plan`]'s and [`reserve`]'s refusals (logged and counted); [`ApiError::AllMinersFailed`] when no
/// miner answered; [`ApiError::Internal`] when the charge could not be made durable.
pub async fn whole(
    state: &Arc<AppState>,
    meta: &RequestMeta,
    params: &ChatParams,
    admitted: &Admitted,
) -> Result<Served, ApiError> {
    let key = &admitted.key;
    let Started {
        plan,
        reservation,
        mut guard,
        roles,
        messages,
    } = start(state, meta, params, key, false)?;
    let query = async {
        if plan.options.respond_on_first_success {
            let (first, mut responses) = state
                .dendrite
                .race(
                    &plan.neurons,
                    &plan.race,
                    &roles,
                    &messages,
                    &params.sampling,
                    plan.options.timeout,
                )
                .await;
            responses.extend(first);
            responses
        } else {
            state
                .dendrite
                .query_with(
                    &plan.neurons,
                    &roles,
                    &messages,
                    &params.sampling,
                    plan.options,
                )
                .await
        }
    };
    let durable = durable_if(state, matches!(reservation, Reservation::Reserved(_)));
    let (responses, durable) = tokio::join!(query, durable);
    let (mut answers, failures): (Vec<_>, Vec<_>) =
        responses.iter().cloned().partition(|r| r.is_success);
    answers.truncate(reservation.capacity());
    log_answers(state, meta, params, key, &responses);
    if durable.is_err() {
        guard.finish(0);
        return Err(ApiError::Internal);
    }
    let refunded = guard.finish(answers.len());
    durable_if(state, refunded).await?;
    if answers.is_empty() {
        return Err(ApiError::AllMinersFailed(failed_responses(&failures)));
    }
    Ok(Served { answers, failures })
}

/// The first miner's answer as it comes ([`AnswerStream`]): miners speaking an OpenAI API are asked to
/// stream and the first whose first content chunk arrives wins (the others are cancelled); synapse
/// miners are queried until the first success, whose answer is then cut into deltas. The reservation
/// is durable before the stream is returned.
///
/// # Errors
/// As [`whole`].
pub async fn stream(
    state: &Arc<AppState>,
    meta: &RequestMeta,
    params: &ChatParams,
    admitted: &Admitted,
) -> Result<AnswerStream, ApiError> {
    let key = &admitted.key;
    let Started {
        plan,
        reservation,
        guard,
        roles,
        messages,
    } = start(state, meta, params, key, true)?;
    let durable = durable_if(state, matches!(reservation, Reservation::Reserved(_)));
    let (first, durable) = if state.dendrite.http().is_some() {
        let first = state.dendrite.stream_race(
            &plan.neurons,
            &plan.race,
            &roles,
            &messages,
            &params.sampling,
            plan.options.timeout,
        );
        let ((live, failures), durable) = tokio::join!(first, durable);
        ((live.map(|l| Source::Live(Box::new(l))), failures), durable)
    } else {
        let first = state.dendrite.race(
            &plan.neurons,
            &plan.race,
            &roles,
            &messages,
            &params.sampling,
            plan.options.timeout,
        );
        let ((answer, failures), durable) = tokio::join!(first, durable);
        ((answer.map(Source::whole), failures), durable)
    };
    let (source, failures) = first;
    start_stream(state, meta, params, key, guard, source, failures, durable)
}

#[allow(clippy::too_many_arguments)]
fn start_stream(
    state: &Arc<AppState>,
    meta: &RequestMeta,
    params: &ChatParams,
    key: &ApiKey,
    mut guard: SettleGuard,
    source: Option<Source>,
    failures: Vec<MinerResponse>,
    durable: Result<(), ApiError>,
) -> Result<AnswerStream, ApiError> {
    let Some(source) = source.filter(|_| durable.is_ok()) else {
        log_answers(state, meta, params, key, &failures);
        guard.finish(0);
        durable?;
        return Err(ApiError::AllMinersFailed(failed_responses(&failures)));
    };
    // From here the stream writes the request's records itself, whenever it ends.
    guard.answered();
    Ok(AnswerStream {
        source,
        guard: Some(guard),
        state: state.clone(),
        meta: meta.clone(),
        params: params.clone(),
        key: key.clone(),
        failures,
        sent: false,
    })
}

/// Where a stream's chunks come from.
#[derive(Debug)]
enum Source {
    /// A miner streaming for real.
    Live(Box<LiveStream>),
    /// A whole answer, cut into word deltas.
    Whole {
        answer: MinerResponse,
        chunks: VecDeque<Value>,
    },
}

impl Source {
    fn whole(answer: MinerResponse) -> Self {
        let chunk = |delta: Value, finish: Value| json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": Value::Null}]});
        let mut chunks = VecDeque::new();
        chunks.push_back(chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        ));
        for d in deltas(&answer.completion) {
            chunks.push_back(chunk(json!({"content": d}), Value::Null));
        }
        chunks.push_back(chunk(json!({}), json!("stop")));
        Source::Whole { answer, chunks }
    }
}

/// Splits text into streaming deltas at word boundaries (whitespace stays with the following word),
/// so the concatenation of the deltas is exactly the text.
pub fn deltas(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, ch) in text.char_indices() {
        if ch.is_whitespace() && i > 0 && !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// How a stream ended, for its settlement and its log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// Every chunk was handed to the client.
    Done,
    /// The client went away.
    ClientGone,
    /// The miner broke off; the reason is safe to log.
    Failed(String),
}

/// The first miner's answer, chunk by chunk (OpenAI `chat.completion.chunk` objects without `id`,
/// `model` and `created`, which the front end sets). Settles and logs when [`AnswerStream::end`] is
/// called, or when dropped (as a client that went away).
#[derive(Debug)]
pub struct AnswerStream {
    source: Source,
    guard: Option<SettleGuard>,
    state: Arc<AppState>,
    meta: RequestMeta,
    params: ChatParams,
    key: ApiKey,
    failures: Vec<MinerResponse>,
    sent: bool,
}

impl AnswerStream {
    /// The answering miner's uid and hotkey.
    pub fn miner(&self) -> (u16, &str) {
        match &self.source {
            Source::Live(l) => (l.neuron.uid, &l.neuron.hotkey),
            Source::Whole { answer, .. } => (answer.uid, &answer.hotkey),
        }
    }

    /// The next chunk, the end, or the miner's failure.
    pub async fn next_event(&mut self) -> StreamEvent {
        match &mut self.source {
            Source::Live(l) => l.next_event().await,
            Source::Whole { chunks, .. } => match chunks.pop_front() {
                Some(c) => StreamEvent::Chunk(c),
                None => StreamEvent::Done,
            },
        }
    }

    /// Notes that a chunk was handed to the client: from now on the answer is charged.
    pub fn chunk_sent(&mut self) {
        if !self.sent {
            self.sent = true;
            if let Some(g) = self.guard.as_mut() {
                g.used = 1;
            }
        }
    }

    /// The usage the miner reported, or an estimate from the text so far.
    pub fn usage(&self) -> Usage {
        let (reported, text) = match &self.source {
            Source::Live(l) => (usage::reported(l.usage.as_ref()), l.text.as_str()),
            Source::Whole { answer, .. } => (
                usage::reported(answer.usage.as_ref()),
                answer.completion.as_str(),
            ),
        };
        reported.unwrap_or_else(|| usage::estimate(&self.params.messages, &[text]))
    }

    /// Settles (charged if a chunk was sent and the miner did not break off) and logs the request.
    pub fn end(mut self, how: StreamEnd) {
        self.finish(how);
    }

    fn finish(&mut self, how: StreamEnd) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        let winner = match &self.source {
            Source::Live(live) => {
                let failure = match &how {
                    StreamEnd::Failed(reason) => Some(reason.clone()),
                    _ => None,
                };
                MinerResponse {
                    uid: live.neuron.uid,
                    hotkey: live.neuron.hotkey.clone(),
                    status_code: if failure.is_some() { 422 } else { 200 },
                    status_message: failure.clone().unwrap_or_else(|| match how {
                        StreamEnd::ClientGone => "Success (client left mid-stream)".into(),
                        _ => "Success".into(),
                    }),
                    completion: live.text.clone(),
                    elapsed: live.started.elapsed(),
                    is_success: failure.is_none() && !live.text.is_empty(),
                    usage: valid_usage(live.usage.as_ref()),
                }
            }
            Source::Whole { answer, .. } => answer.clone(),
        };
        if matches!(how, StreamEnd::Failed(_)) {
            guard.used = 0; // the miner broke off: not the client's answer
        }
        let mut answers = std::mem::take(&mut self.failures);
        answers.push(winner);
        log_answers(&self.state, &self.meta, &self.params, &self.key, &answers);
        drop(guard);
    }
}

impl Drop for AnswerStream {
    fn drop(&mut self) {
        self.finish(StreamEnd::ClientGone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_reassemble_exactly() {
        for text in [
            "Paris",
            "The capital  of France\nis Paris.",
            " leading",
            "",
            "a b",
        ] {
            assert_eq!(deltas(text).concat(), text);
        }
        assert_eq!(deltas("one two three"), ["one", " two", " three"]);
    }
}
