"""Scenario 2: sessions that are never closed but hold no pooled connection.

Each GC'd session prints an "Unclosed client session" block with no connector
block after it (noise): a client created eagerly and never used, a server
that answers "Connection: close", a connector with force_close=True, and a
keep-alive that expired before the session was collected.
"""
import asyncio
import gc
import logging

import truth
truth.install()

import aiohttp
import common

log = logging.getLogger("app.noise")


class InventoryClient:
    def __init__(self, base):
        self.base = base
        self.session = aiohttp.ClientSession()  # created eagerly, often never used


async def lookup_unused(base):
    client = InventoryClient(base)
    log.info("inventory client ready for %s", client.base)
    return None


async def ping_close(base):
    session = aiohttp.ClientSession()
    async with session.get(f"{base}/close") as resp:  # server answers Connection: close
        return await resp.json()


async def ping_force_close(base):
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
    async with session.get(f"{base}/item/7") as resp:
        return await resp.json()


async def ping_expired(base):
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(keepalive_timeout=0.2))
    async with session.get(f"{base}/item/8") as resp:
        data = await resp.json()
    await asyncio.sleep(0.6)  # keep-alive expires before the session is dropped
    return data


async def main():
    runner, (base,) = await common.start_server(1)
    await lookup_unused(base)
    await ping_close(base)
    await asyncio.gather(ping_close(base), ping_force_close(base))
    await ping_expired(base)
    async with aiohttp.ClientSession() as session:  # correct code, no warning
        async with session.get(f"{base}/item/9") as resp:
            await resp.read()
    gc.collect()
    await runner.cleanup()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
