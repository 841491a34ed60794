"""Envelope wrappers: render real captured output lines the way a log system
stores or prints them (docs/formats.md §9 and the systems' documented
formats).  Input: a list of (unix_time, stream, text) per line as captured from
the real process (text without the trailing newline).  No warning text is
ever made up here; only the envelope around each real line is added."""
import datetime as _dt
import json


def _utc(t):
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc)


def rfc3339nano(t, fixed=False, z="Z"):
    d = _utc(t)
    ns = int(round((t - int(t)) * 1e9))
    if ns >= 1_000_000_000:
        ns = 999_999_999
    base = d.strftime("%Y-%m-%dT%H:%M:%S")
    frac = "%09d" % ns
    if not fixed:  # Go's RFC3339Nano trims trailing zeros
        frac = frac.rstrip("0")
    return base + ("." + frac if frac else "") + z


def _go_json_str(s):
    # Go's encoding/json: HTML-safe escaping of <, >, & and U+2028/2029
    out = json.dumps(s, ensure_ascii=False)
    return (out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def docker_json(lines, split=16 * 1024):
    """Docker json-file driver: one JSON object per line; a line longer than
    16 KiB is stored as several pieces, only the last one ending in \\n."""
    out = []
    for t, stream, text in lines:
        data = (text + "\n").encode()
        pieces = [data[i:i + split] for i in range(0, len(data), split)] or [b"\n"]
        for p in pieces:
            out.append('{"log":%s,"stream":"%s","time":"%s"}' % (
                _go_json_str(p.decode("utf-8", "replace")), stream, rfc3339nano(t)))
    return out


def docker_timestamps(lines):
    """`docker logs --timestamps` / `kubectl logs --timestamps`."""
    return ["%s %s" % (rfc3339nano(t, fixed=True), text) for t, stream, text in lines]


def cri(lines, split=None, z="Z", fixed=False):
    """Kubernetes CRI log file: `<RFC3339Nano> <stream> <F|P> <text>`.
    With split (CRI-O/conmon: 8 KiB buffer) long lines become P pieces."""
    out = []
    for t, stream, text in lines:
        data = text.encode()
        if split and len(data) > split:
            pieces = [data[i:i + split] for i in range(0, len(data), split)]
        else:
            pieces = [data]
        for i, p in enumerate(pieces):
            tag = "F" if i == len(pieces) - 1 else "P"
            out.append("%s %s %s %s" % (rfc3339nano(t, fixed=fixed, z=z), stream, tag,
                                        p.decode("utf-8", "replace")))
    return out


def journald_short_stream(lines, host, ident, pid):
    """stderr/stdout piped to journald (StandardError=journal): one entry per
    line, shown by `journalctl -o short` with the full prefix on every line."""
    return ["%s %s %s[%d]: %s" % (_utc(t).strftime("%b %d %H:%M:%S"), host, ident, pid, text)
            for t, stream, text in lines]


def _short_prefix(t, host, ident, pid, iso):
    d = _utc(t)
    ts = d.strftime("%Y-%m-%dT%H:%M:%S+00:00") if iso else d.strftime("%b %d %H:%M:%S")
    return "%s %s %s[%d]: " % (ts, host, ident, pid)


def journald_native_short(entries, host, ident, iso=False, stream_lines=()):
    """Native journal entries (one per logging record, MESSAGE may hold \\n):
    journalctl -o short / short-iso prints continuation lines indented to the
    width of the prefix.  stream_lines: (t, stream, text, pid) of lines the
    process wrote to stdout/stderr (each its own entry), merged by time."""
    items = [(e["time"], 0, e) for e in entries] + [(l[0], 1, l) for l in stream_lines]
    items.sort(key=lambda x: x[0])
    out = []
    for t, kind, e in items:
        if kind == 0:
            prefix = _short_prefix(t, host, ident, e["pid"], iso)
            msg_lines = e["MESSAGE"].split("\n")
            out.append(prefix + msg_lines[0])
            out.extend(" " * len(prefix) + m for m in msg_lines[1:])
        else:
            out.append(_short_prefix(t, host, ident, e[3], iso) + e[2])
    return out


def journald_json(entries, host, ident, unit, boot_id, machine_id):
    """`journalctl -o json`: one JSON object per entry, all values strings."""
    out = []
    seq = 0x5a1
    for e in entries:
        seq += 1
        us = int(e["time"] * 1e6)
        obj = {
            "__CURSOR": "s=6c1e3f0a1d8b4f0f9d3e2b7a5c4d3e21;i=%x;b=%s;m=%x;t=%x;x=%016x" % (
                seq, boot_id, us % 10**10, us, seq * 0x9e3779b97f4a7c15 % 2**64),
            "__REALTIME_TIMESTAMP": str(us),
            "__MONOTONIC_TIMESTAMP": str(us % 10**10),
            "_BOOT_ID": boot_id,
            "_MACHINE_ID": machine_id,
            "_HOSTNAME": host,
            "_TRANSPORT": "journal",
            "_PID": str(e["pid"]),
            "_UID": "998",
            "_GID": "998",
            "_COMM": "python3",
            "_SYSTEMD_UNIT": unit,
            "SYSLOG_IDENTIFIER": ident,
            "PRIORITY": e["PRIORITY"],
            "LOGGER": e["LOGGER"],
            "THREAD_NAME": e["THREAD_NAME"],
            "PROCESS_NAME": e["PROCESS_NAME"],
            "CODE_FILE": e["CODE_FILE"],
            "CODE_LINE": e["CODE_LINE"],
            "CODE_FUNC": e["CODE_FUNC"],
            "MESSAGE": e["MESSAGE"],
        }
        out.append(json.dumps(obj))
    return out


def heroku(lines, dyno="web.1"):
    out = []
    for t, stream, text in lines:
        d = _utc(t)
        out.append("%s+00:00 app[%s]: %s" % (d.strftime("%Y-%m-%dT%H:%M:%S.%f"), dyno, text))
    return out


def pm2(lines, app_id=0, name="pricebot"):
    return ["%d|%s  | %s" % (app_id, name, text) for t, stream, text in lines]


def compose(lines, services=("api-1",), service="api-1"):
    """`docker compose logs` (no TTY, so no colour): every line prefixed with the
    service's container name padded to the longest name + 1, then `| ` (compose
    v2: fmt "%-*s | " with width = longest name + 1)."""
    width = max(len(s) for s in services) + 1
    prefix = "%-*s| " % (width + 1, service)
    return [prefix + text for t, stream, text in lines]


def kubectl_prefix(lines, pod="api-7d9f5c8b6d-k2xjq", container="api"):
    """`kubectl logs --prefix`: `[pod/<pod>/<container>] ` on every line."""
    prefix = "[pod/%s/%s] " % (pod, container)
    return [prefix + text for t, stream, text in lines]
