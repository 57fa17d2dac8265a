//! `btvep logs`: the request log, filtered, newest first, as a table or JSON Lines; `--follow` keeps
//! printing new records.

use std::time::Duration;

use anyhow::{bail, Context as _};

use super::key::find;
use super::Context;
use crate::admin::{ops, Backend};
use crate::output;
use crate::store::{LogFilter, LogRecord};

/// Arguments of `btvep logs`. All filters combine.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// `prune`; without it, the log is shown
    #[command(subcommand)]
    pub action: Option<Action>,
    /// Only requests made with this key (id or full key)
    #[arg(short, long, value_name = "KEY")]
    pub key: Option<String>,
    /// Only answers from this miner hotkey
    #[arg(short, long, value_name = "HOTKEY")]
    pub responder_hotkey: Option<String>,
    /// From this time (UTC): %Y-%m-%d, %Y-%m-%dT%H:%M:%S or '%Y-%m-%d %H:%M:%S'
    #[arg(short, long, value_name = "TIME")]
    pub start: Option<String>,
    /// Until this time (UTC), same formats; a bare date means the whole day
    #[arg(short, long, value_name = "TIME")]
    pub end: Option<String>,
    /// How many records (newest first)
    #[arg(short, long, default_value_t = 100)]
    pub lines: usize,
    /// Print one JSON object per line
    #[arg(long)]
    pub json: bool,
    /// Keep printing new records as they arrive (Ctrl-C to stop)
    #[arg(short, long)]
    pub follow: bool,
}

/// `btvep logs` sub-commands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Remove old records now (through the running server when it runs); the server also prunes by
    /// itself per `log_retention_days` and `log_max_mb`
    Prune {
        /// Remove records older than this: 7d, 12h, 30m (default: log_retention_days)
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Say how many records would go, remove nothing
        #[arg(long)]
        dry_run: bool,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
}

/// Parses an age such as `7d`, `12h`, `30m`, `90s` (a bare number is days).
///
/// # Errors
/// Anything else, in one line.
pub fn parse_age(text: &str) -> anyhow::Result<chrono::Duration> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 =
        num.parse().ok().filter(|n| *n > 0).with_context(|| {
            format!("cannot understand the age '{text}': use e.g. 7d, 12h, 30m")
        })?;
    let secs = match unit {
        "" | "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => None,
    }
    .filter(|s| *s <= 100 * 365 * 86_400)
    .with_context(|| format!("cannot understand the age '{text}': use e.g. 7d, 12h, 30m"))?;
    Ok(chrono::Duration::seconds(secs))
}

fn prune(
    ctx: &Context,
    older_than: Option<String>,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    use crate::store::retention::PruneRequest;
    let age = match older_than {
        Some(a) => parse_age(&a)?,
        None => {
            let days = crate::config::Config::from_resolved(&ctx.resolved()?).log_retention_days;
            if days == 0 {
                bail!("log_retention_days is 0 (keep everything): pass --older-than AGE");
            }
            chrono::Duration::days(i64::from(days))
        }
    };
    let cut = chrono::Utc::now() - age;
    let summary = ctx.backend()?.call(&ops::PruneLogs(PruneRequest {
        older_than: Some(cut),
        max_bytes: None,
        dry_run,
    }))?;
    if json {
        output::print_json(&summary)?;
    } else {
        eprintln!(
            "{} {} log records older than {} ({} left)",
            if dry_run { "would remove" } else { "removed" },
            summary.removed,
            cut.format("%Y-%m-%d %H:%M:%S UTC"),
            summary.remaining
        );
    }
    Ok(())
}

fn bound(text: &str, end: bool) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    crate::timeparse::log_bound(text, end).map_err(anyhow::Error::msg)
}

