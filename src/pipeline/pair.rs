//! Pair: turn one stream's blocks into objects, and objects into findings.
//!
//! Two steps, both on evidence only (docs/formats.md §1, §5):
//! - a W block directly followed by the L block of the same kind and repr is one object
//!   reported by both channels (addresses are reused, so only adjacency makes them one); a
//!   few ordinary lines between them (another thread's record) do not part them, since
//!   nothing else may come between;
//! - a session and the connector right after it in the same stream are one finding, unless
//!   their creation tracebacks show the connector was not made by that session. A connector
//!   is never its session's when it comes first: its `__del__` closes it before it reports, and
//!   a session whose connector is closed counts as closed and reports nothing. Any ordinary
//!   line between them in the same stream keeps them apart.
//!
//! A session without a creation traceback that ordinary lines part from a connector's block
//! at most [`MAX_PARTING_LINES`] lines later is not `noise`: the lines may be another thread's
//! output written between the two (sentry-sdk's worker does that), so the connector may be its
//! own. It is marked [`Object::parted`] (`unknown`); the connector stays a finding of its own.
//!
//! One more case needs no adjacency: when a session is kept alive after its warning (pytest
//! keeps it as the warning's `source`), its connector is collected much later, far from it.
//! In debug mode the connector's creation traceback is the session's plus aiohttp's
//! `ClientSession.__init__`, which proves the pair; so sessions left alone that carry a
//! traceback are held (at most [`MAX_HELD`]) until such a connector comes or the input ends.
//!
//! A run of sessions back to back, without tracebacks, followed at once by two connectors or
//! more is not a run of idle sessions: Python finalizes a batch of garbage (a cycle, a
//! module's list of sessions at exit) all sessions first, then their connectors, so the
//! connectors after the run may be any of theirs. The session right before the first
//! connector pairs with it as always; the others are marked [`Object::parted`] (`unknown`),
//! never `noise`. A run followed by one connector and then anything else (sessions freed one
//! by one: idle ones, then one with its connector), or by anything else at once, is what it
//! looks like: each session before the last held nothing.
//!
//! Everything else is a finding of its own.

use crate::pipeline::assemble::Event;
pub use crate::pipeline::assemble::Object;
use crate::pipeline::parse::{Kind, Trace};

use std::collections::VecDeque;

/// Lone sessions with a creation traceback held for a late connector, per stream. One that
/// more push out is decided as it stands (`noise`): an application that drops idle sessions
/// with a shared connector in debug mode has thousands, each held until more push it out,
/// and a batch of garbage rarely holds more sessions than this before their connectors
/// (runs of 6 to 26 seen under gunicorn and `aiohttp.web` at exit).
pub const MAX_HELD: usize = 32;

/// Sessions without a creation traceback kept in a run of sessions back to back, per stream
/// ([`Pairer`]'s `run`); one that more push out is `unknown`.
pub const MAX_RUN: usize = 64;

/// Ordinary lines that may stand between a W block and its own L block: another thread's
/// record, or a handler's one-off line (Google Cloud's `StructuredLogHandler` writes a
/// diagnostic record before its first one).
pub const MAX_WARNING_GAP: usize = 8;

/// Physical lines of the whole input, in any stream, that a W block waits for its L block.
/// Python block-buffers stdout into a pipe (8 KiB), so a record written to stdout right after
/// a warning on stderr can reach a container's log behind a buffer's worth of stdout lines
/// (one to two hundred of usual length). Past this the warning is decided alone, so that it
/// stops keeping every following line of the input from being skipped.
pub const MAX_WARNING_WAIT: u64 = 256;

/// Physical lines that may stand between a session's block and a connector's block that may
/// be its own, when no creation traceback ties them (the session is then `unknown`, not
/// `noise`). What sets it: sentry-sdk's background worker (2.75, debug on, a DSN that refuses)
/// writes `Sending envelope …` and, for the failed send, `Internal error in sentry_sdk` with
/// urllib3's chained traceback (72 lines), whenever it gets the GIL; between a session and its
/// connector, which the main thread reports one after the other, it was seen to write 1, 72 or
/// 73 lines, never more (samples/logs/sentry_percall_nodebug.log, and 30 runs of its program
/// with 12 pairs each). A longer traceback (another chain, another Python) fits; a second
/// failed send would not.
pub const MAX_PARTING_LINES: u64 = 100;

