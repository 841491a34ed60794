"""aiohttp-client-cache's CachedSession (a ClientSession subclass) created per
call and never closed.  The application creates the session itself; the
ClientSession.__init__ frame's caller is CacheMixin.__init__ in
aiohttp_client_cache/session.py (`super().__init__(**session_kwargs)`).
Local server: fakeapi.py GET /item/{n}."""
import asyncio
import gc
import logging

import truth
truth.install()

import common
import fakeapi
from aiohttp_client_cache import CacheBackend, CachedSession

log = logging.getLogger("app.prices")


async def get_price(base, item):
    session = CachedSession(cache=CacheBackend(expire_after=60))
    async with session.get(f"{base}/item/{item}") as resp:
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
