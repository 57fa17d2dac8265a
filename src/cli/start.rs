//! `btvep start`: run the API server (and the admin socket, and the metagraph refresh).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::Context;
use crate::bittensor::dendrite::Dendrite;
use crate::bittensor::http_miner::{DEFAULT_MINER_MODEL, DEFAULT_MINER_PATH};
use crate::bittensor::keys::Hotkey;
use crate::bittensor::protocol::MinerProtocol;
use crate::config::{ConfigFile, Resolved, KEYS};
use crate::miner::{ModelBackend, OpenAiSettings};
use crate::server::state::{AppState, ConfigSource, Settings};
use crate::server::{self, metagraph_sync};
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

/// The validator hotkey the config names: `hotkey_mnemonic`, else the wallet `wallet_name`/`wallet_hotkey`.
///
/// # Errors
/// When the configured mnemonic or wallet cannot be loaded.
pub fn configured_hotkey(r: &Resolved) -> anyhow::Result<Option<(Hotkey, String)>> {
    if let Some(m) = r.str("hotkey_mnemonic").filter(|m| !m.is_empty()) {
        return Ok(Some((Hotkey::from_mnemonic(m)?, "hotkey_mnemonic".into())));
    }
    if let Some(name) = r.str("wallet_name").filter(|n| !n.is_empty()) {
        let hotkey = r.str("wallet_hotkey").unwrap_or("default");
        let path = r
            .str("wallet_path")
            .unwrap_or(crate::bittensor::keys::DEFAULT_WALLET_PATH);
        let key = Hotkey::from_wallet(path, name, hotkey)?;
        return Ok(Some((key, format!("wallet {name}/{hotkey} in {path}"))));
    }
    Ok(None)
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
    let (hotkey, hotkey_from) = match configured_hotkey(&resolved)? {
        Some(h) => h,
        None if args.devnet.is_some() => (Hotkey::generate()?.0, "a throwaway key generated for --devnet".to_string()),
        None => bail!(
            "no validator hotkey configured: run `btvep config set hotkey_mnemonic` (or set wallet_name) first"
        ),
    };
    if resolved.str("admin_api_key").is_none_or(str::is_empty) {
        // First start: create the dashboard/admin token, stored (0600) in the config file only.
        let mut file = ConfigFile::load(&source.path)?;
        let token = crate::store::generate_api_key().replacen("btvep-", "btvep-admin-", 1);
        file.set("admin_api_key", serde_json::Value::String(token))?;
        file.save()?;
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
    let host = resolved.str("host").unwrap_or("0.0.0.0").to_string();
    let port = u16::try_from(resolved.int("port")).unwrap_or(8000);
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .with_context(|| format!("invalid listen address {host}:{port}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;

    let hotkey_ss58 = hotkey.ss58().to_string();
    // Devnet miners must be up, and their metagraph written, before the metagraph sync reads it.
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
    let protocol: MinerProtocol = resolved
        .str("miner_protocol")
        .unwrap_or("synapse")
        .parse()?;
    let dendrite = Dendrite::with_protocol(
        hotkey,
        protocol,
        resolved.str("miner_path").unwrap_or(DEFAULT_MINER_PATH),
        resolved.str("miner_model").unwrap_or(DEFAULT_MINER_MODEL),
    )?;
    let settings = Settings::from_resolved(&resolved);
    let state = Arc::new(AppState::new(
        store.clone(),
        settings,
        Some(source),
        dendrite,
    )?);
    let metagraph_source = metagraph_sync::source_from(&resolved);
    let refresh =
        Duration::from_secs(resolved.int("metagraph_refresh_seconds").clamp(1, 86_400) as u64);

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
        metagraph_sync::describe(&metagraph_source),
        refresh.as_secs()
    );
    eprintln!("admin:       {}", ctx.paths.admin_socket().display());
    if let (Some(d), Some(plan)) = (&devnet, &devnet_plan) {
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
            crate::devnet::dir(&ctx.paths.data_dir).display()
        );
        eprintln!("try it:");
        eprintln!(
            "  curl http://{local}/chat -H 'Content-Type: application/json' -H 'Authorization: Bearer {}' -d '{{\"messages\": [{{\"role\": \"user\", \"content\": \"What is 1+1?\"}}]}}'",
            plan.api_key
        );
    }
    eprintln!("dashboard:   http://{local}/dashboard (sign in with the admin token)");
    eprintln!("listening on http://{local}");

    let metagraph_task = tokio::spawn(metagraph_sync::run(
        state.clone(),
        metagraph_source,
        refresh,
    ));
    let prune_state = state.clone();
    let prune_task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            prune_state.limiters.prune();
        }
    });
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin_state = state.clone();
    let barrier_state = state.clone();
    let hooks = crate::admin::Hooks {
        // Reads through the socket see every earlier request's log records and counters.
        before: Arc::new(move |req| {
            if matches!(
                req,
                crate::admin::Request::QueryLogs(_)
                    | crate::admin::Request::FindKey { .. }
                    | crate::admin::Request::ListKeys
            ) {
                barrier_state.logs.barrier();
            }
        }),
        after: Arc::new(move |req, _| {
            if matches!(req, crate::admin::Request::ConfigChanged) {
                admin_state.reload_config();
            }
        }),
    };
    let socket = ctx.paths.admin_socket();
    let admin_task = tokio::spawn(async move {
        if let Err(e) = crate::admin::serve(store, &socket, hooks, async {
            let _ = admin_stopped.await;
        })
        .await
        {
            tracing::error!("admin socket {} failed: {e}", socket.display());
        }
    });

    let cors = resolved
        .str("cors_allowed_origins")
        .unwrap_or("*")
        .to_string();
    server::serve(listener, state.clone(), &cors, shutdown_signal()).await;
    eprintln!("shutting down: in-flight requests drained");
    metagraph_task.abort();
    prune_task.abort();
    let _ = stop_admin.send(());
    let _ = admin_task.await;
    if let Some(d) = devnet {
        d.stop().await;
    }
    state.logs.close();
    state.store.flush()?;
    eprintln!("database flushed; bye");
    Ok(())
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
