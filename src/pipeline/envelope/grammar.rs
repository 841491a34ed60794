//! Grammars: envelope formats as data (`grammars/*.toml`, embedded in the binary), each
//! checked against its own sample lines when it is loaded, and the choice of an input's
//! grammar from its first lines.

use regex::Regex;
use serde::Deserialize;

use super::Unwrapper;
use super::fields::json_fields;

/// The grammars shipped in `grammars/`, in the order they are tried (more specific first).
pub(super) const BUILTIN: [(&str, &str); 14] = [
    (
        "cri",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/grammars/cri.toml")),
    ),
    (
        "kubectl-prefix",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grammars/kubectl-prefix.toml"
        )),
    ),
    (
        "heroku",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/grammars/heroku.toml")),
    ),
    (
        "journald-short",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grammars/journald-short.toml"
        )),
    ),
    (
        "docker-timestamps",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grammars/docker-timestamps.toml"
        )),
    ),
    (
        "pm2",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/grammars/pm2.toml")),
    ),
    (
        "compose",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grammars/compose.toml"
        )),
    ),
    (
        "time-prefix",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grammars/time-prefix.toml"
        )),
    ),
    (
        "docker-json",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grammars/docker-json.toml"
        )),
    ),
    (
        "journald-json",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grammars/journald-json.toml"
        )),
    ),
    (
        "json-logger",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grammars/json-logger.toml"
        )),
    ),
    (
        "rich",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/grammars/rich.toml")),
    ),
    (
        "logging",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grammars/logging.toml"
        )),
    ),
    (
        "bare",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/grammars/bare.toml")),
    ),
];

/// Lines looked at to choose an input's grammar.
pub const DETECT_LINES: usize = 64;

/// Why a grammar could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GrammarError {
    /// The TOML did not describe a grammar.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A regex did not compile or lacks its `text` group.
    #[error("regex: {0}")]
    Regex(String),
    /// A sample line did not unwrap to its expected text.
    #[error("sample {index} does not match: {why}")]
    Sample {
        /// Which `[[sample]]`, from 1.
        index: usize,
        /// What differed.
        why: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    name: String,
    summary: String,
    /// `transport` (a container runtime, journald, a log drain) or `record` (a logger's
    /// format); a transport's text is read again for a record inside it.
    layer: Option<String>,
    kind: SpecKind,
    regex: Option<String>,
    partial: Option<String>,
    continuation: Option<String>,
    #[serde(default)]
    text: Vec<String>,
    #[serde(default)]
    stream: Vec<String>,
    #[serde(default)]
    time: Vec<String>,
    time_format: Option<String>,
    #[serde(default)]
    partial_without_newline: bool,
    #[serde(default)]
    sample: Vec<Sample>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum SpecKind {
    Raw,
    Prefix,
    Json,
}

/// A sample a grammar must read as stated.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Sample {
    line: Option<String>,
    #[serde(default)]
    lines: Vec<String>,
    text: Vec<String>,
    stream: Option<String>,
    ts: Option<String>,
}

/// How a grammar takes text out of a line.
#[derive(Debug, Clone)]
pub(super) enum Shape {
    /// The line is the text. An optional regex recognises record starts (for detection and
    /// timestamps) without stripping anything.
    Raw(Option<Regex>),
    /// A regex with a `text` group; `stream`, `ts` and `partial` groups when the format has them.
    Prefix {
        regex: Regex,
        partial: Option<String>,
        indent_continues: bool,
    },
    /// One JSON object per line.
    Json {
        text: Vec<String>,
        stream: Vec<String>,
        time: Vec<String>,
        epoch_micros: bool,
        partial_without_newline: bool,
    },
}

/// One envelope format.
#[derive(Debug, Clone)]
pub struct Grammar {
    /// Its name, as `--grammar` takes it.
    pub name: String,
    /// One line saying what it reads.
    pub summary: String,
    /// A transport wraps whatever the process wrote; its text is read again for a record
    /// layer (a JSON logger's object, another prefix).
    pub transport: bool,
    pub(super) shape: Shape,
    samples: Vec<Sample>,
}

impl Grammar {
    /// Reads a grammar from TOML and checks it against its samples.
    pub fn from_toml(src: &str) -> Result<Grammar, GrammarError> {
        let spec: Spec = toml::from_str(src)?;
        let regex = |r: &Option<String>| -> Result<Option<Regex>, GrammarError> {
            r.as_deref()
                .map(Regex::new)
                .transpose()
                .map_err(|e| GrammarError::Regex(e.to_string()))
        };
        let shape = match spec.kind {
            SpecKind::Raw => Shape::Raw(regex(&spec.regex)?),
            SpecKind::Prefix => {
                let regex = regex(&spec.regex)?
                    .ok_or_else(|| GrammarError::Regex("a prefix grammar needs `regex`".into()))?;
                if !regex.capture_names().any(|n| n == Some("text")) {
                    return Err(GrammarError::Regex("no `text` group".into()));
                }
                Shape::Prefix {
                    regex,
                    partial: spec.partial,
                    indent_continues: spec.continuation.as_deref() == Some("indent"),
                }
            }
            SpecKind::Json => {
                if spec.text.is_empty() {
                    return Err(GrammarError::Regex(
                        "a json grammar needs `text` fields".into(),
                    ));
                }
                Shape::Json {
                    text: spec.text,
                    stream: spec.stream,
                    time: spec.time,
                    epoch_micros: spec.time_format.as_deref() == Some("epoch-micros"),
                    partial_without_newline: spec.partial_without_newline,
                }
            }
        };
        let transport = match spec.layer.as_deref() {
            None | Some("record") => false,
            Some("transport") => true,
            Some(other) => {
                return Err(GrammarError::Regex(format!(
                    "layer `{other}`: expected `transport` or `record`"
                )));
            }
        };
        let g = Grammar {
            name: spec.name,
            summary: spec.summary,
            transport,
            shape,
            samples: spec.sample,
        };
        g.check()?;
        Ok(g)
    }

