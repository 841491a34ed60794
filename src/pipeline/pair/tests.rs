//! Block texts follow docs/formats.md §1–§5; the traceback frames are hand-made in asyncio's layout.

use super::*;
use crate::pipeline::assemble::Frame;

fn decide(lines: &[&str]) -> Vec<Decided> {
    // The pairer sees the assembler's events in order, as it would line by line.
    let mut p = Pairer::default();
    let mut out = Vec::new();
    for e in crate::pipeline::assemble::assemble_lines(lines) {
        p.push(e, &mut out);
    }
    p.end_adjacency(&mut out);
    p.release_held(&mut out);
    out
}

fn shapes(d: &[Decided]) -> Vec<Vec<Kind>> {
    d.iter()
        .map(|x| match x {
            Decided::Finding(f) => f.objects.iter().map(|o| o.kind).collect(),
            Decided::Related(o) => vec![o.kind],
            Decided::Text(_) => vec![],
        })
        .collect()
}

const S: [&str; 2] = [
    "Unclosed client session",
    "client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>",
];
const C: [&str; 3] = [
    "Unclosed connector",
    "connections: ['[(<aiohttp.client_proto.ResponseHandler object at 0x7fbdd8f7bee0>, 1804.286229171)]']",
    "connector: <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>",
];

#[test]
fn adjacent_session_and_connector_are_one_finding() {
    let d = decide(&[S[0], S[1], C[0], C[1], C[2]]);
    assert_eq!(shapes(&d), vec![vec![Kind::Session, Kind::Connector]]);
}

#[test]
fn a_connector_before_a_session_is_not_its_connector() {
    // aiohttp's connector closes itself before it reports, and a session whose connector is
    // closed reports nothing: a session after a connector is another one.
    let d = decide(&[C[0], C[1], C[2], S[0], S[1]]);
    assert_eq!(shapes(&d), vec![vec![Kind::Connector], vec![Kind::Session]]);
    // In a burst of sessions and their connectors, one session alone does not shift every
    // pair after it: each connector goes with the session before it.
    let d = decide(&[
        S[0], S[1], S[0], S[1], C[0], C[1], C[2], S[0], S[1], C[0], C[1], C[2],
    ]);
    assert_eq!(
        shapes(&d),
        vec![
            vec![Kind::Session],
            vec![Kind::Session, Kind::Connector],
            vec![Kind::Session, Kind::Connector]
        ]
    );
}

#[test]
fn an_ordinary_line_between_them_keeps_them_apart() {
    let d = decide(&[S[0], S[1], "INFO GET /x 200", C[0], C[1], C[2]]);
    assert_eq!(shapes(&d), vec![vec![Kind::Session], vec![Kind::Connector]]);
}

#[test]
fn blank_lines_do_not_separate() {
    let d = decide(&[S[0], S[1], "", C[0], C[1], C[2]]);
    // The empty line is handed back as outside any block, without separating the pair.
    assert_eq!(d[0], Decided::Text(vec![3]));
    assert_eq!(shapes(&d[1..]), vec![vec![Kind::Session, Kind::Connector]]);
}

#[test]
fn two_sessions_then_one_connector_pairs_the_second() {
    let d = decide(&[S[0], S[1], S[0], S[1], C[0], C[1], C[2]]);
    assert_eq!(
        shapes(&d),
        vec![vec![Kind::Session], vec![Kind::Session, Kind::Connector]]
    );
    let Decided::Finding(f) = &d[1] else { panic!() };
    assert_eq!(f.objects[0].pos.line, 3);
}

#[test]
fn both_channels_of_each_object_merge_into_one_object() {
    let d = decide(&[
        "/venv/lib/python3.11/site-packages/aiohttp/client.py:459: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>",
        "  _warnings.warn(",
        "ResourceWarning: Enable tracemalloc to get the object allocation traceback",
        S[0],
        S[1],
        "/venv/lib/python3.11/site-packages/aiohttp/connector.py:283: ResourceWarning: Unclosed connector <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>",
        "  _warnings.warn(f\"Unclosed connector {self!r}\", ResourceWarning, **kwargs)",
        "ResourceWarning: Enable tracemalloc to get the object allocation traceback",
        C[0],
        C[1],
        C[2],
    ]);
    assert_eq!(shapes(&d), vec![vec![Kind::Session, Kind::Connector]]);
    let Decided::Finding(f) = &d[0] else { panic!() };
    assert!(f.objects.iter().all(|o| o.logged && o.warned));
    assert_eq!(f.objects[1].pool.map(|p| p.connections), Some(1));
}

