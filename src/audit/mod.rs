//! The static half: the source of one Python file in, every construction of an aiohttp
//! session, connector or `aiohttp.request(…)` out, each with who owns it and whether that
//! owner closes it. Pure like the pipeline: bytes in, values out, no I/O.
//!
//! `names` says which names in the file are aiohttp's (imports, aliases, local subclasses);
//! `owner` follows each constructed object to where it ends (a `with`, a local, an
//! attribute, a return …) and decides the [`Verdict`].

mod names;
mod owner;
mod syntax;

use serde::Serialize;

/// What a construction builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Constructs {
    /// `aiohttp.ClientSession` (or a subclass of it in the same file).
    ClientSession,
    /// `aiohttp.TCPConnector`.
    TCPConnector,
    /// `aiohttp.UnixConnector`.
    UnixConnector,
    /// `aiohttp.NamedPipeConnector`.
    NamedPipeConnector,
    /// `aiohttp.request(…)`: a session made and closed by its context manager.
    #[serde(rename = "request")]
    Request,
}

impl Constructs {
    /// The name the JSON contract uses.
    pub fn name(self) -> &'static str {
        match self {
            Constructs::ClientSession => "ClientSession",
            Constructs::TCPConnector => "TCPConnector",
            Constructs::UnixConnector => "UnixConnector",
            Constructs::NamedPipeConnector => "NamedPipeConnector",
            Constructs::Request => "request",
        }
    }

    /// Whether it is a connector (whose `close()` closes at once, awaited or not).
    pub fn is_connector(self) -> bool {
        matches!(
            self,
            Constructs::TCPConnector | Constructs::UnixConnector | Constructs::NamedPipeConnector
        )
    }
}

/// Who owns a construction and whether it is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Made for one call, never closed, not returned, not stored (LiteLLM #13251's shape).
    PerCall,
    /// Closed on the success path only: an exception or early return skips the close.
    CloseNotGuaranteed,
    /// Stored on an object, a module or a cache whose owner never closes it, or replaced
    /// without closing the old one.
    OwnedNeverClosed,
    /// A sync function runs a new event loop per call whose coroutine makes a session it
    /// does not close inside that loop (LiteLLM #11657's shape).
    AsyncioRunPerCall,
    /// A connector shared with `connector_owner=False` that nobody closes.
    SharedConnectorNeverClosed,
    /// Closed by `async with`, in `finally`, or by its owner's close.
    Ok,
    /// Returned or handed to a caller or object that owns it.
    Transferred,
    /// Ownership is decided where the audit cannot see; the reason says what it would need.
    Unknown,
}

/// Every verdict, bugs first, in the order totals list them.
pub const VERDICTS: [Verdict; 8] = [
    Verdict::PerCall,
    Verdict::CloseNotGuaranteed,
    Verdict::OwnedNeverClosed,
    Verdict::AsyncioRunPerCall,
    Verdict::SharedConnectorNeverClosed,
    Verdict::Ok,
    Verdict::Transferred,
    Verdict::Unknown,
];

impl Verdict {
    /// The name the JSON contract, the text output and suppressions use.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::PerCall => "per_call",
            Verdict::CloseNotGuaranteed => "close_not_guaranteed",
            Verdict::OwnedNeverClosed => "owned_never_closed",
            Verdict::AsyncioRunPerCall => "asyncio_run_per_call",
            Verdict::SharedConnectorNeverClosed => "shared_connector_never_closed",
            Verdict::Ok => "ok",
            Verdict::Transferred => "transferred",
            Verdict::Unknown => "unknown",
        }
    }

    /// The verdict of this name.
    pub fn from_name(name: &str) -> Option<Verdict> {
        VERDICTS.into_iter().find(|v| v.name() == name)
    }

    /// Whether it is a bug in the source (the rest are fine or undecided).
    pub fn is_bug(self) -> bool {
        !matches!(self, Verdict::Ok | Verdict::Transferred | Verdict::Unknown)
    }

    /// How bad, for combining several paths: the worst wins.
    fn rank(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Transferred => 1,
            Verdict::Unknown => 2,
            Verdict::CloseNotGuaranteed => 3,
            Verdict::SharedConnectorNeverClosed => 4,
            Verdict::OwnedNeverClosed => 5,
            Verdict::PerCall => 6,
            Verdict::AsyncioRunPerCall => 7,
        }
    }
}