    /// The grammars shipped with the tool, in the order they are tried.
    pub fn builtin() -> Vec<Grammar> {
        BUILTIN
            .iter()
            .map(|(name, src)| {
                // A shipped grammar that fails its own samples is a build defect; the test
                // suite loads every one.
                Grammar::from_toml(src).unwrap_or_else(|e| panic!("grammars/{name}.toml: {e}"))
            })
            .collect()
    }

    /// Whether the grammar carries samples to be checked against.
    pub fn has_samples(&self) -> bool {
        !self.samples.is_empty()
    }

    /// Runs every sample through the grammar.
    pub fn check(&self) -> Result<(), GrammarError> {
        let set = [self.clone()];
        for (n, s) in self.samples.iter().enumerate() {
            let fail = |why: String| GrammarError::Sample { index: n + 1, why };
            let mut u = Unwrapper::new(&set, Some(0));
            let mut got = Vec::new();
            for (n, line) in s.line.iter().chain(&s.lines).enumerate() {
                u.unwrap(line, n as u64 + 1, &mut got);
            }
            u.finish(&mut got);
            let texts: Vec<&str> = got.iter().map(|l| l.text.as_str()).collect();
            if texts != s.text {
                return Err(fail(format!("text {texts:?}, expected {:?}", s.text)));
            }
            if let Some(stream) = &s.stream
                && got.iter().any(|l| &l.stream != stream)
            {
                return Err(fail(format!(
                    "stream {:?}, expected {stream:?}",
                    got[0].stream
                )));
            }
            let first = s.line.as_ref().or(s.lines.first());
            let ts = match &self.shape {
                Shape::Raw(Some(re)) => {
                    first.and_then(|l| re.captures(l)?.name("ts").map(|m| m.as_str().to_owned()))
                }
                _ => got.first().and_then(|l| l.ts.clone()),
            };
            if s.ts.is_some() && ts != s.ts {
                return Err(fail(format!("timestamp {ts:?}, expected {:?}", s.ts)));
            }
            if self.matches(first.map_or("", |l| l.as_str())) == Some(false) {
                return Err(fail("the detector does not recognise it".into()));
            }
        }
        Ok(())
    }

    /// Whether `line` is of this grammar, for detection; `None` for a grammar that reads
    /// anything (plain text).
    fn matches(&self, line: &str) -> Option<bool> {
        match &self.shape {
            Shape::Raw(None) => None,
            Shape::Raw(Some(re)) | Shape::Prefix { regex: re, .. } => Some(re.is_match(line)),
            Shape::Json { text, .. } => Some(json_fields(line, text).is_some()),
        }
    }

    /// Whether this grammar strips something from lines (so that a line it does not read
    /// should be tried with the others).
    pub(super) fn is_structured(&self) -> bool {
        !matches!(self.shape, Shape::Raw(_))
    }
}

/// Chooses the grammar that reads most of `lines`: a structured one that reads at least half
/// of the record starts, else a plain one whose record regex reads a quarter of them, else
/// plain text. Indented lines continue a record in several formats, so they are not counted.
/// Returns an index into `grammars`.
pub fn detect<'a>(grammars: &[Grammar], lines: impl IntoIterator<Item = &'a str>) -> usize {
    let lines: Vec<&str> = lines
        .into_iter()
        .filter(|l| !l.trim().is_empty() && !l.starts_with([' ', '\t']))
        .take(DETECT_LINES)
        .collect();
    let fallback = grammars
        .iter()
        .position(|g| g.name == "bare")
        .unwrap_or(grammars.len().saturating_sub(1));
    let score = |g: &Grammar| lines.iter().filter(|l| g.matches(l) == Some(true)).count();
    let best = |structured: bool, share: usize| {
        let mut best = (0usize, None);
        for (i, g) in grammars.iter().enumerate() {
            if g.is_structured() != structured {
                continue;
            }
            let n = score(g);
            if n > best.0 && n * share >= lines.len() {
                best = (n, Some(i));
            }
        }
        best.1
    };
    best(true, 2).or_else(|| best(false, 4)).unwrap_or(fallback)
}
