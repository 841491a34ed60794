# Hand-written shape: `import aiohttp` and the dotted paths below it (the spelling LiteLLM's
# aiohttp_handler.py and gql's transport use).
import aiohttp
import aiohttp.client


async def fetch(url):
    async with aiohttp.ClientSession() as session:  # expect: ok
        async with session.get(url) as resp:
            return await resp.text()


async def fetch_client_module(url):
    async with aiohttp.client.ClientSession() as session:  # expect: ok
        return await (await session.get(url)).text()


async def connectors(path):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4)) as s:  # expect: ok ok
        await s.get("http://localhost/")
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=path)) as s:  # expect: ok ok
        await s.get("http://localhost/")
    async with aiohttp.ClientSession(  # expect: ok
        connector=aiohttp.NamedPipeConnector(path)  # expect: ok
    ) as s:
        await s.get("http://localhost/")


async def one_request(url):
    async with aiohttp.request("GET", url) as resp:  # expect: ok
        return await resp.read()
