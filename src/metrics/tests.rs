//! The metrics of a real fixture (samples/logs, printed by aiohttp with its truth recorded
//! by the program) read back from the exposition.

use std::collections::BTreeMap;

use super::*;
use crate::pipeline::envelope::Grammar;
use crate::pipeline::group::{SiteRules, triage};
use crate::pipeline::lines::LineInfo;
use crate::pipeline::scan::{Out, Prefilter, Scanner};

const PERCALL: &[u8] = include_bytes!("../../samples/logs/percall_debug_bare.log");
const POD_A: &str =
    "/var/log/pods/shop_api-7d9f8b-x2kq_0d1c2b3a-4e5f-6789-abcd-ef0123456789/web/0.log";
const POD_B: &str = "/var/log/containers/worker-5c6d_jobs_main-6f0b5a3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90.log";

/// Scans `bytes` as input `i` named `name`, feeding `obs` as a command's tally does.
fn feed(obs: &mut Observer, i: usize, name: &str, bytes: &[u8]) {
    let g = Grammar::builtin();
    let pf = Prefilter::default();
    let rules = SiteRules::new(&[]).unwrap();
    let mut s = Scanner::new(&g, None, &pf);
    let mut out = Out::default();
    let mut lines = bytes.split_inclusive(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let info = LineInfo {
            raw_len: line.len() as u64,
            cut: false,
        };
        s.push_line(line.strip_suffix(b"\n").unwrap_or(line), info, &mut out);
        if lines.peek().is_none() {
            s.finish(&mut out);
        }
        obs.input(i, name, &s.stats);
        for d in out.decided.drain(..) {
            let t = match &d {
                Decided::Finding(f) => Some(triage(f, i, &rules)),
                _ => None,
            };
            obs.decided(&d, t.as_ref(), &|_| name.to_owned());
        }
    }
}

/// The samples of a Prometheus text exposition: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect()
}

fn finding_key(metric: &str, site: &str, pod: &str) -> String {
    format!("{metric}{{label=\"leak\",pattern=\"one session per call\",site=\"{site}\",{pod}}}")
}

const A_LABELS: &str = "namespace=\"shop\",pod=\"api-7d9f8b-x2kq\",container=\"web\"";
const B_LABELS: &str = "namespace=\"jobs\",pod=\"worker-5c6d\",container=\"main\"";

#[test]
fn a_fixtures_findings_per_site_and_pod_are_its_truth() {
    let m = Arc::new(Metrics::new(200));
    let mut obs = Observer::new(Arc::clone(&m));
    feed(&mut obs, 0, POD_A, PERCALL);
    let s = samples(&m.encode(false));
    // samples/logs/percall_debug_bare.truth.json: 4 leaks with 4 pooled connections at
    // line 26, 3 with 11 at line 34.
    let at = |metric: &str, line: u32| {
        s[&finding_key(metric, &format!("/app/percall.py:{line}"), A_LABELS)]
    };
    assert_eq!(at("unclosed_findings_total", 26), 4.0);
    assert_eq!(at("unclosed_findings_total", 34), 3.0);
    assert_eq!(at("unclosed_pooled_connections_total", 26), 4.0);
    assert_eq!(at("unclosed_pooled_connections_total", 34), 11.0);
    for kind in ["session", "connector"] {
        assert_eq!(
            s[&format!("unclosed_objects_total{{kind=\"{kind}\",{A_LABELS}}}")],
            7.0
        );
    }
    let lines = PERCALL.iter().filter(|b| **b == b'\n').count() as f64;
    assert_eq!(
        s[&format!("unclosed_lines_total{{file=\"{POD_A}\"}}")],
        lines
    );
    assert_eq!(s["unclosed_bytes_total"], PERCALL.len() as f64);
    assert_eq!(
        s[&format!("unclosed_unread_mentions_total{{{A_LABELS}}}")],
        0.0
    );
    assert_eq!(
        s[&format!(
            "unclosed_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )],
        1.0
    );
}

#[test]
fn sites_beyond_the_bound_are_other_and_each_pod_has_its_own_bound() {
    let m = Arc::new(Metrics::new(1));
    let mut obs = Observer::new(Arc::clone(&m));
    feed(&mut obs, 0, POD_A, PERCALL);
    feed(&mut obs, 1, POD_B, PERCALL);
    let s = samples(&m.encode(false));
    for pod in [A_LABELS, B_LABELS] {
        // The first site decided keeps its name, the second is counted as other: nothing lost.
        let first = s[&finding_key("unclosed_findings_total", "/app/percall.py:26", pod)];
        let other = s[&finding_key("unclosed_findings_total", OTHER_SITE, pod)];
        assert_eq!((first, other), (4.0, 3.0), "{pod}");
        assert!(!s.contains_key(&finding_key(
            "unclosed_findings_total",
            "/app/percall.py:34",
            pod
        )));
    }
}

#[test]
fn an_input_seen_again_or_a_new_file_at_the_same_path_only_adds() {
    let m = Arc::new(Metrics::new(200));
    let mut obs = Observer::new(Arc::clone(&m));
    let stats = |lines, bytes| InputStats {
        lines,
        bytes,
        ..Default::default()
    };
    obs.input(0, "app.log", &stats(10, 100));
    obs.input(0, "app.log", &stats(10, 100));
    // Renamed by rotation: it keeps counting under the name it was first seen by.
    obs.input(0, "app.log.1", &stats(12, 120));
    // The next file at the path, an input of its own, counts from its start.
    obs.input(1, "app.log", &stats(5, 50));
    let s = samples(&m.encode(false));
    assert_eq!(s["unclosed_lines_total{file=\"app.log\"}"], 17.0);
    assert_eq!(s["unclosed_bytes_total"], 170.0);
    assert!(!s.contains_key("unclosed_lines_total{file=\"app.log.1\"}"));
    // A file that is not the kubelet's has empty pod labels (Prometheus: no such label).
    assert_eq!(
        s["unclosed_unread_mentions_total{namespace=\"\",pod=\"\",container=\"\"}"],
        0.0
    );
}

#[test]
fn both_formats_name_and_explain_every_metric() {
    let m = Arc::new(Metrics::new(200));
    // (A family without a series is not in the exposition at all.)
    feed(&mut Observer::new(Arc::clone(&m)), 0, POD_A, PERCALL);
    m.set_files_followed(3);
    m.follow_error(FollowError::Truncated);
    let text = m.encode(false);
    let open = m.encode(true);
    for name in [
        "unclosed_findings",
        "unclosed_pooled_connections",
        "unclosed_objects",
        "unclosed_unread_mentions",
        "unclosed_lines",
        "unclosed_bytes",
        "unclosed_follow_errors",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name}_total counter")),
            "{name}\n{text}"
        );
        assert!(text.contains(&format!("# HELP {name}_total ")), "{name}");
        assert!(
            open.contains(&format!("# TYPE {name} counter")),
            "{name}\n{open}"
        );
    }
    assert!(text.contains("# TYPE unclosed_files_followed gauge"));
    assert!(text.contains("\nunclosed_files_followed 3\n"), "{text}");
    assert!(text.contains("unclosed_follow_errors_total{reason=\"truncated\"} 1\n"));
    assert!(open.ends_with("# EOF\n"));
    assert!(!text.contains("# EOF"));
}

