"""Scenario 1: a ClientSession per call, never closed, under concurrency.

The typical mistake: a helper creates its own session for every call and
forgets `await session.close()`.  Keep-alive leaves each session's connector
holding pooled connections, so every GC'd session is followed by an
"Unclosed connector" block (a leak).  Some helpers make several concurrent
requests with one session (2-5 pooled connections), one hits two different
ports (two pool keys -> two strings in `connections:`).
"""
import asyncio
import gc
import logging
import os
import sys

import truth
truth.install()

import aiohttp
import common

log = logging.getLogger("app.prices")


async def fetch_price(base, item):
    session = aiohttp.ClientSession()
    async with session.get(f"{base}/item/{item}") as resp:
        data = await resp.json()
    log.info("GET /item/%s -> %s price=%s", item, resp.status, data["price"])
    return data["price"]


async def fetch_batch(urls):
    session = aiohttp.ClientSession()

    async def one(url):
        async with session.get(url) as resp:
            await resp.read()
            return resp.status

    statuses = await asyncio.gather(*(one(u) for u in urls))
    log.info("batch of %d requests done: %s", len(urls), statuses)
    return statuses


async def main():
    runner, (a, b) = await common.start_server(2, access_log=bool(os.environ.get("ACCESS_LOG")))
    log.info("price service starting, upstreams %s and %s", a, b)
    # 4 concurrent per-call sessions, 1 pooled connection each
    prices = await asyncio.gather(*(fetch_price(a, i) for i in range(4)))
    log.info("total %s", sum(prices))
    gc.collect()
    # one session, 3 concurrent slow requests -> 3 pooled connections, 1 key
    await fetch_batch([f"{a}/slow?d=0.05"] * 3)
    # one session, two ports -> 2 keys: 1 + 2 connections
    await fetch_batch([f"{a}/slow?d=0.05", f"{b}/slow?d=0.05", f"{b}/slow?d=0.05"])
    # one session, 5 concurrent requests
    await fetch_batch([f"{b}/slow?d=0.05"] * 5)
    gc.collect()
    log.info("shutting down")
    await runner.cleanup()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
