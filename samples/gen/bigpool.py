"""Scenario 7: one crawler session with a big pool (~300 keep-alive connections), never closed.

Its connector's `connections:` line is ~25 KB: used for the Docker json-file
16 KiB split and the CRI-O 8 KiB `P` split.
"""
import asyncio
import gc
import logging
import os

import truth
truth.install()

import aiohttp
import common

log = logging.getLogger("app.crawler")
N = int(os.environ.get("BIGPOOL_N", "300"))


async def crawl(base, n):
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def one(i):
        async with session.get(f"{base}/slow?d=0.5&page={i}") as resp:
            await resp.read()
            return resp.status

    statuses = await asyncio.gather(*(one(i) for i in range(n)))
    log.info("crawled %d pages, %d ok", len(statuses), statuses.count(200))
    return statuses


async def main():
    runner, (base,) = await common.start_server(1)
    await crawl(base, N)
    gc.collect()
    await runner.cleanup()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
