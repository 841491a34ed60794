"""Scenario 5: a long-lived TCPConnector shared by sessions (connector_owner=False).

The sessions are never closed (each prints a lone "Unclosed client session":
a shared connector never pairs with them); the connector itself is never
closed either and reports its pool when the service drops it at shutdown.
"""
import asyncio
import gc
import logging

import truth
truth.install(watch=True)

import aiohttp
import common

log = logging.getLogger("app.shared")


class Upstreams:
    connector = None

    @classmethod
    def get_connector(cls):
        if cls.connector is None:
            cls.connector = aiohttp.TCPConnector(limit=50)
        return cls.connector


async def fetch(url):
    session = aiohttp.ClientSession(connector=Upstreams.get_connector(), connector_owner=False)
    async with session.get(url) as resp:
        return await resp.json()


async def main():
    runner, (a, b) = await common.start_server(2)
    await asyncio.gather(*(fetch(f"{a}/item/{i}") for i in range(3)))
    await asyncio.gather(fetch(f"{b}/slow?d=0.05"), fetch(f"{b}/slow?d=0.05"))
    gc.collect()
    log.info("shutting down")
    Upstreams.connector = None  # dropped, never closed
    gc.collect()
    await runner.cleanup()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
