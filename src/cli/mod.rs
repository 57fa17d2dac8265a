//! The `btvep` command line: the clap definition and dispatch. Each sub-command lives in its own module
//! with its own argument struct and `run`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::admin::Backend;
use crate::config::{ConfigFile, Resolved};
use crate::paths::Paths;

pub mod backup;
pub mod completions;
pub mod config_cmd;
pub mod docs;
pub mod import;
pub mod key;
pub mod logs;
pub mod metagraph;
pub mod miner;
pub mod miners;
pub mod ratelimit;
pub mod start;

/// btvep — the Bittensor Validator Endpoint: sell API access to a Bittensor subnet.
#[derive(Debug, Parser)]
#[command(name = "btvep", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Config file to use [env: BTVEP_CONFIG] [default: the platform config dir's btvep/config.json]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Override a config value for this invocation (highest precedence); repeatable
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// The sub-command.
    #[command(subcommand)]
    pub command: Command,
}

/// btvep's sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show or change configuration (config.json)
    Config(config_cmd::Args),
    /// Create, list, edit and delete API keys
    Key(key::Args),
    /// Show and change rate limits (global or per key)
    Ratelimit(ratelimit::Args),
    /// Show the request log
    Logs(logs::Args),
    /// Import a Python btvep database (keys, credits, history) and config
    Import(import::Args),
    /// Run the API server
    Start(start::Args),
    /// Show the subnet's miners (uid, hotkey, axon, incentive, stake)
    Metagraph(metagraph::Args),
    /// Run a Prompting miner (axon) backed by an OpenAI-compatible model server
    Miner(Box<miner::Args>),
    /// Show the gateway's view of every miner it asked: state, success rate, latency, last failure
    Miners(miners::Args),
    /// Write a consistent backup of keys, balances, counters and miner health (and optionally the log) to a file
    Backup(backup::BackupArgs),
    /// Load a backup into an empty data dir (the server must be stopped)
    Restore(backup::RestoreArgs),
    /// Print a shell completion script
    Completions(completions::Args),
}

/// What every sub-command gets: where state lives and the command-line config overrides.
#[derive(Debug)]
pub struct Context {
    /// Config file and data directory.
    pub paths: Paths,
    /// `--set KEY=VALUE` pairs.
    pub flags: Vec<(String, String)>,
}

impl Context {
    /// Builds the context from parsed global flags and the process environment.
    ///
    /// # Errors
    /// A malformed `--set`, or no home directory for the defaults.
    pub fn new(cli: &Cli) -> anyhow::Result<Self> {
        let paths = Paths::resolve(cli.config.clone(), cli.data_dir.clone(), env)?;
        let flags = cli
            .set
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                    .with_context(|| format!("--set expects KEY=VALUE, got '{kv}'"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Context { paths, flags })
    }

    /// Reads the config file.
    ///
    /// # Errors
    /// A corrupt or unreadable file (the message names it).
    pub fn config_file(&self) -> anyhow::Result<ConfigFile> {
        Ok(ConfigFile::load(&self.paths.config_file)?)
    }

    /// Resolves the configuration (defaults < file < env < flags).
    ///
    /// # Errors
    /// As [`Context::config_file`], or an invalid value.
    pub fn resolved(&self) -> anyhow::Result<Resolved> {
        Ok(Resolved::resolve(&self.config_file()?, env, &self.flags)?)
    }

    /// Opens the store, directly or through a running server.
    ///
    /// # Errors
    /// When neither works.
    pub fn backend(&self) -> anyhow::Result<Backend> {
        Ok(Backend::open(
            &self.paths.data_dir,
            &self.paths.admin_socket(),
        )?)
    }

    /// Tells a running server (if any) that the config file changed. Best effort.
    pub fn notify_config_changed(&self) {
        let socket = self.paths.admin_socket();
        if socket.exists() {
            let _ = Backend::Remote(socket).call(&crate::admin::ops::ConfigChanged);
        }
    }
}

/// Reads a variable from the process environment (empty counts as unset).
pub fn env(name: &str) -> Option<String> {
    crate::config::process_env(name)
}

/// Runs the parsed command line.
///
/// # Errors
/// Any failure, as one message chain for `main` to print.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions(args) = &cli.command {
        return completions::run(args);
    }
    let ctx = Context::new(&cli)?;
    match cli.command {
        Command::Config(args) => config_cmd::run(&ctx, args),
        Command::Key(args) => key::run(&ctx, args),
        Command::Ratelimit(args) => ratelimit::run(&ctx, args),
        Command::Logs(args) => logs::run(&ctx, args),
        Command::Import(args) => import::run(&ctx, args),
        Command::Start(args) => start::run(&ctx, args),
        Command::Metagraph(args) => metagraph::run(&ctx, args),
        Command::Miner(args) => miner::run(&ctx, *args),
        Command::Miners(args) => miners::run(&ctx, args),
        Command::Backup(args) => backup::backup(&ctx, args),
        Command::Restore(args) => backup::restore(&ctx, args),
        Command::Completions(_) => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
