"""The same client done right: one session, closed by `async with`. Nothing to report."""
import asyncio

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
    async with aiohttp.ClientSession() as session:
        for i in range(3):
            async with session.get(f"http://127.0.0.1:{port}/") as resp:
                print(f"call {i}: {await resp.text()}", flush=True)
    await runner.cleanup()


asyncio.run(main())
print("done")
