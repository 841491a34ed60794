"""Home Assistant fixtures: runs the real `hass` (venv ha-py313) on a temporary
config dir holding config/configuration.yaml and the two custom integrations
in config/custom_components/, against a local aiohttp.web upstream on
127.0.0.1, stops it with SIGTERM, and writes samples/logs/<name>.log and
<name>.truth.json.  Opt-in from generate.sh (HA=1 or a homeassistant_* name).

Usage: python run_ha.py VENVS_DIR [fixture-name ...]

The log is hass's own stderr, captured line by line; HA writes the same lines
to <config>/home-assistant.log (checked below).  Paths are rewritten to the
layout of the official HA container: the config dir -> /config/, the
homeassistant package -> /usr/src/homeassistant/homeassistant/, other installed
packages -> /usr/local/lib/python3.13/site-packages/, the interpreter and the
standard library -> /usr/local/ (paths.py).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.dirname(HERE)
SAMPLES = os.path.dirname(GEN)
REPO = os.path.dirname(SAMPLES)
LOGS = os.path.join(SAMPLES, "logs")
sys.path.insert(0, GEN)

import common  # noqa: E402
import paths  # noqa: E402

VENV = "ha-py313"
PYVER = "3.13.0"
RUN_AFTER_FIRST_BLOCK = 12.0   # seconds of polling after the first leak report
FIXTURES = [
    dict(name="homeassistant_debug", args=["--debug"],
         notes="hass --debug: asyncio debug mode, so each report carries its creation frames "
               "(traceback.format_list) after the header; the first frame starts on the header line."),
    dict(name="homeassistant_nodebug", args=[],
         notes="hass without --debug: one header line per report, no frames, no body."),
]


def pinned(pkg):
    for line in open(os.path.join(GEN, "requirements-ha-py313.txt")):
        name, _, ver = line.strip().partition("==")
        if name.lower() == pkg.lower():
            return ver
    return None


class HaPaths:
    """HA container layout first, then the generic rules of paths.py."""

    def __init__(self, cfg, venv):
        site = os.path.join(venv, "lib", "python3.13", "site-packages")
        rules = []
        for real, repl in ((os.path.join(site, "homeassistant"), "/usr/src/homeassistant/homeassistant/"),
                           (site, "/usr/local/lib/python3.13/site-packages/"),
                           (os.path.join(venv, "bin"), "/usr/local/bin/"),
                           (cfg, "/config/")):
            for p in {real, os.path.realpath(real)}:
                rules.append((p.rstrip("/") + "/", repl))
        self.rules = sorted(set(rules), key=lambda r: -len(r[0]))
        self.generic = paths.Rewriter(REPO, venv, os.path.join(venv, "bin", "python"))

    def __call__(self, text):
        if not isinstance(text, str):
            return text
        for p, r in self.rules:
            text = text.replace(p, r)
        return self.generic(text)

    def obj(self, o):
        return paths.map_strings(o, self)


def run_hass(fx, venv, cfg, truth_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONASYNCIODEBUG", "PYTHONTRACEMALLOC", "PYTHONWARNINGS", "PYTHONDEVMODE")}
    env.update(UNCLOSED_HA_GEN=HERE, TRUTH_OUT=truth_path, PYTHONUNBUFFERED="1",
               PYTHONDONTWRITEBYTECODE="1")
    cmd = [os.path.join(venv, "bin", "hass"), "-c", cfg] + fx["args"]
    p = subprocess.Popen(cmd, env=env, cwd=cfg, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines, lock = [], threading.Lock()
    first = []

    def pump(fh, name):
        for raw in iter(fh.readline, b""):
            t = time.time()
            text = raw.decode("utf-8", "replace").rstrip("\n")
            with lock:
                lines.append((t, name, text))
                if not first and "Error doing job: Unclosed" in text:
                    first.append(t)

    ts = [threading.Thread(target=pump, args=(p.stdout, "stdout")),
          threading.Thread(target=pump, args=(p.stderr, "stderr"))]
    for t in ts:
        t.start()
    t0 = time.time()
    while p.poll() is None:
        time.sleep(0.2)
        if first and time.time() - first[0] >= RUN_AFTER_FIRST_BLOCK:
            break
        if time.time() - t0 > 240:
            break
    stopped_by = None
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        stopped_by = "SIGTERM"
    try:
        rc = p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
        stopped_by = "SIGKILL after SIGTERM"
    for t in ts:
        t.join()
    lines.sort(key=lambda x: x[0])
    return lines, rc, stopped_by, time.time() - t0


def make(fx, venvs, tmp, upstream):
    name = fx["name"]
    venv = os.path.join(venvs, VENV)
    cfg = tempfile.mkdtemp(prefix="ha-config-")
    try:
        shutil.copytree(os.path.join(HERE, "config"), cfg, dirs_exist_ok=True)
        cy = os.path.join(cfg, "configuration.yaml")
        text = open(cy).read().replace("UPSTREAM", upstream)
        with open(cy, "w") as fh:
            fh.write(text)
        tpath = os.path.join(tmp, name + ".raw.json")
        if os.path.exists(tpath):
            os.remove(tpath)
        lines, rc, stopped_by, secs = run_hass(fx, venv, cfg, tpath)
        # hass writes the same lines to <config>/home-assistant.log
        filelog = open(os.path.join(cfg, "home-assistant.log"), errors="replace").read().split("\n")
        stderr = [x for _, s, x in lines if s == "stderr"]
        same_as_file = filelog[:len(stderr)] == stderr
        rw = HaPaths(cfg, venv)
        if not os.path.exists(tpath):
            raise SystemExit("%s: no truth written (rc %s); last lines:\n%s" % (
                name, rc, "\n".join(x for _, _, x in lines[-30:])))
        raw = rw.obj(json.load(open(tpath)))
    finally:
        shutil.rmtree(cfg, ignore_errors=True)
    out = [rw(x) for _, _, x in lines]
    notes = [fx["notes"],
             "Home Assistant %s logs the loop's exception handler through logger `homeassistant` "
             "(homeassistant/runner.py) as `Error doing job: <message> (<task>)`, with `: ` and the "
             "creation frames when the context has a source_traceback; the context's other keys "
             "(client_session:, connections:, connector:) are dropped, so no connector's pool is "
             "countable: findings with a connector are `unknown`, their pools are in "
             "hidden_pooled_connections; a session alone (shared connector, connector_owner=False) "
             "is `noise`." % pinned("homeassistant"),
             "Stopped by %s after %.0f s; stderr %s <config>/home-assistant.log." % (
                 stopped_by or "itself", secs, "is identical to" if same_as_file else "DIFFERS from")]
    if raw["site_mismatches"]:
        notes.append("site mismatch: %s" % raw["site_mismatches"])
    if raw.get("late_events"):
        notes.append("%d __del__ ran after truth.finish()" % raw["late_events"])
    truth = {
        "fixture": name,
        "script": "samples/gen/homeassistant/config/custom_components/{percall_poller,shared_pool}/__init__.py",
        "aiohttp": pinned("aiohttp"),
        "python": PYVER,
        "homeassistant": pinned("homeassistant"),
        "loop": "asyncio",
        "envelope": "homeassistant",
        "settings": {"hass_args": " ".join(fx["args"]) or None, "log_style": "homeassistant",
                     "logger_default": "warning"},
        "shows_sites": raw["shows_sites"],
        "totals": raw["totals"],
    }
    if raw["shows_sites"]:
        truth["sites"] = sorted(raw["sites"], key=lambda s: s["site"])
    if raw.get("hidden_pooled_connections"):
        truth["hidden_pooled_connections"] = raw["hidden_pooled_connections"]
    truth["exit_code"] = rc
    truth["notes"] = " ".join(notes)
    text = "\n".join(out) + "\n"
    paths.write_fixture(LOGS, name, text, truth, raw, tmp)
    return truth, len(text)


def main():
    venvs = sys.argv[1]
    only = set(sys.argv[2:])
    tmp = os.path.join(venvs, "work")
    os.makedirs(tmp, exist_ok=True)
    upstream = common.start_server_thread(1)[0]
    for fx in FIXTURES:
        if only and fx["name"] not in only:
            continue
        t0 = time.time()
        truth, size = make(fx, venvs, tmp, upstream)
        print("%-32s %6d bytes %5.1fs %s hidden %s" % (fx["name"], size, time.time() - t0, truth["totals"],
                                                      truth.get("hidden_pooled_connections", 0)), flush=True)


if __name__ == "__main__":
    main()
