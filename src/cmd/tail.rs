//! Tail: follow files like `tail -F` and report findings as they happen.
//!
//! Each file that is at a followed path is an input of its own (a [`Generation`]): its own
//! reader position, line splitter and scanner (so its own envelope detection and pairing
//! state), its lines numbered from its start. The reading is [`crate::input::follow`]'s; here
//! is what happens at each look at a path:
//! - a different file at the path (rename rotation, a directory moved, a file deleted and
//!   created again): the new one is opened and read from its start; the old one is read to
//!   its end through the handle still open, under the name it has now, and on while it grows
//!   (a writer writes to it until it reopens), until it has been quiet for [`LINGER`];
//! - the same file truncated under the reader (copytruncate, or emptied and written again
//!   between two looks, told by the bytes before the position): the rest of what it held
//!   is read from the copy beside it when there is one, the input ends there cut (a block in
//!   progress is `unknown`, never joined with what follows), and the file is read again from
//!   its start as a new input;
//! - no file at the path: the open handle is read until it has been quiet for [`LINGER`],
//!   then closed (a deleted file's space is freed); a file that comes back is a new input.
//!
//! The directories are watched with inotify ([`Watches`]); an event reads the files it names
//! at once, then the watches are off for [`COALESCE`] and everything is looked at when they
//! are back, so a burst of writes to many files costs about what polling costs. A timer
//! looks at everything too: the only trigger under `--poll` (or when notifications cannot
//! start), a safety net otherwise. The loop is the one every live input has
//! ([`live::drive_source`]), and each file has the clock every live input has
//! ([`live::Flusher`]): a stream's blocks are decided when that stream of that file has
//! been quiet for the flush timeout, what the file holds as a whole when the file has, and a
//! last line without its newline is held until it is complete (or the grace is over).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow};
use tokio::time::Instant;

use crate::cmd::cli::{Format, TailArgs};
use crate::cmd::io::{Io, warn_cut};
use crate::cmd::metrics;
use crate::cmd::printer::{Printer, Sink};
use crate::cmd::setup::Setup;
use crate::cmd::tally::Tally;
use crate::exit;
use crate::input::follow::{self, FileId, Look, Reader, Seen, Watches};
use crate::input::live::{self, Flusher, Held};
use crate::input::read::{LineInfo, Splitter};
use crate::metrics::FollowError;
use crate::pipeline::scan::{Out, Scanner};

mod followed;
mod following;

use followed::{Cx, Followed, Generation};
use following::Following;

/// After an event, the watches are off this long: a burst of writes to many files, which
/// would be an event per write, costs one look at each file when they are back.
const COALESCE: Duration = Duration::from_millis(100);
/// A file no longer at the followed path (renamed away by rotation, or deleted and replaced)
/// is read until it has not grown for this long: a writer may write to it until it reopens.
const LINGER: Duration = Duration::from_secs(5);
/// Bytes read from a file at a time.
const CHUNK: usize = 256 * 1024;
/// Bytes read from one file per look: a reader behind a fast writer comes back to look at
/// the path (and every other file) between these, so a file that is at the path only
/// briefly (rotated again and again) is still opened. The rest is read at once after.
const BUDGET: u64 = CHUNK as u64;

fn is_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// The directory to watch for a path or glob: the longest leading part without wildcards.
fn watch_dir(pattern: &str) -> PathBuf {
    let mut dir = PathBuf::new();
    let path = Path::new(pattern);
    let parts: Vec<_> = path.components().collect();
    for (i, c) in parts.iter().enumerate() {
        let s = c.as_os_str().to_string_lossy();
        if is_glob(&s) || i + 1 == parts.len() {
            break;
        }
        dir.push(c);
    }
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

/// The directories a glob's wildcards cross, as patterns: `/var/log/pods/*/*/*.log` crosses
/// `/var/log/pods/*` and `/var/log/pods/*/*`. A directory created there may come to hold a
/// file to follow, so it is watched as soon as it appears.
fn crossed_dirs(abs_glob: &str) -> Vec<String> {
    let parts: Vec<&str> = abs_glob.split('/').collect();
    let Some(first) = parts.iter().position(|c| is_glob(c)) else {
        return Vec::new();
    };
    (first..parts.len().saturating_sub(1))
        .map(|i| parts[..=i].join("/"))
        .collect()
}

/// How a followed file is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum How {
    /// Through its path: whatever file is there now (rotation, a file created or removed).
    Path,
    /// Through the file open at the path, when only writes named it since the last look:
    /// no path to walk (through kubelet's link) for each of a busy file's looks.
    Handle,
}

