//! Pasted text, best effort: the forms people paste these blocks in, each rebuilt here from a
//! committed fixture's real blocks (never copied from the thread; the URL is where the form
//! was seen), with the count a careful reader would give by hand. Nothing is counted twice.

mod common;

use serde_json::Value;

/// Totals a reader counts by hand: findings, leak, noise, unknown, sessions, connectors, pooled.
#[derive(Debug, PartialEq, Eq)]
struct Hand(u64, u64, u64, u64, u64, u64, u64);

fn hand(v: &Value) -> Hand {
    let t = &v["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    Hand(
        n("findings"),
        n("leak"),
        n("noise"),
        n("unknown"),
        n("sessions"),
        n("connectors"),
        n("pooled_connections"),
    )
}

fn check(form: &str, url: &str, input: &str, want: Hand) {
    let v = common::scan_stdin_json(input);
    assert_eq!(hand(&v), want, "{form} ({url}):\n{input}");
    assert_eq!(
        v["totals"]["unread_mentions"], 0,
        "{form} ({url}): all read"
    );
}

/// The first two findings of a real leaking run (samples/logs/percall_debug_bare.log): each a
/// session and its connector pooling one connection, with creation tracebacks.
fn two_leaks() -> Vec<String> {
    let log = std::fs::read_to_string(common::samples().join("percall_debug_bare.log")).unwrap();
    log.lines().take(94).map(str::to_string).collect()
}

/// The same two findings without tracebacks (what a run without debug mode prints).
fn two_leaks_short() -> Vec<String> {
    let mut v = Vec::new();
    let mut skip = false;
    for l in two_leaks() {
        if l.starts_with("source_traceback:") {
            skip = true;
        } else if l.starts_with("Unclosed")
            || l.starts_with("client_session:")
            || l.starts_with("connections:")
            || l.starts_with("connector:")
        {
            skip = false;
        }
        if !skip {
            v.push(l);
        }
    }
    v
}

const TWO_LEAKS: Hand = Hand(2, 2, 0, 0, 2, 2, 2);

fn lines(v: &[String], f: impl Fn(&str) -> String) -> String {
    v.iter().map(|l| f(l) + "\n").collect()
}

#[test]
fn a_fenced_code_block() {
    let mut s = String::from("Running my bot:\n```shell\n$ python bot.py\n");
    s += &lines(&two_leaks(), str::to_string);
    s += "```\nAny idea?\n";
    check(
        "fenced code block",
        "https://github.com/aleph-im/aleph-client/issues/62",
        &s,
        TWO_LEAKS,
    );
}

#[test]
fn a_logging_prefix_on_each_record_only() {
    for prefix in [
        "ERROR:asyncio:",
        "2024-03-01 10:00:00,123 - asyncio - ERROR - ",
        "[asyncio] ERROR: ",
    ] {
        let s = lines(&two_leaks_short(), |l| {
            if l.starts_with("Unclosed") {
                format!("{prefix}{l}")
            } else {
                l.to_string()
            }
        });
        check(
            "logging prefix",
            "https://github.com/apecloud/ApeRAG/issues/277",
            &s,
            TWO_LEAKS,
        );
    }
}

#[test]
fn a_double_spaced_copy() {
    let s = lines(&two_leaks_short(), |l| format!("{l}\n"));
    check(
        "double-spaced",
        "https://github.com/xtekky/gpt4free/issues/2117",
        &s,
        TWO_LEAKS,
    );
}

#[test]
fn a_markdown_blockquote_on_every_line_or_only_the_first() {
    let every = lines(&two_leaks(), |l| format!("> {l}"));
    check(
        "blockquote",
        "https://github.com/home-assistant/supervisor/issues/893",
        &every,
        TWO_LEAKS,
    );
    let mut first = lines(&two_leaks_short(), str::to_string);
    first.insert_str(0, "> ");
    check(
        "lazy blockquote",
        "https://github.com/home-assistant/supervisor/issues/893",
        &first,
        TWO_LEAKS,
    );
}

#[test]
fn a_code_span_over_several_lines_and_a_fence_glued_to_the_header() {
    let short = two_leaks_short();
    let mut span = lines(&short, str::to_string);
    span.insert(0, '`');
    span.insert(span.len() - 1, '`');
    check(
        "code span",
        "https://github.com/titilambert/pyhydroquebec/issues/10",
        &span,
        TWO_LEAKS,
    );
    let glued = format!("```{}```\n", lines(&short, str::to_string));
    check(
        "fence glued",
        "https://github.com/XayOn/katcr/issues/144",
        &glued,
        TWO_LEAKS,
    );
}

#[test]
fn a_block_joined_on_one_line_with_spaces_or_a_literal_newline() {
    let short = two_leaks_short();
    // One finding per line, as a title or a chat message flattens it.
    let spaces = format!("{}\n{}\n", short[..5].join(" "), short[5..].join(" "));
    check(
        "joined with spaces",
        "https://github.com/Integration-Automation/ReEdgeGPT/issues/33",
        &spaces,
        TWO_LEAKS,
    );
    // With creation tracebacks too: each finding flattened to one line.
    let long = two_leaks();
    let flat = format!("{}\n{}\n", long[..47].join(" "), long[47..].join(" "));
    let v = common::scan_stdin_json(&flat);
    assert_eq!(hand(&v), TWO_LEAKS, "joined with spaces, with tracebacks");
    assert_eq!(
        v["sites"][0]["site"], "/app/percall.py:26",
        "the site survives the join"
    );
    let escaped = format!("{}\n", short.join("\\n").replace('\'', "\\'"));
    check(
        "literal \\n",
        "https://github.com/aio-libs/aiobotocore/issues/1108",
        &escaped,
        TWO_LEAKS,
    );
}

