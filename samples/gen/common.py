"""Shared helpers for the scenario programs: a local aiohttp.web server on
127.0.0.1 (keep-alive on), and the logging setups the envelopes need.

The logging style comes from $LOG_STYLE:
  bare        no logging configuration (asyncio's ERROR goes through logging.lastResort)
  basic       logging.basicConfig()                      -> "ERROR:asyncio:Unclosed ..."
  asctime     basicConfig(level=INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
  loguru      loguru sink on stderr + the usual InterceptHandler on the root logger
  json-logger python-json-logger JsonFormatter on a stderr StreamHandler
  structlog   structlog ProcessorFormatter (JSONRenderer) on a stderr StreamHandler
  rich        rich.logging.RichHandler (the rich docs' basicConfig: format "%(message)s",
              datefmt "[%X]"); COLUMNS decides the width. Paths in the message are
              rewritten to the container layout *before* rich wraps it (see
              _container_paths), so the wrapping is the one rich would print there
  structlog-console  structlog ProcessorFormatter + ConsoleRenderer(colors=True) on stderr
  loguru-doc  loguru's default stderr sink + the InterceptHandler of loguru's README
              (frame walk, so {name}:{function}:{line} is asyncio's, not logging's)
  loguru-json loguru sink on stderr with serialize=True + the same InterceptHandler
  json-stdout python-json-logger JsonFormatter on a *stdout* StreamHandler (the warnings
              module keeps writing raw to stderr)
  gcp         google-cloud-logging's StructuredLogHandler (one JSON object per record: message,
              severity, logging.googleapis.com/sourceLocation); it writes a diagnostic record
              before its first record
  journal     records captured as journald would store them from a native
              JournalHandler (one entry per record, MESSAGE may contain "\n");
              written as JSON lines to $JOURNAL_OUT for the journald wrappers
"""
import asyncio
import json
import logging
import os
import sys
import time

from aiohttp import web

log = logging.getLogger("app")


def setup_logging(style=None):
    style = style or os.environ.get("LOG_STYLE", "bare")
    if os.environ.get("APP_STDOUT"):
        # application lines on stdout, asyncio's errors stay on stderr
        h = logging.StreamHandler(sys.stdout)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False
    if style == "bare":
        return
    if style == "basic":
        logging.basicConfig()
    elif style == "asctime":
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    elif style == "loguru":
        from loguru import logger

        class InterceptHandler(logging.Handler):
            def emit(self, record):
                try:
                    level = logger.level(record.levelname).name
                except ValueError:
                    level = record.levelno
                frame, depth = logging.currentframe(), 2
                while frame and frame.f_code.co_filename == logging.__file__:
                    frame = frame.f_back
                    depth += 1
                logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())

        logging.basicConfig(handlers=[InterceptHandler()], level=logging.INFO, force=True)
    elif style == "json-logger":
        try:
            from pythonjsonlogger.json import JsonFormatter
        except ImportError:  # python-json-logger < 3.1
            from pythonjsonlogger.jsonlogger import JsonFormatter
        h = logging.StreamHandler()
        h.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logging.basicConfig(handlers=[h], level=logging.INFO, force=True)
    elif style == "structlog":
        import structlog
        pre = [structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
               structlog.processors.TimeStamper(fmt="iso")]
        structlog.configure(
            processors=pre + [structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
        )
        fmt = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=pre,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.JSONRenderer()],
        )
        h = logging.StreamHandler()
        h.setFormatter(fmt)
        logging.basicConfig(handlers=[h], level=logging.INFO, force=True)
    elif style == "gcp":
        # google-cloud-logging's structured JSON for Cloud Run / GKE, set up as its docs show
        from google.cloud.logging_v2.handlers import StructuredLogHandler, setup_logging
        setup_logging(StructuredLogHandler(project_id="demo-project"))
    elif style == "rich":
        from rich.logging import RichHandler
        h = RichHandler()
        f = _container_paths()
        if f:
            h.addFilter(f)
        logging.basicConfig(level=logging.INFO, format="%(message)s", datefmt="[%X]",
                            handlers=[h], force=True)
    elif style == "structlog-console":
        import structlog
        pre = [structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
               structlog.processors.TimeStamper(fmt="iso")]
        structlog.configure(
            processors=pre + [structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
        )
        fmt = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=pre,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.dev.ConsoleRenderer(colors=True)],
        )
        h = logging.StreamHandler()
        h.setFormatter(fmt)
        logging.basicConfig(handlers=[h], level=logging.INFO, force=True)
    elif style in ("loguru-doc", "loguru-json"):
        import inspect
        from loguru import logger

        class InterceptHandler(logging.Handler):  # as in loguru's README
            def emit(self, record):
                try:
                    level = logger.level(record.levelname).name
                except ValueError:
                    level = record.levelno
                frame, depth = inspect.currentframe(), 0
                while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
                    frame = frame.f_back
                    depth += 1
                logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())

        if style == "loguru-json":
            logger.remove()
            logger.add(sys.stderr, serialize=True)
        logging.basicConfig(handlers=[InterceptHandler()], level=logging.INFO, force=True)
    elif style == "json-stdout":
        from pythonjsonlogger.json import JsonFormatter
        h = logging.StreamHandler(sys.stdout)
        h.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logging.basicConfig(handlers=[h], level=logging.INFO, force=True)
    elif style == "journal":
        h = JournalCapture(os.environ["JOURNAL_OUT"])
        h.setFormatter(logging.Formatter("%(message)s"))
        logging.basicConfig(handlers=[h], level=logging.INFO, force=True)
    else:
        raise SystemExit("unknown LOG_STYLE %r" % style)


