//! Lines here are copied from real aiohttp output (docs/formats.md), except where a test
//! says it is a hand-made edge case.

use super::*;

#[test]
fn deque_form_counts_every_tuple_across_keys() {
    let v = "['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2ba0>, 2092.40), (<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2970>, 2092.40)])', 'deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2f20>, 2092.40)])']";
    assert_eq!(
        pool(v),
        Pool {
            connections: 3,
            keys: 2,
            complete: true
        }
    );
}

#[test]
fn connector_in_old_list_form_counts_every_tuple() {
    let v = "['[(<aiohttp.client_proto.ResponseHandler object at 0x7fbdd8f7bee0>, 1804.286229171), (<aiohttp.client_proto.ResponseHandler object at 0x7fbdd8f7bf10>, 1804.3)]']";
    let p = pool(v);
    assert_eq!((p.connections, p.keys, p.complete), (2, 1, true));
}

#[test]
fn three_item_entries_of_aiohttp_0x_count_once_each() {
    // Hand-made from the entry shape docs/formats.md §3 quotes for aiohttp 0.x.
    let v = "['[(<TCPTransport closed=True reading=False 0x1f2e3d0>, <aiohttp.parsers.StreamProtocol object at 0x7f00>, 7585.671), (<TCPTransport closed=False reading=False 0x1f2e3d8>, <aiohttp.parsers.StreamProtocol object at 0x7f08>, 7585.9)]']";
    assert_eq!(pool(v).connections, 2);
    assert!(pool(v).complete);
}

#[test]
fn redacted_windows_and_32_bit_addresses_count() {
    // Hand-made: addresses as log redaction, Windows and 32-bit builds print them.
    let v = "['deque([(<aiohttp.client_proto.ResponseHandler object at 0x...>, 1.0), (<aiohttp.client_proto.ResponseHandler object at 0x000001F2A3B4C5D6>, 2.0), (<aiohttp.client_proto.ResponseHandler object at 0xb6f2a3c0>, 3.0)])']";
    assert_eq!(pool(v).connections, 3);
    assert!(pool(v).complete);
}

#[test]
fn third_party_protocol_with_nested_angles_counts() {
    // Hand-made: a third-party connector pools objects whose repr nests angle brackets.
    let v = "['deque([(<aiohttp_socks.proto.SocksProtocol transport=<_SelectorSocketTransport fd=9 read=polling write=<idle, bufsize=0>>>, 55.5)])']";
    assert_eq!(pool(v).connections, 1);
    assert!(pool(v).complete);
}

#[test]
fn value_cut_mid_list_counts_complete_entries_and_is_incomplete() {
    let v = "['deque([(<aiohttp.client_proto.ResponseHandler object at 0x7f1befaa2ba0>, 2092.40), (<aiohttp.client_proto.ResponseHandler object at 0x7f1b";
    let p = pool(v);
    assert_eq!(p.connections, 1);
    assert!(!p.complete);
}

#[test]
fn garbage_value_counts_nothing_and_is_incomplete() {
    let p = pool("<redacted>");
    assert_eq!(p.connections, 0);
    assert!(!p.complete);
}

#[test]
fn log_headers_are_found_after_any_prefix() {
    for (text, kind) in [
        ("Unclosed client session", Kind::Session),
        ("ERROR:asyncio:Unclosed connector", Kind::Connector),
        (
            "2026-11-23 22:27:48,367 ERROR asyncio: Unclosed response",
            Kind::Response,
        ),
        (
            "ERROR    asyncio:base_events.py:1771 Unclosed connection",
            Kind::Connection,
        ),
        ("Task was destroyed but it is pending!", Kind::Task),
    ] {
        assert!(
            matches!(line(text), Line::LogHeader { kind: k, .. } if k == kind),
            "{text}"
        );
    }
}

#[test]
fn prose_that_mentions_the_words_is_not_a_header() {
    for text in [
        "no unclosed connector left",
        "Unclosed connector left open",
        "  _warnings.warn(f\"Unclosed connector {self!r}\", ResourceWarning, **kwargs)",
        "see \"Unclosed client session\"",
        "MyUnclosed connector",
    ] {
        assert!(
            !matches!(
                line(text),
                Line::LogHeader { .. } | Line::WarningHeader { .. }
            ),
            "{text}"
        );
    }
}

