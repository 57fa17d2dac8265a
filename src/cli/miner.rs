//! `btvep miner`: run a `Prompting` miner (axon) backed by an OpenAI-compatible model server (or the built-in
//! responder). Option names follow the seed `OpenAIMiner.add_args` and the base miner (`--openai.*`, `--axon.*`,
//! `--miner.blacklist.*`, `--wallet.*`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};

use super::{env, Context};
use crate::bittensor::keys::{self, Hotkey};
use crate::bittensor::metagraph::MetagraphSource;
use crate::miner::{
    self, BlacklistSettings, MetagraphCell, MinerProtocol, MinerSettings, ModelBackend,
    OpenAiSettings,
};

/// Environment variable holding the OpenAI API key.
pub const OPENAI_API_KEY_ENV: &str = "OPENAI_API_KEY";
/// Default environment variable holding the miner hotkey mnemonic.
pub const MNEMONIC_ENV: &str = "MINER_HOTKEY_MNEMONIC";

/// Arguments of `btvep miner`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Text appended to every completion
    #[arg(long = "openai.suffix", value_name = "TEXT")]
    pub suffix: Option<String>,
    /// The maximum number of tokens to generate in the completion
    #[arg(long = "openai.max_tokens", default_value_t = 100, value_name = "N")]
    pub max_tokens: u32,
    /// Sampling temperature to use, between 0 and 2
    #[arg(long = "openai.temperature", default_value_t = 0.4, value_name = "T")]
    pub temperature: f64,
    /// Nucleus sampling parameter, top_p probability mass
    #[arg(long = "openai.top_p", default_value_t = 1.0, value_name = "P")]
    pub top_p: f64,
    /// How many completions to generate for each prompt (the first one is returned)
    #[arg(long = "openai.n", default_value_t = 1, value_name = "N")]
    pub n: u32,
    /// Penalty for tokens based on their presence in the text so far
    #[arg(
        long = "openai.presence_penalty",
        default_value_t = 0.1,
        value_name = "X",
        allow_hyphen_values = true
    )]
    pub presence_penalty: f64,
    /// Penalty for tokens based on their frequency in the text so far
    #[arg(
        long = "openai.frequency_penalty",
        default_value_t = 0.1,
        value_name = "X",
        allow_hyphen_values = true
    )]
    pub frequency_penalty: f64,
    /// OpenAI model to use for completion
    #[arg(
        long = "openai.model_name",
        default_value = "gpt-3.5-turbo",
        value_name = "MODEL"
    )]
    pub model_name: String,
    /// Base URL of the OpenAI-compatible API (OpenAI, vLLM, llama.cpp server, Ollama …); the API key comes from
    /// OPENAI_API_KEY (optional when the URL is on this machine)
    #[arg(
        long = "openai.base_url",
        default_value = "https://api.openai.com/v1",
        value_name = "URL"
    )]
    pub base_url: String,
    /// Answer with the built-in responder (labelled, not a language model) instead of calling a model server
    #[arg(long)]
    pub builtin: bool,
    /// Port the axon listens on (0 = any free port; the address is printed)
    #[arg(long = "axon.port", default_value_t = 8091, value_name = "PORT")]
    pub axon_port: u16,
    /// Address the axon listens on (127.0.0.1 for local only)
    #[arg(long = "axon.ip", default_value = "0.0.0.0", value_name = "IP")]
    pub axon_ip: String,
    /// Subnet whose metagraph decides who may call [default: config netuid]
    #[arg(long)]
    pub netuid: Option<u16>,
    /// Subtensor network for the metagraph: finney, test, local, or a ws:// / wss:// URL [default: config
    /// subtensor_network]
    #[arg(long = "subtensor.network", value_name = "NETWORK")]
    pub subtensor_network: Option<String>,
    /// Read the metagraph from this JSON file instead of a subtensor node [default: config metagraph_file]
    #[arg(long = "metagraph-file", value_name = "FILE")]
    pub metagraph_file: Option<PathBuf>,
    /// Wallet name holding the miner hotkey
    #[arg(long = "wallet.name", value_name = "NAME")]
    pub wallet_name: Option<String>,
    /// Hotkey name inside the wallet
    #[arg(long = "wallet.hotkey", default_value = "default", value_name = "NAME")]
    pub wallet_hotkey: String,
    /// Directory holding wallets [default: config wallet_path]
    #[arg(long = "wallet.path", value_name = "DIR")]
    pub wallet_path: Option<String>,
    /// Environment variable holding the miner hotkey mnemonic (used when --wallet.name is not given)
    #[arg(long = "mnemonic-env", default_value = MNEMONIC_ENV, value_name = "VAR")]
    pub mnemonic_env: String,
    /// Hotkeys always allowed to call
    #[arg(long = "miner.blacklist.whitelist", num_args = 1.., value_name = "HOTKEY")]
    pub whitelist: Vec<String>,
    /// Hotkeys never allowed to call
    #[arg(long = "miner.blacklist.blacklist", num_args = 1.., value_name = "HOTKEY")]
    pub blacklist: Vec<String>,
    /// Allow callers that are not registered on the subnet
    #[arg(long = "miner.blacklist.allow_non_registered")]
    pub allow_non_registered: bool,
    /// Only allow callers holding a validator permit
    #[arg(long = "miner.blacklist.force_validator_permit")]
    pub force_validator_permit: bool,
    /// Minimum caller stake in TAO
    #[arg(
        long = "miner.blacklist.minimum_stake_requirement",
        default_value_t = 0.0,
        value_name = "TAO"
    )]
    pub minimum_stake_requirement: f64,
    /// Model calls in flight at most; further callers wait, higher stake first
    #[arg(long = "miner.max_concurrency", default_value_t = 16, value_name = "N")]
    pub max_concurrency: usize,
    /// Protocol to serve: synapse (POST /Prompting, bittensor 6–10), btauth (OpenAI POST /v1/chat/completions
    /// signed with bittensor 11's btauth/1) or epistula (the same API signed with Epistula v2)
    #[arg(long, default_value = "synapse", value_name = "PROTOCOL", value_parser = parse_protocol)]
    pub protocol: MinerProtocol,
}

