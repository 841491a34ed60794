"""A test suite whose helper runs asyncio.run() per call and leaks a session each time.

Each call starts its own server on 127.0.0.1 (localserver.py). One test fails, so pytest
shows its captured log; one passes with correct code.
"""
import asyncio

import aiohttp

from localserver import serve


async def _fetch_price():
    url, stop = await serve("14")
    session = aiohttp.ClientSession()
    async with session.get(url) as resp:
        text = await resp.text()
    await stop()
    return int(text)


def get_price():
    return asyncio.run(_fetch_price())


def test_price_is_cached():
    assert get_price() == 15, "the cache was not warmed"


def test_arithmetic():
    assert 14 + 1 == 15
