//! App: run a parsed command line against real files and standard streams.
//!
//! This is the I/O edge: it opens inputs, drives the pure [`Scanner`] and [`Filter`], and
//! writes reports. Errors name the file they concern; a broken pipe ends the run quietly.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::cmd::cli::{
    CheckArgs, CheckFormat, ColorChoice, Command, DropChoice, FailOnChoice, FilterArgs, Format,
    GateArgs, GrammarArgs, ReadArgs, ScanArgs, StatsFormat,
};
use crate::exit;
use crate::gate::policy::{self, Baseline, FailOn, Policy};
use crate::input::live::{self, Consumer, Stop};
use crate::input::read::{self, LineInfo};
use crate::pipeline::envelope::Grammar;
use crate::pipeline::filter::{self, Filter};
use crate::pipeline::group::{SiteRules, Summary, triage};
use crate::pipeline::pair::Decided;
use crate::pipeline::scan::{Out, Prefilter, Scanner};
use crate::report::ci;
use crate::report::{self, InputReport};

/// Runs a command and returns the process exit status.
pub fn run(command: Command) -> i32 {
    let result = match command {
        Command::Scan(args) => scan(&args),
        Command::Tail(args) => crate::cmd::tail::run(&args),
        Command::Filter(args) => filter(&args),
        Command::Check(args) => check(&args),
        Command::Run(args) => crate::cmd::run::run(&args),
        Command::Grammars(args) => grammars(&args),
        Command::Completions(args) => completions(&args),
        Command::Man(args) => man(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => exit::OK,
        Err(e) => {
            // One message, possibly several lines (a TOML error shows the line it points at).
            let text = format!("{e:#}");
            let mut lines = text.lines();
            eprintln!(
                "unclosed: {}",
                crate::pipeline::escape::terminal(lines.next().unwrap_or(""))
            );
            for l in lines {
                eprintln!("  {}", crate::pipeline::escape::terminal(l));
            }
            exit::ERROR
        }
    }
}

/// Whether a file's leading bytes, from which its envelope is chosen, allow journald JSON
/// (when unsure, yes: the survey then looks for its words too).
fn head_may_be_journald(file: &std::fs::File) -> bool {
    use std::os::unix::fs::FileExt;
    let mut head = vec![0u8; crate::pipeline::scan::DETECT_BYTES + 64 * 1024];
    let mut have = 0;
    while have < head.len() {
        match file.read_at(&mut head[have..], have as u64) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    Prefilter::may_be_journald(&head[..have])
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

/// Loads the shipped grammars and the user's, the user's tried first.
pub fn load_grammars(files: &[String]) -> Result<Vec<Grammar>> {
    let mut all = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(path)
            .with_context(|| format!("{path}: cannot read grammar"))?;
        let g = Grammar::from_toml(&src).map_err(|e| anyhow!("{path}: {e}"))?;
        if !g.has_samples() {
            return Err(anyhow!(
                "{path}: a grammar needs at least one [[sample]] to be checked against"
            ));
        }
        all.push(g);
    }
    // A user's grammar of a shipped one's name replaces it.
    let builtin = Grammar::builtin()
        .into_iter()
        .filter(|b| !all.iter().any(|g: &Grammar| g.name == b.name));
    all.extend(builtin.collect::<Vec<_>>());
    Ok(all)
}

fn grammars(args: &GrammarArgs) -> Result<i32> {
    let all = load_grammars(&args.grammar_file)?;
    let mut out = io::stdout().lock();
    for g in &all {
        writeln!(out, "{:<18} {}", g.name, g.summary)?;
    }
    Ok(exit::OK)
}

/// What every reading command needs, built once from [`ReadArgs`].
pub struct Setup {
    /// The grammars, the user's first.
    pub grammars: Vec<Grammar>,
    /// `--grammar`, as an index into `grammars`.
    pub forced: Option<usize>,
    /// `--skip-frames`.
    pub rules: SiteRules,
    /// Shared literal searchers.
    pub prefilter: Prefilter,
    /// `--max-line-bytes`.
    pub max_line: usize,
    /// `--flush-ms`.
    pub flush: Duration,
}

impl Setup {
    /// Checks and loads what the options name.
    pub fn new(r: &ReadArgs) -> Result<Setup> {
        let grammars = load_grammars(&r.grammar_file)?;
        let forced =
            match r.grammar.as_deref() {
                None => None,
                Some(name) => Some(grammars.iter().position(|g| g.name == name).ok_or_else(
                    || {
                        let names: Vec<&str> = grammars.iter().map(|g| g.name.as_str()).collect();
                        anyhow!("unknown grammar '{name}'; known: {}", names.join(", "))
                    },
                )?),
            };
        let rules = SiteRules::new(&r.skip_frames)
            .context("--skip-frames")?
            .with_in_app(&r.in_app)
            .context("--in-app")?;
        if r.max_line_bytes < 1024 {
            return Err(anyhow!("--max-line-bytes must be at least 1024"));
        }
        Ok(Setup {
            grammars,
            forced,
            rules,
            prefilter: Prefilter::default(),
            max_line: r.max_line_bytes,
            flush: Duration::from_millis(r.flush_ms),
        })
    }

    /// A scanner for one input.
    pub fn scanner(&self) -> Scanner<'_> {
        Scanner::new(&self.grammars, self.forced, &self.prefilter).max_line(self.max_line)
    }
}

/// Whether to colour output on stdout.
pub fn use_color(choice: ColorChoice) -> bool {
    let var = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    color_wanted(
        choice,
        var("NO_COLOR").as_deref(),
        var("FORCE_COLOR").as_deref(),
        var("CLICOLOR_FORCE").as_deref(),
        io::stdout().is_terminal(),
    )
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

/// Where decided findings go: reported as they come (NDJSON, lists) and added up.
pub struct Sink<'w> {
    format: Format,
    out: &'w mut dyn Write,
    color: bool,
    rules: SiteRules,
    /// Everything added up.
    pub summary: Summary,
    /// The inputs, for names in reports.
    pub inputs: Vec<InputReport>,
    /// Findings reported so far (for live status lines).
    pub reported: u64,
    /// A status line is kept at the bottom of the terminal (`tail`).
    status: bool,
    status_shown: bool,
    dirty: bool,
}

impl<'w> Sink<'w> {
    /// A sink writing `format` to `out`.
    pub fn new(format: Format, out: &'w mut dyn Write, color: bool, rules: SiteRules) -> Self {
        Sink {
            format,
            out,
            color,
            rules,
            summary: Summary::default(),
            inputs: Vec::new(),
            reported: 0,
            status: false,
            status_shown: false,
            dirty: false,
        }
    }

    /// Keeps a status line at the bottom of the terminal, below the findings.
    pub fn live_status(&mut self, on: bool) {
        self.status = on;
    }

    /// Whether findings were printed since the status line was last drawn.
    pub fn status_dirty(&self) -> bool {
        self.dirty
    }

    /// Draws the status line in place (no newline, so the next draw replaces it).
    pub fn draw_status(&mut self, text: &str) -> io::Result<()> {
        write!(
            self.out,
            "\r\x1b[2K{}",
            crate::pipeline::escape::terminal(text)
        )?;
        self.status_shown = true;
        self.dirty = false;
        self.out.flush()
    }

    /// Removes the status line.
    pub fn clear_status(&mut self) -> io::Result<()> {
        if self.status_shown {
            write!(self.out, "\r\x1b[2K")?;
            self.status_shown = false;
        }
        self.out.flush()
    }

    /// Changes the format of what comes next (the final report of `tail`).
    pub fn set_format(&mut self, format: Format) {
        self.format = format;
    }

    /// Adds an input and returns its index.
    /// Renames input `i` (a followed file that was rotated away keeps its findings under the
    /// name it has now).
    pub fn rename_input(&mut self, i: usize, name: String) {
        self.inputs[i].name = name;
    }

    /// Adds an input and returns its index.
    pub fn add_input(&mut self, name: String) -> usize {
        self.inputs.push(InputReport {
            name,
            grammar: "bare".into(),
            stats: Default::default(),
            cut_lines: 0,
        });
        self.inputs.len() - 1
    }

    /// Refreshes an input's counts from its scanner.
    pub fn update_input(&mut self, i: usize, s: &Scanner<'_>) {
        let r = &mut self.inputs[i];
        if r.grammar != s.grammar() {
            r.grammar = s.grammar().to_string();
        }
        r.stats = s.stats.clone();
        r.cut_lines = s.cut_lines();
        self.summary.unread_mentions = self.inputs.iter().map(|r| r.stats.unread_mentions).sum();
    }

    /// Takes what a scanner decided for input `i`.
    pub fn take(&mut self, out: &mut Out, i: usize) -> io::Result<()> {
        out.free.clear();
        for d in out.decided.drain(..) {
            let t = match &d {
                Decided::Finding(f) => Some(triage(f, i, &self.rules)),
                _ => None,
            };
            self.add(&d, t)?;
        }
        Ok(())
    }

    /// Takes one decided item, triaged when it is a finding.
    pub fn add(
        &mut self,
        d: &Decided,
        t: Option<crate::pipeline::group::Triaged>,
    ) -> io::Result<()> {
        if let Some(t) = &t {
            self.reported += 1;
            match self.format {
                Format::Ndjson => {
                    report::write_json_line(self.out, &report::finding_json(t, &self.inputs))?;
                    self.out.flush()?;
                }
                Format::List => {
                    if self.status_shown {
                        write!(self.out, "\r\x1b[2K")?;
                        self.status_shown = false;
                    }
                    report::write_list_line(self.out, t, &self.inputs, self.color)?;
                    self.dirty = true;
                    self.out.flush()?;
                }
                Format::Table | Format::Json => {}
            }
        }
        self.summary.add(d, t.as_ref());
        Ok(())
    }

    /// The final report: the table, the JSON object, or the NDJSON summary line.
    pub fn finish(&mut self) -> io::Result<()> {
        let summary = std::mem::take(&mut self.summary);
        match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(
                    &mut *self.out,
                    &report::summary_json(&summary, &self.inputs, false),
                )?;
                writeln!(self.out)?;
            }
            Format::Ndjson => {
                serde_json::to_writer(
                    &mut *self.out,
                    &report::summary_json(&summary, &self.inputs, true),
                )?;
                writeln!(self.out)?;
            }
            Format::Table | Format::List => {
                if self.format == Format::List && summary.totals.findings > 0 {
                    writeln!(self.out)?;
                }
                report::write_table(
                    self.out,
                    &summary,
                    &self.inputs,
                    self.color,
                    io::stdout().is_terminal(),
                )?;
            }
        }
        self.summary = summary;
        self.out.flush()
    }

    /// The writer, for live status lines.
    pub fn writer(&mut self) -> &mut dyn Write {
        self.out
    }
}

