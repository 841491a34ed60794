#!/usr/bin/env python3
"""The triage a user would write instead of `unclosed`, in plain line-by-line Python.

It does the same job on the benchmark's logs: finds aiohttp's warning blocks (bare text or
Kubernetes CRI lines), counts the pooled connections a connector held, pairs each session with
the connector printed right after it, labels the finding `leak` (it held connections, or it is an
unread response or unreleased connection) or `noise`, and groups findings by call site: the
innermost traceback frame outside aiohttp, asyncio and the standard library. Prints its counts
and its sites as JSON.

It is the script, not the tool: no other envelopes, no split lines, no tracemalloc or
`-W error` forms, no pairing by traceback. `bench/run.py` times it; `python3 bench/triage.py
--counts FILE` is the older counting-only script (no pairing, labels or call sites), kept to
show what the line loop alone costs.
"""
import json
import re
import sys
from collections import Counter

CRI = re.compile(r"\S+ (?:stdout|stderr) [FP] ")
FRAME = re.compile(r'  File "([^"]+)", line (\d+), in (.*)')
LIBRARY = ("/aiohttp/", "/asyncio/", "/uvloop/", "/lib/python3")
HEADERS = {
    "Unclosed client session": "session",
    "Unclosed connector": "connector",
    "Unclosed response": "response",
    "Unclosed connection": "connection",
}
KEYS = ("client_session:", "connector:", "client_response:", "connection:", "source_traceback:")


def site_of(frames):
    for path, line, function in reversed(frames):
        if not any(m in path for m in LIBRARY):
            return f"{path}:{line} in {function}"
    return "(no call site)"


class Triage:
    def __init__(self):
        self.counts = Counter()
        self.sites = {}
        self.block = None  # [kind, pooled, frames]
        self.session = None  # a session block waiting for its connector

    def finding(self, site, label, pooled):
        self.counts["findings"] += 1
        self.counts[label] += 1
        s = self.sites.setdefault(site, Counter())
        s[label] += 1
        s["pooled_connections"] += pooled

    def end_block(self):
        b, self.block = self.block, None
        if b is None:
            return
        kind, pooled, frames = b
        self.counts[kind + "s"] += 1
        self.counts["pooled_connections"] += pooled
        if kind == "session":
            self.flush_session()
            self.session = b
            return
        if kind == "connector" and self.session is not None:
            frames = self.session[2] or frames
            self.session = None
        else:
            self.flush_session()
        leak = kind in ("response", "connection") or pooled > 0
        self.finding(site_of(frames), "leak" if leak else "noise", pooled)

    def flush_session(self):
        if self.session is not None:
            self.finding(site_of(self.session[2]), "noise", 0)
            self.session = None

    def line(self, line):
        kind = None
        if "ResourceWarning: " in line or line.startswith("  _warnings.warn("):
            return  # the warnings module's copy of a block printed by logging as well
        if "Unclosed " in line:
            for words, k in HEADERS.items():
                if line.endswith(words):
                    kind = k
                    break
        if kind is not None:
            self.end_block()
            self.block = [kind, 0, []]
            return
        b = self.block
        if b is None:
            return
        if line.startswith("connections: ["):
            b[1] += line.count("ResponseHandler")
        elif line.startswith('  File "'):
            m = FRAME.match(line)
            if m:
                b[2].append(m.groups())
        elif line.startswith("    ") or line.startswith(KEYS) or line.startswith("<ClientResponse") \
                or line.startswith("<CIMultiDictProxy") or line == "":
            pass
        else:
            self.end_block()
            self.flush_session()

    def finish(self):
        self.end_block()
        self.flush_session()


def counts_only(path):
    sessions = connectors = pooled = 0
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.endswith("Unclosed client session"):
                sessions += 1
            elif line.endswith("Unclosed connector"):
                connectors += 1
            elif line.startswith("connections: ["):
                pooled += line.count("ResponseHandler")
    return {"sessions": sessions, "connectors": connectors, "pooled_connections": pooled}


def main():
    if sys.argv[1] == "--counts":
        print(json.dumps(counts_only(sys.argv[2])))
        return
    t = Triage()
    with open(sys.argv[1], "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            m = CRI.match(line)
            if m:
                line = line[m.end():]
            t.line(line)
    t.finish()
    sites = sorted(t.sites.items(), key=lambda kv: -kv[1]["leak"])
    print(json.dumps({"totals": t.counts, "sites": dict(sites)}, indent=1))


if __name__ == "__main__":
    main()
