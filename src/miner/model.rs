//! Completions: the OpenAI-compatible chat call (the seed `OpenAIMiner.prompt`) and the built-in responder.

use std::time::Duration;

use serde_json::{json, Value};

use super::{MinerError, ModelBackend, OpenAiSettings, BUILTIN_LABEL};

/// Largest model-server answer read (larger ones are an error, not an allocation).
pub const MAX_MODEL_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Why no completion was produced. The `Display` text is sent to the caller, so it never contains the API key or the
/// model server's raw error body (that goes to the log via [`ModelError::detail`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The request had no (role, message) pairs to send.
    #[error("the request has no messages")]
    NoMessages,
    /// The model server answered with a non-success HTTP status.
    #[error("model server error: HTTP {status}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The server's error text (truncated), for the log only.
        detail: String,
    },
    /// The model server did not answer in time.
    #[error("model server timed out after {0:.2}s")]
    Timeout(f64),
    /// Connection refused, reset, DNS, TLS …
    #[error("model server unreachable: {0}")]
    Transport(String),
    /// The answer was not a chat completion.
    #[error("model server answer unusable: {0}")]
    Unparsable(String),
    /// `choices[0].message.content` was empty.
    #[error("model server returned an empty completion")]
    Empty,
}

impl ModelError {
    /// Extra detail for the log (the server's own error message), empty when there is none.
    pub fn detail(&self) -> &str {
        match self {
            ModelError::Status { detail, .. } => detail,
            _ => "",
        }
    }
}

/// `roles`/`messages` as OpenAI chat messages `[{role, content}]`, paired like Python's `zip` (extra entries of the
/// longer list are dropped).
pub fn chat_messages(roles: &[String], messages: &[String]) -> Vec<Value> {
    roles
        .iter()
        .zip(messages)
        .map(|(role, content)| json!({ "role": role, "content": content }))
        .collect()
}

/// The built-in responder's answer: [`BUILTIN_LABEL`] and an echo of the last message.
pub fn builtin_answer(messages: &[String]) -> String {
    match messages.last() {
        Some(m) => format!("{BUILTIN_LABEL} You said: {m}"),
        None => format!("{BUILTIN_LABEL} You said nothing."),
    }
}

/// The chat-completions request body for `settings`.
pub fn request_body(settings: &OpenAiSettings, roles: &[String], messages: &[String]) -> Value {
    json!({
        "model": settings.model_name,
        "messages": chat_messages(roles, messages),
        "max_tokens": settings.max_tokens,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "n": settings.n,
        "presence_penalty": settings.presence_penalty,
        "frequency_penalty": settings.frequency_penalty,
    })
}

/// A backend ready to answer (holds the pooled HTTP client).
#[derive(Debug)]
pub struct Model {
    backend: ModelBackend,
    client: reqwest::Client,
    url: String,
}

