//! Whole-input behaviour of the pure pipeline. The warning texts are real aiohttp output's
//! examples; envelopes and damage are hand-made edge cases.

use super::*;
use crate::pipeline::pair::{Finding, MAX_WARNING_GAP, MAX_WARNING_WAIT};

fn scan(input: &[u8]) -> (Vec<Decided>, InputStats, String) {
    let g = Grammar::builtin();
    let pf = Prefilter::default();
    let mut s = Scanner::new(&g, None, &pf);
    let mut out = Out::default();
    for line in input.split(|b| *b == b'\n') {
        s.push_line(
            line,
            LineInfo {
                raw_len: line.len() as u64 + 1,
                cut: false,
            },
            &mut out,
        );
    }
    s.finish(&mut out);
    (out.decided, s.stats.clone(), s.grammar().to_string())
}

fn findings(d: &[Decided]) -> Vec<&Finding> {
    d.iter()
        .filter_map(|x| {
            if let Decided::Finding(f) = x {
                Some(f)
            } else {
                None
            }
        })
        .collect()
}

const BLOCKS: &str = "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>
Unclosed connector
connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2ba0>, 2092.40), (<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2970>, 2092.40)])', 'deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2f20>, 2092.40)])']
connector: <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>";

fn pooled(d: &[Decided]) -> u64 {
    findings(d)
        .iter()
        .flat_map(|f| &f.objects)
        .filter_map(|o| o.pool)
        .map(|p| p.connections)
        .sum()
}

#[test]
fn bare_blocks_pair_and_count() {
    let (d, stats, g) = scan(BLOCKS.as_bytes());
    assert_eq!(findings(&d).len(), 1);
    assert_eq!(pooled(&d), 3);
    assert_eq!(stats.lines, 5);
    assert_eq!(g, "bare");
}

fn cri(stream: &str, text: &str) -> String {
    format!("2026-11-23T22:27:48.367084394Z {stream} F {text}")
}

