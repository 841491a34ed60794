"""A test suite whose helper runs asyncio.run() per call and leaks a session each time.

Each test starts its own aiohttp server on 127.0.0.1. One test fails, so pytest shows its
captured log; one passes with correct code.
"""
import asyncio

import aiohttp
from aiohttp import web


async def _price(request):
    return web.Response(text="14")


async def _fetch_price():
    app = web.Application()
    app.router.add_get("/", _price)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession()
    async with session.get(f"http://127.0.0.1:{port}/") as resp:
        text = await resp.text()
    await runner.cleanup()
    return int(text)


def get_price():
    return asyncio.run(_fetch_price())


def test_price_is_cached():
    assert get_price() == 15, "the cache was not warmed"


def test_arithmetic():
    assert 14 + 1 == 15