/// Says on stderr that lines carried aiohttp's headers but were not read.
pub fn warn_unread(name: &str, stats: &crate::pipeline::scan::InputStats) {
    if stats.unread_mentions > 0 {
        eprintln!(
            "unclosed: warning: {}:{}: {} line(s) carry aiohttp's `Unclosed …` warning header but were not read as blocks: \
             the log's format may not be one unclosed reads (see `unclosed grammars`; try --grammar NAME or --grammar-file PATH)",
            crate::pipeline::escape::terminal(name),
            stats.first_unread.unwrap_or(0),
            stats.unread_mentions,
        );
    }
}

/// Says on stderr that lines were cut.
pub fn warn_cut(name: &str, cut: u64, max: usize) {
    if cut > 0 {
        eprintln!(
            "unclosed: warning: {}: {cut} line(s) longer than {max} bytes were cut there (--max-line-bytes)",
            crate::pipeline::escape::terminal(name)
        );
    }
}

fn scan(args: &ScanArgs) -> Result<i32> {
    let setup = Setup::new(&args.read)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut sink = Sink::new(
        args.format,
        &mut out,
        use_color(args.color),
        setup.rules.clone(),
    );
    let failed = read_files(&setup, &mut sink, &args.files, args.parallel.threads)?;
    if sink.inputs.is_empty() {
        return Ok(exit::ERROR);
    }
    sink.finish()?;
    Ok(if failed { exit::ERROR } else { exit::OK })
}

