//! Explain: what each pattern of findings means and the fix that fits it. The texts live
//! here and nowhere else; every report takes them from [`advice`].

use crate::audit::Verdict;
use crate::pipeline::classify::Pattern;

/// What a pattern means and how to fix it.
pub fn advice(p: Pattern) -> &'static str {
    match p {
        Pattern::Unknown => {
            "The log does not show what these objects held (a block cut off or printed without its body, or a \
                 session that other lines parted from a connector that may be its own). Run with `unclosed run` \
                 to get complete blocks with call sites."
        }
        Pattern::IdleSession => {
            "A ClientSession was garbage-collected without close(), but its connector held no socket: harmless \
                 now, a leak as soon as it makes requests with keep-alive. Close it: `async with \
                 aiohttp.ClientSession() as session:`, or `await session.close()` where it is created."
        }
        Pattern::SharedConnector => {
            "A connector was collected still pooling sockets and no session reported with it: one shared \
                 between sessions (connector_owner=False) and never closed, or one whose session was collected \
                 in the same sweep after it (a session whose connector is closed reports nothing: a library's \
                 client that owns both, such as discord.py's, left unclosed). Whoever creates it owns it: \
                 `await connector.close()` at shutdown, after the sessions using it; when a library built it \
                 (the line named beside the site), close that library's client (`await client.close()`)."
        }
        Pattern::UnreleasedConnection => {
            "A connection taken from the connector was never released, so its socket stayed open until GC. \
                 Call `conn.release()` (or `close()`) in a `finally:`, or let a session request manage it."
        }
        Pattern::UnreadResponse => {
            "A response was neither read nor released, so its connection stayed checked out until GC. Use \
                 `async with session.get(url) as resp:`, or `await resp.read()` / `resp.release()` on every path, \
                 errors included."
        }
        Pattern::AsyncioRunPerCall => {
            "Each call runs `asyncio.run()` and creates a session inside it that is never closed; the pooled \
                 sockets outlive the loop. Create and close the session inside the coroutine that asyncio.run \
                 runs (`async with aiohttp.ClientSession() as session:`), or keep one loop and one session for the \
                 whole program."
        }
        Pattern::SessionPerCall => {
            "A new ClientSession is created per call and never closed; each one's connector keeps its pooled \
                 sockets (file descriptors, connection slots at the server) until GC. Share one session per \
                 client: create it once (at startup), reuse it, and `await session.close()` at shutdown."
        }
    }
}

/// The fix for an audit verdict: the same text a report gives the runtime pattern the
/// verdict predicts, where there is one.
pub fn audit_fix(v: Verdict) -> &'static str {
    match v {
        Verdict::PerCall => advice(Pattern::SessionPerCall),
        Verdict::AsyncioRunPerCall => advice(Pattern::AsyncioRunPerCall),
        Verdict::SharedConnectorNeverClosed => advice(Pattern::SharedConnector),
        Verdict::CloseNotGuaranteed => {
            "It is closed on the success path only: an exception or early return before the close \
                 leaves it to GC with its pooled sockets. Close it on every path: `async with \
                 aiohttp.ClientSession() as session:`, or `try:` … `finally: await session.close()`."
        }
        Verdict::OwnedNeverClosed => {
            "Its owner keeps it but never closes it, so it lives until GC (at exit, or when the owner \
                 replaces it). Give the owner a close that awaits it (`async def close(self): await \
                 self._session.close()`, or `__aexit__`) and call it at shutdown; before replacing a \
                 live session, `await` the old one's `close()`."
        }
        Verdict::Ok => "Nothing to do: it is closed on every path.",
        Verdict::Transferred => {
            "Whoever receives it owns it now: check that they close it (audit that code too)."
        }
        Verdict::Unknown => {
            "Ownership is decided where the audit cannot see (the reason says what it would need). \
                 Read that code; once it is known to be closed, mark the line \
                 `# unclosed: ignore[unknown]`."
        }
    }
}