#[test]
fn warning_header_keeps_repr_and_location() {
    let text = "/venv/lib/python3.11/site-packages/aiohttp/client.py:459: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7f3c62d35e90>";
    assert_eq!(
        line(text),
        Line::WarningHeader {
            kind: Kind::Session,
            repr: "<aiohttp.client.ClientSession object at 0x7f3c62d35e90>",
            location: Some(("/venv/lib/python3.11/site-packages/aiohttp/client.py", 459)),
        }
    );
}

#[test]
fn warning_header_at_shutdown_and_in_unraisable_report() {
    assert!(matches!(
        line(
            "sys:1: ResourceWarning: Unclosed connector <aiohttp.connector.TCPConnector object at 0x7f>"
        ),
        Line::WarningHeader {
            kind: Kind::Connector,
            location: Some(("sys", 1)),
            ..
        }
    ));
    assert!(matches!(
        line(
            "ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7f>"
        ),
        Line::WarningHeader {
            kind: Kind::Session,
            location: None,
            ..
        }
    ));
    assert_eq!(
        line("Exception ignored in: <function ClientSession.__del__ at 0x7f3c62d35e90>"),
        Line::Unraisable
    );
}

#[test]
fn related_warnings_are_their_own_kinds() {
    assert!(matches!(
        line(
            "/usr/lib/python3.11/asyncio/selector_events.py:864: ResourceWarning: unclosed transport <_SelectorSocketTransport fd=9>"
        ),
        Line::WarningHeader {
            kind: Kind::Transport,
            ..
        }
    ));
    assert!(matches!(
        line("sys:1: ResourceWarning: unclosed <socket.socket fd=9, family=2, type=1, proto=6, laddr=('10.0.1.5', 5), raddr=('10.0.1.25', 8000)>"),
        Line::WarningHeader { kind: Kind::Socket, repr, .. } if repr.starts_with("<socket.socket fd=9")
    ));
    assert!(matches!(
        line("/app/main.py:12: RuntimeWarning: coroutine 'ClientSession.close' was never awaited"),
        Line::WarningHeader {
            kind: Kind::UnawaitedClose,
            location: Some(("/app/main.py", 12)),
            ..
        }
    ));
}

#[test]
fn captured_warning_names_the_file_after_the_logging_prefix() {
    let text = "WARNING:py.warnings:/app/x.py:7: RuntimeWarning: coroutine 'ClientSession.close' was never awaited";
    assert!(matches!(
        line(text),
        Line::WarningHeader {
            location: Some(("/app/x.py", 7)),
            ..
        }
    ));
}

#[test]
fn home_assistant_bodyless_form_is_recognised() {
    assert_eq!(
        line(
            "2023-01-01 12:00:00 ERROR (MainThread) [homeassistant] Error doing job: Unclosed client session (None)"
        ),
        Line::Bodyless {
            kind: Kind::Session
        }
    );
}

#[test]
fn frames_in_both_traceback_styles() {
    assert_eq!(
        line("  File \"/app/client.py\", line 42, in fetch"),
        Line::Frame(Frame {
            path: "/app/client.py",
            line: 42,
            function: Some("fetch")
        })
    );
    assert_eq!(
        line("  File \"/app/client.py\", lineno 42"),
        Line::Frame(Frame {
            path: "/app/client.py",
            line: 42,
            function: None
        })
    );
    assert_eq!(
        line("  File \"<frozen runpy>\", line 198, in _run_module_as_main"),
        Line::Frame(Frame {
            path: "<frozen runpy>",
            line: 198,
            function: Some("_run_module_as_main")
        })
    );
    assert_eq!(
        line("    session = aiohttp.ClientSession()"),
        Line::Indented
    );
}

