//! Resolution: every key's value from defaults < file < environment < flags, and where it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::{parse_rate_limits, spec, ConfigError, ConfigFile, RateLimit, KEYS, MASK};
use crate::bittensor::strategy::QueryStrategy;

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The built-in default.
    Default,
    /// `config.json`.
    File,
    /// An environment variable.
    Env,
    /// A command-line flag.
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Default => "default",
            Source::File => "file",
            Source::Env => "env",
            Source::Flag => "flag",
        })
    }
}

/// A fully resolved configuration: every key's value and source.
#[derive(Clone)]
pub struct Resolved {
    values: BTreeMap<&'static str, (Value, Source)>,
    /// The config file path the values were read from.
    pub path: PathBuf,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for spec in KEYS {
            m.entry(&spec.name, &self.display(spec.name, false));
        }
        m.finish()
    }
}

impl Resolved {
    /// Resolves every key: defaults < `file` < `env` < `flags`.
    ///
    /// `env` is a lookup function (the process environment in production, a map in tests);
    /// `flags` are `(key, text)` pairs from the command line.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the file key or environment variable whose value is bad,
    /// [`ConfigError::UnknownKey`] for an unknown flag key.
    pub fn resolve(
        file: &ConfigFile,
        env: impl Fn(&str) -> Option<String>,
        flags: &[(String, String)],
    ) -> Result<Self, ConfigError> {
        let mut values = BTreeMap::new();
        for spec in KEYS {
            let default: Value =
                serde_json::from_str(spec.default).expect("defaults are valid JSON");
            let mut entry = (default, Source::Default);
            if let Some(v) = file.values.get(spec.name) {
                spec.kind.check(v).map_err(|reason| ConfigError::Invalid {
                    key: format!("{} in {}", spec.name, file.path.display()),
                    reason,
                })?;
                entry = (v.clone(), Source::File);
            }
            if let Some(text) = env(spec.env) {
                let v = spec
                    .kind
                    .parse_text(&text)
                    .map_err(|reason| ConfigError::Invalid {
                        key: format!("{} (environment variable {})", spec.name, spec.env),
                        reason,
                    })?;
                entry = (v, Source::Env);
            }
            values.insert(spec.name, entry);
        }
        for (key, text) in flags {
            let spec = spec(key).ok_or_else(|| ConfigError::UnknownKey(key.clone()))?;
            let v = spec
                .kind
                .parse_text(text)
                .map_err(|reason| ConfigError::Invalid {
                    key: key.clone(),
                    reason,
                })?;
            values.insert(spec.name, (v, Source::Flag));
        }
        Ok(Resolved {
            values,
            path: file.path.clone(),
        })
    }

    /// The value of a key (JSON `null` when unset).
    ///
    /// # Panics
    /// When `key` is not in [`KEYS`] (a programming error).
    pub fn get(&self, key: &str) -> &Value {
        &self
            .values
            .get(key)
            .unwrap_or_else(|| panic!("unknown config key {key}"))
            .0
    }

    /// Where a key's value came from.
    pub fn source(&self, key: &str) -> Source {
        self.values.get(key).map(|e| e.1).unwrap_or(Source::Default)
    }

    /// A string value, or `None` when unset.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).as_str()
    }

    /// A boolean value (`false` when unset).
    pub fn bool(&self, key: &str) -> bool {
        self.get(key).as_bool().unwrap_or(false)
    }

    /// An integer value (0 when unset).
    pub fn int(&self, key: &str) -> i64 {
        self.get(key).as_i64().unwrap_or(0)
    }

    /// The global rate limits.
    pub fn global_rate_limits(&self) -> Vec<RateLimit> {
        parse_rate_limits(self.get("global_rate_limits")).unwrap_or_default()
    }

    /// The configured default query strategy.
    pub fn default_query_strategy(&self) -> QueryStrategy {
        self.str("default_query_strategy")
            .and_then(|s| s.parse().ok())
            .unwrap_or(QueryStrategy::Uids(vec![0]))
    }

    /// The value as text for display: secrets masked unless `reveal`, strings unquoted, unset as empty.
    pub fn display(&self, key: &str, reveal: bool) -> String {
        let v = self.get(key);
        match v {
            Value::Null => String::new(),
            _ if !reveal && spec(key).is_some_and(|s| s.kind.is_secret()) => MASK.to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// The value as JSON for `--json` output: secrets masked unless `reveal`.
    pub fn display_json(&self, key: &str, reveal: bool) -> Value {
        let v = self.get(key);
        if !reveal && !v.is_null() && spec(key).is_some_and(|s| s.kind.is_secret()) {
            Value::String(MASK.into())
        } else {
            v.clone()
        }
    }
}
