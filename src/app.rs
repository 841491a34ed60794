//! App: run a parsed command line against real files and standard streams.
//!
//! This is the I/O edge: it opens inputs, drives the pure [`Scanner`], and writes reports.
//! Errors name the file they concern; a broken pipe ends the run quietly.

use std::io::{self, IsTerminal, Write};

use anyhow::{Context, Result, anyhow};

use crate::cli::{ColorChoice, Command, Format, GrammarArgs, ReadArgs, ScanArgs};
use crate::envelope::Grammar;
use crate::exit;
use crate::group::{SiteRules, Summary, triage};
use crate::pair::Decided;
use crate::read;
use crate::report::{self, InputReport};
use crate::scan::{Prefilter, Scanner};

/// Runs a command and returns the process exit status.
pub fn run(command: Command) -> i32 {
    let result = match command {
        Command::Scan(args) => scan(&args),
        Command::Grammars(args) => grammars(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => exit::OK,
        Err(e) => {
            eprintln!("unclosed: {}", crate::escape::terminal(&format!("{e:#}")));
            exit::ERROR
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Loads the shipped grammars and the user's, the user's tried first.
pub fn load_grammars(files: &[String]) -> Result<Vec<Grammar>> {
    let mut all = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(path)
            .with_context(|| format!("{path}: cannot read grammar"))?;
        let g = Grammar::from_toml(&src).map_err(|e| anyhow!("{path}: {e}"))?;
        all.push(g);
    }
    all.extend(Grammar::builtin());
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

/// Where findings go while inputs are read.
struct Sink<'a> {
    format: Format,
    out: &'a mut dyn Write,
    summary: Summary,
    rules: SiteRules,
}

impl Sink<'_> {
    fn take(
        &mut self,
        decided: &mut Vec<Decided>,
        input: usize,
        inputs: &[InputReport],
    ) -> io::Result<()> {
        for d in decided.drain(..) {
            let t = match &d {
                Decided::Finding(f) => Some(triage(f, input, &self.rules)),
                Decided::Related(_) => None,
            };
            if let Some(t) = &t {
                match self.format {
                    Format::Ndjson => {
                        report::write_json_line(self.out, &report::finding_json(t, inputs))?;
                        self.out.flush()?;
                    }
                    Format::List => report::write_list_line(self.out, t, inputs)?,
                    Format::Table | Format::Json => {}
                }
            }
            self.summary.add(&d, t.as_ref());
        }
        Ok(())
    }
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
        }
    }
}

/// The grammar index `--grammar` names.
fn forced_grammar(all: &[Grammar], name: Option<&str>) -> Result<Option<usize>> {
    let Some(name) = name else { return Ok(None) };
    match all.iter().position(|g| g.name == name) {
        Some(i) => Ok(Some(i)),
        None => {
            let names: Vec<&str> = all.iter().map(|g| g.name.as_str()).collect();
            Err(anyhow!(
                "unknown grammar '{name}'; known: {}",
                names.join(", ")
            ))
        }
    }
}

fn scan(args: &ScanArgs) -> Result<i32> {
    let r: &ReadArgs = &args.read;
    let all = load_grammars(&r.grammar_file)?;
    let forced = forced_grammar(&all, r.grammar.as_deref())?;
    let rules = SiteRules::new(&r.skip_frames).context("--skip-frames")?;
    if r.max_line_bytes < 1024 {
        return Err(anyhow!("--max-line-bytes must be at least 1024"));
    }
    let files: Vec<String> = if r.files.is_empty() {
        vec!["-".into()]
    } else {
        r.files.clone()
    };
    let prefilter = Prefilter::default();
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut sink = Sink {
        format: args.format,
        out: &mut out,
        summary: Summary::default(),
        rules,
    };
    let mut inputs: Vec<InputReport> = Vec::new();
    let mut failed = false;

    for path in &files {
        let name = if path == "-" {
            "<stdin>".to_string()
        } else {
            path.clone()
        };
        let mut reader = match read::open(path) {
            Ok(r) => r,
            Err(e) => {
                // Like ripgrep: say so, go on with the other inputs, exit 2 at the end.
                eprintln!("unclosed: {}: {e}", crate::escape::terminal(&name));
                failed = true;
                continue;
            }
        };
        let i = inputs.len();
        inputs.push(InputReport {
            name: name.clone(),
            grammar: String::new(),
            stats: Default::default(),
            cut_lines: 0,
        });
        let mut scanner = Scanner::new(&all, forced, &prefilter);
        let mut decided = Vec::new();
        let read_result =
            read::lines::<_, anyhow::Error>(&mut *reader, r.max_line_bytes, |line, cut| {
                scanner.push_line(line, cut, &mut decided);
                if !decided.is_empty() {
                    inputs[i].grammar = scanner.grammar().to_string();
                    sink.take(&mut decided, i, &inputs)?;
                }
                Ok(())
            });
        // What was read before an error still counts: decide it.
        scanner.finish(&mut decided);
        inputs[i].grammar = scanner.grammar().to_string();
        inputs[i].stats = scanner.stats.clone();
        inputs[i].cut_lines = scanner.cut_lines();
        sink.take(&mut decided, i, &inputs)?;
        if let Err(e) = read_result {
            if is_broken_pipe(&e) {
                return Err(e);
            }
            eprintln!(
                "unclosed: {}: read error after line {}: {}",
                crate::escape::terminal(&name),
                inputs[i].stats.lines,
                crate::escape::terminal(&format!("{e:#}"))
            );
            failed = true;
        }
        if inputs[i].cut_lines > 0 {
            eprintln!(
                "unclosed: warning: {}: {} line(s) longer than {} bytes were cut there (--max-line-bytes)",
                crate::escape::terminal(&name),
                inputs[i].cut_lines,
                r.max_line_bytes
            );
        }
    }
    if inputs.is_empty() {
        return Ok(exit::ERROR);
    }

    let summary = std::mem::take(&mut sink.summary);
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report::summary_json(&summary, &inputs))?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            let mut v = report::summary_json(&summary, &inputs);
            if let Some(m) = v.as_object_mut() {
                m.insert("type".into(), "summary".into());
            }
            report::write_json_line(&mut out, &v)?;
        }
        Format::Table | Format::List => {
            if args.format == Format::List && summary.totals.findings > 0 {
                writeln!(out)?;
            }
            report::write_table(
                &mut out,
                &summary,
                &inputs,
                use_color(args.color),
                io::stdout().is_terminal(),
            )?;
        }
    }
    out.flush()?;
    Ok(if failed { exit::ERROR } else { exit::OK })
}