#[cfg(test)]
impl Object {
    /// An object of `kind` logged whole, with nothing else known: for tests.
    pub(crate) fn of_kind(kind: Kind) -> Object {
        Object {
            kind,
            logged: true,
            warned: false,
            repr: None,
            pool: None,
            frames: vec![],
            trace: None,
            frames_dropped: 0,
            complete: true,
            location: None,
            pos: crate::pipeline::assemble::Pos::default(),
            lines: vec![],
            trace_cut: false,
            bodyless: false,
            parted: false,
        }
    }
}

impl Object {
    /// Folds the L block `l` into this W object.
    fn merge_log(&mut self, l: Object) {
        self.logged = true;
        if l.pool.is_some() {
            self.pool = l.pool;
        }
        // asyncio's creation traceback is complete; tracemalloc's is cut at its depth.
        if l.trace == Some(Trace::Source) || self.frames.is_empty() {
            self.frames = l.frames;
            self.trace = l.trace;
        }
        self.complete |= l.complete;
        self.trace_cut |= l.trace_cut;
        self.lines.extend(l.lines);
    }

    /// Whether this is a connector that may pair with a held session: traced, made by a session.
    pub fn is_late_connector(&self) -> bool {
        self.kind == Kind::Connector
            && self.trace == Some(Trace::Source)
            && !self.trace_cut
            && self.made_by_session()
    }

    /// Whether the traceback shows the object was made inside `ClientSession.__init__`.
    pub fn made_by_session(&self) -> bool {
        self.frames.iter().any(|f| {
            (f.path.ends_with("/aiohttp/client.py") || f.path.ends_with("\\aiohttp\\client.py"))
                && f.function.as_deref().is_none_or(|n| n == "__init__")
        })
    }
}

/// A decided finding: a session with its connector, or one object alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// One or two objects; a pair is always session then connector.
    pub objects: Vec<Object>,
}

/// What the pairer decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decided {
    /// An aiohttp finding.
    Finding(Finding),
    /// A related text (transport, socket, pending task, unawaited close), counted apart.
    Related(Object),
    /// Physical lines of a would-be block that were ordinary text after all.
    Text(Vec<u64>),
}

impl Decided {
    /// Moves it `n` lines on (a part of a file read with its lines numbered from its start).
    pub fn shift_lines(&mut self, n: u64) {
        match self {
            Decided::Finding(f) => f.objects.iter_mut().for_each(|o| o.shift_lines(n)),
            Decided::Related(o) => o.shift_lines(n),
            Decided::Text(lines) => lines.iter_mut().for_each(|l| *l += n),
        }
    }

    /// The physical lines this decision covers.
    pub fn lines(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            Decided::Finding(f) => Box::new(f.objects.iter().flat_map(|o| o.lines.iter().copied())),
            Decided::Related(o) => Box::new(o.lines.iter().copied()),
            Decided::Text(lines) => Box::new(lines.iter().copied()),
        }
    }
}

/// The pairing state of one stream.
#[derive(Debug, Default)]
pub struct Pairer {
    /// A W block that its L block may still follow.
    warning: Option<Object>,
    /// Ordinary lines read since `warning`: only its own L block joins it across them.
    gap: usize,
    /// A session that its connector may still follow.
    waiting: Option<Object>,
    /// Sessions without a traceback, each followed at once by another session, before
    /// `waiting`: decided with it (oldest first; at most [`MAX_RUN`]).
    run: VecDeque<Object>,
    /// The run's last session and the connector right after it, paired: the next block says
    /// what the run was (a second connector at once: a batch of garbage), and is decided
    /// after the run, in the order of the log.
    run_pair: Option<Finding>,
    /// Lone sessions with a creation traceback, oldest first.
    held: VecDeque<Object>,
    /// A session without a creation traceback that ordinary lines parted from the next block:
    /// a connector within [`MAX_PARTING_LINES`] may still be its own. It does not keep the
    /// scanner reading every line (the distance is taken from line numbers), so it is not
    /// [`Pairer::is_waiting`].
    parted: Option<Object>,
    /// Ordinary lines of this stream read since `parted` (fewer than lie between when lines
    /// are skipped unread): past the bound, it is decided without waiting for the next block.
    parted_lines: u64,
}