#[test]
fn trace_headers_and_keys() {
    assert_eq!(
        line("source_traceback: Object created at (most recent call last):"),
        Line::TraceHeader(Trace::Source)
    );
    assert_eq!(
        line("handle_traceback: Handle created at (most recent call last):"),
        Line::TraceHeader(Trace::Handle)
    );
    assert_eq!(
        line("Object allocated at (most recent call last):"),
        Line::TraceHeader(Trace::Allocated)
    );
    assert_eq!(
        line("client_session: <aiohttp.client.ClientSession object at 0x7fbdd9d79d50>"),
        Line::Key {
            key: "client_session",
            value: "<aiohttp.client.ClientSession object at 0x7fbdd9d79d50>"
        }
    );
}

#[test]
fn record_prefixes_are_told_from_sentences() {
    for p in [
        "",
        "ERROR:asyncio:",
        "2026-11-23 22:27:48,367 ERROR ",
        "[2026-11-23 22:27:48 +0000] [42] [ERROR] ",
        "ERROR    asyncio:base_events.py:1771 ",
    ] {
        assert!(looks_like_record(p), "{p:?}");
    }
    for p in [
        "ERROR:app:Retrying: ",
        "The cause was: ",
        "INFO ",
        "The error ",
        "Terrorists hate the ",
    ] {
        assert!(!looks_like_record(p), "{p:?}");
    }
}

#[test]
fn a_name_prefix_does_not_make_a_header_a_key_line() {
    assert!(matches!(
        line("asyncio: Unclosed client session"),
        Line::LogHeader {
            kind: Kind::Session,
            ..
        }
    ));
}

#[test]
fn other_libraries_unclosed_connection_is_not_aiohttps() {
    // Hand-made in aiopg's shape: its repr is not `Connection<ConnectionKey(…)>`.
    assert_eq!(
        line(
            "/venv/lib/python3.12/site-packages/aiopg/connection.py:1140: ResourceWarning: Unclosed connection <aiopg.connection.Connection object at 0x7f>"
        ),
        Line::Other
    );
    assert!(matches!(
        line(
            "/venv/lib/python3.12/site-packages/aiohttp/connector.py:184: ResourceWarning: Unclosed connection Connection<ConnectionKey(host='127.0.0.1', port=8080, is_ssl=False, ssl=True, proxy=None, proxy_auth=None, proxy_headers_hash=None)>"
        ),
        Line::WarningHeader {
            kind: Kind::Connection,
            ..
        }
    ));
}

#[test]
fn captured_warning_location_has_no_leading_space() {
    assert!(matches!(
        line(
            "2026-11-23 22:27:48,367 WARNING py.warnings: /app/y.py:40: RuntimeWarning: coroutine 'ClientSession.close' was never awaited"
        ),
        Line::WarningHeader {
            location: Some(("/app/y.py", 40)),
            ..
        }
    ));
}

#[test]
fn a_wide_character_right_before_a_warning_header_is_read_not_a_panic() {
    for c in ["é", "本", "🙂", "\u{FFFD}", "\u{202E}"] {
        let text = format!(
            "{c}ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x1>"
        );
        // The wide character is not a `FILE:LINE: ` location, so this is no header.
        assert_eq!(line(&text), Line::Other, "{c}");
        let text = format!("x.py:1: {c}Warning: Unclosed connector <x>");
        let _ = line(&text);
    }
}

#[test]
fn a_header_mention_is_aiohttps_words_wherever_they_stand() {
    for yes in [
        "Unclosed client session",
        "> Unclosed connector",
        r#"{"msg": "Unclosed response\nclient_response: <ClientResponse(x) [200 OK]>"}"#,
        "2025-06-28 ERROR (MainThread) [homeassistant] Error doing job: Unclosed client session (task: None)",
        "Unclosed connection",
        "Unclosed connection Connection<ConnectionKey(host='a', port=1)>",
    ] {
        assert!(mentions_header(yes), "{yes}");
    }
    for no in [
        "unclosed client session in lower case",
        r#"  _warnings.warn(f"Unclosed connector {self!r}", ResourceWarning, **kwargs)"#,
        "ResourceWarning: Unclosed connection <aiopg.connection.Connection object at 0x1>",
        "Unclosed connection: Channel('127.0.0.1', 50051, ..., path=None)",
        "xUnclosed connector",
    ] {
        assert!(!mentions_header(no), "{no}");
    }
}
