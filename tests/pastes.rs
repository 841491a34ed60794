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

// Forms checked in a second survey of public threads (forms not above), each rebuilt from a
// committed fixture's real blocks.

/// A fixture's lines from `from` (1-based), `n` of them, with `ERROR:asyncio:` taken off.
fn fixture_lines(name: &str, from: usize, n: usize) -> Vec<String> {
    let log = std::fs::read_to_string(common::samples().join(name)).unwrap();
    log.lines()
        .skip(from - 1)
        .take(n)
        .map(|l| l.strip_prefix("ERROR:asyncio:").unwrap_or(l).to_string())
        .collect()
}

/// Two findings in aiohttp 3.10's list form, no tracebacks (samples/logs/list_percall_basic.log).
fn two_leaks_list() -> Vec<String> {
    fixture_lines("list_percall_basic.log", 1, 10)
}

/// One `Unclosed response` L block as aiohttp prints it without its traceback: header, repr,
/// headers, the empty line (samples/logs/unread_debug_wdefault.log).
fn response_block() -> Vec<String> {
    fixture_lines("unread_debug_wdefault.log", 30, 4)
}

fn totals(input: &str) -> Value {
    common::scan_stdin_json(input)["totals"].clone()
}

#[test]
fn unclosed_responses_back_to_back_after_program_output() {
    let url = "https://github.com/aio-libs/aiobotocore/issues/68";
    let mut s = String::from("file_A.json 1250\nfile_B.json 38679\n");
    for _ in 0..3 {
        s += &lines(&response_block(), str::to_string);
    }
    let t = totals(&s);
    assert_eq!(
        (
            &t["findings"],
            &t["leak"],
            &t["responses"],
            &t["unread_mentions"]
        ),
        (&3.into(), &3.into(), &3.into(), &0.into()),
        "{url}\n{s}"
    );
}

#[test]
fn a_prefix_with_pid_and_thread_and_a_backtick_before_the_first_line() {
    // `%(asctime)s %(process)d %(threadName)s: ` on each record, the paste opened by one `.
    let mut s = String::from("`");
    for l in two_leaks_short() {
        let p = "2018-03-18 22:08:53,864 456855 MainThread: ";
        s += &if l.starts_with("Unclosed") {
            format!("{p}{l}\n")
        } else {
            format!("{l}\n")
        };
    }
    check(
        "asctime pid thread prefix",
        "https://github.com/desbma/sacad/issues/19",
        &s,
        TWO_LEAKS,
    );
}

#[test]
fn another_loggers_records_between_the_blocks() {
    let short = two_leaks_short();
    let pre = |l: &str| {
        if l.starts_with("Unclosed") {
            format!("[asyncio] ERROR: {l}")
        } else {
            l.to_string()
        }
    };
    let mut s = String::from("[custom_logger] DEBUG: Recording exception: None\n");
    s += &lines(&short[..2], pre);
    s += "[custom_logger] DEBUG: Stopping async execution\n";
    s += &lines(&short[5..], pre);
    // The first session is cut from its connector by a record: alone, as a reader counts it.
    check(
        "records of another logger between",
        "https://github.com/Pycord-Development/pycord/issues/2399",
        &s,
        Hand(2, 1, 1, 0, 2, 1, 1),
    );
}

#[test]
fn a_bare_level_prefix_and_two_pool_keys_with_32_bit_addresses() {
    let s = "ERROR: Unclosed connector\nconnections: ['[(<aiohttp.client_proto.ResponseHandler object at 0x7573b650>, 2439645.265701343)]', '[(<aiohttp.client_proto.ResponseHandler object at 0x74c77c70>, 2439645.441812254)]']\nconnector: <aiohttp.connector.TCPConnector object at 0x75730eb0>\n\n";
    // Hand-made from list_percall_basic.log's connector with the addresses of a 32-bit ARM board.
    check(
        "ERROR: prefix, 2 keys",
        "https://github.com/tulir/fbchat-asyncio/issues/21",
        s,
        Hand(1, 1, 0, 0, 0, 1, 2),
    );
}