/// The sessions a pairer holds, by their lines ([`Pairer::held_lines`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldLines {
    /// The sessions held for a late connector.
    pub held: Vec<(u64, u64)>,
    /// The parted session and the lines read since it.
    pub parted: Option<((u64, u64), u64)>,
}

impl HeldLines {
    /// Nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.parted.is_none()
    }
}

impl Pairer {
    /// Whether anything waits for the very next block (held sessions wait for no line in
    /// particular, so they do not count).
    pub fn is_waiting(&self) -> bool {
        self.warning.is_some() || self.waiting.is_some() || !self.run.is_empty()
    }

    /// What the pairer carries to its next line besides what waits for the very next block:
    /// each session held for a late connector, oldest first, and the parted session with the
    /// lines read since it, each session by its first and last physical line.
    pub fn held_lines(&self) -> HeldLines {
        let lines = |o: &Object| {
            let first = o.lines.first().copied().unwrap_or(o.pos.line);
            (first, o.lines.last().copied().unwrap_or(first))
        };
        HeldLines {
            held: self.held.iter().map(lines).collect(),
            parted: self.parted.as_ref().map(|o| (lines(o), self.parted_lines)),
        }
    }

    /// The first line of what waits for the very next block: a W block, an object waiting for
    /// its partner (not the sessions held for a late connector).
    pub fn oldest_waiting_line(&self) -> Option<u64> {
        let first = |o: &Object| o.lines.first().copied().unwrap_or(o.pos.line);
        self.warning
            .iter()
            .chain(&self.run)
            .chain(&self.waiting)
            .chain(&self.parted)
            .map(first)
            .min()
    }

    /// The first line of anything held: a W block, an object waiting for its partner, a
    /// lone session waiting for a late connector.
    pub fn oldest_line(&self) -> Option<u64> {
        let first = |o: &Object| o.lines.first().copied().unwrap_or(o.pos.line);
        self.warning
            .iter()
            .chain(&self.run)
            .chain(&self.waiting)
            .chain(&self.parted)
            .chain(&self.held)
            .map(first)
            .min()
    }

    /// Gives up the W block waiting here when it is the warning of the L block `kind`/`repr`
    /// just read in another stream of the same process (warnings on stderr, records on
    /// stdout).
    pub fn take_warning_of(&mut self, kind: Kind, repr: &str) -> Option<Object> {
        if self.gap > 0 {
            return None;
        }
        match &self.warning {
            Some(w) if w.kind == kind && w.repr.as_deref() == Some(repr) => self.warning.take(),
            _ => None,
        }
    }

    /// The last physical line of the W block waiting here for its L block, if any.
    pub fn warning_end(&self) -> Option<u64> {
        let w = self.warning.as_ref()?;
        Some(w.lines.last().copied().unwrap_or(w.pos.line))
    }

    /// Decides the W block waiting here without its L block: more than [`MAX_WARNING_WAIT`]
    /// lines of the input went by since it, in whichever stream, and no block is open that
    /// could be its L. What waits for an adjacent block stays.
    pub fn give_up_warning(&mut self, out: &mut Vec<Decided>) {
        self.gap = 0;
        if let Some(w) = self.warning.take() {
            self.object(w, out);
        }
    }

    /// Whether no W block waits here for its L block.
    pub fn has_no_warning(&self) -> bool {
        self.warning.is_none()
    }

    /// Takes a W block from another stream as if it had been read here, just before its L
    /// block ([`Pairer::take_warning_of`]).
    pub fn adopt_warning(&mut self, w: Object) {
        self.warning = Some(w);
    }

    /// Takes the held session a late connector of another stream of the same process extends
    /// (pytest prints sessions on stdout and their connectors on stderr at exit).
    pub fn take_held_for(&mut self, connector: &Object) -> Option<Object> {
        if !connector.is_late_connector() {
            return None;
        }
        let i = self
            .held
            .iter()
            .position(|s| extends(&connector.frames, &s.frames))?;
        self.held.remove(i)
    }