impl Model {
    /// Prepare `backend`.
    ///
    /// # Errors
    /// [`MinerError::Settings`] for a base URL that is not http(s); [`MinerError::Client`] if the client fails.
    pub fn new(backend: ModelBackend) -> Result<Self, MinerError> {
        let mut local = false;
        let mut url = String::new();
        if let ModelBackend::OpenAi(o) = &backend {
            let base = o.base_url.trim_end_matches('/');
            if !(base.starts_with("http://") || base.starts_with("https://"))
                || reqwest::Url::parse(base).is_err()
            {
                return Err(MinerError::Settings(format!(
                    "--openai.base_url must be an http:// or https:// URL, got '{}'",
                    o.base_url
                )));
            }
            url = format!("{base}/chat/completions");
            // A proxy from the environment must not intercept a model server on this machine.
            local = super::is_local_base_url(base);
        }
        let client = crate::tls::build_client(|b| {
            let b = b
                .connect_timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(60));
            if local {
                b.no_proxy()
            } else {
                b
            }
        })
        .map_err(|e| MinerError::Client(e.to_string()))?;
        Ok(Self {
            backend,
            client,
            url,
        })
    }

    /// The backend.
    pub fn backend(&self) -> &ModelBackend {
        &self.backend
    }

    /// A completion for the conversation, within `budget`.
    ///
    /// # Errors
    /// [`ModelError`]: no messages, HTTP error status, timeout, transport failure, unusable or empty answer.
    pub async fn complete(
        &self,
        roles: &[String],
        messages: &[String],
        budget: Duration,
    ) -> Result<String, ModelError> {
        let o = match &self.backend {
            ModelBackend::Builtin => return Ok(builtin_answer(messages)),
            ModelBackend::OpenAi(o) => o,
        };
        if roles.is_empty() || messages.is_empty() {
            return Err(ModelError::NoMessages);
        }
        let body = request_body(o, roles, messages);
        let call = async {
            let mut req = self.client.post(&self.url).json(&body);
            if let Some(key) = &o.api_key {
                req = req.bearer_auth(key);
            }
            let mut resp = req
                .send()
                .await
                .map_err(|e| ModelError::Transport(transport_text(e)))?;
            let status = resp.status();
            let mut bytes = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| ModelError::Transport(transport_text(e)))?
            {
                if bytes.len() + chunk.len() > MAX_MODEL_RESPONSE_BYTES {
                    return Err(ModelError::Unparsable(format!(
                        "answer larger than {MAX_MODEL_RESPONSE_BYTES} bytes"
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(budget, call)
            .await
            .map_err(|_| ModelError::Timeout(budget.as_secs_f64()))??;
        if !status.is_success() {
            return Err(ModelError::Status {
                status: status.as_u16(),
                detail: error_detail(&bytes),
            });
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ModelError::Unparsable(format!("not JSON ({e})")))?;
        let content = v
            .pointer("/choices/0/message/content")
            .ok_or_else(|| ModelError::Unparsable("no choices[0].message.content".into()))?;
        let text = match content {
            Value::String(s) => s.as_str(),
            Value::Null => "",
            _ => {
                return Err(ModelError::Unparsable(
                    "choices[0].message.content is not a string".into(),
                ))
            }
        };
        if text.trim().is_empty() {
            return Err(ModelError::Empty);
        }
        Ok(match &o.suffix {
            Some(suffix) => format!("{text}{suffix}"),
            None => text.to_string(),
        })
    }
}

/// A short transport failure text for callers and logs: the kind and the root cause ("connection refused"), without
/// the URL (the model server's address is the operator's business).
fn transport_text(e: reqwest::Error) -> String {
    let e = e.without_url();
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "broken answer"
    } else {
        "request failed"
    };
    let mut root: &dyn std::error::Error = &e;
    while let Some(s) = root.source() {
        root = s;
    }
    format!("{kind}: {root}")
}

/// The server's own error message (`{"error": {"message": …}}` or the raw text), truncated for the log.
fn error_detail(bytes: &[u8]) -> String {
    let text = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .or_else(|| v.get("detail"))
                .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_and_builtin() {
        let roles = vec![
            "system".to_string(),
            "user".to_string(),
            "extra".to_string(),
        ];
        let messages = vec!["Be brief.".to_string(), "Hi".to_string()];
        assert_eq!(
            chat_messages(&roles, &messages),
            vec![
                json!({"role":"system","content":"Be brief."}),
                json!({"role":"user","content":"Hi"})
            ]
        );
        let body = request_body(&OpenAiSettings::default(), &roles, &messages);
        assert_eq!(body["model"], "gpt-3.5-turbo");
        assert_eq!(body["max_tokens"], 100);
        assert_eq!(body["n"], 1);
        assert!(builtin_answer(&messages).starts_with(BUILTIN_LABEL));
        assert!(builtin_answer(&messages).ends_with("You said: Hi"));
        assert_eq!(
            error_detail(br#"{"error":{"message":"boom"}}"#),
            "boom".to_string()
        );
    }
}
