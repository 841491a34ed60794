"""aiobotocore: an S3 client created per call and entered without ever being exited
(`await session.create_client("s3", ...).__aenter__()`, no `__aexit__`/`close()`).
aiobotocore builds its aiohttp session in AIOHTTPSession._get_session
(aiobotocore/httpsession.py): `self._create_connector(...)` builds its own TCPConnector
subclass (_ProxySSLTCPConnector) in a helper, then `aiohttp.ClientSession(connector=...)`
takes it four lines down; the session owns it.  Local fake S3: fakeapi.py /s3/."""
import asyncio
import gc
import logging
import os

import truth
truth.install()

import common
import fakeapi
from aiobotocore.session import get_session

log = logging.getLogger("app.uploads")
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_DEFAULT_REGION="us-east-1")


async def upload(url, key):
    client = await get_session().create_client("s3", endpoint_url=url).__aenter__()
    await client.put_object(Bucket="reports", Key=key, Body=b"x" * 10)


async def size_of(url, key):
    client = await get_session().create_client("s3", endpoint_url=url).__aenter__()
    obj = await client.get_object(Bucket="reports", Key=key)
    return obj["ContentLength"]


async def main(url):
    async with get_session().create_client("s3", endpoint_url=url) as s3:
        await s3.create_bucket(Bucket="reports")
    await asyncio.gather(*(upload(url, "r%d" % i) for i in range(3)))
    gc.collect()
    log.info("size %s", await size_of(url, "r0"))
    gc.collect()


if __name__ == "__main__":
    common.setup_logging()
    url = fakeapi.start() + "/s3"
    asyncio.run(main(url))
    gc.collect()
    truth.finish()
