//! `btvep metagraph`: print the subnet's neurons (from `metagraph_file` or the subtensor node).

use std::time::Duration;

use anyhow::Context as _;

use super::Context;
use crate::bittensor::metagraph_cell::describe;
use crate::output;

/// Arguments of `btvep metagraph`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (the metagraph file format)
    #[arg(long)]
    pub json: bool,
    /// Only neurons that serve an axon
    #[arg(long)]
    pub serving: bool,
}

/// Runs `btvep metagraph`.
///
/// # Errors
/// When the metagraph cannot be loaded.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let source = crate::config::Config::from_resolved(&ctx.resolved()?).metagraph_source;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut m = runtime
        .block_on(source.load(Duration::from_secs(30)))
        .with_context(|| format!("loading the metagraph from {}", describe(&source)))?;
    m.neurons.sort_by_key(|n| n.uid);
    if args.serving {
        m.neurons.retain(|n| n.is_serving());
    }
    if args.json {
        output::print(m.to_file_json())?;
        return Ok(());
    }
    let mut t = output::table([
        "uid",
        "hotkey",
        "axon",
        "incentive",
        "stake (TAO)",
        "validator permit",
        "active",
    ]);
    for n in &m.neurons {
        t.add_row([
            n.uid.to_string(),
            n.hotkey.clone(),
            n.socket_addr_text(),
            format!("{:.5}", n.incentive),
            format!("{:.3}", n.stake),
            if n.validator_permit { "yes" } else { "no" }.to_string(),
            if n.active { "yes" } else { "no" }.to_string(),
        ]);
    }
    output::print(t)?;
    eprintln!(
        "subnet {}: {} neurons from {}",
        m.netuid,
        m.neurons.len(),
        describe(&source)
    );
    Ok(())
}
