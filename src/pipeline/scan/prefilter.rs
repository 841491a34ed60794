//! The prefilter: literal searches for the words that can start a block, so that lines and
//! whole chunks that cannot matter are passed over without being decoded or unwrapped.

use memchr::memmem;

use crate::pipeline::lines::Survey;

/// Texts that can start a block. A line with none of them, while no block is open, cannot
/// matter and is skipped without being decoded or unwrapped. journald gives a message that
/// is not UTF-8 as an array of byte values, which no text search sees into.
/// `Exception ignored in:` starts the `-W error` form of a block, which `filter` must leave
/// out whole.
const TRIGGERS: [&str; 6] = [
    "nclosed",
    "Task was destroyed",
    "never awaited",
    "Exception ignored",
    "\"MESSAGE\":[",
    "\"MESSAGE\": [",
];

/// Where journald's words start in [`TRIGGERS`].
const JOURNALD_WORDS_AT: usize = 4;

/// Literal searchers for the trigger words, built once and shared by every input. memchr's
/// `memmem` picks the rarest bytes of each word to look for, which suits these words
/// better than a multi-literal search keyed on their first bytes (measured: several times
/// faster on ordinary application logs).
#[derive(Debug)]
pub struct Prefilter {
    finders: Vec<memmem::Finder<'static>>,
}

impl Default for Prefilter {
    fn default() -> Self {
        Prefilter {
            finders: TRIGGERS
                .iter()
                .map(|t| memmem::Finder::new(t.as_bytes()))
                .collect(),
        }
    }
}

impl Prefilter {
    /// Whether `line` may start a block.
    pub fn may_matter(&self, line: &[u8]) -> bool {
        self.finders.iter().any(|f| f.find(line).is_some())
    }

    /// Where the texts that may start a block are in `chunk`, for a reader thread to find
    /// ahead of the scanner. Each word's search stops after a few hits: a chunk full of
    /// blocks is read line by line anyway. Without `journald`, journald's byte-array
    /// messages are not looked for: each word costs a pass over the chunk, and only an input
    /// read as journald JSON decodes them ([`Prefilter::may_be_journald`]).
    pub fn survey(&self, chunk: &[u8], journald: bool) -> Survey {
        const HITS_PER_WORD: usize = 16;
        let mut hits = Vec::new();
        let mut complete_to = chunk.len();
        let words = if journald {
            &self.finders[..]
        } else {
            &self.finders[..JOURNALD_WORDS_AT]
        };
        for f in words {
            // Only where the words searched so far are all listed.
            let end = (complete_to + f.needle().len() - 1).min(chunk.len());
            let from = hits.len();
            hits.extend(f.find_iter(&chunk[..end]).take(HITS_PER_WORD));
            if hits.len() - from == HITS_PER_WORD {
                complete_to = complete_to.min(hits[hits.len() - 1] + 1);
            }
        }
        hits.retain(|&h| h < complete_to);
        hits.sort_unstable();
        Survey { hits, complete_to }
    }

    /// Whether an input whose leading bytes are `head` (the bytes the envelope is detected
    /// from, [`crate::pipeline::scan::DETECT_BYTES`]) can be read as journald JSON, whose records all carry a
    /// `"MESSAGE"` key.
    pub fn may_be_journald(head: &[u8]) -> bool {
        memmem::find(head, b"\"MESSAGE\"").is_some()
    }

    /// Where the first text that may start a block is in `buf`. The commonest word is
    /// searched first, and each further search only looks before the best hit so far.
    pub fn first_hit(&self, buf: &[u8]) -> Option<usize> {
        let mut best: Option<usize> = None;
        for f in &self.finders {
            let end = best.map_or(buf.len(), |b| (b + f.needle().len()).min(buf.len()));
            if let Some(h) = f.find(&buf[..end]) {
                best = Some(best.map_or(h, |b| b.min(h)));
            }
        }
        best
    }
}
