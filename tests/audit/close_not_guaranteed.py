# Hand-written shapes of a close on the success path only, and the fixed form.
import aiohttp


async def success_path_only(url):
    session = aiohttp.ClientSession()  # expect: close_not_guaranteed
    resp = await session.get(url)  # raises: the close below never runs
    data = await resp.json()
    await session.close()
    return data


async def early_return(url, cached):
    session = aiohttp.ClientSession()  # expect: close_not_guaranteed
    if cached:
        return cached
    data = await (await session.get(url)).json()
    await session.close()
    return data


async def in_finally(url):
    session = aiohttp.ClientSession()  # expect: ok
    try:
        return await (await session.get(url)).json()
    finally:
        await session.close()


async def closes(session):
    await session.close()


async def helper_in_finally(url):
    session = aiohttp.ClientSession()  # expect: ok
    try:
        return await (await session.get(url)).json()
    finally:
        await closes(session)
