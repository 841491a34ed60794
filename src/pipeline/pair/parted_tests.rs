//! A session parted from a connector by ordinary lines (docs/formats.md §4, §5). The lines
//! between are sentry-sdk's, as its worker thread wrote them in
//! samples/logs/sentry_percall_nodebug.log; the blocks are docs/formats.md §2's.

use super::*;
use crate::pipeline::assemble::{Event, assemble_lines};
use crate::pipeline::classify::{Label, label};

const S: [&str; 2] = [
    "Unclosed client session",
    "client_session: <aiohttp.client.ClientSession object at 0x7fcae0b7cf90>",
];
const C: [&str; 3] = [
    "Unclosed connector",
    "connections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7fcae0b81a90>, 4226.50963422)])']",
    "connector: <aiohttp.connector.TCPConnector object at 0x7fcae0b7d6d0>",
];
const SENDING: &str =
    " [sentry] DEBUG: Sending envelope [envelope with 1 items (error)] project:1 host:127.0.0.1";

/// The longest run of lines sentry's worker wrote between a session's block and its
/// connector's in the fixture: `Sending envelope …`, then `Internal error in sentry_sdk` with
/// urllib3's chained traceback (73 lines, 4 of them empty).
fn failed_send() -> Vec<String> {
    // Relative to this file: test code only, which the release build (Dockerfile) never reads.
    let text = include_str!("../../../samples/logs/sentry_percall_nodebug.log");
    let all: Vec<&str> = text.lines().collect();
    let mut longest: &[&str] = &[];
    for (i, l) in all.iter().enumerate() {
        if *l == S[0] {
            let from = i + 2;
            let to = from
                + all[from..]
                    .iter()
                    .position(|l| l.starts_with("Unclosed"))
                    .unwrap();
            if all[to] == C[0] && to - from > longest.len() {
                longest = &all[from..to];
            }
        }
    }
    longest.iter().map(|l| l.to_string()).collect()
}

fn decide(lines: &[String]) -> Vec<(Vec<Kind>, Label, bool)> {
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut p = Pairer::default();
    let mut out = Vec::new();
    for e in assemble_lines(&refs) {
        p.push(e, &mut out);
    }
    p.end_adjacency(&mut out);
    p.release_held(&mut out);
    findings(&out)
}

fn findings(out: &[Decided]) -> Vec<(Vec<Kind>, Label, bool)> {
    out.iter()
        .filter_map(|d| match d {
            Decided::Finding(f) => Some((
                f.objects.iter().map(|o| o.kind).collect(),
                label(f),
                f.objects.iter().any(|o| o.parted),
            )),
            _ => None,
        })
        .collect()
}

fn lines(parts: &[&[&str]]) -> Vec<String> {
    parts
        .iter()
        .flat_map(|p| p.iter().map(|s| s.to_string()))
        .collect()
}

const PARTED: (Label, bool) = (Label::Unknown, true);
const NOISE: (Label, bool) = (Label::Noise, false);

fn session_then(between: &[String], after: &[&str]) -> Vec<(Vec<Kind>, Label, bool)> {
    let mut v = lines(&[&S]);
    v.extend_from_slice(between);
    v.extend(after.iter().map(|s| s.to_string()));
    decide(&v)
}

fn session(d: &[(Vec<Kind>, Label, bool)]) -> (Label, bool) {
    let s = d
        .iter()
        .find(|x| x.0 == [Kind::Session])
        .expect("a lone session");
    (s.1, s.2)
}

#[test]
fn a_session_a_worker_line_parts_from_a_connector_is_unknown_and_the_connector_a_leak() {
    let d = session_then(&[SENDING.into()], &C);
    assert_eq!(
        d,
        vec![
            (vec![Kind::Session], Label::Unknown, true),
            (vec![Kind::Connector], Label::Leak, false)
        ]
    );
}

#[test]
fn a_failed_send_between_them_still_parts_them() {
    let between = failed_send();
    assert!(between.len() > 60, "{}", between.len());
    assert_eq!(session(&session_then(&between, &C)), PARTED);
}

#[test]
fn a_lone_session_with_no_connector_after_it_stays_noise() {
    // Lines, then the end of the input.
    assert_eq!(session(&session_then(&failed_send(), &[])), NOISE);
    // Lines, then another session's block, then its connector right after it.
    let d = session_then(
        &[SENDING.into()],
        &lines(&[&S, &C])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        d,
        vec![
            (vec![Kind::Session], Label::Noise, false),
            (vec![Kind::Session, Kind::Connector], Label::Leak, false)
        ]
    );
    // Sessions one after another: each is alone, none parted.
    let d = decide(&lines(&[&S, &S, &[SENDING], &S]));
    assert!(d.iter().all(|x| (x.1, x.2) == NOISE), "{d:?}");
}