/// One construction and what the audit decided about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Construction {
    /// 1-based line of the constructor's name (where Python's traceback points).
    pub line: u32,
    /// 1-based column of the constructor's name, in characters.
    pub column: u32,
    /// What it builds.
    pub constructs: Constructs,
    /// The verdict.
    pub verdict: Verdict,
    /// Who owns it, e.g. `local in fetch_price`, `attribute self._session of Provider`.
    pub owner: String,
    /// Why the verdict: the lines that decided it, or for `unknown` what it would need.
    pub why: String,
    /// The function or method it is made in (`Class.method`), if any: a log's frame names it.
    pub function: Option<String>,
    /// An inline `# unclosed: ignore[…]` comment on its line accepts its verdict.
    #[serde(skip)]
    pub suppressed: bool,
    /// The source line of the constructor's name, trimmed (for the fingerprint).
    #[serde(skip)]
    pub code: String,
    /// What another file would decide, when it is a factory handed to a class imported
    /// from another module.
    #[serde(skip)]
    pub need: Option<Need>,
    /// For a connector made inline as a session's `connector=`: that session's line (a log
    /// finding shows the pair at the session's line).
    #[serde(skip)]
    pub session_line: Option<u32>,
    /// Lines of this file's calls into the function that makes it: a log's call site may
    /// be the caller's line (a helper that returns a new session).
    #[serde(skip)]
    pub called_from: Vec<u32>,
}

impl Construction {
    /// A fingerprint that survives moved lines and other checkouts but not a change of the
    /// code, the function or the verdict: 16 hex digits of FNV-1a (as `check`'s baselines).
    pub fn fingerprint(&self, path: &str) -> String {
        let path = path.trim_start_matches("./");
        let key = format!(
            "audit\0{path}\0{}\0{}\0{}\0{}",
            self.function.as_deref().unwrap_or(""),
            self.constructs.name(),
            self.verdict.name(),
            self.code
        );
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

/// A factory handed to a class of another module: where to look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    /// The module the class is imported from (`pkg.mod`, or `.mod` relative).
    pub module: String,
    /// The class.
    pub class: String,
    /// The keyword the factory is passed as.
    pub keyword: Option<String>,
    /// Or its position among the positional arguments.
    pub position: Option<usize>,
    /// Set for the connector made inside the factory's session: that session's line.
    pub connector_of: Option<u32>,
}

/// A class that keeps a factory given to `__init__` and calls it into an attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Factory {
    /// The class.
    pub class: String,
    /// The parameter of `__init__` (after `self`).
    pub param: String,
    /// Its position (after `self`).
    pub index: usize,
    /// What happens to what the factory makes.
    pub verdict: Verdict,
    /// Its owner there.
    pub owner: String,
    /// Why.
    pub why: String,
    /// The line that stores what the factory made (the worst one).
    pub line: u32,
}

/// What one file gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileAudit {
    /// Every construction, in source order.
    pub constructions: Vec<Construction>,
    /// Classes keeping a factory they are given (read by other files' constructions).
    pub factories: Vec<Factory>,
    /// Where the file has a syntax error (1-based line, column), if it has one: the parser
    /// reads past it, and constructions in a function holding it are `unknown`.
    pub syntax_error: Option<(u32, u32)>,
    /// Whether the file was parsed at all (one that never names aiohttp is not).
    pub parsed: bool,
}

/// Why a file could not be audited.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    /// The parser gave up (it has a budget, so a pathological file cannot hang the walk).
    #[error("the Python parser gave up on this file")]
    Unparsed,
}

/// Whether the file can construct anything, by its bytes alone: every spelling needs an
/// import naming aiohttp, and either a constructor's name (a subclass and an alias name it
/// too) or, for `aiohttp.request`, `request` with an import it can come through. Most
/// files that name aiohttp (type hints, `aiohttp.web` handlers) are not parsed.
fn may_construct(src: &[u8]) -> bool {
    let has = |needle: &[u8]| memchr::memmem::find(src, needle).is_some();
    if !has(b"aiohttp") {
        return false;
    }
    if has(b"ClientSession") || has(b"Connector") {
        return true;
    }
    has(b"request")
        && (has(b"aiohttp.request")
            || has(b"aiohttp.client.request")
            || has(b"from aiohttp")
            || has(b"import aiohttp.")
            || has(b"import aiohttp as"))
}

