//! The table and status line fitted to a terminal's width, on summaries of the real sample
//! logs (samples/logs/, each written by a real program: samples/README.md). `--in-app` for
//! LiteLLM and Elasticsearch makes the installed library's own line the call site, as for a
//! LiteLLM proxy, so sites carry the long `site-packages` paths of a real virtualenv.

use super::*;
use crate::pipeline::envelope::Grammar;
use crate::pipeline::group::{SiteRules, triage};
use crate::pipeline::lines::LineInfo;
use crate::pipeline::pair::Decided;
use crate::pipeline::scan::{Out, Prefilter, Scanner};

/// The widths the issue names, and one too narrow for any table.
const WIDTHS: [u16; 5] = [60, 80, 100, 200, 40];

/// The summary `unclosed scan --in-app … samples/logs/NAME.log …` prints.
fn scan(names: &[&str]) -> (Summary, Vec<InputReport>) {
    let grammars = Grammar::builtin();
    let prefilter = Prefilter::default();
    let globs = ["*/litellm/*", "*/elastic_transport/*"].map(String::from);
    let rules = SiteRules::default().with_in_app(&globs).unwrap();
    let mut summary = Summary::default();
    let mut inputs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let path = format!("samples/logs/{name}.log");
        let bytes = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&path))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut scanner = Scanner::new(&grammars, None, &prefilter);
        let mut out = Out::default();
        let take = |out: &mut Out, summary: &mut Summary| {
            for d in out.decided.drain(..) {
                let t = match &d {
                    Decided::Finding(f) => Some(triage(f, i, &rules)),
                    _ => None,
                };
                summary.add(&d, t.as_ref());
            }
        };
        let text = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        for line in text.split(|b| *b == b'\n') {
            let info = LineInfo {
                raw_len: line.len() as u64 + 1,
                cut: false,
            };
            scanner.push_line(line, info, &mut out);
            take(&mut out, &mut summary);
        }
        scanner.finish(&mut out);
        take(&mut out, &mut summary);
        inputs.push(InputReport {
            name: path,
            grammar: scanner.grammar().to_string(),
            stats: scanner.stats.clone(),
            cut_lines: scanner.cut_lines(),
        });
    }
    summary.unread_mentions = inputs.iter().map(|i| i.stats.unread_mentions).sum();
    (summary, inputs)
}

/// Every column at once: responses, connections, timestamps, `unknown` and `mixed` labels,
/// `site-packages` paths at the call site and beside it, sites without a traceback.
fn many() -> (Summary, Vec<InputReport>) {
    scan(&[
        "litellm172_acompletion_debug",
        "litellm172_embedding_debug",
        "elasticsearch_percall_debug",
        "homeassistant_debug",
        "list_unread_debug",
        "connection_debug_wdefault",
        "percall_docker_timestamps",
        "shared_connector_debug",
        "percall_werror",
        "aiohttp_retry_percall_debug",
    ])
}

fn render(s: &Summary, inputs: &[InputReport], color: bool, width: Option<u16>) -> String {
    let mut out = Vec::new();
    write_table(&mut out, s, inputs, color, width).unwrap();
    String::from_utf8(out).unwrap()
}

/// The text without ANSI colour sequences (`ESC [ … m`): what takes columns on the screen.
fn visible(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('m').expect("a colour sequence ends with m");
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out
}

fn columns(line: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(visible(line).as_str())
}

/// The cells of a table row, trimmed.
fn cells(row: &str) -> Vec<&str> {
    row.trim_matches('│').split('┆').map(str::trim).collect()
}

/// The data rows' first lines: those with a number in the Findings column.
fn first_lines<'a>(table: &'a str, header: &[&str]) -> Vec<Vec<&'a str>> {
    let at = header.iter().position(|h| *h == "Findings").unwrap();
    table
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(cells)
        .filter(|c| c[at].parse::<u64>().is_ok())
        .collect()
}

/// The first line under the table's top border.
fn header(table: &str) -> Vec<&str> {
    let mut lines = table.lines().skip_while(|l| !l.starts_with('┌'));
    cells(lines.nth(1).expect("a table"))
}

const HEADERS: [&str; 10] = [
    "Call site",
    "Label",
    "Findings",
    "Sessions",
    "Connectors",
    "Responses",
    "Connections",
    "Pooled",
    "First seen",
    "Last seen",
];