    /// Reads one assembler event.
    pub fn push(&mut self, event: Event, out: &mut Vec<Decided>) {
        match event {
            Event::Blank(lines) => {
                if !lines.is_empty() {
                    out.push(Decided::Text(lines));
                }
            }
            Event::Text(lines) => {
                let n = lines.len().max(1);
                if self.warning.is_some() && self.gap + n <= MAX_WARNING_GAP {
                    // Its L block may still come: decide nothing yet.
                    self.gap += n;
                } else {
                    self.part(out);
                }
                if self.parted.is_some() {
                    self.parted_lines += n as u64;
                    if self.parted_lines > MAX_PARTING_LINES {
                        self.decide_parted(None, out);
                    }
                }
                if !lines.is_empty() {
                    out.push(Decided::Text(lines));
                }
            }
            Event::Block(b) => {
                let o = b.object;
                self.decide_parted(Some(&o), out);
                if self.gap > 0 {
                    let own_log = !o.warned
                        && self.warning.as_ref().is_some_and(|w| {
                            w.kind == o.kind && w.repr.is_some() && w.repr == o.repr
                        });
                    if !own_log {
                        // The lines between keep the W block apart from anything else.
                        self.separate(out);
                    }
                    self.gap = 0;
                }
                if o.warned {
                    if let Some(w) = self.warning.take() {
                        self.object(w, out);
                    }
                    self.warning = Some(o);
                    return;
                }
                match self.warning.take() {
                    Some(mut w) if w.kind == o.kind && w.repr.is_some() && w.repr == o.repr => {
                        w.merge_log(o);
                        self.object(w, out);
                    }
                    Some(w) => {
                        self.object(w, out);
                        self.object(o, out);
                    }
                    None => self.object(o, out),
                }
            }
        }
    }

    /// Decides what waits for an adjacent block, keeping the sessions held for a late
    /// connector. With [`Pairer::release_held`] after it: everything held back is decided
    /// (at the end of the input, or after a quiet spell).
    pub fn end_adjacency(&mut self, out: &mut Vec<Decided>) {
        self.decide_parted(None, out);
        self.separate(out);
    }

    /// Marks what waits for the very next block as cut: the input stopped where lines may be
    /// missing, and the missing block may have been its partner (a session's connector) or
    /// its other channel's record. A session so marked is `unknown`, not `noise`. Sessions held
    /// for a late connector are not marked: the blocks next to them were read.
    pub fn cut(&mut self) {
        let waits = self
            .warning
            .iter_mut()
            .chain(self.run.iter_mut())
            .chain(self.waiting.iter_mut());
        for o in waits.chain(self.parted.iter_mut()) {
            o.complete = false;
        }
    }

    /// Decides the held sessions alone (after [`Pairer::end_adjacency`]).
    pub fn release_held(&mut self, out: &mut Vec<Decided>) {
        out.extend(self.held.drain(..).map(single));
    }

    /// An ordinary line: nothing before it is adjacent to anything after it.
    fn separate(&mut self, out: &mut Vec<Decided>) {
        self.gap = 0;
        if let Some(w) = self.warning.take() {
            self.object(w, out);
        }
        self.end_run(false, out);
        if let Some(p) = self.waiting.take() {
            self.alone(p, out);
        }
    }

    /// Decides the run of sessions before the waiting one (and the pair after it): `parted`
    /// when connectors came after it that may be theirs, else each held nothing.
    fn end_run(&mut self, parted: bool, out: &mut Vec<Decided>) {
        for mut s in self.run.drain(..) {
            s.parted = parted;
            out.push(single(s));
        }
        if let Some(f) = self.run_pair.take() {
            out.push(Decided::Finding(f));
        }
    }

    /// An ordinary line: as [`Pairer::separate`], except that a session waiting for its
    /// connector, with no traceback to find it by later, waits on as `parted`.
    fn part(&mut self, out: &mut Vec<Decided>) {
        self.gap = 0;
        if let Some(w) = self.warning.take() {
            self.object(w, out);
        }
        self.end_run(false, out);
        match self.waiting.take() {
            Some(s) if s.kind == Kind::Session && !is_held(&s) => {
                self.decide_parted(None, out);
                self.parted = Some(s);
                self.parted_lines = 0;
            }
            Some(p) => self.alone(p, out),
            None => {}
        }
    }