/// Reads `files` (standard input for none or `-`) into `sink`. Returns whether an input
/// could not be opened or read (said on stderr; the others are still read).
pub fn read_files(
    setup: &Setup,
    sink: &mut Sink<'_>,
    files: &[std::path::PathBuf],
    threads: usize,
) -> Result<bool> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        n => n,
    };
    let stdin = std::path::PathBuf::from("-");
    let files: Vec<std::path::PathBuf> = if files.is_empty() {
        vec![stdin.clone()]
    } else {
        files.to_vec()
    };
    let mut failed = false;
    for path in &files {
        // A name that is not UTF-8 is shown with replacement characters, and read as it is.
        let name = if *path == stdin {
            "<stdin>".to_string()
        } else {
            path.to_string_lossy().into_owned()
        };
        if *path == stdin {
            hint_if_terminal();
        }
        let reader = match read::open_input(path, threads > 1) {
            Ok(r) => r,
            Err(e) => {
                cannot_open(&name, &e);
                failed = true;
                continue;
            }
        };
        let i = sink.add_input(name.clone());
        let result = match reader {
            read::Input::Live(r) => scan_live(setup, sink, i, r),
            read::Input::Stream(mut r) => scan_file(setup, sink, i, |f| {
                read::read_into(&mut *r, setup.max_line, f)
            })
            .map(|()| Stop::Eof),
            read::Input::File(file) => {
                let prefilter = &setup.prefilter;
                let journald = match setup.forced {
                    Some(g) => setup.grammars[g].name == "journald-json",
                    None => head_may_be_journald(&file),
                };
                scan_file(setup, sink, i, |f| {
                    let survey = |chunk: &[u8]| prefilter.survey(chunk, journald);
                    read::read_file_parallel(&file, setup.max_line, threads, &survey, f)
                })
                .map(|()| Stop::Eof)
            }
        };
        match result {
            Ok(Stop::Eof) => {}
            Ok(Stop::Signal) => break,
            Err(e) if is_broken_pipe(&e) => return Err(e),
            Err(e) => {
                eprintln!(
                    "unclosed: {}: read error after line {}: {}",
                    crate::pipeline::escape::terminal(&name),
                    sink.inputs[i].stats.lines,
                    crate::pipeline::escape::terminal(&format!("{e:#}"))
                );
                failed = true;
            }
        }
        warn_cut(&name, sink.inputs[i].cut_lines, setup.max_line);
        warn_unread(&name, &sink.inputs[i].stats);
    }
    Ok(failed)
}