#[test]
fn cri_lines_of_another_stream_do_not_separate_a_pair() {
    let mut lines = Vec::new();
    for (i, l) in BLOCKS.lines().enumerate() {
        lines.push(cri("stderr", l));
        if i == 1 {
            lines.push(cri("stdout", "INFO GET /v1/chat 200"));
        }
    }
    let (d, _, g) = scan(lines.join("\n").as_bytes());
    assert_eq!(g, "cri");
    assert_eq!(
        findings(&d)
            .iter()
            .map(|f| f.objects.len())
            .collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(pooled(&d), 3);
}

#[test]
fn cri_partial_lines_join_into_one_connections_line() {
    let conn = BLOCKS.lines().nth(3).unwrap();
    let (a, b) = conn.split_at(100);
    let lines = [
        cri("stderr", "Unclosed connector"),
        format!("2026-11-23T22:27:48.367084394Z stderr P {a}"),
        cri("stdout", "INFO unrelated"),
        cri("stderr", b),
        cri(
            "stderr",
            "connector: <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>",
        ),
    ];
    let (d, _, _) = scan(lines.join("\n").as_bytes());
    assert_eq!(pooled(&d), 3);
    assert!(findings(&d)[0].objects[0].pool.unwrap().complete);
}

#[test]
fn docker_json_split_at_16k_is_joined() {
    // Hand-made: a 300-entry deque, split the way Docker splits lines over 16 KiB.
    let entries: Vec<String> = (0..300)
        .map(|i| {
            format!("(<aiohttp.client_proto.ResponseHandler object at 0x7f{i:010x}>, 2092.40)")
        })
        .collect();
    let conn = format!("connections: ['deque([{}])']\n", entries.join(", "));
    let mut lines = vec![
        serde_json::json!({"log": "Unclosed connector\n", "stream": "stderr", "time": "t"})
            .to_string(),
    ];
    let bytes = conn.as_bytes();
    for chunk in bytes.chunks(16 * 1024) {
        lines.push(serde_json::json!({"log": std::str::from_utf8(chunk).unwrap(), "stream": "stderr", "time": "t"}).to_string());
    }
    lines.push(serde_json::json!({"log": "connector: <aiohttp.connector.TCPConnector object at 0x1>\n", "stream": "stderr", "time": "t"}).to_string());
    let (d, _, g) = scan(lines.join("\n").as_bytes());
    assert_eq!(g, "docker-json");
    assert_eq!(pooled(&d), 300);
}

#[test]
fn json_logger_record_holds_the_whole_block() {
    let rec = serde_json::json!({"asctime": "2026-11-23 22:27:48,367", "levelname": "ERROR", "name": "asyncio", "message": BLOCKS});
    let input = format!("{{\"message\": \"started\"}}\n{rec}\n{{\"message\": \"next\"}}");
    let (d, _, g) = scan(input.as_bytes());
    assert_eq!(g, "json-logger");
    assert_eq!(findings(&d).len(), 1);
    assert_eq!(pooled(&d), 3);
    assert_eq!(
        findings(&d)[0].objects[0].pos.ts.as_deref(),
        Some("2026-11-23 22:27:48,367")
    );
}

#[test]
fn invalid_utf8_nul_bytes_and_crlf_do_not_hide_blocks() {
    let mut input = b"\xff\xfe garbage \x00\x00 \xc3\n".to_vec();
    input.extend(BLOCKS.replace('\n', "\r\n").as_bytes());
    let (d, _, _) = scan(&input);
    assert_eq!(pooled(&d), 3);
}

#[test]
fn block_cut_by_the_end_of_input_is_still_reported() {
    let cut = &BLOCKS[..BLOCKS.find("0x7f1befaa2f20").unwrap()];
    let (d, _, _) = scan(cut.as_bytes());
    let f = findings(&d);
    assert_eq!(f.len(), 1);
    let p = f[0].objects[1].pool.unwrap();
    assert_eq!((p.connections, p.complete), (2, false));
}

/// The findings of `input` read as an input cut after its last line (`tail` seeing the file
/// truncated before it read further), or ended there (`scan` at the end of a file): each as
/// (label, pooled connections, truncated, call-site line).
fn labels_when(input: &str, cut: bool) -> Vec<(&'static str, u64, bool, Option<u32>)> {
    let g = Grammar::builtin();
    let pf = Prefilter::default();
    let mut s = Scanner::new(&g, None, &pf);
    let mut out = Out::default();
    for line in input.lines() {
        let info = LineInfo {
            raw_len: line.len() as u64 + 1,
            cut: false,
        };
        s.push_line(line.as_bytes(), info, &mut out);
    }
    if cut {
        s.cut(None, &mut out);
    } else {
        s.finish(&mut out);
    }
    findings(&out.decided)
        .into_iter()
        .map(|f| {
            let pooled = f
                .objects
                .iter()
                .filter_map(|o| o.pool)
                .map(|p| p.connections)
                .sum();
            let site = crate::pipeline::group::triage(f, 0, &Default::default())
                .site
                .map(|s| s.line);
            (
                crate::pipeline::classify::label(f).name(),
                pooled,
                crate::pipeline::classify::truncated(f),
                site,
            )
        })
        .collect()
}

const TRACED_SESSION: &str = "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7ffa63c5dc70>
source_traceback: Object created at (most recent call last):
  File \"/app/percall.py\", line 66, in <module>
    common.run(main())
  File \"/app/percall.py\", line 26, in fetch_price
    session = aiohttp.ClientSession()
";

#[test]
fn a_cut_leaves_a_session_waiting_for_its_connector_unknown() {
    // At the end of a file a session alone is noise; cut there, its connector may be what
    // is missing.
    let session = &BLOCKS[..BLOCKS.find("Unclosed connector").unwrap()];
    assert_eq!(labels_when(session, false), vec![("noise", 0, false, None)]);
    assert_eq!(labels_when(session, true), vec![("unknown", 0, true, None)]);
    // Its traceback may be cut too: no call site from it.
    assert_eq!(
        labels_when(TRACED_SESSION, false),
        vec![("noise", 0, false, Some(26))]
    );
    assert_eq!(
        labels_when(TRACED_SESSION, true),
        vec![("unknown", 0, true, None)]
    );
    // The warning and the record of one session (aiohttp 3.11 with -W default), cut after
    // the record's body: the merged object waits for its connector, and is cut with it.
    let both = "/opt/venv/lib/python3.11/site-packages/aiohttp/client.py:418: ResourceWarning: \
                Unclosed client session <aiohttp.client.ClientSession object at 0x7f5a897bd150>
  _warnings.warn(
ResourceWarning: Enable tracemalloc to get the object allocation traceback
Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7f5a897bd150>
";
    assert_eq!(labels_when(both, false), vec![("noise", 0, false, None)]);
    assert_eq!(labels_when(both, true), vec![("unknown", 0, true, None)]);
}

#[test]
fn a_line_the_cut_left_unfinished_does_not_end_the_block_it_cut() {
    // The traceback's next frame, cut right after `File` (as a copy logrotate made ended): read as an
    // ordinary line it would end the block, and the outer frame would be the call site.
    let text = TRACED_SESSION.replace("  File \"/app/percall.py\", line 26, in fetch_price\n    session = aiohttp.ClientSession()\n", "");
    let g = Grammar::builtin();
    let pf = Prefilter::default();
    let mut s = Scanner::new(&g, None, &pf);
    let mut out = Out::default();
    let info = |l: &str| LineInfo {
        raw_len: l.len() as u64 + 1,
        cut: false,
    };
    for line in text.lines() {
        s.push_line(line.as_bytes(), info(line), &mut out);
    }
    let unfinished = "  File";
    s.cut(Some((unfinished.as_bytes(), info(unfinished))), &mut out);
    let f = findings(&out.decided);
    assert_eq!(f.len(), 1);
    assert_eq!(crate::pipeline::classify::label(f[0]).name(), "unknown");
    let site = crate::pipeline::group::triage(f[0], 0, &Default::default()).site;
    assert!(site.is_none(), "{site:?}");
    assert_eq!(
        s.stats.lines,
        text.lines().count() as u64 + 1,
        "the unfinished line is counted"
    );
}

#[test]
fn a_cut_keeps_a_leak_the_pooled_connections_prove() {
    // Cut after the `connections:` line, before `connector:`: the pool is still read.
    let cut = &BLOCKS[..BLOCKS.find("connector: <").unwrap()];
    assert_eq!(labels_when(cut, true), vec![("leak", 3, true, None)]);
    // A whole pair followed by an ordinary line is decided before the cut: untouched.
    let whole = format!("{BLOCKS}\nINFO next\n");
    assert_eq!(labels_when(&whole, true), vec![("leak", 3, false, None)]);
    // Cut right after the connector header: nothing proves the leak.
    let header = &BLOCKS[..BLOCKS.find("connections:").unwrap()];
    let got = labels_when(header, true);
    assert_eq!(got, vec![("unknown", 0, true, None)]);
}

#[test]
fn interleaved_streams_are_bounded() {
    // Hand-made: more journald units than MAX_STREAMS, each opening a block.
    let mut lines = Vec::new();
    for i in 0..(MAX_STREAMS + 10) {
        lines.push(format!(
            "Nov 23 22:27:48 host app{i}[{i}]: Unclosed client session"
        ));
    }
    let (d, _, g) = scan(lines.join("\n").as_bytes());
    assert_eq!(g, "journald-short");
    // Every header is reported (unknown: no body), none lost to eviction.
    assert_eq!(findings(&d).len(), MAX_STREAMS + 10);
}

#[test]
fn journald_message_given_as_bytes_is_read() {
    // Hand-made: journalctl -o json gives a message that is not UTF-8 as byte values.
    let text = "Unclosed client session\nclient_session: <aiohttp.client.ClientSession object at 0x7f>\u{0}";
    let mut bytes: Vec<String> = text.bytes().map(|b| b.to_string()).collect();
    bytes.push("255".into());
    let input = format!("{{\"MESSAGE\":[{}],\"_PID\":\"1\"}}", bytes.join(","));
    let (d, _, g) = scan(input.as_bytes());
    assert_eq!(g, "journald-json");
    assert_eq!(findings(&d).len(), 1);
}

#[test]
fn a_survey_lists_every_trigger_until_one_is_too_common_to_list() {
    let p = Prefilter::default();
    let few = b"ok\nUnclosed client session\nok\nTask was destroyed but\n";
    let s = p.survey(few, false);
    assert_eq!(s.hits, vec![4, 30]);
    assert_eq!(s.complete_to, few.len());
    let many = "Unclosed connector\n".repeat(40);
    let s = p.survey(many.as_bytes(), false);
    // The 16th `nclosed` is at 15 * 19 + 1: nothing after it is promised.
    assert_eq!(s.complete_to, 15 * 19 + 2);
    assert_eq!(s.hits.len(), 16);
}

#[test]
fn journald_byte_arrays_are_surveyed_only_where_journald_may_be_read() {
    let p = Prefilter::default();
    let chunk = b"{\"MESSAGE\":[85,110],\"_PID\":\"1\"}\n";
    assert_eq!(p.survey(chunk, true).hits, vec![1]);
    assert!(p.survey(chunk, false).hits.is_empty());
    assert!(Prefilter::may_be_journald(chunk));
    assert!(!Prefilter::may_be_journald(b"INFO app: MESSAGE sent\n"));
}

/// The connector [`TRACED_SESSION`]'s constructor built, printed when the program exits.
const LATE_CONNECTOR: &str = "Unclosed connector
connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7fbdd8f7bee0>, 1804.2)])']
connector: <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>
source_traceback: Object created at (most recent call last):
  File \"/app/percall.py\", line 66, in <module>
    common.run(main())
  File \"/app/percall.py\", line 26, in fetch_price
    session = aiohttp.ClientSession()
  File \"/venv/lib/python3.12/site-packages/aiohttp/client.py\", line 293, in __init__
    connector = TCPConnector(
";

/// A scanner over the shipped grammars, detecting the envelope.
fn scanner() -> Scanner<'static> {
    static GRAMMARS: std::sync::OnceLock<Vec<Grammar>> = std::sync::OnceLock::new();
    static PREFILTER: std::sync::OnceLock<Prefilter> = std::sync::OnceLock::new();
    Scanner::new(
        GRAMMARS.get_or_init(Grammar::builtin),
        None,
        PREFILTER.get_or_init(Prefilter::default),
    )
}