/// Everything being followed.
struct Tail<'s> {
    setup: &'s Setup,
    patterns: Vec<String>,
    /// The glob patterns, absolute, to tell which events may name a file to follow.
    globs: Vec<glob::Pattern>,
    /// The directories the globs' wildcards cross ([`crossed_dirs`]), absolute.
    dir_globs: Vec<glob::Pattern>,
    files: Vec<Followed<'s>>,
    /// Each followed path, absolute ([`follow::normal`]): which file an event names.
    by_abs: HashMap<PathBuf, usize>,
    /// The followed paths as given ([`follow::normal`]).
    followed: HashSet<PathBuf>,
    from_start: bool,
    cwd: PathBuf,
    buf: Vec<u8>,
}

impl<'s> Tail<'s> {
    fn new(setup: &'s Setup, patterns: &[String], from_start: bool) -> Result<Self> {
        let cwd = std::env::current_dir()?;
        let escaped = glob::Pattern::escape(&cwd.to_string_lossy());
        let globs = patterns
            .iter()
            .filter(|p| is_glob(p))
            .filter_map(|p| {
                let rel = follow::normal(Path::new(p));
                let abs = if rel.is_absolute() {
                    rel.to_string_lossy().into_owned()
                } else {
                    format!("{escaped}/{}", rel.to_string_lossy())
                };
                glob::Pattern::new(&abs).ok()
            })
            .collect::<Vec<_>>();
        let dir_globs = globs
            .iter()
            .flat_map(|g| crossed_dirs(g.as_str()))
            .filter_map(|d| glob::Pattern::new(&d).ok())
            .collect();
        Ok(Tail {
            setup,
            patterns: patterns.to_vec(),
            globs,
            dir_globs,
            files: Vec::new(),
            by_abs: HashMap::new(),
            followed: HashSet::new(),
            from_start,
            cwd,
            buf: vec![0u8; CHUNK],
        })
    }

    fn absolute(&self, p: &Path) -> PathBuf {
        follow::normal(&self.cwd.join(p))
    }

