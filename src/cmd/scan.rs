//! `unclosed scan`: read logs to their end (or standard input live) and report the findings.
//!
//! Files are read by reader threads ([`read::read_file_parallel`]); standard input, a pipe or
//! a terminal through [`live::drive`], so a finding is reported when its stream goes quiet.
//! Errors name the file they concern; a broken pipe ends the run quietly.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;

use crate::cmd::cli::{Format, ScanArgs};
use crate::cmd::io::{self as say, Env, Io, is_broken_pipe};
use crate::cmd::metrics;
use crate::cmd::printer::Printer;
use crate::cmd::setup::Setup;
use crate::cmd::tally::{Show, Tally};
use crate::exit;
use crate::input::live::{self, Consumer, Held, Stop};
use crate::input::read::{self, LineInfo};
use crate::pipeline::scan::{Out, Scanner};

mod parts;

/// Scans the files (standard input for none) and prints the report.
pub fn run(args: &ScanArgs, io: &mut Io<'_>) -> Result<i32> {
    let setup = Setup::new(&args.read)?;
    let Io { out, err, env } = io;
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, &mut **out);
    let mut printer = Printer::new(
        args.format,
        &mut buffered,
        env.color(args.color),
        env.stdout_width,
    );
    if env.stdout_terminal && matches!(args.format, Format::Table | Format::List) {
        printer.keep_status_line();
    }
    let mut audit_failed = false;
    if !args.audit.is_empty() {
        let (audit, failed) = crate::cmd::audit::for_sites(&args.audit, &mut **err)?;
        printer.set_audit(audit);
        audit_failed = failed;
    }
    let mut tally = Tally::new(setup.rules.clone());
    // --metrics: served from a thread while the inputs are read.
    let _metrics = metrics::start(&args.metrics, None, &mut tally, &mut **err)?;
    let reading = Reading {
        setup: &setup,
        threads: args.parallel.threads,
        err: &mut **err,
        env,
    };
    let failed = reading.files(&args.files, &mut tally, &mut printer)? | audit_failed;
    if tally.inputs.is_empty() {
        return Ok(exit::ERROR);
    }
    printer.finish(&tally)?;
    buffered.flush()?;
    Ok(if failed { exit::ERROR } else { exit::OK })
}

fn file_len(file: &std::fs::File) -> u64 {
    file.metadata().map_or(0, |m| m.len())
}

/// How `scan` and `check` read their inputs.
pub struct Reading<'a> {
    /// What the options built.
    pub setup: &'a Setup,
    /// `-j`: reader threads per file (0: as many as the machine has, up to 4).
    pub threads: usize,
    /// Where warnings go.
    pub err: &'a mut dyn Write,
    /// The environment (whether standard input is a terminal).
    pub env: &'a Env,
}