#[test]
fn windows_addresses_and_a_connector_header_cut_at_the_end() {
    // 16 upper-case hex digits, 3 decimals, and the paste stops after a connector's header.
    let win = |l: &str| {
        l.replace("0x7f70a4", "0x000001B607")
            .replace(".078263051", ".562")
            .replace(".088148686", ".343")
    };
    let mut s = lines(&two_leaks_list(), win);
    s += &lines(&two_leaks_list()[..3], win);
    check(
        "Windows, cut connector",
        "https://github.com/GravelFire/CatsGangBot/issues/4",
        &s,
        Hand(3, 2, 0, 1, 3, 3, 2),
    );
}

#[test]
fn loguru_records_of_the_program_around_bare_blocks() {
    let mut s = String::from(
        "2023-02-13 12:54:07.243 | SUCCESS  | App.Telegram:run:187 - APP:Telegram Bot Start\n",
    );
    s += &lines(&two_leaks_list()[..5], str::to_string);
    s += "2023-02-13 13:49:35.712 | INFO     | __main__:<module>:25 - NEWS Channel\n";
    check(
        "loguru lines around",
        "https://github.com/LlmKira/Openaibot/issues/174",
        &s,
        Hand(1, 1, 0, 0, 1, 1, 1),
    );
}

#[test]
fn a_session_under_prose_and_a_dashed_rule_with_a_64_bit_windows_address() {
    let short = two_leaks_short();
    let s = format!(
        "it loads for 10 minutes then it says this\n\n--------------------------\n{}\n{}\n",
        short[0],
        short[1].replace("0x7ffa63c5dc70", "0x000000CFCF78BBE0")
    );
    check(
        "prose, rule, Windows address",
        "https://github.com/appu1232/Discord-Selfbot/issues/400",
        &s,
        Hand(1, 0, 1, 0, 1, 0, 0),
    );
}

#[test]
fn each_line_in_its_own_code_span_with_a_redacted_address() {
    let short = two_leaks_short();
    let s = format!(
        "An http client session is not being closed.\n\n`{}`\n`{}`\n",
        short[0],
        short[1].replace("0x7ffa63c5dc70", "0x[address]")
    );
    check(
        "code span per line",
        "https://github.com/pelotron/GrindBot/issues/1",
        &s,
        Hand(1, 0, 1, 0, 1, 0, 0),
    );
}

#[test]
fn asctime_level_and_name_without_a_colon() {
    let short = two_leaks_short();
    let s = format!(
        "2016-09-14 18:42:28,511 ERROR asyncio {}\n{}\n",
        short[0], short[1]
    );
    check(
        "asctime level name",
        "https://github.com/slackapi/python-slack-sdk/issues/645",
        &s,
        Hand(1, 0, 1, 0, 1, 0, 0),
    );
}

#[test]
fn an_unclosed_connection_in_a_fence() {
    let mut s = String::from("```\n");
    s += &lines(
        &fixture_lines("list_connection_debug.log", 1, 2),
        str::to_string,
    );
    s += "```\n\nWhen running the test with the tester, this log is displayed.\n";
    let t = totals(&s);
    assert_eq!(
        (
            &t["findings"],
            &t["leak"],
            &t["connections"],
            &t["unread_mentions"]
        ),
        (&1.into(), &1.into(), &1.into(), &0.into()),
        "https://github.com/lablup/backend.ai/issues/5315\n{s}"
    );
}

#[test]
fn a_heroku_drain_around_a_dashed_logging_format() {
    let short = two_leaks_short();
    let app = "2022-10-16T03:24:56.254515+00:00 app[web.1]: ";
    let s = format!(
        "{app}2022-10-16 03:24:56,254 - asyncio - ERROR - {}\n{app}{}\n2022-10-16T03:24:56.496315+00:00 heroku[web.1]: Process exited with status 1\n2022-10-16T03:24:56.566790+00:00 heroku[web.1]: State changed from up to crashed\n",
        short[0], short[1]
    );
    check(
        "Heroku + dashed format",
        "https://github.com/SilentDemonSD/WZML-X/issues/12",
        &s,
        Hand(1, 0, 1, 0, 1, 0, 0),
    );
}

