"""Grep-level check of every fixture: decode the envelope just enough to
re-join split lines, count the blocks and ResponseHandler tuples, and compare
with the truth file.  Usage: python verify.py  (exit 1 on any mismatch)"""
import glob
import gzip
import json
import os
import re
import sys

LOGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "logs")


def decode(text, envelope):
    lines = text.split("\n")
    if envelope == "docker-json":
        buf, out = "", []
        for l in lines:
            if not l.strip():
                continue
            o = json.loads(l)
            buf += o["log"]
            if buf.endswith("\n"):
                out.append(buf[:-1])
                buf = ""
        return "\n".join(out)
    if envelope == "cri":
        buf, out = {}, []
        for l in lines:
            m = re.match(r"(\S+) (stdout|stderr) ([PF]) (.*)$", l)
            if not m:
                continue
            buf[m.group(2)] = buf.get(m.group(2), "") + m.group(4)
            if m.group(3) == "F":
                out.append(buf.pop(m.group(2)))
        return "\n".join(out)
    if envelope == "journald-json":
        return "\n".join(json.loads(l)["MESSAGE"] for l in lines if l.strip())
    if envelope == "homeassistant":
        # `... [homeassistant] Error doing job: Unclosed client session (None): <first frame>`
        return "\n".join(re.sub(r"^.*Error doing job: (Unclosed [a-z ]+?) \((?:task: )?[^)]*\).*$", r"\1", l)
                         for l in lines)
    if envelope == "compose":
        return "\n".join(re.sub(r"^\S+ +\| ", "", l) for l in lines)
    if envelope == "kubectl-prefix":
        return "\n".join(re.sub(r"^\[pod/[^\]]*\] ", "", l) for l in lines)
    return text


ANSI = re.compile(r"\x1b\[[0-9;]*m")
RICH_HEAD = re.compile(r"^(\[\d\d:\d\d:\d\d\]| {10}) (DEBUG|INFO|WARNING|ERROR|CRITICAL) +")


def decode_style(text, style):
    """The logging library's layer, inside whatever envelope held it."""
    lines = text.split("\n")
    if style in ("json-logger", "structlog", "json-stdout", "loguru-json"):
        out = []
        for l in lines:
            try:
                o = json.loads(l)
            except ValueError:
                out.append(l)
                continue
            if style == "loguru-json":
                out.append(o["record"]["message"])
            else:
                out.append(o.get("message") or o.get("event") or "")
        return "\n".join(out)
    if style == "structlog-console":
        return ANSI.sub("", text)
    if style == "rich":
        # a record starts with the time column (or blanks) + level; its message
        # column starts at a fixed offset; wrapped pieces are re-joined with a
        # space (rich wraps at spaces), so counts of words survive
        recs, col = [], None
        for l in lines:
            m = RICH_HEAD.match(l)
            if m:
                col = m.end()
                first = re.sub(r"\s{2,}\S+:\d+\s*$", "", l[col:])
                recs.append([first.rstrip()])
            elif recs and col and l[:col].strip() == "":
                recs[-1].append(l[col:].rstrip())
            else:
                recs.append([l])
        return "\n".join(r[0] + ("\n" + " ".join(r[1:]) if len(r) > 1 else "") for r in recs)
    return text


def count(text):
    L_sess = len(re.findall(r"Unclosed client session$", text, re.M))
    L_conn = len(re.findall(r"Unclosed connector$", text, re.M))
    L_resp = len(re.findall(r"Unclosed response$", text, re.M))
    L_cx = len(re.findall(r"Unclosed connection$", text, re.M))
    pooled = sum(l.count("ResponseHandler object at") for l in re.findall(r"connections: \[.*$", text, re.M))
    exc_sess = text.count("Exception ignored in: <function ClientSession.__del__")
    exc_conn = text.count("Exception ignored in: <function BaseConnector.__del__")
    return dict(sessions=L_sess, connectors=L_conn, responses=L_resp, connections=L_cx,
                pooled_connections=pooled, exc_sessions=exc_sess, exc_connectors=exc_conn)


def main():
    bad = 0
    for tp in sorted(glob.glob(os.path.join(LOGS, "*.truth.json"))):
        t = json.load(open(tp))
        base = tp[:-len(".truth.json")]
        if os.path.exists(base + ".log.gz"):
            text = gzip.open(base + ".log.gz").read().decode()
        else:
            text = open(base + ".log").read()
        c = count(decode_style(decode(text, t["envelope"]), t["settings"].get("log_style")))
        tt = t["totals"]
        if t["settings"].get("warnings") == "-W error::ResourceWarning":
            got = dict(sessions=c["exc_sessions"], connectors=c["exc_connectors"],
                       responses=c["responses"], connections=c["connections"], pooled_connections=c["pooled_connections"])
        else:
            got = {k: c[k] for k in ("sessions", "connectors", "responses", "connections", "pooled_connections")}
        want = {k: tt[k] for k in got}
        ok = got == want
        bad += not ok
        print("%-4s %-32s log=%s%s" % ("ok" if ok else "BAD", t["fixture"], got, "" if ok else "  truth=%s" % want))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
