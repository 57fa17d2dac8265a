//! `docs/cli.md`, generated from the clap definition (a test fails when the committed copy is stale).

use clap::CommandFactory;

use super::Cli;

/// Renders the whole command tree as Markdown: one section per command with its `--help` text.
pub fn markdown() -> String {
    let mut out = String::from(
        "# btvep command line\n\n\
         Generated from the clap definition by `BTVEP_BLESS=1 cargo test --test cli completions_and_docs_are_fresh`; do not edit by hand.\n",
    );
    let mut cmd = Cli::command().term_width(100);
    cmd.build();
    section(&mut out, &mut cmd, "btvep");
    out
}

fn section(out: &mut String, cmd: &mut clap::Command, path: &str) {
    let help = cmd.render_long_help().to_string();
    out.push_str(&format!(
        "\n## `{path}`\n\n```text\n{}\n```\n",
        help.trim_end()
    ));
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        if let Some(sub) = cmd.find_subcommand_mut(&name) {
            section(out, sub, &format!("{path} {name}"));
        }
    }
}