def _container_paths():
    """A logging filter that rewrites this machine's paths in a record's message
    to the container layout of paths.py, for handlers that lay the message out
    themselves (rich wraps it in a column): rewriting the rendered lines
    afterwards would leave rich's wrapping computed for the long paths."""
    try:
        import paths
    except ImportError:
        return None
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rw = paths.Rewriter(repo, sys.prefix, sys.executable)

    def rewrite(record):
        msg = record.getMessage()
        record.msg, record.args = rw(msg), None
        return True
    return rewrite


class JournalCapture(logging.Handler):
    """Keeps what systemd.journal.JournalHandler would send for each record:
    MESSAGE (= self.format(record), multi-line kept), PRIORITY, LOGGER, CODE_*,
    plus the wall-clock time.  The journald wrappers render these entries."""

    PRIO = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4,
            logging.INFO: 6, logging.DEBUG: 7}

    def __init__(self, path):
        super().__init__()
        self.fh = open(path, "w")

    def emit(self, record):
        entry = {
            "MESSAGE": self.format(record),
            "PRIORITY": str(self.PRIO.get(record.levelno, 6)),
            "LOGGER": record.name,
            "THREAD_NAME": record.threadName,
            "PROCESS_NAME": record.processName,
            "CODE_FILE": record.pathname,
            "CODE_LINE": str(record.lineno),
            "CODE_FUNC": record.funcName,
            "time": record.created,
            "pid": os.getpid(),
        }
        self.fh.write(json.dumps(entry) + "\n")
        self.fh.flush()


# ---------------------------------------------------------------- server

async def _item(request):
    n = request.match_info.get("n", "0")
    return web.json_response({"item": n, "price": 10 + len(n)})


async def _slow(request):
    await asyncio.sleep(float(request.query.get("d", "0.1")))
    return web.json_response({"slow": True})


async def _close(request):
    resp = web.json_response({"closing": True})
    resp.force_close()  # answers "Connection: close"
    return resp


async def _events(request):
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(b"data: {\"tick\": 1}\n\n")
    await asyncio.sleep(3600)  # long-lived stream; ends when the server shuts down
    return resp


async def _big(request):
    return web.Response(body=b"x" * 200_000)


def make_app():
    app = web.Application()
    app.router.add_get("/", _item)
    app.router.add_get("/item/{n}", _item)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/close", _close)
    app.router.add_get("/big", _big)
    app.router.add_get("/events", _events)
    return app


async def start_server(n_ports=1, access_log=False):
    """Start aiohttp.web on 127.0.0.1 (keep-alive on). Returns (runner, [base urls])."""
    kw = {"shutdown_timeout": 0.3}
    if not access_log:
        kw["access_log"] = None
    runner = web.AppRunner(make_app(), **kw)
    await runner.setup()
    urls = []
    for _ in range(n_ports):
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        urls.append("http://127.0.0.1:%d" % port)
    return runner, urls


def start_server_thread(n_ports=1):
    """Server on its own loop in a daemon thread (for programs that call asyncio.run per request)."""
    import threading
    ready = threading.Event()
    box = {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner, urls = loop.run_until_complete(start_server(n_ports))
        box["urls"] = urls
        box["loop"] = loop
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=run, name="local-server", daemon=True)
    t.start()
    ready.wait(10)
    return box["urls"]


def run(main):
    """asyncio.run, or uvloop when $LOOP=uvloop."""
    if os.environ.get("LOOP") == "uvloop":
        import uvloop
        if sys.version_info >= (3, 11):
            debug = True if os.environ.get("PYTHONASYNCIODEBUG") else None
            with asyncio.Runner(loop_factory=uvloop.new_event_loop, debug=debug) as r:
                return r.run(main)
        uvloop.install()
    return asyncio.run(main)
