"""A test suite for a sync price client that leaks an aiohttp session per call."""
import asyncio
import gc

import aiohttp


async def _fetch(url):
    session = aiohttp.ClientSession()
    async with session.get(url) as resp:
        return await resp.json()


def get_price(base, item):
    return asyncio.run(_fetch(f"{base}/item/{item}"))["price"]


def test_price_is_positive(upstream):
    assert get_price(upstream, "apple") > 0
    gc.collect()
    assert False, "price cache was not warmed"


def test_prices_for_basket(upstream):
    prices = [get_price(upstream, item) for item in ("kiwi", "melon")]
    gc.collect()
    assert prices == [14, 16]


def test_correct_client(upstream):
    async def ok():
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{upstream}/item/9") as resp:
                return await resp.json()
    assert asyncio.run(ok())["item"] == "9"
