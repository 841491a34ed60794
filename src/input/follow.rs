//! Follow: read files as they are written, rotated, truncated and replaced (`unclosed tail`).
//!
//! What the bytes mean is the caller's business; this is the I/O:
//! - [`Reader`] reads one file from a position on, through its handle, and tells when the file
//!   was truncated under it ([`Look::Truncated`]): it is shorter than the position, or its
//!   first bytes or those just before the position are no longer the ones read there
//!   (truncated and written again past the position between two looks, or while being read:
//!   what was read then is not used). A look at a file whose size, modification and change
//!   times are what they were when it was last read to its end reads nothing.
//! - [`Reader::find_copy`] finds the copy copytruncate made before truncating, so the part
//!   not read yet is read from there.
//! - [`Watches`] keeps inotify watches on directories that may be moved, removed or created
//!   again, and gathers the paths events name until the caller looks: a burst of events on
//!   many files is one look at each.

use std::collections::{HashMap, HashSet};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use notify::{RecursiveMode, Watcher};

/// Bytes remembered of a file's start, and of what comes just before the read position: the
/// latter tell a file written again after a truncation from the one read (compared at each
/// read: a few hundred bytes would often be the same, the tail of a traceback that repeats),
/// both find the copy copytruncate made.
pub const KEEP: usize = 4096;

