"""Truth recording for the `unclosed` fixtures.

Records, *inside* the program that leaks, which aiohttp client objects really
warn when they are garbage-collected, how many pooled connections a warning
connector holds, which session owns which connector, and where each object was
created.

How: a profile hook (``sys.setprofile`` / ``threading.setprofile``) sees the
"call" event of the ``__init__`` and ``__del__`` functions of ClientSession,
BaseConnector (and subclasses), ClientResponse and Connection.

* At ``__init__`` entry it stores ``traceback.extract_stack(caller frame)``:
  the same frames aiohttp stores in ``_source_traceback``.
* At ``__del__`` entry, *before the original body runs*, it evaluates the
  exact condition under which the original will warn (copied from the
  installed aiohttp source, identical in 3.10.11, 3.11.18 and 3.13.5), and
  for a connector the pooled count ``sum(len(v) for v in _conns.values())``.

A profile hook is used instead of monkey-patching ``__init__``/``__del__``
with Python wrappers because a wrapper frame would itself appear in the log:
in aiohttp's ``source_traceback`` (it uses ``sys._getframe(1)`` = the
wrapper), in tracemalloc's "Object allocated at", and in the
``Exception ignored in: <function ...>`` form of ``-W error``.  The profile
hook adds no frame to any of them, so the logs are exactly what an
unmodified program prints.

The program calls ``truth.install()`` first and ``truth.finish()`` after its
last ``gc.collect()``; the raw truth goes to ``$TRUTH_OUT`` (JSON).  The
generator (run_fixtures.py) adds fixture/envelope metadata.
"""
import atexit
import gc
import json
import os
import sys
import sysconfig
import threading
import traceback
import tracemalloc
import warnings

_records = {}        # id(obj) -> record (object alive)
_events = []         # records of objects whose __del__ ran, in order
_serial = [0]
_init_codes = {}     # code -> kind
_del_codes = {}      # code -> kind
_finished = [False]
_late = [0]
_installed = [False]

_STDLIB = os.path.realpath(sysconfig.get_paths()["stdlib"])
_THIS = os.path.realpath(__file__)


def _norm(filename):
    return os.path.realpath(filename).replace("\\", "/")


def _excluded(filename):
    """aiohttp, asyncio, uvloop, the standard library, <frozen ...> (and this file)."""
    if filename.startswith("<"):
        return True  # <frozen runpy>, <string>, ...
    real = os.path.realpath(filename)
    if real == _THIS:
        return True
    norm = real.replace("\\", "/")
    for lib in ("aiohttp", "asyncio", "uvloop"):
        if "/%s/" % lib in norm or norm.startswith(lib + "/"):
            return True
    if real.startswith(_STDLIB + os.sep) and "site-packages" not in norm:
        return True
    return False


def _installed_pkg(filename):
    norm = filename.replace("\\", "/")
    return "/site-packages/" in norm or "/dist-packages/" in norm


def _pos(fs):
    return fs.filename, fs.lineno


def sites_of(frames, pos=_pos):
    """(site, created_in) of a creation stack, each as PATH:LINE.

    created_in: the innermost frame outside aiohttp/asyncio/uvloop/stdlib/<frozen>
    (for a library user: the library's line that built the object).
    site: the application's innermost frame, also outside installed packages
    (site-packages, dist-packages); created_in when there is none.
    created_in is None when it equals site."""
    created = site = None
    for fs in reversed(list(frames)):
        filename, lineno = pos(fs)
        if _excluded(filename):
            continue
        here = "%s:%d" % (filename, lineno)
        if created is None:
            created = here
        if not _installed_pkg(filename) and not _installed_pkg(_norm(filename)):
            site = here
            break
    if site is None:
        site = created
    return site, (created if created != site else None)


def site_of(frames):
    return sites_of(frames)[0]


def _tm_sites(tb):
    if tb is None:
        return None, None
    # tracemalloc.Traceback is sorted oldest -> most recent (Python 3.7+)
    return sites_of(list(tb), pos=lambda fr: (fr.filename, fr.lineno))


def _warning_action(text):
    """First matching warnings filter action for a ResourceWarning with text."""
    for action, msg, cat, mod, ln in warnings.filters:
        if msg is not None and not msg.match(text):
            continue
        if not issubclass(ResourceWarning, cat):
            continue
        if mod is not None and not (mod.match("aiohttp.client") or mod.match("aiohttp.connector")):
            continue
        return action
    return warnings.defaultaction


def _loop_debug(obj):
    loop = getattr(obj, "_loop", None)
    try:
        return bool(loop.get_debug())
    except Exception:
        return False


