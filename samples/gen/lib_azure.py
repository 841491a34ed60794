"""azure-core: an AsyncPipelineClient with an AioHttpTransport per call, never closed
(no `async with`, no `close()`).  The transport builds its aiohttp session in
AioHttpTransport.open() (azure/core/pipeline/transport/_aiohttp.py); the connector is made
inside ClientSession.__init__.  Each policy's `send` awaits the next one's, so the
creation traceback has the same frame several times in a row, which Python folds into
`[Previous line repeated N more times]`.  Local fake server: fakeapi.py /item/N."""
import asyncio
import gc
import logging

import truth
truth.install()

import common
import fakeapi
from azure.core import AsyncPipelineClient
from azure.core.pipeline.transport import AioHttpTransport
from azure.core.rest import HttpRequest

log = logging.getLogger("app.inventory")


async def stock(base, item):
    client = AsyncPipelineClient(base, transport=AioHttpTransport())
    resp = await client.send_request(HttpRequest("GET", f"{base}/item/{item}"))
    await resp.read()
    return resp.status_code


async def main(base):
    await asyncio.gather(*(stock(base, i) for i in range(3)))
    gc.collect()
    log.info("status %s", await stock(base, 9))
    gc.collect()


if __name__ == "__main__":
    common.setup_logging()
    base = fakeapi.start()
    asyncio.run(main(base))
    gc.collect()
    truth.finish()
