# Hand-written shape: a local subclass of ClientSession, as aiohttp-client-cache's session.py
# defines `class CachedSession(CacheMixin, ClientSession)` under a module-level `if`, and a
# subclass of that subclass; and a connector subclass.
import sys
from aiohttp import ClientSession, TCPConnector


class CacheMixin:
    pass


if sys.version_info >= (3, 8):
    class CachedSession(CacheMixin, ClientSession):
        pass
else:
    pass


class MySession(CachedSession):
    pass


class PinnedConnector(TCPConnector):
    pass


async def cached(url):
    session = CachedSession()  # expect: per_call
    await session.get(url)


async def deeper(url):
    async with MySession(connector=PinnedConnector()) as s:  # expect: ok ok
        await s.get(url)
