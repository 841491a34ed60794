# Hand-written shapes of a session made per call and never closed (LiteLLM #13251's pattern;
# the same shape as samples/gen/percall.py), and their fixed forms.
import asyncio
import aiohttp


async def fetch_price(symbol):
    session = aiohttp.ClientSession()  # expect: per_call
    resp = await session.get(f"http://prices/{symbol}")
    return await resp.json()


async def chained(url):
    async with aiohttp.ClientSession().get(url) as resp:  # expect: per_call
        return await resp.text()


async def dropped():
    aiohttp.ClientSession()  # expect: per_call


async def helper_only_uses(session, url):
    return await session.get(url)


async def passed_to_a_user(url):
    return await helper_only_uses(aiohttp.ClientSession(), url)  # expect: per_call


async def request_never_entered(url):
    cm = aiohttp.request("GET", url)  # expect: per_call
    print(cm)


async def fixed(url):
    async with aiohttp.ClientSession() as session:  # expect: ok
        resp = await session.get(url)
        return await resp.json()


async def fixed_by_walrus_and_finally(url):
    try:
        resp = await (session := aiohttp.ClientSession()).get(url)  # expect: ok
        return await resp.json()
    finally:
        await session.close()


async def fetch_batch(urls):
    """samples/gen/percall.py: the session is used (not closed) by a nested coroutine."""
    session = aiohttp.ClientSession()  # expect: per_call

    async def one(url):
        async with session.get(url) as resp:
            return resp.status

    return await asyncio.gather(*(one(u) for u in urls))


async def closed_by_a_callback(urls, register):
    session = aiohttp.ClientSession()  # expect: close_not_guaranteed

    async def on_stop():
        await session.close()

    register(on_stop)
    return await session.get(urls[0])