    /// The directories whose events matter: where each pattern starts, each followed
    /// file's own (a glob's match may be deeper), the directory a followed link's target is
    /// in, and those a glob's wildcards cross ([`crossed_dirs`]).
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .patterns
            .iter()
            .map(|p| self.absolute(&watch_dir(p)))
            .collect();
        for f in &self.files {
            if let Some(d) = self.absolute(&f.path).parent() {
                dirs.push(d.to_path_buf());
            }
            if let Some(d) = f.target.as_deref().and_then(Path::parent) {
                dirs.push(d.to_path_buf());
            }
        }
        for g in &self.dir_globs {
            if let Ok(found) = glob::glob(g.as_str()) {
                dirs.extend(found.flatten().filter(|d| d.is_dir()));
            }
        }
        dirs
    }

    /// Adds files the patterns name that are not followed yet. Files present at the start
    /// are read from their end (unless --from-start); files that appear later, from their
    /// start. At the start, returns what the user is to be told (a glob that matches
    /// nothing yet, a file not there yet).
    fn discover(&mut self, sink: &mut Sink<'_>, at_start: bool) -> Result<Vec<String>> {
        let mut notices = Vec::new();
        for p in self.patterns.clone() {
            let paths: Vec<PathBuf> = if is_glob(&p) {
                let found: Vec<PathBuf> = glob::glob(&p)
                    .map_err(|e| anyhow!("{p}: {e}"))?
                    .filter_map(|r| r.ok())
                    .filter(|p| !self.followed.contains(&follow::normal(p)) && p.is_file())
                    .collect();
                if at_start && found.is_empty() {
                    notices.push(format!(
                        "{}: no file matches yet; following files that match when they appear",
                        crate::pipeline::escape::terminal(&p)
                    ));
                }
                found
            } else {
                vec![PathBuf::from(&p)]
            };
            for path in paths {
                if !self.followed.insert(follow::normal(&path)) {
                    continue;
                }
                let there = std::fs::metadata(&path).ok();
                // A glob that matches rotated names (`app.log*`) finds the file just renamed
                // away from a followed path: it is read there, to its end, under its new name.
                if !at_start
                    && let Some(m) = &there
                    && self.reads(FileId::of(m))
                {
                    continue;
                }
                let input = sink.tally.add_input(path.display().to_string());
                if at_start && there.is_none() {
                    // Like `tail -F`: say so, and follow it once it appears.
                    notices.push(format!(
                        "{}: no such file yet; following it when it appears",
                        crate::pipeline::escape::terminal(&path.display().to_string())
                    ));
                }
                self.by_abs.insert(self.absolute(&path), self.files.len());
                self.files.push(Followed {
                    setup: self.setup,
                    // Only a file that is there when tail starts is read from its end.
                    join_at: there
                        .filter(|_| at_start && !self.from_start)
                        .map(|m| (FileId::of(&m), m.len())),
                    path,
                    first_input: Some(input),
                    current: None,
                    old: Vec::new(),
                    cut_lines: 0,
                    present: false,
                    target: None,
                });
            }
        }
        self.resolve_links();
        Ok(notices)
    }

    /// Finds where the followed paths that are symbolic links lead, for those not known yet:
    /// a write to a link's target is notified in the target's directory, not the link's, so
    /// that directory is watched ([`Tail::dirs`]) and events naming the target name the file.
    fn resolve_links(&mut self) {
        for (i, f) in self.files.iter_mut().enumerate() {
            if f.target.is_some()
                || !std::fs::symlink_metadata(&f.path).is_ok_and(|m| m.file_type().is_symlink())
            {
                continue;
            }
            if let Ok(target) = std::fs::canonicalize(&f.path) {
                self.by_abs.entry(target.clone()).or_insert(i);
                f.target = Some(target);
            }
        }
    }

    /// Whether file `id` is being read at a followed path, or was until it moved away.
    fn reads(&self, id: FileId) -> bool {
        self.files
            .iter()
            .flat_map(|f| f.current.iter().chain(&f.old))
            .any(|g| g.reader.id() == id)
    }

    /// Looks at the files `which` (indices), and at every file that lingers.
    fn look_at(
        &mut self,
        which: impl Iterator<Item = (usize, How)>,
        sink: &mut Sink<'_>,
    ) -> Result<()> {
        let mut cx = Cx {
            buf: &mut self.buf,
            followed: &self.followed,
        };
        let mut which: Vec<(usize, How)> = which.collect();
        // A file named both ways is looked at through its path, once.
        which.sort_unstable();
        let mut looked = BTreeSet::new();
        for (i, how) in which {
            if looked.insert(i) {
                match how {
                    How::Path => self.files[i].look(&mut cx, sink)?,
                    How::Handle => self.files[i].look_written(&mut cx, sink)?,
                }
            }
        }
        for (i, f) in self.files.iter_mut().enumerate() {
            if !f.old.is_empty() && !looked.contains(&i) {
                f.look_old(&mut cx, sink)?;
            }
        }
        metrics::followed(
            &mut sink.tally,
            &mut self.files.iter().map(|f| (f.path.as_path(), f.present)),
        );
        Ok(())
    }

    /// Finds new files and looks at every file.
    fn look_all(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        self.discover(sink, false)?;
        self.look_at((0..self.files.len()).map(|i| (i, How::Path)), sink)
    }

    /// Looks at what the events name: a followed file is read (once, however many events
    /// named it); a path a glob matches is looked for; a change to a watched directory or to
    /// one leading to it (moved, removed, created), or a lost event, looks at everything (the
    /// watches are put where the directories are now at the next [`Tail::rewatch`]).
    fn on_events(&mut self, seen: Seen, watches: &mut Watches, sink: &mut Sink<'_>) -> Result<()> {
        let mut all = seen.rescan;
        let mut new_files = false;
        let mut which = Vec::new();
        for (p, only_written) in seen
            .paths
            .iter()
            .map(|p| (Path::new(p), !seen.changed.contains(p)))
        {
            if let Some(&i) = self.by_abs.get(p) {
                which.push((i, if only_written { How::Handle } else { How::Path }));
            } else if watches.is_structural(p) {
                all = true;
            } else if self.globs.iter().any(|g| g.matches_path(p)) {
                new_files = true;
            } else if self.dir_globs.iter().any(|g| g.matches_path(p)) && p.is_dir() {
                // A directory that may come to hold files to follow (a new pod's): watched
                // from the next refresh on, which then looks at everything for what came
                // before its watch.
                watches.want(p);
                new_files = true;
            }
        }
        // A file renamed away from its path is still read through its handle until it stays
        // quiet; the events its writer's last words cause name its new name, which maps to
        // no followed path: any event looks at it.
        which.extend(
            (0..self.files.len())
                .filter(|&i| !self.files[i].present && self.files[i].current.is_some())
                .map(|i| (i, How::Path)),
        );
        let known = self.files.len();
        if all {
            watches.moved();
            self.look_all(sink)?;
        } else {
            if new_files {
                self.discover(sink, false)?;
            }
            let new = (known..self.files.len()).map(|i| (i, How::Path));
            self.look_at(which.into_iter().chain(new), sink)?;
        }
        // A new file's directory, and its link's target's, are watched from the next
        // refresh on (at the end of the pause), which looks at everything once placed.
        for f in &self.files[known..] {
            if let Some(d) = self.absolute(&f.path).parent() {
                watches.want(d);
            }
            if let Some(d) = f.target.as_deref().and_then(Path::parent) {
                watches.want(d);
            }
        }
        Ok(())
    }

    /// Watches the directories as they are now; when a watch had to be placed, events may
    /// have been missed: new files are looked for and every file looked at.
    fn rewatch(&mut self, watches: &mut Watches, sink: &mut Sink<'_>) -> Result<()> {
        // A look may find directories to watch (one a glob crosses, made before its parent
        // was watched): again until nothing new is placed, bounded by a path's depth.
        for _ in 0..8 {
            for d in self.dirs() {
                watches.want(&d);
            }
            if !watches.refresh() {
                break;
            }
            self.look_all(sink)?;
        }
        Ok(())
    }

    /// Whether some file holds bytes not read yet: they are read before anything else, and
    /// nothing is decided for quiet meanwhile.
    fn has_more(&self) -> bool {
        self.files.iter().any(Followed::has_more)
    }

    /// Looks at the files that hold bytes not read yet.
    fn look_further(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        let which: Vec<(usize, How)> = (0..self.files.len())
            .filter(|&i| self.files[i].has_more())
            .map(|i| (i, How::Path))
            .collect();
        self.look_at(which.into_iter(), sink)
    }

    fn generations(&self) -> impl Iterator<Item = &Generation<'s>> {
        self.files.iter().flat_map(|f| f.generations())
    }

    /// When the first file holding something undecided is to be decided
    /// ([`Generation::deadline`]): nothing is decided while some file holds bytes not read
    /// yet (they are read first).
    fn deadline(&self) -> Option<Instant> {
        if self.has_more() {
            return None;
        }
        let lingering = self.files.iter().filter_map(Followed::linger_deadline);
        self.generations()
            .filter_map(Generation::deadline)
            .chain(lingering)
            .min()
    }

    /// Decides what the files whose deadline passed hold.
    fn decide_due(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        let now = Instant::now();
        for f in &mut self.files {
            for g in f.generations_mut() {
                if g.deadline().is_some_and(|d| d <= now) {
                    g.decide(sink)?;
                }
            }
        }
        Ok(())
    }
}

