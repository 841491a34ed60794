"""uvicorn serving a small ASGI app whose request handler creates an aiohttp
ClientSession per request and never closes it.  A client thread sends a few
requests over 127.0.0.1, then the server is asked to exit."""
import asyncio
import gc
import json
import threading
import time
import urllib.request

import truth
truth.install()

import aiohttp
import uvicorn
import common

UPSTREAM = None


async def quote(symbol):
    session = aiohttp.ClientSession()
    async with session.get(f"{UPSTREAM}/item/{symbol}") as resp:
        return await resp.json()


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    symbol = scope["path"].rsplit("/", 1)[-1]
    data = await quote(symbol)
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def client(server, port):
    while not server.started:
        time.sleep(0.05)
    for sym in ("AAPL", "MSFT", "GOOG", "TSLA"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/quote/{sym}") as r:
            r.read()
    time.sleep(0.2)
    server.should_exit = True


def main():
    global UPSTREAM
    UPSTREAM, = common.start_server_thread(1)
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info")
    server = uvicorn.Server(config)
    threading.Thread(target=client, args=(server, port), daemon=True).start()
    server.run()


if __name__ == "__main__":
    main()
    gc.collect()
    truth.finish()
