"""A client that creates a ClientSession per call and never closes it: the leak `unclosed` finds.

Serves itself on 127.0.0.1 with aiohttp.web, fetches three times, prints what it got.
"""
import asyncio
import gc

import aiohttp
from aiohttp import web


async def hello(request):
    return web.Response(text="ok")


async def fetch(url):
    session = aiohttp.ClientSession()
    async with session.get(url) as resp:
        return await resp.text()


async def main():
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    for i in range(3):
        print(f"call {i}: {await fetch(f'http://127.0.0.1:{port}/')}", flush=True)
    gc.collect()
    await runner.cleanup()


asyncio.run(main())
print("done")
