//! Run: run a command with call sites switched on, pass its output through, triage it.
//!
//! The command gets asyncio debug mode and ResourceWarnings (each can be turned off) and, when
//! asked, tracemalloc, so what it prints carries creation tracebacks. Its stdout and stderr are
//! copied to ours as they come, unchanged, by one thread each; the same bytes go through a
//! scanner per stream. SIGTERM is passed on to it (SIGINT reaches it from the terminal); its
//! exit status is never lost.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::{mpsc, oneshot};

use crate::cmd::cli::RunArgs;
use crate::cmd::gate::Gate;
use crate::cmd::io::{Io, warn_cut};
use crate::cmd::metrics;
use crate::cmd::setup::Setup;
use crate::cmd::tally::Tally;
use crate::exit;
use crate::input::live::{self, Flusher, Held};
use crate::input::read::Splitter;
use crate::pipeline::group::{Triaged, triage};
use crate::pipeline::pair::Decided;
use crate::pipeline::parse::{Kind, Trace};
use crate::pipeline::scan::{Out, Scanner};

mod pytest;
mod warned;
use pytest::{Pytest, Region};
use warned::Warned;

/// How long, from the command's exit, to go on reading its output pipes (a process it
/// started may keep them open, and write for ever).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);
/// Bytes of a pipe's unfinished line kept to see a pytest test start in it.
const MAX_TAIL: usize = 1024;

/// The command's output: both pipes into one scanner, in the order the bytes arrived (as a
/// terminal shows `2>&1`), each pipe with its own line splitter and streams.
struct Output<'s> {
    input: usize,
    splitters: [Splitter; 2],
    scanner: Scanner<'s>,
    out: Out,
    /// Which pytest test printed what.
    pytest: Pytest,
    /// Each pipe's unfinished line, its first [`MAX_TAIL`] bytes.
    tails: [Vec<u8>; 2],
    /// A test's warnings, held until its records are known.
    warned: Warned,
    /// The command exited and its output was read to the end: what is decided now is
    /// decided as at the end of input.
    ended: bool,
}

/// Stream-key prefixes of the two pipes.
const CHANNELS: [&str; 2] = ["stdout:", "stderr:"];

