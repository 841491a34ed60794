//! No input makes the pipeline panic or lose a line: real fixtures mutated line- and
//! byte-wise (proptest), and every input that once crashed it (`tests/corpus/`), run through
//! the scanner, triage, the reports and `filter` in-process. With nothing dropped, `filter`
//! must give back exactly the bytes it was given.

use std::sync::LazyLock;

use proptest::prelude::*;

use unclosed::input::read::{self, LineInfo};
use unclosed::pipeline::classify::Labels;
use unclosed::pipeline::envelope::Grammar;
use unclosed::pipeline::filter::Filter;
use unclosed::pipeline::group::{SiteRules, Summary, triage};
use unclosed::pipeline::pair::Decided;
use unclosed::pipeline::scan::{Out, Prefilter, Scanner};
use unclosed::report::{self, InputReport};

static GRAMMARS: LazyLock<Vec<Grammar>> = LazyLock::new(Grammar::builtin);
static PREFILTER: LazyLock<Prefilter> = LazyLock::new(Prefilter::default);

/// Small real fixtures in several envelopes: their lines are what gets mutated.
static SEEDS: LazyLock<Vec<Vec<Vec<u8>>>> = LazyLock::new(|| {
    [
        "percall_debug_bare",
        "percall_wdefault_debug",
        "percall_cri",
        "percall_json_logger",
        "percall_docker_timestamps",
        "unread_debug_wdefault",
        "percall_werror",
        "litellm172_acompletion_debug",
    ]
    .iter()
    .map(|name| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/logs")
            .join(format!("{name}.log"));
        std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .split(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    })
    .collect()
});

/// Everything one input goes through: scan, triage, every report, and filter.
fn run_everything(input: &[u8]) {
    // scan
    let mut scanner = Scanner::new(&GRAMMARS, None, &PREFILTER).max_line(4096);
    let mut out = Out::default();
    let mut summary = Summary::default();
    let rules = SiteRules::default();
    let take = |out: &mut Out, summary: &mut Summary| {
        for d in out.decided.drain(..) {
            let t = match &d {
                Decided::Finding(f) => Some(triage(f, 0, &rules)),
                _ => None,
            };
            if let Some(t) = &t {
                let _ = report::finding_json(t, &[]);
            }
            summary.add(&d, t.as_ref());
        }
    };
    read::lines(
        &mut &input[..],
        4096,
        |line, info| -> Result<(), std::io::Error> {
            scanner.push_line(line, info, &mut out);
            take(&mut out, &mut summary);
            Ok(())
        },
    )
    .unwrap();
    scanner.finish(&mut out);
    take(&mut out, &mut summary);
    let inputs = [InputReport {
        name: "fuzz".into(),
        grammar: scanner.grammar().into(),
        stats: scanner.stats.clone(),
        cut_lines: scanner.cut_lines(),
    }];
    let mut sink = Vec::new();
    report::write_table(&mut sink, &summary, &inputs, true, None).unwrap();
    report::write_table(&mut sink, &summary, &inputs, true, Some(60)).unwrap();
    serde_json::to_vec(&report::summary_json(&summary, &inputs, false)).unwrap();

    // filter, dropping nothing: every byte comes back, in order.
    let scanner = Scanner::new(&GRAMMARS, None, &PREFILTER)
        .max_line(usize::MAX >> 1)
        .track_lines();
    let none = Labels::NONE;
    let mut filter = Filter::new(scanner, SiteRules::default(), none, false);
    let mut passed = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |p| p + 1);
        let raw = &rest[..end];
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let info = LineInfo {
            raw_len: raw.len() as u64,
            cut: false,
        };
        filter.push(raw, line, info, &mut passed);
        rest = &rest[end..];
    }
    filter.flush(&mut passed);
    assert!(passed == input, "filter --drop none changed its input");
}

/// Characters that have broken parsers: wide ones, controls, quotes, line ends.
const NASTY: [&str; 16] = [
    "é",
    "本",
    "🙂",
    "\u{FFFD}",
    "\u{202E}",
    "\u{FEFF}",
    "\r",
    "\x1b[31m",
    "\0",
    "\"",
    "'",
    "\\",
    "\\n",
    "> ",
    "`",
    "Unclosed ",
];

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Insert(usize, usize, usize),
    Truncate(usize, usize),
    Join(usize),
    Byte(usize, usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), any::<usize>(), 0..NASTY.len())
            .prop_map(|(l, at, c)| Mutation::Insert(l, at, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(l, at)| Mutation::Truncate(l, at)),
        any::<usize>().prop_map(Mutation::Join),
        (any::<usize>(), any::<usize>(), any::<u8>())
            .prop_map(|(l, at, b)| Mutation::Byte(l, at, b)),
    ]
}

fn apply(lines: &mut Vec<Vec<u8>>, m: &Mutation) {
    if lines.is_empty() {
        return;
    }
    let n = lines.len();
    match *m {
        Mutation::Delete(i) => {
            lines.remove(i % n);
        }
        Mutation::Duplicate(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::Swap(a, b) => lines.swap(a % n, b % n),
        Mutation::Insert(i, at, c) => {
            let l = &mut lines[i % n];
            let at = at % (l.len() + 1);
            l.splice(at..at, NASTY[c].bytes());
        }
        Mutation::Truncate(i, at) => {
            let l = &mut lines[i % n];
            // Anywhere, also inside a character: the rest is then not UTF-8.
            l.truncate(at % (l.len() + 1));
        }
        Mutation::Join(i) if n > 1 => {
            let next = lines.remove((i % (n - 1)) + 1);
            lines[i % (n - 1)].extend(next);
        }
        Mutation::Join(_) => {}
        Mutation::Byte(i, at, b) => {
            let l = &mut lines[i % n];
            if !l.is_empty() {
                let at = at % l.len();
                l[at] = b;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_real_logs_never_panic_and_filter_loses_nothing(
        seed in 0..8usize,
        window in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..24),
    ) {
        let all = &SEEDS[seed % SEEDS.len()];
        // A window of up to 120 lines keeps each case small.
        let start = window % all.len().max(1);
        let mut lines: Vec<Vec<u8>> = all[start..].iter().take(120).cloned().collect();
        for m in &mutations {
            apply(&mut lines, m);
        }
        let input = lines.join(&b'\n');
        run_everything(&input);
    }
}

#[test]
fn every_input_that_once_crashed_runs_clean() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        run_everything(&std::fs::read(&p).unwrap());
        n += 1;
    }
    assert!(n > 0, "the corpus is in tests/corpus");
}
