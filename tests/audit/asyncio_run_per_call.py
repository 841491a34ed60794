# Hand-written shapes of a sync function running a new event loop per call whose coroutine
# makes a session it does not close (LiteLLM #11657's pattern: its ollama handler runs
# `asyncio.run(ollama_aembeddings(...))` per embedding call; the same shape as
# samples/gen/asyncio_run.py), and the fixed forms.
import asyncio
import aiohttp


async def _fetch(url):
    session = aiohttp.ClientSession()  # expect: asyncio_run_per_call
    return await (await session.get(url)).json()


async def _fetch_all(urls):
    return [await _fetch(u) for u in urls]


def get_prices(urls):
    return asyncio.run(_fetch_all(urls))


async def _fetch_closed(url):
    async with aiohttp.ClientSession() as session:  # expect: ok
        return await (await session.get(url)).json()


def get_price(url):
    loop = asyncio.new_event_loop()
    return loop.run_until_complete(_fetch_closed(url))


async def main():
    session = aiohttp.ClientSession()  # expect: per_call
    await session.get("http://localhost/")


if __name__ == "__main__":
    asyncio.run(main())
