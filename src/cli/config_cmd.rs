//! `btvep config`: show every value and its source, get one, set or unset one.

use std::io::BufRead;

use anyhow::{bail, Context as _};
use clap::Subcommand;
use serde_json::{json, Map, Value};

use super::Context;
use crate::config::{self, ConfigError, ConfigFile, Kind, KEYS};
use crate::output;

fn keys_help() -> String {
    let mut s = String::from(
        "Precedence: defaults < config file < environment < flags (--set KEY=VALUE).\n\nKeys:\n",
    );
    for k in KEYS {
        s.push_str(&format!(
            "  {:<26} {} [default: {}] [env: {}]\n",
            k.name,
            k.doc,
            if k.default == "null" {
                "unset"
            } else {
                k.default.trim_matches('"')
            },
            k.env
        ));
    }
    s
}

/// Arguments of `btvep config`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = keys_help(), args_conflicts_with_subcommands = true)]
pub struct Args {
    /// What to do; without one, print every value and where it came from
    #[command(subcommand)]
    pub action: Option<Action>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// Show secrets (mnemonic, API keys) instead of ********
    #[arg(long)]
    pub reveal: bool,
}

/// `btvep config` actions.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Print one value
    Get {
        /// The config key
        key: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
        /// Show the value even if it is a secret
        #[arg(long)]
        reveal: bool,
    },
    /// Set a value in the config file (type-checked and validated)
    Set {
        /// The config key
        key: String,
        /// The value; omit it for hotkey_mnemonic to be asked (hidden input) or to read one line from stdin
        value: Option<String>,
    },
    /// Remove a value from the config file (back to its default)
    Unset {
        /// The config key
        key: String,
    },
    /// Print the config file's path
    Path,
}

/// Runs `btvep config`.
///
/// # Errors
/// Unknown keys, invalid values, an unreadable or unwritable config file.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.action {
        None => show_all(ctx, args.json, args.reveal),
        Some(Action::Get { key, json, reveal }) => {
            get(ctx, &key, json || args.json, reveal || args.reveal)
        }
        Some(Action::Set { key, value }) => set(ctx, &key, value),
        Some(Action::Unset { key }) => {
            ConfigFile::update(&ctx.paths.config_file, |file| file.set(&key, Value::Null))?;
            ctx.notify_config_changed();
            eprintln!("unset {key} in {}", ctx.paths.config_file.display());
            Ok(())
        }
        Some(Action::Path) => Ok(output::print(ctx.paths.config_file.display())?),
    }
}

fn show_all(ctx: &Context, json: bool, reveal: bool) -> anyhow::Result<()> {
    let r = ctx.resolved()?;
    if json {
        let mut m = Map::new();
        for k in KEYS {
            m.insert(
                k.name.into(),
                json!({"value": r.display_json(k.name, reveal), "source": r.source(k.name)}),
            );
        }
        return Ok(output::print_json(&m)?);
    }
    let mut t = output::table(["key", "value", "source"]);
    for k in KEYS {
        t.add_row([
            k.name.to_string(),
            r.display(k.name, reveal),
            r.source(k.name).to_string(),
        ]);
    }
    output::print(t)?;
    eprintln!("config file: {}", r.path.display());
    Ok(())
}

fn get(ctx: &Context, key: &str, json: bool, reveal: bool) -> anyhow::Result<()> {
    config::spec(key).ok_or_else(|| ConfigError::UnknownKey(key.into()))?;
    let r = ctx.resolved()?;
    if json {
        output::print_json(
            &json!({"key": key, "value": r.display_json(key, reveal), "source": r.source(key)}),
        )?;
    } else {
        output::print(r.display(key, reveal))?;
    }
    Ok(())
}

fn set(ctx: &Context, key: &str, value: Option<String>) -> anyhow::Result<()> {
    let spec = config::spec(key).ok_or_else(|| ConfigError::UnknownKey(key.into()))?;
    let text = match value {
        Some(v) => v,
        None if spec.kind == Kind::Mnemonic || spec.kind == Kind::Secret => read_secret(key)?,
        None => bail!("config set {key} needs a VALUE"),
    };
    let v = spec
        .kind
        .parse_text(&text)
        .map_err(|reason| ConfigError::Invalid {
            key: key.into(),
            reason,
        })?;
    ConfigFile::update(&ctx.paths.config_file, |file| file.set(key, v.clone()))?;
    ctx.notify_config_changed();
    let shown = if v.is_null() {
        "(unset)".to_string()
    } else if spec.kind.is_secret() {
        config::MASK.to_string()
    } else {
        match &v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    eprintln!("set {key} = {shown} in {}", ctx.paths.config_file.display());
    if super::env(spec.env).is_some() {
        eprintln!(
            "note: the environment variable {} is set and overrides the file",
            spec.env
        );
    }
    Ok(())
}

/// Asks for a secret with hidden input on a terminal, or reads one line from stdin otherwise.
fn read_secret(key: &str) -> anyhow::Result<String> {
    if output::interactive() {
        return dialoguer::Password::new()
            .with_prompt(format!("{key} (input hidden)"))
            .interact()
            .context("reading the value from the terminal");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the value from stdin")?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    if line.trim().is_empty() {
        bail!("no value for {key} on stdin");
    }
    Ok(line)
}
