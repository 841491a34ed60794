//! Live: read standard input as it arrives, with a flush timeout and signals (tokio).
//!
//! The pure pipeline ([`crate::pipeline::scan`], [`crate::pipeline::filter`]) does not know about time. This
//! edge gives it lines as they arrive, and when something has been held for the flush
//! timeout, asks it to decide (a block whose stream went quiet, lines held by `filter`).
//! SIGINT and SIGTERM end the run like the end of input, so the summary is still printed.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::input::read::{LineInfo, Splitter};

/// How long a line begun but not ended holds the flush back.
pub const PARTIAL_LINE_GRACE: Duration = Duration::from_secs(5);

/// Bytes read from standard input at a time.
const CHUNK: usize = 256 * 1024;

/// What consumes live lines.
pub trait Consumer: Held {
    /// Bytes at the start of `buf` that are whole lines it need not see (it counts them).
    fn skip(&mut self, _buf: &[u8]) -> usize {
        0
    }
    /// One physical line: `raw` with its line ending, `line` without.
    fn line(&mut self, raw: &[u8], line: &[u8], info: LineInfo) -> anyhow::Result<()>;
}

/// What holds lines undecided until the clock says: what a [`Flusher`] decides.
pub trait Held {
    /// The oldest line held undecided (what a flush would decide), if any.
    fn oldest_held(&self) -> Option<u64>;
    /// Decides everything held.
    fn flush(&mut self) -> anyhow::Result<()>;
    /// The streams holding something, each with the last line it took (none: only the
    /// whole input's quiet time decides).
    fn holding_streams(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    /// Decides what stream `key` holds, after it went quiet.
    fn flush_stream(&mut self, _key: &str) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Why reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The end of the input.
    Eof,
    /// SIGINT or SIGTERM.
    Signal,
}

/// A runtime for the edges: one thread, timers and signals.
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Reads `raw` on a thread of its own (reads block; gzip decoding is synchronous) and sends
/// its chunks. The thread looks for gzip's magic bytes first, so that a first read that
/// blocks (an idle pipe, a terminal) blocks there, not where signals are to be handled. It
/// ends at the end of input or when nobody listens.
pub fn spawn_sniffing_reader(raw: Box<dyn Read + Send>) -> Incoming {
    let (tx, rx) = mpsc::channel(16);
    let (spent, returned) = std::sync::mpsc::channel::<Vec<u8>>();
    let read = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&read);
    std::thread::spawn(move || {
        let mut reader = match crate::input::read::sniff_read(raw) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        loop {
            // A chunk the consumer is done with is read into again; it kept its length,
            // so nothing is zeroed again.
            let mut buf = returned.try_recv().unwrap_or_default();
            buf.resize(CHUNK, 0);
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    counted.fetch_add(1, Ordering::Release);
                    if tx.blocking_send(Ok(Filled { buf, len: n })).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    Incoming {
        chunks: rx,
        spent: Some(spent),
        read: Some(read),
        taken: 0,
    }
}

/// A buffer a reader thread read into, and how many of its bytes it read.
pub struct Filled {
    buf: Vec<u8>,
    len: usize,
}

impl Filled {
    /// The bytes read.
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl From<Vec<u8>> for Filled {
    /// Bytes from elsewhere (tests), all of them read.
    fn from(buf: Vec<u8>) -> Self {
        let len = buf.len();
        Filled { buf, len }
    }
}

/// The chunks a reader thread reads, and where the consumer gives each back once split
/// into lines, to be read into again.
pub struct Incoming {
    chunks: mpsc::Receiver<io::Result<Filled>>,
    spent: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    /// Chunks the reader thread has read, counted before it hands each over.
    read: Option<Arc<AtomicU64>>,
    /// Chunks taken from `chunks`.
    taken: u64,
}

impl Incoming {
    /// The next chunk already handed over, if any.
    fn try_next(&mut self) -> Option<io::Result<Filled>> {
        let c = self.chunks.try_recv().ok()?;
        self.taken += 1;
        Some(c)
    }

    /// Whether the reader thread has read a chunk it has not handed over yet (it is on
    /// its way: a signal must not lose it).
    fn has_one_coming(&self) -> bool {
        self.read
            .as_ref()
            .is_some_and(|r| r.load(Ordering::Acquire) > self.taken)
    }
}

impl From<mpsc::Receiver<io::Result<Filled>>> for Incoming {
    /// Chunks from elsewhere (tests), not given back.
    fn from(chunks: mpsc::Receiver<io::Result<Filled>>) -> Self {
        Incoming {
            chunks,
            spent: None,
            read: None,
            taken: 0,
        }
    }
}

/// Signals that end a live run.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening for SIGINT and SIGTERM (needs a running runtime).
    pub fn new() -> io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Resolves with the signal's number when one arrives.
    pub async fn recv_signal(&mut self) -> i32 {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => 2,
                _ = self.term.recv() => 15,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            2
        }
    }
}

/// A quiet clock per stream: a stream's blocks are decided once *it* has taken no line for
/// the flush timeout, whatever other streams of the input do (a quiet stderr does not cut a
/// connector block still arriving on stdout; a writer sending a block line by line, slower
/// than the timeout in all but between lines, is not cut either).
#[derive(Debug)]
pub struct QuietClock {
    after: Duration,
    /// Per holding stream: the last line it took, and since when that is its last.
    streams: std::collections::HashMap<String, (u64, Instant)>,
}

impl QuietClock {
    /// A clock that decides a stream `after` its last line.
    pub fn new(after: Duration) -> Self {
        QuietClock {
            after,
            streams: Default::default(),
        }
    }

    /// Notes what the streams hold `now`: a stream whose last line changed starts again.
    pub fn note(&mut self, holding: Vec<(String, u64)>, now: Instant) {
        let mut next = std::collections::HashMap::with_capacity(holding.len());
        for (key, line) in holding {
            let since = match self.streams.get(&key) {
                Some(&(seen, t)) if seen == line => t,
                _ => now,
            };
            next.insert(key, (line, since));
        }
        self.streams = next;
    }

    /// When the first stream will have been quiet long enough.
    pub fn deadline(&self) -> Option<Instant> {
        self.streams.values().map(|(_, t)| *t + self.after).min()
    }

    /// The streams quiet for the timeout at `now`.
    pub fn due(&self, now: Instant) -> Vec<String> {
        let mut due: Vec<String> = self
            .streams
            .iter()
            .filter(|(_, (_, t))| *t + self.after <= now)
            .map(|(k, _)| k.clone())
            .collect();
        due.sort();
        due
    }

    /// Gives a stream another period: it was decided but still holds something (sessions
    /// kept for a block in progress in another stream).
    pub fn restart(&mut self, key: &str, now: Instant) {
        if let Some(s) = self.streams.get_mut(key) {
            s.1 = now;
        }
    }
}

/// When what a live input holds is decided, for every live reader (`scan` and `filter` on
/// standard input, `run`'s two pipes): a stream's blocks once *it* has been quiet for the
/// flush timeout ([`QuietClock`]); what the whole input holds (lines kept to choose the
/// envelope, pieces of a line) once all of it has; never while a line is half-written
/// ([`PARTIAL_LINE_GRACE`]).
#[derive(Debug)]
pub struct Flusher {
    after: Duration,
    clock: QuietClock,
    last_bytes: Instant,
}

impl Flusher {
    /// A flusher deciding `after` this long.
    pub fn new(after: Duration) -> Self {
        Flusher {
            after,
            clock: QuietClock::new(after),
            last_bytes: Instant::now(),
        }
    }

    /// Notes that bytes arrived now and were taken in by `held`.
    pub fn took(&mut self, held: &dyn Held) {
        self.last_bytes = Instant::now();
        self.clock.note(held.holding_streams(), self.last_bytes);
    }

    fn whole(&self, held: &dyn Held, partial: bool) -> Option<Instant> {
        let whole = held.oldest_held().map(|_| self.last_bytes + self.after);
        with_grace(whole, partial, self.last_bytes, self.after)
    }

    /// When to decide next; `partial`: a line is begun and not ended.
    pub fn deadline(&self, held: &dyn Held, partial: bool) -> Option<Instant> {
        let streams = with_grace(self.clock.deadline(), partial, self.last_bytes, self.after);
        match (self.whole(held, partial), streams) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// At the deadline: decides what is due in `held`.
    pub fn fire(&mut self, held: &mut dyn Held, partial: bool) -> anyhow::Result<()> {
        let now = Instant::now();
        if self.whole(held, partial).is_some_and(|w| w <= now) {
            // Every stream is quiet too: each decided as a stream (a traceback cut by the
            // pause says so), then what the input holds.
            for (key, _) in held.holding_streams() {
                held.flush_stream(&key)?;
            }
            held.flush()?;
        } else {
            for key in self.clock.due(now) {
                held.flush_stream(&key)?;
            }
        }
        self.clock.note(held.holding_streams(), now);
        for key in self.clock.due(now) {
            self.clock.restart(&key, now);
        }
        Ok(())
    }
}

/// The later of `deadline` and the partial-line grace after `last_bytes`, when a line is
/// still arriving in pieces.
fn with_grace(
    deadline: Option<Instant>,
    partial: bool,
    last_bytes: Instant,
    after: Duration,
) -> Option<Instant> {
    let d = deadline?;
    Some(if partial {
        d.max(last_bytes + after.max(PARTIAL_LINE_GRACE))
    } else {
        d
    })
}

/// Sleeps until `deadline`, or forever without one.
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A consumer seen as a [`crate::input::read::LineSink`].
struct AsLineSink<'a>(&'a mut dyn Consumer);

impl crate::input::read::LineSink for AsLineSink<'_> {
    type Error = anyhow::Error;

    fn skip(&mut self, buf: &[u8], _ahead: crate::input::read::Lookahead<'_>) -> usize {
        self.0.skip(buf)
    }

    fn line(&mut self, raw: &[u8], line: &[u8], info: LineInfo) -> anyhow::Result<()> {
        self.0.line(raw, line, info)
    }
}

/// A live input, as the one live event loop ([`drive_source`]) reads it: standard input's
/// chunks, a command's two pipes (`run`), the files `tail` follows. Each decides what it
/// holds with its [`Flusher`]s, so every live input is decided by the same clock.
pub trait Source {
    /// What woke the loop: something to take in.
    type Wake;
    /// Waits until there is something to take in; `None` at the end of the input. The loop
    /// drops it when a deadline or a signal comes first, so it must be cancel-safe.
    fn wake(&mut self) -> impl Future<Output = Option<Self::Wake>>;
    /// Takes in what woke the loop.
    fn take(&mut self, wake: Self::Wake) -> anyhow::Result<()>;
    /// When something held is to be decided next ([`Flusher::deadline`]).
    fn deadline(&self) -> Option<Instant>;
    /// At that deadline: decides what is due ([`Flusher::fire`]).
    fn fire(&mut self) -> anyhow::Result<()>;
    /// SIGINT (2) or SIGTERM (15) arrived: takes in what was already read, and says
    /// whether the run ends (it does unless the source passes the signal on).
    fn signal(&mut self, sig: i32) -> anyhow::Result<bool>;
}

/// The one live event loop: takes in what `source` reads, decides what it holds when its
/// clock says, until the end of its input or a signal. The signal handler is installed
/// before the loop asks for anything, so a signal before the first byte still ends the run
/// with its summary.
pub async fn drive_source<S: Source>(source: &mut S) -> anyhow::Result<Stop> {
    drive_source_with(source, Signals::new()?).await
}

/// [`drive_source`] with signal handlers installed earlier (before a child process that
/// must not outlive them was started): a signal that came meanwhile is handled first.
pub async fn drive_source_with<S: Source>(
    source: &mut S,
    mut signals: Signals,
) -> anyhow::Result<Stop> {
    loop {
        let deadline = source.deadline();
        tokio::select! {
            wake = source.wake() => match wake {
                Some(w) => source.take(w)?,
                None => return Ok(Stop::Eof),
            },
            _ = sleep_until(deadline) => source.fire()?,
            sig = signals.recv_signal() => {
                if source.signal(sig)? {
                    return Ok(Stop::Signal);
                }
            }
        }
    }
}

/// Feeds `chunks` to `consumer` line by line until the end of input or a signal.
pub fn drive(
    chunks: impl Into<Incoming>,
    consumer: &mut dyn Consumer,
    max_line: usize,
    flush_after: Duration,
) -> anyhow::Result<Stop> {
    let rt = runtime()?;
    rt.block_on(drive_async(chunks, consumer, max_line, flush_after))
}

/// A reader thread's chunks, split into lines for a consumer.
struct Chunks<'c> {
    incoming: Incoming,
    splitter: Splitter,
    consumer: &'c mut dyn Consumer,
    flusher: Flusher,
}

