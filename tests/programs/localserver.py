"""A local aiohttp server on 127.0.0.1 for the test programs: `serve(text)` starts one that
answers `text` on every GET and returns its URL and a coroutine that stops it."""
from aiohttp import web


async def serve(text):
    async def answer(request):
        return web.Response(text=text)

    app = web.Application()
    app.router.add_get("/", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}/", runner.cleanup
