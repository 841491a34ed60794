//! Warning texts are real aiohttp output (docs/formats.md); the surrounding lines are hand-made.

use super::*;
use crate::pipeline::envelope::Grammar;
use crate::pipeline::lines::Splitter;
use crate::pipeline::scan::Prefilter;

const LEAK: &str = "Unclosed client session\r
client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>
Unclosed connector
connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2ba0>, 2092.40)])']
connector: <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>
";

const NOISE: &str = "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>
";

fn run(input: &str, drop: Labels, annotate: bool) -> String {
    let g = Grammar::builtin();
    let pf = Prefilter::default();
    let mut f = Filter::new(
        Scanner::new(&g, None, &pf),
        SiteRules::default(),
        drop,
        annotate,
    );
    let mut w = Vec::new();
    let mut sp = Splitter::new(1 << 20);
    // Odd chunk sizes, as a pipe delivers them.
    for chunk in input.as_bytes().chunks(7) {
        sp.push(chunk, &mut |raw: &[u8],
                             line: &[u8],
                             info|
         -> Result<(), ()> {
            f.push(raw, line, info, &mut w);
            Ok(())
        })
        .unwrap();
    }
    sp.finish(&mut |raw: &[u8], line: &[u8], info| -> Result<(), ()> {
        f.push(raw, line, info, &mut w);
        Ok(())
    })
    .unwrap();
    f.flush(&mut w);
    String::from_utf8(w).unwrap()
}

#[test]
fn a_log_without_warnings_passes_byte_for_byte() {
    let log = "INFO start\r\n\nWARNING something unclosed? no\n\u{1b}[31mcolour\u{1b}[0m\nlast line without newline";
    assert_eq!(run(log, DEFAULT_DROP, false), log);
}

#[test]
fn noise_blocks_go_and_everything_else_stays_in_order() {
    let log = format!("INFO a\n{NOISE}INFO b\n{LEAK}INFO c\n{NOISE}");
    assert_eq!(
        run(&log, DEFAULT_DROP, false),
        format!("INFO a\nINFO b\n{LEAK}INFO c\n")
    );
}

#[test]
fn drop_choices_and_none() {
    let log = format!("INFO a\n{NOISE}INFO b\n{LEAK}INFO c\n");
    let all = Labels::ALL;
    assert_eq!(run(&log, all, false), "INFO a\nINFO b\nINFO c\n");
    let none = Labels::NONE;
    assert_eq!(run(&log, none, false), log);
}

#[test]
fn annotate_adds_a_line_after_each_kept_finding() {
    let log = format!("INFO a\n{LEAK}INFO c\n");
    assert_eq!(
        run(&log, DEFAULT_DROP, true),
        format!(
            "INFO a\n{LEAK}[unclosed] leak, 1 pooled connection; no call site in the log\nINFO c\n"
        )
    );
}

#[test]
fn prose_that_looked_like_a_header_is_kept() {
    let log = "ERROR:app:Retrying: Unclosed connector\nINFO next\nException ignored in: <function ClientSession.__del__ at 0x7f>\nTraceback (most recent call last):\nRuntimeError: Event loop is closed\n";
    assert_eq!(run(log, Labels::ALL, false), log);
}

#[test]
fn annotate_writes_json_into_json_lines() {
    // The leak as Docker's json-file driver writes it, one record per line.
    let docker = |s: &str| {
        serde_json::json!({"log": format!("{s}\n"), "stream": "stderr", "time": "2026-11-23T22:27:48Z"})
            .to_string()
    };
    let mut log: String = LEAK.lines().map(|l| docker(l) + "\n").collect();
    log.push_str(&(docker("INFO c") + "\n"));
    let out = run(&log, DEFAULT_DROP, true);
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v.get("unclosed").is_some() {
            assert_eq!(v["unclosed"], "leak");
            assert_eq!(v["pooled_connections"], 1);
        }
    }
    assert_eq!(
        out.lines().filter(|l| l.contains("\"unclosed\"")).count(),
        1,
        "{out}"
    );
}