impl Reading<'_> {
    /// Reads `files` (standard input for none or `-`) into `tally`, showing findings on
    /// `show` as they are decided. Returns whether an input could not be opened or read
    /// (said on stderr; the others are still read).
    pub fn files(self, files: &[PathBuf], tally: &mut Tally, show: &mut dyn Show) -> Result<bool> {
        let setup = self.setup;
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            n => n,
        };
        let stdin = PathBuf::from("-");
        let files: Vec<PathBuf> = if files.is_empty() {
            vec![stdin.clone()]
        } else {
            files.to_vec()
        };
        let mut failed = false;
        for path in &files {
            // A name that is not UTF-8 is shown with replacement characters, and read as it is.
            let name = if *path == stdin {
                say::hint_if_terminal(self.err, self.env);
                "<stdin>".to_string()
            } else {
                path.to_string_lossy().into_owned()
            };
            let reader = match read::open_input(path, threads > 1) {
                Ok(r) => r,
                Err(e) => {
                    say::cannot_open(self.err, &name, &e);
                    failed = true;
                    continue;
                }
            };
            let i = tally.add_input(name.clone());
            // A report that shows each finding as it comes needs them in order, and so do
            // metrics (each is observed as it is decided).
            let in_parts = !show.shows_each() && tally.metrics.is_none();
            let mut input = ScanInput {
                scanner: setup.scanner(),
                tally: &mut *tally,
                show: &mut *show,
                input: i,
                out: Out::default(),
            };
            let result = match reader {
                read::Input::Live(r) => {
                    let chunks = live::spawn_sniffing_reader(r);
                    live::drive(chunks, &mut input, setup.max_line, setup.flush)
                }
                read::Input::Stream(mut r) => input
                    .read_through(|f| read::read_into(&mut *r, setup.max_line, f))
                    .map(|()| Stop::Eof),
                read::Input::File(file) => {
                    // A file large enough is read in parts, one thread each.
                    let len = file_len(&file);
                    let sizes = parts::Sizes::DEFAULT;
                    let n = sizes.parts(len, threads);
                    let (tally, show) = (&mut *input.tally, &mut *input.show);
                    let joined = if in_parts
                        && n > 1
                        && parts::pays(&file, len, &setup.prefilter).unwrap_or(false)
                    {
                        parts::read_in_parts(&file, len, n, sizes, setup, tally, i, show)
                    } else {
                        Ok(false)
                    };
                    match joined {
                        Ok(true) => Ok(Stop::Eof),
                        Err(e) => Err(e),
                        Ok(false) => {
                            let journald = setup.may_be_journald(&file);
                            let prefilter = &setup.prefilter;
                            let survey = |chunk: &[u8]| prefilter.survey(chunk, journald);
                            input
                                .read_through(|f| {
                                    read::read_file_parallel(
                                        &file,
                                        setup.max_line,
                                        threads,
                                        &survey,
                                        f,
                                    )
                                })
                                .map(|()| Stop::Eof)
                        }
                    }
                }
            };
            match result {
                Ok(Stop::Eof) => {}
                Ok(Stop::Signal) => break,
                Err(e) if is_broken_pipe(&e) => return Err(e),
                Err(e) => {
                    let lines = tally.inputs[i].stats.lines;
                    say::read_error(self.err, &name, Some(lines), &e);
                    failed = true;
                }
            }
            say::warn_cut(self.err, &name, tally.inputs[i].cut_lines, setup.max_line);
            say::warn_unread(self.err, &name, &tally.inputs[i].stats);
        }
        self.err.flush()?;
        Ok(failed)
    }
}

/// One input of `scan` or `check`: lines go straight to the scanner, findings to the tally
/// as they are decided. Read to its end from a file, or live from standard input.
struct ScanInput<'a, 's> {
    scanner: Scanner<'s>,
    tally: &'a mut Tally,
    show: &'a mut dyn Show,
    input: usize,
    out: Out,
}

impl ScanInput<'_, '_> {
    fn report(&mut self) -> io::Result<()> {
        self.out.free.clear();
        let decided = !self.out.decided.is_empty();
        if decided {
            self.tally.update_input(self.input, &self.scanner);
            self.tally.take(&mut self.out, self.input, self.show)?;
        }
        // The status line, when one is kept: asked every few thousand lines, and at once
        // when something was decided.
        if decided || self.scanner.stats.lines.is_multiple_of(4096) {
            self.status()?;
        }
        Ok(())
    }

    fn status(&mut self) -> io::Result<()> {
        let tally = &mut *self.tally;
        tally.update_input(self.input, &self.scanner);
        let what = format!("reading {}", tally.inputs[self.input].name);
        self.show.status(&|| tally.status_text(&what))
    }

    /// Reads through to the end with `read`: no timers needed, nothing waits on the clock.
    /// What was read before an error still counts: it is decided.
    fn read_through(&mut self, read: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let result = read(self);
        self.scanner.finish(&mut self.out);
        self.tally.update_input(self.input, &self.scanner);
        self.tally.take(&mut self.out, self.input, self.show)?;
        result
    }
}

impl read::LineSink for ScanInput<'_, '_> {
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

impl Consumer for ScanInput<'_, '_> {
    fn skip(&mut self, buf: &[u8]) -> usize {
        self.scanner.skip_idle(buf, read::Lookahead::UNKNOWN)
    }

    fn line(&mut self, raw: &[u8], line: &[u8], info: LineInfo) -> Result<()> {
        read::LineSink::line(self, raw, line, info)
    }
}

impl Held for ScanInput<'_, '_> {
    fn oldest_held(&self) -> Option<u64> {
        self.scanner.oldest_held()
    }

    fn flush(&mut self) -> Result<()> {
        self.scanner.finish(&mut self.out);
        self.tally.update_input(self.input, &self.scanner);
        self.report()?;
        Ok(self.status()?)
    }

    fn holding_streams(&self) -> Vec<(String, u64)> {
        self.scanner.holding_streams()
    }

    fn flush_stream(&mut self, key: &str) -> Result<()> {
        self.scanner.finish_stream(key, &mut self.out);
        self.tally.update_input(self.input, &self.scanner);
        Ok(self.report()?)
    }
}