    /// Decides the parted session, if any, before the block `next` of its stream (`None`: no
    /// block came within the bound, or none will). A connector close enough that could be its
    /// own, had they been adjacent, leaves it `parted`; anything else leaves it alone.
    fn decide_parted(&mut self, next: Option<&Object>, out: &mut Vec<Decided>) {
        let Some(mut s) = self.parted.take() else {
            return;
        };
        let end = s.lines.last().copied().unwrap_or(s.pos.line);
        s.parted = next.is_some_and(|c| {
            c.kind == Kind::Connector
                && c.pos.line.saturating_sub(end + 1) <= MAX_PARTING_LINES
                && belong_together(&s, c)
        });
        out.push(single(s));
    }

    /// Decides an object that no adjacent block pairs with.
    fn alone(&mut self, o: Object, out: &mut Vec<Decided>) {
        match o.kind {
            Kind::Session if is_held(&o) => {
                if self.held.len() >= MAX_HELD
                    && let Some(old) = self.held.pop_front()
                {
                    out.push(single(old));
                }
                self.held.push_back(o);
            }
            Kind::Connector if o.trace == Some(Trace::Source) && o.made_by_session() => {
                match self.held.iter().position(|s| extends(&o.frames, &s.frames)) {
                    Some(i) => {
                        let session = self.held.remove(i).expect("index from position");
                        out.push(Decided::Finding(Finding {
                            objects: vec![session, o],
                        }));
                    }
                    None => out.push(single(o)),
                }
            }
            _ => out.push(single(o)),
        }
    }

    fn object(&mut self, o: Object, out: &mut Vec<Decided>) {
        match o.kind {
            // A session's own connector is reported after it, never before (docs/formats.md
            // §5): it waits for the next block.
            Kind::Session => {
                match self.waiting.take() {
                    // Its connector may come after this session's (a batch of garbage).
                    Some(p) if p.kind == Kind::Session && !is_held(&p) => {
                        if self.run.len() >= MAX_RUN
                            && let Some(mut old) = self.run.pop_front()
                        {
                            old.parted = true;
                            out.push(single(old));
                        }
                        self.run.push_back(p);
                    }
                    Some(p) => {
                        self.end_run(false, out);
                        self.alone(p, out);
                    }
                    None => self.end_run(false, out),
                }
                self.waiting = Some(o);
            }
            Kind::Connector => {
                if self.run_pair.is_some() {
                    // A second connector right after a run's pair: Python finalized a batch,
                    // sessions first; this one may be any of the run's.
                    self.end_run(true, out);
                }
                match self.waiting.take() {
                    Some(s) if s.kind == Kind::Session && belong_together(&s, &o) => {
                        let pair = Finding {
                            objects: vec![s, o],
                        };
                        if self.run.is_empty() {
                            out.push(Decided::Finding(pair));
                        } else {
                            // Idle sessions, then one with its connector (each freed by its
                            // last reference), or a batch: the next block tells.
                            self.run_pair = Some(pair);
                        }
                    }
                    waiting => {
                        self.end_run(true, out);
                        if let Some(p) = waiting {
                            self.alone(p, out);
                        }
                        self.alone(o, out);
                    }
                }
            }
            _ => {
                self.end_run(false, out);
                if let Some(p) = self.waiting.take() {
                    self.alone(p, out);
                }
                out.push(single(o));
            }
        }
    }
}

/// Whether a session left alone is held for a late connector: its creation traceback can
/// prove the pair wherever that connector comes.
fn is_held(s: &Object) -> bool {
    s.trace == Some(Trace::Source) && !s.trace_cut
}

fn single(o: Object) -> Decided {
    if o.kind.is_aiohttp() {
        Decided::Finding(Finding { objects: vec![o] })
    } else {
        Decided::Related(o)
    }
}

mod origin;

pub use origin::same_origin;
use origin::{belong_together, extends};

#[cfg(test)]
mod parted_tests;
#[cfg(test)]
mod tests;