/// A file's identity: device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of the file `m` describes.
    pub fn of(m: &Metadata) -> FileId {
        FileId {
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

/// What a `stat` says changes when a file is written to or truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &Metadata) -> Stamp {
        Stamp {
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// What a look at a file found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// Read to its end (perhaps nothing was new).
    Read,
    /// Truncated under the reader, nothing read: what it held past the position is gone from
    /// it, and what it holds now is to be read from its start.
    Truncated,
}

/// One file read from a position on, through the handle opened on it.
#[derive(Debug)]
pub struct Reader {
    file: File,
    id: FileId,
    pos: u64,
    /// The file as it was when it was last read to its end: the same again means nothing
    /// to read.
    seen: Option<Stamp>,
    /// Its size at the last look.
    size: u64,
    /// The file's first bytes (up to [`KEEP`]), as read.
    head: Vec<u8>,
    /// The bytes just before `pos` (up to [`KEEP`]).
    behind: Vec<u8>,
}

impl Reader {
    /// Opens `path` to read it from its start.
    pub fn open(path: &Path) -> io::Result<Reader> {
        let file = File::open(path)?;
        let id = FileId::of(&file.metadata()?);
        Ok(Reader {
            file,
            id,
            pos: 0,
            seen: None,
            size: 0,
            head: Vec::new(),
            behind: Vec::new(),
        })
    }

    /// The identity of the file open.
    pub fn id(&self) -> FileId {
        self.id
    }

    /// The read position.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// The open file's metadata (through the handle: also once the file is renamed or deleted).
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.file.metadata()
    }

    /// Moves to the end of the last whole line in the file's first `len` bytes (`tail`
    /// joining a file at its end: a line being written then is read whole) and says how many
    /// lines come before it.
    pub fn join_at_end(&mut self, len: u64, buf: &mut [u8]) -> io::Result<u64> {
        let (mut at, mut lines, mut end) = (0u64, 0u64, 0u64);
        while at < len {
            let want = (len - at).min(buf.len() as u64) as usize;
            let n = read_at(&self.file, &mut buf[..want], at)?;
            if n == 0 {
                break;
            }
            lines += bytecount::count(&buf[..n], b'\n') as u64;
            if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
                end = at + i as u64 + 1;
            }
            at += n as u64;
        }
        self.pos = end;
        self.head = self.bytes_at(0, end.min(KEEP as u64) as usize)?;
        let keep = end.min(KEEP as u64);
        self.behind = self.bytes_at(end - keep, keep as usize)?;
        Ok(lines)
    }

    /// Reads what the file holds past the position, up to its size in `now` (its metadata,
    /// taken through its path or its handle) and at most `budget` bytes, and gives it to
    /// `take` in order, in pieces of at most `buf`'s length; nothing when `now` says the file
    /// has not changed since it was last read to its end. A file shorter than the position,
    /// or whose bytes just before it changed, was truncated: nothing is read then.
    pub fn read_new<E>(
        &mut self,
        now: &Metadata,
        budget: u64,
        buf: &mut [u8],
        take: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Look, E>
    where
        E: From<io::Error>,
    {
        let stamp = Stamp::of(now);
        self.size = stamp.len;
        if self.seen == Some(stamp) {
            return Ok(Look::Read);
        }
        // Truncated and written again past the position between two looks: the size alone
        // cannot tell, the bytes read can: the file's first ones and those just before the
        // position. (A rewrite that puts the very same bytes in both places reads on as if
        // nothing happened: nothing tells it from an append.)
        if stamp.len < self.pos
            || !self.still_has(self.pos - self.behind.len() as u64, &self.behind)?
            || !self.still_has(0, &self.head)?
        {
            return Ok(Look::Truncated);
        }
        // Up to the size seen, so that a writer faster than the reader does not keep it here:
        // what it adds meanwhile is read at the next look.
        let end = stamp.len.min(self.pos.saturating_add(budget));
        while self.pos < end {
            let want = (end - self.pos).min(buf.len() as u64) as usize;
            let n = read_at(&self.file, &mut buf[..want], self.pos)?;
            if n == 0 {
                break;
            }
            // Truncated while being read, then written again past the position: what was just
            // read may be the new text. It is not used (a copy may have it, else the file is
            // read again from its start).
            if self.file.metadata()?.len() < self.pos + n as u64
                || !self.still_has(0, &self.head)?
            {
                return Ok(Look::Truncated);
            }
            self.took(&buf[..n]);
            take(&buf[..n])?;
        }
        if self.pos >= stamp.len {
            self.seen = Some(stamp);
        }
        Ok(Look::Read)
    }

    /// Whether the file held more than was read at the last look (the budget ran out).
    pub fn has_more(&self) -> bool {
        self.pos < self.size
    }

    /// Reads the file from its start again (after [`Look::Truncated`]).
    pub fn restart(&mut self) {
        self.pos = 0;
        self.seen = None;
        self.size = 0;
        self.head.clear();
        self.behind.clear();
    }

    /// Looks in `dir` for the copy copytruncate made of this file before truncating it: a
    /// regular file other than this one, not `skip`ped, at least as long as the position,
    /// whose first bytes and whose bytes just before the position are the ones read here
    /// ([`KEEP`] of each). Of several, the one changed last (the copy just made, not an older
    /// rotation of the same text). It comes positioned where this reader was, to read the
    /// rest of what the file held from it; with its path.
    pub fn find_copy(&self, dir: &Path, skip: &dyn Fn(&Path) -> bool) -> Option<(Reader, PathBuf)> {
        if self.pos == 0 {
            return None;
        }
        let mut best: Option<((i64, i64), Reader, PathBuf)> = None;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            let Ok(m) = entry.metadata() else { continue };
            if !m.is_file() || m.len() < self.pos || FileId::of(&m) == self.id || skip(&path) {
                continue;
            }
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let copy = Reader {
                id: FileId::of(&m),
                file,
                pos: self.pos,
                seen: None,
                size: m.len(),
                head: self.head.clone(),
                behind: self.behind.clone(),
            };
            let same =
                |at: u64, want: &[u8]| copy.bytes_at(at, want.len()).is_ok_and(|got| got == want);
            if !same(0, &self.head) || !same(self.pos - self.behind.len() as u64, &self.behind) {
                continue;
            }
            let changed = (m.ctime(), m.ctime_nsec());
            if best.as_ref().is_none_or(|(t, _, _)| changed > *t) {
                best = Some((changed, copy, path));
            }
        }
        best.map(|(_, r, p)| (r, p))
    }

    /// The path the open file has now, when the system says (Linux: `/proc/self/fd`) and it
    /// is still in the file system.
    pub fn path_now(&self) -> Option<PathBuf> {
        use std::os::fd::AsRawFd;
        let now = std::fs::read_link(format!("/proc/self/fd/{}", self.file.as_raw_fd())).ok()?;
        if now.to_string_lossy().ends_with(" (deleted)") {
            return None;
        }
        Some(now)
    }

    fn took(&mut self, data: &[u8]) {
        if self.head.len() as u64 == self.pos && self.head.len() < KEEP {
            let n = (KEEP - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
        }
        self.pos += data.len() as u64;
        if data.len() >= KEEP {
            self.behind.clear();
            self.behind.extend_from_slice(&data[data.len() - KEEP..]);
        } else {
            let over = (self.behind.len() + data.len()).saturating_sub(KEEP);
            self.behind.drain(..over);
            self.behind.extend_from_slice(data);
        }
    }

    /// Whether the file still holds `bytes` at `at`.
    fn still_has(&self, at: u64, bytes: &[u8]) -> io::Result<bool> {
        Ok(bytes.is_empty() || self.bytes_at(at, bytes.len())? == bytes)
    }

    /// `len` bytes at `at`, fewer if the file ends first.
    fn bytes_at(&self, at: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut v = vec![0u8; len];
        let mut got = 0;
        while got < len {
            let n = read_at(&self.file, &mut v[got..], at + got as u64)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        v.truncate(got);
        Ok(v)
    }
}

fn read_at(f: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    loop {
        match f.read_at(buf, at) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// A path without `.` components or doubled separators, so that the paths events name and
/// the ones the caller keeps compare equal (`./app.log` is `app.log`).
pub fn normal(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| *c != std::path::Component::CurDir)
        .collect()
}

/// What the watches saw since the last look.
#[derive(Debug, Default)]
pub struct Seen {
    /// The paths events named.
    pub paths: HashSet<PathBuf>,
    /// Events may have been lost (the kernel's queue overflowed): look at everything.
    pub rescan: bool,
}

/// inotify watches (through `notify`) on the directories files are followed in, kept on the
/// directories the paths name now: a directory moved away, removed or created again is
/// watched again where the path leads, and while it does not exist its nearest existing
/// ancestor is watched, so that its return is seen.
pub struct Watches {
    watcher: notify::RecommendedWatcher,
    seen: Arc<Mutex<Seen>>,
    /// Directories to keep watched (absolute, [`normal`]).
    wanted: Vec<PathBuf>,
    /// What is watched now, and which directory it was when the watch was made.
    watched: HashMap<PathBuf, FileId>,
    paused: bool,
}

impl Watches {
    /// Starts notifications; `wake` gets a message when an event comes (one waiting message
    /// stands for any number of events). `None` when notifications cannot start.
    pub fn start(wake: tokio::sync::mpsc::Sender<()>) -> Option<Watches> {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = Arc::clone(&seen);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(mut s) = shared.lock() else { return };
            match event {
                // Reads and opens (ours too) are access events: reacting to them would wake
                // us forever. Only changes matter.
                Ok(e) if matches!(e.kind, notify::EventKind::Access(_)) => return,
                Ok(e) => {
                    s.rescan |= e.need_rescan();
                    s.paths.extend(e.paths);
                }
                Err(_) => s.rescan = true,
            }
            drop(s);
            // A full channel already means "look"; nothing is lost by dropping this one.
            let _ = wake.try_send(());
        })
        .ok()?;
        Some(Watches {
            watcher,
            seen,
            wanted: Vec::new(),
            watched: HashMap::new(),
            paused: false,
        })
    }

    /// Keeps `dir` (absolute) watched from now on; whether it was new.
    pub fn want(&mut self, dir: &Path) -> bool {
        let dir = normal(dir);
        if self.wanted.contains(&dir) {
            return false;
        }
        self.wanted.push(dir);
        true
    }

    /// Removes every watch until the next [`Watches::refresh`]. A caller that then looks at
    /// everything needs no events meanwhile: a burst of writes to many files costs it one
    /// look at each, not one event per write.
    pub fn pause(&mut self) {
        for p in self.watched.keys() {
            let _ = self.watcher.unwatch(p);
        }
        self.watched.clear();
        self.paused = true;
    }

    /// Whether the watches are paused ([`Watches::pause`]).
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Whether an event on `path` may change what is to be watched: it is a wanted directory
    /// or leads to one.
    pub fn is_structural(&self, path: &Path) -> bool {
        self.wanted.iter().any(|d| d.starts_with(path))
    }

    /// Whether any watch is in place.
    pub fn is_watching(&self) -> bool {
        !self.watched.is_empty()
    }

    /// Puts the watches where the wanted directories are now: a directory replaced since its
    /// watch was made is watched again, one that is gone is replaced by its nearest existing
    /// ancestor. Returns whether a watch was placed: events may have been missed meanwhile.
    pub fn refresh(&mut self) -> bool {
        self.paused = false;
        let mut desired: HashMap<PathBuf, FileId> = HashMap::new();
        for d in &self.wanted {
            let mut at = Some(d.as_path());
            while let Some(p) = at {
                if let Ok(m) = std::fs::metadata(p)
                    && m.is_dir()
                {
                    desired.insert(p.to_path_buf(), FileId::of(&m));
                    break;
                }
                at = p.parent();
            }
        }
        let mut placed = false;
        let stale: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|(p, id)| desired.get(*p) != Some(*id))
            .map(|(p, _)| p.clone())
            .collect();
        for p in stale {
            // The kernel drops the watch of a removed directory itself: an error here is fine.
            let _ = self.watcher.unwatch(&p);
            self.watched.remove(&p);
        }
        for (p, id) in desired {
            if self.watched.contains_key(&p) {
                continue;
            }
            if self.watcher.watch(&p, RecursiveMode::NonRecursive).is_ok() {
                self.watched.insert(p, id);
                placed = true;
            }
        }
        placed
    }

    /// Takes what was seen since the last call.
    pub fn take(&self) -> Seen {
        self.seen
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(path: &Path, text: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text).unwrap();
    }

    /// Reads what is new at `path` with `r`: the bytes, or None when it was truncated.
    fn look(r: &mut Reader, path: &Path) -> Option<Vec<u8>> {
        let m = std::fs::metadata(path).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 7];
        let look = r
            .read_new(&m, u64::MAX, &mut buf, &mut |b: &[u8]| -> io::Result<()> {
                got.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
        (look == Look::Read).then_some(got)
    }

    #[test]
    fn a_rewrite_past_the_position_is_a_truncation_an_append_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        append(&p, b"one\ntwo\n");
        let mut r = Reader::open(&p).unwrap();
        assert_eq!(look(&mut r, &p).unwrap(), b"one\ntwo\n");
        assert_eq!(look(&mut r, &p).unwrap(), b"", "nothing new");
        append(&p, b"three\n");
        assert_eq!(look(&mut r, &p).unwrap(), b"three\n");
        // Truncated and written again, longer than before, between two looks.
        std::fs::write(&p, b"ONE\nTWO\nTHREE\nFOUR\n").unwrap();
        assert_eq!(look(&mut r, &p), None);
        r.restart();
        assert_eq!(look(&mut r, &p).unwrap(), b"ONE\nTWO\nTHREE\nFOUR\n");
        // Longer than what is kept of each end: written again with only its first line
        // changed, then with only its last.
        let text: Vec<u8> = (0..2000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        std::fs::write(&p, &text).unwrap();
        assert_eq!(look(&mut r, &p), None);
        r.restart();
        assert_eq!(look(&mut r, &p).unwrap(), text);
        let first = [b"LINE 0\n", &text[7..], b"more\n"].concat();
        std::fs::write(&p, &first).unwrap();
        assert_eq!(look(&mut r, &p), None, "the first bytes differ");
        r.restart();
        assert_eq!(look(&mut r, &p).unwrap(), first);
        let last = [&first[..first.len() - 5], b"MORE\n", b"again\n"].concat();
        std::fs::write(&p, &last).unwrap();
        assert_eq!(
            look(&mut r, &p),
            None,
            "the bytes before the position differ"
        );
        // Shorter than the position.
        std::fs::write(&p, b"x\n").unwrap();
        assert_eq!(look(&mut r, &p), None);
    }

    #[test]
    fn a_look_reads_no_more_than_its_budget_and_the_next_reads_on() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        append(&p, b"0123456789");
        let mut r = Reader::open(&p).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        let mut got = Vec::new();
        let mut take = |b: &[u8]| -> io::Result<()> {
            got.extend_from_slice(b);
            Ok(())
        };
        assert_eq!(
            r.read_new(&m, 4, &mut [0u8; 3], &mut take).unwrap(),
            Look::Read
        );
        assert!(r.has_more());
        // The same metadata: not taken as "nothing changed" while bytes are left.
        assert_eq!(
            r.read_new(&m, 100, &mut [0u8; 3], &mut take).unwrap(),
            Look::Read
        );
        assert!(!r.has_more());
        assert_eq!(got, b"0123456789");
    }

    /// Waits (generously) until the watches have seen `path`.
    fn sees(w: &Watches, path: &Path) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if w.take().paths.contains(path) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn a_watched_directory_moved_removed_or_created_again_is_watched_where_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let top = normal(&tmp.path().canonicalize().unwrap());
        let logs = top.join("logs");
        std::fs::create_dir(&logs).unwrap();
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        let mut w = Watches::start(tx).expect("inotify");
        w.want(&logs);
        assert!(w.refresh());
        append(&logs.join("app.log"), b"one\n");
        assert!(sees(&w, &logs.join("app.log")));

        // Moved away, and another made at once: the watch goes to the new one.
        std::fs::rename(&logs, top.join("logs.1")).unwrap();
        std::fs::create_dir(&logs).unwrap();
        assert!(w.is_structural(&logs));
        assert!(w.refresh(), "watched again");
        append(&logs.join("app.log"), b"two\n");
        assert!(sees(&w, &logs.join("app.log")));

        // Removed: its parent is watched, and sees it come back.
        std::fs::remove_dir_all(&logs).unwrap();
        assert!(w.refresh());
        std::fs::create_dir(&logs).unwrap();
        assert!(sees(&w, &logs), "the directory's return");
        assert!(w.refresh());
        append(&logs.join("app.log"), b"three\n");
        assert!(sees(&w, &logs.join("app.log")));
        assert!(!w.refresh(), "nothing changed since");
    }

    #[test]
    fn the_copy_is_found_by_its_bytes_and_read_on_from_the_position() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        let text: Vec<u8> = (0..2000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        append(&p, &text[..6000]);
        let mut r = Reader::open(&p).unwrap();
        look(&mut r, &p).unwrap();
        append(&p, &text[6000..]);
        // An older rotation with the same start, and a file of other text, beside the copy.
        let older = [&text[..5000], &[b'y'; 3000][..]].concat();
        std::fs::write(dir.path().join("app.log.2"), older).unwrap();
        std::fs::write(dir.path().join("other.log"), vec![b'x'; text.len()]).unwrap();
        std::fs::copy(&p, dir.path().join("app.log.1")).unwrap();
        std::fs::write(&p, b"").unwrap();
        assert_eq!(look(&mut r, &p), None);
        let (mut copy, name) = r.find_copy(dir.path(), &|_| false).expect("the copy");
        assert_eq!(name, dir.path().join("app.log.1"));
        let at = dir.path().join("app.log.1");
        assert_eq!(look(&mut copy, &at).unwrap(), &text[6000..]);
        assert!(r.find_copy(dir.path(), &|p| p == at).is_none(), "skipped");
    }
}
