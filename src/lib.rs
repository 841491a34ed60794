//! `unclosed` triages aiohttp's garbage-collection warnings in Python logs.
//!
//! The modules follow one log line through the tool, in order:
//!
//! 1. [`read`]: bytes from files or stdin (gzip too) → physical lines, bounded in length.
//! 2. [`envelope`]: physical line → the text Python wrote (Docker, CRI, journald, JSON …).
//! 3. [`parse`]: what each text line is, in aiohttp's and asyncio's grammar (nom).
//! 4. [`assemble`]: lines of one stream → warning blocks.
//! 5. [`pair`]: blocks → objects (one per W+L pair) → findings (session + its connector).
//! 6. [`classify`]: finding → `leak`, `noise` or `unknown`.
//! 7. [`group`]: finding → call site; per-site totals.
//! 8. [`report`]: table, JSON, NDJSON, finding list.
//!
//! [`scan`] wires steps 2–5 for one input and is pure (no I/O); [`filter`] builds on it to pass
//! a log through without the dropped blocks. The edges touch files, terminals and time:
//! [`app`] and [`cli`] (commands), [`live`] (stdin with a flush timeout and signals, tokio),
//! [`tail`] (following files, notify). [`escape`] keeps log text inert in human output.

#![forbid(unsafe_code)]

pub mod cmd;
pub mod gate;
pub mod input;
pub mod pipeline;
pub mod report;

// The paths the modules had before they moved into their folders.
pub use cmd::{app, cli, run, tail};
pub use gate::policy;
pub use input::{live, read};
pub use pipeline::{
    assemble, classify, clean, envelope, escape, explain, filter, group, pair, parse, scan,
};
pub use report::ci;

/// Exit statuses, stable across releases (documented in the README).
pub mod exit {
    /// The command ran; for `scan`, whatever it found.
    pub const OK: i32 = 0;
    /// A policy failed (reserved for `check`).
    pub const POLICY: i32 = 1;
    /// Usage error, unreadable input, or a read error part-way.
    pub const ERROR: i32 = 2;
}