/// Runs `btvep logs`.
///
/// # Errors
/// Unparseable times, an unknown key, an unusable store.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    if let Some(Action::Prune {
        older_than,
        dry_run,
        json,
    }) = args.action
    {
        return prune(ctx, older_than, dry_run, json);
    }
    let start = args.start.as_deref().map(|s| bound(s, false)).transpose()?;
    let end = args.end.as_deref().map(|s| bound(s, true)).transpose()?;
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            bail!("--start is after --end");
        }
    }
    let backend = ctx.backend()?;
    let key_id = match &args.key {
        Some(q) => Some(find(&backend, q)?.id),
        None => None,
    };
    let mut filter = LogFilter {
        key_id,
        responder_hotkey: args.responder_hotkey.clone(),
        start,
        end,
        limit: args.lines,
        after: None,
    };
    let mut records = query(&backend, &filter)?;
    if args.json {
        for r in &records {
            output::print_json_line(r)?;
        }
    } else if !args.follow {
        if records.is_empty() {
            eprintln!("no matching log records");
        } else {
            output::print(logs_table(&records))?;
        }
    } else {
        records.reverse();
        for r in &records {
            output::print(line(r))?;
        }
        records.reverse();
    }
    if !args.follow {
        return Ok(());
    }
    // Follow: poll for records after the newest one seen, oldest first.
    let mut cursor = records.first().map(LogRecord::cursor).or_else(|| {
        Some(crate::store::LogCursor {
            micros: start.map_or(0, |s| s.timestamp_micros().max(0) as u64),
            id: 0,
        })
    });
    filter.limit = 1000;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        filter.after = cursor;
        let new = query(&backend, &filter)?;
        for r in &new {
            if args.json {
                output::print_json_line(r)?;
            } else {
                output::print(line(r))?;
            }
        }
        if let Some(last) = new.last() {
            cursor = Some(last.cursor());
        }
    }
}

fn query(backend: &Backend, filter: &LogFilter) -> anyhow::Result<Vec<LogRecord>> {
    Ok(backend.call(&ops::QueryLogs(filter.clone()))?)
}

fn outcome(r: &LogRecord) -> String {
    match (&r.api_error, r.is_success) {
        (Some(e), _) => e.clone(),
        (None, Some(true)) => "ok".into(),
        (None, Some(false)) => format!(
            "miner failed: {}",
            r.return_message.as_deref().unwrap_or("")
        ),
        (None, None) => "ok".into(),
    }
}

/// One record as a single line of text (follow mode).
fn line(r: &LogRecord) -> String {
    format!(
        "{} key={} uid={} code={} {}ms {} prompt={:?} response={:?}",
        r.timestamp.format("%Y-%m-%d %H:%M:%S%.3f"),
        r.api_key_id.map_or("-".into(), |k| k.to_string()),
        r.uid.map_or("-".into(), |u| u.to_string()),
        r.return_code.map_or("-".into(), |c| c.to_string()),
        r.elapsed_ms.map_or("-".into(), |e| e.to_string()),
        outcome(r),
        output::truncate(r.prompt.as_deref().unwrap_or(""), 60),
        output::truncate(r.response.as_deref().unwrap_or(""), 60),
    )
}

fn logs_table(records: &[LogRecord]) -> comfy_table::Table {
    let mut t = output::table([
        "time (UTC)",
        "key",
        "uid",
        "hotkey",
        "outcome",
        "code",
        "ms",
        "prompt",
        "response",
    ]);
    for r in records {
        t.add_row([
            r.timestamp.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.api_key_id.map_or(String::new(), |k| k.to_string()),
            r.uid.map_or(String::new(), |u| u.to_string()),
            r.responder_hotkey
                .as_deref()
                .map(|h| output::truncate(h, 10))
                .unwrap_or_default(),
            outcome(r),
            r.return_code.map_or(String::new(), |c| c.to_string()),
            r.elapsed_ms.map_or(String::new(), |e| e.to_string()),
            output::truncate(r.prompt.as_deref().unwrap_or(""), 40),
            output::truncate(r.response.as_deref().unwrap_or(""), 40),
        ]);
    }
    t
}
