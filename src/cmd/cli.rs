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
    /// Follow log files like `tail -F` and report findings as they happen.
    #[command(after_help = TAIL_AFTER)]
    Tail(TailArgs),
    /// Pass a log through from stdin to stdout, leaving out noise blocks (or what --drop says).
    #[command(after_help = FILTER_AFTER)]
    Filter(FilterArgs),
    /// Read logs like `scan` and exit by policy: 1 when findings break it (CI gate).
    #[command(after_help = CHECK_AFTER)]
    Check(CheckArgs),
    /// Run a command (pytest, your app) with call sites switched on, pass its output through,
    /// and exit with its failure, or by the `check` policy.
    #[command(after_help = RUN_AFTER)]
    Run(RunArgs),
    /// Audit Python source for aiohttp sessions and connectors nobody closes.
    #[command(after_help = AUDIT_AFTER)]
    Audit(AuditArgs),
    /// List the log envelopes unclosed reads (for --grammar).
    Grammars(GrammarArgs),
    /// Print a shell completion script (see the README for where to put it).
    #[command(after_help = COMPLETIONS_AFTER)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory.
    #[command(after_help = MAN_AFTER)]
    Man(ManArgs),
}

const COMPLETIONS_AFTER: &str = "Examples:
  unclosed completions bash > ~/.local/share/bash-completion/completions/unclosed
  unclosed completions zsh > ~/.zfunc/_unclosed      # with fpath+=(~/.zfunc) before compinit
  unclosed completions fish > ~/.config/fish/completions/unclosed.fish";

const MAN_AFTER: &str = "Examples:
  unclosed man | man -l -
  unclosed man ~/.local/share/man/man1               # unclosed.1 and unclosed-scan.1 …";

/// `completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man` arguments.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `unclosed.1` and one `unclosed-COMMAND.1` per command here instead of printing
    /// the main page.
    #[arg(value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

const CHECK_AFTER: &str = "Examples:
  unclosed check test-output.log                                  # exit 1 on any leak
  unclosed check --write-baseline .unclosed-baseline test-output.log
  unclosed check --baseline .unclosed-baseline --format github test-output.log
  unclosed check --fail-on leak --fail-on unknown --format junit --output unclosed.xml ci.log

Exit status: 0 nothing breaks the policy, 1 the policy failed, 2 usage or read error.";

const RUN_AFTER: &str = "Examples:
  unclosed run -- pytest -q
  unclosed run --baseline .unclosed-baseline --format markdown --output \"$GITHUB_STEP_SUMMARY\" -- pytest
  unclosed run --format sarif --output unclosed.sarif -- python -m myservice --once
  unclosed run --tracemalloc -- python3.12 app.py     # call sites for ResourceWarnings too (slow)

Sets PYTHONASYNCIODEBUG=1 and PYTHONWARNINGS=default::ResourceWarning for the command (each can
be turned off; --tracemalloc adds PYTHONTRACEMALLOC), so its warnings carry call sites. Its stdout
and stderr pass through unchanged as they come; the report follows: the table and GitHub
annotations on stdout, a document (json, junit, sarif, markdown) on stderr unless --output names a
file, so it never lands in the command's stdout. SIGTERM is passed to the command; SIGINT reaches
it from the terminal itself; a second signal kills it.

Exit status: the command's own when it fails (128+N when signal N ended it); otherwise 0, or 1
when findings break the policy; 2 when the command cannot be started.";

/// What `--fail-on` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOnChoice {
    /// Findings that held sockets.
    Leak,
    /// Findings the log cannot decide.
    Unknown,
    /// Sessions that held nothing.
    Noise,
    /// Every finding.
    Any,
}

/// Report formats of `check` and `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// The summary table and the verdict, for people.
    Table,
    /// The `unclosed/2` JSON object with a `verdict`.
    Json,
    /// Markdown for `$GITHUB_STEP_SUMMARY` (under its 1 MiB limit).
    Markdown,
    /// JUnit XML: one test case per call site, failed when it breaks the policy.
    Junit,
    /// GitHub workflow annotations (`::error file=…,line=…::`), worst sites first.
    Github,
    /// SARIF 2.1.0, for code-scanning uploads.
    Sarif,
}

