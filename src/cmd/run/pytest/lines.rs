//! What a line of pytest's output is: a test id, an outcome, a section's header, the stats
//! line, a warnings-summary location.

use super::Location;

pub(super) const OUTCOMES: [&str; 6] = ["PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"];

/// A test id: the first word of a progress line (`test_a.py::test_x[1]`).
pub(super) fn test_id(word: &str) -> bool {
    word.contains(".py::") && !word.starts_with('<')
}

/// Whether a line ends a test's progress: its outcome last, maybe with a reason and the
/// percentage (`PASSED  [ 25%]`, `SKIPPED (no network)`, `PASSED` under `-s`).
pub(super) fn ends_test(text: &str) -> bool {
    let mut t = text.trim_end();
    if t.ends_with("%]")
        && let Some(at) = t.rfind('[')
    {
        t = t[..at].trim_end();
    }
    if t.ends_with(')')
        && let Some(at) = t.rfind(" (")
    {
        t = t[..at].trim_end();
    }
    OUTCOMES.iter().any(|o| t.ends_with(o))
}

pub(super) fn starts_with_outcome(text: &str) -> bool {
    OUTCOMES.iter().any(|o| {
        text.strip_prefix(o)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    })
}

/// `=== title ===`: the title.
pub(super) fn separator(text: &str) -> Option<&str> {
    (text.len() >= 2 && text.starts_with('=') && text.ends_with('='))
        .then(|| text.trim_matches(|c| c == '=' || c == ' '))
}

/// pytest's last line under `-q`: `1 failed, 3 passed, 8 warnings in 0.84s`, `no tests
/// ran in 0.01s`, `… in 65.43s (0:01:05)`.
pub(super) fn stats_line(text: &str) -> bool {
    let Some((counts, time)) = text.rsplit_once(" in ") else {
        return false;
    };
    let counts_ok = counts == "no tests ran"
        || counts.split(", ").all(|c| {
            c.split_once(' ').is_some_and(|(n, word)| {
                !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && !word.is_empty()
                    && word.bytes().all(|b| b.is_ascii_lowercase())
            })
        });
    let secs = time.split(' ').next().unwrap_or("");
    let time_ok = secs
        .strip_suffix('s')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
    counts_ok && time_ok
}

/// A section header's test: `____ test_x ____`, `____ ERROR at setup of test_x ____`.
/// `Some(None)` for a section of no test (`ERROR collecting test_a.py`).
pub(super) fn section(text: &str) -> Option<Option<&str>> {
    if !(text.starts_with("___") && text.ends_with("___")) {
        return None;
    }
    let title = text.trim_matches(|c| c == '_' || c == ' ');
    if title.starts_with("ERROR collecting ") {
        return Some(None);
    }
    let name = title
        .strip_prefix("ERROR at setup of ")
        .or_else(|| title.strip_prefix("ERROR at teardown of "))
        .unwrap_or(title);
    // A parameter id may hold spaces; the name before it may not.
    let head = name.split('[').next().unwrap_or(name);
    let ok =
        !head.is_empty() && !head.contains(' ') && (!name.contains(' ') || name.ends_with(']'));
    ok.then_some(Some(name))
}

/// A test id's name within its module, as its section header gives it:
/// `test_a.py::TestC::test_x` → `TestC.test_x`.
pub(super) fn name_in_module(id: &str) -> Option<String> {
    id.split_once("::").map(|(_, rest)| rest.replace("::", "."))
}

pub(super) fn location(text: &str) -> Location {
    if text.contains("::") {
        return Location::Test(text.into());
    }
    if let Some((file, count)) = text.rsplit_once(": ")
        && let Some(n) = count
            .strip_suffix(" warnings")
            .or_else(|| count.strip_suffix(" warning"))
            .and_then(|n| n.parse().ok())
    {
        return Location::Folded(file.to_string(), n);
    }
    Location::Outside
}
