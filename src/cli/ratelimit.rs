//! `btvep ratelimit`: the global limits (in config.json) and per-key limits (in the key record).
//! A key's own list replaces the global list; the limiter itself runs in the server.

use anyhow::bail;
use clap::Subcommand;
use serde_json::{json, Value};

use super::key::{edit, find};
use super::Context;
use crate::config::{ConfigFile, RateLimit, Source};
use crate::output;
use crate::store::KeyPatch;

/// Arguments of `btvep ratelimit`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// What to do; without one, show the limits
    #[command(subcommand)]
    pub action: Option<Action>,
    /// With no action: show this key's limits (id or full key)
    #[arg(short, long, value_name = "KEY")]
    pub key: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// `btvep ratelimit` actions.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Show the limits in force (global, or a key's)
    Show {
        /// A key's limits (id or full key)
        #[arg(short, long, value_name = "KEY")]
        key: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Add a window: at most TIMES requests per SECONDS
    Add {
        /// Requests allowed in the window
        times: u32,
        /// Window length in seconds
        seconds: u32,
        /// Add to this key's own limits instead of the global ones
        #[arg(short, long, value_name = "KEY")]
        key: Option<String>,
    },
    /// Delete the window at INDEX (as shown by `ratelimit show`)
    Delete {
        /// Index of the window
        index: usize,
        /// Delete from this key's own limits
        #[arg(short, long, value_name = "KEY")]
        key: Option<String>,
    },
    /// Remove a key's own limits so the global ones apply again
    Clear {
        /// The key (id or full key)
        #[arg(short, long, value_name = "KEY")]
        key: String,
    },
    /// Turn rate limiting on
    Enable,
    /// Turn rate limiting off
    Disable,
    /// Say whether rate limiting is on and which global limits apply
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// Runs `btvep ratelimit`.
///
/// # Errors
/// Bad arguments, a missing key, an unusable config file or store.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.action {
        None => show(ctx, args.key.as_deref(), args.json),
        Some(Action::Show { key, json }) => show(
            ctx,
            key.as_deref().or(args.key.as_deref()),
            json || args.json,
        ),
        Some(Action::Add {
            times,
            seconds,
            key,
        }) => {
            if times == 0 || seconds == 0 {
                bail!("TIMES and SECONDS must be at least 1");
            }
            let new = RateLimit { times, seconds };
            change(ctx, key.as_deref(), |limits| {
                limits.push(new);
                Ok(format!("added {new}"))
            })
        }
        Some(Action::Delete { index, key }) => change(ctx, key.as_deref(), |limits| {
            if index >= limits.len() {
                bail!(
                    "no rate limit at index {index} (there are {})",
                    limits.len()
                );
            }
            let gone = limits.remove(index);
            Ok(format!("deleted {gone}"))
        }),
        Some(Action::Clear { key }) => {
            let backend = ctx.backend()?;
            let k = find(&backend, &key)?;
            edit(
                &backend,
                k.id,
                KeyPatch {
                    rate_limits: Some(None),
                    ..Default::default()
                },
            )?;
            eprintln!("key {} now uses the global rate limits", k.id);
            Ok(())
        }
        Some(Action::Enable) => set_enabled(ctx, true),
        Some(Action::Disable) => set_enabled(ctx, false),
        Some(Action::Status { json }) => {
            let r = ctx.resolved()?;
            let c = crate::config::Config::from_resolved(&r);
            let (enabled, limits) = (c.rate_limiting_enabled, c.global_rate_limits);
            if json || args.json {
                output::print_json(&json!({"enabled": enabled, "global_rate_limits": limits}))?;
            } else {
                output::print(format!(
                    "rate limiting is {} ({}); global limits: {}",
                    if enabled { "enabled" } else { "disabled" },
                    r.source("rate_limiting_enabled"),
                    describe(&limits)
                ))?;
            }
            Ok(())
        }
    }
}

fn describe(limits: &[RateLimit]) -> String {
    if limits.is_empty() {
        "none".into()
    } else {
        limits
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn show(ctx: &Context, key: Option<&str>, json: bool) -> anyhow::Result<()> {
    let c = crate::config::Config::from_resolved(&ctx.resolved()?);
    let (scope, limits) = match key {
        Some(q) => {
            let k = find(&ctx.backend()?, q)?;
            match k.rate_limits {
                Some(l) => (format!("key {}", k.id), l),
                None => (
                    format!("key {} (uses the global limits)", k.id),
                    c.global_rate_limits.clone(),
                ),
            }
        }
        None => ("global".to_string(), c.global_rate_limits.clone()),
    };
    if json {
        output::print_json(
            &json!({"scope": scope, "enabled": c.rate_limiting_enabled, "rate_limits": limits}),
        )?;
        return Ok(());
    }
    let mut t = output::table(["index", "times", "seconds"]);
    for (i, l) in limits.iter().enumerate() {
        t.add_row([i.to_string(), l.times.to_string(), l.seconds.to_string()]);
    }
    output::print(t)?;
    eprintln!(
        "{scope}; rate limiting is {}",
        if c.rate_limiting_enabled {
            "enabled"
        } else {
            "disabled"
        }
    );
    Ok(())
}

/// Edits a list of limits (a key's own, or the global one in the config file) with `f`.
fn change(
    ctx: &Context,
    key: Option<&str>,
    f: impl FnOnce(&mut Vec<RateLimit>) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    match key {
        Some(q) => {
            let backend = ctx.backend()?;
            let k = find(&backend, q)?;
            let mut limits = k.rate_limits.clone().unwrap_or_default();
            let what = f(&mut limits)?;
            let empty = limits.is_empty();
            edit(
                &backend,
                k.id,
                KeyPatch {
                    rate_limits: Some(Some(limits).filter(|l| !l.is_empty())),
                    ..Default::default()
                },
            )?;
            eprintln!("{what} for key {}", k.id);
            if empty {
                eprintln!(
                    "key {} has no limits of its own now and uses the global ones",
                    k.id
                );
            }
        }
        None => {
            let r = ctx.resolved()?;
            let (what, limits) = ConfigFile::update(&ctx.paths.config_file, |file| {
                let mut limits = match file.values.get("global_rate_limits") {
                    Some(v) => crate::config::parse_rate_limits(v).map_err(anyhow::Error::msg)?,
                    None => Vec::new(),
                };
                let what = f(&mut limits)?;
                file.set("global_rate_limits", serde_json::to_value(&limits)?)?;
                Ok::<_, anyhow::Error>((what, limits))
            })?;
            ctx.notify_config_changed();
            eprintln!("{what} (global limits now: {})", describe(&limits));
            if r.source("global_rate_limits") == Source::Env {
                eprintln!(
                    "note: GLOBAL_RATE_LIMITS is set in the environment and overrides the file"
                );
            }
        }
    }
    Ok(())
}

fn set_enabled(ctx: &Context, on: bool) -> anyhow::Result<()> {
    ConfigFile::update(&ctx.paths.config_file, |file| {
        file.set("rate_limiting_enabled", Value::Bool(on))
    })?;
    ctx.notify_config_changed();
    eprintln!("rate limiting {}", if on { "enabled" } else { "disabled" });
    if super::env("RATE_LIMITING_ENABLED").is_some() {
        eprintln!("note: RATE_LIMITING_ENABLED is set in the environment and overrides the file");
    }
    Ok(())
}