#[test]
fn a_connector_further_than_the_bound_leaves_the_session_noise() {
    let at = |n: u64| {
        let between: Vec<String> = (0..n).map(|i| format!("INFO tick {i}")).collect();
        session(&session_then(&between, &C))
    };
    assert_eq!(at(MAX_PARTING_LINES), PARTED);
    assert_eq!(at(MAX_PARTING_LINES + 1), NOISE);
    // Empty lines count: it is the distance in the input.
    let mut between: Vec<String> = (0..MAX_PARTING_LINES).map(|_| String::new()).collect();
    between.push(SENDING.into());
    assert_eq!(session(&session_then(&between, &C)), NOISE);
}

#[test]
fn the_distance_is_taken_from_line_numbers_not_from_the_lines_the_pairer_saw() {
    // A scanner skips lines that cannot matter while nothing waits: the pairer sees one
    // ordinary line, but the connector is 500 lines down.
    let mut events = assemble_lines(&[S[0], S[1], SENDING]);
    let mut connector = assemble_lines(&C);
    for e in &mut connector {
        if let Event::Block(b) = e {
            b.object.pos.line += 500;
        }
    }
    events.extend(connector);
    let (mut p, mut out) = (Pairer::default(), Vec::new());
    for e in events {
        p.push(e, &mut out);
    }
    p.end_adjacency(&mut out);
    assert_eq!(session(&findings(&out)), NOISE);
}

#[test]
fn past_the_bound_the_session_is_decided_without_waiting_for_another_block() {
    let (mut p, mut out) = (Pairer::default(), Vec::new());
    for e in assemble_lines(&[S[0], S[1], SENDING]) {
        p.push(e, &mut out);
    }
    assert!(findings(&out).is_empty(), "it waits");
    assert!(p.oldest_line().is_some() && p.oldest_waiting_line().is_some());
    assert!(
        !p.is_waiting(),
        "but does not keep lines from being skipped"
    );
    for _ in 0..MAX_PARTING_LINES {
        p.push(Event::Text(Vec::new()), &mut out);
    }
    assert_eq!(session(&findings(&out)), NOISE);
    assert_eq!(p.oldest_line(), None);
}

