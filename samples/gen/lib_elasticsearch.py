"""AsyncElasticsearch created per request and never closed (no `await es.close()`).
elastic-transport's aiohttp node builds its session lazily on the first request
(`AiohttpHttpNode._create_aiohttp_session`, elastic_transport/_node/_http_aiohttp.py):
`aiohttp.ClientSession(` with `connector=aiohttp.TCPConnector(` inside its argument
list, a few lines below.  Local fake Elasticsearch: fakeapi.py `/{index}/_search`."""
import asyncio
import gc
import logging

import truth
truth.install()

import common
import fakeapi
from elasticsearch import AsyncElasticsearch

log = logging.getLogger("app.search")


async def search_products(url, text):
    es = AsyncElasticsearch(url)
    resp = await es.search(index="products", query={"match": {"name": text}})
    return resp["hits"]["hits"]


async def main():
    url = fakeapi.start()
    hits = await asyncio.gather(*(search_products(url, q) for q in ("lamp", "desk", "chair")))
    log.info("searches done: %s", [len(h) for h in hits])
    gc.collect()
    await search_products(url, "sofa")
    gc.collect()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
