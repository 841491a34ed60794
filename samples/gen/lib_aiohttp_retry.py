"""aiohttp-retry's RetryClient created per call and never closed.  RetryClient
builds `ClientSession(*args, **kwargs)` in its own __init__
(aiohttp_retry/client.py); the connector is created inside ClientSession.__init__.
Local server: fakeapi.py GET /item/{n}."""
import asyncio
import gc
import logging

import truth
truth.install()

import common
import fakeapi
from aiohttp_retry import ExponentialRetry, RetryClient

log = logging.getLogger("app.prices")


async def get_price(base, item):
    client = RetryClient(retry_options=ExponentialRetry(attempts=3))
    async with client.get(f"{base}/item/{item}") as resp:
        data = await resp.json()
    return data["price"]


async def main():
    base = fakeapi.start()
    prices = await asyncio.gather(*(get_price(base, i) for i in range(3)))
    log.info("prices %s", prices)
    gc.collect()
    await get_price(base, 42)
    gc.collect()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
