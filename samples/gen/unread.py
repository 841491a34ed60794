"""Scenario 3: responses that are never read nor released.

`resp = await session.get(url)` on an event stream: the code looks at the
status and the first event, never releases the response, never closes the
session.  The response stays referenced by its open connection until the
server ends the stream (here: the upstream restarts), then it is collected.
aiohttp prints "Unclosed response" only when the loop is in debug mode.
"""
import asyncio
import gc
import logging

import truth
truth.install()

import aiohttp
import common

log = logging.getLogger("app.events")


async def first_event(base):
    session = aiohttp.ClientSession()
    resp = await session.get(f"{base}/events")
    line = await resp.content.readline()
    log.info("subscribed: %s %r", resp.status, line)
    return line  # resp never released, session never closed


async def peek_after_read(base):
    session = aiohttp.ClientSession()
    async with session.get(f"{base}/item/1") as first:
        await first.read()
    resp = await session.get(f"{base}/events")
    return resp.status


async def main():
    runner, (base,) = await common.start_server(1)
    await asyncio.gather(first_event(base), first_event(base))
    await peek_after_read(base)
    gc.collect()
    log.info("upstream restarting")
    await runner.cleanup()  # the streams end: the leaked responses become garbage
    await asyncio.sleep(0.2)
    gc.collect()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