fn parse_protocol(s: &str) -> Result<MinerProtocol, String> {
    s.parse()
        .map_err(|e: crate::bittensor::protocol::UnknownProtocol| e.to_string())
}

fn load_hotkey(args: &Args, default_wallet_path: &str) -> anyhow::Result<Hotkey> {
    if let Some(name) = &args.wallet_name {
        let path = args.wallet_path.as_deref().unwrap_or(default_wallet_path);
        return Hotkey::from_wallet(path, name, &args.wallet_hotkey)
            .with_context(|| format!("loading the miner hotkey from wallet '{name}'"));
    }
    let Some(phrase) = env(&args.mnemonic_env) else {
        bail!(
            "no miner hotkey: pass --wallet.name (and --wallet.hotkey) or set {} to its mnemonic",
            args.mnemonic_env
        );
    };
    Hotkey::from_mnemonic(phrase.trim())
        .with_context(|| format!("the mnemonic in {} is not usable", args.mnemonic_env))
}

fn check_hotkeys(flag: &str, list: &[String]) -> anyhow::Result<()> {
    for h in list {
        keys::ss58_decode(h).with_context(|| format!("{flag}: '{h}' is not an SS58 hotkey"))?;
    }
    Ok(())
}

/// Runs `btvep miner` until SIGINT/SIGTERM.
///
/// # Errors
/// Missing API key for a remote model server, no usable hotkey, bad options, an unreadable metagraph file, or a port
/// that cannot be bound.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let resolved = ctx.resolved()?;
    let backend = if args.builtin {
        ModelBackend::Builtin
    } else {
        let api_key = env(OPENAI_API_KEY_ENV);
        if api_key.is_none() && !miner::is_local_base_url(&args.base_url) {
            bail!(
                "{OPENAI_API_KEY_ENV} is not set: it is required for {} (only a model server on this machine, or \
                 --builtin, works without one)",
                args.base_url
            );
        }
        ModelBackend::OpenAi(OpenAiSettings {
            base_url: args.base_url.clone(),
            api_key,
            model_name: args.model_name.clone(),
            max_tokens: args.max_tokens,
            temperature: args.temperature,
            top_p: args.top_p,
            n: args.n,
            presence_penalty: args.presence_penalty,
            frequency_penalty: args.frequency_penalty,
            suffix: args.suffix.clone(),
        })
    };
    check_hotkeys("--miner.blacklist.whitelist", &args.whitelist)?;
    check_hotkeys("--miner.blacklist.blacklist", &args.blacklist)?;
    if !(args.minimum_stake_requirement.is_finite() && args.minimum_stake_requirement >= 0.0) {
        bail!("--miner.blacklist.minimum_stake_requirement must be a number ≥ 0");
    }
    let config = crate::config::Config::from_resolved(&resolved);
    let hotkey = load_hotkey(&args, &config.wallet_path)?;
    // The config's metagraph source, with this command's own flags taking precedence.
    let source = match (args.metagraph_file.clone(), config.metagraph_source) {
        (Some(path), _) => MetagraphSource::File(path),
        (None, MetagraphSource::File(path)) => MetagraphSource::File(path),
        (None, MetagraphSource::Subtensor { network, netuid }) => MetagraphSource::Subtensor {
            network: args.subtensor_network.clone().unwrap_or(network),
            netuid: args.netuid.unwrap_or(netuid),
        },
    };
    let refresh = config.metagraph_refresh;
    let settings = MinerSettings {
        backend,
        blacklist: BlacklistSettings {
            whitelist: args.whitelist.clone(),
            blacklist: args.blacklist.clone(),
            allow_non_registered: args.allow_non_registered,
            force_validator_permit: args.force_validator_permit,
            minimum_stake_requirement: args.minimum_stake_requirement,
        },
        max_concurrency: args.max_concurrency,
        protocol: args.protocol,
    };
    let ip: std::net::IpAddr = args
        .axon_ip
        .parse()
        .with_context(|| format!("--axon.ip '{}' is not an IP address", args.axon_ip))?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let cell = Arc::new(MetagraphCell::empty());
        // A file is read now so a typo fails the start; a node is polled in the background (it may be slow or down).
        if let MetagraphSource::File(path) = &source {
            let m = crate::bittensor::metagraph::Metagraph::from_file(path)?;
            if !m.neurons.iter().any(|n| n.hotkey == hotkey.ss58()) {
                tracing::warn!(hotkey = hotkey.ss58(), "the miner hotkey is not in the metagraph");
            }
            cell.set(m);
        }
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, args.axon_port))
            .await
            .with_context(|| format!("cannot listen on {ip}:{}", args.axon_port))?;
        let addr = listener.local_addr()?;
        let b = &settings.blacklist;
        eprintln!("btvep miner");
        eprintln!("  hotkey:      {}", hotkey.ss58());
        eprintln!(
            "  protocol:    {}",
            match settings.protocol {
                MinerProtocol::Synapse => "synapse (POST /Prompting)".to_string(),
                p => format!("{p} (POST /v1/chat/completions)"),
            }
        );
        eprintln!("  backend:     {}", settings.backend.describe());
        eprintln!(
            "  metagraph:   {}",
            match &source {
                MetagraphSource::File(p) => format!("file {} (re-read every {}s)", p.display(), refresh.as_secs()),
                MetagraphSource::Subtensor { network, netuid } =>
                    format!("subtensor {network}, netuid {netuid} (refreshed every {}s)", refresh.as_secs()),
            }
        );
        eprintln!(
            "  blacklist:   whitelist {} hotkey(s), blacklist {} hotkey(s), allow_non_registered={}, \
             force_validator_permit={}, minimum_stake_requirement={} TAO",
            b.whitelist.len(),
            b.blacklist.len(),
            b.allow_non_registered,
            b.force_validator_permit,
            b.minimum_stake_requirement
        );
        eprintln!("  concurrency: {} model call(s) in flight", settings.max_concurrency);
        eprintln!("listening on {addr}");
        let refresher = miner::spawn_metagraph_refresh(source, Arc::clone(&cell), refresh);
        let result = miner::serve(listener, settings, hotkey, cell, shutdown_signal()).await;
        refresher.abort();
        result?;
        eprintln!("miner stopped");
        Ok(())
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
