# Hand-written shapes of a session handed on: httpx-aiohttp's transport returns a new
# ClientSession(connector=connector) from its factory, to callers outside the file; when the
# only caller in the file leaks it, the caller decides.
import aiohttp
from aiohttp import ClientSession


def make_session(limit):
    connector = aiohttp.TCPConnector(limit=limit)  # expect: transferred
    return ClientSession(connector=connector)  # expect: transferred


async def fixture():
    async with aiohttp.ClientSession() as s:  # expect: ok
        yield s


def _new_session():
    return aiohttp.ClientSession()  # expect: per_call


async def uses_new_session(url):
    s = _new_session()
    return await s.get(url)
