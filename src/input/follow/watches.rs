//! The directories files are followed in, watched with inotify (through `notify`) where
//! their paths lead now, and the paths events name gathered until the caller looks.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use notify::{RecursiveMode, Watcher};

use super::FileId;

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
    /// The paths events named, as bytes: a busy file is named by an event per write, and
    /// comparing paths as paths (component by component) cost more than reading the file.
    pub paths: rustc_hash::FxHashSet<std::ffi::OsString>,
    /// Those of them named by an event other than a write of data (created, moved,
    /// removed, attributes changed): a path named only by writes still leads to the file
    /// open there, which can be looked at through its handle.
    pub changed: rustc_hash::FxHashSet<std::ffi::OsString>,
    /// Events may have been lost (the kernel's queue overflowed): look at everything.
    pub rescan: bool,
}

impl Seen {
    /// Whether nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && !self.rescan
    }
}

/// inotify watches (through `notify`) on the directories files are followed in, kept on the
/// directories the paths name now: a directory moved away, removed or created again is
/// watched again where the path leads, and while it does not exist its nearest existing
/// ancestor is watched, so that its return is seen.
pub struct Watches {
    watcher: notify::RecommendedWatcher,
    seen: Arc<Mutex<Seen>>,
    /// Directories to keep watched (absolute, [`normal`]).
    wanted: HashSet<PathBuf>,
    /// What is watched now, and which directory it was when the watch was made.
    watched: HashMap<PathBuf, FileId>,
    paused: bool,
    /// The watches may not be where the wanted directories are: one was wanted, or an
    /// event showed one moved, since the last [`Watches::refresh`].
    changed: bool,
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
                    let written = matches!(
                        e.kind,
                        notify::EventKind::Modify(notify::event::ModifyKind::Data(_))
                    );
                    for p in e.paths {
                        let p = p.into_os_string();
                        if !written {
                            s.changed.insert(p.clone());
                        }
                        s.paths.insert(p);
                    }
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
            wanted: HashSet::new(),
            watched: HashMap::new(),
            paused: false,
            changed: false,
        })
    }

    /// Keeps `dir` (absolute) watched from now on; whether it was new.
    pub fn want(&mut self, dir: &Path) -> bool {
        let dir = normal(dir);
        let new = self.wanted.insert(dir);
        self.changed |= new;
        new
    }

    /// Stops waking the caller until [`Watches::resume`]; events are still gathered, so a
    /// burst of writes to many files costs one look at each file they name when the pause
    /// ends, not one wake per write. (Removing the watches instead would cost a system call
    /// per watched directory at each pause and each resume: hundreds with kubelet's layout.)
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Ends a pause ([`Watches::pause`]).
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// Whether the watches may not be where the wanted directories are: a directory was
    /// wanted, or [`Watches::moved`] said one moved, since the last [`Watches::refresh`].
    pub fn need_refresh(&self) -> bool {
        self.changed
    }

    /// Says a wanted directory or one leading to it may have moved, been removed or been
    /// created ([`Watches::is_structural`]): the next refresh is needed.
    pub fn moved(&mut self) {
        self.changed = true;
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
        self.changed = false;
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