fn check(args: &CheckArgs) -> Result<i32> {
    let setup = Setup::new(&args.read)?;
    let gate = Gate::new(&args.gate)?;
    let mut quiet = io::sink();
    let mut sink = Sink::new(Format::Json, &mut quiet, false, setup.rules.clone());
    let failed = read_files(&setup, &mut sink, &args.files, args.parallel.threads)?;
    if sink.inputs.is_empty() {
        return Ok(exit::ERROR);
    }
    let lines: u64 = sink.inputs.iter().map(|i| i.stats.lines).sum();
    if lines == 0 && !args.allow_empty {
        eprintln!(
            "unclosed: no input lines: a check of an empty log proves nothing (did the step capture \
             its output?); --allow-empty passes it"
        );
        let code = gate.report(&sink.summary, &sink.inputs)?;
        return Ok(if failed || code == exit::ERROR {
            exit::ERROR
        } else {
            exit::POLICY
        });
    }
    let code = gate.report(&sink.summary, &sink.inputs)?;
    Ok(if failed { exit::ERROR } else { code })
}

/// The policy, the baseline and where the report goes: `check` and `run`.
pub struct Gate<'a> {
    args: &'a GateArgs,
    policy: Policy,
    baseline: Option<Baseline>,
    /// Documents (JSON, JUnit, SARIF, Markdown) go to stderr when no `--output` names a file:
    /// under `run`, stdout carries the command's own output.
    documents_to_stderr: bool,
}

