//! Output conventions: results go to stdout as tables (for people) or JSON (for scripts); messages and
//! errors go to stderr. Tables use box drawing only on a terminal without `NO_COLOR`.

use std::io::{IsTerminal, Write};

use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

/// Whether stdout is a terminal that may get box drawing (false when piped or `NO_COLOR` is set).
pub fn fancy() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Builds a table with the given header, styled for where stdout goes.
pub fn table<I, S>(header: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut t = Table::new();
    if fancy() {
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.load_style(presets::ASCII_MARKDOWN)
            .set_content_arrangement(ContentArrangement::Disabled);
    }
    t.set_header(header);
    t
}

/// Prints a table (or any text) to stdout with a trailing newline.
///
/// # Errors
/// When stdout cannot be written (a closed pipe is handled by `main`).
pub fn print(text: impl std::fmt::Display) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

/// Prints a value as pretty JSON to stdout.
///
/// # Errors
/// When stdout cannot be written.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> std::io::Result<()> {
    print(serde_json::to_string_pretty(value).expect("values always serialize"))
}

/// Prints a value as one compact JSON line to stdout (JSON Lines).
///
/// # Errors
/// When stdout cannot be written.
pub fn print_json_line<T: Serialize + ?Sized>(value: &T) -> std::io::Result<()> {
    print(serde_json::to_string(value).expect("values always serialize"))
}

/// Shortens text to at most `max` characters for a table cell, on one line.
pub fn truncate(text: &str, max: usize) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut s: String = one_line.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Whether stdin is a terminal (prompts are only ever shown on one).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}