/// `unclosed tail`.
pub fn run(args: &TailArgs, io: &mut Io<'_>) -> Result<i32> {
    if args.format == Format::Json {
        return Err(anyhow!(
            "tail reports as it goes: use --format table, list or ndjson"
        ));
    }
    let setup = Setup::new(&args.read)?;
    live::runtime()?.block_on(follow(args, &setup, io))
}

/// Follows the files until a signal, then reports (on the caller's runtime: tests run it
/// with tokio's paused time).
async fn follow(args: &TailArgs, setup: &Setup, io: &mut Io<'_>) -> Result<i32> {
    let Io { out, err, env } = io;
    let terminal = env.stdout_terminal && args.format == Format::Table;
    // The table's findings come as plain lines while following; the table ends the run.
    let live_format = if args.format == Format::Table {
        Format::List
    } else {
        args.format
    };
    let mut out = io::BufWriter::new(&mut **out);
    let color = env.color(args.color);
    let mut sink = Sink {
        tally: Tally::new(setup.rules.clone()),
        printer: Printer::new(live_format, &mut out, color, env.stdout_width),
    };
    if terminal {
        sink.printer.keep_status_line();
    }
    let mut tail = Tail::new(setup, &args.patterns, args.from_start)?;
    // --metrics: served from this runtime while tail runs; the tally feeds it. Started first,
    // so that an address that cannot be used is the first (and only) thing said.
    let handle = tokio::runtime::Handle::current();
    let _metrics = metrics::start(&args.metrics, Some(&handle), &mut sink.tally, &mut **err)?;
    for notice in tail.discover(&mut sink, true)? {
        let _ = writeln!(err, "unclosed: {notice}");
    }
    let mut following = Following::new(&mut tail, &mut sink, args, &mut **err);
    let result = live::drive_source(&mut following).await;
    drop(following);
    // The end: read what is left, decide everything, print the summary.
    tail.look_at((0..tail.files.len()).map(|i| (i, How::Path)), &mut sink)?;
    // What the files held beyond a look's budget too, within reason: a writer that never
    // stops would keep the run from ending.
    for _ in 0..64 {
        if !tail.has_more() {
            break;
        }
        tail.look_further(&mut sink)?;
    }
    for f in &mut tail.files {
        f.end(&mut sink)?;
    }
    result?;
    sink.printer.set_format(if args.format == Format::Table {
        Format::Table
    } else {
        live_format
    });
    sink.printer.finish(&sink.tally)?;
    for f in &tail.files {
        warn_cut(
            &mut **err,
            &f.path.display().to_string(),
            f.cut_lines,
            setup.max_line,
        );
    }
    drop(sink);
    out.flush()?;
    Ok(exit::OK)
}

#[cfg(test)]
mod live_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_dir_is_the_part_before_any_wildcard() {
        assert_eq!(
            watch_dir("/var/log/containers/api-*.log"),
            PathBuf::from("/var/log/containers")
        );
        assert_eq!(watch_dir("/var/log/*/app.log"), PathBuf::from("/var/log"));
        assert_eq!(watch_dir("app.log"), PathBuf::from("."));
        assert_eq!(watch_dir("logs/app.log"), PathBuf::from("logs"));
    }

    #[test]
    fn crossed_dirs_are_the_wildcard_directories_of_a_glob() {
        assert_eq!(
            crossed_dirs("/var/log/pods/*/*/*.log"),
            ["/var/log/pods/*", "/var/log/pods/*/*"]
        );
        assert!(crossed_dirs("/var/log/containers/*.log").is_empty());
        assert!(crossed_dirs("/var/log/app.log").is_empty());
        assert_eq!(
            crossed_dirs("/srv/*/logs/app-*.log"),
            ["/srv/*", "/srv/*/logs"]
        );
    }
}