#[test]
fn warning_and_log_of_different_objects_stay_two() {
    let d = decide(&[
        "/venv/lib/python3.11/site-packages/aiohttp/client.py:459: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x1111>",
        "  _warnings.warn(",
        S[0],
        S[1],
    ]);
    assert_eq!(shapes(&d), vec![vec![Kind::Session], vec![Kind::Session]]);
}

fn session_traced(site_line: u32) -> Vec<String> {
    vec![
        S[0].into(),
        S[1].into(),
        "source_traceback: Object created at (most recent call last):".into(),
        "  File \"/app/main.py\", line 40, in <module>".into(),
        "    asyncio.run(main())".into(),
        format!("  File \"/app/main.py\", line {site_line}, in fetch"),
        "    session = aiohttp.ClientSession(connector=shared, connector_owner=False)".into(),
    ]
}

fn connector_traced(inside_session: bool) -> Vec<String> {
    let mut v: Vec<String> = vec![
        C[0].into(),
        C[1].into(),
        C[2].into(),
        "source_traceback: Object created at (most recent call last):".into(),
        "  File \"/app/main.py\", line 40, in <module>".into(),
        "    asyncio.run(main())".into(),
    ];
    if inside_session {
        v.push("  File \"/app/main.py\", line 12, in fetch".into());
        v.push("  File \"/venv/lib/python3.12/site-packages/aiohttp/client.py\", line 293, in __init__".into());
    } else {
        v.push("  File \"/app/main.py\", line 5, in make_connector".into());
    }
    v
}

#[test]
fn tracebacks_pair_a_connector_made_by_its_session() {
    let mut lines = session_traced(12);
    lines.extend(connector_traced(true));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(
        shapes(&decide(&refs)),
        vec![vec![Kind::Session, Kind::Connector]]
    );
}

#[test]
fn tracebacks_keep_a_shared_connector_apart_from_an_adjacent_session() {
    let mut lines = session_traced(12);
    lines.extend(connector_traced(false));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    // The traced session is held for a late connector of its own, so it is decided last.
    assert_eq!(
        shapes(&decide(&refs)),
        vec![vec![Kind::Connector], vec![Kind::Session]]
    );
}

#[test]
fn related_texts_are_counted_apart() {
    let d = decide(&[
        "/usr/lib/python3.11/asyncio/selector_events.py:864: ResourceWarning: unclosed transport <_SelectorSocketTransport fd=9>",
        "Task was destroyed but it is pending!",
        "task: <Task pending name='Task-2' coro=<fetch() running at /app/main.py:10>>",
    ]);
    assert!(d.iter().all(|x| matches!(x, Decided::Related(_))));
    assert_eq!(shapes(&d), vec![vec![Kind::Transport], vec![Kind::Task]]);
}

#[test]
fn a_late_connector_pairs_with_the_held_session_whose_traceback_it_extends() {
    // The pytest shape (samples/logs/pytest_warnings_summary.log): sessions first, their
    // connectors at exit, ordinary text between.
    let mut lines = session_traced(12);
    lines.push("INFO unrelated".into());
    lines.extend(session_traced(30));
    lines.push("===== 2 failed =====".into());
    lines.extend(connector_traced(true));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let d = decide(&refs);
    assert_eq!(
        shapes(&d),
        vec![vec![Kind::Session, Kind::Connector], vec![Kind::Session]]
    );
    let Decided::Finding(f) = &d[0] else { panic!() };
    assert_eq!(f.objects[0].frames.last().unwrap().line, 12);
}

#[test]
fn a_connector_made_inline_on_the_session_line_pairs() {
    // `ClientSession(connector=TCPConnector(limit=10))`: no ClientSession.__init__ frame,
    // but the same application line.
    let mut lines = session_traced(12);
    lines.extend([
        C[0].to_string(),
        C[1].to_string(),
        C[2].to_string(),
        "source_traceback: Object created at (most recent call last):".to_string(),
        "  File \"/app/main.py\", line 40, in <module>".to_string(),
        "    asyncio.run(main())".to_string(),
        "  File \"/app/main.py\", line 12, in fetch".to_string(),
    ]);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_eq!(
        shapes(&decide(&refs)),
        vec![vec![Kind::Session, Kind::Connector]]
    );
}

