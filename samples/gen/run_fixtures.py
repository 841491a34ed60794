"""Runs every scenario program under its settings, captures its real output
(per line: arrival time, stream), wraps it in the fixture's envelope and
writes samples/logs/<name>.log (+ .log.gz for one) and <name>.truth.json.

Usage: python run_fixtures.py VENVS_DIR [fixture-name ...]
"""
import json
import os
import subprocess
import sys
import threading
import time

import envelopes as E
import paths

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.dirname(HERE)
REPO = os.path.dirname(SAMPLES)
LOGS = os.path.join(SAMPLES, "logs")

VENVS = {
    "A": ("py312-aio313", "3.12.1", "3.13.5"),
    "B": ("py311-aio310", "3.11.7", "3.10.11"),
    "C": ("py313-aio311", "3.13.0", "3.11.18"),
    "D": ("py313-aio313", "3.13.0", "3.13.5"),
    "L2": ("py312-litellm172", "3.12.1", "3.12.15"),
    "L4": ("py313-litellm174", "3.13.0", "3.12.15"),
    "X": ("py313-libs", "3.13.0", "3.12.15"),
    "Y": ("py312-cloud", "3.12.1", "3.14.5"),
    "S": ("py311-sentry", "3.11.7", "3.14.5"),
}
# the third-party library a fixture's program drives (recorded in the truth's settings)
LIBRARY = {"L2": "litellm 1.72.6", "L4": "litellm 1.74.9"}
LITELLM = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # never fetch the cost map
DEBUG = {"PYTHONASYNCIODEBUG": "1"}
WDEF = ["-W", "default::ResourceWarning"]
TM = {"PYTHONTRACEMALLOC": "25"}


def F(name, venv, script, envelope, env=None, wopts=None, style="bare", notes="", **kw):
    d = dict(name=name, venv=venv, script=script, envelope=envelope, env=env or {},
             wopts=wopts or [], style=style, notes=notes)
    d.update(kw)
    return d


