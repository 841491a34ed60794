//! Envelopes compose: real fixture output (a logger's records, or bare stderr) wrapped again in
//! a transport (CRI, Docker json-file, compose, `kubectl logs --prefix --timestamps`) reads to
//! the same totals and call sites as the fixture itself, which equal the truth its program
//! recorded. The wrappers here only add what the transports add to every line.

mod common;
use common::KEYS;

use serde_json::Value;

fn fixture(name: &str) -> (String, Value) {
    let dir = common::samples();
    let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap();
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.truth.json"))).unwrap(),
    )
    .unwrap();
    (log, truth)
}

fn totals(v: &Value) -> Vec<(String, u64)> {
    KEYS.iter()
        .map(|k| (k.to_string(), v[k].as_u64().unwrap_or(0)))
        .collect()
}

fn sites(v: &Value) -> Vec<(String, u64)> {
    let mut s: Vec<(String, u64)> = v["sites"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|s| !s["site"].is_null())
                .map(|s| {
                    (
                        s["site"].as_str().unwrap().to_string(),
                        s["findings"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    s.sort();
    s
}

fn each_line(log: &str, f: impl Fn(usize, &str) -> String) -> String {
    log.lines()
        .enumerate()
        .map(|(i, l)| f(i, l) + "\n")
        .collect()
}

fn ts(i: usize) -> String {
    format!(
        "2026-11-29T10:{:02}:{:02}.{:09}Z",
        i / 3600 % 60,
        i / 60 % 60,
        i % 1_000_000_000
    )
}

fn cri(log: &str) -> String {
    each_line(log, |i, l| format!("{} stderr F {l}", ts(i)))
}

/// Docker's json-file driver, with Go's escapes of `<`, `>` and `&`.
fn docker_json(log: &str) -> String {
    each_line(log, |i, l| {
        serde_json::json!({"log": format!("{l}\n"), "stream": "stderr", "time": ts(i)})
            .to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    })
}

fn compose(log: &str) -> String {
    each_line(log, |_, l| format!("api-1  | {l}"))
}

fn kubectl_prefix_timestamps(log: &str) -> String {
    each_line(log, |i, l| {
        format!("[pod/api-7d9f5c6b8-x2x9q/api] {} {l}", ts(i))
    })
}

fn check(name: &str, wrapped: &str, how: &str) {
    let (log, truth) = fixture(name);
    let plain = common::scan_stdin_json(&log);
    assert_eq!(
        totals(&plain["totals"]),
        totals(&truth["totals"]),
        "{name} as it is"
    );
    let got = common::scan_stdin_json(wrapped);
    assert_eq!(
        totals(&got["totals"]),
        totals(&truth["totals"]),
        "{name} in {how}: {}",
        got["inputs"]
    );
    assert_eq!(sites(&got), sites(&plain), "{name} in {how}: call sites");
    assert_eq!(got["totals"]["unread_mentions"], 0, "{name} in {how}");
}

#[test]
fn json_logger_records_inside_cri_and_docker_read_like_the_records_alone() {
    for name in ["percall_json_logger", "percall_structlog"] {
        let (log, _) = fixture(name);
        check(name, &cri(&log), "CRI");
        check(name, &docker_json(&log), "Docker json-file");
    }
}

#[test]
fn compose_and_kubectl_prefixes_around_text_logs_read_like_the_logs_alone() {
    for name in [
        "percall_debug_bare",
        "percall_realistic_asctime",
        "percall_loguru",
    ] {
        let (log, _) = fixture(name);
        check(name, &compose(&log), "compose");
        check(
            name,
            &kubectl_prefix_timestamps(&log),
            "kubectl --prefix --timestamps",
        );
    }
}

/// percall_json_logger's records in CRI, each record with a large field before its message so
/// that the runtime's split at 8192 bytes (CRI-O's limit) falls inside `Unclosed`: a `P`
/// piece, then the `F` rest.
fn split_inside_headers() -> String {
    const LIMIT: usize = 8192;
    let (log, _) = fixture("percall_json_logger");
    let mut out = String::new();
    for (i, l) in log.lines().enumerate() {
        let Some(at) = l.find("\"message\": \"Unclosed") else {
            out += &format!("{} stderr F {l}\n", ts(i));
            continue;
        };
        let with = |pad: &str| format!("{}, \"pad\": \"{pad}\"{}", &l[..at - 2], &l[at - 2..]);
        let unpadded = with("").find("Unclosed").unwrap() + 3;
        let line = with(&"x".repeat(LIMIT - unpadded));
        let cut = line.find("Unclosed").unwrap() + 3;
        assert_eq!(cut, LIMIT, "the cut is inside the header word");
        out += &format!("{} stderr P {}\n", ts(i), &line[..cut]);
        out += &format!("{} stderr F {}\n", ts(i), &line[cut..]);
    }
    out
}

#[test]
fn a_cri_line_split_inside_a_header_word_loses_nothing() {
    let input = split_inside_headers();
    assert!(input.contains(" stderr P "));
    check("percall_json_logger", &input, "CRI split inside headers");
}

#[test]
fn filter_drops_both_pieces_of_a_split_record_and_keeps_every_other_line() {
    let input = split_inside_headers();
    let out = assert_cmd::Command::cargo_bin("unclosed")
        .unwrap()
        .args(["filter", "--drop", "leak"])
        .write_stdin(input.clone())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        !out.contains("Unclo") && !out.contains(" stderr P "),
        "{out}"
    );
    // Every split record is a leak: both its pieces go, every other line stays.
    let kept: Vec<&str> = input
        .lines()
        .filter(|l| !l.contains(" stderr P ") && !l.contains(" stderr F losed"))
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), kept);
}

#[test]
fn warnings_on_raw_stderr_and_records_as_json_count_each_object_once() {
    // -W default: each object's W block on stderr, then its asyncio record; here the record
    // goes through a JSON logger while the warning stays raw, in the same stream.
    let (log, truth) = fixture("percall_wdefault_debug");
    let mut out = String::new();
    let mut record: Vec<String> = Vec::new();
    let flush = |record: &mut Vec<String>, out: &mut String| {
        if !record.is_empty() {
            *out += &serde_json::json!({"level": "error", "logger": "asyncio", "event": record.join("\n")}).to_string();
            *out += "\n";
            record.clear();
        }
    };
    for l in log.lines() {
        let starts_record = l.starts_with("Unclosed ");
        let continues = !record.is_empty()
            && (l.starts_with("client_session:")
                || l.starts_with("connections:")
                || l.starts_with("connector:")
                || l.starts_with("source_traceback:")
                || l.starts_with("  "));
        if starts_record {
            flush(&mut record, &mut out);
            record.push(l.to_string());
        } else if continues {
            record.push(l.to_string());
        } else {
            flush(&mut record, &mut out);
            out += l;
            out += "\n";
        }
    }
    flush(&mut record, &mut out);
    assert!(out.contains("{\"level\""), "records were made");
    let got = common::scan_stdin_json(&out);
    assert_eq!(
        totals(&got["totals"]),
        totals(&truth["totals"]),
        "bare stderr + JSON records"
    );
    let got = common::scan_stdin_json(&cri(&out));
    assert_eq!(
        totals(&got["totals"]),
        totals(&truth["totals"]),
        "the same inside CRI"
    );
}

#[test]
fn lines_ended_by_a_lone_cr_are_lines() {
    let (log, _) = fixture("percall_debug_bare");
    check(
        "percall_debug_bare",
        &log.replace('\n', "\r"),
        "CR-only line endings",
    );
    check(
        "percall_debug_bare",
        &log.replace('\n', "\r\n"),
        "CRLF line endings",
    );
}

#[test]
fn the_same_program_through_any_logger_gives_the_same_baseline_fingerprints() {
    let prints = |name: &str| {
        let (log, _) = fixture(name);
        let v = common::scan_stdin_json(&log);
        let mut f: Vec<String> = v["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("{} {}", s["site"], s["fingerprint"]))
            .collect();
        f.sort();
        f
    };
    let bare = prints("percall_debug_bare");
    assert_eq!(bare.len(), 2);
    for name in [
        "structlog_console_ansi",
        "rich_handler_debug",
        "compose_asctime_debug",
        "loguru_default_debug",
    ] {
        assert_eq!(prints(name), bare, "{name}");
    }
}
