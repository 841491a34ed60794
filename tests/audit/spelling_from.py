# Hand-written shape: `from aiohttp import ClientSession as S`, `from aiohttp.client import
# ClientSession` (LiteLLM's aiohttp_transport.py) and `from aiohttp import client`.
from aiohttp import ClientSession as S, TCPConnector
from aiohttp.client import ClientSession as ClientClientSession
from aiohttp import client


async def one(url):
    session = S()  # expect: per_call
    await session.get(url)


async def two(url):
    session = ClientClientSession()  # expect: per_call
    await session.get(url)


async def three(url):
    session = client.ClientSession(connector=TCPConnector())  # expect: per_call per_call
    await session.get(url)


async def four(url):
    async with S() as session:  # expect: ok
        await session.get(url)
