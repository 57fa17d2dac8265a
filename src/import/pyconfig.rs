//! The Python btvep `config.json` mapped to btvep's config: the keys both share, checked exactly as
//! `btvep config set` checks them; the ones without a counterpart reported, never guessed.
//!
//! The Python `config set` stored every non-boolean value as the string typed, so `global_rate_limits`
//! may be a JSON list or a JSON *string* holding one; both are accepted. Secrets (the mnemonic, the
//! OpenAI key) are copied but never shown.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ImportError;
use crate::config::{self, ConfigFile};

/// Python keys that have no counterpart in btvep, and why.
const IGNORED: &[(&str, &str)] = &[
    (
        "redis_url",
        "btvep keeps rate-limit counters in process; there is no Redis",
    ),
    ("auth0_domain", "btvep has no Auth0 chat UI"),
    ("auth0_api_audience", "btvep has no Auth0 chat UI"),
    ("auth0_issuer", "btvep has no Auth0 chat UI"),
];

/// Keys whose meaning is the same in both programs.
const SHARED: &[&str] = &[
    "hotkey_mnemonic",
    "global_rate_limits",
    "openai_api_key",
    "rate_limiting_enabled",
    "openai_filter_enabled",
];

/// One config value the import sets.
#[derive(Clone, Serialize, Deserialize)]
pub struct Change {
    /// The btvep key.
    pub key: String,
    /// The value as shown (secrets masked).
    pub shown: String,
    /// The value before, as shown (secrets masked); `None` when it was not in the file.
    pub before: Option<String>,
    /// The value to store (never printed for secrets).
    #[serde(skip)]
    pub value: Value,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("key", &self.key)
            .field("shown", &self.shown)
            .finish_non_exhaustive()
    }
}

/// A Python key the import does not carry over.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ignored {
    /// The Python key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// What importing a Python `config.json` changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigPlan {
    /// The Python file.
    pub source: String,
    /// Values that differ from btvep's config file and are set.
    pub changed: Vec<Change>,
    /// Shared keys whose value is already the same.
    pub unchanged: Vec<String>,
    /// Shared keys that are null in the Python file (left as they are).
    pub not_set: Vec<String>,
    /// Keys without a counterpart.
    pub ignored: Vec<Ignored>,
}

impl ConfigPlan {
    /// Applies the changes to a loaded config file (the caller saves it).
    ///
    /// # Errors
    /// Only for a key btvep does not know, which cannot happen for the shared keys.
    pub fn apply(&self, file: &mut ConfigFile) -> Result<(), config::ConfigError> {
        for c in &self.changed {
            file.set(&c.key, c.value.clone())?;
        }
        Ok(())
    }
}

fn shown(key: &str, v: &Value) -> String {
    let secret = config::spec(key).is_some_and(|s| s.kind.is_secret());
    if secret {
        config::MASK.to_string()
    } else {
        v.to_string()
    }
}

/// Reads a Python `config.json` and works out what it changes in `current`.
///
/// # Errors
/// [`ImportError::PythonConfig`] for an unreadable file, a file that is not a JSON object, or a value
/// `btvep config set` would refuse (the message names the key, never a secret's value).
pub fn plan(path: &Path, current: &ConfigFile) -> Result<ConfigPlan, ImportError> {
    let bad = |reason: String| ImportError::PythonConfig {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let values = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(bad("not a JSON object".into())),
        Err(e) => return Err(bad(format!("not JSON: {e}"))),
    };
    let mut plan = ConfigPlan {
        source: path.display().to_string(),
        ..Default::default()
    };
    for (key, v) in &values {
        if let Some((_, reason)) = IGNORED.iter().find(|(k, _)| k == key) {
            plan.ignored.push(Ignored {
                key: key.clone(),
                reason: (*reason).into(),
            });
            continue;
        }
        if !SHARED.contains(&key.as_str()) {
            plan.ignored.push(Ignored {
                key: key.clone(),
                reason: "not a Python btvep setting btvep knows".into(),
            });
            continue;
        }
        if v.is_null() {
            plan.not_set.push(key.clone());
            continue;
        }
        let spec = config::spec(key).expect("shared keys are btvep keys");
        let invalid = |reason: String| bad(format!("invalid value for {key}: {reason}"));
        // Text goes through the same parser as `btvep config set KEY TEXT`; JSON values through its check.
        let value = match v {
            Value::String(s) => spec.kind.parse_text(s).map_err(invalid)?,
            other => {
                spec.kind.check(other).map_err(invalid)?;
                other.clone()
            }
        };
        if value.is_null() {
            plan.not_set.push(key.clone());
        } else if current.values.get(key) == Some(&value) {
            plan.unchanged.push(key.clone());
        } else {
            plan.changed.push(Change {
                key: key.clone(),
                shown: shown(key, &value),
                before: current.values.get(key).map(|b| shown(key, b)),
                value,
            });
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_as_a_json_string_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"global_rate_limits": "[{\"times\": 3, \"seconds\": 9}]", "redis_url": "redis://x", "rate_limiting_enabled": true, "openai_api_key": null}"#,
        )
        .unwrap();
        let plan = plan(&p, &ConfigFile::default()).unwrap();
        assert_eq!(plan.changed.len(), 2);
        assert_eq!(
            plan.changed[0].value,
            serde_json::json!([{"times": 3, "seconds": 9}])
        );
        assert_eq!(plan.ignored[0].key, "redis_url");
        assert_eq!(plan.not_set, vec!["openai_api_key".to_string()]);
    }
}