fn push_all(s: &mut Scanner<'_>, text: &str, out: &mut Out) {
    for line in text.lines() {
        let info = LineInfo {
            raw_len: line.len() as u64 + 1,
            cut: false,
        };
        s.push_line(line.as_bytes(), info, out);
    }
}

#[test]
fn sessions_held_to_the_end_outlast_a_quiet_spell_and_pair_with_their_late_connector() {
    let g = Grammar::builtin();
    let pf = Prefilter::default();
    let kinds =
        |d: &[Decided]| -> Vec<usize> { findings(d).iter().map(|f| f.objects.len()).collect() };

    // As a live reader after a quiet spell: the held session is decided alone.
    let mut live = Scanner::new(&g, None, &pf);
    let mut out = Out::default();
    push_all(&mut live, &format!("{TRACED_SESSION}INFO done\n"), &mut out);
    for (key, _) in live.holding_streams() {
        live.finish_stream(&key, &mut out);
    }
    live.flush(&mut out);
    assert_eq!(
        kinds(&out.decided),
        vec![1],
        "decided alone at the quiet spell"
    );

    // Held to the end (`run`): the quiet spell decides nothing, nor is anything held on the
    // clock; the connector collected at exit pairs with it.
    let mut run = Scanner::new(&g, None, &pf).hold_sessions_to_the_end();
    let mut out = Out::default();
    push_all(&mut run, &format!("{TRACED_SESSION}INFO done\n"), &mut out);
    run.flush(&mut out);
    assert!(out.decided.is_empty(), "{:?}", out.decided);
    assert!(run.holding_streams().is_empty());
    assert_eq!(run.oldest_held(), None);
    push_all(&mut run, LATE_CONNECTOR, &mut out);
    run.finish(&mut out);
    assert_eq!(
        kinds(&out.decided),
        vec![2],
        "one finding: session and connector"
    );
}

