//! The JSON outputs: the summary object (`--format json`, the NDJSON summary line), a finding
//! per NDJSON line, and `check --format json` with its verdict. The shape is [`SCHEMA`].

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Value, json};

use crate::gate::policy::Verdict;
use crate::pipeline::group::{Counts, Related, Summary, Triaged, Via};
use crate::pipeline::kube::Pod;
use crate::report::render::{InputReport, SCHEMA, SITE_HINT, location};

/// `totals` in the JSON summary.
#[derive(Serialize)]
struct TotalsJson {
    #[serde(flatten)]
    counts: Counts,
    #[serde(flatten)]
    related: Related,
    truncated: u64,
    parted: u64,
    unread_mentions: u64,
}

/// One entry of `sites`, borrowing from the summary.
#[derive(Serialize)]
struct SiteJson<'a> {
    site: Option<String>,
    file: Option<&'a str>,
    line: Option<u32>,
    function: Option<&'a str>,
    code: Option<&'a str>,
    outer: Option<String>,
    created_in: Option<String>,
    created_in_function: Option<&'a str>,
    label: &'static str,
    #[serde(flatten)]
    counts: Counts,
    first_seen: Option<&'a str>,
    last_seen: Option<&'a str>,
    first_at: String,
    fingerprint: String,
    pattern: &'static str,
    parts: &'a [String],
}

#[derive(Serialize)]
struct UnawaitedJson<'a> {
    file: &'a str,
    line: u32,
    count: u64,
}

#[derive(Serialize)]
struct InputJson<'a> {
    name: &'a str,
    grammar: &'a str,
    lines: u64,
    bytes: u64,
    cut_lines: u64,
    unread_mentions: u64,
    first_unread: Option<String>,
}

/// The `unclosed/2` JSON object, serialized straight from the summary (no value tree: a
/// report of 10,000 sites costs little more than the summary itself).
#[derive(Serialize)]
pub struct SummaryJson<'a> {
    /// `"summary"` as the last line of NDJSON output; absent in `--format json`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    schema: &'static str,
    totals: TotalsJson,
    sites: Vec<SiteJson<'a>>,
    overflow: Option<Counts>,
    unawaited_closes: Vec<UnawaitedJson<'a>>,
    hint: Option<&'static str>,
    notes: &'a [String],
    inputs: Vec<InputJson<'a>>,
}

/// The summary as the `unclosed/2` JSON object; `ndjson` adds `"type": "summary"` first.
pub fn summary_json<'a>(
    s: &'a Summary,
    inputs: &'a [InputReport],
    ndjson: bool,
) -> SummaryJson<'a> {
    SummaryJson {
        kind: ndjson.then_some("summary"),
        schema: SCHEMA,
        totals: TotalsJson {
            counts: s.totals,
            related: s.related,
            truncated: s.truncated,
            parted: s.parted,
            unread_mentions: s.unread_mentions,
        },
        sites: s
            .sites()
            .into_iter()
            .map(|x| {
                let site = x.site.as_ref();
                SiteJson {
                    site: site.map(|x| x.key()),
                    file: site.map(|x| &*x.file),
                    line: site.map(|x| x.line),
                    function: site.and_then(|x| x.function.as_deref()),
                    code: site.and_then(|x| x.code.as_deref()),
                    outer: site.and_then(|x| x.outer.as_ref()).map(Via::key),
                    created_in: site.and_then(|x| x.created_in.as_ref()).map(|v| v.key()),
                    created_in_function: site
                        .and_then(|x| x.created_in.as_ref())
                        .and_then(|v| v.function.as_deref()),
                    label: x.label(),
                    counts: x.counts,
                    first_seen: x.first_seen.as_deref(),
                    last_seen: x.last_seen.as_deref(),
                    first_at: location(inputs, x.first_at.0, x.first_at.1),
                    fingerprint: x.fingerprint(),
                    pattern: x.pattern.name(),
                    parts: &x.parts,
                }
            })
            .collect(),
        overflow: (s.overflow.findings > 0).then_some(s.overflow),
        unawaited_closes: s
            .unawaited
            .iter()
            .map(|((file, line), count)| UnawaitedJson {
                file,
                line: *line,
                count: *count,
            })
            .collect(),
        hint: s.needs_site_hint().then_some(SITE_HINT),
        notes: &s.notes,
        inputs: inputs
            .iter()
            .map(|i| InputJson {
                name: &i.name,
                grammar: &i.grammar,
                lines: i.stats.lines,
                bytes: i.stats.bytes,
                cut_lines: i.cut_lines,
                unread_mentions: i.stats.unread_mentions,
                first_unread: i.stats.first_unread.map(|n| format!("{}:{n}", i.name)),
            })
            .collect(),
    }
}

/// `verdict` in `check --format json`.
#[derive(Serialize)]
struct VerdictJson<'a> {
    failed: bool,
    reasons: &'a [String],
    failing_sites: Vec<&'a str>,
    baselined_sites: Vec<&'a str>,
    stale_baseline_entries: &'a [String],
    new_pooled_connections: u64,
}

/// `check --format json`: the summary with the verdict.
#[derive(Serialize)]
pub struct CheckJson<'a> {
    #[serde(flatten)]
    summary: SummaryJson<'a>,
    verdict: VerdictJson<'a>,
}

/// The summary and the policy's verdict as one JSON object.
pub fn check_json<'a>(
    s: &'a Summary,
    inputs: &'a [InputReport],
    v: &'a Verdict<'a>,
) -> CheckJson<'a> {
    CheckJson {
        summary: summary_json(s, inputs, false),
        verdict: VerdictJson {
            failed: v.failed(),
            reasons: &v.reasons,
            failing_sites: v
                .sites
                .iter()
                .filter(|x| x.fails)
                .map(|x| x.fingerprint.as_str())
                .collect(),
            baselined_sites: v
                .sites
                .iter()
                .filter(|x| x.baselined)
                .map(|x| x.fingerprint.as_str())
                .collect(),
            stale_baseline_entries: &v.stale,
            new_pooled_connections: v.new_pooled,
        },
    }
}

/// One finding as an NDJSON object (`{"type":"finding",…}`).
pub fn finding_json(t: &Triaged, inputs: &[InputReport]) -> Value {
    let site = t.site.as_ref();
    let input = inputs.get(t.input).map(|i| &i.name);
    // An input named as the kubelet names its files says which pod wrote it.
    let pod = input.and_then(|i| Pod::of_path(i));
    json!({
        "type": "finding",
        "label": t.label.name(),
        "sessions": t.sessions,
        "connectors": t.connectors,
        "responses": t.responses,
        "connections": t.connections,
        "pooled_connections": t.pooled_connections,
        "truncated": t.truncated,
        "parted": t.parted,
        "site": site.map(|x| x.key()),
        "file": site.map(|x| &x.file),
        "line": site.map(|x| x.line),
        "function": site.and_then(|x| x.function.as_ref()),
        "created_in": site.and_then(|x| x.created_in.as_ref()).map(|v| v.key()),
        "created_in_function": site
            .and_then(|x| x.created_in.as_ref())
            .and_then(|v| v.function.as_ref()),
        "input": input,
        "input_line": t.line,
        "ts": t.ts,
        "namespace": pod.as_ref().map(|p| &p.namespace),
        "pod": pod.as_ref().map(|p| &p.pod),
        "container": pod.as_ref().map(|p| &p.container),
    })
}

/// Writes one JSON value on its own line.
pub fn write_json_line(w: &mut dyn Write, v: &Value) -> io::Result<()> {
    serde_json::to_writer(&mut *w, v)?;
    w.write_all(b"\n")
}