def _loop_closed(obj):
    loop = getattr(obj, "_loop", None)
    try:
        return bool(loop.is_closed())
    except Exception:
        return False


def _on_init(kind, frame):
    self = frame.f_locals.get("self")
    if self is None:
        return
    caller = frame.f_back
    # TCPConnector.__init__ -> super().__init__: keep the outer record
    if caller is not None and caller.f_code in _init_codes and caller.f_locals.get("self") is self:
        return
    stack = traceback.extract_stack(caller)
    _serial[0] += 1
    _records[id(self)] = {
        "serial": _serial[0],
        "kind": kind,
        "cls": type(self).__module__ + "." + type(self).__qualname__,
    }
    _records[id(self)]["init_site"], _records[id(self)]["init_created"] = sites_of(stack)


def _on_del(kind, frame):
    self = frame.f_locals.get("self")
    if self is None:
        return
    rec = _records.pop(id(self), None)
    if rec is None:
        _serial[0] += 1
        rec = {"serial": _serial[0], "kind": kind, "init_site": None, "init_created": None,
               "cls": type(self).__module__ + "." + type(self).__qualname__}
    rec["warns"] = False
    rec["L"] = False
    rec["W"] = None
    st = getattr(self, "_source_traceback", None)
    rec["st_site"], rec["st_created"] = sites_of(st) if st else (None, None)
    tm = tracemalloc.get_object_traceback(self) if tracemalloc.is_tracing() else None
    rec["tm_site"], rec["tm_created"] = _tm_sites(tm)
    text = None
    if kind == "session":
        conn = getattr(self, "_connector", None)
        if conn is not None:
            crec = _records.get(id(conn))
            rec["connector_serial"] = crec["serial"] if crec else None
            rec["connector_owner"] = bool(getattr(self, "_connector_owner", True))
        if not self.closed:
            rec["warns"] = True
            text = "Unclosed client session"
    elif kind == "connector":
        if not self._closed and self._conns:
            rec["warns"] = True
            rec["pooled"] = sum(len(v) for v in self._conns.values())
            rec["keys"] = len(self._conns)
            text = "Unclosed connector"
    elif kind == "response":
        if not self._closed and self._connection is not None and _loop_debug(self):
            rec["warns"] = True
            text = "Unclosed response"
    elif kind == "connection":
        if self._protocol is not None:
            rec["warns"] = True
            text = "Unclosed connection"
    rec["_wtext"] = ("%s %r" % (text, self)) if text else None
    rec["_wreg"] = _reg_state(frame, rec["_wtext"])
    if rec["warns"]:
        action = _warning_action(text)
        rec["W"] = action
        # with action "error" the warn() call raises inside __del__: no L block
        rec["L"] = action != "error"
        if kind == "connection" and _loop_closed(self):
            rec["L"] = False
    if _finished[0]:
        _late[0] += 1
    rec["L_seen"] = False
    rec["_thread"] = threading.get_ident()
    _del_stack.append([id(frame), rec])  # not the frame itself: holding it would
    # delay the object's deallocation into this hook, where profiling is off
    _events.append(rec)


_del_stack = []      # [frame, record] of __del__ calls in progress
_ceh_codes = set()   # asyncio's call_exception_handler


def _reg_state(frame, text):
    reg = frame.f_globals.get("__warningregistry__")
    if not reg or text is None:
        return (None, False)
    has = any(isinstance(k, tuple) and k and k[0] == text and k[1] is ResourceWarning for k in reg)
    return (reg.get("version"), has)


def _after_del(frame, rec):
    """Was the W block really printed? (-W default prints a text once per location)"""
    rec.pop("_thread", None)
    text = rec.pop("_wtext", None)
    pre_ver, pre_has = rec.pop("_wreg", (None, False))
    post_ver, post_has = _reg_state(frame, text)
    if rec.get("W") == "error":
        rec["W_shown"] = rec["warns"]
    elif rec.get("W") in ("default", "module", "once"):
        rec["W_shown"] = bool(post_has and (not pre_has or pre_ver != post_ver))
    elif rec.get("W") == "always":
        rec["W_shown"] = rec["warns"]
    else:
        rec["W_shown"] = False


def _profile(frame, event, arg):
    if event == "call" or event == "return":
        try:
            _profile_inner(frame, event, arg)
        except Exception:
            pass  # never disturb the program


