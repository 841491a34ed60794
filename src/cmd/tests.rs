//! The commands run in-process, on buffers, with the environment given: no subprocess.

use std::path::PathBuf;

use clap::Parser;
use serde_json::Value;

use super::*;
use crate::cmd::cli::Cli;
use crate::cmd::in_process::{Ran, run_with};

fn run(args: &[&str]) -> Ran {
    run_with(Env::default(), args)
}

fn sample(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples/logs")
        .join(name);
    p.to_string_lossy().into_owned()
}

fn truth(name: &str) -> Value {
    let text = std::fs::read_to_string(sample(&format!("{name}.truth.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn scan_writes_the_samples_truth_as_json_on_out_and_nothing_on_err() {
    for name in ["asyncio_run_debug", "noise_basic_debug"] {
        let r = run(&["scan", "-f", "json", &sample(&format!("{name}.log"))]);
        assert_eq!(r.code, exit::OK, "{name}: {}", r.err);
        assert_eq!(r.err, "", "{name}");
        let v: Value = serde_json::from_str(&r.out).unwrap();
        let want = &truth(name)["totals"];
        for key in ["findings", "leak", "noise", "unknown", "pooled_connections"] {
            assert_eq!(v["totals"][key], want[key], "{name}: {key}");
        }
    }
}

#[test]
fn a_missing_file_is_said_on_err_naming_it_and_the_others_are_still_read() {
    let r = run(&[
        "scan",
        "-f",
        "json",
        "/nonexistent/app.log",
        &sample("asyncio_run_debug.log"),
    ]);
    assert_eq!(r.code, exit::ERROR);
    assert!(
        r.err.starts_with("unclosed: /nonexistent/app.log: "),
        "{}",
        r.err
    );
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(
        v["totals"]["leak"],
        truth("asyncio_run_debug")["totals"]["leak"]
    );
}

/// Whether `s` holds a colour (SGR) sequence: `ESC [ … m`. The status line's erase
/// (`ESC [ 2K`) is not one.
fn has_colour(s: &str) -> bool {
    s.split("\x1b[").skip(1).any(|rest| {
        let params = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b';');
        rest.as_bytes().get(params.count()) == Some(&b'm')
    })
}

#[test]
fn colour_follows_the_environment_given() {
    let leak = sample("asyncio_run_debug.log");
    let args = ["scan", "-f", "list", leak.as_str()];
    let plain = run(&args);
    assert!(!plain.out.contains('\x1b'), "{}", plain.out);
    let on_terminal = Env {
        stdout_terminal: true,
        ..Env::default()
    };
    assert!(has_colour(&run_with(on_terminal.clone(), &args).out));
    let no_color = Env {
        no_color: Some("1".into()),
        ..on_terminal
    };
    assert!(!has_colour(&run_with(no_color, &args).out));
    let forced = Env {
        force_color: Some("1".into()),
        ..Env::default()
    };
    assert!(has_colour(&run_with(forced, &args).out));
}

#[test]
fn check_fails_on_a_leak_passes_noise_and_refuses_an_empty_log() {
    let leak = run(&["check", &sample("asyncio_run_debug.log")]);
    assert_eq!(leak.code, exit::POLICY, "{}", leak.err);
    assert!(leak.out.contains("asyncio_run.py:21"), "{}", leak.out);
    let noise = run(&["check", &sample("noise_basic_debug.log")]);
    assert_eq!(noise.code, exit::OK, "{}{}", noise.out, noise.err);
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.to_string_lossy().into_owned();
    let r = run(&["check", &empty]);
    assert_eq!(r.code, exit::POLICY);
    assert!(r.err.contains("no input lines"), "{}", r.err);
    assert_eq!(run(&["check", "--allow-empty", &empty]).code, exit::OK);
}

#[test]
fn check_sarif_paths_are_relative_to_the_workspace_the_environment_names() {
    let log = sample("asyncio_run_debug.log");
    let env = Env {
        github_workspace: Some("/app".into()),
        ..Env::default()
    };
    let r = run_with(env, &["check", "-f", "sarif", &log]);
    assert_eq!(r.code, exit::POLICY, "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    let loc = &v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(loc["uri"], "asyncio_run.py", "{loc}");
    assert_eq!(loc["uriBaseId"], "%SRCROOT%", "{loc}");
}

#[test]
fn filter_passes_a_file_through_without_its_noise_and_stats_go_to_err() {
    let log = sample("noise_basic_debug.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let kept = run(&["filter", "--drop", "none", &log]);
    assert_eq!(kept.code, exit::OK, "{}", kept.err);
    assert_eq!(kept.out, text);
    let dropped = run(&["filter", "--stats", "json", &log]);
    assert_eq!(dropped.code, exit::OK, "{}", dropped.err);
    assert!(
        !dropped.out.contains("Unclosed client session"),
        "{}",
        dropped.out
    );
    assert!(dropped.out.len() < text.len());
    let stats: Value = serde_json::from_str(&dropped.err).unwrap();
    assert_eq!(
        stats["totals"]["noise"],
        truth("noise_basic_debug")["totals"]["noise"]
    );
}

#[test]
fn grammars_lists_the_shipped_ones() {
    let r = run(&["grammars"]);
    assert_eq!(r.code, exit::OK);
    for name in ["bare", "cri", "docker-json", "journald-json"] {
        assert!(
            r.out
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name}: {}",
            r.out
        );
    }
}

#[test]
fn an_unknown_grammar_is_an_error_naming_the_known_ones() {
    let r = run(&[
        "scan",
        "--grammar",
        "nope",
        &sample("asyncio_run_debug.log"),
    ]);
    assert_eq!(r.code, exit::ERROR);
    assert!(
        r.err
            .starts_with("unclosed: unknown grammar 'nope'; known: "),
        "{}",
        r.err
    );
    assert_eq!(r.out, "");
}

#[test]
fn scan_keeps_a_status_line_on_a_terminal_and_clears_it_for_the_table() {
    let log = sample("asyncio_run_debug.log");
    let on_terminal = Env {
        stdout_terminal: true,
        no_color: Some("1".into()),
        ..Env::default()
    };
    let r = run_with(on_terminal, &["scan", &log]);
    assert_eq!(r.code, exit::OK, "{}", r.err);
    let status = r.out.find("\r\x1b[2Kreading ").expect("a status line");
    assert!(r.out[status..].contains(" leak ("), "{}", r.out);
    // Cleared in place before the table, which starts on a clean line.
    let table = r.out.find("3 findings").expect("the table");
    assert!(status < table);
    assert!(
        r.out[..table].ends_with("\r\x1b[2K"),
        "{:?}",
        &r.out[..table]
    );
    // Fitted to a narrow terminal: the status line never wraps, nor does the table.
    let narrow = Env {
        stdout_terminal: true,
        stdout_width: Some(40),
        no_color: Some("1".into()),
        ..Env::default()
    };
    let r = run_with(narrow, &["scan", &log]);
    for line in r.out.split(['\n', '\r']) {
        let line = line.trim_start_matches("\x1b[2K");
        assert!(line.chars().count() <= 40, "{line:?}");
    }
    assert!(r.out.contains("\r\x1b[2Kreading "), "{}", r.out);
    // Not on a pipe.
    let piped = run(&["scan", &log]);
    assert!(!piped.out.contains('\r'), "{:?}", piped.out);
}

/// Standard output closed by the reader (`… | head`).
struct ClosedPipe;

impl std::io::Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
}

#[test]
fn a_closed_stdout_is_a_quiet_end_for_every_command_that_writes_there() {
    let log = sample("asyncio_run_debug.log");
    for args in [
        vec!["completions", "bash"],
        vec!["man"],
        vec!["grammars"],
        vec!["scan", "-f", "ndjson", log.as_str()],
        vec!["filter", "--drop", "none", log.as_str()],
    ] {
        let cli =
            Cli::try_parse_from(std::iter::once("unclosed").chain(args.iter().copied())).unwrap();
        let mut err = Vec::new();
        let mut io = Io {
            out: &mut ClosedPipe,
            err: &mut err,
            env: Env::default(),
        };
        assert_eq!(execute(cli.command, &mut io), exit::OK, "{args:?}");
        assert_eq!(String::from_utf8_lossy(&err), "", "{args:?}");
    }
}