impl Output<'_> {
    fn take(
        &mut self,
        tally: &mut Tally,
        rules: &crate::pipeline::group::SiteRules,
    ) -> io::Result<()> {
        tally.update_input(self.input, &self.scanner);
        self.out.free.clear();
        let decided: Vec<Decided> = self.out.decided.drain(..).collect();
        for d in decided {
            let Decided::Finding(mut f) = d else {
                tally.add(&d, None, &mut ())?;
                continue;
            };
            if !self.ended
                && let [session] = &mut f.objects[..]
                && session.kind == Kind::Session
                && session.trace == Some(Trace::Source)
                && !session.trace_cut
            {
                // A lone session with its creation traceback is held for a late connector
                // until the command exits; one decided before was let go to make room
                // (pair::MAX_HELD per stream): its connector may still come, holding
                // connections, so whether it held any is not known.
                session.complete = false;
            }
            let t = triage(&f, self.input, rules);
            let region = self.pytest.region_at(t.line).cloned();
            // A test's warnings wait for the end: its records may come in another section.
            if let Some((d, t, region)) = self.warned.take(f, t, region) {
                self.count(d, t, region, tally)?;
            }
        }
        Ok(())
    }

    /// Counts a finding printed in `region`.
    fn count(
        &mut self,
        d: Decided,
        mut t: Triaged,
        region: Option<Region>,
        tally: &mut Tally,
    ) -> io::Result<()> {
        if let Decided::Finding(f) = &d {
            let objects: Vec<_> = f
                .objects
                .iter()
                .map(|o| (o.kind, o.repr.as_deref()))
                .collect();
            if self.pytest.read(region.as_ref(), &objects) {
                // A captured log repeating what pytest showed live.
                return Ok(());
            }
        }
        // A test is named only where its own output was printed.
        t.part = region.map(|r| r.test.to_string());
        tally.add(&d, Some(t), &mut ())
    }

    /// At the end: counts the test's warnings that were not the warnings of records read
    /// under the same test ([`Warned`]).
    fn release_warned(&mut self, tally: &mut Tally) -> io::Result<()> {
        for (d, t, region) in self.warned.release() {
            self.count(d, t, region, tally)?;
        }
        Ok(())
    }

    fn feed(&mut self, pipe: usize, bytes: &[u8]) {
        let (scanner, out, pytest) = (&mut self.scanner, &mut self.out, &mut self.pytest);
        let _ = self.splitters[pipe].push(bytes, &mut |_: &[u8],
                                                       line: &[u8],
                                                       info|
         -> Result<(), ()> {
            scanner.push_line_on(CHANNELS[pipe], line, info, out);
            pytest.line(scanner.stats.lines, line);
            Ok(())
        });
        let tail = &mut self.tails[pipe];
        match memchr::memrchr(b'\n', bytes) {
            Some(at) => {
                tail.clear();
                let rest = &bytes[at + 1..];
                tail.extend_from_slice(&rest[..rest.len().min(MAX_TAIL)]);
            }
            None => {
                let room = MAX_TAIL - tail.len();
                tail.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
        }
        if !tail.is_empty() {
            self.pytest.partial(self.scanner.stats.lines + 1, tail);
        }
    }

    /// A line is begun and not ended in a pipe.
    fn has_partial(&self) -> bool {
        self.splitters.iter().any(Splitter::has_partial)
    }

    fn finish(&mut self) {
        let (scanner, out) = (&mut self.scanner, &mut self.out);
        for (pipe, splitter) in self.splitters.iter_mut().enumerate() {
            let pytest = &mut self.pytest;
            let _ = splitter.finish(&mut |_: &[u8], line: &[u8], info| -> Result<(), ()> {
                scanner.push_line_on(CHANNELS[pipe], line, info, out);
                pytest.line(scanner.stats.lines, line);
                Ok(())
            });
        }
        self.scanner.finish(&mut self.out);
    }
}

/// The flush clock decides on the scanner: sessions it holds to the end wait for the exit.
impl Held for Output<'_> {
    fn oldest_held(&self) -> Option<u64> {
        self.scanner.oldest_held()
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.scanner.flush(&mut self.out);
        Ok(())
    }

    fn holding_streams(&self) -> Vec<(String, u64)> {
        self.scanner.holding_streams()
    }

    fn flush_stream(&mut self, key: &str) -> anyhow::Result<()> {
        self.scanner.finish_stream(key, &mut self.out);
        Ok(())
    }
}

/// What woke `run`'s loop.
enum Wake {
    /// Bytes from pipe 0 (stdout) or 1 (stderr).
    Chunk(usize, Vec<u8>),
    /// Both pipes closed.
    PipesClosed,
    /// The command exited.
    Exit(io::Result<ExitStatus>),
}

/// The command's output as the live loop reads it ([`live::Source`]): its two pipes, its
/// exit, and the drain deadline after it; signals are passed on, never an end of their own.
struct Live<'a, 's> {
    output: &'a mut Output<'s>,
    tally: &'a mut Tally,
    rules: &'a crate::pipeline::group::SiteRules,
    /// Each pipe's streams decided when they went quiet; the whole output when it did.
    flusher: Flusher,
    chunks: mpsc::Receiver<(usize, Vec<u8>)>,
    done: oneshot::Receiver<io::Result<ExitStatus>>,
    status: Option<io::Result<ExitStatus>>,
    pipes_open: bool,
    /// Counted from the command's exit, once: a process it left behind that keeps writing
    /// does not keep `run` alive.
    drain_deadline: Option<tokio::time::Instant>,
    signals_seen: u32,
    pid: u32,
    err: &'a mut dyn Write,
}

impl live::Source for Live<'_, '_> {
    type Wake = Wake;