/// A traced block of `head` created through `frames` (path, line, function), outermost first.
fn traced(head: &[&str], frames: &[(&str, u32, &str)]) -> Vec<String> {
    let mut v: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    v.push("source_traceback: Object created at (most recent call last):".into());
    for (path, line, function) in frames {
        v.push(format!("  File \"{path}\", line {line}, in {function}"));
    }
    v
}

const LITELLM: &str =
    "/opt/venv/lib/python3.12/site-packages/litellm/llms/custom_httpx/http_handler.py";
const TRANSPORT: &str =
    "/opt/venv/lib/python3.12/site-packages/litellm/llms/custom_httpx/aiohttp_transport.py";
const CONNECTOR_INIT: &str = "/opt/venv/lib/python3.12/site-packages/aiohttp/connector.py";

fn pairs(session: Vec<String>, connector: Vec<String>) -> Vec<Vec<Kind>> {
    let lines: Vec<String> = session.into_iter().chain(connector).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    shapes(&decide(&refs))
}

#[test]
fn connector_created_on_the_next_line_of_a_factory_lambda_pairs_with_its_session() {
    // LiteLLM's `client=lambda: ClientSession(` at 559, `connector=TCPConnector(` at 560.
    let outer = [
        ("/app/llm.py", 61, "run_sync"),
        (TRANSPORT, 240, "_get_valid_client_session"),
    ];
    let mut s: Vec<_> = outer.to_vec();
    s.push((LITELLM, 559, "<lambda>"));
    let mut c: Vec<_> = outer.to_vec();
    c.push((LITELLM, 560, "<lambda>"));
    c.push((CONNECTOR_INIT, 1003, "__init__"));
    assert_eq!(
        pairs(traced(&S, &s), traced(&C, &c)),
        vec![vec![Kind::Session, Kind::Connector]]
    );
}

#[test]
fn connector_created_statements_earlier_in_the_same_function_pairs() {
    // httpx-aiohttp: `connector = TCPConnector(...)` at 136, `ClientSession(connector=connector)` at 142.
    let t = "/opt/venv/lib/python3.13/site-packages/httpx_aiohttp/transport.py";
    let s = traced(&S, &[("/app/main.py", 20, "main"), (t, 142, "client")]);
    let c = traced(
        &C,
        &[
            ("/app/main.py", 20, "main"),
            (t, 136, "client"),
            (CONNECTOR_INIT, 1003, "__init__"),
        ],
    );
    // Reported in this order when the session is freed first (by reference counting); the
    // collector frees the connector first, and then only it reports (docs/formats.md §5).
    assert_eq!(pairs(s, c), vec![vec![Kind::Session, Kind::Connector]]);
}

#[test]
fn connector_created_in_another_function_of_the_same_file_does_not_pair() {
    let s = traced(
        &S,
        &[("/app/main.py", 20, "main"), ("/app/main.py", 12, "fetch")],
    );
    let c = traced(
        &C,
        &[
            ("/app/main.py", 20, "main"),
            ("/app/main.py", 5, "make_connector"),
        ],
    );
    assert_eq!(
        pairs(s, c),
        vec![vec![Kind::Connector], vec![Kind::Session]]
    );
}

#[test]
fn same_function_reached_through_another_caller_does_not_pair() {
    // The innermost frames agree but the outer call chain differs: two different calls.
    let s = traced(
        &S,
        &[("/app/main.py", 20, "main"), ("/app/main.py", 12, "fetch")],
    );
    let c = traced(
        &C,
        &[("/app/main.py", 21, "main"), ("/app/main.py", 13, "fetch")],
    );
    assert_eq!(
        pairs(s, c),
        vec![vec![Kind::Connector], vec![Kind::Session]]
    );
}

#[test]
fn tracemalloc_frames_without_functions_pair_only_on_the_same_line() {
    let f = |line: u32| Frame {
        path: "/app/main.py".into(),
        line,
        function: None,
        code: None,
        library: false,
    };
    assert!(same_origin(&[f(40), f(12)], &[f(40), f(12)]));
    assert!(!same_origin(&[f(40), f(12)], &[f(40), f(13)]));
    // tracemalloc keeps the innermost frames: a deeper stack lost outer ones.
    assert!(same_origin(&[f(1), f(40), f(12)], &[f(40), f(12)]));
}