#[test]
fn a_timestamp_on_every_line_as_ci_systems_and_process_managers_print() {
    let actions = lines(&two_leaks(), |l| {
        format!("2021-08-10T18:20:11.7936384Z {l}")
    });
    check(
        "GitHub Actions",
        "https://github.com/CodexLink/discord-activity-badge/issues/9",
        &actions,
        TWO_LEAKS,
    );
    let pm2 = lines(&two_leaks_short(), |l| {
        format!("0|bot main  | 2023-02-22 16-01-35: {l}")
    });
    check(
        "PM2 with its time",
        "https://github.com/LlmKira/Openaibot/issues/197",
        &pm2,
        TWO_LEAKS,
    );
}

/// Home Assistant's records as its log file has them: the body is gone, so each is unknown;
/// a session and the connector logged right after it are one finding.
#[test]
fn home_assistant_records_without_their_body() {
    let p = "2025-06-28 09:43:04.785 ERROR (SyncWorker_19) [homeassistant] Error doing job: ";
    for tail in [" (None)", " (task: None)", ""] {
        let s = format!(
            "{p}Unclosed client session{tail}\n{p}Unclosed connector{tail}\n2025-06-28 09:43:05.001 INFO (MainThread) [homeassistant.components.sensor] ok\n{p}Unclosed client session{tail}\n"
        );
        check(
            "HA log file",
            "https://github.com/home-assistant/core/issues/147710",
            &s,
            Hand(2, 0, 0, 2, 2, 1, 0),
        );
    }
}

#[test]
fn home_assistant_ui_copies() {
    // The log panel: the message, then its time, source and level on the next line.
    let s = "Error doing job: Unclosed client session\n8:45 PM core.py (ERROR)\nError doing job: Unclosed client session\n8:46 PM core.py (ERROR)\n";
    check(
        "HA log panel",
        "https://github.com/home-assistant/core/issues/13099",
        s,
        Hand(2, 0, 0, 2, 2, 0, 0),
    );
    // A session and the connector logged right after it: one finding, as in the log file.
    let s = "Error doing job: Unclosed client session\n8:45 PM core.py (ERROR)\nError doing job: Unclosed connector\n8:45 PM core.py (ERROR)\n";
    check(
        "HA log panel, pair",
        "https://github.com/home-assistant/core/issues/13099",
        s,
        Hand(1, 0, 0, 1, 1, 1, 0),
    );
    // The system log dialog: one message line per message, whatever the occurrences.
    let s = "Logger: homeassistant\nSource: runner.py:238\nFirst occurred: 17:53:04 (139 occurrences)\nLast logged: 18:00:33\n\nError doing job: Unclosed client session (task: None)\nError doing job: Unclosed connector (task: None)\n";
    check(
        "HA system log",
        "https://github.com/FaserF/ha-openwrt/issues/35",
        s,
        Hand(1, 0, 0, 1, 1, 1, 0),
    );
}

/// Home Assistant's debug record: the creation frames follow the message, the first one glued
/// to it; a copy from the web UI loses their indentation.
const HA_DEBUG: &str = "2024-02-12 18:05:56.888 ERROR (Recorder) [homeassistant] Error doing job: Unclosed client session:   File \"<frozen runpy>\", line 198, in _run_module_as_main
  File \"/usr/src/homeassistant/homeassistant/__main__.py\", line 223, in <module>
    sys.exit(main())
  File \"/usr/src/homeassistant/homeassistant/components/hue/__init__.py\", line 22, in async_setup_entry
    session = aiohttp.ClientSession()
2024-02-12 18:05:57.001 INFO (MainThread) [homeassistant.core] next
";

#[test]
fn home_assistant_debug_records_name_the_integration_indented_or_not() {
    let unindented: String = HA_DEBUG
        .lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect::<String>()
        .replace("session:   File", "session: File");
    for (form, url, input) in [
        (
            "HA log file, --debug",
            "https://github.com/home-assistant/core/issues/109722",
            HA_DEBUG.to_string(),
        ),
        (
            "HA UI copy without indentation",
            "https://github.com/ualex73/monitor_docker/issues/146",
            unindented,
        ),
    ] {
        let v = common::scan_stdin_json(&input);
        assert_eq!(hand(&v), Hand(1, 0, 0, 1, 1, 0, 0), "{form} ({url})");
        let site = &v["sites"][0];
        assert_eq!(
            site["site"], "/usr/src/homeassistant/homeassistant/components/hue/__init__.py:22",
            "{form}"
        );
        assert_eq!(site["code"], "session = aiohttp.ClientSession()", "{form}");
    }
}

#[test]
fn a_traceback_cut_part_way_names_no_site_of_its_own_and_pairs_by_adjacency() {
    // A paste that stops inside the session's traceback, in the middle of a frame line, then
    // the connector's block: one finding, marked cut, never a shared connector.
    let long = two_leaks();
    let mut s = long[..10].join("\n");
    s += "\n  File \"/app/perc\n";
    s += &long[21..47].join("\n");
    s += "\n";
    let v = common::scan_stdin_json(&s);
    assert_eq!(hand(&v), Hand(1, 1, 0, 0, 1, 1, 1));
    assert_eq!(v["totals"]["truncated"], 1);
    assert_eq!(v["sites"][0]["pattern"], "one session per call");
}
