//! `btvep key`: create, list, show, edit and delete API keys.

use anyhow::{bail, Context as _};
use clap::Subcommand;
use serde_json::Value;

use super::Context;
use crate::admin::{ops, Backend};
use crate::output;
use crate::store::values::{self, Credits};
use crate::store::{ApiKey, KeyPatch, NewKey};
use crate::timeparse::{self, describe_valid_until, Expiry};

/// Arguments of `btvep key`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub action: Action,
}

/// `btvep key` actions.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Create a key; the full key is printed this once and never again
    Create {
        /// A name for the key
        #[arg(short, long)]
        name: Option<String>,
        /// Expiry: -1/false (never), a unix timestamp, 2025-01-01, 'tomorrow', 'next week', 'in 10 days',
        /// 'in 1 month', 'next year', 'December 2025' (UTC, relative to today's midnight)
        #[arg(short = 'v', long, value_name = "WHEN", allow_hyphen_values = true)]
        valid_until: Option<String>,
        /// Credits; each successful miner answer costs one; -1 = unlimited
        #[arg(short, long, default_value_t = -1, allow_hyphen_values = true)]
        credits: i64,
        /// Create the key enabled (the default)
        #[arg(short, long, conflicts_with = "disable")]
        enable: bool,
        /// Create the key disabled
        #[arg(short, long)]
        disable: bool,
        /// The key's default query strategy: top_n:N, best:N or uids:A,B
        #[arg(long, value_name = "STRATEGY")]
        default_query_strategy: Option<String>,
        /// Print JSON (includes api_key)
        #[arg(long)]
        json: bool,
        /// Print only the new key
        #[arg(short, long, conflicts_with = "json")]
        quiet: bool,
    },
    /// List keys
    List {
        /// Print a JSON array
        #[arg(long)]
        json: bool,
    },
    /// Show one key
    Show {
        /// Key id or the full key
        query: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Delete a key
    Delete {
        /// Key id or the full key
        query: String,
        /// Do not ask for confirmation
        #[arg(short, long)]
        yes: bool,
        /// Print the deleted key as JSON
        #[arg(long)]
        json: bool,
    },
    /// Edit a key
    Edit {
        /// Key id or the full key
        query: String,
        /// New name ('' clears it)
        #[arg(short, long)]
        name: Option<String>,
        /// Set the request count
        #[arg(long, value_name = "N")]
        request_count: Option<u64>,
        /// Set the credits (-1 = unlimited)
        #[arg(short, long, allow_hyphen_values = true)]
        credits: Option<i64>,
        /// Enable the key
        #[arg(short, long, conflicts_with = "disable")]
        enable: bool,
        /// Disable the key
        #[arg(short, long)]
        disable: bool,
        /// New expiry (same forms as `key create`)
        #[arg(short = 'v', long, value_name = "WHEN", allow_hyphen_values = true)]
        valid_until: Option<String>,
        /// top_n:N, best:N, uids:A,B, or none to use the server's default
        #[arg(long, value_name = "STRATEGY")]
        default_query_strategy: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// Runs `btvep key`.
///
/// # Errors
/// Bad arguments, a missing key, an unusable store.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.action {
        Action::Create {
            name,
            valid_until,
            credits,
            enable: _,
            disable,
            default_query_strategy,
            json,
            quiet,
        } => {
            let credits = Credits::new(credits)?;
            let valid_until = parse_valid_until(valid_until.as_deref().unwrap_or("-1"), !quiet)?;
            let strategy = match default_query_strategy {
                Some(s) => values::parse_strategy(&s)?,
                None => None,
            };
            let backend = ctx.backend()?;
            let ops::Created { key, api_key } = backend.call(&ops::CreateKey(NewKey {
                name: name.filter(|n| !n.is_empty()),
                valid_until,
                credits,
                enabled: !disable,
                default_query_strategy: strategy,
            }))?;
            if json {
                let mut v = serde_json::to_value(&key)?;
                v["api_key"] = Value::String(api_key);
                output::print_json(&v)?;
            } else if quiet {
                output::print(&api_key)?;
            } else {
                output::print(keys_table(std::slice::from_ref(&key)))?;
                output::print(format!("api_key: {api_key}"))?;
                eprintln!("Store this key now: it is not saved and will not be shown again.");
            }
            Ok(())
        }
        Action::List { json } => {
            let keys = ctx.backend()?.call(&ops::ListKeys)?;
            if json {
                output::print_json(&keys)?;
            } else if keys.is_empty() {
                eprintln!("no API keys yet; create one with `btvep key create`");
            } else {
                output::print(keys_table(&keys))?;
            }
            Ok(())
        }
        Action::Show { query, json } => {
            let key = find(&ctx.backend()?, &query)?;
            print_key(&key, json)
        }
        Action::Delete { query, yes, json } => {
            let backend = ctx.backend()?;
            let key = find(&backend, &query)?;
            if !yes {
                if !output::interactive() {
                    bail!(
                        "refusing to delete key {} without confirmation: pass --yes",
                        key.id
                    );
                }
                let ok = dialoguer::Confirm::new()
                    .with_prompt(format!(
                        "Delete key {} ({}{})?",
                        key.id,
                        key.api_key_hint,
                        key.name
                            .as_deref()
                            .map(|n| format!(", {n}"))
                            .unwrap_or_default()
                    ))
                    .default(false)
                    .interact()
                    .context("reading the confirmation")?;
                if !ok {
                    bail!("not deleted");
                }
            }
            let deleted = backend.call(&ops::DeleteKey { id: key.id })?;
            if json {
                output::print_json(&deleted)?;
            }
            eprintln!("deleted key {} ({})", deleted.id, deleted.api_key_hint);
            Ok(())
        }
        Action::Edit {
            query,
            name,
            request_count,
            credits,
            enable,
            disable,
            valid_until,
            default_query_strategy,
            json,
        } => {
            let credits = credits.map(Credits::new).transpose()?;
            let patch = KeyPatch {
                name: name.map(|n| Some(n).filter(|n| !n.is_empty())),
                request_count,
                credits,
                enabled: if enable {
                    Some(true)
                } else if disable {
                    Some(false)
                } else {
                    None
                },
                valid_until: valid_until
                    .map(|v| parse_valid_until(&v, true))
                    .transpose()?,
                default_query_strategy: default_query_strategy
                    .map(|s| values::parse_strategy(&s))
                    .transpose()?,
                rate_limits: None,
            };
            let backend = ctx.backend()?;
            let key = find(&backend, &query)?;
            let key = edit(&backend, key.id, patch)?;
            print_key(&key, json)?;
            eprintln!("updated key {}", key.id);
            Ok(())
        }
    }
}

