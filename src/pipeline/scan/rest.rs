//! A scanner at rest: nothing open, nothing held, nothing waiting for a next line. What it
//! decides from there on depends only on the lines to come and on the little it carries
//! ([`Rest`]), so two scanners at rest with equal [`Rest`]s at the same line of an input
//! decide the same things from that line on. That is what lets two threads read two halves
//! of a file and join their answers exactly (`unclosed scan` on a large file).

use super::{MAX_STREAMS, Scanner};
use crate::pipeline::pair::HeldLines;

/// What a scanner at rest carries to its next line. Two scanners whose [`Scanner::rest`]
/// are equal at the same line decide the same things from there on, whatever they read
/// before it (the interned texts they share are only a cache).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rest {
    grammar: Option<usize>,
    /// The stream and column an indented continuation would belong to (journald).
    indent: Option<(String, usize, Option<String>)>,
    /// What rich's joiner learnt of the message column.
    rich: Option<(bool, usize)>,
    /// The sessions each stream holds for a late connector, each by the lines it was read
    /// from: two scanners that read the same lines in the same state made the same object
    /// of them. A debug-mode log always holds some, so a rest that required none would
    /// never come.
    held: Vec<(String, HeldLines)>,
}

impl Rest {
    /// The same rest `n` lines on: what a scanner that numbers lines `n` more would carry.
    pub fn shifted(&self, n: u64) -> Rest {
        let mut r = self.clone();
        for (_, h) in &mut r.held {
            h.held
                .iter_mut()
                .for_each(|(a, b)| (*a, *b) = (*a + n, *b + n));
            if let Some(((a, b), _)) = &mut h.parted {
                (*a, *b) = (*a + n, *b + n);
            }
        }
        r
    }
}

impl Scanner<'_> {
    /// Whether it has had so many streams at once that it may have let one go
    /// ([`MAX_STREAMS`]) where another scanner, which did not see them all, would not: two
    /// such scanners at rest may decide differently later on.
    pub fn crowded(&self) -> bool {
        self.peak_streams >= MAX_STREAMS / 2
    }

    /// The grammar chosen for the input, once it is chosen.
    pub fn chosen_grammar(&self) -> Option<usize> {
        self.unwrapper.chosen()
    }

    /// What the scanner carries to its next line, when it is at rest: the grammar chosen,
    /// no block open in any stream, nothing waiting for the next block, no piece of a split
    /// line, no wrapped line being joined; and the sessions held for a late connector.
    /// `None` when it is not at rest.
    pub fn rest(&self) -> Option<Rest> {
        if self.pending.is_some()
            || self
                .streams
                .values()
                .any(|s| s.assembler.is_open() || s.pairer.is_waiting())
        {
            return None;
        }
        let mut held: Vec<(String, HeldLines)> = self
            .streams
            .iter()
            .map(|(k, s)| (k.clone(), s.pairer.held_lines()))
            .filter(|(_, h)| !h.is_empty())
            .collect();
        held.sort_unstable();
        let rich = match &self.rich {
            Some(j) => Some(j.rest()?),
            None => None,
        };
        Some(Rest {
            grammar: self.unwrapper.chosen(),
            indent: self.unwrapper.rest()?,
            rich,
            held,
        })
    }
}
