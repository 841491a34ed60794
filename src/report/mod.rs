//! Output formats: what a run found, written for people (table, list) and for programs and
//! CI systems (JSON, NDJSON, SARIF, JUnit, GitHub annotations).

pub mod audit;
pub(crate) mod ci;
pub(crate) mod explain;
pub mod json;
pub mod render;

pub use json::*;
pub use render::*;
