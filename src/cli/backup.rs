//! `btvep backup FILE` and `btvep restore FILE`: a consistent snapshot of keys, balances, limits,
//! counters and miner health (and optionally the request log) as one JSON Lines file, and loading one
//! into a data dir.
//!
//! A backup works while `btvep start` runs (the server writes the file, without stopping); a restore
//! needs the database to itself, and an empty one unless `--force`.

use std::path::PathBuf;

use anyhow::{bail, Context as _};

use super::Context;
use crate::admin::ops;
use crate::store::{Store, StoreError};

/// `btvep backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The file to write (must not exist; created with mode 0600)
    pub file: PathBuf,
    /// Include the request log (prompts and answers); without it only keys, balances, counters and miner health
    #[arg(long)]
    pub with_logs: bool,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

/// `btvep restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A file written by `btvep backup`
    pub file: PathBuf,
    /// Restore into a data dir that already holds keys or logs (they are replaced)
    #[arg(long)]
    pub force: bool,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs `btvep backup`.
///
/// # Errors
/// An existing or unwritable file, or a store that cannot be read.
pub fn backup(ctx: &Context, args: BackupArgs) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("the current directory")?;
    let path = cwd.join(&args.file);
    let summary = ctx.backend()?.call(&ops::Backup {
        path: path.clone(),
        with_logs: args.with_logs,
    })?;
    if args.json {
        crate::output::print_json(&summary)?;
    } else {
        eprintln!(
            "wrote {}: {} keys, {} miners' health{}",
            path.display(),
            summary.keys,
            summary.miners,
            if args.with_logs {
                format!(", {} log records", summary.logs)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// Runs `btvep restore`.
///
/// # Errors
/// A running server, a non-empty data dir without `--force`, or a file that is not a complete backup.
pub fn restore(ctx: &Context, args: RestoreArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let store = match Store::open(&ctx.paths.data_dir) {
        Ok(s) => s,
        Err(StoreError::Locked(_)) => bail!(
            "a running btvep holds the database in {}: stop it before restoring",
            ctx.paths.data_dir.display()
        ),
        Err(e) => return Err(e.into()),
    };
    if !store.is_empty() && !args.force {
        bail!(
            "the data dir {} already holds keys or logs: restore into an empty one, or pass --force to replace them",
            ctx.paths.data_dir.display()
        );
    }
    let summary = store
        .restore_backup(std::io::BufReader::new(file))
        .with_context(|| format!("{} was not restored", args.file.display()))?;
    if args.json {
        crate::output::print_json(&summary)?;
    } else {
        eprintln!(
            "restored {} keys, {} miners' health and {} log records into {}",
            summary.keys,
            summary.miners,
            summary.logs,
            ctx.paths.data_dir.display()
        );
    }
    Ok(())
}