def _profile_inner(frame, event, arg):
    if event == "return":
        if _del_stack and _del_stack[-1][0] == id(frame):
            _, rec = _del_stack.pop()
            _after_del(frame, rec)
        return
    if event != "call":
        return
    code = frame.f_code
    if code in _ceh_codes:
        # logging.Logger.error on the "asyncio" logger: the L block is being logged
        # (asyncio's and uvloop's default exception handlers both do this)
        if _del_stack and getattr(frame.f_locals.get("self"), "name", None) in _L_LOGGERS:
            _del_stack[-1][1]["L_seen"] = True
        return
    kind = _init_codes.get(code)
    if kind is not None:
        try:
            _on_init(kind, frame)
        except Exception as e:  # never disturb the program
            sys.__stderr__.write("truth hook error: %r\n" % (e,)) if os.environ.get("TRUTH_DEBUG") else None
        return
    kind = _del_codes.get(code)
    if kind is not None:
        try:
            _on_del(kind, frame)
        except Exception as e:
            sys.__stderr__.write("truth hook error: %r\n" % (e,)) if os.environ.get("TRUTH_DEBUG") else None


class _Watched:
    """A stream as it was (same bytes, same order), counting the non-empty lines written
    through it that are not a tracked object's own block (see watch_output)."""

    def __init__(self, stream):
        self._stream = stream
        self._lock = threading.Lock()
        self._open = False      # the last line written so far has text but no newline yet

    def write(self, text):
        # The lock makes the count's order the order of the writes themselves.
        with self._lock:
            rec = None
            if _del_stack and _del_stack[-1][1].get("_thread") == threading.get_ident():
                rec = _del_stack[-1][1]
            first = text.split("\n", 1)[0].rstrip()
            own = rec is not None and "Unclosed " in first  # its W or L block
            if own and first.endswith(_L_HEADERS):
                rec["L_foreign_before"] = _foreign[0]
                _l_writes[0] += 1
                rec["L_seq"] = _l_writes[0]
            elif not own:
                parts = text.split("\n")
                for part in parts[:-1]:
                    if self._open or part.strip():
                        _foreign[0] += 1
                    self._open = False
                self._open = self._open or bool(parts[-1].strip())
            return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


_foreign = [0]  # non-empty lines written to the watched stream outside tracked blocks
_l_writes = [0]  # L blocks written to it, in order
# A lone session without a creation traceback followed, after at most this many lines of other
# code, by a connector's block reads as possibly parted from it: the tool's MAX_PARTING_LINES
# (src/pipeline/pair.rs), which counts physical lines; counted here without empty lines.
PARTING_LINES = 100
_L_HEADERS = ("Unclosed client session", "Unclosed connector", "Unclosed response",
              "Unclosed connection")
_WATCHING = [False]


def watch_output():
    """Counts the lines other code (another thread's records) writes to stderr between
    the L blocks of tracked objects: a session and its connector with lines between them
    are not adjacent in the log. Call before anything keeps a reference to sys.stderr
    (logging handlers made later, sentry_sdk.init). Lines written by a tracked object's
    __del__ (its own W and L blocks) are not counted."""
    if not _WATCHING[0]:
        sys.stderr = _Watched(sys.stderr)
        _WATCHING[0] = True


_L_LOGGERS = {"asyncio"}   # loggers whose .error() call during a __del__ is the L block
_BODY_SHOWN = [True]       # False: the log keeps the L message but drops its body


def install(l_loggers=None, body_shown=True, watch=False):
    """l_loggers: names of the loggers the loop's exception handler logs through
    (asyncio's default handler: "asyncio"; Home Assistant's: "homeassistant").
    body_shown=False: the handler prints the message but not the context keys
    (Home Assistant), so a connector's `connections:` list never reaches the log:
    its finding is `unknown` and its pool goes to hidden_pooled_connections, as
    for -W error.
    watch=True: watch_output() (on the same line, so that programs keep their line numbers)."""
    if watch:
        watch_output()
    if l_loggers:
        _L_LOGGERS.update(l_loggers)
    if not body_shown:
        _BODY_SHOWN[0] = False
    if _installed[0]:
        return
    _installed[0] = True
    import aiohttp
    from aiohttp import client, client_reqrep, connector

    def add(cls, kind):
        for klass in cls.__mro__:
            if "aiohttp" not in klass.__module__:
                continue
            if "__init__" in klass.__dict__:
                _init_codes[klass.__dict__["__init__"].__code__] = kind
            if "__del__" in klass.__dict__:
                _del_codes[klass.__dict__["__del__"].__code__] = kind

    add(client.ClientSession, "session")
    for name in ("BaseConnector", "TCPConnector", "UnixConnector"):
        if hasattr(connector, name):
            add(getattr(connector, name), "connector")
    add(client_reqrep.ClientResponse, "response")
    add(connector.Connection, "connection")
    import logging
    _ceh_codes.add(logging.Logger.error.__code__)
    # Automatic cyclic GC is switched off: every collection happens at an
    # explicit gc.collect() of the program (deterministic order), and none can
    # start inside the profile hook, where a __del__ would run unseen (a
    # collection can be triggered by the very allocation of the hook's frame).
    gc.disable()
    sys.setprofile(_profile)
    threading.setprofile(_profile)
    atexit.register(_atexit)