/// aiobotocore 3.10's `AIOHTTPSession._get_session`: `connector = self._create_connector(…)`
/// at 235, whose `_ProxySSLTCPConnector(…)` (a `TCPConnector` subclass) is built at 224 and
/// initialised at 60; `aiohttp.ClientSession(connector=connector, …)` at 239 (real frames,
/// paths rewritten).
const BOTO: &str = "/opt/venv/lib/python3.12/site-packages/aiobotocore/httpsession.py";
const BOTO_OUTER: [(&str, u32, &str); 3] = [
    ("/app/lib_aiobotocore.py", 14, "put"),
    (
        "/opt/venv/lib/python3.12/site-packages/aiobotocore/endpoint.py",
        308,
        "_send",
    ),
    (BOTO, 301, "send"),
];

#[test]
fn a_connector_a_library_builds_in_a_helper_of_the_sessions_function_pairs() {
    let mut s = BOTO_OUTER.to_vec();
    s.push((BOTO, 239, "_get_session"));
    let mut c = BOTO_OUTER.to_vec();
    c.extend([
        (BOTO, 235, "_get_session"),
        (BOTO, 224, "_create_connector"),
        (BOTO, 60, "__init__"),
        (CONNECTOR_INIT, 1002, "__init__"),
    ]);
    assert_eq!(
        pairs(traced(&S, &s), traced(&C, &c)),
        vec![vec![Kind::Session, Kind::Connector]]
    );
}

#[test]
fn the_same_helper_shape_in_application_code_is_a_shared_connector_and_does_not_pair() {
    // samples/gen/shared.py: `ClientSession(connector=Upstreams.get_connector(),
    // connector_owner=False)`, the helper caching one connector for every session.
    let s = traced(
        &S,
        &[
            ("/app/shared.py", 38, "main"),
            ("/app/shared.py", 31, "fetch"),
        ],
    );
    let c = traced(
        &C,
        &[
            ("/app/shared.py", 38, "main"),
            ("/app/shared.py", 31, "fetch"),
            ("/app/shared.py", 26, "get_connector"),
            (CONNECTOR_INIT, 1002, "__init__"),
        ],
    );
    assert_eq!(
        pairs(s, c),
        vec![vec![Kind::Connector], vec![Kind::Session]]
    );
}

#[test]
fn a_library_helper_reached_through_another_call_chain_does_not_pair() {
    let mut s = BOTO_OUTER.to_vec();
    s.push((BOTO, 239, "_get_session"));
    let mut c = BOTO_OUTER.to_vec();
    c[0].1 = 15;
    c.extend([
        (BOTO, 235, "_get_session"),
        (BOTO, 224, "_create_connector"),
    ]);
    assert_eq!(
        pairs(traced(&S, &s), traced(&C, &c)),
        vec![vec![Kind::Connector], vec![Kind::Session]]
    );
}

/// Google Cloud Logging 3.17's `StructuredLogHandler` writes a diagnostic record before its
/// first record; with `-W default` the first session's W block (raw on stderr) is then
/// followed by that line, then by the session's own L block (real shape, shortened).
const GCP_DIAGNOSTIC: &str = "{\"logging.googleapis.com/diagnostic\": {\"instrumentation_source\": [{\"name\": \"python\", \"version\": \"3.17.0\"}]},\"severity\": \"INFO\"}";
const W_SESSION: &str = "/venv/lib/python3.12/site-packages/aiohttp/client.py:527: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>";
const W_CONNECTOR: &str = "/venv/lib/python3.12/site-packages/aiohttp/connector.py:371: ResourceWarning: Unclosed connector <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>";

fn w_then(lines_between: &[&str], session: [&str; 2]) -> Vec<Decided> {
    let mut v = vec![
        W_SESSION,
        "  _warnings.warn(",
        "ResourceWarning: Enable tracemalloc to get the object allocation traceback",
    ];
    v.extend_from_slice(lines_between);
    v.extend_from_slice(&session);
    v.extend_from_slice(&[
        W_CONNECTOR,
        "  _warnings.warn(f\"Unclosed connector {self!r}\", ResourceWarning, **kwargs)",
        "ResourceWarning: Enable tracemalloc to get the object allocation traceback",
        C[0],
        C[1],
        C[2],
    ]);
    decide(&v)
        .into_iter()
        .filter(|d| !matches!(d, Decided::Text(_)))
        .collect()
}

