"""sentry-sdk in debug mode beside a session per call that is never closed.

`sentry_sdk.init(dsn=..., debug=True)` with a DSN on a local port nobody listens on (the
connection is refused at once; nothing leaves 127.0.0.1). sentry's logging integration takes
asyncio's ERROR record of every `Unclosed ...` block as an event; its background worker
thread (`sentry-sdk.BackgroundWorker`) tries to send each one and, with debug on, writes
`[sentry] DEBUG: Sending envelope ...` and `[sentry] ERROR: Internal error in sentry_sdk`
with urllib3's chained traceback to stderr. It writes whenever it gets the GIL, so its
lines can fall between a session's block and its connector's (the main thread finalizes
them one after the other). Three rounds of 4 per-call sessions (one request each, so each
connector pools one connection) give the worker several chances.

truth.install(watch=True) counts the lines written to stderr, so the truth knows which
session's block the worker's lines parted from its connector's.
"""
import asyncio
import gc
import logging
import socket

import truth
truth.install(watch=True)

import aiohttp
import sentry_sdk

import common

log = logging.getLogger("app.prices")


def closed_port():
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def fetch_price(base, item):
    session = aiohttp.ClientSession()
    async with session.get(f"{base}/item/{item}") as resp:
        data = await resp.json()
    return data["price"]


async def main():
    runner, (a,) = await common.start_server(1)
    for round_ in range(3):
        prices = await asyncio.gather(*(fetch_price(a, 10 * round_ + i) for i in range(4)))
        log.info("round %d: total %s", round_, sum(prices))
        gc.collect()
        await asyncio.sleep(0.05)
    await runner.cleanup()


if __name__ == "__main__":
    sentry_sdk.init(dsn="http://public@127.0.0.1:%d/1" % closed_port(), debug=True)
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
