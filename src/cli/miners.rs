//! `btvep miners`: every miner the gateway knows, with its health, best score first. While the
//! server runs, the figures are its live ones (it writes them to the store before answering);
//! otherwise they are what it last wrote.

use super::Context;
use crate::admin::ops;
use crate::output;
use crate::routing::report::{short_hotkey, MinerRow};

/// Arguments of `btvep miners`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (every field, full hotkeys)
    #[arg(long)]
    pub json: bool,
}

/// Runs `btvep miners`.
///
/// # Errors
/// When the store cannot be reached.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let backend = ctx.backend()?;
    let rows = backend.call(&ops::ListMiners)?;
    if args.json {
        output::print_json(&rows)?;
        return Ok(());
    }
    if rows.is_empty() {
        eprintln!("no miner has been asked yet");
        return Ok(());
    }
    output::print(table(&rows))?;
    eprintln!(
        "{} miners, best first ({})",
        rows.len(),
        if backend.is_remote() {
            "live figures of the running server"
        } else {
            "as the server last saved them"
        }
    );
    Ok(())
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |ms| format!("{ms:.0} ms"))
}

/// The table of `btvep miners`.
pub fn table(rows: &[MinerRow]) -> comfy_table::Table {
    let mut t = output::table([
        "uid",
        "hotkey",
        "state",
        "requests",
        "success",
        "p50",
        "p90",
        "score",
        "last failure",
    ]);
    for r in rows {
        let state = match r.cooling_until {
            Some(until) => format!(
                "{} ({}s)",
                r.state,
                (until - chrono::Utc::now()).num_seconds().max(0)
            ),
            None => r.state.to_string(),
        };
        t.add_row([
            r.uid.to_string(),
            short_hotkey(&r.hotkey),
            state,
            r.requests.to_string(),
            format!("{:.0}%", r.success_rate * 100.0),
            ms(r.p50_ms),
            ms(r.p90_ms),
            format!("{:.0} ms", r.expected_ms),
            r.last_failure.as_ref().map_or_else(String::new, |f| {
                output::truncate(&format!("{} {}", f.status, f.message), 48)
            }),
        ]);
    }
    t
}