#[test]
fn no_line_is_wider_than_the_terminal() {
    let (s, inputs) = many();
    for color in [false, true] {
        for width in WIDTHS {
            let text = render(&s, &inputs, color, Some(width));
            for line in text.lines() {
                assert!(
                    columns(line) <= usize::from(width),
                    "{} columns at width {width}:\n{line}\n\n{text}",
                    columns(line)
                );
            }
        }
    }
    // Every width down to one column: the table, the lines that replace it, the prose.
    let (s, inputs) = scan(&["litellm172_acompletion_debug", "homeassistant_debug"]);
    for width in 1..=130 {
        let text = render(&s, &inputs, false, Some(width));
        for line in text.lines() {
            assert!(
                columns(line) <= usize::from(width),
                "width {width}: {line}\n\n{text}"
            );
        }
    }
}

#[test]
fn headers_are_whole_words_on_one_line() {
    let (s, inputs) = many();
    let plain = render(&s, &inputs, false, None);
    let all = header(&plain);
    assert_eq!(all.len(), HEADERS.len(), "the sample has every column");
    for width in WIDTHS.into_iter().filter(|w| *w >= 60) {
        let text = render(&s, &inputs, false, Some(width));
        let lines: Vec<&str> = text.lines().collect();
        let at = 1 + lines
            .iter()
            .position(|l| l.starts_with('┌'))
            .expect("a table");
        let header = cells(lines[at]);
        assert!(
            header.iter().all(|h| HEADERS.contains(h)),
            "width {width}: {header:?}"
        );
        // The rule under the header follows at once: the header took one line.
        assert!(lines[at + 1].starts_with('╞'), "width {width}:\n{text}");
        // What is left out is said.
        let left_out: Vec<&str> = all
            .iter()
            .copied()
            .filter(|h| !header.contains(h))
            .collect();
        let note = lines.iter().find(|l| l.starts_with("Left out"));
        match note {
            None => assert!(left_out.is_empty(), "width {width}: {left_out:?} unsaid"),
            Some(_) => {
                let said = text.split("Left out").nth(1).unwrap();
                let said = said[..said.find("json").unwrap()].replace("\n  ", " ");
                for h in &left_out {
                    assert!(said.contains(h), "width {width}: {h} unsaid in {said}");
                }
            }
        }
    }
}

#[test]
fn numbers_are_whole_in_their_columns() {
    let (s, inputs) = many();
    for width in WIDTHS.into_iter().filter(|w| *w >= 60) {
        let text = render(&s, &inputs, false, Some(width));
        let header = header(&text);
        let rows = first_lines(&text, &header);
        assert_eq!(rows.len(), s.sites().len().min(TABLE_ROWS), "{text}");
        for (column, total) in [
            ("Findings", s.totals.findings),
            ("Pooled", s.totals.pooled_connections),
        ] {
            let at = header.iter().position(|h| *h == column).unwrap();
            let sum: u64 = rows.iter().map(|r| r[at].parse::<u64>().unwrap()).sum();
            assert_eq!(sum, total, "{column} at width {width}:\n{text}");
        }
    }
}

#[test]
fn call_sites_keep_file_name_and_line_and_are_shortened_from_the_left() {
    let (s, inputs) = many();
    let long = "/opt/venv/lib/python3.12/site-packages/litellm/llms/custom_httpx/http_handler.py";
    assert!(
        s.sites()
            .iter()
            .any(|x| x.site.as_ref().is_some_and(|site| &*site.file == long)),
        "the LiteLLM sample's library line is a call site"
    );
    for width in WIDTHS {
        let text = render(&s, &inputs, false, Some(width));
        for x in s.sites() {
            let Some(site) = &x.site else { continue };
            let full = format!("{}:{}", site.file, site.line);
            let name = format!(
                "{}:{}",
                site.file.rsplit('/').next().unwrap_or(&site.file),
                site.line
            );
            // The location leads a line of the cell (or of the lines that replace the table).
            let shown = text
                .lines()
                .map(|l| l.trim_start_matches(['│', ' ']))
                .find_map(|l| {
                    let token = l.split([' ', '┆']).next().unwrap();
                    (token == full
                        || token
                            .strip_prefix('…')
                            .is_some_and(|t| t.starts_with('/') && full.ends_with(t)))
                    .then_some(token)
                })
                .unwrap_or_else(|| {
                    panic!("width {width}: {full} not shown whole or as …/tail\n{text}")
                });
            assert!(shown.ends_with(&name), "width {width}: {shown} lost {name}");
        }
        if width < 200 {
            assert!(
                text.lines()
                    .any(|l| l.contains("…/") && l.contains("/http_handler.py:559")),
                "width {width}: the LiteLLM path shortened from the left\n{text}"
            );
        }
    }
}

