//! Block texts are real aiohttp output (docs/formats.md) unless a test says it is a
//! hand-made edge case.

use super::*;

fn run(lines: &[&str]) -> Vec<Event> {
    assemble_lines(lines)
}

fn blocks(events: &[Event]) -> Vec<&Block> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Block(b) => Some(b.as_ref()),
            _ => None,
        })
        .collect()
}

const SESSION_AND_CONNECTOR: [&str; 5] = [
    "Unclosed client session",
    "client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>",
    "Unclosed connector",
    "connections: ['[(<aiohttp.client_proto.ResponseHandler object at 0x7fbdd8f7bee0>, 1804.286229171)]']",
    "connector: <aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>",
];

#[test]
fn session_then_connector_make_two_complete_blocks() {
    let ev = run(&SESSION_AND_CONNECTOR);
    let b = blocks(&ev);
    assert_eq!(b.len(), 2);
    assert_eq!(
        (b[0].kind, b[0].complete, b[0].pos.line),
        (Kind::Session, true, 1)
    );
    assert_eq!(b[1].kind, Kind::Connector);
    assert_eq!(b[1].pool.map(|p| p.connections), Some(1));
    assert_eq!(
        b[1].repr.as_deref(),
        Some("<aiohttp.connector.TCPConnector object at 0x7fbdd8b7fbd0>")
    );
    assert_eq!(ev.len(), 2, "no stray events: {ev:?}");
}

#[test]
fn block_ends_at_first_foreign_line_which_is_text() {
    let ev = run(&[
        SESSION_AND_CONNECTOR[0],
        SESSION_AND_CONNECTOR[1],
        "INFO: GET /health 200",
        "",
    ]);
    assert!(
        matches!(
            ev.as_slice(),
            [Event::Block(_), Event::Text(_), Event::Blank(_)]
        ),
        "{ev:?}"
    );
}

#[test]
fn response_block_keeps_its_empty_line_and_source_traceback() {
    // Hand-made in the layout of docs/formats.md §2 (response repr, then the traceback key).
    let ev = run(&[
        "Unclosed response",
        "client_response: <ClientResponse(http://127.0.0.1:8080/) [200 OK]>",
        "<CIMultiDictProxy('Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2')>",
        "",
        "source_traceback: Object created at (most recent call last):",
        "  File \"/app/main.py\", line 30, in <module>",
        "    asyncio.run(main())",
        "  File \"/app/main.py\", line 22, in main",
        "    resp = await session.get(URL)",
        "  File \"/venv/lib/python3.12/site-packages/aiohttp/client.py\", line 700, in _request",
        "    resp = await req.send(conn)",
        "next record",
    ]);
    let b = blocks(&ev);
    assert_eq!(b.len(), 1);
    assert!(b[0].complete);
    assert_eq!(b[0].frames.len(), 3);
    assert_eq!(
        b[0].frames[1].code.as_deref(),
        Some("resp = await session.get(URL)")
    );
    assert_eq!(b[0].trace, Some(Trace::Source));
    assert!(matches!(ev.last(), Some(Event::Text(_))));
}

#[test]
fn handle_traceback_frames_are_never_kept_as_creation_frames() {
    let ev = run(&[
        "Unclosed client session",
        "client_session: <aiohttp.client.ClientSession object at 0x7f>",
        "handle_traceback: Handle created at (most recent call last):",
        "  File \"/app/main.py\", line 9, in schedule",
        "    loop.call_soon(cb)",
    ]);
    let b = blocks(&ev);
    assert_eq!(b.len(), 1);
    assert!(b[0].frames.is_empty());
    assert_eq!(b[0].trace, None);
}

#[test]
fn warning_block_with_echo_and_tracemalloc_hint() {
    let ev = run(&[
        "/venv/lib/python3.11/site-packages/aiohttp/client.py:459: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7f3c62d35e90>",
        "  _warnings.warn(",
        "ResourceWarning: Enable tracemalloc to get the object allocation traceback",
        "Unclosed client session",
    ]);
    let b = blocks(&ev);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].channel, Channel::Warning);
    assert_eq!(
        b[0].repr.as_deref(),
        Some("<aiohttp.client.ClientSession object at 0x7f3c62d35e90>")
    );
    assert_eq!(b[1].channel, Channel::Log);
}

#[test]
fn warning_block_with_tracemalloc_frames() {
    // Hand-made in tracemalloc's layout (docs/formats.md §6).
    let ev = run(&[
        "/venv/lib/python3.12/site-packages/aiohttp/client.py:459: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7f>",
        "  _warnings.warn(",
        "Object allocated at (most recent call last):",
        "  File \"/app/main.py\", lineno 30",
        "    asyncio.run(main())",
        "  File \"/app/main.py\", lineno 12",
        "    session = aiohttp.ClientSession()",
    ]);
    let b = blocks(&ev);
    assert_eq!(b[0].trace, Some(Trace::Allocated));
    assert_eq!(
        b[0].frames.last().map(|f| (f.line, f.function.clone())),
        Some((12, None))
    );
}

