//! Token counts of an answer: the miner's when it reports them, estimated otherwise.

use serde::{Deserialize, Serialize};

use super::Message;

/// Token counts (OpenAI's `usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens in the completion(s).
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
}

/// Estimated token count of a text: one token per 4 characters, rounded up (OpenAI's rule of thumb
/// for English).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Estimated usage: each message costs its text estimate plus 4 framing tokens, plus 3 to prime the
/// reply (OpenAI's published chat accounting); the completions cost their text estimates.
pub fn estimate(messages: &[Message], completions: &[&str]) -> Usage {
    let prompt: u64 = messages
        .iter()
        .map(|m| estimate_tokens(&m.content) + 4)
        .sum::<u64>()
        + 3;
    let completion: u64 = completions.iter().map(|c| estimate_tokens(c)).sum();
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
    }
}

/// A miner's reported usage, when it is a valid one.
pub fn reported(v: Option<&serde_json::Value>) -> Option<Usage> {
    crate::bittensor::http_miner::valid_usage(v).and_then(|u| serde_json::from_value(u).ok())
}
