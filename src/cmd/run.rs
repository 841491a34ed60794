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
use crate::pipeline::group::triage;
use crate::pipeline::pair::Decided;
use crate::pipeline::scan::{Out, Scanner};

mod pytest;
use pytest::Pytest;

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
            let t = match &d {
                Decided::Finding(f) => {
                    let mut t = triage(f, self.input, rules);
                    // A test is named only where its own output was printed.
                    let region = self.pytest.region_at(t.line).cloned();
                    let objects: Vec<_> = f
                        .objects
                        .iter()
                        .map(|o| (o.kind, o.repr.as_deref()))
                        .collect();
                    if self.pytest.read(region.as_ref(), &objects) {
                        // A captured log repeating what pytest showed live.
                        continue;
                    }
                    t.part = region.map(|r| r.test.to_string());
                    Some(t)
                }
                _ => None,
            };
            tally.add(&d, t, &mut ())?;
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
    };

    let (tx, mut chunks) = mpsc::channel::<(usize, Vec<u8>)>(32);
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
    let (done_tx, mut done) = oneshot::channel::<io::Result<ExitStatus>>();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });

    let rt = live::runtime()?;
    let status: io::Result<ExitStatus> = rt.block_on(async {
        let mut signals = live::Signals::new()?;
        let mut flusher = Flusher::new(setup.flush);
        let mut status: Option<io::Result<ExitStatus>> = None;
        let mut pipes_open = true;
        let mut signals_seen = 0u32;
        // Counted from the command's exit, once: a process it left behind that keeps writing
        // does not keep `run` alive.
        let mut drain_deadline: Option<tokio::time::Instant> = None;

        loop {
            if status.is_some() && !pipes_open {
                break;
            }
            // Each pipe's streams decided when they went quiet; the whole output when it did.
            let flush_deadline = flusher.deadline(&output, output.has_partial());
            tokio::select! {
                msg = chunks.recv(), if pipes_open => match msg {
                    Some((i, bytes)) => {
                        output.feed(i, &bytes);
                        output.take(&mut tally, &setup.rules)?;
                        flusher.took(&output);
                    }
                    None => pipes_open = false,
                },
                s = &mut done, if status.is_none() => {
                    status = Some(s.unwrap_or_else(|_| Err(io::Error::other("the command's waiter went away"))));
                    drain_deadline = Some(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
                }
                _ = live::sleep_until(flush_deadline) => {
                    let partial = output.has_partial();
                    flusher.fire(&mut output, partial).map_err(io::Error::other)?;
                    output.take(&mut tally, &setup.rules)?;
                }
                _ = live::sleep_until(drain_deadline) => break,
                sig = signals.recv_signal() => {
                    // SIGTERM is passed on; the command decides how to end, and we report when
                    // it has. SIGINT is not: Ctrl-C at a terminal already reaches the command
                    // (it is in our process group), and a second one makes asyncio.run() skip
                    // its cleanup. A second signal of either kind means it: SIGKILL.
                    signals_seen += 1;
                    #[cfg(unix)]
                    {
                        use nix::sys::signal::{Signal, kill};
                        let child = nix::unistd::Pid::from_raw(pid as i32);
                        if signals_seen >= 2 {
                            eprintln!("unclosed: a second signal: killing the command");
                            let _ = kill(child, Signal::SIGKILL);
                        } else if sig == 15 {
                            let _ = kill(child, Signal::SIGTERM);
                        }
                    }
                }
            }
        }
        // Bytes that arrived before the pipes closed.
        while let Ok((i, bytes)) = chunks.try_recv() {
            output.feed(i, &bytes);
        }
        Ok::<_, io::Error>(status.expect("loop ends after exit"))
    })?;
    let status = status.context("waiting for the command")?;
    output.finish();
    output.take(&mut tally, &setup.rules)?;
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
            eprintln!(
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
