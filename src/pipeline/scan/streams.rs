//! The streams of one input (a container's stdout and stderr, journald units, a process's two
//! pipes) each assemble and pair their own blocks; the rules here join what one process
//! split across two of them.

use crate::pipeline::assemble::Assembler;
use crate::pipeline::pair::{Decided, MAX_WARNING_WAIT, Pairer};

use super::{Event, Out, Scanner, take_unread};

/// Each stream's state, in the order the streams came.
pub(super) type Streams = indexmap::IndexMap<String, Stream, rustc_hash::FxBuildHasher>;

#[derive(Debug, Default)]
pub(super) struct Stream {
    pub(super) assembler: Assembler,
    pub(super) pairer: Pairer,
    pub(super) last_used: u64,
}

impl Stream {
    pub(super) fn is_busy(&self) -> bool {
        self.assembler.is_open() || self.pairer.is_waiting()
    }

    pub(super) fn finish(&mut self, out: &mut Out) {
        self.end_blocks(out, false);
        self.pairer.release_held(&mut out.decided);
    }

    /// Closes the open block and decides what waits for an adjacent one; held sessions stay.
    /// `cut`: the input stopped where lines may be missing ([`Scanner::cut`]).
    pub(super) fn end_blocks(&mut self, out: &mut Out, cut: bool) {
        let mut events = Vec::new();
        if cut {
            self.assembler.cut();
        } else {
            self.assembler.stopped_in_frame();
        }
        self.assembler.finish(&mut events);
        for e in events {
            self.pairer.push(e, &mut out.decided);
        }
        if cut {
            self.pairer.cut();
        }
        self.pairer.end_adjacency(&mut out.decided);
    }
}

impl Scanner<'_> {
    /// When an L block comes in stream `key` with no W block waiting there, takes its W block
    /// from another stream of the process (`-W default` warnings raw on stderr, asyncio's
    /// records through a JSON handler on stdout): one object, counted once.
    pub(super) fn adopt_warning_from_other_streams(
        &mut self,
        key: &str,
        e: &Event,
        decided: &mut Vec<Decided>,
    ) {
        let Event::Block(b) = e else { return };
        let Some(repr) = b.repr.as_deref() else {
            return;
        };
        if b.channel != crate::pipeline::parse::Channel::Log || !b.kind.is_aiohttp() {
            return;
        }
        if !self
            .streams
            .get(key)
            .is_some_and(|s| s.pairer.has_no_warning())
        {
            return;
        }
        let found = self
            .streams
            .iter_mut()
            .filter(|(k, _)| k.as_str() != key)
            .find_map(|(_, s)| {
                // The W block is whole before its L block is logged: end it if its stream has
                // not gone on yet.
                if s.assembler.is_open_warning_of(b.kind, repr) {
                    let mut events = Vec::new();
                    s.assembler.finish(&mut events);
                    for e in events {
                        s.pairer.push(e, decided);
                    }
                }
                s.pairer.take_warning_of(b.kind, repr)
            });
        if let (Some(w), Some(s)) = (found, self.streams.get_mut(key)) {
            s.pairer.adopt_warning(w);
        }
    }

    /// Gives up the W blocks that waited more than [`MAX_WARNING_WAIT`] physical lines of
    /// the input for their L block (line `n` was just read), in whichever stream those lines
    /// came, while no block is open that could be that L block. A stream's pairer counts its
    /// own lines ([`crate::pipeline::pair::MAX_WARNING_GAP`]); this counts every stream's, so
    /// a warning on stderr does not wait through thousands of stdout lines for stderr's next
    /// line (keeping all of them from being skipped). A W block still open there is whole by
    /// then: `warnings` writes it at once.
    pub(super) fn give_up_old_warnings(&mut self, n: u64, decided: &mut Vec<Decided>) {
        let old = |end: u64| n > end + MAX_WARNING_WAIT;
        let mut events = Vec::new();
        for s in self.streams.values_mut() {
            if s.assembler.open_warning_end().is_some_and(old) {
                s.assembler.finish(&mut events);
                for e in events.drain(..) {
                    s.pairer.push(e, decided);
                }
            }
        }
        if self.streams.values().any(|s| s.assembler.is_open()) {
            return;
        }
        let waited: Vec<String> = self
            .streams
            .iter()
            .filter(|(_, s)| s.pairer.warning_end().is_some_and(old))
            .map(|(k, _)| k.clone())
            .collect();
        for k in waited {
            let from = decided.len();
            if let Some(s) = self.streams.get_mut(&k) {
                s.pairer.give_up_warning(decided);
            }
            self.pair_across_streams(&k, &mut decided[from..]);
        }
    }

    /// Gives each lone late connector just decided in stream `key` the session another
    /// stream holds for it.
    pub(super) fn pair_across_streams(&mut self, key: &str, decided: &mut [Decided]) {
        for d in decided {
            let Decided::Finding(f) = d else { continue };
            if f.objects.len() != 1 || !f.objects[0].is_late_connector() {
                continue;
            }
            let found = self
                .streams
                .iter_mut()
                .filter(|(k, _)| k.as_str() != key)
                .find_map(|(_, s)| s.pairer.take_held_for(&f.objects[0]));
            if let Some(session) = found {
                f.objects.insert(0, session);
            }
        }
    }

    pub(super) fn evict(&mut self, out: &mut Out) {
        let oldest = self
            .streams
            .iter()
            .min_by_key(|(k, s)| (s.last_used, (*k).clone()))
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest
            && let Some(mut s) = self.streams.shift_remove(&k)
        {
            s.finish(out);
            take_unread(&mut self.stats, &mut s.assembler);
        }
    }
}
