//! A followed path and the files that were at it, each an input of its own
//! ([`Generation`]): what one look at a path does.

use super::*;

/// One file that was at the followed path, read as an input of its own: its lines are
/// numbered from its start, and its blocks are paired among themselves only.
pub(super) struct Generation<'s> {
    pub(super) reader: Reader,
    pub(super) input: usize,
    pub(super) splitter: Splitter,
    pub(super) scan: Scanned<'s>,
    /// When what it holds is decided: the flush clock of every live input, counted from
    /// what this file took in (another file's quiet or bytes change nothing here).
    pub(super) flusher: Flusher,
    /// When bytes were last read from it: a file no longer at the path is read until it
    /// has been quiet for [`LINGER`].
    pub(super) grew: Instant,
}

/// A file's scanner and what it decided, as the flush clock sees them.
pub(super) struct Scanned<'s> {
    pub(super) scanner: Scanner<'s>,
    pub(super) out: Out,
}

impl Held for Scanned<'_> {
    fn oldest_held(&self) -> Option<u64> {
        self.scanner.oldest_held()
    }

    fn flush(&mut self) -> Result<()> {
        self.scanner.finish(&mut self.out);
        Ok(())
    }

    fn holding_streams(&self) -> Vec<(String, u64)> {
        self.scanner.holding_streams()
    }

    fn flush_stream(&mut self, key: &str) -> Result<()> {
        self.scanner.finish_stream(key, &mut self.out);
        Ok(())
    }
}

impl<'s> Generation<'s> {
    pub(super) fn new(setup: &'s Setup, reader: Reader, input: usize) -> Self {
        Generation {
            reader,
            input,
            splitter: Splitter::new(setup.max_line),
            scan: Scanned {
                scanner: setup.scanner(),
                out: Out::default(),
            },
            flusher: Flusher::new(setup.flush),
            grew: Instant::now(),
        }
    }

    /// When what it holds is to be decided ([`Flusher::deadline`]).
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.flusher
            .deadline(&self.scan, self.splitter.has_partial())
    }

    /// At its deadline: decides what is due ([`Flusher::fire`]) and reports it.
    pub(super) fn decide(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        self.flusher
            .fire(&mut self.scan, self.splitter.has_partial())?;
        self.report(sink)
    }

    /// Reads what is new, up to [`BUDGET`] bytes; `now` is the file's metadata (through the
    /// path, or the handle).
    pub(super) fn read(
        &mut self,
        now: &std::fs::Metadata,
        buf: &mut [u8],
        sink: &mut Sink<'_>,
    ) -> Result<Look> {
        let Generation {
            reader,
            input,
            splitter,
            scan: Scanned { scanner, out },
            ..
        } = self;
        let before = reader.pos();
        let look = reader.read_new(now, BUDGET, buf, &mut |data: &[u8]| -> Result<()> {
            splitter.push(data, &mut |_: &[u8], line: &[u8], info| -> io::Result<()> {
                scanner.push_line(line, info, out);
                Ok(())
            })?;
            sink.take(out, *input, scanner)?;
            Ok(())
        })?;
        if reader.pos() != before {
            self.grew = Instant::now();
            self.flusher.took(&self.scan);
        }
        Ok(look)
    }

    /// Reads what is new through the handle (the file may be elsewhere by now).
    pub(super) fn read_handle(&mut self, buf: &mut [u8], sink: &mut Sink<'_>) -> Result<Look> {
        let m = self.reader.metadata()?;
        self.read(&m, buf, sink)
    }

    /// Ends this input: a line begun is taken as it is, and everything held is decided;
    /// `cut` when lines may be missing after the last one read ([`Scanner::cut`]).
    /// Returns the file's reader and the lines cut at the line limit.
    pub(super) fn end(mut self, cut: bool, sink: &mut Sink<'_>) -> Result<(Reader, u64)> {
        if cut {
            let mut unfinished: Option<(Vec<u8>, LineInfo)> = None;
            self.splitter
                .finish(&mut |_: &[u8], line: &[u8], info| -> io::Result<()> {
                    unfinished = Some((line.to_vec(), info));
                    Ok(())
                })?;
            let last = unfinished.as_ref().map(|(l, info)| (l.as_slice(), *info));
            self.scan.scanner.cut(last, &mut self.scan.out);
        } else {
            self.end_partial_line(sink)?;
            self.scan.scanner.finish(&mut self.scan.out);
        }
        self.report(sink)?;
        Ok((self.reader, self.scan.scanner.cut_lines()))
    }

    pub(super) fn end_partial_line(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        let Scanned { scanner, out } = &mut self.scan;
        self.splitter
            .finish(&mut |_: &[u8], line: &[u8], info| -> io::Result<()> {
                scanner.push_line(line, info, out);
                Ok(())
            })?;
        self.report(sink)
    }

    pub(super) fn report(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        sink.take(&mut self.scan.out, self.input, &self.scan.scanner)?;
        Ok(())
    }

    /// Reports the input under the name its file has now, when it is known.
    pub(super) fn rename_to_where_it_is(&self, followed: &Path, sink: &mut Sink<'_>) {
        if let Some(now) = self.reader.path_now() {
            sink.tally
                .rename_input(self.input, display_beside(followed, &now));
        }
    }
}

