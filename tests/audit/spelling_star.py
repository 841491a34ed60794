# Hand-written shape: `from aiohttp import *` (rare, but it binds the constructors).
from aiohttp import *


async def one(url):
    session = ClientSession()  # expect: per_call
    await session.get(url)
