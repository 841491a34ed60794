use super::*;
use crate::pipeline::envelope::grammar::BUILTIN;

#[test]
fn every_shipped_grammar_reads_its_own_samples() {
    // builtin() panics on a grammar whose samples fail; name them all here for the report.
    for (name, src) in BUILTIN {
        if let Err(e) = Grammar::from_toml(src) {
            panic!("grammars/{name}.toml: {e}");
        }
    }
    assert_eq!(Grammar::builtin().len(), BUILTIN.len());
}

#[test]
fn a_grammar_whose_sample_fails_is_refused_with_the_sample_number() {
    let src = r#"
name = "broken"
summary = "x"
kind = "prefix"
regex = '^X (?P<text>.*)$'
[[sample]]
line = "X hello"
text = ["hello"]
[[sample]]
line = "Y hello"
text = ["hello"]
"#;
    let e = Grammar::from_toml(src).unwrap_err().to_string();
    assert!(e.starts_with("sample 2 does not match"), "{e}");
}

#[test]
fn a_prefix_grammar_without_text_group_is_refused() {
    let src = "name = \"x\"\nsummary = \"x\"\nkind = \"prefix\"\nregex = '^(?P<ts>\\d+) '\n";
    assert!(
        Grammar::from_toml(src)
            .unwrap_err()
            .to_string()
            .contains("text")
    );
}

fn detect_names(lines: &[&str]) -> String {
    let g = Grammar::builtin();
    g[detect(&g, lines.iter().copied())].name.clone()
}

#[test]
fn detection_picks_the_envelope_of_most_lines() {
    assert_eq!(
        detect_names(&[
            "2026-11-23T22:27:48.367084394Z stderr F hello",
            "2026-11-23T22:27:48.367084394Z stdout F x"
        ]),
        "cri"
    );
    assert_eq!(
        detect_names(&[
            "2026-11-23T22:27:48.367084394Z hello",
            "2026-11-23T22:27:49Z x"
        ]),
        "docker-timestamps"
    );
    assert_eq!(
        detect_names(&[r#"{"log":"x\n","stream":"stderr","time":"2026-11-23T22:27:48Z"}"#]),
        "docker-json"
    );
    assert_eq!(
        detect_names(&[r#"{"message": "x", "levelname": "INFO"}"#]),
        "json-logger"
    );
    assert_eq!(
        detect_names(&["Unclosed client session", "client_session: <x>"]),
        "bare"
    );
    assert_eq!(detect_names(&[]), "bare");
}

#[test]
fn mixed_envelopes_are_each_unwrapped() {
    let g = Grammar::builtin();
    let bare = g.iter().position(|x| x.name == "bare").unwrap();
    let mut u = Unwrapper::new(&g, Some(bare));
    let mut out = Vec::new();
    u.unwrap("PASSED tests/test_x.py::test_y", 0, &mut out);
    u.unwrap(
        r#"{"log":"Unclosed connector\n","stream":"stderr","time":"2026-11-23T22:27:48Z"}"#,
        0,
        &mut out,
    );
    let texts: Vec<&str> = out.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        ["PASSED tests/test_x.py::test_y", "Unclosed connector"]
    );
    assert_eq!(out[1].stream, "stderr");
}

#[test]
fn docker_pieces_join_per_stream_and_leftovers_come_out_at_finish() {
    let g = Grammar::builtin();
    let dj = g.iter().position(|x| x.name == "docker-json").unwrap();
    let mut u = Unwrapper::new(&g, Some(dj));
    let mut out = Vec::new();
    u.unwrap(
        r#"{"log":"conn","stream":"stderr","time":"t1"}"#,
        0,
        &mut out,
    );
    u.unwrap(
        r#"{"log":"INFO ok\n","stream":"stdout","time":"t2"}"#,
        2,
        &mut out,
    );
    u.unwrap(
        r#"{"log":"ections: []\n","stream":"stderr","time":"t3"}"#,
        3,
        &mut out,
    );
    u.unwrap(
        r#"{"log":"dangling","stream":"stderr","time":"t4"}"#,
        4,
        &mut out,
    );
    assert!(u.has_pieces());
    u.finish(&mut out);
    let got: Vec<(&str, &str, Option<&str>)> = out
        .iter()
        .map(|l| (l.stream.as_str(), l.text.as_str(), l.ts.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("stdout", "INFO ok", Some("t2")),
            ("stderr", "connections: []", Some("t1")),
            ("stderr", "dangling", Some("t4"))
        ]
    );
}

#[test]
fn joined_pieces_are_cut_at_the_limit_and_counted() {
    let g = Grammar::builtin();
    let cri = g.iter().position(|x| x.name == "cri").unwrap();
    let mut u = Unwrapper::new(&g, Some(cri));
    u.max_piece = 10;
    let mut out = Vec::new();
    for _ in 0..5 {
        u.unwrap("2026-11-23T22:27:48Z stderr P 0123456789", 0, &mut out);
    }
    u.unwrap("2026-11-23T22:27:48Z stderr F end", 0, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].text, "0123456789");
    assert_eq!(u.cut, 1);
}

#[test]
fn journald_micros_become_rfc3339() {
    assert_eq!(
        epoch_micros_to_rfc3339("0").as_deref(),
        Some("1970-01-01T00:00:00.000000Z")
    );
    assert_eq!(
        epoch_micros_to_rfc3339("1763936868367084").as_deref(),
        Some("2025-11-23T22:27:48.367084Z")
    );
    assert_eq!(
        epoch_micros_to_rfc3339("951782400000000").as_deref(),
        Some("2000-02-29T00:00:00.000000Z")
    );
}

#[test]
fn timestamps_are_found_in_record_prefixes() {
    assert_eq!(
        find_timestamp("2026-11-23 22:27:48,367 ERROR asyncio: "),
        Some("2026-11-23 22:27:48,367")
    );
    assert_eq!(
        find_timestamp("[2026-11-23T22:27:48Z] "),
        Some("2026-11-23T22:27:48Z")
    );
    assert_eq!(find_timestamp("ERROR:asyncio:"), None);
    assert_eq!(find_timestamp("12345 2026-11-2"), None);
}

#[test]
fn detection_ignores_continuation_lines() {
    let cont = "                                                  client_session: <x>";
    let lines = [
        "2026-11-23T23:10:35+00:00 api-01 pricebot[8554]: Unclosed client session",
        cont,
        cont,
        cont,
    ];
    assert_eq!(detect_names(&lines), "journald-short");
    let lines = [
        "2026-11-23 23:10:25.988 | ERROR    | asyncio:x:1 - Unclosed connector",
        "connections: []",
        "connector: <x>",
        "client: y",
    ];
    assert_eq!(detect_names(&lines), "logging");
}
