"""The same client done right: one session, closed by `async with`. Nothing to report."""
import asyncio

import aiohttp

from localserver import serve


async def main():
    url, stop = await serve("ok")
    async with aiohttp.ClientSession() as session:
        for i in range(3):
            async with session.get(url) as resp:
                print(f"call {i}: {await resp.text()}", flush=True)
    await stop()


asyncio.run(main())
print("done")
