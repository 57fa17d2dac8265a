//! The `btvep` binary: parse, set up logging, dispatch, map the error to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    btvep::server::memory::limit_arenas();
    let cli = btvep::cli::Cli::parse();
    btvep::logging::init();
    match btvep::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if btvep::logging::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
