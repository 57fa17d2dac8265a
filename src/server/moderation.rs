//! The optional moderation filter: an OpenAI-compatible `POST {base}/moderations` call.
//!
//! As in btvep, the filter fails open: a timeout (5 s) or an upstream error lets the request through with
//! a warning, so an outage of the moderation service does not take the endpoint down.

use std::time::Duration;

use serde_json::{json, Value};

use super::pipeline::Message;
use super::state::{AppState, Settings};

/// How long the moderation call may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the moderation endpoint flags any of the messages. Errors and timeouts count as not flagged.
pub async fn is_flagged(state: &AppState, settings: &Settings, messages: &[Message]) -> bool {
    let Some(key) = settings.openai_api_key.as_deref() else {
        tracing::warn!(
            "openai_filter_enabled is set but openai_api_key is not: prompt not moderated"
        );
        return false;
    };
    let url = format!("{}/moderations", settings.openai_base_url);
    let input: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
    let call = state
        .http
        .post(&url)
        .bearer_auth(key)
        .json(&json!({ "input": input }))
        .timeout(TIMEOUT)
        .send();
    let resp = match call.await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(
                "moderation call to {url} failed, allowing the prompt: {}",
                e.without_url()
            );
            return false;
        }
    };
    let status = resp.status();
    if !status.is_success() {
        tracing::warn!("moderation endpoint answered {status}, allowing the prompt");
        return false;
    }
    match resp.json::<Value>().await {
        Ok(v) => v["results"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|r| r["flagged"].as_bool() == Some(true))),
        Err(e) => {
            tracing::warn!(
                "moderation answer unreadable, allowing the prompt: {}",
                e.without_url()
            );
            false
        }
    }
}
