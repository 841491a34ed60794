# Hand-written shapes of a connector shared with connector_owner=False (the same shape as
# samples/gen/shared.py): never closed, and the fixed form closed at shutdown.
import aiohttp


class Api:
    connector = aiohttp.TCPConnector(limit=5)  # expect: shared_connector_never_closed

    async def call(self, url):
        async with aiohttp.ClientSession(connector=Api.connector, connector_owner=False) as s:  # expect: ok
            return await (await s.get(url)).text()


class ClosedApi:
    connector = aiohttp.TCPConnector(limit=5)  # expect: ok

    async def call(self, url):
        async with aiohttp.ClientSession(connector=self.connector, connector_owner=False) as s:  # expect: ok
            return await (await s.get(url)).text()

    async def close(self):
        await self.connector.close()


async def inline(url):
    async with aiohttp.ClientSession(  # expect: ok
        connector=aiohttp.TCPConnector(), connector_owner=False  # expect: shared_connector_never_closed
    ) as s:
        return await s.get(url)


async def local_shared(urls):
    conn = aiohttp.TCPConnector()  # expect: shared_connector_never_closed
    for u in urls:
        async with aiohttp.ClientSession(connector=conn, connector_owner=False) as s:  # expect: ok
            await s.get(u)


class Upstreams:
    """samples/gen/shared.py: the class attribute handed out by a classmethod."""

    connector = None

    @classmethod
    def get_connector(cls):
        if cls.connector is None:
            cls.connector = aiohttp.TCPConnector(limit=50)  # expect: shared_connector_never_closed
        return cls.connector


async def fetch(url):
    session = aiohttp.ClientSession(connector=Upstreams.get_connector(), connector_owner=False)  # expect: per_call
    async with session.get(url) as resp:
        return await resp.json()


def setup(data):
    """A cache entry (Home Assistant's hass.data) shared by sessions, never closed."""
    data["pool"] = aiohttp.TCPConnector(limit=20)  # expect: shared_connector_never_closed

    async def poll(url):
        async with aiohttp.ClientSession(connector=data["pool"], connector_owner=False) as s:  # expect: ok
            await s.get(url)

    return poll
