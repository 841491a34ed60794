#!/usr/bin/env python3
"""Builds the benchmark logs from the committed real fixtures (samples/logs).

  sparse.log   ~1 GiB of ordinary application lines with a few real warning episodes
  dense.log    mostly warning blocks with tracebacks: real episodes back to back
  cri.log      Kubernetes CRI lines (stdout app lines, stderr episodes), ~512 MiB

Each episode is a whole fixture log, so its truth (samples/logs/*.truth.json) is known; the
expected totals of each benchmark log are the sum of its episodes' truths, written beside it
as NAME.truth.json. Ordinary lines never contain the words the tool looks for, and an
ordinary line separates episodes, so nothing pairs across them. Deterministic (fixed seed).

usage: gen.py OUTDIR [--scale F]   (F scales every size; 0.01 gives a smoke-sized set)
"""
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LOGS = os.path.join(HERE, "..", "samples", "logs")
KEYS = ["findings", "leak", "noise", "unknown", "sessions", "connectors", "responses", "connections", "pooled_connections"]

# Fixtures printed as plain text (no per-line envelope): they can sit among plain app lines.
PLAIN = ["percall_debug_bare", "percall_realistic_asctime", "percall_wdefault_debug", "percall_tracemalloc",
         "aio311_tracemalloc_debug", "percall_uvloop_debug", "percall_werror", "list_percall_debug_wdefault",
         "list_percall_basic", "noise_basic_debug", "unread_debug_wdefault", "list_unread_debug", "unread_nodebug",
         "asyncio_run_debug", "shared_connector_debug", "list_shared_debug", "correct_code",
         "connection_debug_wdefault", "list_connection_debug", "uvicorn_leak", "pytest_captured_log",
         "percall_loguru"]
# Fixtures with creation tracebacks: the dense log.
DENSE = ["percall_debug_bare", "percall_wdefault_debug", "aio311_tracemalloc_debug", "asyncio_run_debug",
         "shared_connector_debug", "list_shared_debug", "unread_debug_wdefault", "connection_debug_wdefault",
         "noise_basic_debug", "percall_uvloop_debug"]

WORDS = ["GET", "POST", "/v1/chat/completions", "/health", "/api/items", "user", "cache", "hit", "miss",
         "latency", "ms", "upstream", "retry", "ok", "queued", "worker", "batch", "token", "model", "gpt-4o"]


def fixture(name):
    with open(os.path.join(LOGS, name + ".log"), encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    with open(os.path.join(LOGS, name + ".truth.json")) as f:
        truth = json.load(f)["totals"]
    if not text.endswith("\n"):
        text += "\n"
    return text, truth


def app_line(rng, n):
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
    return f"2026-11-23 22:{n // 60000 % 60:02d}:{n // 1000 % 60:02d},{n % 1000:03d} INFO app.server: request {n} {words} status=200\n"


def add(total, truth):
    for k in KEYS:
        total[k] += truth.get(k, 0)


def write(path, total, size, episodes):
    with open(path + ".truth.json", "w") as f:
        json.dump({"totals": total, "bytes": size, "episodes": episodes}, f, indent=1)


def sparse(out, size, rng, wrap=None):
    """App lines up to `size` bytes with `episodes` real fixture logs spread through them."""
    names = [rng.choice(PLAIN) for _ in range(40)]
    cache = {n: fixture(n) for n in set(names)}
    at = sorted(rng.randrange(size) for _ in names)
    total = {k: 0 for k in KEYS}
    written, n, i = 0, 0, 0
    buf = []
    with open(out, "w", encoding="utf-8", errors="surrogateescape") as f:
        while written < size:
            line = app_line(rng, n)
            n += 1
            if wrap:
                line = wrap("stdout", line)
            buf.append(line)
            written += len(line)
            while i < len(at) and at[i] <= written:
                text, truth = cache[names[i]]
                if wrap:
                    text = "".join(wrap("stderr", l + "\n") for l in text.split("\n")[:-1])
                    text += wrap("stderr", "INFO --- episode end ---\n")
                else:
                    text += "INFO --- episode end ---\n"
                buf.append(text)
                written += len(text)
                add(total, truth)
                i += 1
            if len(buf) > 4096:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    write(out, total, written, names)


def dense(out, size, rng):
    total = {k: 0 for k in KEYS}
    names = []
    cache = {n: fixture(n) for n in DENSE}
    written = 0
    with open(out, "w", encoding="utf-8", errors="surrogateescape") as f:
        while written < size:
            name = rng.choice(DENSE)
            text, truth = cache[name]
            text += "INFO --- episode end ---\n"
            f.write(text)
            written += len(text)
            add(total, truth)
            names.append(name)
    write(out, total, written, sorted(set(names)))


def cri(stream, line):
    return f"2026-11-23T22:27:48.367084394Z {stream} F {line}"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    scale = float(sys.argv[sys.argv.index("--scale") + 1]) if "--scale" in sys.argv else 1.0
    os.makedirs(outdir, exist_ok=True)
    gib = 1 << 30
    sparse(os.path.join(outdir, "sparse.log"), int(gib * scale), random.Random(1))
    dense(os.path.join(outdir, "dense.log"), int(gib // 4 * scale), random.Random(2))
    sparse(os.path.join(outdir, "cri.log"), int(gib // 2 * scale), random.Random(3), wrap=cri)


if __name__ == "__main__":
    main()
