//! CI reports: Markdown for `$GITHUB_STEP_SUMMARY`, JUnit XML, GitHub workflow annotations.
//!
//! Each escapes log text by its own format's rules, so a path or source line from a log can
//! neither break the document nor inject a workflow command.

use crate::gate::policy::{SiteVerdict, Verdict, describe};
use crate::pipeline::escape::terminal;
use crate::pipeline::group::Summary;
use crate::pipeline::python::normal_path;
use crate::report::InputReport;
use crate::report::explain::advice;

/// GitHub shows at most this many annotations of one level per step; more are dropped.
pub const GITHUB_ANNOTATIONS_PER_LEVEL: usize = 10;
/// `$GITHUB_STEP_SUMMARY` takes at most 1 MiB; the report stays well under it.
pub const MARKDOWN_MAX: usize = 900 * 1024;

/// Text made inert in Markdown (and the HTML it may contain): control characters as
/// visible escapes, and every character Markdown or HTML gives a meaning as an entity.
pub fn markdown_text(s: &str) -> String {
    inert(s, |c, out| match c {
        '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '!' | '(' | ')' | '{' | '}'
        | '"' | '\'' | '$' | '@' | ':' | '+' | '-' | '=' => {
            out.push_str(&format!("&#{};", c as u32))
        }
        c => out.push(c),
    })
}

/// `s` with control characters made visible ([`terminal`]), `&`, `<` and `>` as entities, and
/// every other character written by `rest`.
fn inert(s: &str, rest: impl Fn(char, &mut String)) -> String {
    let mut out = String::with_capacity(s.len());
    for c in terminal(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => rest(c, &mut out),
        }
    }
    out
}

fn site_cell(v: &SiteVerdict<'_>) -> String {
    match &v.site.site {
        Some(s) => {
            let f = s
                .function
                .as_deref()
                .map(|f| format!(" in {}", markdown_text(f)))
                .unwrap_or_default();
            format!("{}:{}{f}", markdown_text(&normal_path(&s.file)), s.line)
        }
        None => "(no call site in the log)".to_string(),
    }
}

fn status(v: &SiteVerdict<'_>) -> &'static str {
    match (v.fails, v.baselined) {
        (true, _) => "❌ fails",
        (false, true) => "baseline",
        (false, false) => "ok",
    }
}

/// The Markdown report: verdict, one row per site, what each pattern means, stale baseline entries.
pub fn markdown(v: &Verdict<'_>, s: &Summary, inputs: &[InputReport]) -> String {
    let t = &s.totals;
    let mut out = String::new();
    out.push_str("## unclosed: aiohttp garbage-collection warnings\n\n");
    if v.failed() {
        out.push_str(&format!(
            "**Failed**: {}.\n\n",
            markdown_text(&v.reasons.join("; "))
        ));
    } else {
        out.push_str("**Passed**.\n\n");
    }
    out.push_str(&format!(
        "{} findings in {} lines: {} leak holding {} pooled connections, {} noise, {} unknown.\n\n",
        t.findings,
        inputs.iter().map(|i| i.stats.lines).sum::<u64>(),
        t.leak,
        t.pooled_connections,
        t.noise,
        t.unknown
    ));
    if !v.sites.is_empty() {
        out.push_str("| Status | Call site | Label | Findings | Pooled | Pattern |\n|---|---|---|---:|---:|---|\n");
        let mut shown = 0;
        for x in &v.sites {
            let row = format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                status(x),
                site_cell(x),
                x.site.label(),
                x.site.counts.findings,
                x.site.counts.pooled_connections,
                x.site.pattern.name()
            );
            if out.len() + row.len() > MARKDOWN_MAX / 2 {
                break;
            }
            out.push_str(&row);
            shown += 1;
        }
        if shown < v.sites.len() {
            out.push_str(&format!(
                "\n…and {} more call sites (see the JSON report).\n",
                v.sites.len() - shown
            ));
        }
        out.push_str("\n### What to do\n\n");
        let mut patterns: Vec<_> = v
            .sites
            .iter()
            .filter(|x| x.fails || !x.baselined)
            .map(|x| x.site.pattern)
            .collect();
        patterns.sort();
        patterns.dedup();
        for p in patterns.into_iter().rev() {
            // Our own text, its code spans meant as such: not escaped.
            out.push_str(&format!("- **{}**: {}\n", p.name(), advice(p)));
        }
    }
    if !v.stale.is_empty() {
        out.push_str(&format!(
            "\n{} baseline entries no longer occur; `unclosed check --write-baseline` drops them.\n",
            v.stale.len()
        ));
    }
    if s.needs_site_hint() {
        out.push_str(&format!("\n{}\n", markdown_text(crate::report::SITE_HINT)));
    }
    for note in &s.notes {
        out.push_str(&format!("\n{}\n", markdown_text(note)));
    }
    if out.len() > MARKDOWN_MAX {
        let mut end = MARKDOWN_MAX;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push_str("\n\n(report cut to fit the step summary)\n");
    }
    out
}