/// `now` as the user would name it: beside the followed path when it is in the same
/// directory (`app.log` → `app.log.1`), else in full.
pub(super) fn display_beside(followed: &Path, now: &Path) -> String {
    let dir = match followed.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let same_dir = dir.canonicalize().ok().as_deref() == now.parent();
    match (same_dir, now.file_name()) {
        (true, Some(file)) => followed.with_file_name(file),
        _ => now.to_path_buf(),
    }
    .display()
    .to_string()
}

/// What every followed path's look needs.
pub(super) struct Cx<'a> {
    pub(super) buf: &'a mut [u8],
    /// The followed paths ([`follow::normal`]): a copy that is followed itself is read there.
    pub(super) followed: &'a HashSet<PathBuf>,
}

/// One followed path and the files that were at it.
pub(super) struct Followed<'s> {
    pub(super) setup: &'s Setup,
    pub(super) path: PathBuf,
    /// The input the first file found at the path is read as.
    pub(super) first_input: Option<usize>,
    /// The file there when tail started, and its size then: read from there (its end
    /// when tail started, not when it was first looked at, which is later: a line written
    /// meanwhile is read).
    pub(super) join_at: Option<(FileId, u64)>,
    /// The file at the path (or the last one, while none is).
    pub(super) current: Option<Generation<'s>>,
    /// Files that were at the path, read until they stay quiet ([`LINGER`]).
    pub(super) old: Vec<Generation<'s>>,
    /// Lines cut at the line limit in the inputs that ended.
    pub(super) cut_lines: u64,
    /// A file was at the path at the last look (`unclosed_files_followed`).
    pub(super) present: bool,
    /// Where a symbolic link at the path leads (kubelet's `/var/log/containers/*.log` lead
    /// into `/var/log/pods`), absolute: writes are notified in the target's directory.
    pub(super) target: Option<PathBuf>,
}

impl<'s> Followed<'s> {
    /// Reads what is new at the path.
    pub(super) fn look(&mut self, cx: &mut Cx<'_>, sink: &mut Sink<'_>) -> Result<()> {
        let at_path = std::fs::metadata(&self.path);
        let was_present = std::mem::replace(&mut self.present, at_path.is_ok());
        match at_path {
            Err(_) => {
                // Renamed away or deleted: what the writer added before is still ours, under
                // the name the file has now.
                if let Some(g) = &mut self.current {
                    g.rename_to_where_it_is(&self.path, sink);
                    if was_present {
                        // Its quiet is counted from now, as a file rotated away's is.
                        g.grew = Instant::now();
                    }
                    let look = g.read_handle(cx.buf, sink)?;
                    let quiet = g.grew.elapsed() >= LINGER && !g.reader.has_more();
                    if look == Look::Truncated {
                        self.truncated(cx, sink)?;
                    } else if quiet && let Some(g) = self.current.take() {
                        // Quiet as long as a file rotated away: ended like one, so that its
                        // handle, and a deleted file's disk space (a pod's logs the kubelet
                        // removed), is let go. A file that comes back is a new input.
                        self.close(g, false, sink)?;
                    }
                }
            }
            Ok(m) => {
                if let Some(g) = self.current.take_if(|g| g.reader.id() != FileId::of(&m)) {
                    // Rotated: the new file is numbered from its first line; the old one is
                    // read to its end under the name it has now, and on while it grows. The
                    // new one is opened first: reading the old one takes time, and the path
                    // may be rotated again meanwhile.
                    self.open(&m, cx, sink)?;
                    self.retire(g, cx, sink)?;
                }
                if self.current.is_none() && !self.open(&m, cx, sink)? {
                    return self.look_old(cx, sink);
                }
                let Some(g) = &mut self.current else {
                    return Ok(());
                };
                // Opened just now, the handle may already see another file than `m` did.
                let now = if g.reader.id() == FileId::of(&m) {
                    m
                } else {
                    g.reader.metadata()?
                };
                if g.read(&now, cx.buf, sink)? == Look::Truncated {
                    self.truncated(cx, sink)?;
                }
            }
        }
        self.look_old(cx, sink)
    }

    /// Reads what is new in the file open at the path, through its handle, when only writes
    /// were notified since the last look (nothing moved, created or removed at the path);
    /// otherwise as [`Followed::look`].
    pub(super) fn look_written(&mut self, cx: &mut Cx<'_>, sink: &mut Sink<'_>) -> Result<()> {
        match &mut self.current {
            Some(g) if self.present => {
                if g.read_handle(cx.buf, sink)? == Look::Truncated {
                    self.truncated(cx, sink)?;
                }
                self.look_old(cx, sink)
            }
            _ => self.look(cx, sink),
        }
    }

