# Hand-written shapes of sessions stored on an owner that never closes them: LiteLLM 1.72's
# BaseLLMAIOHTTPHandler (a lazily made self.client_session, no close method) and
# LiteLLMAiohttpTransport (self.client replaced when the event loop changes, the old one left
# to the garbage collector); a close only in __del__; an un-awaited close; a module global
# and a cache. The fixed forms follow gql's AIOHTTPTransport (made when self.session is None,
# closed in close()) and aiohttp-retry's RetryClient (closed in close()).
import asyncio
import aiohttp
from aiohttp.client import ClientSession


class Handler:
    def __init__(self):
        self.client_session = None

    def _get_async_client_session(self, dynamic=None):
        if dynamic:
            return dynamic
        elif self.client_session:
            return self.client_session
        else:
            self.client_session = aiohttp.ClientSession()  # expect: owned_never_closed
            return self.client_session


class Transport:
    def __init__(self, client):
        self.client = client

    async def aclose(self):
        if isinstance(self.client, ClientSession):
            await self.client.close()

    def _get_valid_client_session(self):
        if not isinstance(self.client, ClientSession):
            self.client = ClientSession()  # expect: ok
            return self.client
        try:
            loop = getattr(self.client, "_loop", None)
            if loop is None or loop != asyncio.get_running_loop():
                self.client = ClientSession()  # expect: owned_never_closed
        except RuntimeError:
            self.client = ClientSession()  # expect: owned_never_closed
        return self.client


class ClosesInDel:
    def __init__(self):
        self.session = aiohttp.ClientSession()  # expect: owned_never_closed

    def __del__(self):
        asyncio.get_event_loop().create_task(self.session.close())


class ForgetsAwait:
    def __init__(self):
        self.session = aiohttp.ClientSession()  # expect: owned_never_closed

    async def close(self):
        self.session.close()


SESSION = aiohttp.ClientSession()  # expect: owned_never_closed
_CACHE = {}


async def cached_session(key):
    if key not in _CACHE:
        _CACHE[key] = aiohttp.ClientSession()  # expect: owned_never_closed
    return _CACHE[key]


class LazyNode:
    """elastic-transport's AiohttpHttpNode: the helper that makes the session is called only
    when there is none."""

    def __init__(self):
        self.session = None

    async def perform_request(self, url):
        if self.session is None:
            self._create_session()
        return await self.session.get(url)

    def _create_session(self):
        self.session = aiohttp.ClientSession(  # expect: ok
            connector=aiohttp.TCPConnector(limit_per_host=4),  # expect: ok
        )

    async def close(self):
        if self.session:
            await self.session.close()
            self.session = None


class Transport2:
    def __init__(self):
        self.session = None

    async def connect(self):
        if self.session is None:
            self.session = aiohttp.ClientSession()  # expect: ok

    async def close(self):
        if self.session is not None:
            await self.session.close()
            self.session = None


class RetryClient:
    def __init__(self, client_session=None):
        if client_session is not None:
            client = client_session
        else:
            client = ClientSession()  # expect: ok
        self._client = client

    async def close(self):
        await self._client.close()


SHARED = aiohttp.ClientSession()  # expect: ok


async def shutdown():
    await SHARED.close()


_POOL = {}


async def pooled(key):
    if key not in _POOL:
        _POOL[key] = aiohttp.ClientSession()  # expect: ok
    return _POOL[key]


async def close_pool():
    for s in _POOL.values():
        await s.close()