/// The policy and its reports, shared by `check` and `run`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Labels that fail the check; repeatable [default: leak].
    #[arg(long, value_enum, value_name = "LABEL")]
    pub fail_on: Vec<FailOnChoice>,

    /// Also fail when call sites outside the baseline held more pooled connections than this.
    #[arg(long, value_name = "N")]
    pub max_pooled_connections: Option<u64>,

    /// Accept the call sites listed in this file; fail only on new ones.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,

    /// Pass even when lines carry aiohttp's `Unclosed …` headers in a form that was not read
    /// (by default they fail the check: the log may hide leaks).
    #[arg(long)]
    pub allow_unread: bool,

    /// Write today's call sites to this file as a baseline (and pass).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<std::path::PathBuf>,

    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = CheckFormat::Table)]
    pub format: CheckFormat,

    /// Write the report to this file; the table still goes to the terminal.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// When to colour the table.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Print no report on stdout (--output still gets one; errors still go to stderr): the
    /// exit status says it all.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Reader threads, for `scan` and `check`.
#[derive(Debug, Args)]
pub struct Parallel {
    /// Threads that read a large file ahead of the scan, or read its parts when its warnings
    /// come close together: 0 is one per core (at most 4), 1 reads on the main thread. The
    /// answer is the same either way.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    pub threads: usize,
}

/// `check` arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Log files to read (gzip is detected); none or `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<std::path::PathBuf>,

    /// How logs are read.
    #[command(flatten)]
    pub read: ReadArgs,

    /// How many threads read large files.
    #[command(flatten)]
    pub parallel: Parallel,

    /// Pass on input with no line at all (by default an empty log fails: a CI step that
    /// captured nothing checks nothing).
    #[arg(long)]
    pub allow_empty: bool,

    /// Audit the Python source under this path too (like `unclosed audit PATH`; repeatable)
    /// and show beside each call site the verdict of the construction it points at (its
    /// line, its `created_in` frame's, or a line calling into it): `audit` in each JSON site.
    #[arg(long, value_name = "PATH")]
    pub audit: Vec<std::path::PathBuf>,

    /// The policy and its report.
    #[command(flatten)]
    pub gate: GateArgs,
}

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Do not set PYTHONASYNCIODEBUG=1 (asyncio debug mode: `source_traceback` call sites).
    #[arg(long)]
    pub no_asyncio_debug: bool,

    /// Also set PYTHONTRACEMALLOC: call sites for warnings asyncio's debug mode does not
    /// cover (Python 3.12+ prints them with ResourceWarnings). It makes Python several times
    /// slower (measured: 17 s instead of 0.55 s for a small program), so it is off by default.
    #[arg(long)]
    pub tracemalloc: bool,

    /// Accepted for old scripts: tracemalloc is off unless --tracemalloc.
    #[arg(long, hide = true, conflicts_with = "tracemalloc")]
    pub no_tracemalloc: bool,

    /// Frames tracemalloc keeps (with --tracemalloc).
    #[arg(long, value_name = "N", default_value_t = 25)]
    pub tracemalloc_depth: u32,

    /// Do not add default::ResourceWarning to PYTHONWARNINGS.
    #[arg(long)]
    pub no_resource_warnings: bool,

    /// How output is read.
    #[command(flatten)]
    pub read: ReadArgs,

    /// The policy and its report.
    #[command(flatten)]
    pub gate: GateArgs,

    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,

    /// Prometheus metrics (for a live standard input).
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

const TAIL_AFTER: &str = "Examples:
  unclosed tail /var/log/app/app.log
  unclosed tail '/var/log/containers/api-*.log'        # quote globs: files created later are picked up
  unclosed tail --from-start --format ndjson app.log | jq .

Follows like `tail -F`: starts at the end of existing files, survives rename rotation (the old
file is read to its end first), copytruncate, and files deleted and created again. New files
matching a glob are read from their start. Ctrl-C (or SIGTERM) prints the final summary.";

const FILTER_AFTER: &str = "Examples:
  kubectl logs -f my-pod | unclosed filter | less
  journalctl -f -u app | unclosed filter --annotate
  unclosed filter --drop all --stats app.log > clean.log

Every line that is not part of a warning block passes through byte for byte, in order. A line
is held only while a block it may belong to is undecided, and never longer than --flush-ms.";

/// What `filter --drop` can leave out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DropChoice {
    /// Sessions collected holding nothing.
    Noise,
    /// Findings that held sockets.
    Leak,
    /// Findings the log cannot decide.
    Unknown,
    /// Every finding.
    All,
    /// Nothing: pass everything through (with --annotate, to label it).
    None,
}

/// Summary formats of `filter --stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    /// The summary table.
    Table,
    /// The `unclosed/2` JSON object.
    Json,
}