    async fn wake(&mut self) -> Option<Wake> {
        if self.status.is_some() && !self.pipes_open {
            return None;
        }
        tokio::select! {
            msg = self.chunks.recv(), if self.pipes_open => Some(match msg {
                Some((i, bytes)) => Wake::Chunk(i, bytes),
                None => Wake::PipesClosed,
            }),
            s = &mut self.done, if self.status.is_none() => Some(Wake::Exit(
                s.unwrap_or_else(|_| Err(io::Error::other("the command's waiter went away"))),
            )),
            _ = live::sleep_until(self.drain_deadline) => None,
        }
    }

    fn take(&mut self, wake: Wake) -> Result<()> {
        match wake {
            Wake::Chunk(i, bytes) => {
                self.output.feed(i, &bytes);
                self.output.take(self.tally, self.rules)?;
                self.flusher.took(&*self.output);
            }
            Wake::PipesClosed => self.pipes_open = false,
            Wake::Exit(status) => {
                self.status = Some(status);
                self.drain_deadline = Some(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
            }
        }
        Ok(())
    }

    fn deadline(&self) -> Option<tokio::time::Instant> {
        self.flusher
            .deadline(&*self.output, self.output.has_partial())
    }

    fn fire(&mut self) -> Result<()> {
        let partial = self.output.has_partial();
        self.flusher.fire(&mut *self.output, partial)?;
        Ok(self.output.take(self.tally, self.rules)?)
    }

    fn signal(&mut self, sig: i32) -> Result<bool> {
        // SIGTERM is passed on; the command decides how to end, and we report when it has.
        // SIGINT is not: Ctrl-C at a terminal already reaches the command (it is in our
        // process group), and a second one makes asyncio.run() skip its cleanup. A second
        // signal of either kind means it: SIGKILL.
        self.signals_seen += 1;
        #[cfg(unix)]
        {
            use nix::sys::signal::{Signal, kill};
            let child = nix::unistd::Pid::from_raw(self.pid as i32);
            if self.signals_seen >= 2 {
                let _ = writeln!(self.err, "unclosed: a second signal: killing the command");
                let _ = kill(child, Signal::SIGKILL);
            } else if sig == 15 {
                let _ = kill(child, Signal::SIGTERM);
            }
        }
        Ok(false)
    }
}

/// Copies `pipe` to `to` as it comes and sends the same bytes to the triage.
fn spawn_copier(
    mut pipe: Box<dyn Read + Send>,
    mut to: Box<dyn Write + Send>,
    i: usize,
    tx: mpsc::Sender<(usize, Vec<u8>)>,
    ended_line: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut copying = true;
        loop {
            let n = match pipe.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            // Our own output closed (`| head`): stop copying, keep reading so the command
            // never blocks on a full pipe.
            if copying && (to.write_all(&buf[..n]).is_err() || to.flush().is_err()) {
                copying = false;
            }
            ended_line.store(buf[n - 1] == b'\n', Ordering::Relaxed);
            if tx.blocking_send((i, buf[..n].to_vec())).is_err() {
                return;
            }
        }
    });
}

fn exit_code(status: ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    status.code().unwrap_or(exit::ERROR)
}

fn python_warnings(existing: Option<OsString>) -> OsString {
    match existing {
        Some(w) if !w.is_empty() => {
            let mut w = w;
            w.push(",default::ResourceWarning");
            w
        }
        _ => OsString::from("default::ResourceWarning"),
    }
}

