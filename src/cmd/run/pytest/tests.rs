//! Lines as pytest 9.2.0 printed them running tests/programs/pytest_suite (addresses and
//! paths shortened; the frames of each block left out).

use super::*;

/// Feeds `lines`, numbered from 1, and gives the test each was printed in.
fn regions(p: &mut Pytest, lines: &[&str]) -> Vec<Option<String>> {
    for (i, l) in lines.iter().enumerate() {
        p.line(i as u64 + 1, l.as_bytes());
    }
    (1..=lines.len() as u64)
        .map(|n| p.region_at(n).map(|r| r.test.to_string()))
        .collect()
}

const SESSION: &str = "Unclosed client session";

#[test]
fn quiet_output_names_a_test_only_in_its_failure_section() {
    let mut p = Pytest::default();
    let got = regions(
        &mut p,
        &[
            "..F.                                                                     [100%]",
            "=================================== FAILURES ===================================",
            "_________________________ test_two_sessions_then_fails _________________________",
            "test_sessions.py:63: AssertionError",
            "------------------------------ Captured log call -------------------------------",
            "ERROR    asyncio:base_events.py:1771 Unclosed client session",
            "client_session: <aiohttp.client.ClientSession object at 0x7ffb39768690>",
            "=============================== warnings summary ===============================",
            "test_sessions.py::test_five_sessions",
            "  /venv/aiohttp/client.py:459: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7ffb39839ad0>",
            "",
            "-- Docs: https://docs.pytest.org/en/stable/how-to/capture-warnings.html",
            "=========================== short test summary info ============================",
            "FAILED test_sessions.py::test_two_sessions_then_fails - AssertionError: fails...",
            "1 failed, 3 passed, 8 warnings in 0.84s",
            // Collected at exit, after every test ended.
            "/venv/aiohttp/connector.py:380: ResourceWarning: Unclosed connector <aiohttp.connector.TCPConnector object at 0x7ffb39768190>",
            "Unclosed connector",
        ],
    );
    let two = Some("test_two_sessions_then_fails".to_string());
    assert_eq!(got[..2], [None, None]);
    assert_eq!(got[2..7], vec![two; 5][..]);
    assert!(got[7..].iter().all(Option::is_none), "{got:?}");
    // Named by its id, which the summaries gave.
    assert_eq!(
        p.rename("test_two_sessions_then_fails").as_deref(),
        Some("test_sessions.py::test_two_sessions_then_fails")
    );
}

#[test]
fn a_verbose_test_is_named_from_its_start_to_its_outcome_and_in_its_live_teardown() {
    let mut p = Pytest::default();
    let got = regions(
        &mut p,
        &[
            "============================= test session starts ==============================",
            "collecting ... collected 4 items",
            "",
            "test_sessions.py::test_five_sessions ",
            "-------------------------------- live log call ---------------------------------",
            "ERROR    asyncio:base_events.py:1771 Unclosed client session",
            "PASSED                                                                   [ 25%]",
            "",
            "test_td.py::test_with_teardown_leak PASSED                               [ 50%]",
            "------------------------------ live log teardown -------------------------------",
            "ERROR    asyncio:base_events.py:1771 Unclosed client session",
            "",
            "test_sessions.py::test_closes_its_session PASSED                         [100%]",
            "after it",
            "=================== 1 failed, 3 passed, 8 warnings in 0.71s ====================",
        ],
    );
    let five = Some("test_sessions.py::test_five_sessions".to_string());
    let teardown = Some("test_td.py::test_with_teardown_leak".to_string());
    let closes = Some("test_sessions.py::test_closes_its_session".to_string());
    assert_eq!(
        got,
        [
            None,
            None,
            None,
            five.clone(),
            five.clone(),
            five.clone(),
            five, // its outcome; the next line is no test's
            None,
            teardown.clone(),
            teardown.clone(),
            teardown.clone(),
            teardown,
            closes,
            None,
            None,
        ]
    );
}

#[test]
fn a_test_started_on_an_unfinished_line_owns_what_the_other_pipe_prints_meanwhile() {
    // `pytest -v -s -p no:logging`: the id on stdout waits for its outcome while asyncio's
    // records go to stderr; the stdout line ends after them.
    let mut p = Pytest::default();
    p.line(1, b"collecting ... collected 4 items");
    p.partial(2, b"test_sessions.py::test_five_sessions ");
    p.line(2, SESSION.as_bytes());
    p.line(
        3,
        b"client_session: <aiohttp.client.ClientSession object at 0x7f23417a07d0>",
    );
    p.line(4, b"test_sessions.py::test_five_sessions PASSED");
    p.line(
        5,
        b"/venv/aiohttp/connector.py:380: ResourceWarning: Unclosed connector <x>",
    );
    let test = |n| p.region_at(n).map(|r| r.test.to_string());
    assert_eq!(test(1), None);
    for n in 2..=4 {
        assert_eq!(
            test(n).as_deref(),
            Some("test_sessions.py::test_five_sessions")
        );
    }
    assert_eq!(test(5), None);
    // A partial outcome line, or a line that is no test's, starts nothing.
    let mut p = Pytest::default();
    p.partial(1, b"test_sessions.py::test_five_sessions PASSED");
    p.partial(1, b"test_sessions.py::test_fi");
    p.partial(1, b"INFO starting");
    assert_eq!(p.region_at(1), None);
}

