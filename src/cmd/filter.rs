//! `unclosed filter`: pass logs through to stdout, line for line, without the blocks of the
//! dropped findings; live, so it can sit in a pipeline (`kubectl logs -f | unclosed filter`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::cmd::cli::{DropChoice, FilterArgs, Format, StatsFormat};
use crate::cmd::io::{self as say, Io, is_broken_pipe};
use crate::cmd::metrics;
use crate::cmd::printer::Printer;
use crate::cmd::setup::Setup;
use crate::cmd::tally::Tally;
use crate::exit;
use crate::input::live::{self, Consumer, Held};
use crate::input::read::{self, LineInfo};
use crate::pipeline::classify::{Label, Labels};
use crate::pipeline::filter::{self, Filter};

/// One input on its way through: what the filter lets pass goes to `out` as it is decided.
struct LiveFilter<'a, 'o> {
    filter: Filter<'a>,
    out: &'o mut dyn Write,
    buf: Vec<u8>,
    /// The input's index in the tally.
    input: usize,
    /// `--stats`: the findings added up.
    tally: Option<&'o mut Tally>,
}

impl LiveFilter<'_, '_> {
    fn write(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.out.flush()?;
            self.buf.clear();
        }
        if let Some(tally) = &mut self.tally {
            tally.update_input(self.input, self.filter.scanner());
            for (d, t) in self.filter.triaged.drain(..) {
                tally.add(&d, t, &mut ())?;
            }
        } else {
            self.filter.triaged.clear();
        }
        Ok(())
    }
}

impl Consumer for LiveFilter<'_, '_> {
    fn line(&mut self, raw: &[u8], line: &[u8], info: LineInfo) -> Result<()> {
        self.filter.push(raw, line, info, &mut self.buf);
        self.write()
    }
}

impl Held for LiveFilter<'_, '_> {
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

/// The labels `--drop` names (none named: the filter's default).
fn drop_set(choices: &[DropChoice]) -> Labels {
    if choices.is_empty() {
        return filter::DEFAULT_DROP;
    }
    let mut d = Labels::NONE;
    for c in choices {
        match c {
            DropChoice::Noise => d.insert(Label::Noise),
            DropChoice::Leak => d.insert(Label::Leak),
            DropChoice::Unknown => d.insert(Label::Unknown),
            DropChoice::All => d = Labels::ALL,
            DropChoice::None => d = Labels::NONE,
        }
    }
    d
}

/// Filters the files (standard input for none) to stdout; `--stats` adds the totals on
/// stderr at the end.
pub fn run(args: &FilterArgs, io: &mut Io<'_>) -> Result<i32> {
    let setup = Setup::new(&args.read)?;
    let stdin = PathBuf::from("-");
    let files = if args.files.is_empty() {
        std::slice::from_ref(&stdin)
    } else {
        &args.files[..]
    };
    let counted = args.stats.is_some() || args.metrics.metrics.is_some();
    let mut tally = counted.then(|| Tally::new(setup.rules.clone()));
    // --metrics: served from a thread while the inputs are read.
    let _metrics = match &mut tally {
        Some(t) => metrics::start(&args.metrics, None, t, &mut *io.err)?,
        None => None,
    };
    let mut failed = false;
    for path in files {
        let name = if *path == stdin {
            say::hint_if_terminal(io.err, &io.env);
            "<stdin>".to_owned()
        } else {
            path.display().to_string()
        };
        let reader = match read::open_raw(path) {
            Ok(r) => r,
            Err(e) => {
                say::cannot_open(io.err, &name, &e);
                failed = true;
                continue;
            }
        };
        let input = tally.as_mut().map_or(0, |s| s.add_input(name.clone()));
        let mut consumer = LiveFilter {
            filter: Filter::new(
                setup.scanner(),
                setup.rules.clone(),
                drop_set(&args.drop),
                args.annotate,
            ),
            out: &mut *io.out,
            buf: Vec::new(),
            input,
            tally: tally.as_mut(),
        };
        let chunks = live::spawn_sniffing_reader(reader);
        let result = live::drive(chunks, &mut consumer, setup.max_line, setup.flush);
        let cut = consumer.filter.scanner().cut_lines();
        if let Some(t) = &mut consumer.tally {
            t.update_input(input, consumer.filter.scanner());
        }
        say::warn_cut(io.err, &name, cut, setup.max_line);
        match result {
            Ok(live::Stop::Eof) => {}
            Ok(live::Stop::Signal) => break,
            Err(e) if is_broken_pipe(&e) => return Err(e),
            Err(e) => {
                say::read_error(io.err, &name, None, &e);
                failed = true;
            }
        }
    }
    if let Some(t) = tally.as_ref().filter(|_| args.stats.is_some()) {
        let format = match args.stats {
            Some(StatsFormat::Json) => Format::Json,
            _ => Format::Table,
        };
        Printer::new(format, &mut *io.err, false, None).finish(t)?;
    }
    Ok(if failed { exit::ERROR } else { exit::OK })
}