/// Audits the source of one Python file.
pub fn audit_source(src: &[u8]) -> Result<FileAudit, AuditError> {
    if !may_construct(src) {
        return Ok(FileAudit::default());
    }
    let tree = syntax::parse(src).ok_or(AuditError::Unparsed)?;
    let file = syntax::Source::new(src, &tree);
    let names = names::Names::read(&file);
    let mut constructions = owner::decide(&file, &names);
    constructions.sort_by_key(|c| (c.line, c.column));
    Ok(FileAudit {
        constructions,
        factories: owner::factories(&file, &names),
        syntax_error: file.first_error(),
        parsed: true,
    })
}

/// Decides, across the audited files, the factories handed to a class of another of them
/// (LiteLLM hands `lambda: ClientSession(…)` to a transport class in another module): a
/// construction whose [`Need`] names a module found among `files` (by path: `pkg/mod.py`
/// or `pkg/mod/__init__.py`, relative imports from the importing file's directory) and a
/// class there that keeps the factory takes that class's verdict. Files are `(path, audit)`.
pub fn resolve_across(files: &mut [(String, FileAudit)]) {
    let mut updates = Vec::new();
    for (fi, (path, audit)) in files.iter().enumerate() {
        for (ci, c) in audit.constructions.iter().enumerate() {
            let Some(need) = &c.need else { continue };
            let Some((target, factory)) = files.iter().find_map(|(p, a)| {
                if !module_is(p, path, &need.module) {
                    return None;
                }
                a.factories
                    .iter()
                    .find(|f| {
                        f.class == need.class
                            && (need.keyword.as_deref() == Some(f.param.as_str())
                                || need.position == Some(f.index))
                    })
                    .map(|f| (p.clone(), f.clone()))
            }) else {
                continue;
            };
            let short = target
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or(&target)
                .to_owned();
            let (owner, why) = match need.connector_of {
                None => (
                    format!(
                        "factory handed to {} ({short}), then {}",
                        need.class, factory.owner
                    ),
                    format!(
                        "made by a factory that {} keeps and calls ({short}:{}): {}",
                        need.class, factory.line, factory.why
                    ),
                ),
                Some(line) => (
                    format!(
                        "connector of the session at line {line}, made by a factory handed to {} ({short})",
                        need.class
                    ),
                    format!(
                        "closed with its session (connector_owner defaults to True); the session is \
                         made by a factory that {} keeps and calls ({short}:{}): {}",
                        need.class, factory.line, factory.why
                    ),
                ),
            };
            updates.push((fi, ci, factory.verdict, owner, why));
        }
    }
    for (fi, ci, verdict, owner, why) in updates {
        let c = &mut files[fi].1.constructions[ci];
        c.verdict = verdict;
        c.owner = owner;
        c.why = why;
    }
}

/// Whether the file at `path` is module `module` as imported from the file at `from`.
fn module_is(path: &str, from: &str, module: &str) -> bool {
    let path = path.replace('\\', "/");
    let (base, dotted) = match module.find(|c| c != '.') {
        Some(0) => (String::new(), module),
        Some(dots) => {
            // `.mod` is beside the importing file; each further dot one directory up.
            let mut dir: Vec<&str> = from.split(['/', '\\']).collect();
            dir.pop();
            for _ in 1..dots {
                dir.pop();
            }
            (format!("{}/", dir.join("/")), &module[dots..])
        }
        None => return false,
    };
    let rel = dotted.replace('.', "/");
    let ends = |suffix: &str| {
        let want = format!("{base}{suffix}");
        if base.is_empty() {
            path == want || path.ends_with(&format!("/{want}"))
        } else {
            path == want
        }
    };
    ends(&format!("{rel}.py")) || ends(&format!("{rel}/__init__.py"))
}

#[cfg(test)]
mod tests;
