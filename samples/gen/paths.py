"""Rewrites paths of the generating machine to the layout of a typical container
image, so no fixture shows where it was generated (/work/..., /root/.pyenv/...).

Applied at capture time to every line of program output (before any envelope
wrapping, so Docker and CRI splits are computed on the final text), to native
journal entries, and to the truth (sites, created_in, notes).

    <repo>/samples/gen/                        -> /app/
    <venv>/lib/python3.X/site-packages/        -> /opt/venv/lib/python3.X/site-packages/
    <venv>/bin/ (any other <venv>/ path)       -> /opt/venv/bin/ (/opt/venv/...)
    <pyenv>/versions/3.X.Y/lib/python3.X/      -> /usr/local/lib/python3.X/
    <pyenv>/versions/3.X.Y/ (bin, include ...) -> /usr/local/
    anything else under /root/ or /work/       -> /home/app/ and /srv/
"""
import os
import re


class Rewriter:
    def __init__(self, repo, venv_dir, python_exe=None):
        repo = os.path.abspath(repo)
        venv_dir = os.path.abspath(venv_dir)
        rules = []  # (prefix, replacement), applied longest prefix first

        def add(prefix, repl):
            for p in {prefix, os.path.realpath(prefix)}:
                rules.append((p.rstrip("/") + "/", repl))

        add(os.path.join(repo, "samples", "gen"), "/app/")
        add(venv_dir, "/opt/venv/")
        add(repo, "/srv/unclosed/")
        if python_exe:
            base = _base_prefix(python_exe)
            if base:
                add(base, "/usr/local/")
        self.rules = sorted(set(rules), key=lambda r: -len(r[0]))
        alt = "|".join(re.escape(p) for p, _ in self.rules)
        self._re = re.compile(alt) if alt else None
        self._map = dict(self.rules)
        # the interpreter's stdlib under any pyenv version (a venv's python may
        # resolve to a versions/3.X.Y it was not asked for); stdlib first
        self._pyenv_lib = re.compile(r"/root/\.pyenv/versions/[^/\s'\"]+/lib/(python3\.\d+)/")
        self._pyenv_any = re.compile(r"/root/\.pyenv/versions/[^/\s'\"]+/")
        self._root = re.compile(r"/root/")
        self._work = re.compile(r"/work/")

    def __call__(self, text):
        if not isinstance(text, str) or not text:
            return text
        if self._re is not None:
            text = self._re.sub(lambda m: self._map[m.group(0)], text)
        text = self._pyenv_lib.sub(r"/usr/local/lib/\1/", text)
        text = self._pyenv_any.sub("/usr/local/", text)
        text = self._root.sub("/home/app/", text)
        text = self._work.sub("/srv/", text)
        return text

    def lines(self, lines):
        """[(t, stream, text)] -> same with text rewritten."""
        return [(t, s, self(x)) for t, s, x in lines]

    def obj(self, o):
        """Rewrite every string (keys and values) of a JSON-like object."""
        return map_strings(o, self)


def map_strings(o, fn):
    """Apply fn to every string (keys and values) of a JSON-like object."""
    if isinstance(o, str):
        return fn(o)
    if isinstance(o, list):
        return [map_strings(x, fn) for x in o]
    if isinstance(o, dict):
        return {map_strings(k, fn): map_strings(v, fn) for k, v in o.items()}
    return o


def write_fixture(logs, name, text, truth, raw, tmp, gz=False):
    """Writes samples/logs/<name>.log (or .log.gz), <name>.truth.json, and the raw per-object
    record next to the venvs (ignored) for debugging."""
    import gzip
    import json
    logp = os.path.join(logs, name + ".log")
    for p in (logp, logp + ".gz"):
        if os.path.exists(p):
            os.remove(p)
    if gz:
        with gzip.GzipFile(logp + ".gz", "wb", mtime=0) as g:
            g.write(text.encode())
    else:
        with open(logp, "w") as fh:
            fh.write(text)
    with open(os.path.join(logs, name + ".truth.json"), "w") as fh:
        json.dump(truth, fh, indent=1)
        fh.write("\n")
    with open(os.path.join(tmp, name + ".objects.json"), "w") as fh:
        json.dump(raw, fh, indent=1)


def _base_prefix(python_exe):
    """sys.base_prefix of a venv's interpreter, from its pyvenv.cfg (no subprocess)."""
    venv = os.path.dirname(os.path.dirname(os.path.abspath(python_exe)))
    cfg = os.path.join(venv, "pyvenv.cfg")
    try:
        for line in open(cfg):
            k, _, v = line.partition("=")
            if k.strip() == "home":
                return os.path.dirname(v.strip())
    except OSError:
        pass
    return None
