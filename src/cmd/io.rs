//! What a command sees of the outside world: where it writes, and the environment it was
//! started in. The process gives it the real streams ([`Env::from_process`]); a test gives it
//! buffers, so every command runs the same in both.

use std::io::{self, IsTerminal, Write};

use crate::cmd::cli::ColorChoice;
use crate::pipeline::escape::terminal;
use crate::pipeline::scan::InputStats;

/// A command's writers and environment.
pub struct Io<'a> {
    /// Standard output: reports.
    pub out: &'a mut dyn Write,
    /// Standard error: warnings, errors, hints.
    pub err: &'a mut dyn Write,
    /// What the command may know of its environment.
    pub env: Env,
}

/// The environment a command reads: variables and whether the streams are terminals.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// `NO_COLOR`.
    pub no_color: Option<String>,
    /// `FORCE_COLOR`.
    pub force_color: Option<String>,
    /// `CLICOLOR_FORCE`.
    pub clicolor_force: Option<String>,
    /// `GITHUB_WORKSPACE`: paths in CI reports are made relative to it.
    pub github_workspace: Option<String>,
    /// Standard output is a terminal.
    pub stdout_terminal: bool,
    /// Its width in columns, when it is one that says (tables and status lines fit it).
    pub stdout_width: Option<u16>,
    /// Standard input is a terminal.
    pub stdin_terminal: bool,
}

impl Env {
    /// This process's environment.
    pub fn from_process() -> Env {
        let var = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        Env {
            no_color: var("NO_COLOR"),
            force_color: var("FORCE_COLOR"),
            clicolor_force: var("CLICOLOR_FORCE"),
            github_workspace: var("GITHUB_WORKSPACE"),
            stdout_terminal: io::stdout().is_terminal(),
            stdout_width: terminal_size::terminal_size_of(io::stdout())
                .map(|(w, _)| w.0)
                .filter(|w| *w > 0),
            stdin_terminal: io::stdin().is_terminal(),
        }
    }

    /// Whether to colour what goes to standard output.
    pub fn color(&self, choice: ColorChoice) -> bool {
        color_wanted(
            choice,
            self.no_color.as_deref(),
            self.force_color.as_deref(),
            self.clicolor_force.as_deref(),
            self.stdout_terminal,
        )
    }
}

/// The colour rule, given the environment: `--color` first, then NO_COLOR (any non-empty
/// value: no colour), then FORCE_COLOR or CLICOLOR_FORCE (non-empty and not `0`: colour even
/// into a pipe), then whether stdout is a terminal.
pub fn color_wanted(
    choice: ColorChoice,
    no_color: Option<&str>,
    force_color: Option<&str>,
    clicolor_force: Option<&str>,
    terminal: bool,
) -> bool {
    let set = |v: Option<&str>| v.is_some_and(|v| !v.is_empty() && v != "0");
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if no_color.is_some_and(|v| !v.is_empty()) => false,
        ColorChoice::Auto => set(force_color) || set(clicolor_force) || terminal,
    }
}

/// Whether an error is a closed pipe on our output (a quiet end, like ripgrep's).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            // serde_json wraps the io::Error without exposing it as a source.
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(io::ErrorKind::BrokenPipe))
    })
}

// What follows goes to standard error, where a failed write has nowhere left to be said:
// like ripgrep, it is ignored.

/// Says that lines carried aiohttp's headers but were not read.
pub fn warn_unread(err: &mut dyn Write, name: &str, stats: &InputStats) {
    if stats.unread_mentions > 0 {
        let _ = writeln!(
            err,
            "unclosed: warning: {}:{}: {} line(s) carry aiohttp's `Unclosed …` warning header but were not read as blocks: \
             the log's format may not be one unclosed reads (see `unclosed grammars`; try --grammar NAME or --grammar-file PATH)",
            terminal(name),
            stats.first_unread.unwrap_or(0),
            stats.unread_mentions,
        );
    }
}

/// Says that lines were cut.
pub fn warn_cut(err: &mut dyn Write, name: &str, cut: u64, max: usize) {
    if cut > 0 {
        let _ = writeln!(
            err,
            "unclosed: warning: {}: {cut} line(s) longer than {max} bytes were cut there (--max-line-bytes)",
            terminal(name)
        );
    }
}

/// Says an input cannot be opened. Like ripgrep, the caller goes on with the other inputs
/// and exits 2 at the end.
pub fn cannot_open(err: &mut dyn Write, name: &str, e: &io::Error) {
    let _ = writeln!(err, "unclosed: {}: {e}", terminal(name));
}

/// Says an input failed part-way, after `lines` lines when that is known.
pub fn read_error(err: &mut dyn Write, name: &str, lines: Option<u64>, e: &anyhow::Error) {
    let after = lines
        .map(|n| format!(" after line {n}"))
        .unwrap_or_default();
    let _ = writeln!(
        err,
        "unclosed: {}: read error{after}: {}",
        terminal(name),
        terminal(&format!("{e:#}"))
    );
}

/// Says that input is awaited from a terminal, as a user who typed the command without a
/// pipe would otherwise see a tool that seems to hang.
pub fn hint_if_terminal(err: &mut dyn Write, env: &Env) {
    if env.stdin_terminal {
        let _ = writeln!(
            err,
            "unclosed: reading a log from the terminal (pipe one in or name a file; Ctrl-D ends, \
             --help shows how)"
        );
    }
}

/// Says an error that ends the command: one message, possibly several lines (a TOML error
/// shows the line it points at).
pub fn say_error(err: &mut dyn Write, e: &anyhow::Error) {
    let text = format!("{e:#}");
    let mut lines = text.lines();
    let _ = writeln!(err, "unclosed: {}", terminal(lines.next().unwrap_or("")));
    for l in lines {
        let _ = writeln!(err, "  {}", terminal(l));
    }
}