#[test]
fn unraisable_report_becomes_a_warning_block() {
    let ev = run(&[
        "Exception ignored in: <function ClientSession.__del__ at 0x7f3c62d35e90>",
        "Traceback (most recent call last):",
        "  File \"/venv/lib/python3.11/site-packages/aiohttp/client.py\", line 459, in __del__",
        "    _warnings.warn(",
        "ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7f>",
    ]);
    let b = blocks(&ev);
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].kind, b[0].channel, b[0].complete),
        (Kind::Session, Channel::Warning, true)
    );
    assert!(
        b[0].frames.is_empty(),
        "the __del__ traceback is not a creation traceback"
    );
}

#[test]
fn header_without_body_is_unknown_only_after_a_record_prefix() {
    // Hand-made: a log cut right after a connector header.
    let ev = run(&["ERROR:asyncio:Unclosed connector"]);
    let b = blocks(&ev);
    assert_eq!(b.len(), 1);
    assert!(!b[0].complete);
    let ev = run(&["The cause was: Unclosed connector", "the end"]);
    assert!(blocks(&ev).is_empty(), "{ev:?}");
}

#[test]
fn over_long_traceback_keeps_outer_and_innermost_frames() {
    // Hand-made: a recursion deeper than MAX_FRAMES.
    let mut lines = vec![
        "Unclosed client session".to_string(),
        "client_session: <aiohttp.client.ClientSession object at 0x7f>".to_string(),
        "source_traceback: Object created at (most recent call last):".to_string(),
    ];
    for i in 0..1000 {
        lines.push(format!("  File \"/app/deep.py\", line {i}, in f"));
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let ev = run(&refs);
    let b = blocks(&ev);
    assert_eq!(b[0].frames.len(), MAX_FRAMES);
    assert_eq!(b[0].frames[0].line, 0);
    assert_eq!(b[0].frames.last().unwrap().line, 999);
    assert_eq!(b[0].frames_dropped as usize, 1000 - MAX_FRAMES);
}

#[test]
fn blocks_record_their_physical_lines_and_failed_blocks_return_theirs() {
    let ev = run(&[SESSION_AND_CONNECTOR[0], SESSION_AND_CONNECTOR[1], "INFO x"]);
    assert_eq!(blocks(&ev)[0].lines, [1, 2]);
    let ev = run(&[
        "Exception ignored in: <function ClientSession.__del__ at 0x7f3c62d35e90>",
        "Traceback (most recent call last):",
        "RuntimeError: Event loop is closed",
    ]);
    assert_eq!(ev, [Event::Text(vec![1, 2]), Event::Text(vec![])]);
}

#[test]
fn a_header_followed_by_another_librarys_key_is_not_a_block() {
    // Hand-made in aiopg's shape (its own `Unclosed connection` record).
    let ev = run(&[
        "ERROR:asyncio:Unclosed connection",
        "connection: <aiopg.connection.Connection object at 0x7f>",
        "INFO x",
    ]);
    assert!(blocks(&ev).is_empty(), "{ev:?}");
}

#[test]
fn a_folded_repeated_frame_stays_in_the_traceback() {
    // azure-core 1.41's pipeline calls each policy's `send` from the one before: Python folds
    // the fourth and later copies of that frame into one line (real output, paths rewritten).
    let pipeline = "/opt/venv/lib/python3.12/site-packages/azure/core/pipeline/_base_async.py";
    let send = format!("  File \"{pipeline}\", line 77, in send");
    let lines = [
        "Unclosed client session",
        "client_session: <aiohttp.client.ClientSession object at 0x7fe8cb599310>",
        "source_traceback: Object created at (most recent call last):",
        "  File \"/app/lib_azure.py\", line 14, in get",
        "    resp = await client.send_request(HttpRequest(\"GET\", f\"{base}/item/{i}\"))",
        &send,
        "    response = await self.next.send(request)",
        &send,
        "    response = await self.next.send(request)",
        &send,
        "    response = await self.next.send(request)",
        "  [Previous line repeated 2 more times]",
        "  File \"/opt/venv/lib/python3.12/site-packages/azure/core/pipeline/transport/_aiohttp.py\", line 196, in open",
        "    self.session = aiohttp.ClientSession(**clientsession_kwargs)",
        SESSION_AND_CONNECTOR[2],
        SESSION_AND_CONNECTOR[3],
        SESSION_AND_CONNECTOR[4],
    ];
    let ev = run(&lines);
    let b = blocks(&ev);
    assert_eq!(b.len(), 2, "{ev:?}");
    assert_eq!(ev.len(), 2, "no line left as text: {ev:?}");
    let f = &b[0].frames;
    assert_eq!(f.len(), 7, "1 + 3 printed + 2 folded + 1");
    assert!(
        f[1..6]
            .iter()
            .all(|x| x.line == 77 && x.path.ends_with("_base_async.py"))
    );
    assert_eq!(f[6].line, 196);
    assert!(!b[0].trace_cut);
    assert_eq!(b[1].kind, Kind::Connector);
}

#[test]
fn a_line_read_as_the_lines_of_a_joined_paste_parts_nothing() {
    // A session's block, then its connector's with the header glued to its first key (a
    // rendered page that lost the line break): no ordinary line between them.
    let ev = run(&[
        "Unclosed client session",
        "client_session: <aiohttp.client.ClientSession object at 0x7ffa63c5dc70>",
        "Unclosed connectorconnections: ['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7ffa63b5a570>, 8194.964655556)])']",
        "connector: <aiohttp.connector.TCPConnector object at 0x7ffa63c5e1e0>",
    ]);
    assert!(ev.iter().all(|e| matches!(e, Event::Block(_))), "{ev:?}");
    assert_eq!(blocks(&ev).len(), 2);
    // A line that only mentions a header stays an ordinary line.
    let ev = run(&[
        "Unclosed client session",
        "client_session: <aiohttp.client.ClientSession object at 0x7ffa63c5dc70>",
        "grep for Unclosed client sessionclient_session in the logs",
    ]);
    assert!(matches!(ev.last(), Some(Event::Text(_))), "{ev:?}");
}

/// A session block whose creation traceback has `frames` (each a frame line and its source
/// line).
fn session_with(frames: &[(&'static str, &'static str)]) -> Vec<&'static str> {
    let mut lines = vec![
        "Unclosed client session",
        "client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>",
        "source_traceback: Object created at (most recent call last):",
    ];
    for (frame, code) in frames {
        lines.extend([*frame, *code]);
    }
    lines
}