/// A session's and its connector's W blocks on stderr (`-W default`, raw) in a container log.
fn wdefault_pair_on_stderr() -> Vec<String> {
    [
        "/opt/venv/lib/python3.12/site-packages/aiohttp/client.py:527: ResourceWarning: \
         Unclosed client session <aiohttp.client.ClientSession object at 0x7facbe776390>",
        "  _warnings.warn(",
        "ResourceWarning: Enable tracemalloc to get the object allocation traceback",
        "/opt/venv/lib/python3.12/site-packages/aiohttp/connector.py:371: ResourceWarning: \
         Unclosed connector <aiohttp.connector.TCPConnector object at 0x7facc0b009e0>",
        "  _warnings.warn(f\"Unclosed connector {self!r}\", ResourceWarning, **kwargs)",
        "ResourceWarning: Enable tracemalloc to get the object allocation traceback",
    ]
    .iter()
    .map(|l| cri("stderr", l))
    .collect()
}

fn stdout_lines(n: u64) -> String {
    (0..n)
        .map(|i| cri("stdout", &format!("INFO request {i} status=200")) + "\n")
        .collect()
}

#[test]
fn warnings_on_one_stream_stop_waiting_after_lines_of_any_stream() {
    let mut s = scanner();
    let mut out = Out::default();
    push_all(&mut s, &stdout_lines(20), &mut out);
    push_all(
        &mut s,
        &(wdefault_pair_on_stderr().join("\n") + "\n"),
        &mut out,
    );
    // The connector's record may still come on stdout, behind a buffer's worth of lines.
    push_all(&mut s, &stdout_lines(MAX_WARNING_WAIT), &mut out);
    assert!(s.busy, "the connector's W block waits for its L block");
    assert!(findings(&out.decided).is_empty());
    // No stderr line came, yet after that the warning is decided: the pair, and nothing
    // keeps the following lines from being skipped.
    push_all(&mut s, &stdout_lines(1), &mut out);
    assert!(!s.busy);
    let f = findings(&out.decided);
    assert_eq!(f.len(), 1, "{:?}", out.decided);
    assert_eq!(f[0].objects.len(), 2);
}

