//! `btvep completions SHELL`: shell completion scripts (the committed copies live in `completions/`).

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// Arguments of `btvep completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "btvep", &mut out);
    out
}

/// The file name the script is committed under in `completions/`.
pub fn file_name(shell: Shell) -> String {
    match shell {
        Shell::Bash => "btvep.bash".into(),
        Shell::Zsh => "_btvep".into(),
        Shell::Fish => "btvep.fish".into(),
        Shell::PowerShell => "_btvep.ps1".into(),
        Shell::Elvish => "btvep.elv".into(),
        _ => format!("btvep.{shell}"),
    }
}

/// Prints the script for the chosen shell to stdout.
///
/// # Errors
/// When stdout cannot be written.
pub fn run(args: &Args) -> anyhow::Result<()> {
    use std::io::Write;
    std::io::stdout().write_all(&script(args.shell))?;
    Ok(())
}
