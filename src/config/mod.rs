//! Configuration: the key registry, layered resolution and the atomic `config.json` writer.
//!
//! # Precedence
//! Every value is resolved as **defaults < file < environment < flags**: the built-in default, then
//! `config.json`, then the key's environment variable (btvep's names where btvep had one, e.g.
//! `HOTKEY_MNEMONIC`, otherwise `BTVEP_<KEY>`), then command-line flags (`--set KEY=VALUE`, or a
//! sub-command's own flag such as `start --port`). [`Resolved::source`] tells where each value came from.
//!
//! The file keeps the Python btvep's key names, so an existing btvep `config.json` can be copied over.
//! Because it holds the hotkey mnemonic it is written atomically with mode 0600, and every change is a
//! locked read-modify-write ([`ConfigFile::update`]), so concurrent writers never lose each other's changes.

use std::path::PathBuf;

mod file;
mod registry;
mod resolve;
mod typed;
pub use file::ConfigFile;
pub use registry::{
    check_mnemonic, key_names, parse_rate_limits, spec, KeySpec, Kind, RateLimit, KEYS,
};
pub use resolve::{Resolved, Source};
pub use typed::{Config, HotkeySource};

/// Reads a variable from the process environment (empty counts as unset): the `env` lookup that
/// [`Resolved::resolve`] gets outside tests.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The string shown in place of a secret value.
pub const MASK: &str = "********";

/// Errors of the configuration layer.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The key is not one btvep knows.
    #[error("unknown config key '{0}'; valid keys: {names}", names = key_names())]
    UnknownKey(String),
    /// A value failed its kind's check; the message never contains the value of a secret.
    #[error("invalid value for {key}: {reason}")]
    Invalid {
        /// The key (or `ENV_VAR (key)`).
        key: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The config file exists but is not a JSON object.
    #[error("config file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// Reading or writing the file failed.
    #[error("config file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Masks a secret for logs: `None`/empty stay as they are, anything else becomes [`MASK`].
pub fn mask(secret: Option<&str>) -> &'static str {
    match secret {
        Some(s) if !s.is_empty() => MASK,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn file(values: Value) -> ConfigFile {
        ConfigFile {
            path: "config.json".into(),
            values: values.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn precedence_is_default_file_env_flag() {
        let f = file(json!({"netuid": 3, "miner_timeout": 20, "port": 9000}));
        let env = |name: &str| match name {
            "BTVEP_MINER_TIMEOUT" => Some("30".to_string()),
            "BTVEP_PORT" => Some("9100".to_string()),
            _ => None,
        };
        let flags = vec![("port".to_string(), "9200".to_string())];
        let r = Resolved::resolve(&f, env, &flags).unwrap();
        assert_eq!(
            (
                r.int("metagraph_refresh_seconds"),
                r.source("metagraph_refresh_seconds")
            ),
            (60, Source::Default)
        );
        assert_eq!((r.int("netuid"), r.source("netuid")), (3, Source::File));
        assert_eq!(
            (r.int("miner_timeout"), r.source("miner_timeout")),
            (30, Source::Env)
        );
        assert_eq!((r.int("port"), r.source("port")), (9200, Source::Flag));
    }

    #[test]
    fn btvep_env_names_are_honoured() {
        let env = |name: &str| match name {
            "RATE_LIMITING_ENABLED" => Some("true".to_string()),
            "GLOBAL_RATE_LIMITS" => Some(r#"[{"times": 5, "seconds": 60}]"#.to_string()),
            _ => None,
        };
        let r = Resolved::resolve(&ConfigFile::default(), env, &[]).unwrap();
        assert!(r.bool("rate_limiting_enabled"));
        assert_eq!(
            r.global_rate_limits(),
            vec![RateLimit {
                times: 5,
                seconds: 60
            }]
        );
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let env = |name: &str| (name == "RATE_LIMITING_ENABLED").then(|| "maybe".to_string());
        let err = Resolved::resolve(&ConfigFile::default(), env, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("RATE_LIMITING_ENABLED"), "{err}");
    }

    #[test]
    fn mnemonic_checks() {
        assert!(check_mnemonic(
            "pact photo material cake neck asset home broken decade jealous piece pistol"
        )
        .is_ok());
        let bad = check_mnemonic(
            "pact photo material cake neck asset home broken decade jealous piece piece",
        )
        .unwrap_err();
        assert!(bad.contains("checksum"), "{bad}");
        assert!(check_mnemonic("pact photo").unwrap_err().contains("has 2"));
    }

    #[test]
    fn secrets_are_masked() {
        let f = file(json!({"openai_api_key": "sk-123"}));
        let r = Resolved::resolve(&f, |_| None, &[]).unwrap();
        assert_eq!(r.display("openai_api_key", false), MASK);
        assert_eq!(r.display("openai_api_key", true), "sk-123");
        assert!(!format!("{r:?}").contains("sk-123"));
    }
}