#[test]
fn section_headers_and_their_tests() {
    assert_eq!(section("_____ test_x _____"), Some(Some("test_x")));
    assert_eq!(
        section("___ TestC.test_x[a b] ___"),
        Some(Some("TestC.test_x[a b]"))
    );
    assert_eq!(
        section("____ ERROR at setup of test_x ____"),
        Some(Some("test_x"))
    );
    assert_eq!(
        section("____ ERROR at teardown of test_x[1] ____"),
        Some(Some("test_x[1]"))
    );
    assert_eq!(section("____ ERROR collecting test_a.py ____"), Some(None));
    assert_eq!(section("____ section with spaces ____"), None);
    assert_eq!(section("INFO ___ x ___ y"), None);
}

#[test]
fn outcomes_and_the_quiet_stats_line() {
    for l in [
        "PASSED                                                                   [ 25%]",
        "PASSED",
        "test_a.py::test_x SKIPPED (no network)                                    [ 50%]",
        "XFAIL (known)",
    ] {
        assert!(ends_test(l), "{l}");
    }
    assert!(!ends_test(
        "ERROR    asyncio:base_events.py:1771 Unclosed client session"
    ));
    for l in [
        "1 failed, 3 passed, 8 warnings in 0.84s",
        "15 passed, 15 warnings in 0.61s",
        "no tests ran in 0.01s",
        "2 passed in 65.43s (0:01:05)",
    ] {
        assert!(stats_line(l), "{l}");
    }
    for l in [
        "2026-11-30 10:00:01 request took 3 ms in 2s",
        "3 sessions in 2 tests",
        "Unclosed client session",
    ] {
        assert!(!stats_line(l), "{l}");
    }
}

#[test]
fn a_section_name_becomes_the_one_id_that_fits() {
    let mut p = Pytest::default();
    for l in [
        "=========================== short test summary info ============================",
        "FAILED tests/test_a.py::TestC::test_x - assert 1 == 2",
        "FAILED tests/test_a.py::test_y[1] - assert 1 == 2",
        "FAILED tests/test_a.py::test_z - assert 1 == 2",
        "FAILED tests/test_b.py::test_z - assert 1 == 2",
    ] {
        p.line(1, l.as_bytes());
    }
    assert_eq!(
        p.rename("TestC.test_x").as_deref(),
        Some("tests/test_a.py::TestC::test_x")
    );
    assert_eq!(
        p.rename("test_y[1]").as_deref(),
        Some("tests/test_a.py::test_y[1]")
    );
    assert_eq!(p.rename("test_z"), None, "two files have one");
    assert_eq!(p.rename("tests/test_a.py::test_z"), None, "already an id");
}

/// The warnings summary of `pytest -q test_sessions.py` and `test_clients.py` (pytest_suite).
const SUMMARY: [&str; 21] = [
    "=============================== warnings summary ===============================",
    "test_sessions.py::test_five_sessions",
    "  /venv/aiohttp/client.py:459: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7ffb39839ad0>",
    "  Enable tracemalloc to get traceback where the object was allocated.",
    "",
    "test_sessions.py::test_five_sessions",
    "  /venv/aiohttp/client.py:459: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7ffb3a6a2650>",
    "",
    "test_sessions.py::test_two_sessions_then_fails",
    "  /venv/aiohttp/client.py:459: ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7ffb39768690>",
    "",
    "test_clients.py: 12 warnings",
    "  /venv/aiohttp/client.py:459: ResourceWarning: Unclosed client session <PriceClient http://127.0.0.1:9/>",
    "",
    "test_clients.py::test_few[0]",
    "test_clients.py::test_few[1]",
    "test_clients.py::test_few[2]",
    "  /venv/aiohttp/client.py:459: ResourceWarning: Unclosed client session <PriceClient http://127.0.0.1:8/>",
    "  See https://docs.pytest.org/en/stable/how-to/capture-warnings.html#resource-warnings for more info.",
    "",
    "-- Docs: https://docs.pytest.org/en/stable/how-to/capture-warnings.html",
];

fn session(p: &mut Pytest, test: &str, live: bool) -> bool {
    let r = Region {
        test: test.into(),
        live,
    };
    p.read(Some(&r), &[(Kind::Session, Some("<s>"))])
}

#[test]
fn sessions_the_warnings_summary_lists_beyond_those_read_are_noted() {
    let mut p = Pytest::default();
    // The failed test's section showed its session, before the summary named the test.
    assert!(!session(&mut p, "test_two_sessions_then_fails", false));
    for (i, l) in SUMMARY.iter().enumerate() {
        p.line(i as u64 + 1, l.as_bytes());
    }
    let notes = p.notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with(
            "pytest's warnings summary lists 17 unclosed client sessions not read elsewhere \
             (2 under test_sessions.py::test_five_sessions, 1 under test_clients.py::test_few[0], \
             1 under test_clients.py::test_few[1], 1 under test_clients.py::test_few[2], \
             12 in an entry folded as `test_clients.py: N warnings`, naming no test). pytest shows"
        ),
        "{}",
        notes[0]
    );
    assert!(notes[0].ends_with("Run pytest with -rA to have every test's records read."));
}

