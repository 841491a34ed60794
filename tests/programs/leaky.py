"""A client that creates a ClientSession per call and never closes it: the leak `unclosed` finds.

Serves itself on 127.0.0.1 (localserver.py), fetches three times, prints what it got.
"""
import asyncio
import gc

import aiohttp

from localserver import serve


async def fetch(url):
    session = aiohttp.ClientSession()
    async with session.get(url) as resp:
        return await resp.text()


async def main():
    url, stop = await serve("ok")
    for i in range(3):
        print(f"call {i}: {await fetch(url)}", flush=True)
    gc.collect()
    await stop()


asyncio.run(main())
print("done")
