//! `unclosed` triages aiohttp's garbage-collection warnings in Python logs.
//!
//! The source is seven parts; imports run one way, [`cmd`] → [`input`], [`metrics`],
//! [`gate`], [`report`] → [`pipeline`], and [`cmd`], [`report`] → [`audit`]
//! (`tests/code_layers.rs` checks it):
//!
//! - [`pipeline`]: pure, bytes in and findings out, in the order a log line travels:
//!   `pipeline::lines` (bytes → physical lines, bounded) → [`pipeline::envelope`] (the text
//!   Python wrote inside Docker, CRI, journald, JSON …) → `pipeline::clean` (colours, pastes)
//!   → `pipeline::parse` (aiohttp's and asyncio's grammar, nom) → `pipeline::assemble`
//!   (blocks) → [`pipeline::pair`] (objects, findings) → [`pipeline::classify`] (`leak`,
//!   `noise`, `unknown`) → [`pipeline::group`] (call sites, totals, with
//!   `pipeline::python` saying whose code a frame's path is). [`pipeline::scan`] wires
//!   them for one input; [`pipeline::filter`] passes a log through without the dropped blocks.
//! - [`audit`]: pure like the pipeline, the static half: one Python file's bytes in, every
//!   aiohttp session and connector it constructs out, with its owner and verdict.
//! - [`report`]: table, list, JSON, NDJSON, SARIF, JUnit, GitHub annotations, and the advice
//!   each pattern of mistake gets.
//! - [`gate`]: the CI policy and baselines.
//! - [`input`]: files, gzip, reader threads; the one live loop (stdin, `run`'s pipes, followed
//!   files) with its per-stream flush clock and signal handling; files followed through
//!   rotation, truncation and moves (tokio, notify).
//! - [`metrics`]: Prometheus counters of what was read and found, served over HTTP (an edge
//!   beside [`input`]: the commands feed it, it knows the pipeline's results only).
//! - [`cmd`]: the commands, the only code that prints, reads the environment or exits; each
//!   is given its writers and environment ([`cmd::Io`]), so [`cmd::execute`] runs one
//!   in a test as in the process.
//!
//! Modules neither the binary nor the integration tests in `tests/` use are private to the
//! crate, so the compiler reports what no one calls.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod cmd;
pub mod gate;
pub mod input;
pub mod metrics;
pub mod pipeline;
pub mod report;

/// Exit statuses, stable across releases (documented in the README).
pub mod exit {
    /// The command ran; for `scan`, whatever it found.
    pub const OK: i32 = 0;
    /// A policy failed (reserved for `check`).
    pub const POLICY: i32 = 1;
    /// Usage error, unreadable input, or a read error part-way.
    pub const ERROR: i32 = 2;
}
