"""Leaks one session, then fails with exit status 3: the status must come through `unclosed run`."""
import asyncio
import sys

import aiohttp

from localserver import serve


async def main():
    url, stop = await serve("ok")
    session = aiohttp.ClientSession()
    async with session.get(url) as resp:
        print("got", await resp.text(), flush=True)
    del session
    await stop()


asyncio.run(main())
print("giving up", file=sys.stderr)
sys.exit(3)