#[test]
fn a_folded_entry_is_covered_by_sessions_read_in_its_file() {
    // `pytest -rA`: every test's section showed its session.
    let mut p = Pytest::default();
    for t in [
        "test_sessions.py::test_five_sessions",
        "test_sessions.py::test_five_sessions",
        "test_two_sessions_then_fails",
        "test_clients.py::test_few[0]",
        "test_clients.py::test_few[1]",
        "test_clients.py::test_few[2]",
    ] {
        session(&mut p, t, false);
    }
    for n in 0..12 {
        session(&mut p, &format!("test_clients.py::test_many[{n}]"), false);
    }
    for (i, l) in SUMMARY.iter().enumerate() {
        p.line(i as u64 + 1, l.as_bytes());
    }
    assert_eq!(p.notes(), Vec::<String>::new());
    // One fewer read in the file: one of the folded twelve is not accounted for.
    let mut p = Pytest::default();
    for n in 0..11 {
        session(&mut p, &format!("test_clients.py::test_many[{n}]"), false);
    }
    for (i, l) in SUMMARY.iter().enumerate() {
        p.line(i as u64 + 1, l.as_bytes());
    }
    let notes = p.notes();
    assert!(
        notes[0].contains("1 in an entry folded as `test_clients.py: N warnings`"),
        "{notes:?}"
    );
}

#[test]
fn unraisable_entries_under_w_error_are_noted_with_their_kinds() {
    let mut p = Pytest::default();
    for (i, l) in [
        "=============================== warnings summary ===============================",
        "test_sessions.py::test_five_sessions",
        "  /venv/_pytest/unraisableexception.py:63: PytestUnraisableExceptionWarning: Exception ignored in: <function ClientSession.__del__ at 0x7f54364bf380>",
        "  ",
        "  Traceback (most recent call last):",
        "    File \"/venv/aiohttp/client.py\", line 459, in __del__",
        "      _warnings.warn(",
        "  ResourceWarning: Unclosed client session <aiohttp.client.ClientSession object at 0x7f5435f38fd0>",
        "",
        "test_sessions.py::test_five_sessions",
        "  /venv/_pytest/unraisableexception.py:63: PytestUnraisableExceptionWarning: Exception ignored in: <function BaseConnector.__del__ at 0x7f54366336a0>",
        "  ",
        "  Traceback (most recent call last):",
        "  ResourceWarning: Unclosed connector <aiohttp.connector.TCPConnector object at 0x7f5435f38e50>",
        "",
        "-- Docs: https://docs.pytest.org/en/stable/how-to/capture-warnings.html",
    ]
    .iter()
    .enumerate()
    {
        p.line(i as u64 + 1, l.as_bytes());
    }
    let notes = p.notes();
    assert!(
        notes[0].starts_with(
            "pytest's warnings summary lists 1 unclosed client session and 1 connector not read \
             elsewhere (2 under test_sessions.py::test_five_sessions). Under -W error"
        ),
        "{notes:?}"
    );
}

#[test]
fn a_captured_log_repeating_the_live_log_is_not_counted_again() {
    let mut p = Pytest::default();
    p.line(1, b"test_sessions.py::test_two_sessions_then_fails");
    let live = Region {
        test: "test_sessions.py::test_two_sessions_then_fails".into(),
        live: true,
    };
    let a = [(
        Kind::Session,
        Some("<aiohttp.client.ClientSession object at 0xa>"),
    )];
    let b = [(
        Kind::Session,
        Some("<aiohttp.client.ClientSession object at 0xb>"),
    )];
    assert!(!p.read(Some(&live), &a));
    assert!(!p.read(Some(&live), &b));
    let section = Region {
        test: "test_two_sessions_then_fails".into(),
        live: false,
    };
    assert!(p.read(Some(&section), &a), "shown live");
    assert!(p.read(Some(&section), &b), "shown live");
    assert!(!p.read(Some(&section), &a), "once only");
    let c = [(
        Kind::Session,
        Some("<aiohttp.client.ClientSession object at 0xc>"),
    )];
    assert!(!p.read(Some(&section), &c), "not shown live");
    // Another test's section never repeats this one's.
    let other = Region {
        test: "test_other".into(),
        live: false,
    };
    assert!(!p.read(Some(&other), &b));
}

#[test]
fn colours_and_non_utf8_lines_do_not_confuse_it() {
    let mut p = Pytest::default();
    p.line(
        1,
        b"\x1b[31m=================================== FAILURES ===================================\x1b[0m",
    );
    p.line(2, b"\x1b[31m\x1b[1m_____ test_x _____\x1b[0m");
    p.line(3, b"\xff\xfe");
    p.line(4, SESSION.as_bytes());
    assert_eq!(p.region_at(4).map(|r| &*r.test), Some("test_x"));
}
