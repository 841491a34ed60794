"""Leaks one session, then fails with exit status 3: the status must come through `unclosed run`."""
import asyncio
import sys

import aiohttp
from aiohttp import web


async def hello(request):
    return web.Response(text="ok")


async def main():
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession()
    async with session.get(f"http://127.0.0.1:{port}/") as resp:
        print("got", await resp.text(), flush=True)
    del session
    await runner.cleanup()


asyncio.run(main())
print("giving up", file=sys.stderr)
sys.exit(3)
