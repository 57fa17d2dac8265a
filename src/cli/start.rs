//! `btvep start`: run the API server (and the admin socket, and the metagraph refresh).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::Context;
use crate::bittensor::dendrite::Dendrite;
use crate::bittensor::keys::Hotkey;
use crate::config::{Resolved, KEYS};
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
    }
    if let Some(p) = args.port {
        flags.push(("port".into(), p.to_string()));
    }
    let source = ConfigSource {
        path: ctx.paths.config_file.clone(),
        flags,
    };
    let resolved = source.load()?;
    let Some((hotkey, hotkey_from)) = configured_hotkey(&resolved)? else {
        bail!(
            "no validator hotkey configured: run `btvep config set hotkey_mnemonic` (or set wallet_name) first"
        );
    };
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
    runtime.block_on(serve(ctx, source, resolved, hotkey, hotkey_from, store))
}

async fn serve(
    ctx: &Context,
    source: ConfigSource,
    resolved: Resolved,
    hotkey: Hotkey,
    hotkey_from: String,
    store: Arc<Store>,
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
    let dendrite = Dendrite::new(hotkey)?;
    let settings = Settings::from_resolved(&resolved);
    let state = Arc::new(AppState::new(
        store.clone(),
        settings,
        Some(source),
        dendrite,
    ));
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
    let on_change: crate::admin::OnChange = Arc::new(move |req, _| {
        if matches!(req, crate::admin::Request::ConfigChanged) {
            admin_state.reload_config();
        }
    });
    let socket = ctx.paths.admin_socket();
    let admin_task = tokio::spawn(async move {
        if let Err(e) = crate::admin::serve(store, &socket, on_change, async {
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
