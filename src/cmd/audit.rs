//! `unclosed audit`: walk Python source like ripgrep, audit each file (in parallel), apply
//! the policy and write the report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{Context, Result};
use ignore::overrides::OverrideBuilder;
use ignore::{WalkBuilder, WalkState};

use crate::audit::{FileAudit, Verdict, audit_source, resolve_across};
use crate::cmd::cli::{AuditArgs, AuditFailOn, AuditFormat};
use crate::cmd::io::Io;
use crate::cmd::scan::Reading;
use crate::cmd::setup::Setup;
use crate::cmd::tally::Tally;
use crate::exit;
use crate::pipeline::escape::terminal;
use crate::report::audit::{self as write, AuditReport, Entry};

/// What happened to one file.
struct Audited {
    path: String,
    outcome: Result<FileAudit, String>,
    /// It could not be read (an error, exit 2), not merely left unparsed.
    unreadable: bool,
}

/// Audits the paths and reports.
pub fn run(args: &AuditArgs, io: &mut Io<'_>) -> Result<i32> {
    let fail_on = fail_on(&args.fail_on);
    let baseline = crate::cmd::gate::read_baseline(args.baseline.as_deref())?;
    let (audited, mut report, mut failed) = audit_paths(args, io.err)?;
    for (path, audit) in audited {
        for c in audit.constructions {
            let fingerprint = c.fingerprint(&path);
            let baselined = baseline.as_ref().is_some_and(|b| b.accepts(&fingerprint));
            let fails = fail_on.contains(&c.verdict) && !c.suppressed && !baselined;
            report.entries.push(Entry {
                file: path.clone(),
                construction: c,
                fingerprint,
                fails,
                baselined,
                confirmed: None,
            });
        }
    }
    if !args.log.is_empty() {
        failed |= join_logs(args, io, &mut report)?;
    }
    if let Some(path) = &args.write_baseline {
        std::fs::write(path, baseline_text(&report))
            .with_context(|| format!("{}: cannot write the baseline", path.display()))?;
        for e in &mut report.entries {
            e.fails = false;
        }
    }
    let workspace = io.env.github_workspace.clone();
    let mut out = std::io::BufWriter::new(&mut *io.out);
    match args.format {
        AuditFormat::Text => {
            let color = io.env.color(args.color);
            out.write_all(write::text(&report, args.all, args.verbose, color).as_bytes())?;
        }
        AuditFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &write::json(&report))?;
            writeln!(out)?;
        }
        AuditFormat::Sarif => {
            let v = write::sarif(&report, args.all, workspace.as_deref());
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        AuditFormat::Github => {
            out.write_all(write::github(&report, workspace.as_deref()).as_bytes())?;
        }
    }
    out.flush()?;
    Ok(if failed {
        exit::ERROR
    } else if report.failed() {
        exit::POLICY
    } else {
        exit::OK
    })
}

/// A file's path and its audit.
type PathAudit = (String, FileAudit);

/// Walks and audits the paths: each file's audit (factories resolved across them), the
/// report's file counts, and whether a path could not be walked or read.
fn audit_paths(
    args: &AuditArgs,
    err: &mut dyn Write,
) -> Result<(Vec<PathAudit>, AuditReport, bool)> {
    let (files, mut failed) = walk(args, err)?;
    let mut report = AuditReport::default();
    let mut audited = Vec::new();
    for f in files {
        report.scanned += 1;
        let audit = match f.outcome {
            Ok(a) => a,
            Err(e) => {
                report.skipped += 1;
                failed |= f.unreadable;
                let _ = writeln!(
                    err,
                    "unclosed: {}: skipped: {}",
                    terminal(&f.path),
                    terminal(&e)
                );
                continue;
            }
        };
        if let Some((line, column)) = audit.syntax_error {
            report.parse_errors += 1;
            let _ = writeln!(
                err,
                "unclosed: {}:{line}:{column}: syntax error; constructions in the code around it are unknown",
                terminal(&f.path)
            );
        }
        audited.push((f.path, audit));
    }
    resolve_across(&mut audited);
    Ok((audited, report, failed))
}

/// Audits `paths` as `unclosed audit PATH…` does by default, for `scan`/`check --audit`:
/// every construction (no policy), and whether a path could not be walked or read.
pub fn for_sites(paths: &[PathBuf], err: &mut dyn Write) -> Result<(AuditReport, bool)> {
    use clap::{Args, FromArgMatches};
    let command = AuditArgs::augment_args(clap::Command::new("audit"));
    let argv = ["audit".into(), "--".into()]
        .into_iter()
        .chain(paths.iter().map(|p| p.clone().into_os_string()));
    let matches = command.try_get_matches_from(argv)?;
    let args = AuditArgs::from_arg_matches(&matches)?;
    let (audited, mut report, failed) = audit_paths(&args, err)?;
    for (path, audit) in audited {
        for c in audit.constructions {
            report.entries.push(Entry {
                fingerprint: c.fingerprint(&path),
                file: path.clone(),
                construction: c,
                fails: false,
                baselined: false,
                confirmed: None,
            });
        }
    }
    Ok((report, failed))
}

