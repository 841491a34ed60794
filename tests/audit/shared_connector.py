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
