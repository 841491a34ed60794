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

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

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
    /// Where the bytes the file holds now are read to compare them with `head` and
    /// `behind`: made once, as each look compares (a zeroed buffer per comparison was a
    /// fifth of a busy `tail`'s instructions).
    scratch: Vec<u8>,
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
            scratch: Vec::new(),
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
        // (The first bytes are checked after a read, when there is something to read.)
        if stamp.len < self.pos
            || !self.still_has(true)?
            || (stamp.len == self.pos && !self.still_has(false)?)
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
            if self.file.metadata()?.len() < self.pos + n as u64 || !self.still_has(false)? {
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
                scratch: Vec::new(),
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

    /// Whether the file still holds its first bytes as read (`head`), or, with `behind`,
    /// the bytes just before the position.
    fn still_has(&mut self, behind: bool) -> io::Result<bool> {
        let (at, bytes) = if behind {
            (self.pos - self.behind.len() as u64, &self.behind)
        } else {
            (0, &self.head)
        };
        if bytes.is_empty() {
            return Ok(true);
        }
        if self.scratch.len() < bytes.len() {
            self.scratch.resize(KEEP.max(bytes.len()), 0);
        }
        let buf = &mut self.scratch[..bytes.len()];
        let mut got = 0;
        while got < buf.len() {
            let n = read_at(&self.file, &mut buf[got..], at + got as u64)?;
            if n == 0 {
                return Ok(false);
            }
            got += n;
        }
        Ok(buf[..] == bytes[..])
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

mod watches;

pub use watches::{Seen, Watches, normal};

#[cfg(test)]
mod tests;
