//! `unclosed audit`'s core on the hand-written shapes in tests/audit/ (see its README for
//! the real package each shape was read from): every construction's verdict is the one its
//! line's `# expect:` comment names, and lines marked `# expect: nothing` have none.

use std::path::Path;

use unclosed::audit::{VERDICTS, audit_source};

/// `(line, verdicts)` for each `# expect:` comment.
fn expectations(src: &str) -> Vec<(u32, Vec<String>)> {
    src.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let at = l.find("# expect: ")?;
            let words = l[at + 10..].split_whitespace().map(String::from).collect();
            Some((u32::try_from(i + 1).unwrap(), words))
        })
        .collect()
}

#[test]
fn every_shape_gets_the_verdict_its_line_expects() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    let mut wrong = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let audit = audit_source(src.as_bytes()).unwrap();
        assert!(audit.parsed && audit.syntax_error.is_none(), "{f:?}");
        let name = f.file_name().unwrap().to_string_lossy();
        let expected = expectations(&src);
        for c in &audit.constructions {
            let want = expected.iter().find(|(l, _)| *l == c.line);
            if want.is_none() {
                wrong.push(format!(
                    "{name}:{}: {} {} not expected ({}; {})",
                    c.line,
                    c.constructs.name(),
                    c.verdict.name(),
                    c.owner,
                    c.why
                ));
            }
        }
        for (line, want) in &expected {
            let got: Vec<_> = audit
                .constructions
                .iter()
                .filter(|c| c.line == *line)
                .collect();
            let got_names: Vec<String> = got.iter().map(|c| c.verdict.name().to_owned()).collect();
            let want: Vec<String> = if want == &["nothing"] {
                Vec::new()
            } else {
                want.clone()
            };
            seen.extend(got_names.iter().cloned());
            if got_names != want {
                let detail: Vec<String> = got
                    .iter()
                    .map(|c| format!("{} [{}] {}", c.verdict.name(), c.owner, c.why))
                    .collect();
                wrong.push(format!("{name}:{line}: want {want:?}, got {detail:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    // The shapes cover every verdict.
    for v in VERDICTS {
        assert!(seen.contains(v.name()), "no shape has {}", v.name());
    }
}
