//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The counts every report has and every truth file records.
pub const KEYS: [&str; 9] = [
    "findings",
    "leak",
    "noise",
    "unknown",
    "sessions",
    "connectors",
    "responses",
    "connections",
    "pooled_connections",
];

/// `samples/logs`, the committed real fixtures.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/logs")
}

/// Every plain (not gzipped) fixture log, sorted.
pub fn fixture_logs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(samples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 20,
        "expected the committed fixtures, found {}",
        v.len()
    );
    v
}

/// `unclosed scan --format json` with `input` on standard input, as JSON.
pub fn scan_stdin_json(input: &str) -> serde_json::Value {
    let out = assert_cmd::Command::cargo_bin("unclosed")
        .unwrap()
        .args(["scan", "--format", "json"])
        .write_stdin(input.to_string())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("scan --format json prints JSON")
}

/// Runs `cmd`, which must succeed (its stderr is the failure message), and returns its stdout.
pub fn stdout_of(cmd: &mut std::process::Command) -> Vec<u8> {
    let out = cmd.output().expect("the command starts");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The `host:port` a command started with `--metrics` says it serves at, read from its
/// stderr up to that line; `what` names the command if it ends first.
pub fn metrics_address(err: &mut impl std::io::BufRead, what: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "{what} ended");
        if let Some(a) = metrics_address_in(line.trim()) {
            return a;
        }
    }
}

/// The address in `line` when it is the one saying where metrics are served.
pub fn metrics_address_in(line: &str) -> Option<String> {
    line.strip_prefix("unclosed: serving metrics at http://")
        .map(|a| a.trim_end_matches("/metrics").to_owned())
}