/// Output formats of `scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A summary table for people, one row per call site.
    Table,
    /// One JSON object (schema `unclosed/2`, see the README).
    Json,
    /// One JSON object per finding as it is decided, then a `{"type":"summary"}` object.
    Ndjson,
    /// One line per finding with its input location (`file:line`), then the table.
    List,
}

/// When to use colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal; NO_COLOR (non-empty) turns it off, FORCE_COLOR or CLICOLOR_FORCE (non-empty,
    /// not `0`) on.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Options that choose how logs are read.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Read every input with this envelope instead of detecting it (see `unclosed grammars`).
    #[arg(long, value_name = "NAME")]
    pub grammar: Option<String>,

    /// Add an envelope grammar from a TOML file (same form as the shipped ones); repeatable.
    #[arg(long, value_name = "PATH")]
    pub grammar_file: Vec<String>,

    /// Pass over frames whose path matches this glob when finding call sites (for your own
    /// HTTP wrapper, say); repeatable; a glob without `/` matches a file name anywhere. aiohttp,
    /// asyncio, the standard library and installed packages always are (see --in-app).
    #[arg(long, value_name = "GLOB")]
    pub skip_frames: Vec<String>,

    /// Count frames whose path matches this glob as your application even though they are
    /// installed (site-packages): for a library's own maintainers; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub in_app: Vec<String>,

    /// Cut lines longer than this many bytes, at least 1024 (they are counted and reported).
    #[arg(long, value_name = "BYTES", default_value_t = crate::input::read::DEFAULT_MAX_LINE)]
    pub max_line_bytes: usize,

    /// On a live stream, decide a block this long after its stream (stdout or stderr of a
    /// container, a journald unit …) took its last line; other streams do not hurry it.
    #[arg(long, value_name = "MS", default_value_t = 400)]
    pub flush_ms: u64,
}

/// `scan` arguments.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Log files to read (gzip is detected); none or `-` reads standard input, reporting
    /// findings as they are decided.
    #[arg(value_name = "FILE")]
    pub files: Vec<std::path::PathBuf>,

    /// How logs are read.
    #[command(flatten)]
    pub read: ReadArgs,

    /// How many threads read large files.
    #[command(flatten)]
    pub parallel: Parallel,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// When to colour the table.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Prometheus metrics (for a live standard input).
    #[command(flatten)]
    pub metrics: MetricsArgs,

    /// Audit the Python source under this path too (like `unclosed audit PATH`; repeatable)
    /// and show beside each call site the verdict of the construction it points at (its
    /// line, its `created_in` frame's, or a line calling into it): `audit` in each JSON site.
    #[arg(long, value_name = "PATH")]
    pub audit: Vec<std::path::PathBuf>,
}

/// `tail` arguments.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Files or globs to follow (quote globs so the shell leaves them alone).
    #[arg(value_name = "FILE|GLOB", required = true)]
    pub patterns: Vec<String>,

    /// Read existing files from their start instead of their end.
    #[arg(long)]
    pub from_start: bool,

    /// Poll for changes instead of using file-system notifications (for network file
    /// systems); also used when notifications cannot start.
    #[arg(long)]
    pub poll: bool,

    /// How often to poll, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub poll_ms: u64,

    /// With file notifications: how often every file and glob is looked at anyway, in
    /// milliseconds, in case a notification was missed (a directory a glob reaches that is
    /// not watched yet, a file system that does not notify every change).
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub rescan_ms: u64,

    /// How logs are read.
    #[command(flatten)]
    pub read: ReadArgs,

    /// Output: `table` shows findings and a live summary on a terminal (plain lines
    /// otherwise), `list` plain lines, `ndjson` JSON objects; each ends with the summary.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Prometheus metrics.
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// `--metrics`: Prometheus metrics of what is read and found, served while reading.
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR/metrics (and /healthz) while reading;
    /// `--metrics` alone serves on 127.0.0.1:9464. A value needs `=` (`--metrics=0.0.0.0:9464`),
    /// so that a file after the flag is not taken for one.
    #[arg(
        long,
        value_name = "ADDR",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "127.0.0.1:9464",
        value_parser = listen_address
    )]
    pub metrics: Option<std::net::SocketAddr>,

    /// Call sites per pod that get a `site` label of their own; the rest are counted as
    /// `site="other"`, so a log cannot make Prometheus's series grow without end.
    #[arg(long, value_name = "N", default_value_t = 200, requires = "metrics")]
    pub metrics_max_sites: usize,
}