#[test]
fn an_orphan_continuation_line_before_a_whole_block() {
    // The paste starts one line into a session block: what a reader counts for sure is the
    // connector's leak after it; the orphan line is no noise.
    let short = two_leaks_short();
    let s = lines(&short[1..5], str::to_string);
    let t = totals(&s);
    assert_eq!(
        (&t["leak"], &t["noise"], &t["pooled_connections"]),
        (&1.into(), &0.into(), &1.into()),
        "https://github.com/shamhi/HamsterKombatBot/issues/226\n{s}"
    );
}

#[test]
fn redacted_addresses_and_times() {
    let short = two_leaks_short();
    let redact = |l: &str| {
        let mut out = String::new();
        let mut rest = l;
        while let Some(at) = rest.find("0x") {
            out += &rest[..at + 2];
            out += "...";
            rest = rest[at + 2..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
        }
        out += rest;
        out.replace("8194.964655556", "...")
    };
    check(
        "redacted",
        "https://github.com/epam/statgpt-backend/issues/458",
        &lines(&short[..5], redact),
        Hand(1, 1, 0, 0, 1, 1, 1),
    );
}

#[test]
fn an_exception_handler_that_appends_json_to_the_last_line() {
    let short = two_leaks_short();
    let mut v: Vec<String> = short[..5].to_vec();
    v[4] += " {\"pid\": 4711, \"job_id\": \"AJ_x\"}";
    check(
        "JSON after the last repr",
        "https://github.com/livekit/agents/issues/2666",
        &lines(&v, str::to_string),
        Hand(1, 1, 0, 0, 1, 1, 1),
    );
}

#[test]
fn header_and_key_glued_in_an_inline_code_span() {
    // A rendered page lost the line break: `Unclosed client sessionclient_session: <…>`.
    // Read as the two lines it was: a session with no connector after it.
    let short = two_leaks_short();
    let s = format!(
        "I run into this error: `{}{}`, I have followed all the instructions.\n",
        short[0], short[1]
    );
    check(
        "header glued to its key",
        "https://github.com/belguawhale/Discord-Werewolf/issues/30",
        &s,
        Hand(1, 0, 1, 0, 1, 0, 0),
    );
    // Each header glued to its first key, the other lines kept: both findings as printed.
    let glued: String = short[..10]
        .iter()
        .map(|l| {
            if l.starts_with("Unclosed") {
                l.clone()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    check(
        "every header glued to its key",
        "https://github.com/belguawhale/Discord-Werewolf/issues/30",
        &glued,
        TWO_LEAKS,
    );
}

#[test]
fn a_title_with_the_repr_lost_its_angle_brackets() {
    // Never a silent zero: a mention the tool cannot read as a block is said.
    let s = "telegram.error.Unauthorized: Unauthorized : asyncio - ERROR - Unclosed client session :aiohttp.client.ClientSession object at 0x7f4d6c6696c0\n";
    let t = totals(s);
    assert!(
        t["unread_mentions"] == 1 || t["unknown"] == 1,
        "https://github.com/SilentDemonSD/WZML-X/issues/12: {t}"
    );
    assert_eq!((&t["leak"], &t["noise"]), (&0.into(), &0.into()));
}

#[test]
fn sessions_between_the_programs_own_output_with_32_bit_windows_addresses() {
    let short = two_leaks_short();
    let mut s = String::from("PS C:\\Users\\me\\Desktop> .\\test.py\n");
    for addr in ["0x040C79D0", "0x0376CD90"] {
        s += &short[0];
        s += "\n";
        s += &short[1].replace("0x7ffa63c5dc70", addr);
        s += "\nReceived 3362 bytes\nReceived 1580 bytes\n";
    }
    check(
        "program output between, Windows 32-bit",
        "https://github.com/aio-libs/aiohttp/issues/2044",
        &s,
        Hand(2, 0, 2, 0, 2, 0, 0),
    );
}