    /// Opens the file at the path as the next input; false when it is gone again.
    pub(super) fn open(
        &mut self,
        m: &std::fs::Metadata,
        cx: &mut Cx<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<bool> {
        let Ok(reader) = Reader::open(&self.path) else {
            metrics::follow_error(&sink.tally, FollowError::Open);
            return Ok(false);
        };
        let input = match self.first_input.take() {
            Some(i) => i,
            None => sink.tally.add_input(self.path.display().to_string()),
        };
        let mut g = Generation::new(self.setup, reader, input);
        if let Some((id, len)) = self.join_at.take()
            && g.reader.id() == id
            && id == FileId::of(m)
        {
            // Joined at the end: the lines passed over still count in line numbers.
            let lines = g.reader.join_at_end(len, cx.buf)?;
            let scanner = std::mem::replace(&mut g.scan.scanner, self.setup.scanner());
            g.scan.scanner = scanner.start_after(lines);
        }
        self.current = Some(g);
        Ok(true)
    }

    /// The current file was truncated under the reader (copytruncate, or a file emptied and
    /// written again): the rest of what it held is read from the copy, when one is found
    /// beside it; the input ends there, cut (what the writer added between the copy and the
    /// truncation is in neither file); the file is read again from its start as a new input.
    pub(super) fn truncated(&mut self, cx: &mut Cx<'_>, sink: &mut Sink<'_>) -> Result<()> {
        let Some(mut g) = self.current.take() else {
            return Ok(());
        };
        metrics::follow_error(&sink.tally, FollowError::Truncated);
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let followed = cx.followed;
        let copy = g
            .reader
            .find_copy(&dir, &|p| followed.contains(&follow::normal(p)));
        let mut file = None;
        if let Some((copy, at)) = copy {
            let name = match at.file_name() {
                Some(n) => self.path.with_file_name(n),
                None => at,
            };
            sink.tally.rename_input(g.input, name.display().to_string());
            file = Some(std::mem::replace(&mut g.reader, copy));
            // The copy is whole (copytruncate truncates once it is written): read it to its end.
            while g.read_handle(cx.buf, sink)? == Look::Read && g.reader.has_more() {}
        }
        let last = self.close(g, true, sink)?;
        let mut reader = file.unwrap_or(last);
        reader.restart();
        let input = sink.tally.add_input(self.path.display().to_string());
        let mut g = Generation::new(self.setup, reader, input);
        if g.read_handle(cx.buf, sink)? == Look::Truncated {
            // Truncated again while being read from its start: the next look starts over.
            g.reader.restart();
        }
        self.current = Some(g);
        Ok(())
    }

    /// A file no longer at the path: read to its end now, then on while it grows.
    pub(super) fn retire(
        &mut self,
        mut g: Generation<'s>,
        cx: &mut Cx<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<()> {
        g.rename_to_where_it_is(&self.path, sink);
        g.grew = Instant::now();
        if g.read_handle(cx.buf, sink)? == Look::Truncated {
            // Emptied after it was moved away: what it held is gone.
            self.close(g, true, sink)?;
            return Ok(());
        }
        self.old.push(g);
        Ok(())
    }

    /// Reads the files that were at the path; ends those quiet for [`LINGER`].
    pub(super) fn look_old(&mut self, cx: &mut Cx<'_>, sink: &mut Sink<'_>) -> Result<()> {
        let mut i = 0;
        while i < self.old.len() {
            let g = &mut self.old[i];
            let look = g.read_handle(cx.buf, sink)?;
            if look == Look::Truncated || g.grew.elapsed() >= LINGER {
                let g = self.old.swap_remove(i);
                self.close(g, look == Look::Truncated, sink)?;
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    pub(super) fn generations(&self) -> impl Iterator<Item = &Generation<'s>> {
        self.current.iter().chain(&self.old)
    }

    /// When a file no longer at the path has been quiet for [`LINGER`], unless it grows
    /// meanwhile: it is then looked at, and let go. No notification would say so (its writer
    /// stopped; a deleted pod's file has no name left to notify).
    pub(super) fn linger_deadline(&self) -> Option<Instant> {
        let away = self.current.iter().filter(|_| !self.present);
        away.chain(&self.old).map(|g| g.grew + LINGER).min()
    }

    /// Whether a file holds more than was read (the budget ran out).
    pub(super) fn has_more(&self) -> bool {
        self.generations().any(|g| g.reader.has_more())
    }

    pub(super) fn generations_mut(&mut self) -> impl Iterator<Item = &mut Generation<'s>> {
        self.current.iter_mut().chain(&mut self.old)
    }

    /// Ends an input ([`Generation::end`]), counting its cut lines.
    pub(super) fn close(
        &mut self,
        g: Generation<'s>,
        cut: bool,
        sink: &mut Sink<'_>,
    ) -> Result<Reader> {
        let (reader, cut_lines) = g.end(cut, sink)?;
        self.cut_lines += cut_lines;
        Ok(reader)
    }

    /// Ends every input: at the end of the run.
    pub(super) fn end(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        let all: Vec<Generation<'s>> = self
            .current
            .take()
            .into_iter()
            .chain(self.old.drain(..))
            .collect();
        for g in all {
            self.close(g, false, sink)?;
        }
        Ok(())
    }
}
