//! `btvep start`: the API server.
//!
//! # Layout
//! - [`pipeline`]: the request pipeline every front end shares (auth → credits → moderation → rate limit →
//!   miners → log → charge).
//! - [`chat`]: `POST /chat` (btvep's API).
//! - [`openai`]: `POST /v1/chat/completions` and `GET /v1/models` (OpenAI's API).
//! - [`http`]: request ids, body parsing, error rendering, CORS.
//! - [`listener`]: the accept loop: connection cap, header/idle timeouts, open-file limit.
//! - [`admin_api`]: the admin API (`/admin/...`), the embedded dashboard (`/dashboard`) and `/metrics`.
//! - [`error`]: the API error type.
//! - [`state`]: shared state and reloadable settings.
//! - [`stats`]: the dashboard's overview statistics.
//! - [`moderation`]: the optional moderation filter.
//! - [`logsink`]: the batched writer of the request log and counters.
//! - [`log_retention`]: the background pruner of old log records.
//! - [`health_persister`]: the background writer of miner health (see [`crate::routing`]).
//! - [`lifecycle`]: [`lifecycle::start`] a server on a listener and stop it in order ([`lifecycle::ServerHandle`]).
//!
//! The caller binds the listener ([`lifecycle::start`] takes it), so tests use port 0.

pub mod admin_api;
pub mod chat;
pub mod error;
pub mod health_persister;
pub mod http;
pub mod lifecycle;
pub mod listener;
pub mod log_retention;
pub mod logsink;
pub mod memory;
pub mod metrics;
pub mod moderation;
pub mod openai;
pub mod openai_stream;
pub mod openai_types;
pub mod pipeline;
pub mod state;
pub mod stats;

use std::future::Future;
use std::sync::Arc;

use serde_json::json;
use warp::Filter;

use self::http::{json_reply, new_request_id, with_state};
use self::state::AppState;

/// All routes of the API server.
pub fn routes(
    state: Arc<AppState>,
    cors_origins: &str,
) -> impl Filter<Extract = (http::Reply,), Error = std::convert::Infallible> + Clone {
    let chat = warp::path!("chat").and(
        warp::post()
            .and(with_state(state.clone()))
            .and(warp::header::optional::<String>("authorization"))
            .and(http::body_stream())
            .then(chat::handle)
            .recover(http::recover_btvep)
            .unify(),
    );
    let auth = || warp::header::optional::<String>("authorization");
    let completions = warp::path!("v1" / "chat" / "completions").and(
        warp::post()
            .and(with_state(state.clone()))
            .and(auth())
            .and(http::body_stream())
            .then(openai::chat_completions)
            .recover(openai::recover_openai)
            .unify(),
    );
    let models = warp::path!("v1" / "models").and(
        warp::get()
            .and(with_state(state.clone()))
            .and(auth())
            .map(openai::list_models)
            .recover(openai::recover_openai)
            .unify(),
    );
    let model = warp::path!("v1" / "models" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(auth())
        .map(openai::get_model);
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| json_reply(200, &json!({"status": "ok"}), &new_request_id()));
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_state(state.clone()))
        .map(|s: Arc<AppState>| {
            let id = new_request_id();
            match s.metagraph() {
                Some(m) => json_reply(
                    200,
                    &json!({
                        "status": "ready",
                        "netuid": m.netuid,
                        "neurons": m.neurons.len(),
                        "metagraph_age_seconds": (chrono::Utc::now() - m.fetched_at).num_seconds(),
                    }),
                    &id,
                ),
                None => json_reply(
                    503,
                    &json!({"status": "not ready", "detail": "The metagraph is not loaded yet"}),
                    &id,
                ),
            }
        });
    let admin = admin_api::routes(state.clone());
    chat.or(completions)
        .unify()
        .or(models)
        .unify()
        .or(model)
        .unify()
        .or(healthz)
        .unify()
        .or(admin)
        .unify()
        .or(readyz)
        .unify()
        .recover(http::recover_btvep)
        .unify()
        .with(http::cors(cors_origins))
        .map(warp::Reply::into_response)
        .recover(|r: warp::Rejection| async move { http::recover_btvep(r).await })
        .unify()
}

/// Serves the API on `listener` until `shutdown` resolves, then drains in-flight requests; `limits`
/// bound connections and their timeouts (see [`listener`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    cors_origins: &str,
    limits: listener::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let service = warp::service(routes(state, cors_origins));
    listener::serve(listener, service, limits, shutdown).await;
}