def _atexit():
    if _finished[0] and _late[0]:
        finish(_reason="atexit", **_finish_kw)
    # nothing is recorded during interpreter teardown (module globals vanish);
    # verify.py catches any block printed that late
    sys.setprofile(None)
    threading.setprofile(None)


def compute(events=None):
    events = _events if events is None else events
    for r in events:
        # what the object really did: its __del__ reached loop.call_exception_handler
        r["L_predicted"] = r.get("L_predicted", r["L"])
        r["L"] = bool(r.get("L_seen"))
    warned = [r for r in events if r["warns"] and (r["L"] or r.get("W_shown"))]
    by_serial = {r["serial"]: r for r in warned}
    owner_of = {}
    for r in events:
        if r["kind"] == "session" and r.get("connector_owner") and r.get("connector_serial"):
            owner_of[r["connector_serial"]] = r["serial"]
    findings = []
    used_connectors = set()
    for r in warned:
        if r["kind"] == "session":
            f = {"objs": [r]}
            cs = r.get("connector_serial")
            if r.get("connector_owner") and cs in by_serial:
                f["objs"].append(by_serial[cs])
                used_connectors.add(cs)
                c = by_serial[cs]
                if "L_foreign_before" in r and "L_foreign_before" in c:
                    # lines other code wrote between the two L blocks (watch_output)
                    f["lines_between"] = c["L_foreign_before"] - r["L_foreign_before"]
                if f.get("lines_between") and not (r["L"] and r["st_site"]):
                    # What the log can tell: another thread's lines stand between the two
                    # blocks and no creation traceback ties them, so the session reads alone,
                    # and cannot be told from an idle one followed by an unrelated connector
                    # (unknown); its connector reads alone, a leak.
                    findings.append({"objs": [r], "parted": f["lines_between"], "own_connector": True})
                    findings.append({"objs": [c]})
                    continue
            findings.append(f)
    for r in warned:
        if r["kind"] == "connector" and r["serial"] not in used_connectors:
            findings.append({"objs": [r]})
        elif r["kind"] in ("response", "connection"):
            findings.append({"objs": [r]})
    # A session the log shows alone (no connector of its own after it) whose next L block is a
    # connector's, after a few lines of other code: the log cannot tell it from a session parted
    # from its own connector (above), so it is unknown too.
    by_seq = sorted((r for r in warned if "L_seq" in r), key=lambda r: r["L_seq"])
    after = {id(a): b for a, b in zip(by_seq, by_seq[1:])}
    for f in findings:
        r = f["objs"][0]
        if len(f["objs"]) != 1 or r["kind"] != "session" or f.get("parted") or (r["L"] and r["st_site"]):
            continue
        nxt = after.get(id(r))
        if nxt is not None and nxt["kind"] == "connector":
            between = nxt["L_foreign_before"] - r["L_foreign_before"]
            if 0 < between <= PARTING_LINES:
                f["parted"] = between

    def blank():
        return {"findings": 0, "leak": 0, "noise": 0, "unknown": 0, "sessions": 0,
                "connectors": 0, "responses": 0, "connections": 0, "pooled_connections": 0}

    totals = blank()
    sites = {}
    hidden = 0
    site_problems = []
    any_site = False
    created_by_site = {}
    for f in findings:
        objs = f["objs"]
        label = "noise"
        pooled = 0
        for o in objs:
            if o["kind"] == "connector":
                if o["L"] and _BODY_SHOWN[0]:
                    label = "leak"
                    pooled += o["pooled"]
                else:
                    label = "unknown" if label != "leak" else label
                    hidden += o["pooled"]
            elif o["kind"] in ("response", "connection"):
                label = "leak"
        if label == "noise" and (not _BODY_SHOWN[0] or f.get("parted")):
            # The log drops the body: a session alone cannot be told idle from cut off.
            # Or it was parted from its connector's block (above).
            label = "unknown"
        head = objs[0]
        f["label"] = label
        # where the log shows the creation site of the finding's first object
        vis = None
        if head["L"] and head["st_site"]:
            vis = (head["st_site"], head.get("st_created"))
        elif head.get("W_shown") and head["W"] != "error" and head["tm_site"]:
            vis = (head["tm_site"], head.get("tm_created"))
        init = (head["init_site"], head.get("init_created"))
        if vis:
            any_site = True
            if head["init_site"] and vis != init:
                site_problems.append("serial %d: init %s vs log %s" % (head["serial"], init, vis))
        f["site"] = head["init_site"] if vis else None
        f["created_in"] = head.get("init_created") if vis else None
        f["site_visible"] = bool(vis)
        if vis:
            created_by_site.setdefault(f["site"], []).append(f["created_in"])
        for tgt in [totals] + ([sites.setdefault(f["site"], blank())] if vis else []):
            tgt["findings"] += 1
            tgt[label] += 1
            tgt["pooled_connections"] += pooled
            for o in objs:
                tgt[{"session": "sessions", "connector": "connectors",
                     "response": "responses", "connection": "connections"}[o["kind"]]] += 1
    out = {
        "totals": totals,
        "shows_sites": any_site,
        "sites": [dict(site=k, created_in=_one_created(created_by_site[k]), **v)
                  for k, v in sorted(sites.items())],
        "created_in_conflicts": {k: sorted(set(map(str, v))) for k, v in created_by_site.items()
                                 if len(set(v)) > 1},
        "hidden_pooled_connections": hidden,
        "invisible_site_findings": sum(1 for f in findings if not f["site_visible"]),
        "site_mismatches": site_problems,
        "L_prediction_mismatches": [r["serial"] for r in events if r["L"] != r["L_predicted"]],
        "alive_tracked_objects": len(_records),
        "events": [{k: v for k, v in r.items()} for r in events if r["warns"]],
        "findings_detail": [{"label": f["label"], "site": f["site"], "created_in": f["created_in"],
                             "objs": [o["serial"] for o in f["objs"]],
                             **{k: f[k] for k in ("lines_between", "parted") if k in f}}
                            for f in findings],
        # sessions a connector's block follows after a few lines of other code, unknown in the
        # log: parted from their own connector (program truth: one leak finding each) or idle
        # sessions followed by an unrelated connector (program truth: noise)
        "parted_sessions": [f["parted"] for f in findings if f.get("parted")],
        "parted_own": sum(1 for f in findings if f.get("parted") and f.get("own_connector")),
    }
    return out


