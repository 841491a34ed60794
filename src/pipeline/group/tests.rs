use super::*;
use crate::pipeline::pair::Decided;

fn frame(path: &str, line: u32, function: &str) -> Frame {
    Frame {
        code: Some(format!("code {line}").into()),
        ..Frame::at(path, line, function)
    }
}

fn object(frames: Vec<Frame>, trace: Option<Trace>) -> Object {
    Object {
        frames,
        trace,
        ..Object::of_kind(Kind::Session)
    }
}

fn litellm_user() -> Object {
    object(
        vec![
            frame("<frozen runpy>", 198, "_run_module_as_main"),
            frame("/app/main.py", 40, "<module>"),
            frame("/app/llm.py", 61, "run_sync"),
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
    )
}

#[test]
fn site_is_the_applications_innermost_frame_with_the_library_line_beside_it() {
    let o = litellm_user();
    let s = site_of(&o, &SiteRules::default()).unwrap();
    assert_eq!(s.key(), "/app/llm.py:61");
    assert_eq!(s.function.as_deref(), Some("run_sync"));
    assert_eq!(s.code.as_deref(), Some("code 61"));
    assert_eq!(s.outer.map(|o| o.key()).as_deref(), Some("/app/main.py:40"));
    let via = s.created_in.unwrap();
    assert_eq!(
        via.key(),
        "/venv/lib/python3.12/site-packages/litellm/main.py:77"
    );
    assert_eq!(via.function.as_deref(), Some("acompletion"));
}

#[test]
fn in_app_makes_installed_code_the_site_and_skip_frames_passes_over_frames() {
    let o = litellm_user();
    let rules = SiteRules::default()
        .with_in_app(&["*/litellm/*".to_string()])
        .unwrap();
    let s = site_of(&o, &rules).unwrap();
    assert_eq!(
        s.key(),
        "/venv/lib/python3.12/site-packages/litellm/main.py:77"
    );
    assert_eq!(s.created_in, None);

    let rules = SiteRules::new(&["llm.py".to_string()]).unwrap();
    assert_eq!(site_of(&o, &rules).unwrap().key(), "/app/main.py:40");
}

#[test]
fn with_no_application_frame_the_library_line_is_the_site() {
    // The LiteLLM proxy runs library code only.
    let mut o = litellm_user();
    o.frames.retain(|f| !f.path.starts_with("/app/"));
    let s = site_of(&o, &SiteRules::default()).unwrap();
    assert_eq!(
        s.key(),
        "/venv/lib/python3.12/site-packages/litellm/main.py:77"
    );
    assert_eq!(s.created_in, None);
}

#[test]
fn a_home_assistant_integration_is_the_site_even_when_installed() {
    let o = object(
        vec![
            frame(
                "/usr/local/lib/python3.13/site-packages/homeassistant/core.py",
                900,
                "async_run",
            ),
            frame(
                "/usr/local/lib/python3.13/site-packages/homeassistant/components/weather_x/sensor.py",
                42,
                "async_update",
            ),
            frame(
                "/usr/local/lib/python3.13/site-packages/aiohttp/client.py",
                293,
                "__init__",
            ),
        ],
        Some(Trace::Source),
    );
    let s = site_of(&o, &SiteRules::default()).unwrap();
    assert!(
        s.key().ends_with("components/weather_x/sensor.py:42"),
        "{}",
        s.key()
    );
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

#[test]
fn renamed_parts_that_become_one_name_are_one_part() {
    let mut s = Summary::default();
    let rules = SiteRules::default();
    for part in ["test_x", "t.py::test_x", "test_y"] {
        let f = Finding {
            objects: vec![object(
                vec![frame("/app/x.py", 1, "f")],
                Some(Trace::Source),
            )],
        };
        let mut t = triage(&f, 0, &rules);
        t.part = Some(part.to_string());
        s.add(&Decided::Finding(f), Some(&t));
    }
    assert_eq!(s.sites()[0].parts, ["test_x", "t.py::test_x", "test_y"]);
    s.rename_parts(|p| (p == "test_x").then(|| "t.py::test_x".to_string()));
    assert_eq!(s.sites()[0].parts, ["t.py::test_x", "test_y"]);
}