/// Reads each log like `scan` and marks the constructions its findings point at.
/// Returns whether a log could not be read.
fn join_logs(args: &AuditArgs, io: &mut Io<'_>, report: &mut AuditReport) -> Result<bool> {
    let setup = Setup::new(&args.read)?;
    let mut failed = false;
    for log in &args.log {
        let mut tally = Tally::new(setup.rules.clone());
        let reading = Reading {
            setup: &setup,
            threads: 0,
            err: &mut *io.err,
            env: &io.env,
        };
        failed |= reading.files(std::slice::from_ref(log), &mut tally, &mut ())?;
        if let Some(input) = tally.inputs.first() {
            write::join(report, &tally.summary, &input.name);
        }
    }
    Ok(failed)
}

/// The verdicts `--fail-on` names (every bug by default).
fn fail_on(choices: &[AuditFailOn]) -> Vec<Verdict> {
    let bugs = [
        Verdict::PerCall,
        Verdict::CloseNotGuaranteed,
        Verdict::OwnedNeverClosed,
        Verdict::AsyncioRunPerCall,
        Verdict::SharedConnectorNeverClosed,
    ];
    if choices.is_empty() {
        return bugs.to_vec();
    }
    let mut out = Vec::new();
    for c in choices {
        match c {
            AuditFailOn::Bug => out.extend(bugs),
            AuditFailOn::PerCall => out.push(Verdict::PerCall),
            AuditFailOn::CloseNotGuaranteed => out.push(Verdict::CloseNotGuaranteed),
            AuditFailOn::OwnedNeverClosed => out.push(Verdict::OwnedNeverClosed),
            AuditFailOn::AsyncioRunPerCall => out.push(Verdict::AsyncioRunPerCall),
            AuditFailOn::SharedConnectorNeverClosed => {
                out.push(Verdict::SharedConnectorNeverClosed)
            }
            AuditFailOn::Unknown => out.push(Verdict::Unknown),
            AuditFailOn::None => {}
        }
    }
    out
}

fn baseline_text(r: &AuditReport) -> String {
    let mut out = String::from(
        "# unclosed audit baseline: constructions accepted as they are.\n# One fingerprint per line, from the file's path, function, source line and verdict (not the\n# line number): a moved construction stays accepted, a changed one does not.\n",
    );
    for e in r.entries.iter().filter(|e| e.fails) {
        let c = &e.construction;
        out.push_str(&format!(
            "# {}:{} {} {}\n{}\n",
            e.file.replace('\n', " "),
            c.line,
            c.verdict.name(),
            c.owner.replace('\n', " "),
            e.fingerprint
        ));
    }
    out
}

/// Walks the paths (gitignore, hidden files, globs) and audits every Python file, in
/// parallel; the results by path. Returns whether a path could not be walked or read.
fn walk(args: &AuditArgs, err: &mut dyn Write) -> Result<(Vec<Audited>, bool)> {
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut builder = WalkBuilder::new(&paths[0]);
    for p in &paths[1..] {
        builder.add(p);
    }
    let respect = !args.no_ignore;
    builder
        .hidden(!args.hidden)
        .ignore(respect)
        .git_ignore(respect)
        .git_global(respect)
        .git_exclude(respect)
        .parents(respect);
    if !args.glob.is_empty() {
        let mut o = OverrideBuilder::new(".");
        for g in &args.glob {
            o.add(g).with_context(|| format!("--glob {g}"))?;
        }
        builder.overrides(o.build().context("--glob")?);
    }
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let (tx, rx) = mpsc::channel::<Result<Audited, String>>();
    if threads == 1 {
        for entry in builder.build() {
            if let Some(r) = visit(entry) {
                let _ = tx.send(r);
            }
        }
    } else {
        builder.threads(threads).build_parallel().run(|| {
            let tx = tx.clone();
            Box::new(move |entry| {
                if let Some(r) = visit(entry) {
                    let _ = tx.send(r);
                }
                WalkState::Continue
            })
        });
    }
    drop(tx);
    let mut failed = false;
    let mut files = Vec::new();
    for r in rx {
        match r {
            Ok(a) => files.push(a),
            Err(e) => {
                failed = true;
                let _ = writeln!(err, "unclosed: {}", terminal(&e));
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, failed))
}

/// Audits one walked entry if it is a Python file (or a file named on the command line).
fn visit(entry: Result<ignore::DirEntry, ignore::Error>) -> Option<Result<Audited, String>> {
    let entry = match entry {
        Ok(e) => e,
        Err(e) => return Some(Err(e.to_string())),
    };
    let is_file = entry.file_type().is_some_and(|t| t.is_file());
    let python = entry.path().extension().is_some_and(|x| x == "py");
    if !is_file || !(python || entry.depth() == 0) {
        return None;
    }
    Some(Ok(audit_file(entry.path())))
}

fn audit_file(path: &Path) -> Audited {
    let name = path.to_string_lossy().into_owned();
    let (outcome, unreadable) = match std::fs::read(path) {
        Ok(bytes) => (audit_source(&bytes).map_err(|e| e.to_string()), false),
        Err(e) => (Err(e.to_string()), true),
    };
    Audited {
        path: name,
        outcome,
        unreadable,
    }
}

#[cfg(test)]
mod site_tests;
#[cfg(test)]
mod tests;