/// Finds a key by id or full key through the backend.
///
/// # Errors
/// When no key matches.
pub fn find(backend: &Backend, query: &str) -> anyhow::Result<ApiKey> {
    Ok(backend.call(&ops::FindKey {
        query: query.to_string(),
    })?)
}

/// Applies a patch to a key through the backend.
///
/// # Errors
/// When the key is gone or the store fails.
pub fn edit(backend: &Backend, id: u64, patch: KeyPatch) -> anyhow::Result<ApiKey> {
    Ok(backend.call(&ops::EditKey { id, patch })?)
}

fn parse_valid_until(text: &str, explain: bool) -> anyhow::Result<Expiry> {
    let today = timeparse::today();
    let e = timeparse::parse_expiry(text, today).map_err(anyhow::Error::msg)?;
    if explain && text.trim() != "-1" {
        eprintln!("valid until: {}", e.describe());
    }
    if timeparse::is_past(e, today) {
        eprintln!("warning: that date is in the past; the key is expired");
    }
    Ok(e)
}

fn print_key(key: &ApiKey, json: bool) -> anyhow::Result<()> {
    if json {
        output::print_json(key)?;
    } else {
        output::print(keys_table(std::slice::from_ref(key)))?;
    }
    Ok(())
}

/// Renders keys as a table.
pub fn keys_table(keys: &[ApiKey]) -> comfy_table::Table {
    let mut t = output::table([
        "id",
        "name",
        "key",
        "credits",
        "valid until",
        "enabled",
        "requests",
        "api requests",
        "strategy",
        "rate limits",
    ]);
    for k in keys {
        t.add_row([
            k.id.to_string(),
            k.name.clone().unwrap_or_default(),
            k.api_key_hint.clone(),
            if k.credits == -1 {
                "unlimited".into()
            } else {
                k.credits.to_string()
            },
            describe_valid_until(k.valid_until),
            if k.enabled { "yes" } else { "no" }.into(),
            k.request_count.to_string(),
            k.api_request_count.to_string(),
            k.default_query_strategy
                .clone()
                .unwrap_or_else(|| "default".into()),
            match &k.rate_limits {
                None => "global".into(),
                Some(l) if l.is_empty() => "none".into(),
                Some(l) => l
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        ]);
    }
    t
}