def _one_created(values):
    """created_in of a site: the most common one among its findings (the
    generator notes a site whose findings were built on different library lines)."""
    counts = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[0][0]


def _alive_predictions():
    """Tracked objects still alive now that will warn when finalized later
    (e.g. at interpreter teardown): same conditions as in _on_del."""
    out = []
    classes = {}
    for obj in gc.get_objects():
        rec = _records.get(id(obj))
        if rec is None or type(obj).__module__.split(".")[0] != "aiohttp":
            continue
        kind = rec["kind"]
        r = dict(rec, warns=False, L_seen=False, W=None, W_shown=False, alive_at_finish=True)
        st = getattr(obj, "_source_traceback", None)
        r["st_site"], r["st_created"] = sites_of(st) if st else (None, None)
        r["tm_site"] = r["tm_created"] = None
        if kind == "connector" and not obj._closed and obj._conns:
            r.update(warns=True, pooled=sum(len(v) for v in obj._conns.values()), keys=len(obj._conns))
        elif kind == "session" and not obj.closed:
            r["warns"] = True
            conn = getattr(obj, "_connector", None)
            crec = _records.get(id(conn)) if conn is not None else None
            r["connector_serial"] = crec["serial"] if crec else None
            r["connector_owner"] = bool(getattr(obj, "_connector_owner", True))
        if r["warns"]:
            # finalized after logging is configured away -> logging.lastResort prints it
            r["L_seen"] = True
            r["L_predicted"] = True
            r["L"] = True
            out.append(r)
    return out


_finish_kw = {}


def finish(_reason="finish", include_alive=False):
    _finish_kw["include_alive"] = include_alive
    # objects finalized during a collection can keep others alive for one more
    # pass (seen with loguru): collect until no tracked __del__ runs any more
    import gc
    for _ in range(10):
        n = len(_events)
        gc.collect()
        if len(_events) == n:
            break
    _finished[0] = True
    path = os.environ.get("TRUTH_OUT")
    events = list(_events)
    predicted = _alive_predictions() if include_alive else []
    data = compute(events + predicted)
    data["predicted_at_exit"] = [r["serial"] for r in predicted]
    data["written_at"] = _reason
    data["late_events"] = _late[0]
    if path:
        with open(path, "w") as fh:
            json.dump(data, fh, indent=1)
    return data