impl<'a> Gate<'a> {
    /// Reads the baseline the options name.
    pub fn new(args: &'a GateArgs) -> Result<Gate<'a>> {
        let mut fail_on = FailOn {
            leak: false,
            noise: false,
            unknown: false,
        };
        if args.fail_on.is_empty() {
            fail_on = FailOn::default();
        }
        for f in &args.fail_on {
            match f {
                FailOnChoice::Leak => fail_on.leak = true,
                FailOnChoice::Noise => fail_on.noise = true,
                FailOnChoice::Unknown => fail_on.unknown = true,
                FailOnChoice::Any => {
                    fail_on = FailOn {
                        leak: true,
                        noise: true,
                        unknown: true,
                    }
                }
            }
        }
        let baseline = match &args.baseline {
            None => None,
            Some(path) => {
                let name = path.display();
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("{name}: cannot read the baseline"))?;
                Some(Baseline::parse(&text).map_err(|e| anyhow!("{name}: {e}"))?)
            }
        };
        Ok(Gate {
            args,
            policy: Policy {
                fail_on,
                max_pooled: args.max_pooled_connections,
                allow_unread: args.allow_unread,
            },
            baseline,
            documents_to_stderr: false,
        })
    }

    /// The gate of `unclosed run`: a document report never lands in the command's stdout.
    pub fn for_run(mut self) -> Self {
        self.documents_to_stderr = true;
        self
    }

    /// Writes the baseline or the report, and returns the exit status the policy gives.
    pub fn report(&self, summary: &Summary, inputs: &[InputReport]) -> Result<i32> {
        match self.write_report(summary, inputs) {
            // `… | head`: the report is cut short, but the exit status is the policy's.
            Err(e) if is_broken_pipe(&e) => {
                let verdict = policy::evaluate(summary, &self.policy, self.baseline.as_ref());
                let failed = self.args.write_baseline.is_none() && verdict.failed();
                Ok(if failed { exit::POLICY } else { exit::OK })
            }
            other => other,
        }
    }

