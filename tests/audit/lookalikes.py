# Hand-written shape: names that look like aiohttp's but are not (LiteLLM's MCP client code
# imports `from mcp import ClientSession`), and aiohttp named in text only.
"""Docs: create `aiohttp.ClientSession()` once and close it; never `ClientSession().get()`."""
import aiohttp  # the file names aiohttp, so it is parsed
from mcp import ClientSession
import requests


async def mcp_call(read, write):
    async with ClientSession(read, write) as session:  # expect: nothing
        await session.initialize()
    session = ClientSession(read, write)  # expect: nothing
    return session


def other_library():
    # aiohttp.ClientSession() in a comment
    text = "aiohttp.ClientSession()"  # expect: nothing
    s = requests.Session()  # expect: nothing
    return text, s, aiohttp.__version__
