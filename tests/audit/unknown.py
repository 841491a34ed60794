# Hand-written shapes the audit cannot decide from one file: LiteLLM's http_handler.py hands a
# factory `lambda: ClientSession(connector=TCPConnector(...))` to LiteLLMAiohttpTransport
# (another module); a session handed to a class from another package (aiohttp-retry's
# RetryClient(client_session=...)). Handed to a class in this file that closes it, it is ok.
import aiohttp
from aiohttp import ClientSession, TCPConnector
from aiohttp_retry import RetryClient
from litellm.llms.custom_httpx.aiohttp_transport import LiteLLMAiohttpTransport


def create_transport(ssl_verify):
    return LiteLLMAiohttpTransport(
        client=lambda: ClientSession(  # expect: unknown
            connector=TCPConnector(verify_ssl=ssl_verify)  # expect: unknown
        ),
    )


async def retrying(url):
    client = RetryClient(client_session=aiohttp.ClientSession())  # expect: unknown
    return await client.get(url)


class Owner:
    def __init__(self, session):
        self._session = session

    async def close(self):
        await self._session.close()


async def owned(url):
    owner = Owner(aiohttp.ClientSession())  # expect: ok
    return owner
