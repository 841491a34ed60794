use super::*;
use crate::pipeline::assemble::Frame;
use crate::pipeline::group::{SiteRules, triage};
use crate::pipeline::pair::{Decided, Finding, Object};
use crate::pipeline::parse::{Kind, Pool, Trace};

fn object(kind: Kind, path: &str, line: u32, code: &str, pooled: Option<u64>) -> Object {
    Object {
        pool: pooled.map(|n| Pool {
            connections: n,
            keys: 1,
            complete: true,
        }),
        frames: vec![Frame {
            code: Some(code.into()),
            ..Frame::at(path, line, "fetch")
        }],
        trace: Some(Trace::Source),
        ..Object::of_kind(kind)
    }
}

fn summary(findings: &[(&str, u32, &str, Option<u64>)]) -> Summary {
    let mut s = Summary::default();
    for (path, line, code, pooled) in findings {
        let mut objects = vec![object(Kind::Session, path, *line, code, None)];
        if pooled.is_some() {
            objects.push(object(Kind::Connector, path, *line, code, *pooled));
        }
        let f = Finding { objects };
        let t = triage(&f, 0, &SiteRules::default());
        s.add(&Decided::Finding(f), Some(&t));
    }
    s
}

const CODE: &str = "session = aiohttp.ClientSession()";

#[test]
fn fingerprint_survives_moved_lines_and_other_machines_but_not_other_code() {
    let fp = |path: &str, line: u32, code: &str| {
        summary(&[(path, line, code, Some(1))]).sites()[0].fingerprint()
    };
    let a = fp("/home/alice/proj/app/client.py", 34, CODE);
    assert_eq!(
        a,
        fp(
            "/work/app/client.py",
            90,
            "session  =  aiohttp.ClientSession()"
        )
    );
    assert_ne!(
        a,
        fp(
            "/work/app/client.py",
            34,
            "session = aiohttp.ClientSession(timeout=t)"
        )
    );
    assert_ne!(a, fp("/work/app/other.py", 34, CODE));
    assert_eq!(a.len(), 16);
}

#[test]
fn a_written_baseline_accepts_what_it_was_written_from_and_reads_back() {
    let s = summary(&[
        ("/app/a.py", 1, CODE, Some(2)),
        ("/app/b.py", 5, CODE, None),
    ]);
    let text = Baseline::write(&s);
    assert!(text.starts_with(HEADER));
    assert!(text.contains(
        "# leak at app/a.py:1 in fetch: 1 finding, 2 pooled connections (one session per call)"
    ));
    let b = Baseline::parse(&text).unwrap();
    let v = evaluate(&s, &Policy::default(), Some(&b));
    assert!(!v.failed(), "{:?}", v.reasons);
    assert!(v.stale.is_empty());
    assert_eq!(v.new_pooled, 0);
}

#[test]
fn a_new_leaking_site_fails_and_a_gone_one_is_stale() {
    let old = summary(&[("/app/a.py", 1, CODE, Some(2))]);
    let b = Baseline::parse(&Baseline::write(&old)).unwrap();
    let new = summary(&[("/app/c.py", 7, CODE, Some(3))]);
    let v = evaluate(&new, &Policy::default(), Some(&b));
    assert!(v.failed());
    assert_eq!(v.sites.iter().filter(|s| s.fails).count(), 1);
    assert_eq!(v.stale, vec![old.sites()[0].fingerprint()]);
}

#[test]
fn default_policy_fails_on_leaks_only_and_the_budget_counts_new_pooled() {
    let noise = summary(&[("/app/a.py", 1, CODE, None)]);
    assert!(!evaluate(&noise, &Policy::default(), None).failed());
    let strict = Policy {
        fail_on: Labels::ALL,
        max_pooled: None,
        allow_unread: false,
    };
    assert!(evaluate(&noise, &strict, None).failed());
    let leak = summary(&[("/app/a.py", 1, CODE, Some(4))]);
    let budget = |n| Policy {
        fail_on: Labels::NONE,
        max_pooled: Some(n),
        allow_unread: false,
    };
    assert!(!evaluate(&leak, &budget(4), None).failed());
    assert!(evaluate(&leak, &budget(3), None).failed());
}

#[test]
fn a_bad_baseline_line_is_named() {
    let e = Baseline::parse("# ok\n0123456789abcdef\nnot-a-fingerprint\n").unwrap_err();
    assert_eq!(e.line, 3);
}

#[test]
fn unread_mentions_fail_unless_allowed() {
    let mut s = summary(&[]);
    assert!(!evaluate(&s, &Policy::default(), None).failed());
    s.unread_mentions = 2;
    let v = evaluate(&s, &Policy::default(), None);
    assert!(v.failed());
    assert!(v.reasons[0].contains("2 lines"), "{:?}", v.reasons);
    let allow = Policy {
        allow_unread: true,
        ..Policy::default()
    };
    assert!(!evaluate(&s, &allow, None).failed());
}