/// Text fit for XML 1.0 character data and attributes.
pub fn xml_text(s: &str) -> String {
    // Control characters are not allowed in XML 1.0 even escaped: made visible first.
    inert(s, |c, out| match c {
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&apos;"),
        // Not even a character reference may name these (XML 1.0's `Char`).
        '\u{FFFE}' | '\u{FFFF}' => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        c => out.push(c),
    })
}

/// JUnit XML: one test case per call site, failed when the site breaks the policy.
pub fn junit(v: &Verdict<'_>) -> String {
    let failures = v.sites.iter().filter(|x| x.fails).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"unclosed\" tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"unclosed\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n",
        v.sites.len().max(1),
        v.sites.len().max(1)
    ));
    for x in &v.sites {
        let name = match &x.site.site {
            Some(s) => format!("{}:{}", normal_path(&s.file), s.line),
            None => "no call site".to_string(),
        };
        let file = x.site.site.as_ref().map(|s| &*s.file).unwrap_or("");
        out.push_str(&format!(
            "    <testcase classname=\"unclosed.{}\" name=\"{}\" file=\"{}\">\n",
            xml_text(x.site.label()),
            xml_text(&name),
            xml_text(file)
        ));
        if x.fails {
            out.push_str(&format!(
                "      <failure message=\"{}\" type=\"{}\">{}\n{}</failure>\n",
                xml_text(&describe(x.site)),
                xml_text(x.site.label()),
                xml_text(&describe(x.site)),
                xml_text(advice(x.site.pattern))
            ));
        } else if x.baselined {
            out.push_str("      <system-out>accepted by the baseline</system-out>\n");
        }
        out.push_str("    </testcase>\n");
    }
    if v.sites.is_empty() {
        // CI systems show a suite without cases as broken or missing.
        out.push_str(
            "    <testcase classname=\"unclosed\" name=\"no unclosed sessions or connectors\"/>\n",
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escapes a workflow command's message (GitHub's toolkit `escapeData`).
pub fn github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property (`escapeProperty`): also `:` and `,`.
pub fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub workflow annotations, worst sites first: errors for sites that fail the policy,
/// warnings for other sites outside the baseline, at most [`GITHUB_ANNOTATIONS_PER_LEVEL`]
/// each. Paths under `workspace` (`$GITHUB_WORKSPACE`) are made relative so they attach to
/// the file in the pull request.
pub fn github(v: &Verdict<'_>, workspace: Option<&str>) -> String {
    let mut out = String::new();
    let mut counts = [0usize; 2];
    let mut dropped = 0;
    for x in &v.sites {
        let level = match (x.fails, x.baselined) {
            (true, _) => 0,
            (false, false) => 1,
            (false, true) => continue,
        };
        if counts[level] >= GITHUB_ANNOTATIONS_PER_LEVEL {
            dropped += 1;
            continue;
        }
        counts[level] += 1;
        let mut props = vec![format!(
            "title={}",
            github_property(&format!(
                "unclosed: {} ({})",
                x.site.label(),
                x.site.pattern.name()
            ))
        )];
        if let Some(s) = &x.site.site {
            let file = workspace
                .and_then(|w| s.file.strip_prefix(w))
                .map(|f| f.trim_start_matches('/'))
                .unwrap_or(&s.file);
            props.insert(
                0,
                format!("file={},line={}", github_property(&terminal(file)), s.line),
            );
        }
        let msg = format!("{}. {}", describe(x.site), advice(x.site.pattern));
        out.push_str(&format!(
            "::{} {}::{}\n",
            if level == 0 { "error" } else { "warning" },
            props.join(","),
            github_data(&terminal(&msg))
        ));
    }
    if dropped > 0 {
        out.push_str(&format!("::notice title=unclosed::{dropped} more call sites: see the step summary or the JSON report\n"));
    }
    out
}

/// The base a relative SARIF location is resolved against: the repository's root.
const SRCROOT: &str = "%SRCROOT%";

/// Bytes a path keeps as they are in a URI: unreserved characters and the separator.
const URI_PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// A path as a URI path: separators made `/`, everything else that is not unreserved
/// percent-encoded (UTF-8), a Windows drive's colon kept.
fn uri_path(path: &str) -> String {
    let slashed = path.replace('\\', "/");
    let (drive, rest) = match slashed.as_bytes() {
        [d, b':', b'/', ..] if d.is_ascii_alphabetic() => slashed.split_at(2),
        _ => ("", slashed.as_str()),
    };
    format!(
        "{drive}{}",
        percent_encoding::utf8_percent_encode(rest, URI_PATH)
    )
}

/// Whether `path` is absolute, on Unix or Windows.
fn is_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with('/') || matches!(b, [d, b':', b'/' | b'\\', ..] if d.is_ascii_alphabetic())
}

