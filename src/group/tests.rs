use super::*;
use crate::assemble::Pos;

#[test]
fn library_frames_are_aiohttp_asyncio_uvloop_and_the_standard_library() {
    for p in [
        "/venv/lib/python3.12/site-packages/aiohttp/client.py",
        "/usr/lib/python3.11/asyncio/base_events.py",
        "/root/.pyenv/versions/3.12.1/lib/python3.12/runpy.py",
        "<frozen runpy>",
        "C:\\Python311\\Lib\\threading.py",
        "/venv/lib/python3.12/site-packages/uvloop/__init__.py",
        "/usr/lib/python3.13t/threading.py",
    ] {
        assert!(is_library(p), "{p}");
    }
    for p in [
        "/venv/lib/python3.12/site-packages/litellm/llms/custom_httpx/aiohttp_handler.py",
        "/app/main.py",
        "main.py",
        "/home/me/lib/python3-tools/x.py",
        "C:\\Python311\\Lib\\site-packages\\litellm\\main.py",
    ] {
        assert!(!is_library(p), "{p}");
    }
}

fn frame(path: &str, line: u32, function: &str) -> Frame {
    Frame {
        path: path.into(),
        line,
        function: Some(function.into()),
        code: Some(format!("code {line}").into()),
        library: is_library(path),
    }
}

fn object(frames: Vec<Frame>, trace: Option<Trace>) -> Object {
    Object {
        kind: Kind::Session,
        logged: true,
        warned: false,
        repr: None,
        pool: None,
        frames,
        trace,
        complete: true,
        location: None,
        pos: Pos::default(),
        lines: vec![],
    }
}

#[test]
fn site_is_the_innermost_frame_outside_libraries_and_keeps_the_entry_point() {
    let o = object(
        vec![
            frame("<frozen runpy>", 198, "_run_module_as_main"),
            frame("/app/main.py", 40, "<module>"),
            frame("/usr/lib/python3.12/asyncio/runners.py", 118, "run"),
            frame(
                "/venv/lib/python3.12/site-packages/litellm/main.py",
                77,
                "acompletion",
            ),
            frame(
                "/venv/lib/python3.12/site-packages/aiohttp/client.py",
                293,
                "__init__",
            ),
        ],
        Some(Trace::Source),
    );
    let s = site_of(&o, &SiteRules::default()).unwrap();
    assert_eq!(
        s.key(),
        "/venv/lib/python3.12/site-packages/litellm/main.py:77"
    );
    assert_eq!(s.function.as_deref(), Some("acompletion"));
    assert_eq!(s.code.as_deref(), Some("code 77"));
    assert_eq!(s.outer.as_deref(), Some("/app/main.py:40"));

    let rules = SiteRules::new(&["*/litellm/*".to_string()]).unwrap();
    assert_eq!(site_of(&o, &rules).unwrap().key(), "/app/main.py:40");
}

#[test]
fn no_site_without_a_creation_traceback() {
    assert_eq!(
        site_of(
            &object(vec![frame("/app/x.py", 1, "f")], None),
            &SiteRules::default()
        ),
        None
    );
    assert_eq!(
        site_of(
            &object(vec![frame("/app/x.py", 1, "f")], Some(Trace::Handle)),
            &SiteRules::default()
        ),
        None
    );
}

#[test]
fn sites_are_capped_and_the_rest_counted_as_overflow() {
    let mut s = Summary::default();
    let rules = SiteRules::default();
    for i in 0..(MAX_SITES as u32 + 5) {
        let f = Finding {
            objects: vec![object(
                vec![frame("/app/x.py", i + 1, "f")],
                Some(Trace::Source),
            )],
        };
        let t = triage(&f, 0, &rules);
        s.add(&Decided::Finding(f), Some(&t));
    }
    assert_eq!(s.sites().len(), MAX_SITES);
    assert_eq!(s.overflow.findings, 5);
    assert_eq!(s.totals.findings, MAX_SITES as u64 + 5);
}