#[test]
fn a_wide_terminal_changes_nothing_and_no_terminal_fits_nothing() {
    let (s, inputs) = many();
    let plain = render(&s, &inputs, false, None);
    assert_eq!(render(&s, &inputs, false, Some(u16::MAX)), plain);
    // Some(0): a pseudo-terminal that reports no size.
    assert_eq!(render(&s, &inputs, false, Some(0)), plain);
    assert!(plain.lines().any(|l| columns(l) > 200));
    assert!(plain.contains(
        "/opt/venv/lib/python3.12/site-packages/litellm/llms/custom_httpx/http_handler.py:559"
    ));
}

#[test]
fn status_lines_fit_in_one_row_with_room_for_the_ctrl_c_echo() {
    // The text `tail` draws, with a long file count and totals.
    let status = "following 12 files · 1523401 lines · 1204 leak (48213 pooled), 3 noise, 17 unknown · Ctrl-C for the summary";
    for width in [20usize, 60, 80, 100] {
        let fitted = fit_status(status, width);
        // `^C` still fits on the row after it, and a column is left.
        assert_eq!(columns(&fitted) + "^C".len() + 1, width, "{fitted}");
        assert!(fitted.ends_with('…'));
        assert!(status.starts_with(fitted.trim_end_matches('…')));
    }
    assert_eq!(fit_status(status, 200), status);
    assert_eq!(fit_status(status, 3), "");
    assert_eq!(fit_status(status, 0), status, "0: the width is not known");
    // Display columns, not characters: a CJK file name takes two per character
    // (hand-written: no sample has one).
    let wide = "following 監視ログ/アプリ.log · 3 lines";
    let fitted = fit_status(wide, 18);
    assert!(columns(&fitted) <= 15, "{fitted}");
    assert!(fitted.starts_with("following 監視"), "{fitted}");
}

#[test]
fn paths_are_cut_at_a_separator_and_code_loses_nothing_when_wrapped() {
    let p = "/opt/venv/lib/python3.12/site-packages/litellm/llms/custom_httpx/http_handler.py:559";
    assert_eq!(fit::cut_left(p, 34), "…/custom_httpx/http_handler.py:559");
    assert_eq!(fit::cut_left(p, 33), "…/http_handler.py:559");
    assert_eq!(fit::cut_left(p, 200), p);
    // A file name wider than the room keeps its end, the line number.
    assert_eq!(fit::cut_left(p, 8), "….py:559");
    // Every line of code from the samples, wrapped at every width: the same characters in
    // the same order, only spaces moved (and the indents added).
    let (s, _) = many();
    let code: Vec<String> = s
        .sites()
        .iter()
        .filter_map(|x| x.site.as_ref()?.code.as_deref().map(str::to_string))
        .collect();
    assert!(code.len() > 10);
    let squeeze = |t: &str| t.chars().filter(|c| *c != ' ').collect::<String>();
    for c in &code {
        for max in 1..=60 {
            let lines = fit::wrap(c, max, "  ", "    ", Long::Break);
            assert!(lines.iter().all(|l| columns(l) <= max), "{max}: {lines:?}");
            assert_eq!(squeeze(&lines.concat()), squeeze(c), "{max}: {lines:?}");
        }
    }
}

#[test]
fn the_verdict_fits_too() {
    let (s, _) = many();
    let policy = crate::gate::policy::Policy::default();
    let v = crate::gate::policy::evaluate(&s, &policy, None);
    assert!(v.failed(), "the samples leak");
    let mut plain = Vec::new();
    write_verdict(&mut plain, &v, false, None).unwrap();
    let plain = String::from_utf8(plain).unwrap();
    assert!(plain.lines().any(|l| columns(l) > 100), "{plain}");
    for color in [false, true] {
        for width in WIDTHS {
            let mut out = Vec::new();
            write_verdict(&mut out, &v, color, Some(width)).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.starts_with(if color { "\x1b[1;31mFAILED" } else { "FAILED" }));
            for line in text.lines() {
                assert!(columns(line) <= usize::from(width), "{width}: {line}");
            }
            // Only spaces moved: the words are the same (a path too long for a line aside).
            if width >= 80 {
                let words = |t: &str| visible(t).split_whitespace().count();
                assert_eq!(words(&text), words(&plain), "{text}");
            }
        }
    }
}