#[test]
fn a_pods_series_go_once_its_files_have_been_gone_a_while() {
    let m = Arc::new(Metrics::new(200));
    let mut obs = Observer::new(Arc::clone(&m));
    feed(&mut obs, 0, POD_A, PERCALL);
    feed(&mut obs, 1, POD_B, PERCALL);
    let t0 = std::time::Instant::now();
    let (a, b) = (std::path::Path::new(POD_A), std::path::Path::new(POD_B));
    let has = |labels: &str| {
        let text = m.encode(false);
        text.lines()
            .any(|l| !l.starts_with('#') && l.contains(labels))
    };
    // B's file is gone; A's is there.
    obs.followed(&mut [(a, true), (b, false)].into_iter(), t0);
    assert!(has(A_LABELS) && has(B_LABELS));
    obs.followed(
        &mut [(a, true), (b, false)].into_iter(),
        t0 + FORGET_AFTER / 2,
    );
    assert!(has(B_LABELS), "not yet");
    obs.followed(&mut [(a, true), (b, false)].into_iter(), t0 + FORGET_AFTER);
    assert!(has(A_LABELS), "A is there");
    assert!(!has(B_LABELS), "B's series are gone:\n{}", m.encode(false));
    assert!(
        !m.encode(false).contains("worker-5c6d"),
        "its lines' series too"
    );
    // The gauge counts the files there.
    assert!(m.encode(false).contains("\nunclosed_files_followed 1\n"));
    // A pod back in time is not forgotten: its absence is counted from its last absence.
    obs.followed(&mut [(a, false)].into_iter(), t0 + FORGET_AFTER * 2);
    obs.followed(&mut [(a, true)].into_iter(), t0 + FORGET_AFTER * 3);
    obs.followed(
        &mut [(a, false)].into_iter(),
        t0 + FORGET_AFTER * 3 + FORGET_AFTER / 2,
    );
    assert!(has(A_LABELS));
}

#[test]
fn each_familys_series_come_in_label_order_whatever_order_they_were_made_in() {
    // Two pods' findings fed in both orders: the expositions are the same text, and each
    // family's series are sorted.
    let expose = |first: &str, second: &str, openmetrics: bool| {
        let m = Arc::new(Metrics::new(200));
        let mut obs = Observer::new(Arc::clone(&m));
        feed(&mut obs, 0, first, PERCALL);
        feed(&mut obs, 1, second, PERCALL);
        m.encode(openmetrics)
    };
    for openmetrics in [false, true] {
        let text = expose(POD_A, POD_B, openmetrics);
        assert_eq!(text, expose(POD_B, POD_A, openmetrics));
        let mut run: Vec<&str> = Vec::new();
        for line in text.lines().chain(["# end"]) {
            if line.starts_with('#') {
                assert!(run.is_sorted(), "{run:#?}");
                run.clear();
            } else {
                run.push(line);
            }
        }
    }
}

#[test]
fn series_of_other_types_keep_their_order() {
    // Hand-made: a histogram's buckets must stay in `le` order, which is not text order.
    let text = "# TYPE a counter\na{x=\"b\"} 1\na{x=\"a\"} 2\n# TYPE h histogram\nh_bucket{le=\"5\"} 1\nh_bucket{le=\"10\"} 2\n# EOF\n";
    assert_eq!(
        super::sorted_series(text),
        "# TYPE a counter\na{x=\"a\"} 2\na{x=\"b\"} 1\n# TYPE h histogram\nh_bucket{le=\"5\"} 1\nh_bucket{le=\"10\"} 2\n# EOF\n"
    );
}