#[test]
fn a_warning_on_stderr_joins_its_record_behind_a_burst_of_stdout() {
    let mut text = stdout_lines(20);
    text += &(wdefault_pair_on_stderr()[..3].join("\n") + "\n");
    // stdout is block-buffered into a pipe: its lines come in bursts.
    text += &stdout_lines(MAX_WARNING_WAIT / 2);
    for l in [
        "ERROR asyncio: Unclosed client session",
        "client_session: <aiohttp.client.ClientSession object at 0x7facbe776390>",
        "source_traceback: Object created at (most recent call last):",
    ] {
        text += &(cri("stdout", l) + "\n");
    }
    // A creation traceback longer than the gap a W block may wait across in its own stream.
    for i in 0..3 * MAX_WARNING_GAP {
        text += &(cri(
            "stdout",
            &format!("  File \"/app/m{i}.py\", line {i}, in f{i}"),
        ) + "\n");
        text += &(cri("stdout", &format!("    f{}()", i + 1)) + "\n");
    }
    text += &stdout_lines(MAX_WARNING_WAIT * 2);
    let (d, _, g) = scan(text.as_bytes());
    assert_eq!(g, "cri");
    let f = findings(&d);
    assert_eq!(f.len(), 1, "one object, counted once: {d:?}");
    assert!(f[0].objects[0].warned && f[0].objects[0].logged);
    assert_eq!(f[0].objects[0].frames.len(), 3 * MAX_WARNING_GAP);
}

#[test]
fn a_file_ending_after_a_frames_file_line_cut_the_block() {
    // A file rotated in the middle of a session's traceback: the frames before the last had
    // their code, the last has none. The rest (its connector perhaps) is in the next file.
    let cut_here = TRACED_SESSION.find("    session = ").unwrap();
    assert_eq!(
        labels_when(&TRACED_SESSION[..cut_here], false),
        vec![("unknown", 0, true, None)]
    );
    // A last frame whose file shows no code (frozen, or sources not shipped) ends it.
    let frozen = "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7ffa63c5dc70>
source_traceback: Object created at (most recent call last):
  File \"/app/percall.py\", line 66, in <module>
    common.run(main())
  File \"<frozen runpy>\", line 88, in _run_code
";
    assert_eq!(
        labels_when(frozen, false),
        vec![("noise", 0, false, Some(66))]
    );
    let no_sources = "Unclosed client session
client_session: <aiohttp.client.ClientSession object at 0x7ffa63c5dc70>
source_traceback: Object created at (most recent call last):
  File \"/app/percall.py\", line 66, in <module>
  File \"/app/percall.py\", line 26, in fetch_price
";
    assert_eq!(
        labels_when(no_sources, false),
        vec![("noise", 0, false, Some(26))]
    );
}

#[test]
fn blank_lines_before_the_grammar_is_chosen_are_not_kept_without_bound() {
    // Hand-made: a log that starts with blank lines, then text and more blank lines. Each
    // line once cost a pass over every line kept for detection (100,000 blank lines: 17 s).
    let mut s = scanner();
    let mut out = Out::default();
    push_all(&mut s, &"\n".repeat(1000), &mut out);
    assert_eq!(s.oldest_held(), None, "leading blank lines are not kept");
    push_all(&mut s, "starting\n", &mut out);
    assert_eq!(s.oldest_held(), Some(1001), "text is kept for detection");
    push_all(&mut s, &"\n".repeat(DETECT_MAX_HELD), &mut out);
    assert_eq!(
        s.oldest_held(),
        None,
        "detection ends after a bounded number of lines"
    );
    let (d, stats, _) = scan(&[&b"\n".repeat(50_000)[..], BLOCKS.as_bytes()].concat());
    assert_eq!(findings(&d).len(), 1, "the blocks after them are read");
    assert_eq!(pooled(&d), 3);
    assert_eq!(stats.lines, 50_000 + BLOCKS.lines().count() as u64);
}
