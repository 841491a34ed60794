"""Scenario 4: a synchronous helper that calls asyncio.run() per call.

Each call makes a fresh loop, creates a session inside and never closes it;
the session is collected when fetch() returns, while that call's loop is
still running.
"""
import asyncio
import gc
import logging

import truth
truth.install()

import aiohttp
import common

log = logging.getLogger("app.sync")


async def fetch(url):
    session = aiohttp.ClientSession()
    async with session.get(url) as resp:
        return await resp.json()


def get_price(base, item):
    data = asyncio.run(fetch(f"{base}/item/{item}"))
    return data["price"]


def main():
    base, = common.start_server_thread(1)
    total = 0
    for item in ("apple", "kiwi", "melon"):
        total += get_price(base, item)
        log.info("running total %s", total)
    gc.collect()


if __name__ == "__main__":
    common.setup_logging()
    main()
    gc.collect()
    truth.finish()
