"""Scenario 8: "Unclosed connection": a connection acquired from the
connector by hand and never released.

A readiness probe borrows a raw keep-alive connection from the session's
connector (`connector.connect(req, ...)`) to check the upstream is reachable
and forgets `conn.release()`.  The Connection object is collected when the
probe returns; aiohttp warns and closes the socket.
"""
import asyncio
import gc
import logging

import truth
truth.install()

import aiohttp
from yarl import URL
import common

log = logging.getLogger("app.probe")


async def probe(session, base):
    req = aiohttp.ClientRequest("GET", URL(f"{base}/item/1"), loop=asyncio.get_running_loop())
    conn = await session.connector.connect(req, traces=[], timeout=session.timeout)
    log.info("upstream reachable: %s", conn.transport.get_extra_info("peername"))
    return True  # conn.release() forgotten


async def main():
    runner, (a, b) = await common.start_server(2)
    async with aiohttp.ClientSession() as session:
        await probe(session, a)
        async with session.get(f"{a}/item/2") as resp:
            await resp.read()
        await asyncio.gather(probe(session, a), probe(session, b))
    gc.collect()
    # a second service: probe with a session that is never closed either
    leaky = aiohttp.ClientSession()
    await probe(leaky, b)
    async with leaky.get(f"{b}/item/3") as resp:
        await resp.read()
    del leaky
    gc.collect()
    await runner.cleanup()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