/// `IP:PORT`, or `HOST:PORT` with a name the system resolves (`localhost:9464`): its first
/// address.
fn listen_address(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let expected = "expected IP:PORT or HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464";
    match s.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("{s}: no address; {expected}")),
        Err(e) => Err(format!("{e}; {expected}")),
    }
}

/// `filter` arguments.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Logs to pass through, one after the other (gzip is detected); none or `-` reads
    /// standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<std::path::PathBuf>,

    /// What to leave out; repeatable [default: noise].
    #[arg(long, value_enum, value_name = "WHAT")]
    pub drop: Vec<DropChoice>,

    /// After each finding that is kept, add a line `[unclosed] LABEL, N pooled connections; created at SITE`
    /// (a JSON record when the log is JSON records, one per line).
    #[arg(long)]
    pub annotate: bool,

    /// At the end, print a summary to stderr (the table, or JSON).
    #[arg(long, value_enum, value_name = "FORMAT", num_args = 0..=1, default_missing_value = "table")]
    pub stats: Option<StatsFormat>,

    /// How logs are read.
    #[command(flatten)]
    pub read: ReadArgs,

    /// Prometheus metrics (for a live standard input).
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// `grammars` arguments.
#[derive(Debug, Args)]
pub struct GrammarArgs {
    /// Also load these grammar files, checking them against their samples.
    #[arg(long, value_name = "PATH")]
    pub grammar_file: Vec<String>,
}

const AUDIT_AFTER: &str = "Examples:
  unclosed audit                                   # the current directory, problems only
  unclosed audit --all src/ | less -R              # every construction and its owner
  unclosed audit --format json . > audit.json
  unclosed audit --format github --fail-on per-call --fail-on owned-never-closed
  unclosed audit --log app.log --log app.log.1.gz src/   # mark what the logs show leaked

Walks like ripgrep (.gitignore, hidden files skipped, --glob). Files that never name aiohttp
are not parsed. A reviewed exception: `# unclosed: ignore[per_call]` on the constructor's line.

Exit status: 0 no construction fails the policy, 1 one does, 2 usage or read error.";

/// Output formats of `audit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// `path:line:col: VERDICT message`, the owner and the fix, for people.
    Text,
    /// The `unclosed-audit/1` JSON object (every construction).
    Json,
    /// SARIF 2.1.0, for code-scanning uploads.
    Sarif,
    /// GitHub workflow annotations.
    Github,
}

/// What `audit --fail-on` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuditFailOn {
    /// Every bug verdict (the five below).
    Bug,
    /// Made per call and never closed.
    PerCall,
    /// Closed on the success path only.
    CloseNotGuaranteed,
    /// Stored on an owner that never closes it (or replaced unclosed).
    OwnedNeverClosed,
    /// Made inside `asyncio.run` per call and not closed there.
    AsyncioRunPerCall,
    /// A connector shared with connector_owner=False that nobody closes.
    SharedConnectorNeverClosed,
    /// Ownership the audit could not decide.
    Unknown,
    /// Nothing fails (report only).
    None,
}

/// `audit` arguments.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Files and directories to audit [default: .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<std::path::PathBuf>,

    /// Audit only files matching (or, with `!`, skip files matching) this glob; repeatable.
    #[arg(long, short = 'g', value_name = "GLOB")]
    pub glob: Vec<String>,

    /// Also audit hidden files and directories.
    #[arg(long)]
    pub hidden: bool,

    /// Do not respect .gitignore, .ignore and similar files.
    #[arg(long)]
    pub no_ignore: bool,

    /// Threads: 0 is one per core, 1 audits on the main thread.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,

    /// Show every construction (ok, transferred, suppressed too), not only problems.
    #[arg(long)]
    pub all: bool,

    /// In the text output, the fix under every construction (by default each verdict's fix
    /// is said once, at the end).
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// Verdicts that fail the audit (exit 1); repeatable [default: bug].
    #[arg(long, value_enum, value_name = "VERDICT")]
    pub fail_on: Vec<AuditFailOn>,

    /// Accept the constructions listed in this file; fail only on new ones.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,

    /// Write today's failing constructions to this file as a baseline (and pass).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<std::path::PathBuf>,

    /// A log to join (any input `scan` reads; repeatable): constructions whose findings it
    /// shows are marked confirmed, and call sites no construction explains are listed.
    #[arg(long, value_name = "FILE")]
    pub log: Vec<std::path::PathBuf>,

    /// How logs are read (with --log).
    #[command(flatten)]
    pub read: ReadArgs,

    /// When to colour the text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}
