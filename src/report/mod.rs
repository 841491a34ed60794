//! Output formats: what a run found, written for people (table, list) and for programs and
//! CI systems (JSON, NDJSON, SARIF, JUnit, GitHub annotations).

pub mod ci;
pub mod explain;
pub mod render;

pub use render::*;
