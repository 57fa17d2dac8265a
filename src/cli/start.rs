//! `btvep start`: run the API server (and the admin socket, and the metagraph refresh).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context as _};

use super::Context;
use crate::bittensor::keys::Hotkey;
use crate::bittensor::metagraph_cell::describe;
use crate::bittensor::protocol::MinerProtocol;
use crate::config::{Config, ConfigFile, HotkeySource, Resolved, KEYS};
use crate::miner::{ModelBackend, OpenAiSettings};
use crate::server;
use crate::server::lifecycle::ServerParts;
use crate::server::state::ConfigSource;
use crate::store::{Store, StoreError};

/// Arguments of `btvep start`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [config: host, default 0.0.0.0]
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on (0 picks a free one) [config: port, default 8000]
    #[arg(short, long)]
    pub port: Option<u16>,
    /// Also run a local subnet of N miners (throwaway hotkeys, loopback ports, real signed protocol),
    /// create or reuse an API key for it and print a ready-to-run curl line. Listens on 127.0.0.1
    /// unless --host is given; a throwaway validator hotkey is used if none is configured.
    #[arg(long, value_name = "N")]
    pub devnet: Option<usize>,
    /// Devnet miners answer through this OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1 for
    /// Ollama; key from OPENAI_API_KEY) instead of the built-in responder
    #[arg(long, value_name = "URL", requires = "devnet")]
    pub devnet_model_url: Option<String>,
    /// Model name for --devnet-model-url
    #[arg(
        long,
        value_name = "NAME",
        requires = "devnet_model_url",
        default_value = "gpt-3.5-turbo"
    )]
    pub devnet_model: String,
    /// Protocol the devnet miners (and so the gateway, as miner_protocol) speak: synapse, btauth or epistula
    #[arg(long, value_name = "PROTOCOL", requires = "devnet", value_parser = parse_protocol)]
    pub devnet_protocol: Option<MinerProtocol>,
}

fn parse_protocol(s: &str) -> Result<MinerProtocol, String> {
    s.parse()
        .map_err(|e: crate::bittensor::protocol::UnknownProtocol| e.to_string())
}

/// The validator hotkey the config names (see [`HotkeySource`]) and a description of where it came
/// from (never the secret).
///
/// # Errors
/// When the configured mnemonic, file or wallet cannot be loaded.
pub fn configured_hotkey(config: &Config) -> anyhow::Result<Option<(Hotkey, String)>> {
    Ok(Some(match &config.hotkey {
        HotkeySource::None => return Ok(None),
        HotkeySource::Mnemonic(m) => (Hotkey::from_mnemonic(m)?, "hotkey_mnemonic".into()),
        HotkeySource::MnemonicFile(path) => {
            let shown = path.display();
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading hotkey_mnemonic_file {shown}"))?;
            let phrase = text.trim();
            crate::config::check_mnemonic(phrase)
                .map_err(|reason| anyhow::anyhow!("hotkey_mnemonic_file {shown}: {reason}"))?;
            (
                Hotkey::from_mnemonic(phrase)?,
                format!("hotkey_mnemonic_file {shown}"),
            )
        }
        HotkeySource::Wallet { name, hotkey, path } => (
            Hotkey::from_wallet(path, name, hotkey)?,
            format!("wallet {name}/{hotkey} in {path}"),
        ),
    }))
}

