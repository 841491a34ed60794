"""Scenario 6: correct code. Sessions are closed with `async with`; nothing warns."""
import asyncio
import gc
import logging

import truth
truth.install()

import aiohttp
import common

log = logging.getLogger("app.ok")


async def fetch_price(session, base, item):
    async with session.get(f"{base}/item/{item}") as resp:
        data = await resp.json()
    log.info("GET /item/%s -> %s", item, resp.status)
    return data["price"]


async def main():
    runner, (base,) = await common.start_server(1)
    async with aiohttp.ClientSession() as session:
        prices = await asyncio.gather(*(fetch_price(session, base, i) for i in range(5)))
    log.info("total %s", sum(prices))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/close") as resp:
            await resp.read()
    gc.collect()
    await runner.cleanup()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
