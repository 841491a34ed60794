//! Explain: what each pattern of findings means and the fix that fits it. The texts live
//! here and nowhere else; every report takes them from [`Pattern::explain`].

use serde::Serialize;

use crate::pipeline::classify::Label;
use crate::pipeline::pair::Finding;
use crate::pipeline::parse::Kind;

/// The mistake a finding shows, most severe last (so `max` keeps the worst).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// The log does not say enough.
    #[default]
    Unknown,
    /// A session collected unclosed that held nothing.
    IdleSession,
    /// A shared connector (`connector_owner=False`) never closed.
    SharedConnector,
    /// A connection taken from a connector and never released.
    UnreleasedConnection,
    /// A response never read or released.
    UnreadResponse,
    /// A session created inside a coroutine that `asyncio.run()` runs per call.
    AsyncioRunPerCall,
    /// A session created per call (per request, per task) and never closed.
    SessionPerCall,
}

impl Pattern {
    /// Reads the pattern off a finding's objects.
    pub fn of(f: &Finding, label: Label) -> Pattern {
        let has = |k: Kind| f.objects.iter().any(|o| o.kind == k);
        // Every asyncio program runs under asyncio.run(); calling it per call means it is
        // called from an ordinary function (a request handler, a test), not the module's
        // top level or `main`.
        let under_asyncio_run = f.objects.iter().any(|o| {
            o.frames.windows(2).any(|w| {
                (w[1].path.ends_with("/asyncio/runners.py")
                    || w[1].path.ends_with("\\asyncio\\runners.py"))
                    && w[1].function.as_deref() == Some("run")
                    && !matches!(
                        w[0].function.as_deref(),
                        None | Some(
                            "<module>" | "main" | "_run_code" | "run" | "serve" | "start" | "cli"
                        )
                    )
                    && !w[0].path.contains("-packages/")
            })
        });
        match label {
            Label::Unknown => Pattern::Unknown,
            _ if has(Kind::Response) => Pattern::UnreadResponse,
            _ if has(Kind::Connection) => Pattern::UnreleasedConnection,
            _ if has(Kind::Connector) && !has(Kind::Session) => Pattern::SharedConnector,
            Label::Leak if under_asyncio_run => Pattern::AsyncioRunPerCall,
            Label::Leak => Pattern::SessionPerCall,
            Label::Noise => Pattern::IdleSession,
        }
    }

    /// A short name, for JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Unknown => "unknown",
            Pattern::IdleSession => "idle session",
            Pattern::SharedConnector => "shared connector never closed",
            Pattern::UnreleasedConnection => "connection never released",
            Pattern::UnreadResponse => "response never read or released",
            Pattern::AsyncioRunPerCall => "asyncio.run() per call",
            Pattern::SessionPerCall => "one session per call",
        }
    }

    /// What it means and how to fix it.
    pub fn explain(self) -> &'static str {
        match self {
            Pattern::Unknown => {
                "The log does not show what these objects held (a block cut off or printed without its body). \
                 Run with `unclosed run` to get complete blocks with call sites."
            }
            Pattern::IdleSession => {
                "A ClientSession was garbage-collected without close(), but its connector held no socket: harmless \
                 now, a leak as soon as it makes requests with keep-alive. Close it: `async with \
                 aiohttp.ClientSession() as session:`, or `await session.close()` where it is created."
            }
            Pattern::SharedConnector => {
                "A connector shared between sessions (connector_owner=False) was collected still pooling sockets. \
                 Whoever creates it owns it: `await connector.close()` at shutdown, after the sessions using it."
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
}