/// `unclosed run [OPTIONS] -- CMD [ARGS...]`.
pub fn run(args: &RunArgs, io: &mut Io<'_>) -> Result<i32> {
    // SIGINT or SIGTERM from the first moment on is passed on to the command, as the help
    // says: the handlers are in place before anything else, the command's start included.
    let rt = live::runtime()?;
    let signals = {
        let _in_rt = rt.enter();
        live::Signals::new()?
    };
    let setup = Setup::new(&args.read)?;
    let gate = Gate::new(&args.gate)?.for_run();
    let program = &args.command[0];
    let mut cmd = Command::new(program);
    cmd.args(&args.command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !args.no_asyncio_debug {
        cmd.env("PYTHONASYNCIODEBUG", "1");
    }
    if args.tracemalloc {
        cmd.env("PYTHONTRACEMALLOC", args.tracemalloc_depth.to_string());
    }
    if !args.no_resource_warnings {
        cmd.env(
            "PYTHONWARNINGS",
            python_warnings(std::env::var_os("PYTHONWARNINGS")),
        );
    }
    // Through a pipe Python buffers stdout in blocks; unbuffered, it comes as it is written.
    if std::env::var_os("PYTHONUNBUFFERED").is_none() {
        cmd.env("PYTHONUNBUFFERED", "1");
    }
    let mut tally = Tally::new(setup.rules.clone());
    // --metrics: served from a thread (listening before the command starts) until the report.
    let _metrics = metrics::start(&args.metrics, None, &mut tally, &mut *io.err)?;
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", program.to_string_lossy()))?;
    let pid = child.id();

    let mut output = Output {
        input: tally.add_input(format!("{} (stdout and stderr)", program.to_string_lossy())),
        splitters: [Splitter::new(setup.max_line), Splitter::new(setup.max_line)],
        // The report waits for the exit: so do sessions held for a connector collected then.
        scanner: setup.scanner().hold_sessions_to_the_end(),
        out: Out::default(),
        pytest: Pytest::default(),
        tails: [Vec::new(), Vec::new()],
        warned: Warned::default(),
        ended: false,
    };

    let (tx, chunks) = mpsc::channel::<(usize, Vec<u8>)>(32);
    let stdout_pipe = child.stdout.take().expect("piped");
    let stderr_pipe = child.stderr.take().expect("piped");
    // Whether the command's stdout ended its last line: the report starts on a line of its own.
    let stdout_ended_line = Arc::new(AtomicBool::new(true));
    spawn_copier(
        Box::new(stdout_pipe),
        Box::new(io::stdout()),
        0,
        tx.clone(),
        stdout_ended_line.clone(),
    );
    spawn_copier(
        Box::new(stderr_pipe),
        Box::new(io::stderr()),
        1,
        tx,
        Arc::new(AtomicBool::new(true)),
    );
    let (done_tx, done) = oneshot::channel::<io::Result<ExitStatus>>();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });

    let mut live = Live {
        output: &mut output,
        tally: &mut tally,
        rules: &setup.rules,
        flusher: Flusher::new(setup.flush),
        chunks,
        done,
        status: None,
        pipes_open: true,
        drain_deadline: None,
        signals_seen: 0,
        pid,
        err: &mut *io.err,
    };
    rt.block_on(live::drive_source_with(&mut live, signals))?;
    let Live {
        mut chunks, status, ..
    } = live;
    // Bytes that arrived before the pipes closed.
    while let Ok((i, bytes)) = chunks.try_recv() {
        output.feed(i, &bytes);
    }
    let status = status.expect("the loop ends after the exit");
    let status = status.context("waiting for the command")?;
    output.ended = true;
    output.finish();
    output.take(&mut tally, &setup.rules)?;
    output.release_warned(&mut tally)?;
    // Named by their ids, now that the whole output has shown them.
    tally.summary.rename_parts(|p| output.pytest.rename(p));
    tally.summary.notes.extend(output.pytest.notes());
    warn_cut(
        &mut *io.err,
        &tally.inputs[output.input].name.clone(),
        output.scanner.cut_lines(),
        setup.max_line,
    );
    if !stdout_ended_line.load(Ordering::Relaxed) {
        let _ = writeln!(io::stdout());
    }
    let _ = io::stdout().flush();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let _ = writeln!(
                io.err,
                "unclosed: the command was killed by signal {sig}: its output, and this report, may be incomplete"
            );
        }
    }
    let code = gate.report(&tally.summary, &tally.inputs, io)?;
    Ok(if status.success() {
        code
    } else {
        exit_code(status)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_warnings_are_added_to_existing_python_warnings() {
        assert_eq!(python_warnings(None), "default::ResourceWarning");
        assert_eq!(
            python_warnings(Some("error::DeprecationWarning".into())),
            "error::DeprecationWarning,default::ResourceWarning"
        );
    }
}
