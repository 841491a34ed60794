//! The command line: what `unclosed --help` shows.

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Triage aiohttp's garbage-collection warnings in Python logs.

aiohttp prints `Unclosed client session` and `Unclosed connector` when a session or its
connector is garbage-collected unclosed. Some are noise (the session held nothing); some are
real leaks (the connector held N pooled sockets until GC). unclosed tells them apart, counts
the sockets, and groups them by the line of your code that created the session.";

const SCAN_AFTER: &str = "Examples:
  kubectl logs my-pod | unclosed scan
  unclosed scan app.log app.log.1.gz
  unclosed scan --format json /var/log/containers/api-*.log
  unclosed scan --format list --skip-frames '*/my_http_wrapper.py' app.log

Call sites need creation tracebacks in the log: run the Python program with
PYTHONASYNCIODEBUG=1 (or python -X dev), or on Python 3.12+ with PYTHONTRACEMALLOC=25 and
-W default::ResourceWarning.

Exit status: 0 when the scan ran (whatever it found), 2 on a usage or read error.";

/// `unclosed`: command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "unclosed", version, about = ABOUT, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read logs and report every aiohttp GC warning: leak or noise, by call site.
    #[command(after_help = SCAN_AFTER)]
    Scan(ScanArgs),
    /// List the log envelopes unclosed reads (for --grammar).
    Grammars(GrammarArgs),
}

/// Output formats of `scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A summary table for people, one row per call site.
    Table,
    /// One JSON object (schema `unclosed/1`, see the README).
    Json,
    /// One JSON object per finding as it is decided, then a `{"type":"summary"}` object.
    Ndjson,
    /// One line per finding with its input location (`file:line`), then the table.
    List,
}

/// When to use colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Options that choose how logs are read.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Log files to read (gzip is detected); none or `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,

    /// Read every input with this envelope instead of detecting it (see `unclosed grammars`).
    #[arg(long, value_name = "NAME")]
    pub grammar: Option<String>,

    /// Add an envelope grammar from a TOML file (same form as the shipped ones); repeatable.
    #[arg(long, value_name = "PATH")]
    pub grammar_file: Vec<String>,

    /// Pass over frames whose path matches this glob when finding call sites (for your own
    /// HTTP wrapper, say); repeatable. aiohttp, asyncio and the standard library always are.
    #[arg(long, value_name = "GLOB")]
    pub skip_frames: Vec<String>,

    /// Cut lines longer than this many bytes (they are counted and reported).
    #[arg(long, value_name = "BYTES", default_value_t = crate::read::DEFAULT_MAX_LINE)]
    pub max_line_bytes: usize,
}

/// `scan` arguments.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// How logs are read.
    #[command(flatten)]
    pub read: ReadArgs,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// When to colour the table.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// `grammars` arguments.
#[derive(Debug, Args)]
pub struct GrammarArgs {
    /// Also load these grammar files, checking them against their samples.
    #[arg(long, value_name = "PATH")]
    pub grammar_file: Vec<String>,
}