impl Chunks<'_> {
    fn split(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        crate::input::read::split_skipping(
            &mut self.splitter,
            bytes,
            None,
            &mut AsLineSink(&mut *self.consumer),
        )
    }
}

impl Source for Chunks<'_> {
    type Wake = io::Result<Filled>;

    async fn wake(&mut self) -> Option<Self::Wake> {
        let c = self.incoming.chunks.recv().await;
        self.incoming.taken += 1;
        c
    }

    fn take(&mut self, chunk: Self::Wake) -> anyhow::Result<()> {
        let chunk = chunk?;
        self.split(chunk.bytes())?;
        self.flusher.took(&*self.consumer);
        if let Some(spent) = &self.incoming.spent {
            // The reader may have ended: then nobody reads into it again.
            let _ = spent.send(chunk.buf);
        }
        Ok(())
    }

    fn deadline(&self) -> Option<Instant> {
        self.flusher
            .deadline(&*self.consumer, self.splitter.has_partial())
    }

    fn fire(&mut self) -> anyhow::Result<()> {
        let partial = self.splitter.has_partial();
        self.flusher.fire(&mut *self.consumer, partial)
    }

    fn signal(&mut self, _sig: i32) -> anyhow::Result<bool> {
        // What was read before the signal is not lost: lines already queued are taken in
        // and decided as at the end of input.
        // Also a chunk the reader thread read just before the signal and is handing over.
        let until = std::time::Instant::now() + Duration::from_millis(500);
        loop {
            match self.incoming.try_next() {
                Some(Ok(chunk)) => self.split(chunk.bytes())?,
                Some(Err(_)) => break,
                None if self.incoming.has_one_coming() && std::time::Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                None => break,
            }
        }
        Ok(true)
    }
}

/// [`drive`] on the caller's runtime (tests run it with tokio's paused time). A stream's
/// blocks are decided when it has been quiet for `flush_after` ([`QuietClock`]); what the
/// whole input holds (lines kept to choose the envelope, pieces of a line) when the whole
/// input has.
pub async fn drive_async(
    chunks: impl Into<Incoming>,
    consumer: &mut dyn Consumer,
    max_line: usize,
    flush_after: Duration,
) -> anyhow::Result<Stop> {
    let mut source = Chunks {
        incoming: chunks.into(),
        splitter: Splitter::new(max_line),
        consumer,
        flusher: Flusher::new(flush_after),
    };
    let stop = drive_source(&mut source).await?;
    let Chunks {
        mut splitter,
        consumer,
        ..
    } = source;
    splitter.finish(&mut |raw: &[u8], line: &[u8], info| consumer.line(raw, line, info))?;
    consumer.flush()?;
    Ok(stop)
}

#[cfg(test)]
mod tests;