    fn write_report(&self, summary: &Summary, inputs: &[InputReport]) -> Result<i32> {
        let document = !matches!(self.args.format, CheckFormat::Table | CheckFormat::Github);
        let mut out: Box<dyn Write> = if self.args.quiet {
            Box::new(io::sink())
        } else if self.documents_to_stderr && document && self.args.output.is_none() {
            Box::new(io::BufWriter::new(io::stderr().lock()))
        } else {
            Box::new(io::BufWriter::new(io::stdout().lock()))
        };
        let color = use_color(self.args.color);
        let tty = io::stdout().is_terminal();
        if let Some(path) = &self.args.write_baseline {
            let text = Baseline::write(summary);
            std::fs::write(path, &text)
                .with_context(|| format!("{}: cannot write the baseline", path.display()))?;
            report::write_table(&mut out, summary, inputs, color, tty)?;
            let n = text
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .count();
            writeln!(
                out,
                "Wrote {n} call site{} to the baseline {}.",
                if n == 1 { "" } else { "s" },
                crate::pipeline::escape::terminal(&path.display().to_string())
            )?;
            out.flush()?;
            return Ok(exit::OK);
        }
        let verdict = policy::evaluate(summary, &self.policy, self.baseline.as_ref());
        let rendered = match self.args.format {
            CheckFormat::Table => {
                let mut b = Vec::new();
                report::write_table(
                    &mut b,
                    summary,
                    inputs,
                    color && self.args.output.is_none(),
                    tty,
                )?;
                report::write_verdict(&mut b, &verdict, color && self.args.output.is_none())?;
                b
            }
            CheckFormat::Json => {
                let mut b =
                    serde_json::to_vec_pretty(&report::check_json(summary, inputs, &verdict))?;
                b.push(b'\n');
                b
            }
            CheckFormat::Markdown => ci::markdown(&verdict, summary, inputs).into_bytes(),
            CheckFormat::Junit => ci::junit(&verdict).into_bytes(),
            CheckFormat::Github => {
                let ws = std::env::var("GITHUB_WORKSPACE").ok();
                ci::github(&verdict, ws.as_deref()).into_bytes()
            }
            CheckFormat::Sarif => {
                let ws = std::env::var("GITHUB_WORKSPACE").ok();
                let mut b = serde_json::to_vec_pretty(&ci::sarif(&verdict, inputs, ws.as_deref()))?;
                b.push(b'\n');
                b
            }
        };
        match &self.args.output {
            Some(path) => {
                std::fs::write(path, &rendered)
                    .with_context(|| format!("{}: cannot write the report", path.display()))?;
                report::write_table(&mut out, summary, inputs, color, tty)?;
                report::write_verdict(&mut out, &verdict, color)?;
            }
            None => out.write_all(&rendered)?,
        }
        out.flush()?;
        Ok(if verdict.failed() {
            exit::POLICY
        } else {
            exit::OK
        })
    }
}

/// One input of `scan` or `check`: lines go straight to the scanner, findings to the sink
/// as they are decided. Read to its end from a file, or live from standard input.
struct ScanInput<'a, 's, 'w> {
    scanner: Scanner<'s>,
    sink: &'a mut Sink<'w>,
    input: usize,
    out: Out,
}

impl ScanInput<'_, '_, '_> {
    fn report(&mut self) -> io::Result<()> {
        self.out.free.clear();
        if !self.out.decided.is_empty() {
            self.sink.update_input(self.input, &self.scanner);
            self.sink.take(&mut self.out, self.input)?;
        }
        Ok(())
    }
}

impl read::LineSink for ScanInput<'_, '_, '_> {
    type Error = anyhow::Error;

    fn skip(&mut self, buf: &[u8], ahead: read::Lookahead<'_>) -> usize {
        self.scanner.skip_idle(buf, ahead)
    }

    fn line(&mut self, _raw: &[u8], line: &[u8], info: LineInfo) -> Result<()> {
        self.scanner.push_line(line, info, &mut self.out);
        Ok(self.report()?)
    }

    fn text_line(&mut self, _raw: &[u8], line: &str, info: LineInfo) -> Result<()> {
        self.scanner.push_text(line, info, &mut self.out);
        Ok(self.report()?)
    }
}

impl Consumer for ScanInput<'_, '_, '_> {
    fn skip(&mut self, buf: &[u8]) -> usize {
        self.scanner.skip_idle(buf, read::Lookahead::UNKNOWN)
    }

    fn line(&mut self, raw: &[u8], line: &[u8], info: LineInfo) -> Result<()> {
        read::LineSink::line(self, raw, line, info)
    }

    fn oldest_held(&self) -> Option<u64> {
        self.scanner.oldest_held()
    }

    fn flush(&mut self) -> Result<()> {
        self.scanner.finish(&mut self.out);
        self.sink.update_input(self.input, &self.scanner);
        Ok(self.report()?)
    }

    fn holding_streams(&self) -> Vec<(String, u64)> {
        self.scanner.holding_streams()
    }

    fn flush_stream(&mut self, key: &str) -> Result<()> {
        self.scanner.finish_stream(key, &mut self.out);
        self.sink.update_input(self.input, &self.scanner);
        Ok(self.report()?)
    }
}