/// A SARIF `artifactLocation` for a path from a log: relative to the repository root
/// (`%SRCROOT%`) when it is under `workspace` or relative already, a `file://` URI otherwise.
pub(crate) fn artifact_location(path: &str, workspace: Option<&str>) -> serde_json::Value {
    use serde_json::json;
    if let Some(rel) = workspace
        .map(|w| w.trim_end_matches('/'))
        .filter(|w| !w.is_empty())
        .and_then(|w| path.strip_prefix(w))
        .and_then(|r| r.strip_prefix('/'))
    {
        return json!({"uri": uri_path(rel), "uriBaseId": SRCROOT});
    }
    if is_absolute(path) {
        let p = uri_path(path);
        let sep = if p.starts_with('/') { "" } else { "/" };
        return json!({"uri": format!("file://{sep}{p}")});
    }
    json!({"uri": uri_path(path.trim_start_matches("./")), "uriBaseId": SRCROOT})
}

/// SARIF 2.1.0 (code-scanning upload): one result per call site outside the baseline, an
/// error when it breaks the policy, a warning otherwise; one rule per pattern, whose help is
/// the pattern's explanation. Every result has a location, as GitHub requires: the call site,
/// or, for findings without one, the log file and line where the first was seen. Paths are
/// URIs (`uri_path`); serde_json escapes the log text.
pub fn sarif(
    v: &Verdict<'_>,
    inputs: &[InputReport],
    workspace: Option<&str>,
) -> serde_json::Value {
    use serde_json::json;
    let mut patterns: Vec<_> = v.sites.iter().map(|x| x.site.pattern).collect();
    patterns.sort();
    patterns.dedup();
    let rule_id = |p: crate::pipeline::classify::Pattern| {
        p.name().replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    };
    let rules: Vec<_> = patterns
        .iter()
        .map(|p| {
            json!({
                "id": rule_id(*p),
                "name": p.name(),
                "shortDescription": {"text": p.name()},
                "fullDescription": {"text": advice(*p)},
                "help": {"text": advice(*p)},
            })
        })
        .collect();
    let results: Vec<_> = v
        .sites
        .iter()
        .filter(|x| !x.baselined)
        .map(|x| {
            let (artifact, line) = match &x.site.site {
                Some(s) => (artifact_location(&s.file, workspace), u64::from(s.line)),
                None => {
                    let (input, line) = x.site.first_at;
                    let log = inputs.get(input).map_or("<stdin>", |i| i.name.as_str());
                    (artifact_location(log, workspace), line)
                }
            };
            json!({
                "ruleId": rule_id(x.site.pattern),
                "level": if x.fails { "error" } else { "warning" },
                "message": {"text": format!("{}. {}", describe(x.site), advice(x.site.pattern))},
                "locations": [{"physicalLocation": {
                    "artifactLocation": artifact,
                    "region": {"startLine": line.max(1)},
                }}],
                "partialFingerprints": {"unclosedSite/v1": x.fingerprint},
            })
        })
        .collect();
    let mut run = json!({
        "tool": {"driver": {
            "name": "unclosed",
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        }},
        "results": results,
    });
    if let Some(w) = workspace.filter(|w| is_absolute(w)) {
        let root = uri_path(w.trim_end_matches('/'));
        let sep = if root.starts_with('/') { "" } else { "/" };
        run["originalUriBaseIds"] = json!({SRCROOT: {"uri": format!("file://{sep}{root}/")}});
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    })
}
