"""gql's AIOHTTPTransport, a Client connected per call and never closed
(`await client.connect_async()` without `close_async()`).  The transport builds
its aiohttp.ClientSession in `AIOHTTPTransport.connect()` (gql/transport/aiohttp.py);
the connector is created inside ClientSession.__init__.  Local fake GraphQL
endpoint: fakeapi.py POST /graphql."""
import asyncio
import gc
import logging

import truth
truth.install()

import common
import fakeapi
from gql import Client, gql
from gql.transport.aiohttp import AIOHTTPTransport

log = logging.getLogger("app.catalog")

PRICES = gql("query { prices { sku price } }")


async def fetch_prices(url):
    transport = AIOHTTPTransport(url=url)
    client = Client(transport=transport, fetch_schema_from_transport=False)
    session = await client.connect_async()
    result = await session.execute(PRICES)
    return result["prices"]


async def main():
    url = fakeapi.start() + "/graphql"
    batches = await asyncio.gather(*(fetch_prices(url) for _ in range(3)))
    log.info("got %d price lists", len(batches))
    gc.collect()
    await fetch_prices(url)
    gc.collect()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