/// Reads a file through to its end: no timers needed, nothing waits on the clock.
fn scan_file(
    setup: &Setup,
    sink: &mut Sink<'_>,
    i: usize,
    read: impl FnOnce(&mut ScanInput<'_, '_, '_>) -> Result<()>,
) -> Result<()> {
    let mut f = ScanInput {
        scanner: setup.scanner(),
        sink,
        input: i,
        out: Out::default(),
    };
    let result = read(&mut f);
    // What was read before an error still counts: decide it.
    f.scanner.finish(&mut f.out);
    f.sink.update_input(i, &f.scanner);
    f.sink.take(&mut f.out, i)?;
    result
}

fn scan_live(
    setup: &Setup,
    sink: &mut Sink<'_>,
    i: usize,
    reader: Box<dyn io::Read + Send>,
) -> Result<Stop> {
    let chunks = live::spawn_sniffing_reader(reader);
    let mut consumer = ScanInput {
        scanner: setup.scanner(),
        sink,
        input: i,
        out: Out::default(),
    };
    live::drive(chunks, &mut consumer, setup.max_line, setup.flush)
}

/// `filter`: stdin to stdout.
struct LiveFilter<'a, 'o, 'w> {
    filter: Filter<'a>,
    out: &'o mut dyn Write,
    buf: Vec<u8>,
    /// The input's index in the sink.
    input: usize,
    sink: Option<Sink<'w>>,
}

impl LiveFilter<'_, '_, '_> {
    fn write(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.out.flush()?;
            self.buf.clear();
        }
        if let Some(sink) = &mut self.sink {
            sink.update_input(self.input, self.filter.scanner());
            for (d, t) in self.filter.triaged.drain(..) {
                sink.add(&d, t)?;
            }
        } else {
            self.filter.triaged.clear();
        }
        Ok(())
    }
}

impl Consumer for LiveFilter<'_, '_, '_> {
    fn line(&mut self, raw: &[u8], line: &[u8], info: LineInfo) -> Result<()> {
        self.filter.push(raw, line, info, &mut self.buf);
        self.write()
    }

    fn oldest_held(&self) -> Option<u64> {
        self.filter.oldest_held()
    }

    fn flush(&mut self) -> Result<()> {
        self.filter.flush(&mut self.buf);
        self.write()
    }

    fn holding_streams(&self) -> Vec<(String, u64)> {
        self.filter.scanner().holding_streams()
    }

    fn flush_stream(&mut self, key: &str) -> Result<()> {
        self.filter.flush_stream(key, &mut self.buf);
        self.write()
    }
}

fn drop_set(choices: &[DropChoice]) -> filter::Drop {
    if choices.is_empty() {
        return filter::Drop::default();
    }
    let mut d = filter::Drop {
        leak: false,
        noise: false,
        unknown: false,
    };
    for c in choices {
        match c {
            DropChoice::Noise => d.noise = true,
            DropChoice::Leak => d.leak = true,
            DropChoice::Unknown => d.unknown = true,
            DropChoice::All => {
                d = filter::Drop {
                    leak: true,
                    noise: true,
                    unknown: true,
                }
            }
            DropChoice::None => {
                d = filter::Drop {
                    leak: false,
                    noise: false,
                    unknown: false,
                }
            }
        }
    }
    d
}

