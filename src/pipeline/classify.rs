//! Classify: label a finding `leak`, `noise` or `unknown` (docs/formats.md §4), and name the
//! mistake it shows ([`Pattern`]; what each means is said by the report).

use serde::Serialize;

use crate::pipeline::pair::Finding;
use crate::pipeline::parse::Kind;

/// What a finding means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    /// Connections were held until garbage collection: pooled by a connector, or held by an
    /// unread response or an unreleased connection.
    Leak,
    /// A session was collected unclosed but held nothing (its connector pooled no connection).
    Noise,
    /// The log does not say: a body is missing or cut off. Never guessed.
    Unknown,
}

impl Label {
    /// The name used in every output.
    pub fn name(self) -> &'static str {
        match self {
            Label::Leak => "leak",
            Label::Noise => "noise",
            Label::Unknown => "unknown",
        }
    }
}

/// A set of labels: the ones `filter` drops, the ones `check` fails on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Labels {
    /// `leak` is in the set.
    pub leak: bool,
    /// `noise` is in the set.
    pub noise: bool,
    /// `unknown` is in the set.
    pub unknown: bool,
}

impl Labels {
    /// No label.
    pub const NONE: Labels = Labels {
        leak: false,
        noise: false,
        unknown: false,
    };
    /// Every label.
    pub const ALL: Labels = Labels {
        leak: true,
        noise: true,
        unknown: true,
    };

    /// The set of one label.
    pub const fn only(label: Label) -> Labels {
        Labels {
            leak: matches!(label, Label::Leak),
            noise: matches!(label, Label::Noise),
            unknown: matches!(label, Label::Unknown),
        }
    }

    /// Whether `label` is in the set.
    pub fn contains(self, label: Label) -> bool {
        match label {
            Label::Leak => self.leak,
            Label::Noise => self.noise,
            Label::Unknown => self.unknown,
        }
    }

    /// Puts `label` in the set.
    pub fn insert(&mut self, label: Label) {
        match label {
            Label::Leak => self.leak = true,
            Label::Noise => self.noise = true,
            Label::Unknown => self.unknown = true,
        }
    }
}

/// Labels a finding from what its objects' blocks showed.
pub fn label(f: &Finding) -> Label {
    if let Some(c) = f.objects.iter().find(|o| o.kind == Kind::Connector) {
        return match c.pool {
            // A connector warns only when it pools something, but how much is what makes it
            // worth reading: a cut-off list still proves the entries it shows.
            Some(p) if p.connections > 0 => Label::Leak,
            _ => Label::Unknown,
        };
    }
    let decided = f.objects.iter().all(|o| o.complete);
    match f.objects.first().map(|o| o.kind) {
        Some(Kind::Response | Kind::Connection) if decided => Label::Leak,
        // A session parted from a connector that may be its own: not shown to hold nothing.
        Some(Kind::Session) if decided && !f.objects[0].parted => Label::Noise,
        _ => Label::Unknown,
    }
}

/// Whether part of a finding's evidence was cut off (a `connections:` value or a body).
pub fn truncated(f: &Finding) -> bool {
    f.objects
        .iter()
        .any(|o| (!o.complete && !o.bodyless) || o.trace_cut || o.pool.is_some_and(|p| !p.complete))
}

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
            // A connector its session built (its traceback passes through
            // `ClientSession.__init__`) is no shared one, though its session's block was not
            // read (pytest shows a passing test's records only in its warnings summary).
            _ if has(Kind::Connector)
                && !has(Kind::Session)
                && !f.objects.iter().any(|o| o.made_by_session()) =>
            {
                Pattern::SharedConnector
            }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::assemble::Frame;
    use crate::pipeline::pair::Object;
    use crate::pipeline::parse::{Pool, Trace};

    fn object(kind: Kind, complete: bool, pool: Option<Pool>) -> Object {
        Object {
            pool,
            complete,
            ..Object::of_kind(kind)
        }
    }

    fn pool(connections: u64, complete: bool) -> Option<Pool> {
        Some(Pool {
            connections,
            keys: 1,
            complete,
        })
    }

    #[test]
    fn session_with_pooling_connector_is_a_leak() {
        let f = Finding {
            objects: vec![
                object(Kind::Session, true, None),
                object(Kind::Connector, true, pool(3, true)),
            ],
        };
        assert_eq!(label(&f), Label::Leak);
        assert!(!truncated(&f));
    }

    #[test]
    fn lone_session_is_noise_and_bodyless_session_is_unknown() {
        assert_eq!(
            label(&Finding {
                objects: vec![object(Kind::Session, true, None)]
            }),
            Label::Noise
        );
        assert_eq!(
            label(&Finding {
                objects: vec![object(Kind::Session, false, None)]
            }),
            Label::Unknown
        );
    }

    #[test]
    fn a_session_parted_from_a_connector_is_unknown_not_noise() {
        let parted = Finding {
            objects: vec![Object {
                parted: true,
                ..object(Kind::Session, true, None)
            }],
        };
        assert_eq!(label(&parted), Label::Unknown);
        assert_eq!(Pattern::of(&parted, Label::Unknown), Pattern::Unknown);
        assert!(!truncated(&parted), "nothing was cut off");
    }

    #[test]
    fn connector_without_its_count_is_unknown() {
        let f = Finding {
            objects: vec![object(Kind::Connector, false, None)],
        };
        assert_eq!(label(&f), Label::Unknown);
        let cut = Finding {
            objects: vec![object(Kind::Connector, true, pool(0, false))],
        };
        assert_eq!(label(&cut), Label::Unknown);
        assert!(truncated(&cut));
    }

    #[test]
    fn cut_list_that_shows_entries_is_a_truncated_leak() {
        let f = Finding {
            objects: vec![object(Kind::Connector, true, pool(2, false))],
        };
        assert_eq!(label(&f), Label::Leak);
        assert!(truncated(&f));
    }

    #[test]
    fn response_and_connection_are_leaks() {
        for k in [Kind::Response, Kind::Connection] {
            assert_eq!(
                label(&Finding {
                    objects: vec![object(k, true, None)]
                }),
                Label::Leak
            );
            assert_eq!(
                label(&Finding {
                    objects: vec![object(k, false, None)]
                }),
                Label::Unknown
            );
        }
    }

    fn connector(frames: Vec<Frame>) -> Finding {
        Finding {
            objects: vec![Object {
                warned: true,
                pool: pool(1, true),
                frames,
                trace: Some(Trace::Source),
                ..Object::of_kind(Kind::Connector)
            }],
        }
    }

    #[test]
    fn a_lone_connector_its_session_built_is_not_a_shared_connector() {
        // The innermost frames of a connector printed at exit under pytest (tests/programs/
        // pytest_suite/test_sessions.py), its session's block shown only in pytest's summary.
        let test = "/app/tests/test_sessions.py";
        let run = "/usr/lib/python3.11/asyncio/runners.py";
        let mut frames = vec![
            Frame::at(test, 50, "test_five_sessions"),
            Frame::at(run, 190, "run"),
            Frame::at(test, 34, "fetch_and_drop"),
        ];
        let shared = connector(frames.clone());
        assert_eq!(
            Pattern::of(&shared, Label::Leak),
            Pattern::SharedConnector,
            "made in the application's own frame: shared"
        );
        frames.push(Frame::at(
            "/venv/lib/python3.11/site-packages/aiohttp/client.py",
            377,
            "__init__",
        ));
        let owned = connector(frames);
        assert_eq!(Pattern::of(&owned, Label::Leak), Pattern::AsyncioRunPerCall);
    }
}
