//! Whether a session's and a connector's blocks can be one finding, from what they show of
//! their origin: creation tracebacks (docs/formats.md §5), and the timestamps of body-less
//! records (Home Assistant).

use super::Object;
use crate::pipeline::assemble::Frame;

/// Adjacent session and connector are one finding unless their creation tracebacks say the
/// connector was made elsewhere ([`same_origin`]).
pub(super) fn belong_together(session: &Object, connector: &Object) -> bool {
    // Home Assistant's records carry no body: their timestamps (to the millisecond) are the
    // one more piece of evidence, and a session's connector is logged right after it.
    if !session.complete
        && !connector.complete
        && let (Some(a), Some(b)) = (&session.pos.ts, &connector.pos.ts)
        && let (Some(a), Some(b)) = (millis_of_day(a), millis_of_day(b))
        && a.abs_diff(b) > MAX_RECORD_GAP_MS
    {
        return false;
    }
    if session.frames.is_empty()
        || connector.frames.is_empty()
        || session.trace_cut
        || connector.trace_cut
    {
        return true;
    }
    same_origin(&session.frames, &connector.frames)
}

/// Whether a connector whose creation frames are `connector` was made for the session created
/// at `session`. Past the library frames at the inner end (aiohttp's own `__init__`s), the two
/// stacks must be the same call chain, frame for frame, except that the innermost frame's line
/// may differ when its file and function are the same: a connector built inside
/// `ClientSession.__init__` or inline (`ClientSession(connector=TCPConnector())`) shares the
/// session's line; one built on a later line of a multi-line call (LiteLLM's factory lambda,
/// elastic-transport), or a few statements earlier in the same function and passed in
/// (httpx-aiohttp), shares its file and function. A connector made in another function or at
/// module level (a shared connector, `connector_owner=False`) never matches, except in a
/// library's helper called from the session's function (`built_by_a_library_helper`). Frames cut from
/// the outer end (tracemalloc's depth, `MAX_FRAMES`) are not compared.
pub fn same_origin(session: &[Frame], connector: &[Frame]) -> bool {
    let trim = |frames: &[Frame]| -> usize {
        frames.len() - frames.iter().rev().take_while(|f| f.library).count()
    };
    let (s, c) = (&session[..trim(session)], &connector[..trim(connector)]);
    let (Some(si), Some(ci)) = (s.last(), c.last()) else {
        return false;
    };
    let innermost = si.path == ci.path
        && si.function == ci.function
        && (si.line == ci.line || si.function.is_some());
    (innermost
        && s[..s.len() - 1]
            .iter()
            .rev()
            .zip(c[..c.len() - 1].iter().rev())
            .all(|(a, b)| a.path == b.path && a.line == b.line && a.function == b.function))
        || built_by_a_library_helper(s, c)
}

/// Whether an installed library built the connector in a helper that the function building
/// the session called: aiobotocore's `_get_session` calls `_create_connector`, which builds
/// its own `TCPConnector` subclass, then passes it to `ClientSession(connector=…)` four lines
/// down; an application builds aiohttp-socks' `ProxyConnector(…)` (or `from_url`) on the line
/// before `ClientSession(connector=connector)`, or inline. The connector's stack is the
/// session's through that function (any line in it), then deeper frames, all of them in
/// installed packages. A helper in application code never counts here: one of the user's own
/// that hands out one cached connector is a shared connector's usual shape
/// (`connector_owner=False`). Both stacks must be whole (asyncio's, with functions).
fn built_by_a_library_helper(s: &[Frame], c: &[Frame]) -> bool {
    let Some(si) = s.last() else {
        return false;
    };
    let at = s.len() - 1;
    si.function.is_some()
        && c.len() > s.len()
        && c[at].path == si.path
        && c[at].function == si.function
        && c[..at]
            .iter()
            .zip(&s[..at])
            .all(|(a, b)| a.path == b.path && a.line == b.line && a.function == b.function)
        && c[at + 1..]
            .iter()
            .all(|f| crate::pipeline::python::is_installed(&f.path))
}

/// Milliseconds between a body-less session record and its connector's, at most (measured
/// under Home Assistant: 1–2 ms).
const MAX_RECORD_GAP_MS: u64 = 100;

/// The time of day in a timestamp (`2026-11-29 20:22:25.484`, `…T20:22:25,484Z`), in ms.
fn millis_of_day(ts: &str) -> Option<u64> {
    let b = ts.as_bytes();
    let at = b
        .iter()
        .position(|&c| c == b'T' || c == b' ')
        .map_or(0, |p| p + 1);
    let t = ts.get(at..)?;
    let num = |s: &str| s.parse::<u64>().ok();
    let (h, m, s) = (num(t.get(0..2)?)?, num(t.get(3..5)?)?, num(t.get(6..8)?)?);
    let frac: String = t
        .get(9..)
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .chain("000".chars())
        .take(3)
        .collect();
    Some(((h * 60 + m) * 60 + s) * 1000 + num(&frac)?)
}

/// Whether `longer` is `prefix` followed only by library frames (aiohttp's own `__init__`s).
pub(super) fn extends(longer: &[Frame], prefix: &[Frame]) -> bool {
    !prefix.is_empty()
        && longer.len() > prefix.len()
        && longer[..prefix.len()]
            .iter()
            .zip(prefix)
            .all(|(a, b)| a.path == b.path && a.line == b.line && a.function == b.function)
        && longer[prefix.len()..].iter().all(|f| f.library)
}
