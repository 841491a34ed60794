//! The end of what a scanner holds: at the end of the input, after a quiet spell (all of it
//! or one stream of it), and where the input was cut short.

use super::{Out, Scanner, Stream, take_unread};
use crate::pipeline::lines::LineInfo;

impl Scanner<'_> {
    /// Decides everything held: at the end of the input, or after a quiet spell. The
    /// scanner can go on reading afterwards.
    pub fn finish(&mut self, out: &mut Out) {
        self.end(out, true, false);
    }

    /// Decides what the input holds after a quiet spell: as [`Scanner::finish`], except the
    /// sessions held to the end ([`Scanner::hold_sessions_to_the_end`]).
    pub fn flush(&mut self, out: &mut Out) {
        self.end(out, !self.hold_to_end, false);
    }

    /// Decides everything held, like [`Scanner::finish`], for an input that stopped where
    /// lines may be missing after the last one read (a file truncated under `tail` before it
    /// was read to its end): the block in progress and whatever waits for the block next to
    /// it are marked cut, so they are `unknown` and truncated unless the pooled connections
    /// they showed prove a leak. What comes after the cut is another input (a new scanner):
    /// nothing before it is paired with anything after it.
    /// `unfinished` is the line the cut left without its end, if any: it is read after what
    /// is open is marked, so that it cannot end a block or separate a pair as if it were
    /// an ordinary line (a frame line cut short would make an outer frame the call site).
    pub fn cut(&mut self, unfinished: Option<(&[u8], LineInfo)>, out: &mut Out) {
        if let Some((line, info)) = unfinished {
            if self.pending.is_some() {
                self.choose(out);
            }
            for s in self.streams.values_mut() {
                s.assembler.cut();
                s.pairer.cut();
            }
            self.push_line(line, info, out);
        }
        self.end(out, true, true);
    }

    fn end(&mut self, out: &mut Out, release_held: bool, cut: bool) {
        if self.pending.is_some() {
            self.choose(out);
        }
        if let Some(j) = &mut self.rich {
            let mut joined = Vec::new();
            j.flush(&mut joined);
            self.feed_joined(joined, out);
        }
        let mut logical = std::mem::take(&mut self.logical);
        self.unwrapper.finish(&mut logical);
        self.feed(&mut logical, out);
        self.logical = logical;
        let mut keys: Vec<String> = self.streams.keys().cloned().collect();
        keys.sort();
        // First every stream's blocks, so that a late connector still finds its session held
        // in another stream; then the held sessions.
        for k in &keys {
            let from = out.decided.len();
            if let Some(s) = self.streams.get_mut(k) {
                s.end_blocks(out, cut);
                take_unread(&mut self.stats, &mut s.assembler);
            }
            self.pair_across_streams(k, &mut out.decided[from..]);
        }
        if release_held {
            for k in &keys {
                if let Some(s) = self.streams.get_mut(k) {
                    s.pairer.release_held(&mut out.decided);
                }
            }
        }
        self.busy = false;
    }

    /// The streams holding something undecided, each with the last line it took: a live
    /// reader keeps a quiet clock per stream from these ([`Scanner::finish_stream`]).
    pub fn holding_streams(&self) -> Vec<(String, u64)> {
        self.streams
            .iter()
            .filter(|(_, s)| {
                s.assembler.is_open()
                    || if self.hold_to_end {
                        s.pairer.is_waiting()
                    } else {
                        s.pairer.oldest_line().is_some()
                    }
            })
            .map(|(k, s)| (k.clone(), s.last_used))
            .collect()
    }

    /// Decides what stream `key` holds, after it went quiet: its open block, and what waits
    /// for an adjacent block. Its sessions held for a late connector are released only while
    /// no other stream has a block in progress (that block may be the connector, as it is
    /// when the same bytes are read from a file); otherwise they wait for the next call.
    pub fn finish_stream(&mut self, key: &str, out: &mut Out) {
        let from = out.decided.len();
        if let Some(s) = self.streams.get_mut(key) {
            s.assembler.cut_short();
            s.end_blocks(out, false);
            take_unread(&mut self.stats, &mut s.assembler);
        }
        self.pair_across_streams(key, &mut out.decided[from..]);
        let others_open = self
            .streams
            .iter()
            .any(|(k, s)| k != key && (s.assembler.is_open() || s.pairer.is_waiting()));
        if !others_open
            && !self.hold_to_end
            && let Some(s) = self.streams.get_mut(key)
        {
            s.pairer.release_held(&mut out.decided);
        }
        self.busy = self.streams.values().any(Stream::is_busy);
    }
}