#[test]
fn a_few_lines_between_a_warning_and_its_own_record_do_not_part_them() {
    let d = w_then(&[GCP_DIAGNOSTIC], S);
    assert_eq!(shapes(&d), vec![vec![Kind::Session, Kind::Connector]]);
    let Decided::Finding(f) = &d[0] else { panic!() };
    assert!(f.objects[0].warned && f.objects[0].logged);
}

#[test]
fn across_lines_only_the_warnings_own_record_joins_it() {
    // Another session's record after the line: the W block stays alone.
    let other = [
        S[0],
        "client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d7aaaa>",
    ];
    let d = w_then(&[GCP_DIAGNOSTIC], other);
    assert_eq!(
        shapes(&d),
        vec![vec![Kind::Session], vec![Kind::Session, Kind::Connector]]
    );
    // Too many lines between: apart, as any ordinary text keeps blocks apart.
    let many = [GCP_DIAGNOSTIC; MAX_WARNING_GAP + 1];
    let d = w_then(&many, S);
    assert_eq!(
        shapes(&d),
        vec![vec![Kind::Session], vec![Kind::Session, Kind::Connector]]
    );
}

const SOCKS: &str = "/opt/venv/lib/python3.11/site-packages/aiohttp_socks/connector.py";

#[test]
fn an_installed_librarys_connector_built_in_the_sessions_function_pairs() {
    // aiohttp-socks 0.12 (a helper's real run, shortened): `connector = ProxyConnector(…)` on
    // the line before `ClientSession(connector=connector)`, and inline through `from_url`.
    // Both stacks start in `main`; each test gives what comes after.
    let shapes_of = |session: &[(&str, u32, &str)], connector: &[(&str, u32, &str)]| {
        let outer = [
            ("/app/fetch.py", 48, "<module>"),
            ("/app/fetch.py", 40, "main"),
        ];
        let s: Vec<_> = outer.iter().chain(session).copied().collect();
        let c: Vec<_> = outer.iter().chain(connector).copied().collect();
        pairs(traced(&S, &s), traced(&C, &c))
    };
    let inline = [("/app/fetch.py", 33, "proxy_inline")];
    // The line before `ClientSession(connector=connector)`, and inline through `from_url`.
    type Frames<'a> = &'a [(&'a str, u32, &'a str)];
    let owned: [(Frames, Frames); 2] = [
        (
            &[("/app/fetch.py", 27, "proxy_ctor")],
            &[
                ("/app/fetch.py", 26, "proxy_ctor"),
                (SOCKS, 114, "__init__"),
                (CONNECTOR_INIT, 1002, "__init__"),
            ],
        ),
        (
            &inline,
            &[
                ("/app/fetch.py", 33, "proxy_inline"),
                (SOCKS, 150, "from_url"),
                (SOCKS, 114, "__init__"),
                (CONNECTOR_INIT, 1002, "__init__"),
            ],
        ),
    ];
    for (session, connector) in owned {
        assert_eq!(
            shapes_of(session, connector),
            vec![vec![Kind::Session, Kind::Connector]],
            "{session:?}"
        );
    }
    // The same connector built in another function of the application is a shared one.
    assert_eq!(
        shapes_of(
            &inline,
            &[
                ("/app/fetch.py", 12, "make_connector"),
                (SOCKS, 114, "__init__")
            ]
        ),
        vec![vec![Kind::Connector], vec![Kind::Session]]
    );
}

#[test]
fn a_batch_of_traced_sessions_then_their_connectors_pairs_every_one() {
    // The shape of an aiohttp.web app's sessions collected at exit in debug mode (a helper's
    // gunicorn run, shortened to asyncio's layout): 26 sessions back to back, then their
    // connectors in the same order, each made inside its session's `__init__`.
    let n = 26;
    let mut lines: Vec<String> = Vec::new();
    for i in 0..n {
        let mut s = session_traced(12);
        s[5] = format!("  File \"/app/main.py\", line 12, in handler_{i}");
        lines.extend(s);
    }
    for i in 0..n {
        let mut c = connector_traced(true);
        c[6] = format!("  File \"/app/main.py\", line 12, in handler_{i}");
        lines.extend(c);
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let d = decide(&refs);
    let paired = shapes(&d)
        .iter()
        .filter(|s| **s == vec![Kind::Session, Kind::Connector])
        .count();
    assert_eq!(paired, n as usize, "{:?}", shapes(&d));
}
