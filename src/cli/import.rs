//! `btvep import`: bring a Python btvep database (and its `config.json`) over. The work is in
//! [`crate::import`]; this module parses arguments, routes the import to the store (directly, or through
//! a running server, which then reads the file itself), writes the config changes and prints the summary.

use std::path::PathBuf;

use anyhow::Context as _;

use super::Context;
use crate::admin::ops;
use crate::import::{pyconfig, KeyOutcome, KeyStatus, Options, Summary};
use crate::output;

/// Arguments of `btvep import`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "See docs/migrating.md for the whole migration.")]
pub struct Args {
    /// The Python btvep database (btvep.db, next to the Python btvep package)
    #[arg(value_name = "PATH", required_unless_present = "python_config")]
    pub path: Option<PathBuf>,
    /// Also take the Python btvep config.json: the settings both share are written to btvep's config
    #[arg(long, value_name = "FILE")]
    pub python_config: Option<PathBuf>,
    /// Print what would be imported and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite keys that are already present (same key) with the Python values instead of skipping them
    #[arg(long)]
    pub update: bool,
    /// Import the good rows when some rows have impossible values (they are listed), instead of nothing
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs `btvep import`.
///
/// # Errors
/// Bad input (one line naming the file and the problem), an unusable store.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    // The config is checked first, so a bad config.json stops the run before the database is touched.
    let config_plan = match &args.python_config {
        Some(p) => Some(pyconfig::plan(p, &ctx.config_file()?)?),
        None => None,
    };
    let options = Options {
        dry_run: args.dry_run,
        update: args.update,
        skip_bad_rows: args.skip_bad_rows,
    };
    let summary = match &args.path {
        Some(path) => {
            // A running server reads the file itself, so it gets an absolute path; a missing file is
            // reported here, in the operator's terms.
            let path = std::path::absolute(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            // Checked here too, so bad input is refused before the store is even opened.
            crate::import::sqlite::Source::open(&path)?;
            let backend = ctx.backend()?;
            Some(*backend.call(&ops::Import { path, options })?)
        }
        None => None,
    };
    if let Some(plan) = &config_plan {
        if !args.dry_run && !plan.changed.is_empty() {
            crate::config::ConfigFile::update(&ctx.paths.config_file, |file| {
                plan.apply(file).map_err(anyhow::Error::from)
            })?;
            ctx.notify_config_changed();
        }
    }
    if args.json {
        output::print_json(&serde_json::json!({
            "database": summary,
            "config": config_plan,
        }))?;
    } else {
        if let Some(s) = &summary {
            output::print(render(s))?;
        }
        if let Some(plan) = &config_plan {
            output::print(render_config(plan, args.dry_run, &ctx.paths.config_file))?;
        }
    }
    Ok(())
}

/// `1-4, 7, 9-12`.
fn ranges(ids: &[u64]) -> String {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut end = start;
        while i + 1 < ids.len() && ids[i + 1] == end + 1 {
            i += 1;
            end = ids[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join(", ")
    }
}

fn ids_with(outcomes: &[KeyOutcome], status: &[KeyStatus]) -> Vec<u64> {
    outcomes
        .iter()
        .filter(|o| status.contains(&o.status))
        .filter_map(|o| o.id)
        .collect()
}

/// The summary for people.
fn render(s: &Summary) -> String {
    let mut out = Vec::new();
    let would = if s.dry_run { "would be " } else { "" };
    out.push(format!(
        "{} {} ({} shape){}",
        if s.dry_run { "dry run of" } else { "imported" },
        s.source,
        match s.shape {
            crate::import::sqlite::Shape::Repository => "repository",
            crate::import::sqlite::Shape::Release020 => "0.2.0 release",
        },
        if s.dry_run {
            ": nothing was changed"
        } else {
            ""
        }
    ));
    if let Some(r) = &s.resumed {
        out.push(format!(
            "note: an earlier import from {r} was interrupted; {}",
            if s.dry_run {
                "running it again completes it"
            } else {
                "this run completed it"
            }
        ));
    }
    let k = &s.keys;
    out.push(format!(
        "apikey:  {} rows: {} {}imported (ids {}), {} already present ({}), {} {}updated, {} bad rows skipped",
        k.in_source,
        k.imported,
        would,
        ranges(&ids_with(
            &s.key_ids,
            &[KeyStatus::Imported, KeyStatus::Renumbered]
        )),
        k.already_present,
        if k.already_present > 0 {
            format!(
                "ids {}, skipped",
                ranges(&ids_with(&s.key_ids, &[KeyStatus::AlreadyPresent]))
            )
        } else {
            "skipped".into()
        },
        k.updated,
        would,
        k.bad
    ));
    let renumbered: Vec<_> = s
        .key_ids
        .iter()
        .filter(|o| o.status == KeyStatus::Renumbered)
        .collect();
    if !renumbered.is_empty() {
        out.push(format!(
            "  ids taken in this store, given new ids: {}",
            renumbered
                .iter()
                .take(50)
                .map(|o| format!("{} -> {}", o.source_id, o.id.unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
                + if renumbered.len() > 50 {
                    " ... (--json lists all)"
                } else {
                    ""
                }
        ));
    }
    let r = &s.requests;
    out.push(format!(
        "request: {} rows: {} {}imported ({} of them without a key: their key no longer exists), {} already present (skipped), {} of bad keys and {} bad rows skipped",
        r.in_source, r.imported, would, r.without_key, r.already_present, r.of_bad_keys, r.bad
    ));
    if s.users_not_imported > 0 {
        out.push(format!(
            "user:    {} rows not imported (chat-UI Auth0 accounts; btvep has no chat UI)",
            s.users_not_imported
        ));
    }
    if s.bad_rows_total > 0 {
        out.push(format!("bad rows skipped ({}):", s.bad_rows_total));
        for b in s.bad_rows.iter().take(20) {
            out.push(format!("  {} {}: {}", b.table, b.id, b.reason));
        }
        if s.bad_rows_total > 20 {
            out.push("  ... (--json lists more)".into());
        }
    }
    if !s.warnings.is_empty() {
        out.push(format!("warnings ({}):", s.warnings.len()));
        for w in &s.warnings {
            out.push(format!("  key {}: {}", w.id, w.message));
        }
    }
    out.join("\n")
}

fn render_config(p: &pyconfig::ConfigPlan, dry_run: bool, target: &std::path::Path) -> String {
    let mut out = vec![format!(
        "config {} -> {}{}",
        p.source,
        target.display(),
        if dry_run {
            " (dry run: not written)"
        } else {
            ""
        }
    )];
    for c in &p.changed {
        out.push(format!(
            "  {} {}: {} (was {})",
            if dry_run { "would set" } else { "set" },
            c.key,
            c.shown,
            c.before.as_deref().unwrap_or("unset")
        ));
    }
    if !p.unchanged.is_empty() {
        out.push(format!("  unchanged: {}", p.unchanged.join(", ")));
    }
    if !p.not_set.is_empty() {
        out.push(format!(
            "  not set in the Python config (left as they are): {}",
            p.not_set.join(", ")
        ));
    }
    for i in &p.ignored {
        out.push(format!("  ignored {}: {}", i.key, i.reason));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_ranges() {
        assert_eq!(ranges(&[3, 1, 2, 7, 9, 10]), "1-3, 7, 9-10");
        assert_eq!(ranges(&[]), "none");
    }
}