#[test]
fn a_connectors_warning_before_its_record_parts_the_session_too() {
    // -W default without debug mode: the connector's W block comes before its L block.
    let w = [
        "/opt/venv/lib/python3.11/site-packages/aiohttp/connector.py:371: ResourceWarning: Unclosed connector <aiohttp.connector.TCPConnector object at 0x7fcae0b7d6d0>",
        "  _warnings.warn(f\"Unclosed connector {self!r}\", ResourceWarning, **kwargs)",
        "ResourceWarning: Enable tracemalloc to get the object allocation traceback",
    ];
    let d = session_then(
        &[SENDING.into()],
        &lines(&[&w, &C])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(session(&d), PARTED);
    assert!(d.contains(&(vec![Kind::Connector], Label::Leak, false)));
}

#[test]
fn tracebacks_that_show_another_origin_keep_the_session_apart() {
    // A session with a creation traceback is held for its own connector, which its traceback
    // finds wherever it comes; one made elsewhere (a shared connector) pairs with nothing.
    let s = vec![
        S[0].to_string(),
        S[1].to_string(),
        "source_traceback: Object created at (most recent call last):".into(),
        "  File \"/app/shared.py\", line 38, in main".into(),
        "  File \"/app/shared.py\", line 31, in fetch".into(),
    ];
    let c = vec![
        C[0].to_string(),
        C[1].to_string(),
        C[2].to_string(),
        "source_traceback: Object created at (most recent call last):".into(),
        "  File \"/app/shared.py\", line 38, in main".into(),
        "  File \"/app/shared.py\", line 26, in get_connector".into(),
    ];
    let all: Vec<String> = s.into_iter().chain([SENDING.into()]).chain(c).collect();
    let d = decide(&all);
    assert_eq!(
        d,
        vec![
            (vec![Kind::Connector], Label::Leak, false),
            (vec![Kind::Session], Label::Noise, false)
        ]
    );
}

/// A W block with tracemalloc's frames (`PYTHONTRACEMALLOC`, `-W default`, no debug mode:
/// samples/logs/percall_tracemalloc.log's shape), created at `/app/…` line `at` under `main`.
fn allocated(header: &str, at: &str, aiohttp: bool) -> Vec<String> {
    let mut v = vec![
        header.to_string(),
        "  _warnings.warn(".to_string(),
        "Object allocated at (most recent call last):".to_string(),
        "  File \"/app/percall.py\", lineno 66".to_string(),
        "    common.run(main())".to_string(),
        format!("  File \"/app/{at}"),
        "    session = aiohttp.ClientSession()".to_string(),
    ];
    if aiohttp {
        v.push(
            "  File \"/opt/venv/lib/python3.12/site-packages/aiohttp/client.py\", lineno 377"
                .into(),
        );
        v.push("    connector = TCPConnector(ssl=ssl)".into());
    }
    v
}

#[test]
fn tracemalloc_frames_that_show_another_origin_leave_the_session_noise() {
    let w_s = "/opt/venv/lib/python3.12/site-packages/aiohttp/client.py:459: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7fcae0b7cf90>";
    let w_c = "/opt/venv/lib/python3.12/site-packages/aiohttp/connector.py:380: ResourceWarning: Unclosed connector <aiohttp.connector.TCPConnector object at 0x7fcae0b7d6d0>";
    let parted = |connector_at: &str, own: bool| {
        let mut v = allocated(w_s, "percall.py\", lineno 26", false);
        v.extend(lines(&[&S, &[SENDING]]));
        v.extend(allocated(w_c, connector_at, own));
        v.extend(lines(&[&C]));
        session(&decide(&v))
    };
    // Its own connector, made inside ClientSession.__init__: the same frames, then aiohttp's.
    assert_eq!(parted("percall.py\", lineno 26", true), PARTED);
    // A connector made at another line: not its own, whatever stands between them.
    assert_eq!(parted("shared.py\", lineno 26", false), NOISE);
}

#[test]
fn a_parted_session_where_the_input_was_cut_is_unknown_as_cut() {
    let refs = [S[0], S[1], SENDING];
    let (mut p, mut out) = (Pairer::default(), Vec::new());
    for e in assemble_lines(&refs) {
        p.push(e, &mut out);
    }
    p.cut();
    p.end_adjacency(&mut out);
    let Some(Decided::Finding(f)) = out.iter().find(|d| matches!(d, Decided::Finding(_))) else {
        panic!("{out:?}")
    };
    assert_eq!(label(f), Label::Unknown);
    assert!(crate::pipeline::classify::truncated(f));
}

#[test]
fn a_run_of_sessions_followed_at_once_by_connectors_is_not_called_idle() {
    // Hand-made in the shape a batch of garbage takes (an aiohttp.web app's module-level
    // list of sessions collected at exit, debug mode off: `ERROR:asyncio:` records of every
    // session, then of their connectors, nothing between): which connector is whose is not in
    // the log, so the sessions before the one next to a connector are unknown, not noise.
    let d = decide(&lines(&[&S, &S, &S, &C, &C, &C]));
    assert_eq!(
        d,
        vec![
            (vec![Kind::Session], Label::Unknown, true),
            (vec![Kind::Session], Label::Unknown, true),
            (vec![Kind::Session, Kind::Connector], Label::Leak, false),
            (vec![Kind::Connector], Label::Leak, false),
            (vec![Kind::Connector], Label::Leak, false),
        ]
    );
    // Sessions freed one by one (uvicorn, debug off, mid-run): idle ones, then one with its
    // connector, then the next session. One connector after the run says nothing of the
    // sessions before the last: they held nothing.
    let d = decide(&lines(&[&S, &S, &S, &C, &S, &C]));
    assert_eq!(
        d,
        vec![
            (vec![Kind::Session], NOISE.0, NOISE.1),
            (vec![Kind::Session], NOISE.0, NOISE.1),
            (vec![Kind::Session, Kind::Connector], Label::Leak, false),
            (vec![Kind::Session, Kind::Connector], Label::Leak, false),
        ]
    );
    let d = decide(&lines(&[&S, &S, &C, &["next record"]]));
    assert_eq!(d[0], (vec![Kind::Session], NOISE.0, NOISE.1));
    assert_eq!(
        d[1],
        (vec![Kind::Session, Kind::Connector], Label::Leak, false)
    );
    // The same run with no connector after it: each session held nothing.
    let d = decide(&lines(&[&S, &S, &S, &["next record"]]));
    assert_eq!(d, vec![(vec![Kind::Session], NOISE.0, NOISE.1); 3]);
    // A run ended by another kind of block is not followed by connectors either.
    let response = [
        "Unclosed response",
        "client_response: <ClientResponse(http://127.0.0.1:8080/) [200 OK]>",
    ];
    let d = decide(&lines(&[&S, &S, &response, &C]));
    assert_eq!(d[0], (vec![Kind::Session], NOISE.0, NOISE.1));
    assert_eq!(d[1], (vec![Kind::Session], NOISE.0, NOISE.1));
}

#[test]
fn a_long_run_stays_bounded_and_what_it_lets_go_is_unknown() {
    let mut parts: Vec<&[&str]> = vec![&S; MAX_RUN + 3];
    parts.extend([&C[..], &C[..]]);
    let d = decide(&lines(&parts));
    assert_eq!(d.len(), MAX_RUN + 4);
    assert!(d.iter().all(|(_, l, _)| *l != Label::Noise), "{d:?}");
}