#[test]
fn tracebacks_read_by_guessing_each_next_line_read_as_they_did_the_first_time() {
    // Hand-made: two tracebacks that share their outer frames and then differ, read in turn,
    // so that the line guessed from the traceback before is wrong at some point in each.
    let main = (
        "  File \"/app/main.py\", line 30, in <module>",
        "    asyncio.run(main())",
    );
    let fetch = (
        "  File \"/app/main.py\", line 22, in fetch",
        "    session = aiohttp.ClientSession()",
    );
    let retry = (
        "  File \"/app/retry.py\", line 9, in again",
        "    return await fetch()",
    );
    let a = session_with(&[main, fetch]);
    let b = session_with(&[main, retry, fetch]);
    let c = session_with(&[retry, main]);
    let alone = |lines: &[&str]| blocks(&run(lines))[0].frames.clone();
    let order = [&a, &b, &a, &a, &b, &b, &c, &a, &c, &b];
    let mut all: Vec<&str> = Vec::new();
    for t in order {
        all.extend(t.iter());
    }
    all.push("next record");
    let ev = run(&all);
    let got = blocks(&ev);
    assert_eq!(got.len(), order.len());
    for (block, t) in got.iter().zip(order) {
        assert_eq!(block.frames, alone(t));
    }
}

#[test]
fn a_guessed_line_is_taken_only_when_it_is_the_line() {
    let mut names = Interner::default();
    let frame = Frame::at("/app/main.py", 22, "fetch");
    let code: std::sync::Arc<str> = "session = aiohttp.ClientSession()".into();
    names.remember_frame("  File \"/app/main.py\", line 22, in fetch", &frame);
    names.remember_code("    session = aiohttp.ClientSession()", &code);
    let (frame_id, _) = names
        .known("  File \"/app/main.py\", line 22, in fetch", None)
        .expect("remembered");
    // A wrong guess (the frame line's id for its source line) is not trusted.
    match names.known("    session = aiohttp.ClientSession()", Some(frame_id)) {
        Some((id, Read::Code(c))) => {
            assert_ne!(id, frame_id);
            assert_eq!(c, &code);
        }
        other => panic!("read as {other:?}"),
    }
    // Nor is a guess that names no line at all (the interner started afresh since).
    assert!(names.known("  not a known line", Some(u32::MAX)).is_none());
    assert!(
        names
            .known("    session = aiohttp.ClientSession()", Some(u32::MAX))
            .is_some()
    );
}