/// Runs `btvep start`.
///
/// # Errors
/// No hotkey, a database held by another server, a port that cannot be bound.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let mut flags = ctx.flags.clone();
    if let Some(h) = args.host {
        flags.push(("host".into(), h));
    } else if args.devnet.is_some() {
        flags.push(("host".into(), "127.0.0.1".into()));
    }
    if args.devnet.is_some() {
        let path = crate::devnet::metagraph_path(&ctx.paths.data_dir);
        flags.push(("metagraph_file".into(), path.display().to_string()));
    }
    if let Some(p) = args.port {
        flags.push(("port".into(), p.to_string()));
    }
    if let Some(p) = args.devnet_protocol {
        flags.push(("miner_protocol".into(), p.to_string()));
    }
    let source = ConfigSource {
        path: ctx.paths.config_file.clone(),
        flags,
    };
    let mut resolved = source.load()?;
    let (hotkey, hotkey_from) = match configured_hotkey(&Config::from_resolved(&resolved))? {
        Some(h) => h,
        None if args.devnet.is_some() => (Hotkey::generate()?.0, "a throwaway key generated for --devnet".to_string()),
        None => bail!(
            "no validator hotkey configured: run `btvep config set hotkey_mnemonic` (or set wallet_name) first"
        ),
    };
    if Config::from_resolved(&resolved).admin_api_key.is_none() {
        // First start: create the dashboard/admin token, stored (0600) in the config file only.
        let token = crate::store::generate_api_key().replacen("btvep-", "btvep-admin-", 1);
        ConfigFile::update(&source.path, |file| {
            // Another writer may have created one meanwhile: keep it.
            let has = file
                .values
                .get("admin_api_key")
                .and_then(|v| v.as_str())
                .is_some_and(|s| !s.is_empty());
            if has {
                Ok(())
            } else {
                file.set("admin_api_key", serde_json::Value::String(token))
            }
        })?;
        resolved = source.load()?;
        eprintln!(
            "created an admin token for the dashboard and the /admin API in {}; read it with `btvep config get admin_api_key --reveal`",
            source.path.display()
        );
    }
    let store = match Store::open(&ctx.paths.data_dir) {
        Ok(s) => Arc::new(s),
        Err(StoreError::Locked(p)) => bail!(
            "another process (probably a running `btvep start`) holds the database {}; stop it first or use another --data-dir",
            p.display()
        ),
        Err(e) => return Err(e.into()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let devnet = match args.devnet {
        None => None,
        Some(n) => {
            let backend = match args.devnet_model_url {
                None => ModelBackend::Builtin,
                Some(url) => ModelBackend::OpenAi(OpenAiSettings {
                    base_url: url.trim_end_matches('/').to_string(),
                    api_key: super::env("OPENAI_API_KEY"),
                    model_name: args.devnet_model,
                    ..Default::default()
                }),
            };
            let (key, reused) = crate::devnet::api_key(&store, &ctx.paths.data_dir)?;
            Some(DevnetPlan {
                protocol: args.devnet_protocol.unwrap_or_default(),
                miners: n,
                backend,
                api_key: key,
                reused,
            })
        }
    };
    runtime.block_on(serve(
        ctx,
        source,
        resolved,
        hotkey,
        hotkey_from,
        store,
        devnet,
    ))
}

/// What `--devnet` asked for.
struct DevnetPlan {
    protocol: MinerProtocol,
    miners: usize,
    backend: ModelBackend,
    api_key: String,
    reused: bool,
}

async fn serve(
    ctx: &Context,
    source: ConfigSource,
    resolved: Resolved,
    hotkey: Hotkey,
    hotkey_from: String,
    store: Arc<Store>,
    devnet_plan: Option<DevnetPlan>,
) -> anyhow::Result<()> {
    let config = Config::from_resolved(&resolved);
    let (host, port) = (config.host.clone(), config.port);
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .with_context(|| format!("invalid listen address {host}:{port}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;

    let hotkey_ss58 = hotkey.ss58().to_string();
    // Devnet miners must be up, and their metagraph written, before the metagraph refresher reads it.
    let devnet = match &devnet_plan {
        Some(plan) => Some(
            crate::devnet::launch_with(
                &ctx.paths.data_dir,
                plan.miners,
                &hotkey_ss58,
                plan.backend.clone(),
                plan.protocol,
            )
            .await?,
        ),
        None => None,
    };

    eprintln!(
        "btvep {} — Bittensor Validator Endpoint",
        env!("CARGO_PKG_VERSION")
    );
    eprintln!("config file: {}", resolved.path.display());
    for k in KEYS {
        eprintln!(
            "  {:<26} {} ({})",
            k.name,
            resolved.display(k.name, false),
            resolved.source(k.name)
        );
    }
    eprintln!("data dir:    {}", ctx.paths.data_dir.display());
    eprintln!("hotkey:      {hotkey_ss58} (from {hotkey_from})");
    eprintln!(
        "metagraph:   {} (refresh every {}s)",
        describe(&config.metagraph_source),
        config.metagraph_refresh.as_secs()
    );
    eprintln!("admin:       {}", ctx.paths.admin_socket().display());
    if let (Some(d), Some(plan)) = (&devnet, &devnet_plan) {
        print_devnet(d, plan, local, &ctx.paths.data_dir);
    }
    eprintln!("dashboard:   http://{local}/dashboard (sign in with the admin token)");

    let handle = server::lifecycle::start(
        ServerParts {
            config,
            config_source: Some(source),
            store,
            hotkey,
            admin_socket: Some(ctx.paths.admin_socket()),
        },
        listener,
        shutdown_signal(),
    )
    .await?;
    eprintln!("listening on http://{local}");
    handle.wait().await?;
    eprintln!("shutting down: in-flight requests drained");
    if let Some(d) = devnet {
        d.stop().await;
    }
    eprintln!("database flushed; bye");
    Ok(())
}

fn print_devnet(
    d: &crate::devnet::Devnet,
    plan: &DevnetPlan,
    local: SocketAddr,
    data_dir: &std::path::Path,
) {
    let backend = match &plan.backend {
        ModelBackend::Builtin => "the built-in responder (not a language model)".to_string(),
        ModelBackend::OpenAi(o) => format!("{} at {}", o.model_name, o.base_url),
    };
    eprintln!(
        "devnet:      {} miners answering with {backend}",
        d.miners.len()
    );
    for (uid, hk, addr) in &d.miners {
        eprintln!("  uid {uid:<3} {hk} {addr}");
    }
    eprintln!(
        "devnet key:  {} API key (unlimited credits, saved in {})",
        if plan.reused {
            "reusing the devnet"
        } else {
            "created a new devnet"
        },
        crate::devnet::dir(data_dir).display()
    );
    eprintln!("try it:");
    eprintln!(
        "  curl http://{local}/chat -H 'Content-Type: application/json' -H 'Authorization: Bearer {}' -d '{{\"messages\": [{{\"role\": \"user\", \"content\": \"What is 1+1?\"}}]}}'",
        plan.api_key
    );
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