FIXTURES = [
    F("percall_debug_bare", "A", "percall.py", "bare", DEBUG),
    F("percall_realistic_asctime", "A", "percall.py", "logging", {"ACCESS_LOG": "1"}, style="asctime",
      notes="Realistic service log: app INFO lines and aiohttp.access lines of the local upstream interleaved with the blocks (debug off: no call sites)."),
    F("percall_wdefault_debug", "A", "percall.py", "bare", DEBUG, WDEF,
      notes="-W default: each object's W block precedes its L block."),
    F("percall_tracemalloc", "A", "percall.py", "bare", TM, WDEF,
      notes="Call sites only from tracemalloc 'Object allocated at' in W blocks (debug off)."),
    F("noise_basic_debug", "A", "noise.py", "logging", DEBUG, style="basic"),
    F("unread_debug_wdefault", "A", "unread.py", "logging", DEBUG, WDEF, style="basic"),
    F("unread_nodebug", "A", "unread.py", "bare", {},
      notes="Same program as unread_debug_wdefault without debug mode: aiohttp prints no 'Unclosed response', only the sessions."),
    F("asyncio_run_debug", "A", "asyncio_run.py", "bare", DEBUG),
    F("shared_connector_debug", "A", "shared.py", "logging", DEBUG, style="asctime"),
    F("correct_code", "A", "correct.py", "logging", DEBUG, style="asctime"),
    F("bigpool_docker_json", "A", "bigpool.py", "docker-json", {}),
    F("bigpool_cri_partial", "A", "bigpool.py", "cri", {}, cri_split=8192, cri_z="+00:00",
      notes="CRI-O/conmon style: fixed 9-digit fraction, '+00:00' offset, lines over 8192 bytes split into P pieces."),
    F("percall_uvloop_debug", "A", "percall.py", "bare", dict(DEBUG, LOOP="uvloop"), loop="uvloop"),
    F("percall_werror", "A", "percall.py", "bare", {}, ["-W", "error::ResourceWarning"],
      notes="-W error::ResourceWarning: 'Exception ignored in:' form; L blocks never printed, connectors' pooled counts hidden (see hidden_pooled_connections)."),
    F("percall_loguru", "A", "percall.py", "loguru", DEBUG, style="loguru"),
    F("uvicorn_leak", "A", "uvicorn_app.py", "uvicorn", DEBUG, loop="uvloop",
      notes="uvicorn 0.54 (loop=auto picks uvloop, run through asyncio.run(loop_factory=...)): PYTHONASYNCIODEBUG=1 IS honoured here, so the blocks carry source_traceback (no asyncio base_events frames: uvloop's are C). Blocks go bare through logging.lastResort between uvicorn's own INFO lines."),
    F("percall_json_logger", "A", "percall.py", "json-logger", DEBUG, style="json-logger"),
    F("percall_structlog", "A", "percall.py", "structlog", DEBUG, style="structlog"),
    F("pytest_captured_log", "A", "pytest", "pytest", DEBUG),
    F("pytest_warnings_summary", "A", "pytest", "pytest", DEBUG, WDEF),
    F("percall_docker_timestamps", "A", "percall.py", "docker-timestamps", DEBUG),
    F("percall_cri", "A", "percall.py", "cri", dict(DEBUG, APP_STDOUT="1"), style="basic",
      notes="containerd style CRI lines; app INFO lines on stdout, asyncio's blocks on stderr."),
    F("percall_journald_short", "A", "percall.py", "journald-short", DEBUG, style="basic",
      notes="stderr piped to journald (one entry per line), journalctl -o short."),
    F("percall_journald_short_iso", "A", "percall.py", "journald-short-iso", DEBUG, style="journal",
      notes="native journal entries (JournalHandler-like, one entry per record), journalctl -o short-iso: continuation lines indented."),
    F("percall_journald_json", "A", "percall.py", "journald-json", DEBUG, style="journal",
      notes="native journal entries, journalctl -o json: the whole block in MESSAGE."),
    F("percall_heroku", "A", "percall.py", "heroku", DEBUG, gzip=True),
    F("percall_pm2", "A", "percall.py", "pm2", DEBUG, style="basic"),
    F("ci_pytest_then_docker", "A", "ci", "ci-mixed", DEBUG,
      notes="CI job log: a real pytest run (debug on: call sites), then `docker logs --timestamps` of a service container running shared.py (debug off: its 6 findings have no call site and are not in sites)."),
    F("list_percall_debug_wdefault", "B", "percall.py", "bare", DEBUG, WDEF,
      notes="aiohttp 3.10.11: connections printed in the old list form. Python 3.11: tracemalloc never applies."),
    F("list_percall_basic", "B", "percall.py", "logging", {}, style="basic"),
    F("list_shared_debug", "B", "shared.py", "bare", DEBUG),
    F("list_unread_debug", "B", "unread.py", "logging", DEBUG, style="asctime"),
    F("aio311_tracemalloc_debug", "C", "percall.py", "bare", dict(DEBUG, **TM), WDEF,
      notes="aiohttp 3.11.18 (deque form), Python 3.13: W blocks with tracemalloc frames and L blocks with source_traceback."),
    F("connection_debug_wdefault", "A", "connection.py", "bare", DEBUG, WDEF,
      notes="Unclosed connection: connections acquired by hand with connector.connect() and never released."),
    F("list_connection_debug", "B", "connection.py", "logging", DEBUG, style="basic"),
    # logging libraries really run (venv D: Python 3.13, aiohttp 3.13.5, rich, structlog,
    # loguru, python-json-logger), asyncio debug on
    F("rich_handler_debug", "D", "percall.py", "rich", DEBUG, style="rich",
      notes="rich 15.0.0 RichHandler on stdout, COLUMNS=100, no TTY (no colour): time and level columns on the "
            "left, the message re-wrapped at spaces into a column about 60 characters wide (long words folded), "
            "`base_events.py:NNNN` right-aligned on the record's first line; every continuation line is padded "
            "with spaces to the full width. Paths were rewritten to the container layout before rich wrapped them."),
    F("structlog_console_ansi", "D", "percall.py", "structlog-console", DEBUG, style="structlog-console",
      notes="structlog 26.1.0 ConsoleRenderer(colors=True) through ProcessorFormatter: ANSI sequences around the "
            "time, the level and the message; ` [asyncio]` follows the block's LAST line (the message is one "
            "multi-line event)."),
    F("loguru_default_debug", "D", "percall.py", "loguru", DEBUG, style="loguru-doc",
      notes="loguru 0.7.3 default sink format with the InterceptHandler of loguru's README (frame walk): "
            "`asyncio.base_events:default_exception_handler:NNNN - ` before the message's first line."),
    F("loguru_serialize_debug", "D", "percall.py", "loguru-json", DEBUG, style="loguru-json",
      notes="loguru 0.7.3 serialize=True: one JSON object per record; `text` holds the formatted record "
            "(with its final \\n) and `record.message` the block again: each block is in the line twice."),
    F("structlog_json_cri", "D", "percall.py", "cri", DEBUG, style="structlog",
      notes="structlog JSONRenderer lines (one per record, block in `event` with \\n) inside containerd CRI lines on stderr."),
    F("json_logger_docker_json", "D", "percall.py", "docker-json", DEBUG, style="json-logger",
      notes="python-json-logger lines (block in `message`) inside Docker json-file: the record's JSON is the "
            "`log` string of Docker's JSON, escaped twice (\\\\n, \\\", and \\u003c/\\u003e from Go)."),
    F("split_wdefault_json_cri", "D", "percall.py", "cri", DEBUG, WDEF, style="json-stdout",
      notes="Split channels: -W default::ResourceWarning W blocks raw on stderr, asyncio's records through "
            "python-json-logger on stdout; both inside CRI lines (stream stdout/stderr). Each object appears "
            "once per channel; the truth counts it once."),
    F("compose_asctime_debug", "D", "percall.py", "compose", DEBUG, style="asctime",
      notes="`docker compose logs` (no TTY): `api-1  | ` on every line of a logging asctime run."),
    F("kubectl_prefix_basic_debug", "D", "percall.py", "kubectl-prefix", DEBUG, style="basic",
      notes="`kubectl logs --prefix`: `[pod/api-7d9f5c8b6d-k2xjq/api] ` on every line of a logging.basicConfig run."),
    # LiteLLM (issues #11657 and #13251): sessions built by LiteLLM's factory lambda
    F("litellm172_embedding_debug", "L2", "litellm_embedding.py", "bare", dict(DEBUG, **LITELLM),
      held_by="LiteLLM's module-level async client",
      notes="LiteLLM #11657: sync litellm.embedding(ollama/...) per document (asyncio.run inside LiteLLM) and asyncio.run(aembedding) per query; each new loop makes LiteLLM's transport build a new session from its factory lambda and drop the old one unclosed."),
    F("litellm172_embedding_nodebug", "L2", "litellm_embedding.py", "bare", dict(LITELLM),
      held_by="LiteLLM's module-level async client",
      notes="Same program as litellm172_embedding_debug without debug mode: no call sites."),
    F("litellm174_embedding_debug", "L4", "litellm_embedding.py", "bare", dict(DEBUG, **LITELLM),
      held_by="LiteLLM's module-level async client",
      notes="LiteLLM #11657 usage on 1.74.9: the sync ollama embedding no longer leaks; the asyncio.run(aembedding) per query still does."),
    F("litellm172_acompletion_debug", "L2", "litellm_acompletion.py", "bare", dict(DEBUG, **LITELLM),
      held_by="LiteLLM's cached async HTTP client",
      notes="LiteLLM #13251: 60 acompletion calls under asyncio.Semaphore(20) in one asyncio.run; the cached client's session (up to 20 pooled connections) is finalized unclosed at interpreter exit."),
    F("litellm172_acompletion_cri", "L2", "litellm_acompletion.py", "cri",
      dict(DEBUG, APP_STDOUT="1", **LITELLM), style="basic",
      held_by="LiteLLM's cached async HTTP client",
      notes="litellm172_acompletion_debug in a container: containerd style CRI lines, app INFO lines on stdout, LiteLLM's own output and asyncio's blocks on stderr."),
    F("litellm174_acompletion_debug", "L4", "litellm_acompletion.py", "bare", dict(DEBUG, **LITELLM),
      held_by="LiteLLM's cached async HTTP client",
      notes="LiteLLM #13251 usage on 1.74.9: LiteLLM's atexit cleanup closes its cached clients, nothing is printed."),
    # third-party libraries that build sessions in other shapes (one venv, py313-libs)
    F("gql_percall_debug", "X", "lib_gql.py", "bare", DEBUG, library="gql 4.4.0",
      notes="gql AIOHTTPTransport: Client.connect_async() per call, never close_async(); session built in AIOHTTPTransport.connect()."),
    F("elasticsearch_percall_debug", "X", "lib_elasticsearch.py", "bare", DEBUG,
      library="elasticsearch 9.5.1, elastic-transport 9.4.2",
      notes="AsyncElasticsearch per request, never closed. elastic-transport builds the TCPConnector inside ClientSession(...)'s argument list, so the connector exists before the session; the cycle collector finalizes the connector first, the session then counts as closed and prints nothing: lone connector blocks (docs/formats.md §5)."),
    F("aiohttp_retry_percall_debug", "X", "lib_aiohttp_retry.py", "bare", DEBUG, library="aiohttp-retry 2.9.1",
      notes="RetryClient per call, never closed; the session is built in RetryClient.__init__."),
    F("openai_aiohttp_percall_debug", "X", "lib_openai_aiohttp.py", "bare", DEBUG,
      library="openai 2.46.0, httpx-aiohttp 0.2.0",
      notes="AsyncOpenAI(http_client=DefaultAioHttpClient()) per call, never closed. httpx-aiohttp creates the TCPConnector a few statements before ClientSession(connector=connector): connector first, so only lone connector blocks are printed (the session counts as closed once its connector was finalized)."),
    F("client_cache_percall_debug", "X", "lib_client_cache.py", "bare", DEBUG, library="aiohttp-client-cache 0.15.0",
      notes="CachedSession (a ClientSession subclass) per call, never closed; the log names the subclass aiohttp_client_cache.session.CachedSession."),
    # cloud SDKs (venv py312-cloud, aiohttp 3.14.5)
    F("aiobotocore_percall_debug", "Y", "lib_aiobotocore.py", "bare", DEBUG, library="aiobotocore 3.10.0",
      notes="An S3 client entered per call and never exited. aiobotocore's _get_session builds its connector (a TCPConnector subclass) in the helper _create_connector, then passes it to ClientSession(connector=...): the session owns it, and each session block is followed by its connector's."),
    F("gcp_structured_wdefault", "Y", "asyncio_run.py", "bare", {}, WDEF, style="gcp",
      library="google-cloud-logging 3.17.0",
      notes="google-cloud-logging StructuredLogHandler (Cloud Run / GKE structured JSON) with -W default: W blocks raw "
            "on stderr, records as JSON lines. The handler's diagnostic record comes between the first W block and "
            "its own L block."),
    F("azure_percall_debug", "Y", "lib_azure.py", "bare", DEBUG, library="azure-core 1.41.0",
      notes="AsyncPipelineClient + AioHttpTransport per call, never closed. The creation tracebacks go through the pipeline's recursive policy chain: Python prints `[Previous line repeated 1 more time]` inside them."),
    # sentry-sdk with debug=True and a DSN nobody answers: its worker thread's lines
    F("sentry_percall_nodebug", "S", "sentry_percall.py", "bare", {}, library="sentry-sdk 2.75.0",
      notes="sentry_sdk.init(debug=True) with a DSN on a closed local port, no asyncio debug: sentry's "
            "background worker writes `[sentry] DEBUG: Sending envelope ...` and `[sentry] ERROR: Internal "
            "error in sentry_sdk` with urllib3's chained traceback (68 non-empty lines) whenever it gets the "
            "GIL, sometimes between a session's block and its connector's. Such a session cannot be told from "
            "an idle one followed by an unrelated connector: the tool says unknown (see parted_sessions)."),
    F("sentry_percall_debug", "S", "sentry_percall.py", "bare", DEBUG, library="sentry-sdk 2.75.0",
      notes="sentry_percall_nodebug with asyncio debug mode: the creation tracebacks pair a session with its "
            "connector across the worker's lines (the connector's is the session's plus ClientSession.__init__); "
            "sentry's aiohttp integration wraps ClientSession.__init__, so created_in is its wrapper's line."),
]