fn filter(args: &FilterArgs) -> Result<i32> {
    let setup = Setup::new(&args.read)?;
    let stdin = std::path::PathBuf::from("-");
    let files = if args.files.is_empty() {
        std::slice::from_ref(&stdin)
    } else {
        &args.files[..]
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut err_buf: Vec<u8> = Vec::new();
    let format = match args.stats {
        Some(StatsFormat::Json) => Format::Json,
        _ => Format::Table,
    };
    let mut sink = args
        .stats
        .map(|_| Sink::new(format, &mut err_buf, false, setup.rules.clone()));
    let mut failed = false;
    for path in files {
        let name = if *path == stdin {
            "<stdin>".to_owned()
        } else {
            path.display().to_string()
        };
        if *path == stdin {
            hint_if_terminal();
        }
        let reader = match read::open_raw(path) {
            Ok(r) => r,
            Err(e) => {
                cannot_open(&name, &e);
                failed = true;
                continue;
            }
        };
        let input = sink.as_mut().map_or(0, |s| s.add_input(name.clone()));
        let mut consumer = LiveFilter {
            filter: Filter::new(
                setup.scanner(),
                setup.rules.clone(),
                drop_set(&args.drop),
                args.annotate,
            ),
            out: &mut out,
            buf: Vec::new(),
            input,
            sink: sink.take(),
        };
        let chunks = live::spawn_sniffing_reader(reader);
        let result = live::drive(chunks, &mut consumer, setup.max_line, setup.flush);
        let cut = consumer.filter.scanner().cut_lines();
        if let Some(s) = &mut consumer.sink {
            s.update_input(input, consumer.filter.scanner());
        }
        sink = consumer.sink.take();
        warn_cut(&name, cut, setup.max_line);
        match result {
            Ok(live::Stop::Eof) => {}
            Ok(live::Stop::Signal) => break,
            Err(e) if is_broken_pipe(&e) => return Err(e),
            Err(e) => {
                eprintln!(
                    "unclosed: {}: read error: {}",
                    crate::pipeline::escape::terminal(&name),
                    crate::pipeline::escape::terminal(&format!("{e:#}"))
                );
                failed = true;
            }
        }
    }
    if let Some(mut s) = sink {
        s.finish()?;
    }
    io::stderr().write_all(&err_buf)?;
    Ok(if failed { exit::ERROR } else { exit::OK })
}

/// Says an input cannot be opened. Like ripgrep, the caller goes on with the other inputs
/// and exits 2 at the end.
fn cannot_open(name: &str, e: &io::Error) {
    eprintln!("unclosed: {}: {e}", crate::pipeline::escape::terminal(name));
}

/// Says on stderr that input is awaited from a terminal, as a user who typed the command
/// without a pipe would otherwise see a tool that seems to hang.
fn hint_if_terminal() {
    if io::stdin().is_terminal() {
        eprintln!(
            "unclosed: reading a log from the terminal (pipe one in or name a file; Ctrl-D ends, \
             --help shows how)"
        );
    }
}

/// `unclosed completions SHELL`: the script, from the same definitions as `--help`.
fn completions(args: &crate::cmd::cli::CompletionsArgs) -> Result<i32> {
    use clap::CommandFactory;
    let mut cmd = crate::cmd::cli::Cli::command();
    let mut out = io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "unclosed", &mut out);
    out.flush()?;
    Ok(exit::OK)
}

/// `unclosed man [DIR]`: the main page on stdout, or every page into DIR.
fn man(args: &crate::cmd::cli::ManArgs) -> Result<i32> {
    use clap::CommandFactory;
    let cmd = crate::cmd::cli::Cli::command();
    let Some(dir) = &args.dir else {
        let mut out = io::stdout().lock();
        clap_mangen::Man::new(cmd).render(&mut out)?;
        out.flush()?;
        return Ok(exit::OK);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut pages = vec![("unclosed".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("unclosed-{}", sub.get_name());
        pages.push((
            name.clone(),
            sub.clone()
                .display_name(name)
                .version(env!("CARGO_PKG_VERSION")),
        ));
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        std::fs::write(&path, buf).with_context(|| format!("{}: cannot write", path.display()))?;
        println!(
            "{}",
            crate::pipeline::escape::terminal(&path.display().to_string())
        );
    }
    Ok(exit::OK)
}