def capture(cmd, env, cwd):
    """Run cmd; return [(time, stream, text)] in arrival order, and the pid."""
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = []
    lock = threading.Lock()

    def pump(fh, name):
        for raw in iter(fh.readline, b""):
            t = time.time()
            with lock:
                lines.append((t, name, raw.decode("utf-8", "replace").rstrip("\n")))

    ts = [threading.Thread(target=pump, args=(p.stdout, "stdout")),
          threading.Thread(target=pump, args=(p.stderr, "stderr"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    rc = p.wait(timeout=300)
    lines.sort(key=lambda x: x[0])
    return lines, p.pid, rc


def run_program(fx, venvs, truth_path, journal_path=None, script=None):
    for stale in (truth_path, journal_path):
        if stale and os.path.exists(stale):
            os.remove(stale)
    vdir, pyver, aiover = VENVS[fx["venv"]]
    py = os.path.join(venvs, vdir, "bin", "python")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONASYNCIODEBUG", "PYTHONTRACEMALLOC", "PYTHONWARNINGS", "PYTHONDEVMODE")}
    env.update(fx["env"])
    env.update(TRUTH_OUT=truth_path, LOG_STYLE=fx["style"], PYTHONUNBUFFERED="1",
               PYTHONDONTWRITEBYTECODE="1", COLUMNS="100")
    if journal_path:
        env["JOURNAL_OUT"] = journal_path
    script = script or fx["script"]
    if script == "pytest":
        cmd = [py] + fx["wopts"] + ["-m", "pytest", "-p", "no:cacheprovider"]
        cwd = os.path.join(HERE, "pytest_suite")
    else:
        cmd = [py] + fx["wopts"] + [os.path.join(HERE, script)]
        cwd = REPO
    return capture(cmd, env, cwd)


def rewriter(fx, venvs):
    """Machine paths -> container layout (paths.py), for output lines and truth."""
    vdir = os.path.join(venvs, VENVS[fx["venv"]][0])
    return paths.Rewriter(REPO, vdir, os.path.join(vdir, "bin", "python"))


def make(fx, venvs, tmp):
    name = fx["name"]
    rw = rewriter(fx, venvs)
    tpath = os.path.join(tmp, name + ".raw.json")
    jpath = os.path.join(tmp, name + ".journal.jsonl")
    env_name = fx["envelope"]
    extra_raw = None
    if env_name == "ci-mixed":
        lines, pid, rc = run_program(dict(fx, wopts=[]), venvs, tpath, script="pytest")
        lines = rw.lines(lines)
        tpath2 = os.path.join(tmp, name + ".raw2.json")
        lines2, pid2, rc2 = run_program(dict(fx, style="asctime", env={}), venvs, tpath2, script="shared.py")
        lines2 = rw.lines(lines2)
        extra_raw = rw.obj(json.load(open(tpath2)))
        out = ["##[group]Run python -m pytest -p no:cacheprovider", "python -m pytest -p no:cacheprovider"]
        out += [l[2] for l in lines]
        out += ["##[endgroup]", "##[group]Service logs",
                "+ docker logs --timestamps prices-api"]
        out += E.docker_timestamps(lines2)
        out += ["##[endgroup]", "##[error]Process completed with exit code 1."]
        scripts = ["samples/gen/pytest_suite/test_prices.py", "samples/gen/shared.py"]
    else:
        lines, pid, rc = run_program(fx, venvs, tpath, journal_path=jpath if fx["style"] == "journal" else None)
        lines = rw.lines(lines)
        scripts = ["samples/gen/pytest_suite/test_prices.py" if fx["script"] == "pytest"
                   else "samples/gen/" + fx["script"]]
        host, ident = "api-01", "pricebot"
        if env_name in ("bare", "logging", "loguru", "uvicorn", "json-logger", "structlog", "pytest",
                        "rich", "structlog-console", "loguru-json"):
            out = [l[2] for l in lines]
        elif env_name == "docker-json":
            out = E.docker_json(lines)
        elif env_name == "docker-timestamps":
            out = E.docker_timestamps(lines)
        elif env_name == "cri":
            out = E.cri(lines, split=fx.get("cri_split"), z=fx.get("cri_z", "Z"),
                        fixed=bool(fx.get("cri_split")))
        elif env_name == "journald-short":
            out = E.journald_short_stream(lines, host, ident, pid)
        elif env_name in ("journald-short-iso", "journald-json"):
            entries = [rw.obj(json.loads(l)) for l in open(jpath)]
            stream = [(t, s, x, pid) for t, s, x in lines]
            if env_name == "journald-json":
                if stream:
                    raise SystemExit("%s: unexpected stdout/stderr output with native journal" % name)
                out = E.journald_json(entries, host, ident, "pricebot.service",
                                      "3f1c2b9a8d7e4c6b9a1e2d3c4b5a6978", "b7d9e2f4a1c34e5f8a9b0c1d2e3f4a5b")
            else:
                out = E.journald_native_short(entries, host, ident, iso=True, stream_lines=stream)
        elif env_name == "heroku":
            out = E.heroku(lines)
        elif env_name == "pm2":
            out = E.pm2(lines)
        elif env_name == "compose":
            out = E.compose(lines)
        elif env_name == "kubectl-prefix":
            out = E.kubectl_prefix(lines)
        else:
            raise SystemExit("unknown envelope " + env_name)
    raw = rw.obj(json.load(open(tpath)))
    vdir, pyver, aiover = VENVS[fx["venv"]]
    settings = {
        "PYTHONASYNCIODEBUG": fx["env"].get("PYTHONASYNCIODEBUG"),
        "PYTHONTRACEMALLOC": fx["env"].get("PYTHONTRACEMALLOC"),
        "warnings": " ".join(fx["wopts"]) or None,
        "log_style": fx["style"],
    }
    if fx["env"].get("APP_STDOUT"):
        settings["app_logs_on_stdout"] = True
    if fx["env"].get("ACCESS_LOG"):
        settings["access_log"] = True
    if fx.get("library") or fx["venv"] in LIBRARY:
        settings["library"] = fx.get("library") or LIBRARY[fx["venv"]]
    totals = dict(raw["totals"])
    sites = {s["site"]: dict(s) for s in raw["sites"]}
    hidden = raw.get("hidden_pooled_connections", 0)
    shows = raw["shows_sites"]
    notes = [fx["notes"]] if fx["notes"] else []
    if extra_raw:
        for k, v in extra_raw["totals"].items():
            totals[k] += v
        for s in extra_raw["sites"]:
            cur = sites.setdefault(s["site"], {k: 0 for k in s if k not in ("site", "created_in")}
                                   | {"site": s["site"], "created_in": s["created_in"]})
            if cur["created_in"] != s["created_in"]:
                notes.append("site %s: findings created in %s and %s" % (
                    s["site"], cur["created_in"], s["created_in"]))
            for k, v in s.items():
                if k not in ("site", "created_in"):
                    cur[k] += v
        hidden += extra_raw.get("hidden_pooled_connections", 0)
        shows = shows or extra_raw["shows_sites"]
        settings["second_part"] = "shared.py, LOG_STYLE=asctime, no PYTHONASYNCIODEBUG, docker logs --timestamps"
        if raw["invisible_site_findings"] or extra_raw["invisible_site_findings"]:
            notes.append("some findings have no visible call site.")
    if raw["invisible_site_findings"] and shows:
        notes.append("%d finding(s) have no call site in the log (not in sites)" % raw["invisible_site_findings"])
    for r in [raw] + ([extra_raw] if extra_raw else []):
        late = [e for e in r["events"] if e.get("alive_at_finish")]
        if late:
            if fx.get("held_by"):
                notes.append("%d object(s) (%s) were still alive when the truth was written (held by %s) and "
                             "are finalized at interpreter exit: the truth counts them from the same __del__ "
                             "condition evaluated on the live objects; their blocks are printed at the end of "
                             "the log." % (len(late), ", ".join(sorted({e["kind"] for e in late})), fx["held_by"]))
            else:
                notes.append("%d object(s) (%s) were still alive when the truth was written (held by pytest) and "
                         "are finalized at interpreter exit, after pytest's summary: the truth counts them from "
                         "the same __del__ condition evaluated on the live objects; their W and L blocks are "
                         "printed raw at the end of the log." % (
                             len(late), ", ".join(sorted({e["kind"] for e in late}))))
        warned = [e for e in r["events"] if (e.get("L") or e.get("W_shown")) and not e.get("alive_at_finish")]
        if any(e.get("W") not in (None, "ignore") for e in warned):
            parts = []
            for kind in ("session", "connector", "response", "connection"):
                ks = [e for e in warned if e["kind"] == kind]
                if ks:
                    parts.append("%s %d/%d" % (kind, sum(1 for e in ks if e.get("W_shown")), len(ks)))
            notes.append("W blocks printed (per object kind, printed/warned): %s%s." % (
                ", ".join(parts),
                "; -W default prints a repeated text (reused address, same location) only once, the L block still appears"
                if any(not e.get("W_shown") for e in warned) else ""))
        for site, created in sorted(r.get("created_in_conflicts", {}).items()):
            notes.append("site %s: findings created in %s (created_in gives the most common)" % (
                site, ", ".join(created)))
        if r["site_mismatches"]:
            notes.append("site mismatch: %s" % r["site_mismatches"])
        if r["alive_tracked_objects"]:
            pass
        if r.get("late_events"):
            notes.append("%d __del__ ran after truth.finish()" % r["late_events"])
    truth = {
        "fixture": name,
        "script": " + ".join(scripts),
        "aiohttp": aiover,
        "python": pyver,
        "loop": fx.get("loop", "asyncio"),
        "envelope": env_name,
        "settings": settings,
        "shows_sites": shows,
        "totals": totals,
    }
    parted = sum((r.get("parted_sessions") or [] for r in [raw] + ([extra_raw] if extra_raw else [])), [])
    if parted:
        # `totals` says what the log can tell: a session followed by a connector's block after
        # a few lines of other code is unknown. The program's truth: a session parted from its
        # own connector is one leak finding with it; an idle one followed by an unrelated
        # connector is noise.
        own = raw.get("parted_own", 0) + (extra_raw.get("parted_own", 0) if extra_raw else 0)
        truth["program_totals"] = dict(totals, findings=totals["findings"] - own,
                                       unknown=totals["unknown"] - len(parted),
                                       noise=totals["noise"] + len(parted) - own)
        truth["parted_sessions"] = {"count": len(parted), "own_connector": own, "lines_between": parted}
        notes.append("%d session(s) followed by a connector's block after %s non-empty line(s) of other "
                     "code (%d of them their own connector): unknown in totals; program_totals has the "
                     "program's labels." % (len(parted), "/".join(map(str, parted)), own))
    if shows:
        truth["sites"] = sorted(sites.values(), key=lambda s: s["site"])
    if hidden:
        truth["hidden_pooled_connections"] = hidden
    truth["exit_code"] = rc
    truth["notes"] = rw(" ".join(notes))
    text = "\n".join(out) + "\n"
    paths.write_fixture(LOGS, name, text, truth, raw, tmp, gz=bool(fx.get("gzip")))
    return truth, len(text)


def main():
    venvs = sys.argv[1]
    only = set(sys.argv[2:])
    tmp = os.path.join(venvs, "work")
    os.makedirs(tmp, exist_ok=True)
    os.makedirs(LOGS, exist_ok=True)
    for fx in FIXTURES:
        if only and fx["name"] not in only:
            continue
        if not os.path.exists(os.path.join(HERE, fx["script"])) and fx["script"] not in ("pytest", "ci"):
            print("skip %s (no %s)" % (fx["name"], fx["script"]))
            continue
        t0 = time.time()
        truth, size = make(fx, venvs, tmp)
        print("%-32s %6d bytes %5.1fs %s" % (fx["name"], size, time.time() - t0, truth["totals"]), flush=True)


if __name__ == "__main__":
    main()
